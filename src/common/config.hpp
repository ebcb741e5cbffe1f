// The configuration of both programs: one INI file read with
// Boost.ProgramOptions, every key also accepted on the command line as
// --section.key=value (command line wins).
#pragma once

#include "common/error.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace secure_api {

struct AcmeConfig {
    std::string directory;
    std::string email;
    bool agree_tos = false;
    std::string key_type = "ec-p256";
    std::filesystem::path state_directory = "/var/lib/secure-api";
    std::string challenge = "daemon"; // "daemon" or "webroot"
    std::filesystem::path webroot;
    std::filesystem::path ca_bundle;
    std::string preferred_chain;
};

struct TlsConfig {
    std::filesystem::path cert;
    std::filesystem::path key;
    std::string priorities;
};

struct HttpConfig {
    std::string cors_allow_origin = "*";
    std::uint64_t hsts_max_age = 0;
    unsigned threads = 2;
    unsigned connection_limit = 1024;
    unsigned per_ip_limit = 64;
    std::chrono::seconds timeout{30};
    std::size_t memory_limit = 32 * 1024;
    std::chrono::seconds drain_timeout{10};
    std::optional<std::uint16_t> https_port;
};

struct Config {
    std::filesystem::path file; // the file that was read (may not exist when defaulted)
    std::vector<std::string> domains;
    std::vector<std::string> listen_https;
    std::vector<std::string> listen_http;
    AcmeConfig acme;
    TlsConfig tls;
    HttpConfig http;
    std::size_t max_digits = 10000;
    bool force = false; // secure-api-renew --force
    // Set for --help and --version: the program prints it and exits 0.
    std::optional<std::string> early_output;
};

inline constexpr int exit_config_error = 78; // EX_CONFIG

// Parse argv and the config file. A bad key or value gives an Error whose
// message names the key, the value and where it came from.
Result<Config> load_config(int argc, char** argv, std::string_view program);

} // namespace secure_api
