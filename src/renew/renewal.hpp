// One run of secure-api-renew, step by step (DESIGN.md, "The renewal"):
// decide whether the certificate is due, get a new one from the CA over
// ACME, install it atomically, and have the daemon serve it.
#pragma once

#include "acme/ari.hpp"
#include "acme/client.hpp"
#include "acme/issuance.hpp"
#include "common/config.hpp"
#include "common/fd.hpp"
#include "renew/exit_status.hpp"
#include "renew/installer.hpp"
#include "renew/policy.hpp"
#include "renew/state.hpp"

#include <optional>

namespace secure_api::renew {

class Renewal {
public:
    explicit Renewal(Config config);
    ExitStatus run();

private:
    Result<void> prepare();
    std::optional<ExitStatus> settle_pending_reload();
    std::optional<ExitStatus> deferred();
    std::optional<CertFacts> installed();
    std::optional<AriWindow> cached_window(const CertFacts& cert, bool& fresh) const;
    Result<acme::Client> connect();
    Result<void> check_clock(const acme::Client& client) const;
    void refresh_renewal_info(acme::Client& client);
    Result<void> find_account(acme::Client& client);
    Result<acme::AccountKey> account_key();
    ExitStatus renew(acme::Client& client, const Decision& decision);
    Result<acme::IssuedCertificate> order(acme::Client& client, gnutls_x509_privkey_t key,
                                          std::optional<std::string> replaces);
    Result<void> verify(const acme::IssuedCertificate& issued, gnutls_x509_privkey_t key) const;
    ExitStatus reload(const std::string& serial);
    ExitStatus not_due(const Decision& decision, const CertFacts& cert);
    ExitStatus failure(const Error& error, std::string_view step);
    void save();

    Config config_;
    std::filesystem::path acme_dir_;
    LiveFiles live_;
    State state_;
    UniqueFd lock_;
    Clock::time_point now_;
    std::optional<std::string> ari_cert_id_;
    std::optional<CertFacts> cert_;
};

} // namespace secure_api::renew
