#include "acme/issuance.hpp"

#include "acme/authorization.hpp"
#include "acme/csr.hpp"

namespace secure_api::acme {

namespace {

// Withdraws a published token when the authorization is over, on every path.
class PublishedToken {
public:
    PublishedToken(ChallengePublisher& publisher, std::string token)
        : publisher_(publisher), token_(std::move(token)) {}
    PublishedToken(const PublishedToken&) = delete;
    PublishedToken& operator=(const PublishedToken&) = delete;
    ~PublishedToken() { publisher_.withdraw(token_); }

private:
    ChallengePublisher& publisher_;
    std::string token_;
};

Result<Authorization> validate(Client& client, const Authorization& authorization,
                               const Challenge& challenge, ChallengePublisher& publisher,
                               const PollPolicy& policy) {
    const std::string key_auth = key_authorization(challenge.token, client.account_key());
    if (auto published = publisher.publish(challenge.token, key_auth); !published) {
        return std::unexpected(published.error().context("publishing the http-01 challenge for " +
                                                         describe(authorization.identifier)));
    }
    PublishedToken guard(publisher, challenge.token);
    // A challenge already "processing" needs no second request (RFC 8555 §7.5.1).
    if (challenge.status == "pending") {
        if (auto answered = respond_to_challenge(client, challenge); !answered) {
            return std::unexpected(answered.error());
        }
    }
    return wait_for_authorization(client, authorization, policy);
}

Result<std::vector<Identifier>> dns_identifiers(const std::vector<std::string>& names) {
    if (names.empty()) {
        return fail("no domain names to request a certificate for");
    }
    std::vector<Identifier> identifiers;
    for (const std::string& name : names) {
        identifiers.push_back(dns_identifier(name));
    }
    return identifiers;
}

// Authorize every name, then wait for the order to become "ready".
Result<Order> authorize_order(Client& client, Order order, const IssueRequest& request,
                              ChallengePublisher& publisher) {
    for (const std::string& url : order.authorizations) {
        if (auto done = authorize_http01(client, url, publisher, request.authorization_poll);
            !done) {
            return std::unexpected(done.error());
        }
    }
    auto settled = fetch_order(client, order.url);
    settled = settled ? wait_for_order(client, std::move(*settled), "pending", request.order_poll)
                      : settled;
    if (settled && settled->status != "ready") {
        return std::unexpected(order_failure(*settled));
    }
    return settled;
}

Result<Order> finalize(Client& client, const Order& order, const IssueRequest& request) {
    auto csr = make_csr(request.certificate_key, request.names);
    auto finalized = csr ? finalize_order(client, order, *csr) : std::unexpected(csr.error());
    finalized =
        finalized ? wait_for_order(client, std::move(*finalized), "processing", request.order_poll)
                  : finalized;
    if (finalized && (finalized->status != "valid" || !finalized->certificate)) {
        return std::unexpected(order_failure(*finalized));
    }
    return finalized;
}

} // namespace

Result<void> authorize_http01(Client& client, const std::string& authorization_url,
                              ChallengePublisher& publisher, const PollPolicy& policy) {
    auto authorization = fetch_authorization(client, authorization_url);
    if (!authorization) {
        return std::unexpected(authorization.error());
    }
    if (authorization->status == "valid") {
        return {}; // authorized earlier and still good (RFC 8555 §7.1.4)
    }
    if (authorization->status != "pending") {
        return std::unexpected(authorization_failure(*authorization));
    }
    const Challenge* challenge = find_challenge(*authorization, "http-01");
    if (challenge == nullptr) {
        return fail("the CA offers no http-01 challenge for " +
                        describe(authorization->identifier) +
                        (authorization->wildcard ? " (a wildcard needs dns-01)" : ""),
                    "NoHttp01Challenge");
    }
    auto result = validate(client, *authorization, *challenge, publisher, policy);
    if (!result) {
        return std::unexpected(result.error());
    }
    if (result->status != "valid") {
        return std::unexpected(authorization_failure(*result));
    }
    return {};
}

Result<IssuedCertificate> issue_certificate(Client& client, const IssueRequest& request,
                                            ChallengePublisher& publisher) {
    if (request.certificate_key == nullptr) {
        return fail("no certificate key given for the CSR");
    }
    auto identifiers = dns_identifiers(request.names);
    auto order = identifiers ? create_order(client, *identifiers, request.replaces)
                             : std::unexpected(identifiers.error());
    order = order ? authorize_order(client, std::move(*order), request, publisher) : order;
    order = order ? finalize(client, *order, request) : order;
    auto chains =
        order ? download_chains(client, *order->certificate) : std::unexpected(order.error());
    if (!chains) {
        return std::unexpected(chains.error());
    }
    IssuedCertificate issued;
    issued.order_url = order->url;
    issued.certificate_url = *order->certificate;
    issued.choice = choose_chain(chains->chains, request.preferred_chain);
    issued.chain_pem = chains->chains[issued.choice.index].pem;
    issued.chains = std::move(*chains);
    return issued;
}

} // namespace secure_api::acme
