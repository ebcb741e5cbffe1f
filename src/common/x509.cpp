#include "common/x509.hpp"

#include <gnutls/crypto.h>

#include <arpa/inet.h>
#include <array>
#include <cstdio>

namespace secure_api::x509 {
namespace {

struct KeyTypeName {
    KeyType type;
    std::string_view name;
};

constexpr std::array key_type_names{
    KeyTypeName{KeyType::ec_p256, "ec-p256"},   KeyTypeName{KeyType::ec_p384, "ec-p384"},
    KeyTypeName{KeyType::rsa_2048, "rsa-2048"}, KeyTypeName{KeyType::rsa_3072, "rsa-3072"},
    KeyTypeName{KeyType::rsa_4096, "rsa-4096"},
};

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

std::string serial_hex(gnutls_x509_crt_t cert) {
    std::array<char, 64> buffer{};
    size_t size = buffer.size();
    if (gnutls_x509_crt_get_serial(cert, buffer.data(), &size) < 0)
        return {};
    std::string_view bytes(buffer.data(), size);
    // DER adds a zero byte to keep large serials positive; it is not part of the number.
    while (bytes.size() > 1 && bytes.front() == '\0')
        bytes.remove_prefix(1);
    return to_hex(bytes);
}

std::string ip_to_text(std::string_view raw) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    int family = raw.size() == 4 ? AF_INET : AF_INET6;
    if (raw.size() != 4 && raw.size() != 16)
        return {};
    if (inet_ntop(family, raw.data(), text.data(), text.size()) == nullptr)
        return {};
    return text.data();
}

std::vector<std::string> alt_names(gnutls_x509_crt_t cert) {
    std::vector<std::string> names;
    for (unsigned i = 0;; ++i) {
        std::array<char, 1024> buffer{};
        size_t size = buffer.size();
        int type = gnutls_x509_crt_get_subject_alt_name(cert, i, buffer.data(), &size, nullptr);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (type == GNUTLS_SAN_DNSNAME)
            names.emplace_back(buffer.data(), size);
        else if (type == GNUTLS_SAN_IPADDRESS)
            names.push_back(ip_to_text({buffer.data(), size}));
        else if (type < 0)
            break;
    }
    return names;
}

Result<std::string> key_id(gnutls_x509_crt_t cert) {
    std::array<unsigned char, 64> id{};
    size_t size = id.size();
    if (int rc = gnutls_x509_crt_get_key_id(cert, GNUTLS_KEYID_USE_SHA256, id.data(), &size); rc)
        return std::unexpected(tls::gnutls_error("reading the certificate's key", rc));
    return std::string(reinterpret_cast<char*>(id.data()), size);
}

Result<std::string> key_id(gnutls_x509_privkey_t key) {
    std::array<unsigned char, 64> id{};
    size_t size = id.size();
    if (int rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id.data(), &size))
        return std::unexpected(tls::gnutls_error("reading the private key", rc));
    return std::string(reinterpret_cast<char*>(id.data()), size);
}

std::string format_time(Clock::time_point when) {
    std::time_t t = Clock::to_time_t(when);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::array<char, 32> text{};
    std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text.data();
}

Result<void> set_alt_name(gnutls_x509_crt_t cert, const std::string& name) {
    std::array<unsigned char, 16> ip{};
    int rc = 0;
    if (inet_pton(AF_INET, name.c_str(), ip.data()) == 1)
        rc = gnutls_x509_crt_set_subject_alt_name(cert, GNUTLS_SAN_IPADDRESS, ip.data(), 4,
                                                  GNUTLS_FSAN_APPEND);
    else if (inet_pton(AF_INET6, name.c_str(), ip.data()) == 1)
        rc = gnutls_x509_crt_set_subject_alt_name(cert, GNUTLS_SAN_IPADDRESS, ip.data(), 16,
                                                  GNUTLS_FSAN_APPEND);
    else
        rc = gnutls_x509_crt_set_subject_alt_name(cert, GNUTLS_SAN_DNSNAME, name.data(),
                                                  name.size(), GNUTLS_FSAN_APPEND);
    if (rc < 0)
        return std::unexpected(tls::gnutls_error("adding name " + quoted(name), rc));
    return {};
}

Result<void> set_placeholder_fields(gnutls_x509_crt_t cert, gnutls_x509_privkey_t key,
                                    const std::string& common_name, std::chrono::seconds lifetime) {
    std::array<unsigned char, 16> serial{};
    gnutls_rnd(GNUTLS_RND_NONCE, serial.data(), serial.size());
    serial[0] &= 0x7f; // a positive serial (RFC 5280 §4.1.2.2)
    serial[0] |= 0x01;
    auto now = Clock::now();
    int rc = gnutls_x509_crt_set_version(cert, 3);
    if (rc == 0)
        rc = gnutls_x509_crt_set_serial(cert, serial.data(), serial.size());
    if (rc == 0)
        rc = gnutls_x509_crt_set_activation_time(cert, Clock::to_time_t(now) - 3600);
    if (rc == 0)
        rc = gnutls_x509_crt_set_expiration_time(cert, Clock::to_time_t(now + lifetime));
    if (rc == 0)
        rc = gnutls_x509_crt_set_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, common_name.data(),
                                           common_name.size());
    if (rc == 0)
        rc = gnutls_x509_crt_set_key(cert, key);
    if (rc == 0)
        rc = gnutls_x509_crt_set_basic_constraints(cert, 0, -1);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_usage(cert, GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_purpose_oid(cert, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (rc < 0)
        return std::unexpected(tls::gnutls_error("building the placeholder certificate", rc));
    return {};
}

} // namespace

Result<KeyType> parse_key_type(std::string_view text) {
    for (const auto& entry : key_type_names)
        if (entry.name == text)
            return entry.type;
    return fail("unknown key type " + quoted(text) +
                " (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)");
}

std::string_view key_type_name(KeyType type) {
    for (const auto& entry : key_type_names)
        if (entry.type == type)
            return entry.name;
    return "unknown";
}

Result<tls::X509Key> generate_key(KeyType type) {
    auto key = tls::new_x509_key();
    gnutls_pk_algorithm_t algorithm = GNUTLS_PK_RSA;
    unsigned bits = 0;
    switch (type) {
    case KeyType::ec_p256:
        algorithm = GNUTLS_PK_ECDSA;
        bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
        break;
    case KeyType::ec_p384:
        algorithm = GNUTLS_PK_ECDSA;
        bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1);
        break;
    case KeyType::rsa_2048:
        bits = 2048;
        break;
    case KeyType::rsa_3072:
        bits = 3072;
        break;
    case KeyType::rsa_4096:
        bits = 4096;
        break;
    }
    if (int rc = gnutls_x509_privkey_generate2(key.get(), algorithm, bits, 0, nullptr, 0); rc < 0)
        return std::unexpected(tls::gnutls_error("generating a key", rc));
    return key;
}

Result<std::string> key_to_pem(gnutls_x509_privkey_t key) {
    tls::Datum out;
    int rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN,
                                               out.out());
    if (rc < 0)
        return std::unexpected(tls::gnutls_error("exporting the key", rc));
    return out.str();
}

Result<tls::X509Key> key_from_pem(std::string_view pem) {
    auto key = tls::new_x509_key();
    auto data = tls::borrow(pem);
    if (int rc = gnutls_x509_privkey_import2(key.get(), &data, GNUTLS_X509_FMT_PEM, nullptr, 0))
        return std::unexpected(tls::gnutls_error("not a PEM private key", rc));
    return key;
}

Result<std::vector<tls::X509Cert>> chain_from_pem(std::string_view pem) {
    gnutls_x509_crt_t* list = nullptr;
    unsigned size = 0;
    auto data = tls::borrow(pem);
    int rc = gnutls_x509_crt_list_import2(&list, &size, &data, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0)
        return std::unexpected(tls::gnutls_error("not a PEM certificate chain", rc));
    std::vector<tls::X509Cert> chain;
    for (unsigned i = 0; i < size; ++i)
        chain.emplace_back(list[i]);
    gnutls_free(list);
    if (chain.empty())
        return fail("no certificate in the PEM data");
    return chain;
}

Result<std::string> cert_to_pem(gnutls_x509_crt_t cert) {
    tls::Datum out;
    if (int rc = gnutls_x509_crt_export2(cert, GNUTLS_X509_FMT_PEM, out.out()); rc < 0)
        return std::unexpected(tls::gnutls_error("exporting the certificate", rc));
    return out.str();
}

CertInfo describe(gnutls_x509_crt_t cert) {
    CertInfo info;
    info.serial = serial_hex(cert);
    info.not_before = Clock::from_time_t(gnutls_x509_crt_get_activation_time(cert));
    info.not_after = Clock::from_time_t(gnutls_x509_crt_get_expiration_time(cert));
    info.names = alt_names(cert);
    return info;
}

Result<void> check_pair(gnutls_x509_crt_t leaf, gnutls_x509_privkey_t key,
                        const std::vector<std::string>& names, Clock::time_point now,
                        std::chrono::seconds not_before_slack) {
    auto cert_id = key_id(leaf);
    if (!cert_id)
        return std::unexpected(cert_id.error());
    auto private_id = key_id(key);
    if (!private_id)
        return std::unexpected(private_id.error());
    if (*cert_id != *private_id)
        return fail("the private key does not belong to the certificate", "KeyMismatch");
    CertInfo info = describe(leaf);
    if (info.not_after <= now)
        return fail("the certificate expired on " + format_time(info.not_after), "Expired");
    if (info.not_before > now + not_before_slack)
        return fail("the certificate is not valid before " + format_time(info.not_before),
                    "NotYetValid");
    for (const auto& name : names)
        if (!gnutls_x509_crt_check_hostname2(leaf, name.c_str(), 0))
            return fail("the certificate does not cover " + quoted(name), "NamesNotCovered");
    return {};
}

Result<tls::X509Cert> self_signed(gnutls_x509_privkey_t key, const std::vector<std::string>& names,
                                  std::chrono::seconds lifetime) {
    auto cert = tls::new_x509_cert();
    const std::string common_name = names.empty() ? "localhost" : names.front();
    if (auto set = set_placeholder_fields(cert.get(), key, common_name, lifetime); !set)
        return std::unexpected(set.error());
    for (const auto& name : names.empty() ? std::vector<std::string>{"localhost"} : names)
        if (auto added = set_alt_name(cert.get(), name); !added)
            return std::unexpected(added.error());
    if (int rc = gnutls_x509_crt_sign2(cert.get(), cert.get(), key, GNUTLS_DIG_SHA256, 0); rc < 0)
        return std::unexpected(tls::gnutls_error("signing the placeholder certificate", rc));
    // Read back what was signed: a certificate under construction does not
    // answer every query about itself.
    auto pem = cert_to_pem(cert.get());
    if (!pem)
        return std::unexpected(pem.error());
    auto chain = chain_from_pem(*pem);
    if (!chain)
        return std::unexpected(chain.error());
    return std::move(chain->front());
}

std::string format_utc(Clock::time_point when) {
    return format_time(when);
}

} // namespace secure_api::x509
