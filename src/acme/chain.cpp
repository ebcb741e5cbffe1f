#include "acme/chain.hpp"

#include "common/x509.hpp"

#include <optional>

namespace secure_api::acme {

namespace {

constexpr std::string_view pem_chain_type = "application/pem-certificate-chain";

// POST-as-GET of one chain, checked to be a PEM chain.
Result<HttpResponse> fetch_pem(Client& client, const std::string& url) {
    auto response = client.post_as_get(url, pem_chain_type);
    if (!response) {
        return std::unexpected(response.error().context("downloading the certificate"));
    }
    if (response->content_type != pem_chain_type) {
        return fail("downloading the certificate " + secure_api::quoted(url) + ": the answer is " +
                    secure_api::quoted(response->content_type) + ", not " +
                    std::string(pem_chain_type));
    }
    return response;
}

std::string issuer_common_name(gnutls_x509_crt_t cert) {
    size_t size = 0;
    int rc = gnutls_x509_crt_get_issuer_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, 0, nullptr,
                                                  &size);
    if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER) {
        return {};
    }
    std::string name(size, '\0');
    rc = gnutls_x509_crt_get_issuer_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name.data(),
                                              &size);
    if (rc < 0) {
        return {};
    }
    name.resize(size); // size excludes the terminating NUL on success
    return name;
}

std::optional<std::size_t> find_match(const std::vector<CertificateChain>& chains,
                                      std::string_view preferred, bool by_dn) {
    for (std::size_t i = 0; i < chains.size(); ++i) {
        auto issuer = topmost_issuer(chains[i].pem);
        if (!issuer) {
            continue;
        }
        const bool match = by_dn ? issuer->dn.find(preferred) != std::string::npos
                                 : issuer->common_name == preferred;
        if (match) {
            return i;
        }
    }
    return std::nullopt;
}

} // namespace

Result<DownloadedChains> download_chains(Client& client, const std::string& certificate_url) {
    auto response = fetch_pem(client, certificate_url);
    if (!response) {
        return std::unexpected(response.error());
    }
    DownloadedChains out;
    out.chains.push_back(CertificateChain{certificate_url, std::move(response->body)});
    for (const std::string& url : response->link_targets("alternate")) {
        auto alternate = fetch_pem(client, url);
        if (alternate) {
            out.chains.push_back(CertificateChain{url, std::move(alternate->body)});
        } else {
            out.alternate_errors.push_back(alternate.error());
        }
    }
    return out;
}

Result<IssuerName> topmost_issuer(std::string_view pem) {
    auto certs = x509::chain_from_pem(pem);
    if (!certs) {
        return std::unexpected(certs.error());
    }
    gnutls_x509_crt_t top = certs->back().get();
    tls::Datum dn;
    const int rc = gnutls_x509_crt_get_issuer_dn3(top, dn.out(), 0);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("reading the issuer name", rc));
    }
    return IssuerName{issuer_common_name(top), dn.str()};
}

ChainChoice choose_chain(const std::vector<CertificateChain>& chains,
                         std::string_view preferred_issuer) {
    if (preferred_issuer.empty()) {
        return {};
    }
    auto match = find_match(chains, preferred_issuer, false);
    if (!match) {
        match = find_match(chains, preferred_issuer, true);
    }
    return match ? ChainChoice{*match, true} : ChainChoice{};
}

} // namespace secure_api::acme
