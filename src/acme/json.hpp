// Reading JSON from the CA without exceptions: every accessor names the member
// and the object it looked in, so a malformed answer becomes one clear line.
#pragma once

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

using Json = nlohmann::json;

// Parse text as JSON; `what` names the document for the error ("the directory").
Result<Json> parse_json(std::string_view text, std::string_view what);

// A required string member.
Result<std::string> string_member(const Json& object, std::string_view key, std::string_view what);

// An optional string member: absent or null gives nullopt; another type is an error.
Result<std::optional<std::string>> optional_string_member(const Json& object, std::string_view key,
                                                          std::string_view what);

// A required array of strings (an empty array is allowed).
Result<std::vector<std::string>> string_array_member(const Json& object, std::string_view key,
                                                     std::string_view what);

// Compact serialization with members in lexicographic order (nlohmann's object
// is a sorted map), as RFC 7638 §3 asks for the thumbprint input.
std::string compact(const Json& value);

} // namespace secure_api::acme
