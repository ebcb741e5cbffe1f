#include "acme/polling.hpp"

#include <algorithm>

namespace secure_api::acme {

PollSchedule::PollSchedule(PollPolicy policy, SteadyClock::time_point start)
    : policy_(policy), deadline_(start + policy.timeout), backoff_(policy.first_delay) {}

std::optional<std::chrono::milliseconds>
PollSchedule::next_delay(std::optional<std::chrono::seconds> retry_after,
                         SteadyClock::time_point now) {
    std::chrono::milliseconds delay = backoff_;
    if (retry_after) {
        delay = std::max<std::chrono::milliseconds>(*retry_after, policy_.first_delay);
    } else {
        backoff_ = std::min(backoff_ * 2, policy_.longest_delay);
    }
    if (now + delay > deadline_) {
        return std::nullopt;
    }
    return delay;
}

} // namespace secure_api::acme
