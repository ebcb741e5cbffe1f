// One certificate chain and its key, in the form GnuTLS serves them, with
// what secure-api reports about them. Immutable once built; shared by every
// connection that handshook with it.
#pragma once

#include "common/error.hpp"
#include "common/gnutls.hpp"
#include "common/x509.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace secure_api::server {

class Credentials {
public:
    using Ptr = std::shared_ptr<const Credentials>;

    // Load and check a pair from disk. Errors carry the D-Bus error name:
    // Unreadable, KeyMismatch, Expired, NotYetValid or NamesNotCovered.
    static Result<Ptr> load(const std::filesystem::path& cert, const std::filesystem::path& key,
                            const std::vector<std::string>& names, x509::Clock::time_point now);

    // An ephemeral self-signed pair for first boot.
    static Result<Ptr> placeholder(const std::vector<std::string>& names);

    Credentials(const Credentials&) = delete;
    Credentials& operator=(const Credentials&) = delete;
    ~Credentials();

    const x509::CertInfo& info() const { return info_; }
    bool is_placeholder() const { return placeholder_; }
    x509::Clock::time_point loaded_at() const { return loaded_at_; }

    // For GnuTLS's certificate callback, which takes non-const pointers but
    // only reads through them.
    gnutls_pcert_st* chain() const { return chain_.data(); }
    unsigned chain_length() const { return static_cast<unsigned>(chain_.size()); }
    gnutls_privkey_t key() const { return key_.get(); }

private:
    Credentials() = default;
    static Result<Ptr> build(std::vector<tls::X509Cert> chain, tls::X509Key key, bool placeholder);

    mutable std::vector<gnutls_pcert_st> chain_;
    tls::PrivKey key_;
    x509::CertInfo info_;
    bool placeholder_ = false;
    x509::Clock::time_point loaded_at_;
};

} // namespace secure_api::server
