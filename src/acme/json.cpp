#include "acme/json.hpp"

namespace secure_api::acme {

namespace {

std::string member_name(std::string_view key, std::string_view what) {
    return std::string(what) + " member " + secure_api::quoted(key);
}

const Json* find_member(const Json& object, std::string_view key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(std::string(key));
    return it == object.end() ? nullptr : &*it;
}

// ACME documents nest a few levels (an order's identifiers, a problem's
// subproblems). The parser keeps a frame per open bracket, so a megabyte of "["
// costs tens of megabytes before it fails: deeper input is refused up front.
constexpr int max_depth = 64;

bool nests_too_deep(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                return true;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

} // namespace

Result<Json> parse_json(std::string_view text, std::string_view what) {
    if (nests_too_deep(text)) {
        return fail(std::string(what) + " nests deeper than " + std::to_string(max_depth) +
                    " levels");
    }
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return fail(std::string(what) + " is not valid JSON");
    }
    return value;
}

Result<std::string> string_member(const Json& object, std::string_view key, std::string_view what) {
    const Json* member = find_member(object, key);
    if (member == nullptr) {
        return fail(member_name(key, what) + " is missing");
    }
    if (!member->is_string()) {
        return fail(member_name(key, what) + " is not a string");
    }
    return member->get<std::string>();
}

Result<std::optional<std::string>> optional_string_member(const Json& object, std::string_view key,
                                                          std::string_view what) {
    const Json* member = find_member(object, key);
    if (member == nullptr || member->is_null()) {
        return std::optional<std::string>();
    }
    if (!member->is_string()) {
        return fail(member_name(key, what) + " is not a string");
    }
    return std::optional<std::string>(member->get<std::string>());
}

Result<std::vector<std::string>> string_array_member(const Json& object, std::string_view key,
                                                     std::string_view what) {
    const Json* member = find_member(object, key);
    if (member == nullptr) {
        return fail(member_name(key, what) + " is missing");
    }
    if (!member->is_array()) {
        return fail(member_name(key, what) + " is not an array");
    }
    std::vector<std::string> values;
    for (const Json& item : *member) {
        if (!item.is_string()) {
            return fail(member_name(key, what) + " holds a value that is not a string");
        }
        values.push_back(item.get<std::string>());
    }
    return values;
}

std::string compact(const Json& value) {
    // Replace invalid UTF-8 rather than throw: the input is ours or was parsed already.
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

} // namespace secure_api::acme
