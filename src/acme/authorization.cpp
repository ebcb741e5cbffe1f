#include "acme/authorization.hpp"

#include "acme/order.hpp"

namespace secure_api::acme {

namespace {

constexpr std::string_view what = "the authorization";
constexpr std::string_view challenge_what = "a challenge";

Result<Challenge> challenge_from_json(const Json& document) {
    auto type = string_member(document, "type", challenge_what);
    auto url = type ? string_member(document, "url", challenge_what) : type;
    auto status = url ? string_member(document, "status", challenge_what) : url;
    auto token = status ? optional_string_member(document, "token", challenge_what)
                        : std::unexpected(status.error());
    if (!token) {
        return std::unexpected(token.error());
    }
    Challenge challenge{std::move(*type), std::move(*url), std::move(*status), token->value_or(""),
                        std::nullopt};
    if (document.contains("error")) {
        auto problem = problem_from_json(document["error"]);
        if (problem) {
            challenge.error = std::move(*problem);
        }
    }
    return challenge;
}

Result<std::vector<Challenge>> challenges_from_json(const Json& document) {
    const auto it = document.find("challenges");
    if (it == document.end() || !it->is_array()) {
        return fail("the authorization member 'challenges' is missing or not an array");
    }
    std::vector<Challenge> challenges;
    for (const Json& item : *it) {
        auto challenge = challenge_from_json(item);
        if (!challenge) {
            return std::unexpected(challenge.error());
        }
        challenges.push_back(std::move(*challenge));
    }
    return challenges;
}

} // namespace

Result<Authorization> authorization_from_json(const Json& document, std::string url) {
    auto status = string_member(document, "status", what);
    if (!status) {
        return std::unexpected(status.error());
    }
    const auto id = document.find("identifier");
    auto identifier = id != document.end()
                          ? identifier_from_json(*id, "the authorization identifier")
                          : fail("the authorization has no identifier");
    auto challenges =
        identifier ? challenges_from_json(document) : std::unexpected(identifier.error());
    if (!challenges) {
        return std::unexpected(challenges.error());
    }
    const auto wildcard = document.find("wildcard");
    return Authorization{std::move(url),
                         std::move(*status),
                         std::move(*identifier),
                         std::move(*challenges),
                         wildcard != document.end() && wildcard->is_boolean() &&
                             wildcard->get<bool>(),
                         std::nullopt};
}

Result<Authorization> fetch_authorization(Client& client, const std::string& url) {
    auto response = client.post_as_get(url);
    if (!response) {
        return std::unexpected(response.error());
    }
    auto document = parse_json(response->body, what);
    auto authorization =
        document ? authorization_from_json(*document, url) : std::unexpected(document.error());
    if (!authorization) {
        return std::unexpected(authorization.error().context("reading " + secure_api::quoted(url)));
    }
    authorization->retry_after = retry_after_of(*response);
    return authorization;
}

const Challenge* find_challenge(const Authorization& authorization, std::string_view type) {
    for (const Challenge& challenge : authorization.challenges) {
        if (challenge.type == type) {
            return &challenge;
        }
    }
    return nullptr;
}

std::string key_authorization(std::string_view token, const AccountKey& key) {
    return std::string(token) + "." + key.thumbprint();
}

Result<void> respond_to_challenge(Client& client, const Challenge& challenge) {
    auto response = client.post(challenge.url, Json::object());
    if (!response) {
        return std::unexpected(response.error().context("answering the challenge"));
    }
    return {};
}

Result<Authorization> wait_for_authorization(Client& client, Authorization authorization,
                                             const PollPolicy& policy) {
    PollSchedule schedule(policy, PollSchedule::SteadyClock::now());
    while (authorization.status == "pending") {
        const std::string polled = "the authorization for " + describe(authorization.identifier);
        if (auto waited = wait_before_poll(schedule, authorization.retry_after, polled); !waited) {
            return std::unexpected(waited.error());
        }
        auto next = fetch_authorization(client, authorization.url);
        if (!next) {
            return std::unexpected(next.error());
        }
        authorization = std::move(*next);
    }
    return authorization;
}

Error authorization_failure(const Authorization& authorization) {
    const std::string what_failed = "the authorization for " + describe(authorization.identifier) +
                                    " is " + authorization.status;
    for (const Challenge& challenge : authorization.challenges) {
        if (challenge.error) {
            return problem_error(*challenge.error)
                .context(what_failed + " (" + challenge.type + ")");
        }
    }
    return Error(what_failed, "AuthorizationInvalid");
}

} // namespace secure_api::acme
