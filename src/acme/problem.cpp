#include "acme/problem.hpp"

#include <cstdint>

namespace secure_api::acme {

namespace {

constexpr std::string_view what = "the problem document";

Result<std::string> optional_text(const Json& document, std::string_view key,
                                  std::string_view fallback) {
    auto value = optional_string_member(document, key, what);
    if (!value) {
        return std::unexpected(value.error());
    }
    return value->value_or(std::string(fallback));
}

Result<Subproblem> subproblem_from_json(const Json& document) {
    auto type = optional_text(document, "type", "about:blank");
    auto detail = type ? optional_text(document, "detail", "") : type;
    if (!detail) {
        return std::unexpected(detail.error());
    }
    Subproblem sub{std::move(*type), std::move(*detail), std::nullopt};
    if (document.contains("identifier")) {
        auto identifier = identifier_from_json(document["identifier"], "a subproblem identifier");
        if (!identifier) {
            return std::unexpected(identifier.error());
        }
        sub.identifier = std::move(*identifier);
    }
    return sub;
}

Result<std::vector<Subproblem>> subproblems_from_json(const Json& document) {
    std::vector<Subproblem> subs;
    const auto it = document.find("subproblems");
    if (it == document.end() || it->is_null()) {
        return subs;
    }
    if (!it->is_array()) {
        return fail("the problem document member 'subproblems' is not an array");
    }
    for (const Json& item : *it) {
        auto sub = subproblem_from_json(item);
        if (!sub) {
            return std::unexpected(sub.error());
        }
        subs.push_back(std::move(*sub));
    }
    return subs;
}

// RFC 7807 §3.1: "status" is the HTTP status code; anything else (a number past
// int's range would wrap) is ignored and the response's own status stands.
std::optional<int> status_from_json(const Json& document) {
    const auto it = document.find("status");
    if (it == document.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    const auto status = it->get<std::int64_t>();
    if (status < 100 || status > 599) {
        return std::nullopt;
    }
    return static_cast<int>(status);
}

std::string describe(const Subproblem& sub) {
    std::string out = sub.identifier ? describe(*sub.identifier) + ": " : std::string();
    out += sub.type;
    if (!sub.detail.empty()) {
        out += ": " + sub.detail;
    }
    return out;
}

// The server's text goes into a log line: no line breaks or other controls.
std::string one_line(std::string text) {
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            c = ' ';
        }
    }
    return text;
}

} // namespace

Result<Problem> problem_from_json(const Json& document) {
    if (!document.is_object()) {
        return fail("the problem document is not a JSON object");
    }
    auto type = optional_text(document, "type", "about:blank");
    auto detail = type ? optional_text(document, "detail", "") : type;
    if (!detail) {
        return std::unexpected(detail.error());
    }
    auto subs = subproblems_from_json(document);
    if (!subs) {
        return std::unexpected(subs.error());
    }
    return Problem{std::move(*type), std::move(*detail), status_from_json(document),
                   std::move(*subs)};
}

Result<Problem> parse_problem(std::string_view body) {
    auto document = parse_json(body, what);
    if (!document) {
        return std::unexpected(document.error());
    }
    return problem_from_json(*document);
}

bool is_acme_error(const Problem& problem, std::string_view name) {
    return problem.type.size() == acme_error_prefix.size() + name.size() &&
           problem.type.starts_with(acme_error_prefix) && problem.type.ends_with(name);
}

std::string describe(const Problem& problem) {
    std::string out = problem.type;
    if (!problem.detail.empty()) {
        out += ": " + problem.detail;
    }
    if (problem.status) {
        out += " (HTTP " + std::to_string(*problem.status) + ")";
    }
    for (size_t i = 0; i < problem.subproblems.size(); ++i) {
        out += i == 0 ? "; subproblems: " : "; ";
        out += describe(problem.subproblems[i]);
    }
    return one_line(std::move(out));
}

Error problem_error(const Problem& problem) {
    return Error(describe(problem), problem.type);
}

} // namespace secure_api::acme
