#include "server/http_server.hpp"

#include "common/log.hpp"

#include <microhttpd.h>

#include <cstdarg>
#include <cstdio>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace secure_api::server {

// Per request: the URI exactly as sent (libmicrohttpd only hands the access
// handler the decoded path) and whether the handler has been called before.
struct HttpServer::RequestState {
    std::string raw_uri;
    const char* raw_uri_start = nullptr; // in libmicrohttpd's buffer; compared, never read
    bool headers_complete = false;
    bool malformed = false;
};

namespace {

// libmicrohttpd hands out the request target as a C string, so a NUL byte
// in it, sent raw or as %00, would silently cut the path short. The raw
// target must end where the request line's next token begins.
bool target_cut_short(const HttpServer::RequestState& request, const char* version) {
    if (request.raw_uri.find("%00") != std::string::npos)
        return true;
    return version != nullptr && version != request.raw_uri_start + request.raw_uri.size() + 1;
}

Response bad_request() {
    Response response;
    response.status = 400;
    response.body = "Bad request\n";
    response.add("Content-Type", "text/plain; charset=utf-8");
    return response;
}

} // namespace

// Per TLS connection: the credentials current when it was accepted. The
// certificate callback serves these, and the reference keeps them alive
// for as long as the connection lives, whatever reloads happen meanwhile.
struct HttpServer::ConnectionState {
    Credentials::Ptr credentials;
};

std::optional<std::string_view> Exchange::header(const char* name) const {
    const char* value = MHD_lookup_connection_value(connection_, MHD_HEADER_KIND, name);
    if (value == nullptr)
        return std::nullopt;
    return std::string_view(value);
}

struct Callbacks {
    static void* request_start(void* cls, const char* uri, MHD_Connection*) noexcept {
        auto* server = static_cast<HttpServer*>(cls);
        server->in_flight_.fetch_add(1);
        try {
            return new HttpServer::RequestState{uri != nullptr ? uri : "", uri};
        } catch (...) {
            return nullptr;
        }
    }

    static void request_done(void* cls, MHD_Connection*, void** state,
                             MHD_RequestTerminationCode) noexcept {
        auto* server = static_cast<HttpServer*>(cls);
        delete static_cast<HttpServer::RequestState*>(*state);
        *state = nullptr;
        server->in_flight_.fetch_sub(1);
    }

    static void connection(void* cls, MHD_Connection* connection, void** state,
                           MHD_ConnectionNotificationCode code) noexcept {
        auto* server = static_cast<HttpServer*>(cls);
        if (server->tls_ == nullptr)
            return;
        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
            delete static_cast<HttpServer::ConnectionState*>(*state);
            *state = nullptr;
            return;
        }
        started(server, connection, state);
    }

    static void started(HttpServer* server, MHD_Connection* connection, void** state) noexcept {
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (info == nullptr || info->tls_session == nullptr)
            return;
        auto session = static_cast<gnutls_session_t>(info->tls_session);
        try {
            *state = new HttpServer::ConnectionState{server->tls_->store->current()};
        } catch (...) {
            return;
        }
        // The certificate callback only gets the session; this leads it back here.
        gnutls_session_set_ptr(session, connection);
        gnutls_session_ticket_enable_server(session, &server->tls_->ticket_key);
        gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
                                           &Callbacks::finished);
    }

    // GnuTLS sends its session tickets with its own Finished (RFC 8446
    // §4.6.1), so when the client's Finished arrives the server has nothing
    // to send and the kernel delays the ACK; a client with Nagle's algorithm
    // on then holds its first request back ~40 ms. Acknowledge at once.
    static int finished(gnutls_session_t session, unsigned, unsigned, unsigned incoming,
                        const gnutls_datum_t*) noexcept {
        if (incoming != 0) {
            int one = 1;
            ::setsockopt(gnutls_transport_get_int(session), IPPROTO_TCP, TCP_QUICKACK, &one,
                         sizeof one);
        }
        return 0;
    }

    static int certificate(gnutls_session_t session, const gnutls_datum_t*, int,
                           const gnutls_pk_algorithm_t*, int, gnutls_pcert_st** chain,
                           unsigned* chain_length, gnutls_privkey_t* key) noexcept {
        auto* connection = static_cast<MHD_Connection*>(gnutls_session_get_ptr(session));
        if (connection == nullptr)
            return -1;
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (info == nullptr || info->socket_context == nullptr)
            return -1;
        const auto& credentials =
            static_cast<HttpServer::ConnectionState*>(info->socket_context)->credentials;
        *chain = credentials->chain();
        *chain_length = credentials->chain_length();
        *key = credentials->key();
        return 0;
    }

    static MHD_Result access(void* cls, MHD_Connection* connection, const char* url,
                             const char* method, const char* version, const char*,
                             size_t* upload_size, void** state) noexcept {
        auto* server = static_cast<HttpServer*>(cls);
        auto* request = static_cast<HttpServer::RequestState*>(*state);
        if (request == nullptr)
            return MHD_NO;
        // Answering on the first call makes libmicrohttpd close the
        // connection after the response; wait for the next one.
        if (!request->headers_complete) {
            request->headers_complete = true;
            request->malformed = target_cut_short(*request, version);
            return MHD_YES;
        }
        // A body is never needed: discard it and answer.
        *upload_size = 0;
        Exchange exchange(connection, method, url, request->raw_uri);
        return server->respond(connection, exchange, request->malformed) ? MHD_YES : MHD_NO;
    }

    static void log(void*, const char* format, va_list args) noexcept {
        char line[512];
        std::vsnprintf(line, sizeof line, format, args);
        std::string_view text(line);
        while (!text.empty() && text.back() == '\n')
            text.remove_suffix(1);
        log::debug(text);
    }
};

HttpServer::HttpServer(Handler handler, const TlsSettings* tls)
    : handler_(std::move(handler)), tls_(tls) {}

HttpServer::~HttpServer() {
    // libmicrohttpd closes the listening socket it was given, unless quiesced.
    if (daemon_ != nullptr)
        MHD_stop_daemon(daemon_);
}

bool HttpServer::respond(MHD_Connection* connection, const Exchange& exchange,
                         bool malformed) noexcept {
    try {
        Response answer = malformed ? bad_request() : handler_(exchange);
        MHD_Response* response = MHD_create_response_from_buffer(
            answer.body.size(), answer.body.data(), MHD_RESPMEM_MUST_COPY);
        if (response == nullptr)
            return false;
        for (const auto& header : answer.headers)
            MHD_add_response_header(response, std::string(header.name).c_str(),
                                    header.value.c_str());
        if (draining_.load(std::memory_order_relaxed))
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
        MHD_Result queued = MHD_queue_response(connection, answer.status, response);
        MHD_destroy_response(response);
        return queued == MHD_YES;
    } catch (const std::exception& e) {
        log::error(std::string("Answering a request failed: ") + e.what());
        return false;
    }
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(UniqueFd listener, Handler handler,
                                                      const ServerLimits& limits,
                                                      const TlsSettings* tls) {
    std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), tls));
    // Worker threads share the listening socket: none may block in accept().
    ::fcntl(listener.get(), F_SETFL, ::fcntl(listener.get(), F_GETFL) | O_NONBLOCK);
    // poll, not epoll: with epoll libmicrohttpd 0.9.75 keeps a TLS connection
    // that waits for the client's next handshake flight on its ready list and
    // spins on it (hundreds of empty epoll_wait/recv per handshake, a CPU
    // burnt by idle connections). No MHD_USE_TURBO: with it, stalled
    // handshakes are never timed out (BC-21) and connections end without a
    // close_notify (RFC 8446 §6.1), which makes OpenSSL clients drop their
    // session instead of resuming it. docs/benchmarks.md has the measurements.
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (tls != nullptr)
        flags |= MHD_USE_TLS;
    server->listener_ = listener.get();
    MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, reinterpret_cast<void*>(&Callbacks::certificate)},
        {MHD_OPTION_HTTPS_PRIORITIES, 0,
         tls != nullptr ? const_cast<char*>(tls->priorities.c_str()) : nullptr},
        {MHD_OPTION_END, 0, nullptr},
    };
    server->daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Callbacks::access, server.get(), MHD_OPTION_EXTERNAL_LOGGER,
        &Callbacks::log, nullptr, MHD_OPTION_LISTEN_SOCKET, listener.get(),
        MHD_OPTION_THREAD_POOL_SIZE, limits.threads, MHD_OPTION_CONNECTION_LIMIT,
        limits.connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(limits.timeout.count()),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.memory_limit, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_URI_LOG_CALLBACK, &Callbacks::request_start, server.get(),
        MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::request_done, server.get(),
        MHD_OPTION_NOTIFY_CONNECTION, &Callbacks::connection, server.get(), MHD_OPTION_ARRAY,
        tls != nullptr ? tls_options : tls_options + 2, MHD_OPTION_END);
    if (server->daemon_ == nullptr) {
        server->listener_ = -1;
        return fail("starting the HTTP server failed");
    }
    listener.release();
    return server;
}

void HttpServer::stop_accepting() {
    if (daemon_ == nullptr || listener_ < 0)
        return;
    MHD_socket fd = MHD_quiesce_daemon(daemon_);
    if (fd != MHD_INVALID_SOCKET)
        ::close(fd);
    listener_ = -1;
}

} // namespace secure_api::server
