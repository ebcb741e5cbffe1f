// Port 80: ACME HTTP-01 answers, a plain health check, and a redirect to
// HTTPS for everything else.
#pragma once

#include "server/challenge_store.hpp"
#include "server/response.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace secure_api::server {

struct PlainRequest {
    std::string_view method;
    std::string_view path;    // percent-decoded, without the query
    std::string_view raw_uri; // as sent: path and query, still encoded
    std::optional<std::string_view> host;
};

// The host part of a Host header (RFC 9110 §7.2): a DNS name, an IPv4
// address or a bracketed IPv6 address, with an optional port, which is
// dropped. Nothing else; an empty result means the header is malformed.
std::optional<std::string_view> host_without_port(std::string_view host_header);

class PlainRouter {
public:
    PlainRouter(const ChallengeStore& challenges, std::uint16_t https_port);

    Response handle(const PlainRequest& request) const;

private:
    Response challenge(std::string_view token) const;
    Response redirect(const PlainRequest& request) const;

    const ChallengeStore& challenges_;
    std::string port_suffix_;
};

} // namespace secure_api::server
