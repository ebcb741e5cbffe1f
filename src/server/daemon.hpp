// secure-apid as a whole: sockets, credentials, the HTTPS and HTTP servers,
// the D-Bus object and the sd-event loop that ties them to systemd.
#pragma once

#include "common/config.hpp"
#include "common/systemd.hpp"
#include "server/api_router.hpp"
#include "server/challenge_store.hpp"
#include "server/credential_store.hpp"
#include "server/dbus_service.hpp"
#include "server/http_server.hpp"
#include "server/listeners.hpp"
#include "server/plain_router.hpp"

#include <memory>
#include <vector>

namespace secure_api::server {

class Daemon {
public:
    // Fatal start-up problems are returned; the Error name "Config" marks a
    // configuration error (exit 78).
    static Result<std::unique_ptr<Daemon>> create(Config config);
    ~Daemon();

    // Runs until SIGTERM/SIGINT and the drain that follows; returns the exit status.
    int run();

    // Load, check and swap the certificate; the old one stays on any failure.
    Result<Credentials::Ptr> reload();

private:
    friend struct DaemonEvents; // the sd-event callbacks of daemon.cpp
    explicit Daemon(Config config);

    Result<void> start_servers(Listeners listeners);
    Result<void> start_event_loop();
    void start_bus();
    void begin_shutdown();
    bool drained() const;
    void notify_ready() const;

    Config config_;
    CredentialStore store_;
    ChallengeStore challenges_;
    TlsSettings tls_;
    std::unique_ptr<ApiRouter> api_;
    std::unique_ptr<PlainRouter> plain_;
    std::vector<std::unique_ptr<HttpServer>> servers_;
    sd::Event event_;
    std::vector<sd::EventSource> sources_;
    std::unique_ptr<DbusService> bus_;
    std::chrono::steady_clock::time_point drain_deadline_;
};

} // namespace secure_api::server
