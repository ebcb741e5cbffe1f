#include "acme/directory.hpp"

namespace secure_api::acme {

namespace {

constexpr std::string_view what = "the ACME directory";
constexpr std::string_view meta_what = "the ACME directory's meta object";

Result<void> read_meta(const Json& meta, Directory& out) {
    if (!meta.is_object()) {
        return fail("the ACME directory member 'meta' is not an object");
    }
    auto terms = optional_string_member(meta, "termsOfService", meta_what);
    auto website = terms ? optional_string_member(meta, "website", meta_what) : terms;
    if (!website) {
        return std::unexpected(website.error());
    }
    out.terms_of_service = std::move(*terms);
    out.website = std::move(*website);
    if (meta.contains("caaIdentities")) {
        auto caa = string_array_member(meta, "caaIdentities", meta_what);
        if (!caa) {
            return std::unexpected(caa.error());
        }
        out.caa_identities = std::move(*caa);
    }
    const auto eab = meta.find("externalAccountRequired");
    out.external_account_required = eab != meta.end() && eab->is_boolean() && eab->get<bool>();
    return {};
}

Result<void> read_optional_urls(const Json& document, Directory& out) {
    auto key_change = optional_string_member(document, "keyChange", what);
    auto new_authz = key_change ? optional_string_member(document, "newAuthz", what) : key_change;
    auto renewal = new_authz ? optional_string_member(document, "renewalInfo", what) : new_authz;
    if (!renewal) {
        return std::unexpected(renewal.error());
    }
    out.key_change = std::move(*key_change);
    out.new_authz = std::move(*new_authz);
    out.renewal_info = std::move(*renewal);
    return {};
}

} // namespace

Result<Directory> directory_from_json(const Json& document) {
    if (!document.is_object()) {
        return fail("the ACME directory is not a JSON object");
    }
    Directory out;
    for (auto [key, field] :
         {std::pair{"newNonce", &out.new_nonce}, std::pair{"newAccount", &out.new_account},
          std::pair{"newOrder", &out.new_order}, std::pair{"revokeCert", &out.revoke_cert}}) {
        auto url = string_member(document, key, what);
        if (!url) {
            return std::unexpected(url.error());
        }
        *field = std::move(*url);
    }
    if (auto optional = read_optional_urls(document, out); !optional) {
        return std::unexpected(optional.error());
    }
    if (document.contains("meta")) {
        if (auto meta = read_meta(document["meta"], out); !meta) {
            return std::unexpected(meta.error());
        }
    }
    return out;
}

Result<Directory> parse_directory(std::string_view body) {
    auto document = parse_json(body, what);
    if (!document) {
        return std::unexpected(document.error());
    }
    return directory_from_json(*document);
}

} // namespace secure_api::acme
