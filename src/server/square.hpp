// Exact decimal squares of arbitrarily long runs of ASCII digits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace secure_api::server {

enum class DigitsCheck { ok, not_digits, too_long };

// Only ASCII '0'..'9' count as digits: signs, points, spaces and the digits
// of other scripts do not, whatever a locale says.
DigitsCheck check_digits(std::string_view text, std::size_t max_digits);

// The square of a non-empty run of ASCII digits, without leading zeros.
std::string square(std::string_view digits);

} // namespace secure_api::server
