#include "acme/account_key.hpp"

#include "acme/jwk.hpp"

#include <gnutls/crypto.h>

namespace secure_api::acme {

namespace {

// RFC 7518 §3.4: each of R and S is a 32-byte big-endian integer for P-256.
constexpr size_t es256_half_size = 32;

// A datum that gnutls_decode_rs_value allocated.
struct OwnedDatum {
    gnutls_datum_t datum{};
    OwnedDatum() = default;
    OwnedDatum(const OwnedDatum&) = delete;
    OwnedDatum& operator=(const OwnedDatum&) = delete;
    ~OwnedDatum() { gnutls_free(datum.data); }
};

Result<std::string> fixed_width(const gnutls_datum_t& integer, size_t width) {
    std::string_view bytes(reinterpret_cast<const char*>(integer.data), integer.size);
    while (!bytes.empty() && bytes.front() == '\0') {
        bytes.remove_prefix(1); // DER adds a zero byte before a high bit
    }
    if (bytes.size() > width) {
        return fail("the ECDSA signature value is longer than the curve allows");
    }
    std::string out(width - bytes.size(), '\0');
    out.append(bytes);
    return out;
}

// GnuTLS returns DER ECDSA-Sig-Value; JWS wants the raw concatenation r||s.
Result<std::string> der_to_raw_ecdsa(const tls::Datum& der) {
    const gnutls_datum_t in = tls::borrow(der.view());
    OwnedDatum r;
    OwnedDatum s;
    const int rc = gnutls_decode_rs_value(&in, &r.datum, &s.datum);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("decoding the ECDSA signature", rc));
    }
    auto r_bytes = fixed_width(r.datum, es256_half_size);
    auto s_bytes = fixed_width(s.datum, es256_half_size);
    if (!r_bytes || !s_bytes) {
        return std::unexpected(r_bytes ? s_bytes.error() : r_bytes.error());
    }
    return *r_bytes + *s_bytes;
}

Result<tls::PubKey> public_part(gnutls_privkey_t key) {
    tls::PubKey pub = tls::new_pubkey();
    const int rc = gnutls_pubkey_import_privkey(pub.get(), key, 0, 0);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("deriving the account public key", rc));
    }
    return pub;
}

Result<std::string> algorithm_for(gnutls_privkey_t key) {
    switch (gnutls_privkey_get_pk_algorithm(key, nullptr)) {
    case GNUTLS_PK_ECDSA:
        return std::string("ES256");
    case GNUTLS_PK_RSA:
        return std::string("RS256");
    default:
        return fail("the account key is neither EC P-256 nor RSA");
    }
}

} // namespace

Result<AccountKey> AccountKey::from_x509(gnutls_x509_privkey_t key) {
    tls::PrivKey owned = tls::new_privkey();
    const int rc = gnutls_privkey_import_x509(owned.get(), key, GNUTLS_PRIVKEY_IMPORT_COPY);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("importing the account key", rc));
    }
    return from_privkey(std::move(owned));
}

Result<AccountKey> AccountKey::from_privkey(tls::PrivKey key) {
    AccountKey account;
    auto algorithm = algorithm_for(key.get());
    auto pub = algorithm ? public_part(key.get()) : std::unexpected(algorithm.error());
    if (!pub) {
        return std::unexpected(pub.error());
    }
    auto jwk = public_jwk(pub->get());
    auto thumbprint = jwk ? jwk_thumbprint(*jwk) : std::unexpected(jwk.error());
    if (!thumbprint) {
        return std::unexpected(thumbprint.error());
    }
    account.key_ = std::move(key);
    account.public_key_ = std::move(*pub);
    account.algorithm_ = std::move(*algorithm);
    account.jwk_ = std::move(*jwk);
    account.thumbprint_ = std::move(*thumbprint);
    return account;
}

Result<std::string> AccountKey::sign(std::string_view signing_input) const {
    const gnutls_datum_t data = tls::borrow(signing_input);
    tls::Datum signature;
    const int rc =
        gnutls_privkey_sign_data(key_.get(), GNUTLS_DIG_SHA256, 0, &data, signature.out());
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("signing with the account key", rc));
    }
    if (algorithm_ == "ES256") {
        return der_to_raw_ecdsa(signature);
    }
    return signature.str();
}

} // namespace secure_api::acme
