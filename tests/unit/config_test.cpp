#include "common/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using secure_api::Config;
using secure_api::load_config;
using secure_api::Result;

namespace {

class ConfigFile {
public:
    explicit ConfigFile(const std::string& content) {
        char name[] = "/tmp/secure-api-config-XXXXXX";
        int fd = mkstemp(name);
        ::close(fd);
        path_ = name;
        std::ofstream(path_) << content;
    }
    ~ConfigFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

Result<Config> load(std::vector<std::string> args, std::string program = "secure-apid") {
    args.insert(args.begin(), program);
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    return load_config(static_cast<int>(argv.size()), argv.data(), program);
}

} // namespace

TEST(Config, FileSectionsMapToPrefixes) {
    ConfigFile file("domain = a.test\ndomain = b.test\n[tls]\npriorities = NORMAL\n"
                    "[http]\nthreads = 4\ntimeout = 5\n[api]\nmax-digits = 50\n");
    auto config = load({"--config=" + file.path()});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->domains, (std::vector<std::string>{"a.test", "b.test"}));
    EXPECT_EQ(config->tls.priorities, "NORMAL");
    EXPECT_EQ(config->http.threads, 4u);
    EXPECT_EQ(config->http.timeout, std::chrono::seconds(5));
    EXPECT_EQ(config->max_digits, 50u);
    EXPECT_EQ(config->tls.cert, "/var/lib/secure-api/certs/a.test/fullchain.pem");
    EXPECT_EQ(config->tls.key, "/var/lib/secure-api/certs/a.test/privkey.pem");
}

TEST(Config, CommandLineWinsOverFile) {
    ConfigFile file("[http]\nthreads = 4\n");
    auto config = load({"--config", file.path(), "--http.threads=8", "--domain=x.test"});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->http.threads, 8u);
    EXPECT_EQ(config->domains, std::vector<std::string>{"x.test"});
}

TEST(Config, UnknownKeyInFileNamesKeyAndFile) {
    ConfigFile file("[http]\nthreadz = 4\n");
    auto config = load({"--config=" + file.path()});
    ASSERT_FALSE(config);
    EXPECT_NE(config.error().message.find("'http.threadz'"), std::string::npos);
    EXPECT_NE(config.error().message.find(file.path()), std::string::npos);
}

TEST(Config, BadValueNamesKeyValueAndSource) {
    auto config = load({"--config=/dev/null", "--http.threads=abc"});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "command line: invalid value 'abc' for key 'http.threads': "
                                      "expected a whole number from 1 to 256");
    ConfigFile file("[api]\nmax-digits = 0\n");
    auto from_file = load({"--config=" + file.path()});
    ASSERT_FALSE(from_file);
    EXPECT_EQ(from_file.error().message.find(file.path() + ": invalid value '0' for key "
                                                           "'api.max-digits'"),
              0u);
}

TEST(Config, EnumeratedAndBooleanValues) {
    EXPECT_FALSE(load({"--config=/dev/null", "--acme.challenge=dns"}));
    EXPECT_FALSE(load({"--config=/dev/null", "--acme.key-type=dsa"}));
    EXPECT_FALSE(load({"--config=/dev/null", "--acme.agree-tos=maybe"}));
    auto config = load({"--config=/dev/null", "--acme.agree-tos=yes"});
    ASSERT_TRUE(config);
    EXPECT_TRUE(config->acme.agree_tos);
}

TEST(Config, MissingExplicitFileIsAnError) {
    auto config = load({"--config=/nonexistent/secure-api.conf"});
    ASSERT_FALSE(config);
    EXPECT_NE(config.error().message.find("/nonexistent/secure-api.conf"), std::string::npos);
}

TEST(Config, ForceOnlyForTheRenewal) {
    EXPECT_FALSE(load({"--config=/dev/null", "--force"}));
    auto config = load({"--config=/dev/null", "--force"}, "secure-api-renew");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_TRUE(config->force);
}

TEST(Config, HelpIsEarlyOutput) {
    auto config = load({"--help"});
    ASSERT_TRUE(config);
    ASSERT_TRUE(config->early_output);
    EXPECT_NE(config->early_output->find("http.per-ip-limit"), std::string::npos);
}

TEST(Config, EmptyValueOnTheCommandLine) {
    auto config = load({"--config=/dev/null", "--http.cors-allow-origin="});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->http.cors_allow_origin, "");
}

TEST(Config, ListenAddressErrorsNameKeyValueAndSource) {
    auto config = load({"--config=/dev/null", "--listen-https=[::1:8443"});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message.find("command line: invalid value '[::1:8443' for key "
                                          "'listen-https'"),
              0u);
    EXPECT_NE(config.error().message.find("closing ']'"), std::string::npos);
    ConfigFile file("listen-http = nowhere\n");
    auto from_file = load({"--config=" + file.path()});
    ASSERT_FALSE(from_file);
    EXPECT_EQ(from_file.error().message.find(file.path() + ": invalid value 'nowhere'"), 0u);
    auto good =
        load({"--config=/dev/null", "--listen-https=[::]:8443", "--listen-https=0.0.0.0:8443"});
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(good->listen_https.size(), 2u);
}

TEST(Config, DirectoryAsConfigFileIsAnError) {
    auto config = load({"--config=/tmp"});
    ASSERT_FALSE(config);
    EXPECT_NE(config.error().message.find("is a directory"), std::string::npos);
}
