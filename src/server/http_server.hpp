// One libmicrohttpd daemon on one listening socket, plain or TLS, that
// hands every complete request to a handler and sends what it returns.
#pragma once

#include "common/error.hpp"
#include "common/fd.hpp"
#include "server/credential_store.hpp"
#include "server/response.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

struct MHD_Daemon;
struct MHD_Connection;

namespace secure_api::server {

// The request as a handler sees it.
class Exchange {
public:
    Exchange(MHD_Connection* connection, std::string_view method, std::string_view path,
             std::string_view raw_uri)
        : connection_(connection), method(method), path(path), raw_uri(raw_uri) {}

    std::optional<std::string_view> header(const char* name) const;

private:
    MHD_Connection* connection_;

public:
    std::string_view method;
    std::string_view path;    // percent-decoded, without the query
    std::string_view raw_uri; // as sent
};

using Handler = std::function<Response(const Exchange&)>;

// Limits on everything a client controls.
struct ServerLimits {
    unsigned threads = 2;
    unsigned connection_limit = 1024;
    unsigned per_ip_limit = 64;
    std::chrono::seconds timeout{30};
    std::size_t memory_limit = 32 * 1024;
};

struct TlsSettings {
    const CredentialStore* store = nullptr;
    std::string priorities;
    gnutls_datum_t ticket_key{}; // session ticket master key (RFC 5077 / RFC 8446 §4.6.1)
};

class HttpServer {
public:
    struct RequestState; // per request, see http_server.cpp

    // tls == nullptr: plain HTTP.
    static Result<std::unique_ptr<HttpServer>>
    start(UniqueFd listener, Handler handler, const ServerLimits& limits, const TlsSettings* tls);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Stop accepting: the listening socket is closed, open connections go on.
    void stop_accepting();
    // Requests received and not yet answered in full.
    int requests_in_flight() const { return in_flight_.load(); }
    // Ask clients to close their connections after the current response.
    void close_after_responses() { draining_.store(true); }

private:
    struct ConnectionState;
    HttpServer(Handler handler, const TlsSettings* tls);

    friend struct Callbacks; // the C callbacks of http_server.cpp

    bool respond(MHD_Connection* connection, const Exchange& exchange, bool malformed) noexcept;

    Handler handler_;
    const TlsSettings* tls_;
    MHD_Daemon* daemon_ = nullptr;
    int listener_ = -1;
    std::atomic<int> in_flight_{0};
    std::atomic<bool> draining_{false};
};

} // namespace secure_api::server
