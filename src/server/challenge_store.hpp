// HTTP-01 key authorizations (RFC 8555 §8.3) published over D-Bus by the
// renewal and read by the port-80 server threads.
#pragma once

#include "common/error.hpp"

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace secure_api::server {

// RFC 8555 §8.3: the token uses the base64url alphabet only.
bool valid_token(std::string_view token);

class ChallengeStore {
public:
    // A limit on what a (privileged, but possibly buggy) caller can pile up.
    static constexpr std::size_t max_entries = 1024;

    Result<void> publish(std::string_view token, std::string_view key_authorization);
    void withdraw(std::string_view token);
    std::optional<std::string> find(std::string_view token) const;

private:
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, std::string> entries_;
};

} // namespace secure_api::server
