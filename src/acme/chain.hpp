// Downloading the certificate with its alternate chains (RFC 8555 §7.4.2) and
// choosing the chain an administrator prefers.
#pragma once

#include "acme/client.hpp"
#include "common/error.hpp"
#include "common/gnutls.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

struct CertificateChain {
    std::string url;
    std::string pem; // leaf first (application/pem-certificate-chain)
};

struct DownloadedChains {
    std::vector<CertificateChain> chains; // the default chain first, then the alternates
    std::vector<Error> alternate_errors;  // alternates that could not be fetched
};

// POST-as-GET the certificate URL, then every Link rel="alternate" it names.
// The default chain is required; an alternate that fails is reported, not fatal.
Result<DownloadedChains> download_chains(Client& client, const std::string& certificate_url);

struct IssuerName {
    std::string common_name; // empty when the issuer has no CN
    std::string dn;          // RFC 4514 string
};

// The issuer of the topmost (last) certificate of a PEM chain: the root the
// chain leads to.
Result<IssuerName> topmost_issuer(std::string_view pem);

struct ChainChoice {
    std::size_t index = 0;  // into the chains given
    bool preferred = false; // false: no preference or none matched, default chain
};

// The first chain whose topmost certificate's issuer CN equals preferred_issuer;
// failing that, the first whose issuer DN contains it; failing that, the
// default chain (index 0). Only the topmost certificate counts: a chain that
// merely passes through an intermediate signed by that root does not match.
ChainChoice choose_chain(const std::vector<CertificateChain>& chains,
                         std::string_view preferred_issuer);

} // namespace secure_api::acme
