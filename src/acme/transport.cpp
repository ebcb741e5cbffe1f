#include "acme/transport.hpp"

#include "acme/http1.hpp"
#include "build_config.hpp"
#include "common/fd.hpp"
#include "common/gnutls.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace secure_api::acme {

namespace {

using Clock = std::chrono::steady_clock;
using Session = tls::Handle<gnutls_session_t, gnutls_deinit>;

// Bounds the header section; ACME responses carry a handful of short fields.
constexpr std::size_t max_head_bytes = 64 * 1024;

std::string errno_text(int error) {
    return std::strerror(error);
}

// Poll one descriptor until it is ready for events or the deadline passes.
Result<void> wait_for(int fd, short events, Clock::time_point deadline, std::string_view what) {
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return fail("timed out " + std::string(what));
        }
        pollfd entry{fd, events, 0};
        const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
        if (ready > 0) {
            return {}; // also on POLLERR/POLLHUP: the next call reports the cause
        }
        if (ready < 0 && errno != EINTR) {
            return fail("poll: " + errno_text(errno));
        }
    }
}

Result<UniqueFd> connect_address(const addrinfo& address, Clock::time_point deadline) {
    UniqueFd fd(::socket(address.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         address.ai_protocol));
    if (!fd) {
        return fail("socket: " + errno_text(errno));
    }
    if (::connect(fd.get(), address.ai_addr, address.ai_addrlen) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            return fail(errno_text(errno));
        }
        if (auto ready = wait_for(fd.get(), POLLOUT, deadline, "connecting"); !ready) {
            return std::unexpected(ready.error());
        }
        int error = 0;
        socklen_t length = sizeof error;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
            return fail(errno_text(error != 0 ? error : errno));
        }
    }
    // Requests go out in one write and wait for the answer: nothing to gain from Nagle.
    const int one = 1;
    (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

struct AddrInfoDeleter {
    void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};

// Every address of the host in turn, within one connect deadline.
Result<UniqueFd> connect_tcp(const http1::Url& url, Clock::time_point deadline) {
    const std::string where = quoted(url.host) + " port " + std::to_string(url.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (url.host_is_ip ? AI_NUMERICHOST : 0);
    addrinfo* raw = nullptr;
    const int rc = ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &raw);
    if (rc != 0) {
        return fail("resolving " + quoted(url.host) + ": " + ::gai_strerror(rc));
    }
    const std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
    Error last("no address");
    for (const addrinfo* address = list.get(); address != nullptr; address = address->ai_next) {
        auto fd = connect_address(*address, deadline);
        if (fd) {
            return fd;
        }
        last = fd.error();
    }
    return fail("connecting to " + where + ": " + last.message);
}

// One TLS connection to one host and port. Closing says goodbye when it is polite and cheap:
// one close_notify, not waiting for the server's.
class Connection {
public:
    Connection(UniqueFd fd, Session session, std::string host, std::uint16_t port)
        : fd_(std::move(fd)), session_(std::move(session)), host_(std::move(host)), port_(port) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        if (established_) {
            (void)gnutls_bye(session_.get(), GNUTLS_SHUT_WR);
        }
    }

    bool serves(const http1::Url& url) const { return url.host == host_ && url.port == port_; }
    // An idle connection that has become readable was closed by the server (or sent
    // something unasked): either way it cannot carry the next request.
    bool idle_and_open() const;

    Result<void> handshake(Clock::time_point deadline);
    Result<void> send(std::string_view bytes, Clock::time_point deadline);
    // Bytes received; 0 when the server closed the TLS session properly.
    Result<std::size_t> receive(std::span<char> buffer, Clock::time_point deadline);

private:
    Error verification_failure() const;

    UniqueFd fd_;
    Session session_;
    std::string host_;
    std::uint16_t port_;
    bool established_ = false;
};

bool Connection::idle_and_open() const {
    if (gnutls_record_check_pending(session_.get()) > 0) {
        return false;
    }
    pollfd entry{fd_.get(), POLLIN, 0};
    return ::poll(&entry, 1, 0) == 0;
}

Error Connection::verification_failure() const {
    const unsigned status = gnutls_session_get_verify_cert_status(session_.get());
    tls::Datum text;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, text.out(), 0) < 0) {
        return Error("the certificate of " + quoted(host_) + " does not verify");
    }
    std::string reason = text.str();
    while (!reason.empty() && reason.back() == ' ') {
        reason.pop_back(); // GnuTLS ends each sentence with a space
    }
    return Error("the certificate of " + quoted(host_) + " does not verify: " + reason);
}

Result<void> Connection::handshake(Clock::time_point deadline) {
    for (;;) {
        const int rc = gnutls_handshake(session_.get());
        if (rc == GNUTLS_E_SUCCESS) {
            established_ = true;
            return {};
        }
        if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            return std::unexpected(verification_failure());
        }
        if (gnutls_error_is_fatal(rc) != 0) {
            return std::unexpected(tls::gnutls_error("TLS handshake with " + quoted(host_), rc));
        }
        if (rc == GNUTLS_E_AGAIN) {
            const short events = gnutls_record_get_direction(session_.get()) ? POLLOUT : POLLIN;
            if (auto ready = wait_for(fd_.get(), events, deadline, "in the TLS handshake");
                !ready) {
                return ready;
            }
        }
    }
}

Result<void> Connection::send(std::string_view bytes, Clock::time_point deadline) {
    while (!bytes.empty()) {
        // On GNUTLS_E_AGAIN the same data is offered again, as gnutls_record_send requires.
        const ssize_t sent = gnutls_record_send(session_.get(), bytes.data(), bytes.size());
        if (sent >= 0) {
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        } else if (sent == GNUTLS_E_AGAIN) {
            if (auto ready = wait_for(fd_.get(), POLLOUT, deadline, "sending the request");
                !ready) {
                return ready;
            }
        } else if (sent != GNUTLS_E_INTERRUPTED) {
            return std::unexpected(
                tls::gnutls_error("sending the request", static_cast<int>(sent)));
        }
    }
    return {};
}

Result<std::size_t> Connection::receive(std::span<char> buffer, Clock::time_point deadline) {
    for (;;) {
        const ssize_t got = gnutls_record_recv(session_.get(), buffer.data(), buffer.size());
        if (got >= 0) {
            return static_cast<std::size_t>(got);
        }
        if (got == GNUTLS_E_PREMATURE_TERMINATION) {
            // Without close_notify a body read until close may be cut short (RFC 8446 §6.1).
            return fail("the server closed the connection without a TLS close_notify");
        }
        if (gnutls_error_is_fatal(static_cast<int>(got)) != 0) {
            return std::unexpected(
                tls::gnutls_error("receiving the response", static_cast<int>(got)));
        }
        // GNUTLS_E_AGAIN means nothing is buffered in GnuTLS either, so polling is right; other
        // non-fatal codes (a warning alert, a renegotiation request we ignore) just read on.
        if (got == GNUTLS_E_AGAIN && gnutls_record_check_pending(session_.get()) == 0) {
            if (auto ready = wait_for(fd_.get(), POLLIN, deadline, "waiting for the response");
                !ready) {
                return std::unexpected(ready.error());
            }
        } else if (Clock::now() >= deadline) {
            return fail("timed out waiting for the response");
        }
    }
}

Result<Session> new_session(const http1::Url& url, gnutls_certificate_credentials_t credentials) {
    gnutls_session_t raw = nullptr;
    int rc = gnutls_init(&raw, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("creating a TLS session", rc));
    }
    Session session(raw);
    // TLS 1.0 and 1.1 are deprecated (RFC 8996); everything else is the system's choice.
    rc = gnutls_set_default_priority_append(raw, "-VERS-TLS1.1:-VERS-TLS1.0", nullptr, 0);
    if (rc >= 0) {
        rc = gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE, credentials);
    }
    // SNI carries DNS names only, never an address literal (RFC 6066 §3).
    if (rc >= 0 && !url.host_is_ip) {
        rc = gnutls_server_name_set(raw, GNUTLS_NAME_DNS, url.host.data(), url.host.size());
    }
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("setting up the TLS session", rc));
    }
    // The name or address the certificate must match (RFC 6125; an IP literal is matched
    // against the certificate's IP address SANs).
    gnutls_session_set_verify_cert(raw, url.host.c_str(), 0);
    gnutls_handshake_set_timeout(raw, GNUTLS_INDEFINITE_TIMEOUT); // our deadline bounds it
    return session;
}

Result<std::unique_ptr<Connection>> open_connection(const http1::Url& url,
                                                    gnutls_certificate_credentials_t credentials,
                                                    const TransportOptions& options,
                                                    Clock::time_point deadline) {
    const auto connect_deadline = std::min(deadline, Clock::now() + options.connect_timeout);
    auto fd = connect_tcp(url, connect_deadline);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    auto session = new_session(url, credentials);
    if (!session) {
        return std::unexpected(session.error());
    }
    gnutls_transport_set_int(session->get(), fd->get());
    auto connection =
        std::make_unique<Connection>(std::move(*fd), std::move(*session), url.host, url.port);
    if (auto shaken = connection->handshake(deadline); !shaken) {
        return std::unexpected(shaken.error());
    }
    return connection;
}

// RFC 9112 §3 request line and §3.2 Host; the body is a JWS (RFC 8555 §6.2).
std::string build_request(std::string_view method, const http1::Url& url,
                          const std::string_view* body, std::string_view accept,
                          std::string_view user_agent) {
    std::string request;
    request.reserve(256 + (body != nullptr ? body->size() : 0));
    request.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
    request.append("Host: ").append(url.authority()).append("\r\n");
    request.append("User-Agent: ").append(user_agent).append("\r\n");
    if (!accept.empty()) {
        request.append("Accept: ").append(accept).append("\r\n");
    }
    if (body != nullptr) {
        request.append("Content-Type: application/jose+json\r\n");
        request.append("Content-Length: ").append(std::to_string(body->size())).append("\r\n");
    }
    request.append("\r\n");
    if (body != nullptr) {
        request.append(*body);
    }
    return request;
}

std::string media_type(std::string_view value) {
    return http1::lower(http1::trim(value.substr(0, value.find(';'))));
}

// The fields ACME reads, with Location and Link targets made absolute (RFC 8555 §7.1, §7.4.2).
HttpResponse to_response(const std::string& url, http1::Message message) {
    HttpResponse r;
    r.url = url;
    r.status = message.status;
    r.body = std::move(message.body);
    for (http1::Field& field : message.fields) {
        if (field.name == "replay-nonce") {
            r.replay_nonce = std::move(field.value);
        } else if (field.name == "location") {
            auto resolved = resolve_url(url, field.value);
            r.location = resolved ? std::optional(std::move(*resolved)) : std::nullopt;
        } else if (field.name == "retry-after") {
            r.retry_after = std::move(field.value);
        } else if (field.name == "date") {
            r.date = std::move(field.value);
        } else if (field.name == "content-type") {
            r.content_type = media_type(field.value);
        } else if (field.name == "link") {
            for (Link& link : parse_link_header(field.value)) {
                if (auto resolved = resolve_url(url, link.target)) {
                    link.target = std::move(*resolved);
                    r.links.push_back(std::move(link));
                }
            }
        }
    }
    return r;
}

std::string default_user_agent() {
    return std::string("secure-api/") + SECURE_API_VERSION;
}

// What one attempt learnt besides its result.
struct Attempt {
    bool answered = false;   // some byte of a response arrived
    bool keep_alive = false; // the connection may carry the next request
};

Result<http1::Message> exchange(Connection& connection, std::string_view request, bool head,
                                std::size_t max_body, Clock::time_point deadline,
                                Attempt& attempt) {
    if (auto sent = connection.send(request, deadline); !sent) {
        return std::unexpected(sent.error());
    }
    http1::ResponseParser parser(head, {max_body, max_head_bytes});
    std::array<char, 16 * 1024> buffer;
    bool extra = false;
    while (!parser.done()) {
        auto got = connection.receive(buffer, deadline);
        attempt.answered = parser.started();
        if (!got) {
            return std::unexpected(got.error());
        }
        if (*got == 0) {
            if (auto closed = parser.close(); !closed) {
                return std::unexpected(closed.error());
            }
            extra = true; // closed: not reusable
            break;
        }
        auto used = parser.feed({buffer.data(), *got});
        attempt.answered = parser.started();
        if (!used) {
            return std::unexpected(used.error());
        }
        extra = extra || *used < *got;
    }
    attempt.keep_alive = parser.keep_alive() && !extra;
    return parser.take_message();
}

} // namespace

std::vector<std::string> HttpResponse::link_targets(std::string_view rel) const {
    std::vector<std::string> targets;
    for (const Link& link : links) {
        if (link.has_relation(rel)) {
            targets.push_back(link.target);
        }
    }
    return targets;
}

Result<std::string> resolve_url(const std::string& base, const std::string& reference) {
    return http1::resolve_reference(base, reference);
}

struct Transport::State {
    TransportOptions options;
    tls::CertCredentials credentials;
    std::unique_ptr<Connection> connection;

    Result<HttpResponse> perform(std::string_view method, const std::string& url,
                                 const std::string_view* body, std::string_view accept);
    Result<http1::Message> round_trip(const http1::Url& url, std::string_view request, bool head,
                                      Clock::time_point deadline);
    Result<http1::Message> attempt(const http1::Url& url, std::string_view request, bool head,
                                   Clock::time_point deadline, bool& retry);
};

Result<http1::Message> Transport::State::attempt(const http1::Url& url, std::string_view request,
                                                 bool head, Clock::time_point deadline,
                                                 bool& retry) {
    const bool reused = connection && connection->serves(url) && connection->idle_and_open();
    if (!reused) {
        connection.reset();
        auto opened = open_connection(url, credentials.get(), options, deadline);
        if (!opened) {
            return std::unexpected(opened.error());
        }
        connection = std::move(*opened);
    }
    Attempt outcome;
    auto message = exchange(*connection, request, head, options.max_body, deadline, outcome);
    if (!message || !outcome.keep_alive) {
        connection.reset();
    }
    // The server may close an idle connection just as the request goes out (RFC 9112 §9.3.1):
    // then nothing was answered and sending again on a new connection is safe.
    retry = !message && reused && !outcome.answered && Clock::now() < deadline;
    return message;
}

Result<http1::Message> Transport::State::round_trip(const http1::Url& url, std::string_view request,
                                                    bool head, Clock::time_point deadline) {
    bool retry = false;
    auto message = attempt(url, request, head, deadline, retry);
    if (retry) {
        message = attempt(url, request, head, deadline, retry);
    }
    return message;
}

Result<HttpResponse> Transport::State::perform(std::string_view method, const std::string& url,
                                               const std::string_view* body,
                                               std::string_view accept) {
    const std::string what =
        std::string(method) + " " + secure_api::printable(http1::without_userinfo(url));
    const auto deadline = Clock::now() + options.total_timeout;
    auto target = http1::parse_https_url(url);
    if (!target) {
        return std::unexpected(target.error().context(what));
    }
    const std::string request = build_request(method, *target, body, accept, options.user_agent);
    auto message = round_trip(*target, request, method == "HEAD", deadline);
    if (!message) {
        return std::unexpected(message.error().context(what));
    }
    return to_response(url, std::move(*message));
}

Transport::Transport(std::unique_ptr<State> state) : state_(std::move(state)) {}
Transport::Transport(Transport&&) noexcept = default;
Transport& Transport::operator=(Transport&&) noexcept = default;
Transport::~Transport() = default;

namespace {

// A configured bundle is the whole trust, as the setting says. Otherwise the system trust: on
// Debian 12 GnuTLS reads it from /etc/ssl/certs/ca-certificates.crt without loading p11-kit's
// trust module, at the same cost as loading that file directly (about 4.5 MiB for its ~140
// anchors, measured), so there is nothing to gain from naming the file here.
Result<tls::CertCredentials> load_trust(const std::string& ca_bundle) {
    gnutls_certificate_credentials_t raw = nullptr;
    if (int rc = gnutls_certificate_allocate_credentials(&raw); rc < 0) {
        return std::unexpected(tls::gnutls_error("allocating TLS credentials", rc));
    }
    tls::CertCredentials credentials(raw);
    if (ca_bundle.empty()) {
        if (int rc = gnutls_certificate_set_x509_system_trust(raw); rc < 0) {
            return std::unexpected(tls::gnutls_error("loading the system trust store", rc));
        }
        return credentials;
    }
    const int rc =
        gnutls_certificate_set_x509_trust_file(raw, ca_bundle.c_str(), GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("loading the CA bundle " + quoted(ca_bundle), rc));
    }
    if (rc == 0) {
        return fail("loading the CA bundle " + quoted(ca_bundle) + ": no certificate in it");
    }
    return credentials;
}

} // namespace

Result<Transport> Transport::create(TransportOptions options) {
    auto credentials = load_trust(options.ca_bundle);
    if (!credentials) {
        return std::unexpected(credentials.error());
    }
    auto state = std::make_unique<State>();
    if (options.user_agent.empty()) {
        options.user_agent = default_user_agent();
    }
    state->options = std::move(options);
    state->credentials = std::move(*credentials);
    return Transport(std::move(state));
}

const TransportOptions& Transport::options() const {
    return state_->options;
}

Result<HttpResponse> Transport::get(const std::string& url) {
    return state_->perform("GET", url, nullptr, {});
}

Result<HttpResponse> Transport::head(const std::string& url) {
    return state_->perform("HEAD", url, nullptr, {});
}

Result<HttpResponse> Transport::post_jose(const std::string& url, std::string_view body,
                                          std::string_view accept) {
    return state_->perform("POST", url, &body, accept);
}

} // namespace secure_api::acme
