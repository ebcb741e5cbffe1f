// The renewal's decisions with an injected clock, its state file, and the
// pair-atomic install.
#include "common/atomic_file.hpp"
#include "renew/installer.hpp"
#include "renew/policy.hpp"
#include "renew/state.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace secure_api;
using namespace secure_api::renew;
using namespace std::chrono_literals;

namespace {

const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

CertFacts cert(std::chrono::seconds lifetime, std::vector<std::string> names = {"api.test"}) {
    return {"0a", t0, t0 + lifetime, std::move(names)};
}

} // namespace

TEST(Policy, NoCertificateOrForcedIsDue) {
    EXPECT_EQ(decide(std::nullopt, {"api.test"}, std::nullopt, t0, false).reason,
              Reason::no_certificate);
    EXPECT_EQ(decide(cert(90 * 24h), {"api.test"}, std::nullopt, t0, true).reason, Reason::forced);
}

TEST(Policy, ThirdOfTheLifetimeLeft) {
    auto c = cert(90 * 24h);
    EXPECT_EQ(lifetime_due_at(c), t0 + 60 * 24h);
    EXPECT_FALSE(decide(c, {"api.test"}, std::nullopt, t0 + 60 * 24h - 1s, false).due());
    EXPECT_EQ(decide(c, {"api.test"}, std::nullopt, t0 + 60 * 24h, false).reason, Reason::lifetime);
}

TEST(Policy, ShortLifetimesRenewAtHalf) {
    auto c = cert(6 * 24h);
    EXPECT_EQ(lifetime_due_at(c), t0 + 3 * 24h);
    auto minutes = cert(120s);
    EXPECT_FALSE(decide(minutes, {"api.test"}, std::nullopt, t0 + 59s, false).due());
    EXPECT_TRUE(decide(minutes, {"api.test"}, std::nullopt, t0 + 60s, false).due());
}

TEST(Policy, NamesChangedIgnoringOrderAndCase) {
    auto c = cert(90 * 24h, {"www.api.test", "API.test"});
    EXPECT_FALSE(decide(c, {"api.test", "www.api.test"}, std::nullopt, t0, false).due());
    EXPECT_EQ(decide(c, {"api.test"}, std::nullopt, t0, false).reason, Reason::names_changed);
}

TEST(Policy, AriWindowThatHasBegunIsDue) {
    // BC-04 (b): 60 days left, the window opened an hour ago.
    auto c = cert(90 * 24h);
    auto now = t0 + 30 * 24h;
    AriWindow window{now - 1h, now + 23h};
    EXPECT_EQ(decide(c, {"api.test"}, window, now, false).reason, Reason::ari_window);
}

TEST(Policy, AriWindowInTheFutureIsNotDueAndBringsTheDateForward) {
    // BC-04 (c)
    auto c = cert(90 * 24h);
    AriWindow window{t0 + 40 * 24h, t0 + 41 * 24h};
    auto decision = decide(c, {"api.test"}, window, t0 + 10 * 24h, false);
    EXPECT_FALSE(decision.due());
    EXPECT_EQ(decision.due_at, t0 + 40 * 24h);
}

TEST(Policy, LifetimeRuleWinsOverALateWindow) {
    auto c = cert(90 * 24h);
    AriWindow late{t0 + 80 * 24h, t0 + 81 * 24h};
    EXPECT_EQ(decide(c, {"api.test"}, late, t0 + 61 * 24h, false).reason, Reason::lifetime);
}

TEST(Backoff, GrowsToSixHours) {
    EXPECT_EQ(backoff_after(1), 1h);
    EXPECT_EQ(backoff_after(2), 2h);
    EXPECT_EQ(backoff_after(3), 4h);
    EXPECT_EQ(backoff_after(4), 6h);
    EXPECT_EQ(backoff_after(40), 6h);
}

class RenewFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("secure-api-renew-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ / "certs");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    LiveFiles live() const {
        return *live_files(dir_ / "certs/api.test/fullchain.pem",
                           dir_ / "certs/api.test/privkey.pem");
    }
    std::string read(const std::filesystem::path& p) const { return *files::read_file(p); }

    std::filesystem::path dir_;
};

TEST_F(RenewFiles, StateRoundTripsAndMissingIsEmpty) {
    auto empty = load_state(dir_ / "state.json");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->failures, 0);
    State state;
    state.failures = 2;
    state.backoff_until = t0;
    state.pending_reload = true;
    state.ari_serial = "0a";
    state.ari_window = AriWindow{t0, t0 + 1h};
    state.account_url = "https://ca.test/acct/1";
    ASSERT_TRUE(save_state(dir_ / "state.json", state));
    auto loaded = load_state(dir_ / "state.json");
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->failures, 2);
    EXPECT_EQ(loaded->backoff_until, t0);
    EXPECT_TRUE(loaded->pending_reload);
    ASSERT_TRUE(loaded->ari_window);
    EXPECT_EQ(loaded->ari_window->end, t0 + 1h);
    EXPECT_EQ(loaded->account_url, "https://ca.test/acct/1");
    std::ofstream(dir_ / "bad.json") << "not json";
    EXPECT_FALSE(load_state(dir_ / "bad.json"));
}

TEST_F(RenewFiles, CertAndKeyMustShareADirectory) {
    EXPECT_FALSE(live_files(dir_ / "a/fullchain.pem", dir_ / "b/privkey.pem"));
}

TEST_F(RenewFiles, InstallSwitchesThePairAndKeepsThePrevious) {
    ASSERT_TRUE(install(live(), {"chain-1", "key-1", "01"}, {}));
    EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "certs/api.test"));
    EXPECT_EQ(read(live().cert), "chain-1");
    ASSERT_TRUE(install(live(), {"chain-2", "key-2", "02"}, {}));
    EXPECT_EQ(read(live().cert), "chain-2");
    EXPECT_EQ(read(live().key), "key-2");
    EXPECT_EQ(read(dir_ / "certs/.api.test/previous/privkey.pem"), "key-1");
    ASSERT_TRUE(install(live(), {"chain-3", "key-3", "03"}, {}));
    EXPECT_EQ(clean_up(live()).value_or(-1), 1); // generation 1 is neither live nor previous
    EXPECT_EQ(read(dir_ / "certs/.api.test/previous/fullchain.pem"), "chain-2");
    auto mode = std::filesystem::status(live().key).permissions();
    EXPECT_EQ(mode, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                        std::filesystem::perms::group_read);
}

TEST_F(RenewFiles, APlainDirectoryIsAdopted) {
    std::filesystem::create_directories(dir_ / "certs/api.test");
    std::ofstream(dir_ / "certs/api.test/fullchain.pem") << "by hand";
    ASSERT_TRUE(install(live(), {"chain-1", "key-1", "01"}, {}));
    EXPECT_EQ(read(live().cert), "chain-1");
    EXPECT_EQ(read(dir_ / "certs/.api.test/previous/fullchain.pem"), "by hand");
}

TEST_F(RenewFiles, InterruptedInstallLeavesTheLivePairAndIsCleanedUp) {
    ASSERT_TRUE(install(live(), {"chain-1", "key-1", "01"}, {}));
    // What a kill between the key and the certificate leaves behind.
    auto partial = dir_ / "certs/.api.test/02-partial";
    std::filesystem::create_directories(partial);
    std::ofstream(partial / "privkey.pem") << "key-2";
    std::ofstream(partial / ".fullchain.pem.tmp-abc") << "chain";
    EXPECT_EQ(read(live().cert), "chain-1");
    EXPECT_EQ(read(live().key), "key-1");
    EXPECT_EQ(clean_up(live()).value_or(-1), 1);
    EXPECT_FALSE(std::filesystem::exists(partial));
    EXPECT_EQ(read(live().key), "key-1");
}
