#include "acme/jwk.hpp"

#include "acme/base64url.hpp"
#include "common/gnutls.hpp"

#include <gnutls/crypto.h>

#include <array>

namespace secure_api::acme {

namespace {

// RFC 7518 §6.2.1.2: EC coordinates are exactly the field size, leading zeros kept.
constexpr size_t p256_coordinate_size = 32;

std::string left_pad(std::string_view bytes, size_t size) {
    std::string out(size > bytes.size() ? size - bytes.size() : 0, '\0');
    out.append(bytes);
    return out;
}

Result<Json> ec_jwk(gnutls_pubkey_t key) {
    gnutls_ecc_curve_t curve{};
    tls::Datum x;
    tls::Datum y;
    const int rc =
        gnutls_pubkey_export_ecc_raw2(key, &curve, x.out(), y.out(), GNUTLS_EXPORT_FLAG_NO_LZ);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("exporting the EC public key", rc));
    }
    if (curve != GNUTLS_ECC_CURVE_SECP256R1) {
        return fail(std::string("the EC account key uses the curve ") +
                    secure_api::quoted(std::string_view(gnutls_ecc_curve_get_name(curve))) +
                    "; only P-256 is supported");
    }
    return Json{{"kty", "EC"},
                {"crv", "P-256"},
                {"x", base64url_encode(left_pad(x.view(), p256_coordinate_size))},
                {"y", base64url_encode(left_pad(y.view(), p256_coordinate_size))}};
}

Result<Json> rsa_jwk(gnutls_pubkey_t key) {
    tls::Datum n;
    tls::Datum e;
    const int rc = gnutls_pubkey_export_rsa_raw2(key, n.out(), e.out(), GNUTLS_EXPORT_FLAG_NO_LZ);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("exporting the RSA public key", rc));
    }
    return Json{
        {"kty", "RSA"}, {"n", base64url_encode(n.view())}, {"e", base64url_encode(e.view())}};
}

Result<Json> required_members(const Json& jwk) {
    auto kty = string_member(jwk, "kty", "the JWK");
    if (!kty) {
        return std::unexpected(kty.error());
    }
    const std::array<const char*, 3> ec_members{"crv", "x", "y"};
    const std::array<const char*, 2> rsa_members{"e", "n"};
    Json out{{"kty", *kty}};
    auto copy = [&](const auto& names) -> Result<Json> {
        for (const char* name : names) {
            auto value = string_member(jwk, name, "the JWK");
            if (!value) {
                return std::unexpected(value.error());
            }
            out[name] = *value;
        }
        return out;
    };
    if (*kty == "EC") {
        return copy(ec_members);
    }
    if (*kty == "RSA") {
        return copy(rsa_members);
    }
    return fail("the JWK has the unsupported key type " + secure_api::quoted(*kty));
}

} // namespace

Result<Json> public_jwk(gnutls_pubkey_t key) {
    const int algorithm = gnutls_pubkey_get_pk_algorithm(key, nullptr);
    switch (algorithm) {
    case GNUTLS_PK_ECDSA:
        return ec_jwk(key);
    case GNUTLS_PK_RSA:
        return rsa_jwk(key);
    default:
        return fail(std::string("the account key's algorithm ") +
                    secure_api::quoted(std::string_view(
                        gnutls_pk_get_name(static_cast<gnutls_pk_algorithm_t>(algorithm)))) +
                    " is not supported; use an EC P-256 or RSA key");
    }
}

Result<std::string> jwk_thumbprint(const Json& jwk) {
    auto members = required_members(jwk);
    if (!members) {
        return std::unexpected(members.error());
    }
    const std::string canonical = compact(*members);
    std::array<unsigned char, 32> digest{};
    const int rc =
        gnutls_hash_fast(GNUTLS_DIG_SHA256, canonical.data(), canonical.size(), digest.data());
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("hashing the JWK", rc));
    }
    return base64url_encode(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

} // namespace secure_api::acme
