// A small command-line front end to the ACME library for the pebble tests.
// It prints "key: value" lines the test script reads; on failure it prints the
// Error's name and message and exits 1.
//
//   acme_driver genkey FILE ec|rsa
//   acme_driver account --directory URL --ca-bundle FILE --key FILE [--agree-tos] [--email ADDR]
//   acme_driver issue   ... --challtestsrv URL --name NAME [--name NAME] [--count N]
//                       [--preferred-chain ISSUER] [--wrong-key-authorization] [--out-dir DIR]
//   acme_driver directory --directory URL --ca-bundle FILE [--max-body N] [--total-timeout-ms N]
//   acme_driver renewal-info --directory URL --ca-bundle FILE --cert FILE
#include "acme/account.hpp"
#include "acme/ari.hpp"
#include "acme/issuance.hpp"
#include "common/atomic_file.hpp"
#include "common/x509.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace secure_api;

namespace {

struct Options {
    std::string command;
    std::map<std::string, std::vector<std::string>> values;
    std::vector<std::string> positional;

    std::string get(const std::string& key, std::string fallback = {}) const {
        const auto it = values.find(key);
        return it == values.end() ? fallback : it->second.back();
    }
    bool flag(const std::string& key) const { return values.contains(key); }
};

Options parse_arguments(int argc, char** argv) {
    Options options;
    options.command = argc > 1 ? argv[1] : "";
    for (int i = 2; i < argc; ++i) {
        std::string arg = argv[i];
        if (!arg.starts_with("--")) {
            options.positional.push_back(arg);
            continue;
        }
        const bool is_flag = arg == "--agree-tos" || arg == "--wrong-key-authorization";
        options.values[arg.substr(2)].push_back(is_flag || i + 1 >= argc ? "" : argv[++i]);
    }
    return options;
}

int report_error(const Error& error) {
    std::cout << "error-name: " << error.name << "\nerror: " << error.message << std::endl;
    return 1;
}

// Key authorizations go to pebble-challtestsrv's management API, whose own
// http-01 server then answers pebble's validation requests.
class ChalltestsrvPublisher : public acme::ChallengePublisher {
public:
    ChalltestsrvPublisher(std::string base, bool wrong) : base_(std::move(base)), wrong_(wrong) {}

    Result<void> publish(std::string_view token, std::string_view key_authorization) override {
        const std::string content =
            wrong_ ? "wrong." + std::string(key_authorization) : std::string(key_authorization);
        const acme::Json body{{"token", token}, {"content", content}};
        ++published;
        return post("/add-http01", acme::compact(body));
    }

    void withdraw(std::string_view token) noexcept override {
        try {
            const acme::Json body{{"token", token}};
            if (post("/del-http01", acme::compact(body))) {
                ++withdrawn;
            }
        } catch (...) {
        }
    }

    int published = 0;
    int withdrawn = 0;

private:
    Result<void> post(const std::string& path, const std::string& body) {
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 curl_easy_cleanup);
        const std::string url = base_ + path;
        curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
        curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
        const CURLcode rc = curl_easy_perform(curl.get());
        long status = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) {
            return fail("POST " + url + " failed: " + curl_easy_strerror(rc) + ", HTTP " +
                        std::to_string(status));
        }
        return {};
    }

    std::string base_;
    bool wrong_;
};

int generate_key(const Options& options) {
    if (options.positional.size() != 2) {
        return report_error(Error("usage: acme_driver genkey FILE ec|rsa"));
    }
    const auto type =
        options.positional[1] == "rsa" ? x509::KeyType::rsa_2048 : x509::KeyType::ec_p256;
    auto key = x509::generate_key(type);
    auto pem = key ? x509::key_to_pem(key->get()) : std::unexpected(key.error());
    auto written = pem ? files::write_atomically(options.positional[0], *pem, 0600)
                       : std::unexpected(pem.error());
    return written ? 0 : report_error(written.error());
}

// The account key from --key, or a throwaway one for requests that sign nothing.
Result<tls::X509Key> load_account_key(const Options& options) {
    if (!options.flag("key")) {
        return x509::generate_key(x509::KeyType::ec_p256);
    }
    auto pem = files::read_file(options.get("key"));
    return pem ? x509::key_from_pem(*pem) : std::unexpected(pem.error());
}

Result<acme::Client> connect(const Options& options) {
    auto key = load_account_key(options);
    auto account_key = key ? acme::AccountKey::from_x509(key->get()) : std::unexpected(key.error());
    if (!account_key) {
        return std::unexpected(account_key.error());
    }
    acme::ClientOptions client_options;
    client_options.transport.ca_bundle = options.get("ca-bundle");
    if (options.flag("max-body")) {
        client_options.transport.max_body = std::stoul(options.get("max-body"));
    }
    if (options.flag("total-timeout-ms")) {
        client_options.transport.total_timeout =
            std::chrono::milliseconds(std::stol(options.get("total-timeout-ms")));
    }
    return acme::Client::connect(options.get("directory"), std::move(*account_key), client_options);
}

Result<acme::Account> account(acme::Client& client, const Options& options) {
    acme::AccountOptions account_options;
    account_options.agree_to_terms = options.flag("agree-tos");
    if (options.flag("email")) {
        account_options.emails = options.values.at("email");
    }
    auto found = acme::find_or_create_account(client, account_options);
    if (found) {
        std::cout << "account-url: " << found->url << "\ncreated: " << std::boolalpha
                  << found->created << "\nalgorithm: " << client.account_key().algorithm()
                  << std::endl;
    }
    return found;
}

Result<void> issue_once(acme::Client& client, const Options& options,
                        ChalltestsrvPublisher& publisher, int round) {
    auto cert_key = x509::generate_key(x509::KeyType::ec_p256);
    if (!cert_key) {
        return std::unexpected(cert_key.error());
    }
    acme::IssueRequest request;
    request.names = options.values.at("name");
    request.certificate_key = cert_key->get();
    request.preferred_chain = options.get("preferred-chain");
    request.authorization_poll.timeout = std::chrono::seconds(60);
    request.order_poll.timeout = std::chrono::seconds(60);
    auto issued = acme::issue_certificate(client, request, publisher);
    if (!issued) {
        return std::unexpected(issued.error());
    }
    const std::string out_dir = options.get("out-dir", ".");
    const std::string path = out_dir + "/cert-" + std::to_string(round) + ".pem";
    if (auto written = files::write_atomically(path, issued->chain_pem, 0644); !written) {
        return written;
    }
    auto chain = x509::chain_from_pem(issued->chain_pem);
    auto cert_id = chain ? acme::ari_cert_id(chain->front().get()) : std::unexpected(chain.error());
    std::cout << "issued: " << round << " file: " << path
              << " chains: " << issued->chains.chains.size() << " chosen: " << issued->choice.index
              << " preferred: " << std::boolalpha << issued->choice.preferred
              << " cert-id: " << cert_id.value_or("-") << std::endl;
    return {};
}

int issue(const Options& options) {
    if (!options.flag("name")) {
        return report_error(Error("issue needs at least one --name"));
    }
    auto client = connect(options);
    auto found = client ? account(*client, options) : std::unexpected(client.error());
    if (!found) {
        return report_error(found.error());
    }
    ChalltestsrvPublisher publisher(options.get("challtestsrv"),
                                    options.flag("wrong-key-authorization"));
    const int count = std::stoi(options.get("count", "1"));
    int issued = 0;
    for (int round = 1; round <= count; ++round) {
        auto result = issue_once(*client, options, publisher, round);
        if (!result) {
            std::cout << "published: " << publisher.published
                      << " withdrawn: " << publisher.withdrawn << std::endl;
            return report_error(result.error());
        }
        ++issued;
    }
    std::cout << "issued-count: " << issued << "\npublished: " << publisher.published
              << " withdrawn: " << publisher.withdrawn
              << "\nbad-nonce-retries: " << client->bad_nonce_retries() << std::endl;
    return 0;
}

int show_directory(const Options& options) {
    auto client = connect(options);
    if (!client) {
        return report_error(client.error());
    }
    const acme::Directory& directory = client->directory();
    std::cout << "new-nonce: " << directory.new_nonce
              << "\nrenewal-info: " << directory.renewal_info.value_or("-")
              << "\nterms-of-service: " << directory.terms_of_service.value_or("-")
              << "\nserver-date: " << client->last_server_date().value_or("-") << std::endl;
    return 0;
}

int renewal_info(const Options& options) {
    auto pem = files::read_file(options.get("cert"));
    auto chain = pem ? x509::chain_from_pem(*pem) : std::unexpected(pem.error());
    auto cert_id = chain ? acme::ari_cert_id(chain->front().get()) : std::unexpected(chain.error());
    auto client = cert_id ? connect(options) : std::unexpected(cert_id.error());
    auto info =
        client ? acme::fetch_renewal_info(*client, *cert_id) : std::unexpected(client.error());
    if (!info) {
        return report_error(info.error());
    }
    std::cout << "cert-id: " << *cert_id
              << "\nwindow-start: " << acme::format_rfc3339(info->window_start)
              << "\nwindow-end: " << acme::format_rfc3339(info->window_end)
              << "\nexplanation-url: " << info->explanation_url.value_or("-") << "\nretry-after: "
              << (info->retry_after ? std::to_string(info->retry_after->count()) : "-")
              << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const Options options = parse_arguments(argc, argv);
    if (options.command == "genkey") {
        return generate_key(options);
    }
    if (options.command == "account") {
        auto client = connect(options);
        auto found = client ? account(*client, options) : std::unexpected(client.error());
        return found ? 0 : report_error(found.error());
    }
    if (options.command == "issue") {
        return issue(options);
    }
    if (options.command == "directory") {
        return show_directory(options);
    }
    if (options.command == "renewal-info") {
        return renewal_info(options);
    }
    return report_error(
        Error("unknown command; use genkey, account, issue, directory or renewal-info"));
}
