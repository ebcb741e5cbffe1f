#include "acme/account_key.hpp"
#include "acme/base64url.hpp"
#include "acme/jws.hpp"
#include "common/gnutls.hpp"
#include "test_certs.hpp"

#include <gnutls/crypto.h>
#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

// RFC 7515 Appendix A.2 and A.3: the payload, with its CR LF line breaks.
const std::string rfc7515_payload =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
constexpr const char* rfc7515_payload_b64 = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dH"
                                            "A6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

// RFC 7515 Appendix A.2.1: the RSA key.
constexpr const char* a2_n =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4Q"
    "lL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
    "bSf63kpaSHSXndS5z5rexMdbBY"
    "UsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNm"
    "oudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr const char* a2_e = "AQAB";
constexpr const char* a2_d =
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-"
    "7YwVol2NXOoAJ"
    "e46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_"
    "V51gfpRLI"
    "9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_"
    "jTj3ccPDVZFD9p"
    "IuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
constexpr const char* a2_p =
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_"
    "Py5PJdT"
    "JNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
constexpr const char* a2_q =
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_"
    "Y"
    "wD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
constexpr const char* a2_dp =
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-"
    "FOKnu1R6Hs"
    "JeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
constexpr const char* a2_dq =
    "h_96-mK1R_"
    "7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-"
    "NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
constexpr const char* a2_qi =
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_"
    "QJQ3ydy5cY7YIBi"
    "87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
constexpr const char* a2_signature =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
    "O8W2Fp5juj"
    "Gbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
    "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe"
    "7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"
    "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8"
    "np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 Appendix A.3.1: the EC P-256 key and the published signature.
constexpr const char* a3_x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr const char* a3_y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr const char* a3_d = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
constexpr const char* a3_signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

std::string bytes(const char* b64) {
    auto out = base64url_decode(b64);
    EXPECT_TRUE(out) << b64;
    return out.value_or("");
}

AccountKey rfc7515_rsa_key() {
    const std::string n = bytes(a2_n), e = bytes(a2_e), d = bytes(a2_d), p = bytes(a2_p),
                      q = bytes(a2_q), dp = bytes(a2_dp), dq = bytes(a2_dq), qi = bytes(a2_qi);
    const gnutls_datum_t dn = tls::borrow(n), de = tls::borrow(e), dd = tls::borrow(d),
                         dp_ = tls::borrow(p), dq_ = tls::borrow(q), du = tls::borrow(qi),
                         de1 = tls::borrow(dp), de2 = tls::borrow(dq);
    auto key = tls::new_privkey();
    const int rc =
        gnutls_privkey_import_rsa_raw(key.get(), &dn, &de, &dd, &dp_, &dq_, &du, &de1, &de2);
    EXPECT_EQ(rc, 0) << gnutls_strerror(rc);
    auto account = AccountKey::from_privkey(std::move(key));
    EXPECT_TRUE(account);
    return std::move(*account);
}

AccountKey rfc7515_ec_key() {
    const std::string x = bytes(a3_x), y = bytes(a3_y), d = bytes(a3_d);
    const gnutls_datum_t dx = tls::borrow(x), dy = tls::borrow(y), dd = tls::borrow(d);
    auto key = tls::new_privkey();
    const int rc =
        gnutls_privkey_import_ecc_raw(key.get(), GNUTLS_ECC_CURVE_SECP256R1, &dx, &dy, &dd);
    EXPECT_EQ(rc, 0) << gnutls_strerror(rc);
    auto account = AccountKey::from_privkey(std::move(key));
    EXPECT_TRUE(account);
    return std::move(*account);
}

// Verify a raw r||s ES256 signature with GnuTLS (which wants DER).
bool verify_es256(gnutls_pubkey_t pub, std::string_view input, std::string_view raw) {
    if (raw.size() != 64) {
        return false;
    }
    const gnutls_datum_t r = tls::borrow(raw.substr(0, 32));
    const gnutls_datum_t s = tls::borrow(raw.substr(32));
    tls::Datum der;
    if (gnutls_encode_rs_value(der.out(), &r, &s) < 0) {
        return false;
    }
    const gnutls_datum_t data = tls::borrow(input);
    const gnutls_datum_t sig = tls::borrow(der.view());
    return gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &sig) >= 0;
}

Json decode_json(const Json& jws, const char* member) {
    return Json::parse(bytes(jws[member].get<std::string>().c_str()));
}

TEST(Jws, Rfc7515A2Rs256SignatureIsReproducedExactly) {
    const AccountKey key = rfc7515_rsa_key();
    EXPECT_EQ(key.algorithm(), "RS256");
    EXPECT_EQ(key.jwk()["n"], a2_n);
    auto jws = sign_flattened(key, Json{{"alg", "RS256"}}, rfc7515_payload);
    ASSERT_TRUE(jws) << jws.error().message;
    EXPECT_EQ((*jws)["protected"], "eyJhbGciOiJSUzI1NiJ9");
    EXPECT_EQ((*jws)["payload"], rfc7515_payload_b64);
    EXPECT_EQ((*jws)["signature"], a2_signature);
}

TEST(Jws, Rfc7515A3PublishedEs256SignatureVerifies) {
    const AccountKey key = rfc7515_ec_key();
    EXPECT_EQ(key.jwk()["x"], a3_x);
    EXPECT_EQ(key.jwk()["y"], a3_y);
    const std::string input = std::string("eyJhbGciOiJFUzI1NiJ9.") + rfc7515_payload_b64;
    EXPECT_TRUE(verify_es256(key.public_key(), input, bytes(a3_signature)));
    // A flipped bit must fail, or the check above proves nothing.
    std::string tampered = bytes(a3_signature);
    tampered[10] ^= 0x01;
    EXPECT_FALSE(verify_es256(key.public_key(), input, tampered));
}

TEST(Jws, OwnEs256SignaturesAreRawRAndSAndVerify) {
    const AccountKey key = rfc7515_ec_key();
    // Enough signatures that some r or s has a leading zero byte (1 in 128 each).
    for (int i = 0; i < 400; ++i) {
        auto jws = sign_flattened(key, Json{{"alg", "ES256"}}, "payload " + std::to_string(i));
        ASSERT_TRUE(jws) << jws.error().message;
        const std::string input =
            (*jws)["protected"].get<std::string>() + "." + (*jws)["payload"].get<std::string>();
        const std::string signature = bytes((*jws)["signature"].get<std::string>().c_str());
        ASSERT_EQ(signature.size(), 64u);
        ASSERT_TRUE(verify_es256(key.public_key(), input, signature)) << "signature " << i;
    }
}

TEST(Jws, NewAccountRequestEmbedsTheJwkAndNoKid) {
    auto x509 = test::new_ec_key();
    auto key = AccountKey::from_x509(x509.get());
    ASSERT_TRUE(key);
    auto jws = sign_acme_request(*key, JwsHeader{"nonce-1", "https://ca.test/new-acct", {}},
                                 R"({"onlyReturnExisting":true})");
    ASSERT_TRUE(jws) << jws.error().message;
    EXPECT_EQ(jws->size(), 3u);
    const Json header = decode_json(*jws, "protected");
    EXPECT_EQ(header["alg"], "ES256");
    EXPECT_EQ(header["nonce"], "nonce-1");
    EXPECT_EQ(header["url"], "https://ca.test/new-acct");
    EXPECT_EQ(header["jwk"], key->jwk());
    EXPECT_FALSE(header.contains("kid"));
    EXPECT_EQ(decode_json(*jws, "payload"), (Json{{"onlyReturnExisting", true}}));
}

TEST(Jws, AccountRequestCarriesKidAndPostAsGetHasEmptyPayload) {
    auto x509 = test::new_ec_key();
    auto key = AccountKey::from_x509(x509.get());
    ASSERT_TRUE(key);
    auto jws = sign_acme_request(
        *key, JwsHeader{"nonce-2", "https://ca.test/order/1", "https://ca.test/acct/7"}, "");
    ASSERT_TRUE(jws);
    const Json header = decode_json(*jws, "protected");
    EXPECT_EQ(header["kid"], "https://ca.test/acct/7");
    EXPECT_FALSE(header.contains("jwk"));
    EXPECT_EQ((*jws)["payload"], "");
    const std::string input = (*jws)["protected"].get<std::string>() + ".";
    EXPECT_TRUE(verify_es256(key->public_key(), input,
                             bytes((*jws)["signature"].get<std::string>().c_str())));
}

} // namespace
} // namespace secure_api::acme
