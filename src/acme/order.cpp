#include "acme/order.hpp"

#include "acme/base64url.hpp"
#include "acme/retry_after.hpp"

#include <thread>

namespace secure_api::acme {

namespace {

constexpr std::string_view what = "the order";

Result<std::vector<Identifier>> identifiers_from_json(const Json& document) {
    const auto it = document.find("identifiers");
    if (it == document.end() || !it->is_array()) {
        return fail("the order member 'identifiers' is missing or not an array");
    }
    std::vector<Identifier> identifiers;
    for (const Json& item : *it) {
        auto identifier = identifier_from_json(item, "an order identifier");
        if (!identifier) {
            return std::unexpected(identifier.error());
        }
        identifiers.push_back(std::move(*identifier));
    }
    return identifiers;
}

Result<void> read_optional(const Json& document, Order& order) {
    auto certificate = optional_string_member(document, "certificate", what);
    auto expires = certificate ? optional_string_member(document, "expires", what) : certificate;
    auto replaces = expires ? optional_string_member(document, "replaces", what) : expires;
    if (!replaces) {
        return std::unexpected(replaces.error());
    }
    order.certificate = std::move(*certificate);
    order.expires = std::move(*expires);
    order.replaces = std::move(*replaces);
    if (document.contains("error")) {
        auto problem = problem_from_json(document["error"]);
        if (problem) {
            order.error = std::move(*problem);
        }
    }
    return {};
}

Result<Order> order_from_response(const HttpResponse& response, const std::string& url) {
    auto document = parse_json(response.body, what);
    auto order = document ? order_from_json(*document, url) : std::unexpected(document.error());
    if (!order) {
        return std::unexpected(order.error().context("reading " + secure_api::quoted(url)));
    }
    order->retry_after = retry_after_of(response);
    return order;
}

} // namespace

Result<Order> order_from_json(const Json& document, std::string url) {
    Order order;
    order.url = std::move(url);
    auto status = string_member(document, "status", what);
    auto finalize = status ? string_member(document, "finalize", what) : status;
    if (!finalize) {
        return std::unexpected(finalize.error());
    }
    order.status = std::move(*status);
    order.finalize = std::move(*finalize);
    auto identifiers = identifiers_from_json(document);
    auto authorizations = identifiers ? string_array_member(document, "authorizations", what)
                                      : std::unexpected(identifiers.error());
    if (!authorizations) {
        return std::unexpected(authorizations.error());
    }
    order.identifiers = std::move(*identifiers);
    order.authorizations = std::move(*authorizations);
    if (auto optional = read_optional(document, order); !optional) {
        return std::unexpected(optional.error());
    }
    return order;
}

std::optional<std::chrono::seconds> retry_after_of(const HttpResponse& response) {
    if (!response.retry_after) {
        return std::nullopt;
    }
    auto delay = parse_retry_after(*response.retry_after, Clock::now());
    return delay ? std::optional(*delay) : std::nullopt;
}

Result<void> wait_before_poll(PollSchedule& schedule,
                              std::optional<std::chrono::seconds> retry_after,
                              const std::string& what_polled) {
    const auto delay = schedule.next_delay(retry_after, PollSchedule::SteadyClock::now());
    if (!delay) {
        return fail(what_polled + " did not finish before the deadline", "Timeout");
    }
    std::this_thread::sleep_for(*delay);
    return {};
}

Result<Order> create_order(Client& client, const std::vector<Identifier>& identifiers,
                           const std::optional<std::string>& replaces) {
    Json list = Json::array();
    for (const Identifier& identifier : identifiers) {
        list.push_back(to_json(identifier));
    }
    Json payload{{"identifiers", std::move(list)}};
    if (replaces && !replaces->empty()) {
        payload["replaces"] = *replaces;
    }
    auto response = client.post(client.directory().new_order, payload);
    if (!response) {
        return std::unexpected(response.error().context("creating the order"));
    }
    if (!response->location) {
        return fail("newOrder: the answer has no Location header");
    }
    return order_from_response(*response, *response->location);
}

Result<Order> fetch_order(Client& client, const std::string& url) {
    auto response = client.post_as_get(url);
    if (!response) {
        return std::unexpected(response.error());
    }
    return order_from_response(*response, url);
}

Result<Order> wait_for_order(Client& client, Order order, std::string_view transient,
                             const PollPolicy& policy) {
    PollSchedule schedule(policy, PollSchedule::SteadyClock::now());
    while (order.status == transient) {
        const std::string polled =
            "the order " + secure_api::quoted(order.url) + " (" + order.status + ")";
        if (auto waited = wait_before_poll(schedule, order.retry_after, polled); !waited) {
            return std::unexpected(waited.error());
        }
        auto next = fetch_order(client, order.url);
        if (!next) {
            return std::unexpected(next.error());
        }
        order = std::move(*next);
    }
    return order;
}

Result<Order> finalize_order(Client& client, const Order& order, std::string_view csr_der) {
    const Json payload{{"csr", base64url_encode(csr_der)}};
    auto response = client.post(order.finalize, payload);
    if (!response) {
        return std::unexpected(response.error().context("finalizing the order"));
    }
    return order_from_response(*response, order.url);
}

Error order_failure(const Order& order) {
    const std::string what_failed =
        "the order " + secure_api::quoted(order.url) + " is " + order.status;
    if (order.error) {
        return problem_error(*order.error).context(what_failed);
    }
    return Error(what_failed, "OrderInvalid");
}

} // namespace secure_api::acme
