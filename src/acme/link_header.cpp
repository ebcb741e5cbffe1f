#include "acme/link_header.hpp"

#include "acme/http1.hpp"

#include <algorithm>

namespace secure_api::acme {

namespace {

using http1::lower;
using http1::trim;

// Splits at `separator` outside <...> and "..." (a quoted string may hold commas).
std::vector<std::string_view> split_outside_quotes(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    bool in_quotes = false;
    bool in_angle = false;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_quotes && c == '\\') {
            ++i;
        } else if (c == '"' && !in_angle) {
            in_quotes = !in_quotes;
        } else if (!in_quotes && (c == '<' || c == '>')) {
            in_angle = c == '<';
        } else if (c == separator && !in_quotes && !in_angle) {
            parts.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    parts.push_back(text.substr(start));
    return parts;
}

// rel="a b" or rel=a: the space-separated relation types, lower-cased (RFC 8288 §3.3).
std::vector<std::string> relations_of(std::string_view value) {
    value = trim(value);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
    }
    std::vector<std::string> relations;
    size_t pos = 0;
    while (pos < value.size()) {
        const size_t end = std::min(value.find(' ', pos), value.size());
        if (end > pos) {
            relations.push_back(lower(value.substr(pos, end - pos)));
        }
        pos = end + 1;
    }
    return relations;
}

bool parse_link(std::string_view text, Link& out) {
    text = trim(text);
    const size_t close = text.find('>');
    if (!text.starts_with('<') || close == std::string_view::npos) {
        return false;
    }
    out.target = std::string(text.substr(1, close - 1));
    const auto params = split_outside_quotes(text.substr(close + 1), ';');
    for (std::string_view param : params) {
        const size_t equals = param.find('=');
        if (equals != std::string_view::npos && lower(trim(param.substr(0, equals))) == "rel" &&
            out.relations.empty()) {
            out.relations = relations_of(param.substr(equals + 1));
        }
    }
    return true;
}

} // namespace

bool Link::has_relation(std::string_view rel) const {
    return std::find(relations.begin(), relations.end(), lower(rel)) != relations.end();
}

std::vector<Link> parse_link_header(std::string_view value) {
    std::vector<Link> links;
    for (std::string_view entry : split_outside_quotes(value, ',')) {
        Link link;
        if (parse_link(entry, link)) {
            links.push_back(std::move(link));
        }
    }
    return links;
}

} // namespace secure_api::acme
