#include "acme/account.hpp"

#include "acme/problem.hpp"

namespace secure_api::acme {

namespace {

const std::string account_does_not_exist = std::string(acme_error_prefix) + "accountDoesNotExist";

Result<Account> account_from_response(const HttpResponse& response, bool created) {
    if (!response.location) {
        return fail("newAccount " + secure_api::printable(response.url) +
                    ": the answer has no Location header");
    }
    Account account{*response.location, "valid", created};
    auto body = parse_json(response.body, "the account object");
    if (body) {
        auto status = optional_string_member(*body, "status", "the account object");
        if (status && *status) {
            account.status = **status;
        }
    }
    // RFC 8555 §7.1.6: a deactivated or revoked account can do nothing more.
    if (account.status != "valid") {
        return fail("the ACME account " + secure_api::quoted(account.url) + " is " +
                        secure_api::quoted(account.status) + "; it cannot be used",
                    "AccountNotValid");
    }
    return account;
}

Json contacts(const std::vector<std::string>& emails) {
    Json list = Json::array();
    for (const std::string& email : emails) {
        list.push_back(email.starts_with("mailto:") ? email : "mailto:" + email);
    }
    return list;
}

Error registration_refused(const Client& client) {
    const auto& terms = client.directory().terms_of_service;
    return Error("the CA " + secure_api::quoted(client.directory_url()) +
                     " has no account for this account key, and creating one means agreeing "
                     "to its terms of service" +
                     (terms ? " (" + *terms + ")" : std::string()) +
                     "; set acme.agree-tos = true to allow that",
                 "AgreeTosRequired");
}

Result<Account> create_account(Client& client, const AccountOptions& options) {
    Json payload{{"termsOfServiceAgreed", true}};
    if (!options.emails.empty()) {
        payload["contact"] = contacts(options.emails);
    }
    auto response = client.post_with_jwk(client.directory().new_account, payload);
    if (!response) {
        return std::unexpected(response.error().context("creating the ACME account"));
    }
    return account_from_response(*response, true);
}

} // namespace

Result<std::optional<Account>> find_account(Client& client) {
    const Json payload{{"onlyReturnExisting", true}};
    auto response = client.post_with_jwk(client.directory().new_account, payload);
    if (!response) {
        if (response.error().name == account_does_not_exist) {
            return std::optional<Account>();
        }
        return std::unexpected(response.error().context("looking up the ACME account"));
    }
    auto account = account_from_response(*response, false);
    if (!account) {
        return std::unexpected(account.error());
    }
    return std::optional(std::move(*account));
}

Result<Account> find_or_create_account(Client& client, const AccountOptions& options) {
    auto existing = find_account(client);
    if (!existing) {
        return std::unexpected(existing.error());
    }
    Result<Account> account = *existing ? Result<Account>(std::move(**existing))
                              : options.agree_to_terms
                                  ? create_account(client, options)
                                  : std::unexpected(registration_refused(client));
    if (account) {
        client.set_account_url(account->url);
    }
    return account;
}

} // namespace secure_api::acme
