#include "server/api_router.hpp"

#include "server/square.hpp"

namespace secure_api::server {
namespace {

constexpr std::string_view square_prefix = "/square/";

Response status_only(unsigned status, std::string body = {}) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

} // namespace

ApiRouter::ApiRouter(ApiOptions options, std::function<HealthInfo()> health)
    : options_(std::move(options)), health_(std::move(health)) {
    if (options_.hsts_max_age > 0)
        hsts_value_ = "max-age=" + std::to_string(options_.hsts_max_age);
}

ApiRouter::Route ApiRouter::match(std::string_view path, std::string_view& digits) const {
    if (path == "/health")
        return Route::health;
    if (!path.starts_with(square_prefix))
        return Route::none;
    digits = path.substr(square_prefix.size());
    switch (check_digits(digits, options_.max_digits)) {
    case DigitsCheck::ok:
        return Route::square;
    case DigitsCheck::too_long:
        return Route::square_too_long;
    case DigitsCheck::not_digits:
        return Route::none;
    }
    return Route::none;
}

Response ApiRouter::handle(const ApiRequest& request) const {
    std::string_view digits;
    Route route = match(request.path, digits);
    Response response = dispatch(route, digits, request);
    decorate(response);
    return response;
}

Response ApiRouter::dispatch(Route route, std::string_view digits,
                             const ApiRequest& request) const {
    if (route == Route::none)
        return status_only(404, "Not found\n");
    if (route == Route::square_too_long)
        return status_only(414, "Number longer than " + std::to_string(options_.max_digits) +
                                    " digits\n");
    if (request.method == "GET" || request.method == "HEAD")
        return get(route, digits);
    if (request.method == "OPTIONS")
        return options(request);
    Response response = status_only(405, "Method not allowed\n");
    response.add("Allow", std::string(allowed_methods));
    return response;
}

Response ApiRouter::get(Route route, std::string_view digits) const {
    if (route == Route::square)
        return status_only(200, square(digits));
    HealthInfo info = health_();
    Response response = status_only(200);
    response.add("X-Certificate-Status", info.placeholder ? "placeholder" : "loaded");
    response.add("X-Certificate-Serial", std::move(info.serial));
    return response;
}

// A CORS preflight (Fetch standard, "CORS protocol") is an OPTIONS request
// with Origin and Access-Control-Request-Method; anything else is a plain
// OPTIONS that only learns the allowed methods.
Response ApiRouter::options(const ApiRequest& request) const {
    Response response = status_only(200);
    response.add("Allow", std::string(allowed_methods));
    bool preflight = !request.origin.empty() && !request.preflight_method.empty();
    if (!preflight || options_.cors_allow_origin.empty())
        return response;
    response.add("Access-Control-Allow-Methods", std::string(allowed_methods));
    if (!request.preflight_headers.empty())
        response.add("Access-Control-Allow-Headers", std::string(request.preflight_headers));
    response.add("Access-Control-Max-Age", "86400");
    return response;
}

void ApiRouter::decorate(Response& response) const {
    response.add("Content-Type", "text/plain; charset=utf-8");
    if (!options_.cors_allow_origin.empty())
        response.add("Access-Control-Allow-Origin", options_.cors_allow_origin);
    if (!hsts_value_.empty())
        response.add("Strict-Transport-Security", hsts_value_);
}

} // namespace secure_api::server
