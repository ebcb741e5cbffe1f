#include "acme/client.hpp"

#include "acme/base64url.hpp"
#include "acme/jws.hpp"
#include "acme/problem.hpp"
#include "acme/retry_after.hpp"

namespace secure_api::acme {

namespace {

bool is_success(const HttpResponse& response) {
    return response.status >= 200 && response.status < 300;
}

std::optional<Problem> problem_of(const HttpResponse& response) {
    if (response.content_type != "application/problem+json") {
        return std::nullopt;
    }
    auto problem = parse_problem(response.body);
    return problem ? std::optional(std::move(*problem)) : std::nullopt;
}

bool is_bad_nonce(const HttpResponse& response) {
    if (response.status != 400) {
        return false;
    }
    const auto problem = problem_of(response);
    return problem && is_acme_error(*problem, "badNonce");
}

Result<HttpResponse> checked(const std::string& method, Result<HttpResponse> response) {
    if (response && !is_success(*response)) {
        return std::unexpected(response_error(method, *response));
    }
    return response;
}

} // namespace

static Error plain_response_error(const std::string& method, const HttpResponse& response) {
    const std::string what = method + " " + secure_api::printable(response.url);
    std::string retry = response.retry_after
                            ? " (Retry-After: " + secure_api::printable(*response.retry_after) + ")"
                            : "";
    if (auto problem = problem_of(response)) {
        if (!problem->status) {
            problem->status = static_cast<int>(response.status);
        }
        return problem_error(*problem).context(what + retry);
    }
    return Error(what + ": HTTP " + std::to_string(response.status) + " with " +
                     (response.content_type.empty() ? std::string("no content type")
                                                    : secure_api::quoted(response.content_type)) +
                     retry,
                 "HttpStatus");
}

Error response_error(const std::string& method, const HttpResponse& response) {
    Error error = plain_response_error(method, response);
    // Kept as a value too, so a rate limit (RFC 8555 §6.6) can be honoured.
    if (response.retry_after)
        if (auto wait = parse_retry_after(*response.retry_after, Clock::now()))
            error.retry_after = *wait;
    return error;
}

Client::Client(std::string directory_url, Directory directory, AccountKey key, Transport transport,
               ClientOptions options)
    : directory_url_(std::move(directory_url)), directory_(std::move(directory)),
      key_(std::move(key)), transport_(std::move(transport)), options_(std::move(options)) {}

Result<Client> Client::connect(const std::string& directory_url, AccountKey key,
                               ClientOptions options) {
    auto transport = Transport::create(options.transport);
    if (!transport) {
        return std::unexpected(transport.error());
    }
    auto response = checked("GET", transport->get(directory_url));
    if (!response) {
        return std::unexpected(response.error().context("fetching the ACME directory"));
    }
    auto directory = parse_directory(response->body);
    if (!directory) {
        return std::unexpected(
            directory.error().context("reading " + secure_api::quoted(directory_url)));
    }
    Client client(directory_url, std::move(*directory), std::move(key), std::move(*transport),
                  std::move(options));
    client.remember(*response);
    return client;
}

bool acceptable_nonce(std::string_view nonce) {
    constexpr std::size_t max_nonce_length = 512;
    return !nonce.empty() && nonce.size() <= max_nonce_length &&
           base64url_decode(nonce).has_value();
}

void Client::remember(const HttpResponse& response) {
    // RFC 8555 §7.2: every response may carry a fresh nonce; keep the newest.
    if (response.replay_nonce && acceptable_nonce(*response.replay_nonce)) {
        nonce_ = response.replay_nonce;
    }
    if (response.date) {
        last_date_ = response.date;
    }
}

Result<std::string> Client::take_nonce() {
    if (!nonce_) {
        auto response = checked("HEAD", transport_.head(directory_.new_nonce));
        if (!response) {
            return std::unexpected(response.error().context("getting a nonce"));
        }
        remember(*response);
        if (!nonce_) {
            return fail("HEAD " + secure_api::printable(directory_.new_nonce) +
                        ": the answer carries no valid Replay-Nonce");
        }
    }
    std::string nonce = std::move(*nonce_);
    nonce_.reset(); // a nonce is good for one request only
    return nonce;
}

Result<HttpResponse> Client::send_once(const std::string& url, const std::string& payload,
                                       bool embed_jwk, std::string_view accept) {
    if (!embed_jwk && !account_url_) {
        return fail("POST " + secure_api::printable(url) +
                    ": no account URL yet; look the account up first");
    }
    auto nonce = take_nonce();
    if (!nonce) {
        return std::unexpected(nonce.error());
    }
    JwsHeader header{std::move(*nonce), url, embed_jwk ? std::nullopt : account_url_};
    auto jws = sign_acme_request(key_, header, payload);
    if (!jws) {
        return std::unexpected(jws.error());
    }
    auto response = transport_.post_jose(url, compact(*jws), accept);
    if (response) {
        remember(*response);
    }
    return response;
}

Result<HttpResponse> Client::signed_post(const std::string& url, const std::string& payload,
                                         bool embed_jwk, std::string_view accept) {
    for (int attempt = 1;; ++attempt) {
        auto response = send_once(url, payload, embed_jwk, accept);
        // RFC 8555 §6.5: on badNonce, retry with the nonce the error carried.
        if (response && is_bad_nonce(*response) && attempt < options_.bad_nonce_attempts) {
            ++bad_nonce_retries_;
            continue;
        }
        return checked("POST", std::move(response));
    }
}

Result<HttpResponse> Client::post(const std::string& url, const Json& payload) {
    return signed_post(url, compact(payload), false, {});
}

Result<HttpResponse> Client::post_as_get(const std::string& url, std::string_view accept) {
    return signed_post(url, std::string(), false, accept);
}

Result<HttpResponse> Client::post_with_jwk(const std::string& url, const Json& payload) {
    return signed_post(url, compact(payload), true, {});
}

Result<HttpResponse> Client::get(const std::string& url) {
    auto response = transport_.get(url);
    if (response) {
        remember(*response);
    }
    return checked("GET", std::move(response));
}

} // namespace secure_api::acme
