#include "acme/transport.hpp"

#include "build_config.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>

#include <unistd.h>

namespace secure_api::acme {

namespace {

struct CurlDeleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

struct UrlDeleter {
    void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlString {
    char* text = nullptr;
    CurlString() = default;
    CurlString(const CurlString&) = delete;
    CurlString& operator=(const CurlString&) = delete;
    ~CurlString() { curl_free(text); }
};

// curl_global_init is not thread-safe; run it once, before the first handle.
void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

// What the callbacks write into while one request runs.
struct Exchange {
    HttpResponse response;
    std::vector<std::string> link_values;
    std::size_t max_body = 0;
    bool body_too_large = false;
};

void take_header(Exchange& exchange, std::string_view line) {
    if (line.starts_with("HTTP/")) {
        // A new status line: whatever came before was an interim (1xx) response.
        std::string url = std::move(exchange.response.url);
        exchange.response = HttpResponse();
        exchange.response.url = std::move(url);
        exchange.link_values.clear();
        return;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        return;
    }
    const std::string name = lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    HttpResponse& r = exchange.response;
    if (name == "replay-nonce") {
        r.replay_nonce = std::move(value);
    } else if (name == "location") {
        r.location = std::move(value);
    } else if (name == "retry-after") {
        r.retry_after = std::move(value);
    } else if (name == "date") {
        r.date = std::move(value);
    } else if (name == "content-type") {
        r.content_type = lower(trim(std::string_view(value).substr(0, value.find(';'))));
    } else if (name == "link") {
        exchange.link_values.push_back(std::move(value));
    }
}

// libcurl callbacks: noexcept, nothing may throw into C.
size_t on_header(char* data, size_t size, size_t count, void* user) noexcept {
    try {
        take_header(*static_cast<Exchange*>(user), std::string_view(data, size * count));
    } catch (...) {
        return 0; // out of memory: abort the transfer
    }
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) noexcept {
    auto& exchange = *static_cast<Exchange*>(user);
    const size_t bytes = size * count;
    if (exchange.response.body.size() + bytes > exchange.max_body) {
        exchange.body_too_large = true;
        return 0;
    }
    try {
        exchange.response.body.append(data, bytes);
    } catch (...) {
        return 0;
    }
    return bytes;
}

// libcurl loads its CA bundle file and, on top, every file of its CA directory (Debian:
// /etc/ssl/certs, each anchor there twice, as a hash link and by name) on each new
// connection: a few hundred certificates parsed and kept, most of a first issuance's memory
// and CPU. One file is enough. A configured bundle is the whole trust, as the setting says;
// otherwise libcurl's own default bundle file, when it has one that is readable; otherwise
// libcurl's defaults untouched.
std::string choose_trust_file(CURL* curl, const std::string& configured) {
    if (!configured.empty()) {
        return configured;
    }
    char* default_file = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CAINFO, &default_file) != CURLE_OK ||
        default_file == nullptr || ::access(default_file, R_OK) != 0) {
        return {};
    }
    return default_file;
}

std::string default_user_agent() {
    return std::string("secure-api/") + SECURE_API_VERSION;
}

} // namespace

std::vector<std::string> HttpResponse::link_targets(std::string_view rel) const {
    std::vector<std::string> targets;
    for (const Link& link : links) {
        if (link.has_relation(rel)) {
            targets.push_back(link.target);
        }
    }
    return targets;
}

Result<std::string> resolve_url(const std::string& base, const std::string& reference) {
    UrlHandle url(curl_url());
    if (!url) {
        return fail("out of memory parsing a URL");
    }
    if (curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) {
        return fail("the URL " + secure_api::quoted(base) + " does not parse");
    }
    if (curl_url_set(url.get(), CURLUPART_URL, reference.c_str(), 0) != CURLUE_OK) {
        return fail("the URL reference " + secure_api::quoted(reference) + " does not parse");
    }
    CurlString resolved;
    if (curl_url_get(url.get(), CURLUPART_URL, &resolved.text, 0) != CURLUE_OK) {
        return fail("the URL reference " + secure_api::quoted(reference) + " does not resolve");
    }
    return std::string(resolved.text);
}

struct Transport::State {
    TransportOptions options;
    CurlHandle curl;
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    // The one file of trust anchors every connection loads (see choose_trust_file).
    std::string trust_file;

    Result<HttpResponse> perform(const std::string& method, const std::string& url,
                                 const std::string* body, std::string_view accept);
    Result<void> configure(const std::string& method, const std::string& url,
                           const std::string* body, curl_slist* headers, Exchange& exchange);
    Result<void> finish(Exchange& exchange, const std::string& method, CURLcode code);
};

Result<void> Transport::State::configure(const std::string& method, const std::string& url,
                                         const std::string* body, curl_slist* headers,
                                         Exchange& exchange) {
    CURL* c = curl.get();
    curl_easy_reset(c); // keeps the connection cache, drops the previous request's options
    error_buffer[0] = '\0';
    bool ok = curl_easy_setopt(c, CURLOPT_URL, url.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer.data()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                               static_cast<long>(options.connect_timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                               static_cast<long>(options.total_timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                               static_cast<curl_off_t>(options.max_body)) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, &exchange) == CURLE_OK;
    if (ok && !trust_file.empty()) {
        ok = curl_easy_setopt(c, CURLOPT_CAINFO, trust_file.c_str()) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_CAPATH, nullptr) == CURLE_OK;
    }
    if (ok && method == "HEAD") {
        ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
    }
    if (ok && body != nullptr) {
        ok = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str()) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                              static_cast<curl_off_t>(body->size())) == CURLE_OK;
    }
    if (!ok) {
        return fail(method + " " + secure_api::quoted(url) + ": libcurl refused an option");
    }
    return {};
}

Result<void> Transport::State::finish(Exchange& exchange, const std::string& method,
                                      CURLcode code) {
    const std::string what = method + " " + exchange.response.url;
    if (exchange.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        return fail(what + ": the response body is larger than " +
                    std::to_string(options.max_body) + " bytes");
    }
    if (code != CURLE_OK) {
        const std::string detail =
            error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(code);
        return fail(what + ": " + detail);
    }
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &exchange.response.status);
    HttpResponse& r = exchange.response;
    if (r.location) {
        auto resolved = resolve_url(r.url, *r.location);
        r.location = resolved ? std::optional(*resolved) : std::nullopt;
    }
    for (const std::string& value : exchange.link_values) {
        for (Link& link : parse_link_header(value)) {
            auto resolved = resolve_url(r.url, link.target);
            if (resolved) {
                link.target = std::move(*resolved);
                r.links.push_back(std::move(link));
            }
        }
    }
    return {};
}

Result<HttpResponse> Transport::State::perform(const std::string& method, const std::string& url,
                                               const std::string* body, std::string_view accept) {
    HeaderList headers;
    auto add_header = [&headers](const std::string& line) {
        curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
        if (grown != nullptr) {
            (void)headers.release();
            headers.reset(grown);
        }
        return grown != nullptr;
    };
    // "Expect:" stops libcurl from waiting for 100-continue on larger bodies.
    bool ok = add_header("Expect:");
    if (body != nullptr) {
        ok = ok && add_header("Content-Type: application/jose+json");
    }
    if (!accept.empty()) {
        ok = ok && add_header("Accept: " + std::string(accept));
    }
    if (!ok) {
        return fail(method + " " + secure_api::quoted(url) + ": out of memory building headers");
    }
    Exchange exchange;
    exchange.response.url = url;
    exchange.max_body = options.max_body;
    if (auto configured = configure(method, url, body, headers.get(), exchange); !configured) {
        return std::unexpected(configured.error());
    }
    const CURLcode code = curl_easy_perform(curl.get());
    if (auto finished = finish(exchange, method, code); !finished) {
        return std::unexpected(finished.error());
    }
    return std::move(exchange.response);
}

Transport::Transport(std::unique_ptr<State> state) : state_(std::move(state)) {}
Transport::Transport(Transport&&) noexcept = default;
Transport& Transport::operator=(Transport&&) noexcept = default;
Transport::~Transport() = default;

Result<Transport> Transport::create(TransportOptions options) {
    global_init();
    auto state = std::make_unique<State>();
    state->curl.reset(curl_easy_init());
    if (!state->curl) {
        return fail("libcurl could not create a handle");
    }
    if (options.user_agent.empty()) {
        options.user_agent = default_user_agent();
    }
    state->options = std::move(options);
    state->trust_file = choose_trust_file(state->curl.get(), state->options.ca_bundle);
    return Transport(std::move(state));
}

const TransportOptions& Transport::options() const {
    return state_->options;
}

Result<HttpResponse> Transport::get(const std::string& url) {
    return state_->perform("GET", url, nullptr, {});
}

Result<HttpResponse> Transport::head(const std::string& url) {
    return state_->perform("HEAD", url, nullptr, {});
}

Result<HttpResponse> Transport::post_jose(const std::string& url, std::string_view body,
                                          std::string_view accept) {
    const std::string copy(body);
    return state_->perform("POST", url, &copy, accept);
}

} // namespace secure_api::acme
