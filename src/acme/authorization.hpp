// Authorizations and challenges (RFC 8555 §7.1.4, §7.5, §8), with the http-01
// key authorization (§8.1, §8.3).
#pragma once

#include "acme/client.hpp"
#include "acme/identifier.hpp"
#include "acme/polling.hpp"
#include "acme/problem.hpp"
#include "common/error.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

struct Challenge {
    std::string type; // "http-01", "dns-01", ...
    std::string url;
    std::string status; // pending, processing, valid, invalid
    std::string token;  // empty for challenge types without one
    std::optional<Problem> error;
};

struct Authorization {
    std::string url;
    std::string status; // pending, valid, invalid, deactivated, expired, revoked
    Identifier identifier;
    std::vector<Challenge> challenges;
    bool wildcard = false;
    std::optional<std::chrono::seconds> retry_after;
};

Result<Authorization> authorization_from_json(const Json& document, std::string url);

// POST-as-GET of the authorization URL (RFC 8555 §7.5).
Result<Authorization> fetch_authorization(Client& client, const std::string& url);

// The first challenge of that type, or nullptr.
const Challenge* find_challenge(const Authorization& authorization, std::string_view type);

// token "." base64url(JWK thumbprint) (RFC 8555 §8.1).
std::string key_authorization(std::string_view token, const AccountKey& key);

// Tell the server the challenge can be validated now: POST {} (§7.5.1).
Result<void> respond_to_challenge(Client& client, const Challenge& challenge);

// Poll while the authorization is "pending"; returns the first other state.
Result<Authorization> wait_for_authorization(Client& client, Authorization authorization,
                                             const PollPolicy& policy);

// The Error for an authorization that did not become valid: the failed
// challenge's problem document when there is one, named after its type.
Error authorization_failure(const Authorization& authorization);

} // namespace secure_api::acme
