#include "acme/account_key.hpp"
#include "acme/base64url.hpp"
#include "acme/jwk.hpp"
#include "common/gnutls.hpp"
#include "test_certs.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

// RFC 7638 §3.1.
constexpr const char* rfc7638_n =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368"
    "QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd"
    "2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
constexpr const char* rfc7638_thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

std::string decoded(const char* text) {
    auto bytes = base64url_decode(text);
    EXPECT_TRUE(bytes);
    return bytes.value_or("");
}

TEST(JwkThumbprint, MatchesTheRfc7638Example) {
    const Json jwk{{"kty", "RSA"}, {"n", rfc7638_n}, {"e", "AQAB"}};
    auto thumbprint = jwk_thumbprint(jwk);
    ASSERT_TRUE(thumbprint) << thumbprint.error().message;
    EXPECT_EQ(*thumbprint, rfc7638_thumbprint);
}

TEST(JwkThumbprint, IgnoresOptionalMembers) {
    const Json jwk{{"kty", "RSA"},   {"n", rfc7638_n},      {"e", "AQAB"},
                   {"alg", "RS256"}, {"kid", "2011-04-29"}, {"use", "sig"}};
    auto thumbprint = jwk_thumbprint(jwk);
    ASSERT_TRUE(thumbprint);
    EXPECT_EQ(*thumbprint, rfc7638_thumbprint);
}

TEST(JwkThumbprint, RejectsAJwkWithoutItsRequiredMembers) {
    EXPECT_FALSE(jwk_thumbprint(Json{{"kty", "RSA"}, {"n", rfc7638_n}}));
    EXPECT_FALSE(jwk_thumbprint(Json{{"kty", "oct"}, {"k", "AAAA"}}));
    EXPECT_FALSE(jwk_thumbprint(Json::array()));
}

TEST(PublicJwk, ExportsTheRfc7638RsaKeyExactly) {
    const std::string n = decoded(rfc7638_n);
    const std::string e = decoded("AQAB");
    auto pub = tls::new_pubkey();
    const gnutls_datum_t n_datum = tls::borrow(n);
    const gnutls_datum_t e_datum = tls::borrow(e);
    ASSERT_EQ(gnutls_pubkey_import_rsa_raw(pub.get(), &n_datum, &e_datum), 0);
    auto jwk = public_jwk(pub.get());
    ASSERT_TRUE(jwk) << jwk.error().message;
    EXPECT_EQ(*jwk, (Json{{"kty", "RSA"}, {"n", rfc7638_n}, {"e", "AQAB"}}));
    EXPECT_EQ(jwk_thumbprint(*jwk).value_or(""), rfc7638_thumbprint);
}

TEST(PublicJwk, GivesFullLengthP256Coordinates) {
    auto key = test::new_ec_key();
    auto account = AccountKey::from_x509(key.get());
    ASSERT_TRUE(account) << account.error().message;
    const Json& jwk = account->jwk();
    EXPECT_EQ(jwk.size(), 4u);
    EXPECT_EQ(jwk["kty"], "EC");
    EXPECT_EQ(jwk["crv"], "P-256");
    EXPECT_EQ(decoded(jwk["x"].get<std::string>().c_str()).size(), 32u);
    EXPECT_EQ(decoded(jwk["y"].get<std::string>().c_str()).size(), 32u);
    EXPECT_EQ(account->algorithm(), "ES256");
    EXPECT_EQ(account->thumbprint(), jwk_thumbprint(jwk).value_or("?"));
}

TEST(PublicJwk, RejectsOtherCurves) {
    auto key = tls::new_x509_key();
    ASSERT_EQ(gnutls_x509_privkey_generate2(key.get(), GNUTLS_PK_ECDSA,
                                            GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), 0,
                                            nullptr, 0),
              0);
    auto account = AccountKey::from_x509(key.get());
    ASSERT_FALSE(account);
    EXPECT_NE(account.error().message.find("P-256"), std::string::npos);
}

} // namespace
} // namespace secure_api::acme
