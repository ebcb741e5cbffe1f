#include "renew/renewal.hpp"

#include "acme/account.hpp"
#include "acme/issuance.hpp"
#include "acme/timestamp.hpp"
#include "common/atomic_file.hpp"
#include "common/log.hpp"
#include "common/x509.hpp"
#include "renew/daemon_client.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace secure_api::renew {
namespace {

using namespace std::chrono_literals;

constexpr auto max_clock_skew = 1h;
constexpr auto default_ari_recheck = 6h;
constexpr auto default_rate_limit_wait = 1h;
constexpr auto max_rate_limit_wait = std::chrono::hours(24 * 7);

std::string first_name(const Config& config) {
    return config.domains.empty() ? std::string() : config.domains.front();
}

std::string when(Clock::time_point t) {
    return acme::format_rfc3339(t);
}

bool is_problem(const Error& error, std::string_view type) {
    return error.name == std::string(acme::acme_error_prefix) + std::string(type);
}

files::Ownership key_ownership(const LiveFiles& live) {
    // The key goes to the group of the directory that holds the certificates:
    // the package makes that secure-api, through which the daemon reads it.
    // Taken from the directory rather than looked up by name, so the group is
    // stated in one place (tmpfiles.d) and no NSS module is loaded for it. A
    // directory not made yet leaves the key with the renewal's own group.
    files::Ownership owner;
    struct stat info {};
    if (::stat(live.live_dir().parent_path().c_str(), &info) == 0)
        owner.gid = info.st_gid;
    return owner;
}

x509::KeyType account_key_type(const std::string& certificate_key_type) {
    // JWS here is ES256 or RS256 (RFC 8555 §6.2): P-256 or RSA.
    auto type = x509::parse_key_type(certificate_key_type).value_or(x509::KeyType::ec_p256);
    return type == x509::KeyType::ec_p384 ? x509::KeyType::ec_p256 : type;
}

} // namespace

Renewal::Renewal(Config config)
    : config_(std::move(config)), acme_dir_(config_.acme.state_directory / "acme"),
      now_(Clock::now()) {}

ExitStatus Renewal::run() {
    if (config_.domains.empty()) {
        log::write(log::Priority::notice,
                   "No domain configured: set domain= (and acme.agree-tos = true after reading "
                   "the CA's terms) in " +
                       quoted(config_.file.string()) + ", nothing to do",
                   log::id::not_due);
        return ExitStatus::not_due;
    }
    if (auto prepared = prepare(); !prepared)
        return failure(prepared.error(), "preparing");
    if (auto status = settle_pending_reload())
        return *status;
    if (auto status = deferred())
        return *status;
    cert_ = installed();
    if (cert_ && cert_->not_before > now_ + max_clock_skew)
        return failure(Error("clock skew: the installed certificate is valid from " +
                                 when(cert_->not_before) + ", but this machine's clock says " +
                                 when(now_) + "; fix the system clock",
                             "ClockSkew"),
                       "checking the clock");
    Decision decision = decide(cert_, config_.domains, std::nullopt, now_, config_.force);
    bool fresh = false;
    auto window = cert_ ? cached_window(*cert_, fresh) : std::nullopt;
    if (!decision.due() && fresh) {
        decision = decide(cert_, config_.domains, window, now_, false);
        if (!decision.due())
            return not_due(decision, *cert_);
    }
    auto client = connect();
    if (!client)
        return failure(client.error(), "contacting the CA");
    if (!decision.due()) {
        refresh_renewal_info(*client);
        decision = decide(cert_, config_.domains, state_.ari_window, now_, false);
        if (!decision.due())
            return not_due(decision, *cert_);
    }
    return renew(*client, decision);
}

Result<void> Renewal::prepare() {
    auto live = live_files(config_.tls.cert, config_.tls.key);
    if (!live)
        return std::unexpected(live.error());
    live_ = *live;
    std::error_code ec;
    std::filesystem::create_directories(acme_dir_, ec);
    ::chmod(acme_dir_.c_str(), 0700);
    std::filesystem::create_directories(live_.live_dir().parent_path(), ec);
    ::chmod(live_.live_dir().parent_path().c_str(), 0755); // the daemon reads below it
    if (ec)
        return fail("creating " + quoted(acme_dir_.string()) + ": " + ec.message());
    lock_.reset(::open((acme_dir_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_ || ::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
        lock_.reset();
        return fail("another secure-api-renew is running (" +
                    quoted((acme_dir_ / "lock").string()) + " is locked)");
    }
    auto state = load_state(acme_dir_ / "state.json");
    if (!state)
        return std::unexpected(state.error());
    state_ = *state;
    if (auto removed = clean_up(live_); removed && *removed > 0)
        log::info("Removed " + std::to_string(*removed) +
                  " retired certificate generation(s) or leftovers of interrupted runs");
    files::remove_stale_temporaries(acme_dir_);
    return {};
}

// BC-09: a certificate installed while the daemon could not take it is
// handed over on the next run, before anything else.
std::optional<ExitStatus> Renewal::settle_pending_reload() {
    if (!state_.pending_reload)
        return std::nullopt;
    auto daemon = DaemonClient::connect();
    auto serial = daemon ? daemon->reload() : std::unexpected(daemon.error());
    if (!serial) {
        log::write(log::Priority::error,
                   "The daemon still does not serve the installed certificate: " +
                       serial.error().message,
                   log::id::renewal_failed, {{"DOMAIN", first_name(config_)}});
        return reload_pending;
    }
    log::write(log::Priority::notice, "The daemon now serves certificate " + *serial,
               log::id::reloaded, {{"DOMAIN", first_name(config_)}, {"CERT_SERIAL", *serial}});
    state_.pending_reload = false;
    save();
    return std::nullopt;
}

std::optional<ExitStatus> Renewal::deferred() {
    // A horizon further out than any this program records was written with
    // a wrong clock; waiting for it would stop renewals for good (BC-12).
    if (state_.backoff_until && *state_.backoff_until > now_ + backoff_after(1000)) {
        log::warning("Ignoring a backoff until " + when(*state_.backoff_until) +
                     ", further ahead than any backoff: the clock was wrong");
        state_.backoff_until.reset();
    }
    if (state_.rate_limited_until && *state_.rate_limited_until > now_ + max_rate_limit_wait) {
        log::warning("Ignoring a rate limit until " + when(*state_.rate_limited_until) +
                     ", further ahead than any CA asks: the clock was wrong");
        state_.rate_limited_until.reset();
    }
    if (state_.rate_limited_until && *state_.rate_limited_until > now_) {
        log::notice("The CA asked not to be asked before " + when(*state_.rate_limited_until) +
                    " (rate limit), waiting");
        return ExitStatus::deferred;
    }
    if (state_.backoff_until && *state_.backoff_until > now_ && !config_.force) {
        log::notice("Last " + std::to_string(state_.failures) +
                    " attempt(s) failed; next attempt after " + when(*state_.backoff_until) +
                    " (or run with --force)");
        return ExitStatus::deferred;
    }
    return std::nullopt;
}

std::optional<CertFacts> Renewal::installed() {
    auto pem = files::read_file(config_.tls.cert);
    if (!pem)
        return std::nullopt;
    auto chain = x509::chain_from_pem(*pem);
    if (!chain) {
        log::warning("The installed certificate " + quoted(config_.tls.cert.string()) +
                     " does not parse (" + chain.error().message + "), replacing it");
        return std::nullopt;
    }
    auto info = x509::describe(chain->front().get());
    auto cert_id = acme::ari_cert_id(chain->front().get());
    if (cert_id)
        ari_cert_id_ = *cert_id;
    return CertFacts{info.serial, info.not_before, info.not_after, info.names};
}

// The last renewalInfo answer for this certificate, while the CA's
// Retry-After (RFC 9773 §4.3) says it is still good.
std::optional<AriWindow> Renewal::cached_window(const CertFacts& cert, bool& fresh) const {
    fresh =
        state_.ari_serial == cert.serial && state_.ari_next_check && *state_.ari_next_check > now_;
    return fresh ? state_.ari_window : std::nullopt;
}

Result<acme::Client> Renewal::connect() {
    auto key = account_key();
    if (!key)
        return std::unexpected(key.error());
    acme::ClientOptions options;
    options.transport.ca_bundle = config_.acme.ca_bundle.string();
    auto client = acme::Client::connect(config_.acme.directory, std::move(*key), options);
    if (!client)
        return std::unexpected(client.error());
    if (auto clock = check_clock(*client); !clock)
        return std::unexpected(clock.error());
    return client;
}

// BC-12: with a wrong clock every date decision is wrong, so none is made.
Result<void> Renewal::check_clock(const acme::Client& client) const {
    const auto& date = client.last_server_date();
    if (!date)
        return {};
    auto server_now = acme::parse_http_date(*date);
    if (!server_now)
        return {};
    auto skew = server_now.value() > now_ ? *server_now - now_ : now_ - *server_now;
    if (skew <= max_clock_skew)
        return {};
    return fail("clock skew: the CA's clock says " + when(*server_now) + ", this machine's says " +
                    when(now_) + "; fix the system clock (is time synchronisation running?)",
                "ClockSkew");
}

void Renewal::refresh_renewal_info(acme::Client& client) {
    state_.ari_serial = cert_->serial;
    state_.ari_window.reset();
    state_.ari_next_check = now_ + default_ari_recheck;
    if (!ari_cert_id_ || !client.directory().renewal_info)
        return save();
    auto info = acme::fetch_renewal_info(client, *ari_cert_id_);
    if (!info) {
        log::notice("The CA's renewal information is unavailable (" + info.error().message +
                    "), using the certificate's lifetime instead");
        // RFC 9773 §4.3: even an error answer says when to ask again.
        if (info.error().retry_after)
            state_.ari_next_check = now_ + *info.error().retry_after;
    } else {
        state_.ari_window = AriWindow{info->window_start, info->window_end};
        if (info->retry_after)
            state_.ari_next_check = now_ + *info->retry_after;
    }
    save();
}

Result<acme::AccountKey> Renewal::account_key() {
    auto path = acme_dir_ / "account.key";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        auto pem = files::read_file(path);
        if (!pem)
            return std::unexpected(pem.error());
        auto key = x509::key_from_pem(*pem);
        if (!key)
            return std::unexpected(key.error().context("the account key " + quoted(path.string())));
        return acme::AccountKey::from_x509(key->get());
    }
    auto key = x509::generate_key(account_key_type(config_.acme.key_type));
    if (!key)
        return std::unexpected(key.error());
    auto pem = x509::key_to_pem(key->get());
    if (!pem)
        return std::unexpected(pem.error());
    if (auto written = files::write_atomically(path, *pem, 0600); !written)
        return std::unexpected(written.error());
    log::info("Created the ACME account key " + quoted(path.string()));
    return acme::AccountKey::from_x509(key->get());
}

Result<void> Renewal::find_account(acme::Client& client) {
    if (!state_.account_url.empty() && state_.account_directory == config_.acme.directory) {
        client.set_account_url(state_.account_url);
        return {};
    }
    acme::AccountOptions options;
    if (!config_.acme.email.empty())
        options.emails.push_back(config_.acme.email);
    options.agree_to_terms = config_.acme.agree_tos;
    auto account = acme::find_or_create_account(client, options);
    if (!account)
        return std::unexpected(account.error());
    log::info(std::string(account->created ? "Created" : "Found") + " the ACME account " +
              quoted(account->url));
    state_.account_url = account->url;
    state_.account_directory = config_.acme.directory;
    save();
    return {};
}

ExitStatus Renewal::renew(acme::Client& client, const Decision& decision) {
    log::info("Renewing the certificate for " + quoted(first_name(config_)) + ": " +
              std::string(describe(decision.reason)));
    if (auto account = find_account(client); !account)
        return failure(account.error(), "finding the ACME account");
    auto type = x509::parse_key_type(config_.acme.key_type);
    auto key = type ? x509::generate_key(*type) : std::unexpected(type.error());
    if (!key)
        return failure(key.error(), "creating the certificate key");
    std::optional<std::string> replaces;
    if (decision.reason == Reason::ari_window && ari_cert_id_)
        replaces = ari_cert_id_;
    auto issued = order(client, key->get(), replaces);
    if (!issued)
        return failure(issued.error(), "ordering the certificate");
    if (auto verified = verify(*issued, key->get()); !verified)
        return failure(verified.error(), "checking the new certificate");
    auto key_pem = x509::key_to_pem(key->get());
    auto leaf = x509::chain_from_pem(issued->chain_pem);
    if (!key_pem || !leaf)
        return failure(Error("the new certificate or key cannot be written as PEM"), "installing");
    auto info = x509::describe(leaf->front().get());
    Material material{issued->chain_pem, *key_pem, info.serial};
    // Owed before the switch: a run killed between installing and reloading
    // leaves the marker, and the next run hands the pair over (BC-08, BC-09).
    state_.pending_reload = true;
    save();
    if (auto installed = install(live_, material, key_ownership(live_)); !installed) {
        state_.pending_reload = false;
        return failure(installed.error(), "installing");
    }
    state_.failures = 0;
    state_.backoff_until.reset();
    // Nothing to ask the CA about the new certificate for a while.
    state_.ari_serial = info.serial;
    state_.ari_window.reset();
    state_.ari_next_check = now_ + default_ari_recheck;
    auto next = lifetime_due_at({info.serial, info.not_before, info.not_after, info.names});
    log::write(log::Priority::notice,
               "Issued certificate " + info.serial + " for " + quoted(first_name(config_)) +
                   ", valid until " + when(info.not_after) + "; next renewal due at " + when(next),
               log::id::cert_issued,
               {{"DOMAIN", first_name(config_)},
                {"CERT_SERIAL", info.serial},
                {"CERT_NOT_AFTER", when(info.not_after)},
                {"NEXT_RENEWAL", when(next)},
                {"ORDER_URL", issued->order_url}});
    return reload(info.serial);
}

// BC-04: a CA that refuses `replaces` (the replaced certificate already has
// a replacement order, e.g. from an interrupted run) gets one plain order.
Result<acme::IssuedCertificate> Renewal::order(acme::Client& client, gnutls_x509_privkey_t key,
                                               std::optional<std::string> replaces) {
    acme::IssueRequest request;
    request.names = config_.domains;
    request.certificate_key = key;
    request.replaces = replaces;
    request.preferred_chain = config_.acme.preferred_chain;
    std::optional<DaemonClient> daemon;
    std::unique_ptr<acme::ChallengePublisher> publisher;
    if (config_.acme.challenge == "webroot") {
        publisher = std::make_unique<WebrootPublisher>(config_.acme.webroot);
    } else {
        auto connected = DaemonClient::connect();
        if (!connected)
            return std::unexpected(connected.error());
        daemon.emplace(std::move(*connected));
        publisher = std::make_unique<DaemonPublisher>(*daemon);
    }
    auto issued = acme::issue_certificate(client, request, *publisher);
    if (!issued && replaces &&
        (is_problem(issued.error(), "alreadyReplaced") || is_problem(issued.error(), "conflict"))) {
        log::warning("The CA refused to mark " + quoted(*replaces) + " as replaced (" +
                     issued.error().message + "), ordering without it");
        request.replaces.reset();
        issued = acme::issue_certificate(client, request, *publisher);
    }
    if (issued && !issued->choice.preferred && !config_.acme.preferred_chain.empty())
        log::notice("No chain offered by the CA ends at " + quoted(config_.acme.preferred_chain) +
                    ", using the default chain");
    return issued;
}

Result<void> Renewal::verify(const acme::IssuedCertificate& issued,
                             gnutls_x509_privkey_t key) const {
    auto chain = x509::chain_from_pem(issued.chain_pem);
    if (!chain)
        return std::unexpected(chain.error());
    // A few minutes of tolerance: the CA's clock and ours agree to within
    // max_clock_skew, but a notBefore in our future means "not yet valid"
    // to every client on this machine.
    auto checked = x509::check_pair(chain->front().get(), key, config_.domains, now_, 5min);
    if (!checked && checked.error().name == "NotYetValid")
        return fail(checked.error().message + " by this machine's clock (" + when(now_) +
                        "); not installing a certificate from its future",
                    "NotYetValid");
    return checked;
}

ExitStatus Renewal::reload(const std::string& serial) {
    auto daemon = DaemonClient::connect();
    auto served = daemon ? daemon->reload() : std::unexpected(daemon.error());
    if (!served) {
        state_.pending_reload = true;
        save();
        log::write(
            log::Priority::error,
            "Certificate " + serial + " is installed but not served: " + served.error().message +
                "; the next run retries the reload",
            log::id::renewal_failed, {{"DOMAIN", first_name(config_)}, {"CERT_SERIAL", serial}});
        return reload_pending;
    }
    state_.pending_reload = false;
    save();
    if (*served != serial)
        log::warning("The daemon serves " + *served + ", not the installed " + serial +
                     "; is tls.cert the same for both?");
    return renewed;
}

ExitStatus Renewal::not_due(const Decision& decision, const CertFacts& cert) {
    log::write(log::Priority::info,
               "Certificate " + cert.serial + " for " + quoted(first_name(config_)) +
                   " is not due; renewal due at " + when(decision.due_at) + ", expires " +
                   when(cert.not_after),
               log::id::not_due,
               {{"DOMAIN", first_name(config_)},
                {"CERT_SERIAL", cert.serial},
                {"CERT_NOT_AFTER", when(cert.not_after)},
                {"NEXT_RENEWAL", when(decision.due_at)}});
    return ExitStatus::not_due;
}

ExitStatus Renewal::failure(const Error& error, std::string_view step) {
    bool rate_limited = is_problem(error, "rateLimited");
    if (rate_limited) {
        state_.rate_limited_until = now_ + error.retry_after.value_or(default_rate_limit_wait);
    } else if (error.name != "AgreeTosRequired" && error.name != "ClockSkew") {
        state_.failures += 1;
        state_.backoff_until = now_ + backoff_after(state_.failures);
    }
    if (lock_)
        save();
    std::string problem = error.name.starts_with("urn:") || error.name.starts_with("about:")
                              ? error.name
                              : std::string();
    std::string next = rate_limited ? when(*state_.rate_limited_until)
                                    : (state_.backoff_until ? when(*state_.backoff_until) : "");
    log::write(log::Priority::error,
               "Renewal for " + quoted(first_name(config_)) + " failed while " + std::string(step) +
                   ": " + error.message + (next.empty() ? "" : "; next attempt after " + next),
               log::id::renewal_failed,
               {{"DOMAIN", first_name(config_)}, {"ACME_PROBLEM_TYPE", problem}});
    return rate_limited ? ExitStatus::deferred : failed;
}

void Renewal::save() {
    if (auto saved = save_state(acme_dir_ / "state.json", state_); !saved)
        log::warning("Saving the renewal state failed: " + saved.error().message + ", ignoring");
}

} // namespace secure_api::renew
