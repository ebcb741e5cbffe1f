// Problem documents (RFC 7807, RFC 8555 §6.7): what an ACME server says went wrong.
#pragma once

#include "acme/identifier.hpp"
#include "acme/json.hpp"
#include "common/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

// The ACME error namespace; problem types are this prefix plus a name (§6.7).
inline constexpr std::string_view acme_error_prefix = "urn:ietf:params:acme:error:";

struct Subproblem {
    std::string type;
    std::string detail;
    std::optional<Identifier> identifier;
};

struct Problem {
    std::string type; // "about:blank" when the document has none (RFC 7807 §4.2)
    std::string detail;
    std::optional<int> status;
    std::vector<Subproblem> subproblems;
};

Result<Problem> problem_from_json(const Json& document);
Result<Problem> parse_problem(std::string_view body);

// True when the problem's type is urn:ietf:params:acme:error:<name>.
bool is_acme_error(const Problem& problem, std::string_view name);

// One line: type, detail, HTTP status and each subproblem with its identifier.
std::string describe(const Problem& problem);

// An Error whose name is the problem type, so callers can branch on it.
Error problem_error(const Problem& problem);

} // namespace secure_api::acme
