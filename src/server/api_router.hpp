// The HTTPS API: /square/<digits> and /health, answered the way the
// reference Flask application answers them.
#pragma once

#include "server/response.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace secure_api::server {

struct ApiRequest {
    std::string_view method;
    std::string_view path; // percent-decoded, without the query
    std::string_view origin;
    std::string_view preflight_method;  // Access-Control-Request-Method
    std::string_view preflight_headers; // Access-Control-Request-Headers
};

struct ApiOptions {
    std::string cors_allow_origin = "*"; // empty: no CORS headers
    std::uint64_t hsts_max_age = 0;      // 0: no Strict-Transport-Security
    std::size_t max_digits = 10000;
};

struct HealthInfo {
    bool placeholder = true;
    std::string serial;
};

class ApiRouter {
public:
    ApiRouter(ApiOptions options, std::function<HealthInfo()> health);

    Response handle(const ApiRequest& request) const;

private:
    enum class Route { none, square, square_too_long, health };

    Route match(std::string_view path, std::string_view& digits) const;
    Response dispatch(Route route, std::string_view digits, const ApiRequest& request) const;
    Response get(Route route, std::string_view digits) const;
    Response options(const ApiRequest& request) const;
    void decorate(Response& response) const;

    ApiOptions options_;
    std::function<HealthInfo()> health_;
    std::string hsts_value_;
};

} // namespace secure_api::server
