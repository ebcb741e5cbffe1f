// When a certificate is due for renewal. Pure: the time is a parameter, so
// the rules are tested with any clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::renew {

using Clock = std::chrono::system_clock;

struct CertFacts {
    std::string serial;
    Clock::time_point not_before;
    Clock::time_point not_after;
    std::vector<std::string> names;
};

// The CA's suggested renewal window (RFC 9773 §4.2).
struct AriWindow {
    Clock::time_point start;
    Clock::time_point end;
};

enum class Reason { forced, no_certificate, names_changed, lifetime, ari_window, not_due };

struct Decision {
    Reason reason = Reason::not_due;
    // When the lifetime rule (or an earlier ARI window) makes it due;
    // meaningful when not due.
    Clock::time_point due_at;

    bool due() const { return reason != Reason::not_due; }
};

// The moment less than a third of the lifetime remains (half for
// certificates shorter than ten days, whose renewal must not wait for the
// last few hours). Lifetimes are shrinking, so no fixed number of days.
Clock::time_point lifetime_due_at(const CertFacts& cert);

// True when the certificate's names differ from the configured ones (order
// and case do not matter).
bool names_differ(const std::vector<std::string>& have, const std::vector<std::string>& want);

Decision decide(const std::optional<CertFacts>& cert, const std::vector<std::string>& names,
                const std::optional<AriWindow>& ari, Clock::time_point now, bool force);

std::string_view describe(Reason reason);

} // namespace secure_api::renew
