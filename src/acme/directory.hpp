// The ACME directory (RFC 8555 §7.1.1), with renewalInfo from RFC 9773 §3.
#pragma once

#include "acme/json.hpp"
#include "common/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace secure_api::acme {

struct Directory {
    std::string new_nonce;
    std::string new_account;
    std::string new_order;
    std::string revoke_cert;
    std::optional<std::string> key_change;
    std::optional<std::string> new_authz;    // pre-authorization; optional (§7.4.1)
    std::optional<std::string> renewal_info; // only when the CA offers ARI
    std::optional<std::string> terms_of_service;
    std::optional<std::string> website;
    std::vector<std::string> caa_identities;
    bool external_account_required = false;
};

Result<Directory> directory_from_json(const Json& document);
Result<Directory> parse_directory(std::string_view body);

} // namespace secure_api::acme
