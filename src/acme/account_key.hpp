// The ACME account key as a JWS signer: ES256 for EC P-256, RS256 for RSA
// (RFC 7518 §3.1; RFC 8555 §6.2 requires the server to accept both).
#pragma once

#include "acme/json.hpp"
#include "common/error.hpp"
#include "common/gnutls.hpp"

#include <string>
#include <string_view>

namespace secure_api::acme {

class AccountKey {
public:
    // Copies the key; the caller keeps its own handle.
    static Result<AccountKey> from_x509(gnutls_x509_privkey_t key);
    // Takes over an abstract private key (e.g. one imported from raw parameters).
    static Result<AccountKey> from_privkey(tls::PrivKey key);

    // "ES256" or "RS256".
    const std::string& algorithm() const { return algorithm_; }
    // The public JWK with only its required members (RFC 7638 §3.2).
    const Json& jwk() const { return jwk_; }
    // base64url SHA-256 JWK thumbprint (RFC 7638), for key authorizations.
    const std::string& thumbprint() const { return thumbprint_; }
    gnutls_pubkey_t public_key() const { return public_key_.get(); }

    // The JWS signature over signing_input: r||s (64 bytes, RFC 7518 §3.4) for
    // ES256, an RSASSA-PKCS1-v1_5 SHA-256 signature for RS256.
    Result<std::string> sign(std::string_view signing_input) const;

private:
    AccountKey() = default;

    tls::PrivKey key_;
    tls::PubKey public_key_;
    std::string algorithm_;
    Json jwk_;
    std::string thumbprint_;
};

} // namespace secure_api::acme
