// The ACME account (RFC 8555 §7.3): found by its key, created only when the
// configuration allows agreeing to the CA's terms of service.
#pragma once

#include "acme/client.hpp"
#include "common/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace secure_api::acme {

struct AccountOptions {
    std::vector<std::string> emails; // sent as mailto: contacts
    bool agree_to_terms = false;     // acme.agree-tos
};

struct Account {
    std::string url;    // the "kid" of later requests
    std::string status; // "valid"
    bool created = false;
};

// newAccount with onlyReturnExisting (§7.3.1); nullopt when the CA knows no
// account for this key.
Result<std::optional<Account>> find_account(Client& client);

// find_account, then, when absent and agree_to_terms is set, newAccount with
// the contacts and termsOfServiceAgreed. Stores the URL in the client.
// Absent and not allowed: an Error named "AgreeTosRequired" that says which
// setting to change.
Result<Account> find_or_create_account(Client& client, const AccountOptions& options);

} // namespace secure_api::acme
