#include "acme/csr.hpp"
#include "common/gnutls.hpp"
#include "test_certs.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

std::vector<std::string> dns_names(gnutls_x509_crq_t crq) {
    std::vector<std::string> names;
    for (unsigned i = 0;; ++i) {
        std::array<char, 256> buffer{};
        size_t size = buffer.size();
        unsigned type = 0;
        const int rc =
            gnutls_x509_crq_get_subject_alt_name(crq, i, buffer.data(), &size, &type, nullptr);
        if (rc < 0) {
            break;
        }
        if (type == GNUTLS_SAN_DNSNAME) {
            names.emplace_back(buffer.data(), size);
        }
    }
    return names;
}

TEST(Csr, CarriesEveryNameAsDnsSanAndIsSignedByTheKey) {
    auto key = test::new_ec_key();
    const std::vector<std::string> names{"acme.test", "www.acme.test"};
    auto der = make_csr(key.get(), names);
    ASSERT_TRUE(der) << der.error().message;
    auto crq = tls::new_cert_request();
    const gnutls_datum_t data = tls::borrow(*der);
    ASSERT_EQ(gnutls_x509_crq_import(crq.get(), &data, GNUTLS_X509_FMT_DER), 0);
    EXPECT_EQ(gnutls_x509_crq_verify(crq.get(), 0), 0);
    EXPECT_EQ(dns_names(crq.get()), names);
    std::array<char, 128> cn{};
    size_t size = cn.size();
    ASSERT_EQ(gnutls_x509_crq_get_dn_by_oid(crq.get(), GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn.data(),
                                            &size),
              0);
    EXPECT_EQ(std::string(cn.data(), size), "acme.test");
}

TEST(Csr, NeedsAtLeastOneName) {
    auto key = test::new_ec_key();
    EXPECT_FALSE(make_csr(key.get(), {}));
}

} // namespace
} // namespace secure_api::acme
