// Keys and certificates: generation, PEM in and out, and the checks a
// certificate/key pair must pass before secure-api serves or installs it.
#pragma once

#include "common/error.hpp"
#include "common/gnutls.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::x509 {

enum class KeyType { ec_p256, ec_p384, rsa_2048, rsa_3072, rsa_4096 };

// "ec-p256" (default), "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096".
Result<KeyType> parse_key_type(std::string_view text);
std::string_view key_type_name(KeyType type);

Result<tls::X509Key> generate_key(KeyType type);
Result<std::string> key_to_pem(gnutls_x509_privkey_t key);
Result<tls::X509Key> key_from_pem(std::string_view pem);

// Every certificate of a PEM bundle, leaf first. An empty bundle is an error.
Result<std::vector<tls::X509Cert>> chain_from_pem(std::string_view pem);
Result<std::string> cert_to_pem(gnutls_x509_crt_t cert);

using Clock = std::chrono::system_clock;

// What secure-api reports about a certificate.
struct CertInfo {
    std::string serial; // lower-case hex, no separators
    Clock::time_point not_before;
    Clock::time_point not_after;
    std::vector<std::string> names; // DNS and IP subject alternative names
};

CertInfo describe(gnutls_x509_crt_t cert);

// "2027-03-01 12:00:00 UTC"
std::string format_utc(Clock::time_point when);

// Checks, in this order, each failing with the Error name given:
// key matches the leaf ("KeyMismatch"), not expired ("Expired"), already
// valid ("NotYetValid", allowing not_before_slack for a CA whose clock runs
// a little ahead), and the leaf covers every name ("NamesNotCovered").
Result<void> check_pair(gnutls_x509_crt_t leaf, gnutls_x509_privkey_t key,
                        const std::vector<std::string>& names, Clock::time_point now,
                        std::chrono::seconds not_before_slack = std::chrono::seconds(0));

// A self-signed certificate for names (the first one is the subject CN),
// valid from an hour ago for the given time; used as a first-boot placeholder.
Result<tls::X509Cert> self_signed(gnutls_x509_privkey_t key, const std::vector<std::string>& names,
                                  std::chrono::seconds lifetime);

} // namespace secure_api::x509
