// base64url without padding (RFC 4648 §5, as RFC 7515 §2 and RFC 8555 §6.1 use it).
#pragma once

#include "common/error.hpp"

#include <string>
#include <string_view>

namespace secure_api::acme {

std::string base64url_encode(std::string_view bytes);

// Accepts only the URL-safe alphabet without padding, as ACME sends it; anything
// else (padding, '+', '/', whitespace, an impossible length) is an error.
Result<std::string> base64url_decode(std::string_view text);

} // namespace secure_api::acme
