// The certificate signing request sent at finalization (RFC 8555 §7.4):
// PKCS#10 with every name as a subjectAltName dNSName, signed with the new
// certificate key.
#pragma once

#include "common/error.hpp"

#include <gnutls/x509.h>

#include <string>
#include <vector>

namespace secure_api::acme {

// DER. The first name is also the subject CN when it fits (64 characters,
// RFC 5280 ub-common-name); CAs take the names from the SAN extension.
Result<std::string> make_csr(gnutls_x509_privkey_t key, const std::vector<std::string>& names);

} // namespace secure_api::acme
