// HTTPS to the ACME server: HTTP/1.1 (RFC 9112) over GnuTLS, one connection reused while it
// stays open, HTTPS only (RFC 8555 §6.1), bounded time and body size, and the response
// headers ACME needs already picked out. A renewer talks to one server, so this is all it
// needs; a general HTTP library and the libraries it loads took a third of its memory.
//
// No proxy is used: https_proxy and friends are ignored, the connection goes straight to the
// host in the URL.
#pragma once

#include "acme/link_header.hpp"
#include "common/error.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

struct TransportOptions {
    // PEM file with the CA that signed the ACME server's own TLS certificate
    // (acme.ca-bundle); empty means the system trust store.
    std::string ca_bundle;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds{10}};
    std::chrono::milliseconds total_timeout{std::chrono::seconds{60}};
    // A larger response body is an error: nothing ACME sends is near this.
    std::size_t max_body = 1024 * 1024;
    // Empty means "secure-api/<version>" (RFC 8555 §6.1 asks for a User-Agent).
    std::string user_agent;
};

struct HttpResponse {
    std::string url; // the request URL
    long status = 0;
    std::string body;
    std::string content_type; // media type only, lower case, parameters dropped
    std::optional<std::string> replay_nonce;
    std::optional<std::string> location; // resolved against the request URL
    std::optional<std::string> retry_after;
    std::optional<std::string> date;
    std::vector<Link> links; // targets resolved against the request URL

    // Targets of the links with the given relation, in header order.
    std::vector<std::string> link_targets(std::string_view rel) const;
};

class Transport {
public:
    static Result<Transport> create(TransportOptions options);

    Transport(Transport&&) noexcept;
    Transport& operator=(Transport&&) noexcept;
    ~Transport();

    const TransportOptions& options() const;

    Result<HttpResponse> get(const std::string& url);
    Result<HttpResponse> head(const std::string& url);
    // A JWS body as application/jose+json (RFC 8555 §6.2); accept may be empty.
    Result<HttpResponse> post_jose(const std::string& url, std::string_view body,
                                   std::string_view accept = {});

private:
    struct State;
    explicit Transport(std::unique_ptr<State> state);

    std::unique_ptr<State> state_;
};

// Resolve a possibly relative reference against a base URL.
Result<std::string> resolve_url(const std::string& base, const std::string& reference);

} // namespace secure_api::acme
