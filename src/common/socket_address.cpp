#include "common/socket_address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <netinet/in.h>
#include <string>

namespace secure_api {
namespace {

Result<std::uint16_t> parse_port(std::string_view text) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port == 0 ||
        port > 65535)
        return fail("the port must be a number from 1 to 65535");
    return static_cast<std::uint16_t>(port);
}

Result<SocketAddress> ipv6(std::string_view text) {
    auto close = text.find(']');
    if (close == std::string_view::npos)
        return fail("an IPv6 address needs its closing ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':')
        return fail("the address needs a port: [<IPv6>]:<port>");
    auto port = parse_port(text.substr(close + 2));
    if (!port)
        return std::unexpected(port.error());
    SocketAddress address;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(*port);
    std::string host(text.substr(1, close - 1));
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1)
        return fail("'" + host + "' is not an IPv6 address");
    address.length = sizeof(sockaddr_in6);
    address.port = *port;
    address.wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    return address;
}

Result<SocketAddress> ipv4(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return fail("the address needs a port: <IPv4>:<port> or [<IPv6>]:<port>");
    auto port = parse_port(text.substr(colon + 1));
    if (!port)
        return std::unexpected(port.error());
    SocketAddress address;
    auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(*port);
    std::string host(text.substr(0, colon));
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1)
        return fail("'" + host + "' is not an IPv4 address (IPv6 goes in brackets)");
    address.length = sizeof(sockaddr_in);
    address.port = *port;
    address.wildcard = in4->sin_addr.s_addr == htonl(INADDR_ANY);
    return address;
}

} // namespace

Result<SocketAddress> parse_socket_address(std::string_view text) {
    return text.starts_with('[') ? ipv6(text) : ipv4(text);
}

} // namespace secure_api
