#include "server/credentials.hpp"

#include "common/atomic_file.hpp"

namespace secure_api::server {
namespace {

constexpr std::chrono::hours placeholder_lifetime{24 * 90};

Error unreadable(const std::filesystem::path& path, const Error& cause) {
    return Error(quoted(path.string()) + ": " + cause.message, "Unreadable");
}

} // namespace

Credentials::~Credentials() {
    for (auto& pcert : chain_)
        gnutls_pcert_deinit(&pcert);
}

Result<Credentials::Ptr> Credentials::build(std::vector<tls::X509Cert> chain, tls::X509Key key,
                                            bool placeholder) {
    std::shared_ptr<Credentials> credentials(new Credentials());
    credentials->info_ = x509::describe(chain.front().get());
    credentials->placeholder_ = placeholder;
    credentials->loaded_at_ = x509::Clock::now();
    for (auto& cert : chain) {
        gnutls_pcert_st pcert{};
        if (int rc = gnutls_pcert_import_x509(&pcert, cert.get(), 0); rc < 0)
            return std::unexpected(tls::gnutls_error("preparing the certificate", rc));
        credentials->chain_.push_back(pcert);
    }
    credentials->key_ = tls::new_privkey();
    if (int rc = gnutls_privkey_import_x509(credentials->key_.get(), key.get(),
                                            GNUTLS_PRIVKEY_IMPORT_COPY);
        rc < 0)
        return std::unexpected(tls::gnutls_error("preparing the key", rc));
    return credentials;
}

Result<Credentials::Ptr> Credentials::load(const std::filesystem::path& cert_path,
                                           const std::filesystem::path& key_path,
                                           const std::vector<std::string>& names,
                                           x509::Clock::time_point now) {
    auto cert_pem = files::read_file(cert_path);
    if (!cert_pem)
        return std::unexpected(Error(cert_pem.error().message, "Unreadable"));
    auto chain = x509::chain_from_pem(*cert_pem);
    if (!chain)
        return std::unexpected(unreadable(cert_path, chain.error()));
    auto key_pem = files::read_file(key_path);
    if (!key_pem)
        return std::unexpected(Error(key_pem.error().message, "Unreadable"));
    auto key = x509::key_from_pem(*key_pem);
    if (!key)
        return std::unexpected(unreadable(key_path, key.error()));
    if (auto checked = x509::check_pair(chain->front().get(), key->get(), names, now); !checked)
        return std::unexpected(checked.error());
    return build(std::move(*chain), std::move(*key), false);
}

Result<Credentials::Ptr> Credentials::placeholder(const std::vector<std::string>& names) {
    auto key = x509::generate_key(x509::KeyType::ec_p256);
    if (!key)
        return std::unexpected(key.error());
    auto cert = x509::self_signed(key->get(), names, placeholder_lifetime);
    if (!cert)
        return std::unexpected(cert.error());
    std::vector<tls::X509Cert> chain;
    chain.push_back(std::move(*cert));
    return build(std::move(chain), std::move(*key), true);
}

} // namespace secure_api::server
