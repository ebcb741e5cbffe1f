// JSON Web Signatures as ACME sends them: flattened JSON serialization
// (RFC 7515 §7.2.2) with the protected header of RFC 8555 §6.2.
#pragma once

#include "acme/account_key.hpp"
#include "acme/json.hpp"
#include "common/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace secure_api::acme {

// The ACME protected header fields besides "alg".
struct JwsHeader {
    std::string nonce;
    std::string url;
    // The account URL; without it the public JWK is embedded instead, as newAccount
    // and revocation by certificate key need (RFC 8555 §6.2).
    std::optional<std::string> kid;
};

// {"protected", "payload", "signature"} over exactly the given header and payload
// bytes. The header must already hold "alg".
Result<Json> sign_flattened(const AccountKey& key, const Json& protected_header,
                            std::string_view payload);

// An ACME request body. An empty payload makes a POST-as-GET (RFC 8555 §6.3).
Result<Json> sign_acme_request(const AccountKey& key, const JwsHeader& header,
                               std::string_view payload);

} // namespace secure_api::acme
