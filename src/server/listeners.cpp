#include "server/listeners.hpp"

#include "common/log.hpp"
#include "common/socket_address.hpp"

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

bool ipv4_wildcard_on(const std::vector<std::string>& specs, std::uint16_t port) {
    for (const auto& spec : specs) {
        auto address = parse_socket_address(spec);
        if (address && address->family() == AF_INET && address->port == port && address->wildcard)
            return true;
    }
    return false;
}

Result<UniqueFd> bind_one(const std::string& spec, const std::vector<std::string>& all) {
    auto address = parse_socket_address(spec);
    if (!address)
        return fail("listen address " + quoted(spec) + ": " + address.error().message);
    UniqueFd fd(
        ::socket(address->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return fail("socket for " + quoted(spec) + ": " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (address->storage.ss_family == AF_INET6) {
        // "[::]" alone serves IPv4 too; next to "0.0.0.0" on the same port
        // it must leave IPv4 to that socket or the second bind fails.
        int v6only = address->wildcard && !ipv4_wildcard_on(all, address->port) ? 0 : 1;
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
