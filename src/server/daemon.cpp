#include "server/daemon.hpp"

#include "common/log.hpp"

#include <csignal>
#include <ctime>

namespace secure_api::server {
namespace {

constexpr const char* default_priorities =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA";

constexpr std::uint64_t drain_poll_usec = 50'000;

std::string status_line(const Credentials& credentials) {
    const auto& info = credentials.info();
    return std::string(credentials.is_placeholder() ? "Serving placeholder certificate "
                                                    : "Serving certificate ") +
           info.serial + ", expires " + x509::format_utc(info.not_after);
}

std::string monotonic_usec() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::to_string(static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 +
                          static_cast<std::uint64_t>(now.tv_nsec) / 1000);
}

Result<Credentials::Ptr> initial_credentials(const Config& config) {
    if (!config.tls.cert.empty()) {
        auto loaded =
            Credentials::load(config.tls.cert, config.tls.key, config.domains, x509::Clock::now());
        if (loaded)
            return loaded;
        log::write(log::Priority::warning,
                   "No usable certificate yet (" + loaded.error().message +
                       "), serving a self-signed placeholder until the renewal installs one",
                   log::id::placeholder, {{"CERT_FILE", config.tls.cert.string()}});
    } else {
        log::write(log::Priority::warning,
                   "No domain and no tls.cert configured, serving a self-signed placeholder",
                   log::id::placeholder);
    }
    return Credentials::placeholder(config.domains);
}

ApiOptions api_options(const Config& config) {
    return {config.http.cors_allow_origin, config.http.hsts_max_age, config.max_digits};
}

ServerLimits server_limits(const Config& config) {
    return {config.http.threads, config.http.connection_limit, config.http.per_ip_limit,
            config.http.timeout, config.http.memory_limit};
}

} // namespace

struct DaemonEvents {
    static int on_stop(sd_event_source*, const signalfd_siginfo*, void* userdata) noexcept {
        static_cast<Daemon*>(userdata)->begin_shutdown();
        return 0;
    }

    static int on_hangup(sd_event_source*, const signalfd_siginfo*, void* userdata) noexcept {
        try {
            (void)static_cast<Daemon*>(userdata)->reload(); // logged there
        } catch (const std::exception& e) {
            log::error(std::string("Reload failed: ") + e.what());
        }
        return 0;
    }

    static int on_drain_tick(sd_event_source* source, std::uint64_t usec, void* userdata) noexcept {
        auto* daemon = static_cast<Daemon*>(userdata);
        if (daemon->drained() || std::chrono::steady_clock::now() >= daemon->drain_deadline_)
            return sd_event_exit(sd_event_source_get_event(source), 0);
        sd_event_source_set_time(source, usec + drain_poll_usec);
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
    }
};

Daemon::Daemon(Config config) : config_(std::move(config)) {}

Daemon::~Daemon() {
    // Servers first: their threads read the stores and routers.
    servers_.clear();
}

Result<std::unique_ptr<Daemon>> Daemon::create(Config config) {
    std::unique_ptr<Daemon> daemon(new Daemon(std::move(config)));
    auto listeners = take_listeners(daemon->config_);
    if (!listeners)
        return std::unexpected(Error(listeners.error().message, "Config"));
    auto credentials = initial_credentials(daemon->config_);
    if (!credentials)
        return std::unexpected(credentials.error());
    daemon->store_.replace(*credentials);
    // Signals go to the event loop's signalfd, so they are blocked before
    // any server thread exists (threads inherit the mask).
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal : {SIGTERM, SIGINT, SIGHUP})
        sigaddset(&signals, signal);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    if (auto started = daemon->start_servers(std::move(*listeners)); !started)
        return std::unexpected(started.error());
    if (auto loop = daemon->start_event_loop(); !loop)
        return std::unexpected(loop.error());
    daemon->start_bus();
    return daemon;
}

Result<void> Daemon::start_servers(Listeners listeners) {
    std::uint16_t https_port =
        config_.http.https_port.value_or(local_port(listeners.https[0].get()));
    tls_.store = &store_;
    tls_.priorities = config_.tls.priorities.empty() ? default_priorities : config_.tls.priorities;
    if (int rc = gnutls_session_ticket_key_generate(&tls_.ticket_key); rc < 0)
        return std::unexpected(tls::gnutls_error("creating the session ticket key", rc));
    api_ = std::make_unique<ApiRouter>(api_options(config_), [this] {
        auto current = store_.current();
        return HealthInfo{current->is_placeholder(), current->info().serial};
    });
    plain_ = std::make_unique<PlainRouter>(challenges_, https_port == 0 ? 443 : https_port);
    Handler api = [this](const Exchange& e) {
        return api_->handle({e.method, e.path, e.header("Origin").value_or(""),
                             e.header("Access-Control-Request-Method").value_or(""),
                             e.header("Access-Control-Request-Headers").value_or("")});
    };
    Handler plain = [this](const Exchange& e) {
        return plain_->handle({e.method, e.path, e.raw_uri, e.header("Host")});
    };
    auto limits = server_limits(config_);
    for (auto& fd : listeners.https) {
        auto server = HttpServer::start(std::move(fd), api, limits, &tls_);
        if (!server)
            return std::unexpected(server.error().context("HTTPS"));
        servers_.push_back(std::move(*server));
    }
    for (auto& fd : listeners.http) {
        auto server = HttpServer::start(std::move(fd), plain, limits, nullptr);
        if (!server)
            return std::unexpected(server.error().context("HTTP"));
        servers_.push_back(std::move(*server));
    }
    return {};
}

Result<void> Daemon::start_event_loop() {
    sd_event* event = nullptr;
    if (int rc = sd_event_new(&event); rc < 0)
        return fail("creating the event loop failed");
    event_.reset(event);
    auto add_signal = [&](int signal, sd_event_signal_handler_t handler) {
        sd_event_source* source = nullptr;
        int rc = sd_event_add_signal(event, &source, signal, handler, this);
        sources_.emplace_back(source);
        return rc;
    };
    if (add_signal(SIGTERM, DaemonEvents::on_stop) < 0 ||
        add_signal(SIGINT, DaemonEvents::on_stop) < 0 ||
        add_signal(SIGHUP, DaemonEvents::on_hangup) < 0)
        return fail("installing the signal handlers failed");
    // Pings the watchdog at half of WatchdogSec= when systemd asks for it.
    sd_event_set_watchdog(event, 1);
    return {};
}

void Daemon::start_bus() {
    auto bus = DbusService::start(
        event_.get(), [this] { return reload(); }, challenges_, store_);
    if (!bus) {
        log::warning("D-Bus unavailable (" + bus.error().message +
                     "), running without it; SIGHUP still reloads, challenges cannot be published");
        return;
    }
    bus_ = std::move(*bus);
}

void Daemon::notify_ready() const {
    sd::notify("READY=1\nSTATUS=" + status_line(*store_.current()));
}

int Daemon::run() {
    notify_ready();
    auto current = store_.current();
    log::write(log::Priority::info, "Started; " + status_line(*current), log::id::daemon_started,
               {{"CERT_SERIAL", current->info().serial},
                {"CERT_NOT_AFTER", x509::format_utc(current->info().not_after)}});
    int rc = sd_event_loop(event_.get());
    servers_.clear();
    return rc < 0 ? 1 : 0;
}

Result<Credentials::Ptr> Daemon::reload() {
    sd::notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec());
    auto loaded =
        Credentials::load(config_.tls.cert, config_.tls.key, config_.domains, x509::Clock::now());
    if (!loaded) {
        log::write(
            log::Priority::warning,
            "Reload rejected, still serving " + store_.current()->info().serial + ": " +
                loaded.error().message,
            log::id::reload_rejected,
            {{"RELOAD_ERROR", loaded.error().name}, {"CERT_FILE", config_.tls.cert.string()}});
        notify_ready();
        return loaded;
    }
    store_.replace(*loaded);
    const auto& info = (*loaded)->info();
    log::write(
        log::Priority::notice, "Reloaded; " + status_line(**loaded), log::id::reloaded,
        {{"CERT_SERIAL", info.serial}, {"CERT_NOT_AFTER", x509::format_utc(info.not_after)}});
    if (bus_)
        bus_->emit_properties_changed();
    notify_ready();
    return loaded;
}

void Daemon::begin_shutdown() {
    if (drain_deadline_ != std::chrono::steady_clock::time_point{})
        return;
    // Refuse new connections first, so none is accepted after STOPPING=1.
    for (auto& server : servers_) {
        server->stop_accepting();
        server->close_after_responses();
    }
    sd::notify("STOPPING=1\nSTATUS=Finishing requests in flight");
    log::write(log::Priority::info, "Stopping; finishing requests in flight",
               log::id::daemon_stopping);
    drain_deadline_ = std::chrono::steady_clock::now() + config_.http.drain_timeout;
    sd_event_source* timer = nullptr;
    std::uint64_t now = 0;
    sd_event_now(event_.get(), CLOCK_MONOTONIC, &now);
    sd_event_add_time(event_.get(), &timer, CLOCK_MONOTONIC, now, 0, DaemonEvents::on_drain_tick,
                      this);
    sources_.emplace_back(timer);
}

bool Daemon::drained() const {
    for (const auto& server : servers_)
        if (server->requests_in_flight() > 0)
            return false;
    return true;
}

} // namespace secure_api::server
