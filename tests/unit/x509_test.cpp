// The checks a certificate/key pair passes before it is served or installed.
#include "common/atomic_file.hpp"
#include "common/x509.hpp"
#include "server/credentials.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace secure_api;
using namespace std::chrono_literals;

namespace {

struct Pair {
    tls::X509Key key;
    tls::X509Cert cert;
};

Pair make_pair(const std::vector<std::string>& names, std::chrono::seconds lifetime = 24h) {
    auto key = x509::generate_key(x509::KeyType::ec_p256);
    EXPECT_TRUE(key);
    auto cert = x509::self_signed(key->get(), names, lifetime);
    EXPECT_TRUE(cert);
    return {std::move(*key), std::move(*cert)};
}

std::string failure_name(const Result<void>& result) {
    return result ? "" : result.error().name;
}

} // namespace

TEST(CheckPair, AcceptsAMatchingValidPair) {
    auto pair = make_pair({"api.test", "www.api.test"});
    EXPECT_TRUE(x509::check_pair(pair.cert.get(), pair.key.get(), {"api.test", "www.api.test"},
                                 x509::Clock::now()));
}

TEST(CheckPair, EachFailureHasItsName) {
    auto pair = make_pair({"api.test"});
    auto other = make_pair({"api.test"});
    auto now = x509::Clock::now();
    EXPECT_EQ(failure_name(x509::check_pair(pair.cert.get(), other.key.get(), {}, now)),
              "KeyMismatch");
    EXPECT_EQ(failure_name(x509::check_pair(pair.cert.get(), pair.key.get(), {}, now + 48h)),
              "Expired");
    EXPECT_EQ(failure_name(x509::check_pair(pair.cert.get(), pair.key.get(), {}, now - 2h)),
              "NotYetValid");
    EXPECT_EQ(failure_name(x509::check_pair(pair.cert.get(), pair.key.get(), {"b.test"}, now)),
              "NamesNotCovered");
}

TEST(Describe, SerialNamesAndDates) {
    auto pair = make_pair({"api.test", "127.0.0.1"});
    auto info = x509::describe(pair.cert.get());
    EXPECT_EQ(info.names, (std::vector<std::string>{"api.test", "127.0.0.1"}));
    EXPECT_EQ(info.serial.size(), 32u);
    EXPECT_EQ(info.serial.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_LT(info.not_before, x509::Clock::now());
    EXPECT_GT(info.not_after, x509::Clock::now() + 23h);
}

TEST(Pem, KeyAndChainRoundTrip) {
    auto pair = make_pair({"api.test"});
    auto key_pem = x509::key_to_pem(pair.key.get());
    ASSERT_TRUE(key_pem);
    EXPECT_NE(key_pem->find("BEGIN PRIVATE KEY"), std::string::npos);
    auto cert_pem = x509::cert_to_pem(pair.cert.get());
    ASSERT_TRUE(cert_pem);
    auto chain = x509::chain_from_pem(*cert_pem + *cert_pem);
    ASSERT_TRUE(chain);
    EXPECT_EQ(chain->size(), 2u);
    auto key = x509::key_from_pem(*key_pem);
    ASSERT_TRUE(key);
    EXPECT_TRUE(
        x509::check_pair(chain->front().get(), key->get(), {"api.test"}, x509::Clock::now()));
    EXPECT_FALSE(x509::chain_from_pem("garbage"));
    EXPECT_FALSE(x509::key_from_pem(""));
}

class Files : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("secure-api-files-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(Files, AtomicWriteGivesTheFinalModeWhateverTheUmask) {
    mode_t old = ::umask(0);
    auto written = files::write_atomically(dir_ / "privkey.pem", "secret", 0640);
    ::umask(old);
    ASSERT_TRUE(written) << written.error().message;
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / "privkey.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(*files::read_file(dir_ / "privkey.pem"), "secret");
}

TEST_F(Files, FailedWriteLeavesTheOldFileAndNoTemporary) {
    ASSERT_TRUE(files::write_atomically(dir_ / "cert.pem", "old", 0644));
    auto failed = files::write_atomically(dir_ / "missing" / "cert.pem", "new", 0644);
    EXPECT_FALSE(failed);
    EXPECT_EQ(*files::read_file(dir_ / "cert.pem"), "old");
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_))
        ++entries;
    EXPECT_EQ(entries, 1);
}

TEST_F(Files, StaleTemporariesAreRemoved) {
    std::ofstream(dir_ / ".privkey.pem.tmp-abc123") << "partial";
    std::ofstream(dir_ / "privkey.pem") << "kept";
    EXPECT_EQ(files::remove_stale_temporaries(dir_).value_or(-1), 1);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "privkey.pem"));
}

TEST_F(Files, ReadFileHasASizeCap) {
    std::ofstream(dir_ / "big") << std::string(100, 'x');
    EXPECT_FALSE(files::read_file(dir_ / "big", 50));
    EXPECT_TRUE(files::read_file(dir_ / "big", 100));
}

TEST_F(Files, CredentialsLoadNamesTheUnreadableFile) {
    auto loaded =
        server::Credentials::load(dir_ / "none.pem", dir_ / "none.key", {}, x509::Clock::now());
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().name, "Unreadable");
    EXPECT_NE(loaded.error().message.find("none.pem"), std::string::npos);
}

TEST(Credentials, PlaceholderCoversTheConfiguredNames) {
    auto placeholder = server::Credentials::placeholder({"api.test"});
    ASSERT_TRUE(placeholder);
    EXPECT_TRUE((*placeholder)->is_placeholder());
    EXPECT_EQ((*placeholder)->info().names, std::vector<std::string>{"api.test"});
    EXPECT_EQ((*placeholder)->chain_length(), 1u);
}
