// Move-only owners for the GnuTLS handles secure-api uses, so that no raw
// handle escapes and every early return frees what it allocated.
#pragma once

#include "common/error.hpp"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <memory>
#include <string>
#include <string_view>

namespace secure_api::tls {

template <typename T, void (*Free)(T)> struct HandleDeleter {
    using pointer = T;
    void operator()(T handle) const noexcept { Free(handle); }
};

template <typename T, void (*Free)(T)>
using Handle = std::unique_ptr<std::remove_pointer_t<T>, HandleDeleter<T, Free>>;

using X509Cert = Handle<gnutls_x509_crt_t, gnutls_x509_crt_deinit>;
using X509Key = Handle<gnutls_x509_privkey_t, gnutls_x509_privkey_deinit>;
using PrivKey = Handle<gnutls_privkey_t, gnutls_privkey_deinit>;
using PubKey = Handle<gnutls_pubkey_t, gnutls_pubkey_deinit>;
using CertRequest = Handle<gnutls_x509_crq_t, gnutls_x509_crq_deinit>;
using CertCredentials =
    Handle<gnutls_certificate_credentials_t, gnutls_certificate_free_credentials>;
using Priority = Handle<gnutls_priority_t, gnutls_priority_deinit>;

// A gnutls_datum_t whose data GnuTLS allocated (gnutls_free on destruction).
class Datum {
public:
    Datum() = default;
    Datum(const Datum&) = delete;
    Datum& operator=(const Datum&) = delete;
    Datum(Datum&& other) noexcept : datum_(other.datum_) { other.datum_ = {}; }
    Datum& operator=(Datum&& other) noexcept {
        std::swap(datum_, other.datum_);
        return *this;
    }
    ~Datum() { gnutls_free(datum_.data); }

    gnutls_datum_t* out() { return &datum_; }
    std::string_view view() const {
        return {reinterpret_cast<const char*>(datum_.data), datum_.size};
    }
    std::string str() const { return std::string(view()); }

private:
    gnutls_datum_t datum_{};
};

// A non-owning datum over caller memory, for GnuTLS input parameters.
inline gnutls_datum_t borrow(std::string_view bytes) {
    return {reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data())),
            static_cast<unsigned>(bytes.size())};
}

// "what: <gnutls error text>" as an Error.
inline Error gnutls_error(std::string_view what, int code) {
    return Error(std::string(what) + ": " + gnutls_strerror(code));
}

// Allocating constructors; they fail only when memory is exhausted, which is fatal.
X509Cert new_x509_cert();
X509Key new_x509_key();
PrivKey new_privkey();
PubKey new_pubkey();
CertRequest new_cert_request();

} // namespace secure_api::tls
