// Small certificates made at test time: roots, intermediates, cross-signs, leaves.
#pragma once

#include "common/gnutls.hpp"

#include <string>

namespace secure_api::acme::test {

struct Issued {
    tls::X509Cert cert;
    tls::X509Key key;
    std::string pem;
};

struct CertSpec {
    std::string common_name;
    std::string organization{}; // empty: none
    std::string serial = std::string("\x01", 1);
    bool ca = true;
};

// A fresh EC P-256 key; aborts the test binary on failure (a broken GnuTLS).
tls::X509Key new_ec_key();

// Self-signed when issuer is null; the issuer's key signs otherwise. Every
// certificate gets a subject key identifier, so signed ones carry an AKI.
Issued make_cert(const CertSpec& spec, const Issued* issuer);

// The same subject and key as `subject`, signed by another issuer (a cross-sign).
Issued cross_sign(const Issued& subject, const CertSpec& spec, const Issued& issuer);

} // namespace secure_api::acme::test
