// Listening addresses as configured: "127.0.0.1:443", "0.0.0.0:443",
// "[::1]:443", "[::]:443".
#pragma once

#include "common/error.hpp"

#include <cstdint>
#include <string_view>
#include <sys/socket.h>

namespace secure_api {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::uint16_t port = 0;
    bool wildcard = false; // 0.0.0.0 or ::

    int family() const { return storage.ss_family; }
};

// The error says what is wrong, without repeating the text.
Result<SocketAddress> parse_socket_address(std::string_view text);

} // namespace secure_api
