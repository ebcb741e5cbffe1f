#include "acme/identifier.hpp"

namespace secure_api::acme {

Identifier dns_identifier(std::string name) {
    return Identifier{"dns", std::move(name)};
}

Json to_json(const Identifier& identifier) {
    return Json{{"type", identifier.type}, {"value", identifier.value}};
}

Result<Identifier> identifier_from_json(const Json& value, std::string_view what) {
    auto type = string_member(value, "type", what);
    if (!type) {
        return std::unexpected(type.error());
    }
    auto text = string_member(value, "value", what);
    if (!text) {
        return std::unexpected(text.error());
    }
    return Identifier{std::move(*type), std::move(*text)};
}

std::string describe(const Identifier& identifier) {
    return identifier.type + " " + secure_api::quoted(identifier.value);
}

} // namespace secure_api::acme
