#include "acme/ari.hpp"

#include "acme/base64url.hpp"
#include "acme/order.hpp"
#include "common/gnutls.hpp"

#include <array>

namespace secure_api::acme {

namespace {

constexpr std::string_view what = "the renewal information";

Result<std::string> authority_key_id(gnutls_x509_crt_t cert) {
    std::array<unsigned char, 256> buffer{};
    size_t size = buffer.size();
    unsigned critical = 0;
    const int rc = gnutls_x509_crt_get_authority_key_id(cert, buffer.data(), &size, &critical);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error(
            "the certificate has no Authority Key Identifier for its ARI identifier", rc));
    }
    return std::string(reinterpret_cast<const char*>(buffer.data()), size);
}

// GnuTLS gives the INTEGER's content octets as encoded, so a serial with the
// high bit set keeps its leading zero byte, as RFC 9773 §4.1 requires.
Result<std::string> serial_bytes(gnutls_x509_crt_t cert) {
    std::array<unsigned char, 64> buffer{};
    size_t size = buffer.size();
    const int rc = gnutls_x509_crt_get_serial(cert, buffer.data(), &size);
    if (rc < 0) {
        return std::unexpected(tls::gnutls_error("reading the certificate serial number", rc));
    }
    return std::string(reinterpret_cast<const char*>(buffer.data()), size);
}

Result<Clock::time_point> window_time(const Json& window, std::string_view key) {
    auto text = string_member(window, key, "the suggested renewal window");
    if (!text) {
        return std::unexpected(text.error());
    }
    return parse_rfc3339(*text);
}

std::string renewal_info_url(const std::string& base, std::string_view cert_id) {
    return base + (base.ends_with('/') ? "" : "/") + std::string(cert_id);
}

} // namespace

Result<std::string> ari_cert_id(gnutls_x509_crt_t cert) {
    auto key_id = authority_key_id(cert);
    auto serial = key_id ? serial_bytes(cert) : key_id;
    if (!serial) {
        return std::unexpected(serial.error());
    }
    return base64url_encode(*key_id) + "." + base64url_encode(*serial);
}

Result<RenewalInfo> renewal_info_from_json(const Json& document) {
    const auto window = document.is_object() ? document.find("suggestedWindow") : document.end();
    if (!document.is_object() || window == document.end() || !window->is_object()) {
        return fail("the renewal information has no 'suggestedWindow' object");
    }
    auto start = window_time(*window, "start");
    auto end = start ? window_time(*window, "end") : start;
    auto explanation = end ? optional_string_member(document, "explanationURL", what)
                           : std::unexpected(end.error());
    if (!explanation) {
        return std::unexpected(explanation.error().context("reading the renewal information"));
    }
    if (*end < *start) {
        return fail("the suggested renewal window ends (" + format_rfc3339(*end) +
                    ") before it starts (" + format_rfc3339(*start) + ")");
    }
    return RenewalInfo{*start, *end, std::move(*explanation), std::nullopt};
}

Result<RenewalInfo> parse_renewal_info(std::string_view body) {
    auto document = parse_json(body, what);
    if (!document) {
        return std::unexpected(document.error());
    }
    return renewal_info_from_json(*document);
}

Result<RenewalInfo> fetch_renewal_info(Client& client, std::string_view cert_id) {
    const auto& base = client.directory().renewal_info;
    if (!base) {
        return fail("the CA " + secure_api::quoted(client.directory_url()) +
                        " offers no renewal information (no renewalInfo in its directory)",
                    "AriUnsupported");
    }
    auto response = client.get(renewal_info_url(*base, cert_id));
    if (!response) {
        return std::unexpected(response.error());
    }
    auto info = parse_renewal_info(response->body);
    if (!info) {
        return std::unexpected(info.error().context("GET " + response->url));
    }
    info->retry_after = retry_after_of(*response);
    return info;
}

} // namespace secure_api::acme
