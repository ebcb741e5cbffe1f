#include "server/plain_router.hpp"

#include <arpa/inet.h>

namespace secure_api::server {
namespace {

constexpr std::string_view challenge_prefix = "/.well-known/acme-challenge/";

bool dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253)
        return false;
    std::size_t label = 0;
    for (char c : name) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((alnum || c == '-') && ++label <= 63) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

bool ipv6_literal(std::string_view inner) {
    std::string text(inner);
    unsigned char address[16];
    return inet_pton(AF_INET6, text.c_str(), address) == 1;
}

bool valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5)
        return false;
    unsigned value = 0;
    for (char c : port) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= 65535;
}

// The request target, as sent, must be safe to echo into a Location header.
bool safe_target(std::string_view target) {
    if (!target.starts_with('/') || target.starts_with("//"))
        return false;
    for (unsigned char c : target)
        if (c <= 0x20 || c >= 0x7f)
            return false;
    return true;
}

Response plain(unsigned status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    response.add("Content-Type", "text/plain; charset=utf-8");
    return response;
}

} // namespace

std::optional<std::string_view> host_without_port(std::string_view header) {
    std::string_view host = header;
    std::string_view port;
    if (header.starts_with('[')) {
        auto close = header.find(']');
        if (close == std::string_view::npos || !ipv6_literal(header.substr(1, close - 1)))
            return std::nullopt;
        host = header.substr(0, close + 1);
        std::string_view rest = header.substr(close + 1);
        if (!rest.empty() && (!rest.starts_with(':') || !valid_port(rest.substr(1))))
            return std::nullopt;
        return host;
    }
    if (auto colon = header.rfind(':'); colon != std::string_view::npos) {
        host = header.substr(0, colon);
        port = header.substr(colon + 1);
        if (!valid_port(port))
            return std::nullopt;
    }
    if (!dns_name(host))
        return std::nullopt;
    return host;
}

PlainRouter::PlainRouter(const ChallengeStore& challenges, std::uint16_t https_port)
    : challenges_(challenges) {
    if (https_port != 443)
        port_suffix_ = ":" + std::to_string(https_port);
}

Response PlainRouter::handle(const PlainRequest& request) const {
    bool readable = request.method == "GET" || request.method == "HEAD";
    if (readable && request.path.starts_with(challenge_prefix))
        return challenge(request.path.substr(challenge_prefix.size()));
    if (readable && request.path == "/health")
        return plain(200, {});
    return redirect(request);
}

Response PlainRouter::challenge(std::string_view token) const {
    if (!valid_token(token))
        return plain(404, "Not found\n");
    auto key_authorization = challenges_.find(token);
    if (!key_authorization)
        return plain(404, "Not found\n");
    return plain(200, std::move(*key_authorization));
}

Response PlainRouter::redirect(const PlainRequest& request) const {
    if (!request.host)
        return plain(400, "Missing Host header\n");
    auto host = host_without_port(*request.host);
    if (!host)
        return plain(400, "Malformed Host header\n");
    if (!safe_target(request.raw_uri))
        return plain(400, "Malformed request target\n");
    Response response = plain(301, {});
    response.add("Location",
                 "https://" + std::string(*host) + port_suffix_ + std::string(request.raw_uri));
    return response;
}

} // namespace secure_api::server
