#include "acme/csr.hpp"

#include "common/gnutls.hpp"

namespace secure_api::acme {

namespace {

constexpr size_t longest_common_name = 64;

Result<void> check(int rc, const char* step) {
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error(std::string("building the CSR: ") + step, rc));
    }
    return {};
}

Result<void> add_names(gnutls_x509_crq_t crq, const std::vector<std::string>& names) {
    const std::string& first = names.front();
    if (first.size() <= longest_common_name) {
        auto cn = check(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0,
                                                      first.data(), first.size()),
                        "setting the subject");
        if (!cn) {
            return cn;
        }
    }
    for (const std::string& name : names) {
        auto san = check(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, name.data(),
                                                              name.size(), GNUTLS_FSAN_APPEND),
                         "adding a subject alternative name");
        if (!san) {
            return san;
        }
    }
    return {};
}

} // namespace

Result<std::string> make_csr(gnutls_x509_privkey_t key, const std::vector<std::string>& names) {
    if (names.empty()) {
        return fail("building the CSR: no names to request");
    }
    tls::CertRequest crq = tls::new_cert_request();
    auto built = check(gnutls_x509_crq_set_version(crq.get(), 1), "setting the version");
    built = built ? add_names(crq.get(), names) : built;
    built = built ? check(gnutls_x509_crq_set_key(crq.get(), key), "setting the key") : built;
    built = built ? check(gnutls_x509_crq_sign2(crq.get(), key, GNUTLS_DIG_SHA256, 0), "signing")
                  : built;
    if (!built) {
        return std::unexpected(built.error());
    }
    tls::Datum der;
    if (auto exported =
            check(gnutls_x509_crq_export2(crq.get(), GNUTLS_X509_FMT_DER, der.out()), "exporting");
        !exported) {
        return std::unexpected(exported.error());
    }
    return der.str();
}

} // namespace secure_api::acme
