// The credentials new handshakes get. Swapped atomically on reload; the
// old ones live on for as long as a connection that handshook with them
// holds a reference (see https_server.cpp).
#pragma once

#include "server/credentials.hpp"

#include <atomic>

namespace secure_api::server {

class CredentialStore {
public:
    CredentialStore() = default;
    explicit CredentialStore(Credentials::Ptr initial) : current_(std::move(initial)) {}

    Credentials::Ptr current() const { return current_.load(std::memory_order_acquire); }
    void replace(Credentials::Ptr next) {
        current_.store(std::move(next), std::memory_order_release);
    }

private:
    std::atomic<Credentials::Ptr> current_;
};

} // namespace secure_api::server
