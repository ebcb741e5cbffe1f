// ACME Renewal Information (RFC 9773): the certificate identifier (§4.1) and
// the CA's suggested renewal window (§4.2).
#pragma once

#include "acme/client.hpp"
#include "acme/json.hpp"
#include "acme/timestamp.hpp"
#include "common/error.hpp"

#include <gnutls/x509.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace secure_api::acme {

// base64url(AKI keyIdentifier) "." base64url(serial number DER content octets).
// A certificate without an Authority Key Identifier has none: an Error.
Result<std::string> ari_cert_id(gnutls_x509_crt_t cert);

struct RenewalInfo {
    Clock::time_point window_start;
    Clock::time_point window_end;
    std::optional<std::string> explanation_url;
    // When to ask again (RFC 9773 §4.3), from the response's Retry-After.
    std::optional<std::chrono::seconds> retry_after;
};

// {"suggestedWindow": {"start", "end"}, "explanationURL"}; end before start is
// an error (§4.2).
Result<RenewalInfo> renewal_info_from_json(const Json& document);
Result<RenewalInfo> parse_renewal_info(std::string_view body);

// GET <renewalInfo>/<certID>. A CA without renewalInfo in its directory gives
// an Error named "AriUnsupported".
Result<RenewalInfo> fetch_renewal_info(Client& client, std::string_view cert_id);

} // namespace secure_api::acme
