// ACME identifiers (RFC 8555 §7.1.3, §9.7.7): {"type": "dns", "value": "example.org"}.
#pragma once

#include "acme/json.hpp"
#include "common/error.hpp"

#include <string>
#include <vector>

namespace secure_api::acme {

struct Identifier {
    std::string type;
    std::string value;

    bool operator==(const Identifier&) const = default;
};

Identifier dns_identifier(std::string name);
Json to_json(const Identifier& identifier);
Result<Identifier> identifier_from_json(const Json& value, std::string_view what);
// "dns \"example.org\"", for messages.
std::string describe(const Identifier& identifier);

} // namespace secure_api::acme
