// The listening sockets: those systemd passed (roles from their names, never
// from their position), else the configured addresses, bound here.
#pragma once

#include "common/config.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

#include <cstdint>
#include <vector>

namespace secure_api::server {

struct Listeners {
    std::vector<UniqueFd> https;
    std::vector<UniqueFd> http;
    bool socket_activated = false;
};

// Fails (a configuration error) when no HTTPS socket results.
Result<Listeners> take_listeners(const Config& config);

// The local port of a listening socket, 0 when unknown.
std::uint16_t local_port(int fd);

} // namespace secure_api::server
