// What a router answers, independent of the HTTP library that sends it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secure_api::server {

struct Header {
    std::string_view name; // always a literal
    std::string value;
};

struct Response {
    unsigned status = 200;
    std::string body;
    std::vector<Header> headers;

    void add(std::string_view name, std::string value) {
        headers.push_back({name, std::move(value)});
    }
};

inline constexpr std::string_view allowed_methods = "HEAD, GET, OPTIONS";

} // namespace secure_api::server
