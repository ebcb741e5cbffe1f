#include "acme/ari.hpp"
#include "acme/base64url.hpp"
#include "common/gnutls.hpp"
#include "test_certs.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

// RFC 9773 Appendix A: the example certificate of §4.1 (AKI 69:88:5B:...,
// serial 0x87654321 encoded with a leading zero byte).
constexpr const char* rfc9773_example = R"(-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
)";

tls::X509Cert import_pem(std::string_view pem) {
    auto cert = tls::new_x509_cert();
    const gnutls_datum_t data = tls::borrow(pem);
    EXPECT_EQ(gnutls_x509_crt_import(cert.get(), &data, GNUTLS_X509_FMT_PEM), 0);
    return cert;
}

TEST(AriCertId, MatchesTheRfc9773Example) {
    const auto cert = import_pem(rfc9773_example);
    auto id = ari_cert_id(cert.get());
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST(AriCertId, KeepsTheSerialsLeadingZeroAndUsesTheIssuersKeyId) {
    const test::Issued root = test::make_cert({"Root X"}, nullptr);
    const test::Issued leaf =
        test::make_cert({"leaf.test", "", std::string("\x00\x80\x01\x02", 4), false}, &root);
    auto id = ari_cert_id(leaf.cert.get());
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_TRUE(id->ends_with(".AIABAg")) << *id;
    // The part before the dot is the root's subject key identifier.
    std::array<unsigned char, 64> ski{};
    size_t size = ski.size();
    unsigned critical = 0;
    ASSERT_EQ(gnutls_x509_crt_get_subject_key_id(root.cert.get(), ski.data(), &size, &critical), 0);
    EXPECT_EQ(id->substr(0, id->find('.')),
              base64url_encode(std::string_view(reinterpret_cast<char*>(ski.data()), size)));
}

TEST(AriCertId, ACertificateWithoutAuthorityKeyIdHasNone) {
    const test::Issued self_signed = test::make_cert({"alone.test"}, nullptr);
    auto id = ari_cert_id(self_signed.cert.get());
    ASSERT_FALSE(id);
    EXPECT_NE(id.error().message.find("Authority Key Identifier"), std::string::npos);
}

TEST(RenewalInfo, ReadsTheSuggestedWindowAndExplanation) {
    auto info = parse_renewal_info(R"({
        "suggestedWindow": {"start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"},
        "explanationURL": "https://acme.example.com/docs/ari"})");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(format_rfc3339(info->window_start), "2025-01-02T04:00:00Z");
    EXPECT_EQ(format_rfc3339(info->window_end), "2025-01-03T04:00:00Z");
    EXPECT_EQ(info->explanation_url, "https://acme.example.com/docs/ari");
}

TEST(RenewalInfo, RejectsAWindowThatEndsBeforeItStarts) {
    auto info = parse_renewal_info(R"({"suggestedWindow":
        {"start": "2025-01-03T04:00:00Z", "end": "2025-01-02T04:00:00Z"}})");
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().message.find("before it starts"), std::string::npos);
}

TEST(RenewalInfo, RejectsMissingOrMalformedWindows) {
    EXPECT_FALSE(parse_renewal_info(R"({})"));
    EXPECT_FALSE(parse_renewal_info(R"({"suggestedWindow": {"start": "2025-01-02T04:00:00Z"}})"));
    EXPECT_FALSE(parse_renewal_info(
        R"({"suggestedWindow": {"start": "yesterday", "end": "2025-01-02T04:00:00Z"}})"));
}

} // namespace
} // namespace secure_api::acme
