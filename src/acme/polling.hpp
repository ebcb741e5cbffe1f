// When to ask again about a resource that is still pending or processing
// (RFC 8555 §7.5.1, §7.4): as the server's Retry-After says, otherwise quickly at
// first and then less often, and never past an overall deadline.
//
// The first wait is short because a validation or a finalization often takes a CA
// only milliseconds (a CA on the same network, a cached authorization); doubling from
// there costs a slow CA only a handful of extra requests: a validation that takes 2 s
// is asked 8 times instead of 4 with a 250 ms start.
#pragma once

#include <chrono>
#include <optional>

namespace secure_api::acme {

struct PollPolicy {
    std::chrono::milliseconds first_delay{10};
    std::chrono::milliseconds longest_delay{4000};
    std::chrono::milliseconds timeout{std::chrono::seconds{120}};
};

class PollSchedule {
public:
    using SteadyClock = std::chrono::steady_clock;

    PollSchedule(PollPolicy policy, SteadyClock::time_point start);

    // The wait before the next request, or nullopt when it would end past the
    // deadline. retry_after is the server's Retry-After, if it sent one; it is
    // honoured but never shorter than the first delay, so a "0" cannot spin.
    std::optional<std::chrono::milliseconds>
    next_delay(std::optional<std::chrono::seconds> retry_after, SteadyClock::time_point now);

private:
    PollPolicy policy_;
    SteadyClock::time_point deadline_;
    std::chrono::milliseconds backoff_;
};

} // namespace secure_api::acme
