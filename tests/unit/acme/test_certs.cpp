#include "test_certs.hpp"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace secure_api::acme::test {

namespace {

void check(int rc, const char* what) {
    if (rc < 0) {
        throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rc));
    }
}

std::string key_id(gnutls_x509_privkey_t key) {
    std::array<unsigned char, 64> id{};
    size_t size = id.size();
    check(gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, id.data(), &size), "key id");
    return std::string(reinterpret_cast<const char*>(id.data()), size);
}

void fill(gnutls_x509_crt_t crt, const CertSpec& spec, gnutls_x509_privkey_t subject_key) {
    check(gnutls_x509_crt_set_version(crt, 3), "version");
    check(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                        spec.common_name.data(), spec.common_name.size()),
          "CN");
    if (!spec.organization.empty()) {
        check(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
                                            spec.organization.data(), spec.organization.size()),
              "O");
    }
    check(gnutls_x509_crt_set_key(crt, subject_key), "key");
    check(gnutls_x509_crt_set_serial(crt, spec.serial.data(), spec.serial.size()), "serial");
    const time_t now = std::time(nullptr);
    check(gnutls_x509_crt_set_activation_time(crt, now - 3600), "not before");
    check(gnutls_x509_crt_set_expiration_time(crt, now + 86400), "not after");
    check(gnutls_x509_crt_set_basic_constraints(crt, spec.ca ? 1 : 0, -1), "basic constraints");
    const std::string ski = key_id(subject_key);
    check(gnutls_x509_crt_set_subject_key_id(crt, ski.data(), ski.size()), "SKI");
}

Issued sign(tls::X509Cert crt, tls::X509Key key, const Issued* issuer) {
    gnutls_x509_crt_t issuer_cert = issuer ? issuer->cert.get() : crt.get();
    gnutls_x509_privkey_t issuer_key = issuer ? issuer->key.get() : key.get();
    if (issuer != nullptr) {
        const std::string aki = key_id(issuer_key);
        check(gnutls_x509_crt_set_authority_key_id(crt.get(), aki.data(), aki.size()), "AKI");
    }
    check(gnutls_x509_crt_sign2(crt.get(), issuer_cert, issuer_key, GNUTLS_DIG_SHA256, 0), "sign");
    tls::Datum pem;
    check(gnutls_x509_crt_export2(crt.get(), GNUTLS_X509_FMT_PEM, pem.out()), "export");
    return Issued{std::move(crt), std::move(key), pem.str()};
}

} // namespace

tls::X509Key new_ec_key() {
    auto key = tls::new_x509_key();
    check(gnutls_x509_privkey_generate2(key.get(), GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
                                        nullptr, 0),
          "generate");
    return key;
}

Issued make_cert(const CertSpec& spec, const Issued* issuer) {
    auto key = new_ec_key();
    auto crt = tls::new_x509_cert();
    fill(crt.get(), spec, key.get());
    return sign(std::move(crt), std::move(key), issuer);
}

Issued cross_sign(const Issued& subject, const CertSpec& spec, const Issued& issuer) {
    auto key = tls::new_x509_key();
    check(gnutls_x509_privkey_cpy(key.get(), subject.key.get()), "copy key");
    auto crt = tls::new_x509_cert();
    fill(crt.get(), spec, key.get());
    return sign(std::move(crt), std::move(key), &issuer);
}

} // namespace secure_api::acme::test
