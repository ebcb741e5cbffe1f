// What the renewal remembers between runs, in <state>/acme/state.json:
// backoff after failures, the CA's rate-limit horizon, a reload still owed
// to the daemon, the last renewalInfo answer, and the account URL.
#pragma once

#include "common/error.hpp"
#include "renew/policy.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace secure_api::renew {

struct State {
    int failures = 0;
    std::optional<Clock::time_point> backoff_until;
    std::optional<Clock::time_point> rate_limited_until;
    bool pending_reload = false;

    // renewalInfo (RFC 9773) for the certificate with this serial, and when
    // to ask again (§4.3).
    std::string ari_serial;
    std::optional<AriWindow> ari_window;
    std::optional<Clock::time_point> ari_next_check;

    std::string account_url;
    std::string account_directory; // the directory URL the account belongs to
};

// A missing file is an empty state; an unreadable one is an error.
Result<State> load_state(const std::filesystem::path& path);
Result<void> save_state(const std::filesystem::path& path, const State& state);

// After the n-th failure in a row: 1 h, 2 h, 4 h, then 6 h at most.
std::chrono::seconds backoff_after(int failures);

} // namespace secure_api::renew
