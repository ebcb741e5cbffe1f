#include "acme/retry_after.hpp"

#include "acme/http1.hpp"

#include <algorithm>
#include <charconv>

namespace secure_api::acme {

namespace {

// A bound on absurd values so that arithmetic on the delay cannot overflow.
constexpr std::chrono::seconds longest_delay{std::chrono::days{365}};

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::chrono::seconds delta_seconds(std::string_view digits) {
    unsigned long long value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || value > static_cast<unsigned long long>(longest_delay.count())) {
        return longest_delay; // too many digits for any sensible wait
    }
    return std::chrono::seconds(value);
}

} // namespace

Result<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now) {
    const std::string_view text = http1::trim(value);
    if (all_digits(text)) {
        return delta_seconds(text);
    }
    auto date = parse_http_date(text);
    if (!date) {
        return fail("Retry-After value " + secure_api::quoted(value) +
                    " is neither delta-seconds nor an HTTP-date");
    }
    const auto delay = std::chrono::ceil<std::chrono::seconds>(*date - now);
    return std::clamp(delay, std::chrono::seconds{0}, longest_delay);
}

} // namespace secure_api::acme
