// JSON Web Keys for the account key (RFC 7517, RFC 7518 §6) and their
// thumbprints (RFC 7638), which key authorizations are built from (RFC 8555 §8.1).
#pragma once

#include "acme/json.hpp"
#include "common/error.hpp"

#include <gnutls/abstract.h>

#include <string>

namespace secure_api::acme {

// The public JWK of an EC P-256 or RSA key with only its required members:
// {"crv","kty","x","y"} or {"e","kty","n"}. Other key types are an error.
Result<Json> public_jwk(gnutls_pubkey_t key);

// base64url(SHA-256(the required members of jwk, sorted, no whitespace)).
Result<std::string> jwk_thumbprint(const Json& jwk);

} // namespace secure_api::acme
