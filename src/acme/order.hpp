// Orders (RFC 8555 §7.1.3, §7.4): create, poll, finalize; `replaces` from
// RFC 9773 §5 links a renewal to the certificate it replaces.
#pragma once

#include "acme/client.hpp"
#include "acme/identifier.hpp"
#include "acme/polling.hpp"
#include "acme/problem.hpp"
#include "common/error.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace secure_api::acme {

struct Order {
    std::string url;
    std::string status; // pending, ready, processing, valid, invalid
    std::vector<Identifier> identifiers;
    std::vector<std::string> authorizations;
    std::string finalize;
    std::optional<std::string> certificate;
    std::optional<std::string> expires;
    std::optional<std::string> replaces;
    std::optional<Problem> error;
    // The Retry-After of the response that carried this state, if any.
    std::optional<std::chrono::seconds> retry_after;
};

Result<Order> order_from_json(const Json& document, std::string url);

// newOrder for the identifiers; `replaces` is the ARI certID of the certificate
// being renewed (RFC 9773 §5), omitted when empty.
Result<Order> create_order(Client& client, const std::vector<Identifier>& identifiers,
                           const std::optional<std::string>& replaces = std::nullopt);

// POST-as-GET of the order URL.
Result<Order> fetch_order(Client& client, const std::string& url);

// Poll while the order's status is `transient` ("pending" before finalization,
// "processing" after); returns the first other state. Timing out is an Error.
Result<Order> wait_for_order(Client& client, Order order, std::string_view transient,
                             const PollPolicy& policy);

// Send the CSR (DER) to the order's finalize URL (RFC 8555 §7.4).
Result<Order> finalize_order(Client& client, const Order& order, std::string_view csr_der);

// The Error for an order that ended "invalid" (from its problem, if any).
Error order_failure(const Order& order);

// The Retry-After of a response, ignoring a malformed one.
std::optional<std::chrono::seconds> retry_after_of(const HttpResponse& response);

// Sleep for the next poll delay, or fail when the deadline would pass.
Result<void> wait_before_poll(PollSchedule& schedule,
                              std::optional<std::chrono::seconds> retry_after,
                              const std::string& what);

} // namespace secure_api::acme
