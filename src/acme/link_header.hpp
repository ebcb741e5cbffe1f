// The Link header (RFC 8288), which ACME uses for alternate certificate chains
// (rel="alternate", RFC 8555 §7.4.2), the issuer (rel="up") and the directory
// (rel="index").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme {

struct Link {
    std::string target; // as sent; may be relative to the request URL
    std::vector<std::string> relations;

    bool has_relation(std::string_view rel) const;
};

// Every link of one header field value; malformed entries are skipped.
std::vector<Link> parse_link_header(std::string_view value);

} // namespace secure_api::acme
