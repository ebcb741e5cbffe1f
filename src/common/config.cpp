#include "common/config.hpp"

#include "build_config.hpp"
#include "common/socket_address.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace secure_api {
namespace {

// Where each value came from, so an error can say so.
struct Sources {
    po::variables_map command_line;
    po::variables_map file;
    std::string file_name;
};

struct Value {
    std::string text;
    std::string source;
};

po::options_description config_keys() {
    po::options_description keys("Configuration keys (file or --key=value)");
    auto text = [] {
        return po::value<std::string>();
    };
    auto list = [] {
        return po::value<std::vector<std::string>>()->composing();
    };
    keys.add_options()("domain", list(), "name the certificate covers (repeatable)")(
        "listen-https", list(), "address:port to serve HTTPS on when not socket-activated")(
        "listen-http", list(), "address:port to serve HTTP on when not socket-activated")(
        "acme.directory", text(), "ACME directory URL")("acme.email", text(), "account contact")(
        "acme.agree-tos", text(), "agree to the CA's terms of service (true/false)")(
        "acme.key-type", text(), "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096")(
        "acme.state-directory", text(), "state directory (/var/lib/secure-api)")(
        "acme.challenge", text(), "daemon or webroot")("acme.webroot", text(), "webroot path")(
        "acme.ca-bundle", text(), "CA bundle for the ACME server's own TLS")(
        "acme.preferred-chain", text(),
        "issuer name of the preferred chain's top")("tls.cert", text(), "certificate chain (PEM)")(
        "tls.key", text(), "private key (PEM)")("tls.priorities", text(), "GnuTLS priority string")(
        "http.cors-allow-origin", text(), "Access-Control-Allow-Origin value, empty for none")(
        "http.hsts-max-age", text(), "Strict-Transport-Security max-age, 0 for none")(
        "http.threads", text(), "worker threads")("http.connection-limit", text(),
                                                  "concurrent connections")(
        "http.per-ip-limit", text(), "concurrent connections per client address, 0 for none")(
        "http.timeout", text(), "seconds of inactivity before a connection is closed")(
        "http.memory-limit", text(), "bytes per connection (caps request headers)")(
        "http.drain-timeout", text(), "seconds to finish requests on stop")(
        "http.https-port", text(), "port named in HTTP to HTTPS redirects")(
        "api.max-digits", text(), "longest number /square accepts");
    return keys;
}

po::options_description command_line_only(std::string_view program) {
    po::options_description options("Options");
    options.add_options()("help", "show this help")("version", "show the version")(
        "config", po::value<std::string>(), "configuration file");
    if (program == "secure-api-renew")
        options.add_options()("force", "renew even when the certificate is not due");
    return options;
}

std::optional<Value> find(const Sources& sources, const std::string& key) {
    if (sources.command_line.count(key))
        return Value{sources.command_line[key].as<std::string>(), "command line"};
    if (sources.file.count(key))
        return Value{sources.file[key].as<std::string>(), sources.file_name};
    return std::nullopt;
}

Error bad_value(const std::string& key, const Value& value, const std::string& expected) {
    return Error(value.source + ": invalid value " + quoted(value.text) + " for key " +
                 quoted(key) + ": expected " + expected);
}

std::vector<Value> find_list(const Sources& sources, const std::string& key) {
    std::vector<Value> values;
    const bool from_command_line = sources.command_line.count(key) > 0;
    const auto& map = from_command_line ? sources.command_line : sources.file;
    if (map.count(key) == 0)
        return values;
    for (const auto& text : map[key].as<std::vector<std::string>>())
        values.push_back({text, from_command_line ? "command line" : sources.file_name});
    return values;
}

std::vector<std::string> texts(const std::vector<Value>& values) {
    std::vector<std::string> out;
    for (const auto& value : values)
        out.push_back(value.text);
    return out;
}

Result<std::vector<std::string>> listen_addresses(const Sources& sources, const std::string& key) {
    auto values = find_list(sources, key);
    for (const auto& value : values)
        if (auto address = parse_socket_address(value.text); !address)
            return std::unexpected(bad_value(
                key, value, "<IPv4>:<port> or [<IPv6>]:<port>; " + address.error().message));
    return texts(values);
}

Result<std::uint64_t> unsigned_value(const std::string& key, const Value& value, std::uint64_t min,
                                     std::uint64_t max) {
    std::uint64_t number = 0;
    const char* end = value.text.data() + value.text.size();
    auto [ptr, ec] = std::from_chars(value.text.data(), end, number);
    if (ec != std::errc() || ptr != end || value.text.empty() || number < min || number > max)
        return std::unexpected(
            bad_value(key, value,
                      "a whole number from " + std::to_string(min) + " to " + std::to_string(max)));
    return number;
}

Result<bool> bool_value(const std::string& key, const Value& value) {
    static const std::vector<std::string> yes{"true", "yes", "on", "1"};
    static const std::vector<std::string> no{"false", "no", "off", "0"};
    if (std::find(yes.begin(), yes.end(), value.text) != yes.end())
        return true;
    if (std::find(no.begin(), no.end(), value.text) != no.end())
        return false;
    return std::unexpected(bad_value(key, value, "true or false"));
}

// Read an unsigned key into target when present.
template <typename T>
Result<void> read_number(const Sources& sources, const std::string& key, T& target,
                         std::uint64_t min, std::uint64_t max) {
    auto value = find(sources, key);
    if (!value)
        return {};
    auto number = unsigned_value(key, *value, min, max);
    if (!number)
        return std::unexpected(number.error());
    target = static_cast<T>(*number);
    return {};
}

Result<void> read_seconds(const Sources& sources, const std::string& key,
                          std::chrono::seconds& target, std::uint64_t max) {
    std::uint64_t seconds = static_cast<std::uint64_t>(target.count());
    auto read = read_number(sources, key, seconds, 1, max);
    target = std::chrono::seconds(seconds);
    return read;
}

void read_text(const Sources& sources, const std::string& key, std::string& target) {
    if (auto value = find(sources, key))
        target = value->text;
}

void read_path(const Sources& sources, const std::string& key, std::filesystem::path& target) {
    if (auto value = find(sources, key))
        target = value->text;
}

Result<void> check_choice(const Sources& sources, const std::string& key,
                          const std::vector<std::string>& choices) {
    auto value = find(sources, key);
    if (!value || std::find(choices.begin(), choices.end(), value->text) != choices.end())
        return {};
    std::string expected;
    for (const auto& choice : choices)
        expected += (expected.empty() ? "" : " or ") + choice;
    return std::unexpected(bad_value(key, *value, expected));
}

Result<void> read_acme(const Sources& sources, AcmeConfig& acme) {
    read_text(sources, "acme.directory", acme.directory);
    read_text(sources, "acme.email", acme.email);
    if (auto value = find(sources, "acme.agree-tos")) {
        auto agreed = bool_value("acme.agree-tos", *value);
        if (!agreed)
            return std::unexpected(agreed.error());
        acme.agree_tos = *agreed;
    }
    if (auto check = check_choice(sources, "acme.key-type",
                                  {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"});
        !check)
        return check;
    read_text(sources, "acme.key-type", acme.key_type);
    read_path(sources, "acme.state-directory", acme.state_directory);
    if (auto check = check_choice(sources, "acme.challenge", {"daemon", "webroot"}); !check)
        return check;
    read_text(sources, "acme.challenge", acme.challenge);
    read_path(sources, "acme.webroot", acme.webroot);
    read_path(sources, "acme.ca-bundle", acme.ca_bundle);
    read_text(sources, "acme.preferred-chain", acme.preferred_chain);
    return {};
}

Result<void> read_http(const Sources& sources, HttpConfig& http) {
    read_text(sources, "http.cors-allow-origin", http.cors_allow_origin);
    std::vector<Result<void>> reads;
    reads.push_back(read_number(sources, "http.hsts-max-age", http.hsts_max_age, 0, 1u << 30));
    reads.push_back(read_number(sources, "http.threads", http.threads, 1, 256));
    reads.push_back(
        read_number(sources, "http.connection-limit", http.connection_limit, 1, 1'000'000));
    reads.push_back(read_number(sources, "http.per-ip-limit", http.per_ip_limit, 0, 1'000'000));
    reads.push_back(read_seconds(sources, "http.timeout", http.timeout, 3600));
    reads.push_back(read_number(sources, "http.memory-limit", http.memory_limit, 4096, 64u << 20));
    reads.push_back(read_seconds(sources, "http.drain-timeout", http.drain_timeout, 3600));
    std::uint16_t port = 0;
    reads.push_back(read_number(sources, "http.https-port", port, 1, 65535));
    if (port != 0)
        http.https_port = port;
    for (auto& read : reads)
        if (!read)
            return read;
    return {};
}

Result<void> read_keys(const Sources& sources, Config& config) {
    config.domains = texts(find_list(sources, "domain"));
    for (auto [key, target] : {std::pair{"listen-https", &config.listen_https},
                               std::pair{"listen-http", &config.listen_http}}) {
        auto addresses = listen_addresses(sources, key);
        if (!addresses)
            return std::unexpected(addresses.error());
        *target = std::move(*addresses);
    }
    if (auto acme = read_acme(sources, config.acme); !acme)
        return acme;
    read_path(sources, "tls.cert", config.tls.cert);
    read_path(sources, "tls.key", config.tls.key);
    read_text(sources, "tls.priorities", config.tls.priorities);
    if (auto http = read_http(sources, config.http); !http)
        return http;
    return read_number(sources, "api.max-digits", config.max_digits, 1, 10'000'000);
}

void apply_defaults(Config& config) {
    if (config.domains.empty())
        return;
    auto dir = config.acme.state_directory / "certs" / config.domains.front();
    if (config.tls.cert.empty())
        config.tls.cert = dir / "fullchain.pem";
    if (config.tls.key.empty())
        config.tls.key = dir / "privkey.pem";
}

// "--key=" means an empty value (e.g. --http.cors-allow-origin= for no CORS
// header), which Boost.ProgramOptions only takes as "--key" "".
std::vector<std::string> split_empty_values(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.starts_with("--") && arg.size() > 3 && arg.back() == '=' &&
            arg.find('=') == arg.size() - 1) {
            args.push_back(arg.substr(0, arg.size() - 1));
            args.emplace_back();
        } else {
            args.push_back(std::move(arg));
        }
    }
    return args;
}

Result<void> parse_command_line(int argc, char** argv, const po::options_description& all,
                                po::variables_map& vm) {
    try {
        po::store(po::command_line_parser(split_empty_values(argc, argv)).options(all).run(), vm);
    } catch (const po::error& e) {
        return fail("command line: " + std::string(e.what()));
    }
    return {};
}

Result<void> parse_file(const std::filesystem::path& path, bool required,
                        const po::options_description& keys, Sources& sources) {
    sources.file_name = path.string();
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return fail(quoted(path.string()) + ": is a directory, not a configuration file");
    std::ifstream in(path);
    if (!in) {
        if (!required)
            return {};
        return fail(quoted(path.string()) + ": cannot read the configuration file");
    }
    try {
        po::store(po::parse_config_file(in, keys, false), sources.file);
    } catch (const po::unknown_option& e) {
        return fail(path.string() + ": unknown key " + quoted(e.get_option_name()));
    } catch (const po::error& e) {
        return fail(path.string() + ": " + e.what());
    }
    return {};
}

std::string help_text(std::string_view program, const po::options_description& all) {
    std::ostringstream out;
    out << "Usage: " << program << " [--config FILE] [--section.key=value ...]\n\n" << all;
    return out.str();
}

} // namespace

Result<Config> load_config(int argc, char** argv, std::string_view program) {
    auto keys = config_keys();
    po::options_description all;
    all.add(command_line_only(program)).add(keys);
    Sources sources;
    if (auto parsed = parse_command_line(argc, argv, all, sources.command_line); !parsed)
        return std::unexpected(parsed.error());
    Config config;
    if (sources.command_line.count("help")) {
        config.early_output = help_text(program, all);
        return config;
    }
    if (sources.command_line.count("version")) {
        config.early_output = std::string(program) + " " + SECURE_API_VERSION + "\n";
        return config;
    }
    bool explicit_file = sources.command_line.count("config") > 0;
    config.file =
        explicit_file ? sources.command_line["config"].as<std::string>() : SECURE_API_CONFIG_FILE;
    if (auto parsed = parse_file(config.file, explicit_file, keys, sources); !parsed)
        return std::unexpected(parsed.error());
    config.force = sources.command_line.count("force") > 0;
    if (auto read = read_keys(sources, config); !read)
        return std::unexpected(read.error());
    apply_defaults(config);
    return config;
}

} // namespace secure_api
