#include "common/gnutls.hpp"

#include <new>

namespace secure_api::tls {
namespace {

template <typename Owner, typename Raw> Owner allocate(int (*init)(Raw*)) {
    Raw raw = nullptr;
    if (init(&raw) < 0)
        throw std::bad_alloc();
    return Owner(raw);
}

} // namespace

X509Cert new_x509_cert() {
    return allocate<X509Cert>(gnutls_x509_crt_init);
}
X509Key new_x509_key() {
    return allocate<X509Key>(gnutls_x509_privkey_init);
}
PrivKey new_privkey() {
    return allocate<PrivKey>(gnutls_privkey_init);
}
PubKey new_pubkey() {
    return allocate<PubKey>(gnutls_pubkey_init);
}
CertRequest new_cert_request() {
    return allocate<CertRequest>(gnutls_x509_crq_init);
}

} // namespace secure_api::tls
