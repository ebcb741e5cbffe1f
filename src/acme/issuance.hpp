// The whole issuance of RFC 8555 §7.4 for http-01: order, authorize each name,
// finalize with a CSR, wait, download, choose the chain.
#pragma once

#include "acme/chain.hpp"
#include "acme/client.hpp"
#include "acme/order.hpp"
#include "acme/polling.hpp"
#include "common/error.hpp"

#include <gnutls/x509.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

// Serves key authorizations at http://<name>/.well-known/acme-challenge/<token>
// (RFC 8555 §8.3). The library does not know how: the daemon over D-Bus, a
// webroot, or a test server.
class ChallengePublisher {
public:
    virtual ~ChallengePublisher() = default;
    virtual Result<void> publish(std::string_view token, std::string_view key_authorization) = 0;
    // Called for every published token once its authorization has ended,
    // whatever the outcome. Failures are the publisher's to report.
    virtual void withdraw(std::string_view token) noexcept = 0;
};

struct IssueRequest {
    std::vector<std::string> names; // DNS names; the first is the CSR's CN
    gnutls_x509_privkey_t certificate_key = nullptr;
    std::optional<std::string> replaces; // ARI certID of the certificate renewed
    std::string preferred_chain;         // issuer name of the preferred root; may be empty
    PollPolicy authorization_poll;
    PollPolicy order_poll;
};

struct IssuedCertificate {
    std::string order_url;
    std::string certificate_url;
    std::string chain_pem;   // the chosen chain
    ChainChoice choice;      // choice.preferred false with a preference: log a notice
    DownloadedChains chains; // all offered chains, default first
};

// Authorize one authorization URL with http-01 (no-op when already valid).
Result<void> authorize_http01(Client& client, const std::string& authorization_url,
                              ChallengePublisher& publisher, const PollPolicy& policy);

Result<IssuedCertificate> issue_certificate(Client& client, const IssueRequest& request,
                                            ChallengePublisher& publisher);

} // namespace secure_api::acme
