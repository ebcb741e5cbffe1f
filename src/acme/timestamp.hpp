// The two date formats an ACME server sends: HTTP-date in headers
// (RFC 9110 §5.6.7) and RFC 3339 timestamps in JSON (RFC 8555 §7.1, RFC 9773 §4.2).
#pragma once

#include "common/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace secure_api::acme {

using Clock = std::chrono::system_clock;

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and the obsolete RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994")
// forms, which RFC 9110 §5.6.7 says a recipient must accept.
Result<Clock::time_point> parse_http_date(std::string_view text);

// "2025-01-02T04:00:00Z", with optional fraction and numeric offset.
Result<Clock::time_point> parse_rfc3339(std::string_view text);

// "2025-01-02T04:00:00Z" (UTC, whole seconds), for logs and tests.
std::string format_rfc3339(Clock::time_point when);

} // namespace secure_api::acme
