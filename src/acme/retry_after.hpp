// Retry-After (RFC 9110 §10.2.3), which ACME servers send on rate limits,
// pending resources (RFC 8555 §7.4, §8.2) and renewal information (RFC 9773 §4.3).
#pragma once

#include "acme/timestamp.hpp"
#include "common/error.hpp"

#include <chrono>
#include <string_view>

namespace secure_api::acme {

// A delay from now: delta-seconds ("120") or an HTTP-date. A date in the past
// gives zero. Anything else is an error naming the value.
Result<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now);

} // namespace secure_api::acme
