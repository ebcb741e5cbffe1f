#include "server/listeners.hpp"

#include "common/log.hpp"

#include <systemd/sd-daemon.h>

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

namespace secure_api::server {
namespace {

struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    bool ipv6_wildcard = false;
    std::uint16_t port = 0;
};

Result<std::uint16_t> parse_port(std::string_view text, std::string_view spec) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || ptr != text.data() + text.size() || port == 0 || port > 65535)
        return fail("invalid port in listen address " + quoted(spec));
    return static_cast<std::uint16_t>(port);
}

// "127.0.0.1:443", "0.0.0.0:443", "[::1]:443", "[::]:443".
Result<Address> parse_address(std::string_view spec) {
    auto colon = spec.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return fail("listen address " + quoted(spec) + " is not <address>:<port>");
    auto port = parse_port(spec.substr(colon + 1), spec);
    if (!port)
        return std::unexpected(port.error());
    std::string host(spec.substr(0, colon));
    Address address;
    address.port = *port;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(*port);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) != 1)
            return fail("invalid IPv6 address in listen address " + quoted(spec));
        address.length = sizeof(sockaddr_in6);
        address.ipv6_wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
        return address;
    }
    auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(*port);
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1)
        return fail("invalid IPv4 address in listen address " + quoted(spec));
    address.length = sizeof(sockaddr_in);
    return address;
}

bool ipv4_wildcard_on(const std::vector<std::string>& specs, std::uint16_t port) {
    for (const auto& spec : specs) {
        auto address = parse_address(spec);
        if (!address || address->storage.ss_family != AF_INET || address->port != port)
            continue;
        auto* in4 = reinterpret_cast<const sockaddr_in*>(&address->storage);
        if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
            return true;
    }
    return false;
}

Result<UniqueFd> bind_one(const std::string& spec, const std::vector<std::string>& all) {
    auto address = parse_address(spec);
    if (!address)
        return std::unexpected(address.error());
    UniqueFd fd(
        ::socket(address->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return fail("socket for " + quoted(spec) + ": " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (address->storage.ss_family == AF_INET6) {
        // "[::]" alone serves IPv4 too; next to "0.0.0.0" on the same port
        // it must leave IPv4 to that socket or the second bind fails.
        int v6only = address->ipv6_wildcard && !ipv4_wildcard_on(all, address->port) ? 0 : 1;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address->storage), address->length))
        return fail("binding " + quoted(spec) + ": " + std::strerror(errno));
    if (::listen(fd.get(), SOMAXCONN) != 0)
        return fail("listening on " + quoted(spec) + ": " + std::strerror(errno));
    return fd;
}

Result<void> bind_all(const std::vector<std::string>& specs, std::vector<UniqueFd>& out) {
    for (const auto& spec : specs) {
        auto fd = bind_one(spec, specs);
        if (!fd)
            return std::unexpected(fd.error());
        out.push_back(std::move(*fd));
    }
    return {};
}

void adopt_passed(Listeners& listeners) {
    char** names = nullptr;
    int count = sd_listen_fds_with_names(1, &names);
    if (count < 0)
        log::warning(std::string("Reading the sockets passed by systemd failed: ") +
                     std::strerror(-count) + ", ignoring them");
    for (int i = 0; i < count; ++i) {
        UniqueFd fd(SD_LISTEN_FDS_START + i);
        std::string_view name = names != nullptr && names[i] != nullptr ? names[i] : "";
        if (name == "https")
            listeners.https.push_back(std::move(fd));
        else if (name == "http")
            listeners.http.push_back(std::move(fd));
        else
            log::warning("Closing passed socket " + std::to_string(fd.get()) +
                         " with unknown name " + quoted(name) +
                         " (expected \"https\" or \"http\")");
    }
    if (names != nullptr) {
        for (int i = 0; i < count; ++i)
            std::free(names[i]);
        std::free(names);
    }
    listeners.socket_activated = count > 0;
}

} // namespace

Result<Listeners> take_listeners(const Config& config) {
    Listeners listeners;
    adopt_passed(listeners);
    if (listeners.https.empty())
        if (auto bound = bind_all(config.listen_https, listeners.https); !bound)
            return std::unexpected(bound.error());
    if (listeners.http.empty())
        if (auto bound = bind_all(config.listen_http, listeners.http); !bound)
            return std::unexpected(bound.error());
    if (listeners.https.empty())
        return fail("no HTTPS socket: none passed by systemd and no listen-https configured");
    return listeners;
}

std::uint16_t local_port(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
        return 0;
    if (storage.ss_family == AF_INET)
        return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    if (storage.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

} // namespace secure_api::server
