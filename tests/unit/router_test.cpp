#include "server/api_router.hpp"
#include "server/plain_router.hpp"

#include <gtest/gtest.h>

#include <optional>

using namespace secure_api::server;

namespace {

std::optional<std::string> header(const Response& response, std::string_view name) {
    for (const auto& h : response.headers)
        if (h.name == name)
            return h.value;
    return std::nullopt;
}

ApiRouter make_router(ApiOptions options = {}) {
    return ApiRouter(options, [] { return HealthInfo{false, "0a1b"}; });
}

Response get(const ApiRouter& router, std::string_view path, std::string_view method = "GET") {
    return router.handle({method, path, "", "", ""});
}

} // namespace

TEST(ApiRouter, SquareAnswersWithCorsAndType) {
    auto router = make_router();
    Response r = get(router, "/square/15");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "225");
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(header(r, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(get(router, "/square/15", "HEAD").body, "225"); // the server drops the body
}

TEST(ApiRouter, NotFoundRows) {
    auto router = make_router();
    for (const char* path :
         {"/square/-5", "/square/+5", "/square/1.5", "/square/", "/square/15/", "/square/\xd9\xa5",
          "/", "/nope", "/square", "/health/", "/square//15"})
        EXPECT_EQ(get(router, path).status, 404u) << path;
}

TEST(ApiRouter, MethodsOtherThanReadGet405WithAllow) {
    auto router = make_router();
    for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "TRACE"}) {
        Response r = get(router, "/square/15", method);
        EXPECT_EQ(r.status, 405u) << method;
        EXPECT_EQ(header(r, "Allow"), "HEAD, GET, OPTIONS");
    }
    EXPECT_EQ(get(router, "/nope", "POST").status, 404u);
}

TEST(ApiRouter, OptionsAndPreflight) {
    auto router = make_router();
    Response plain = get(router, "/health", "OPTIONS");
    EXPECT_EQ(plain.status, 200u);
    EXPECT_EQ(header(plain, "Allow"), "HEAD, GET, OPTIONS");
    EXPECT_FALSE(header(plain, "Access-Control-Allow-Methods"));
    Response preflight =
        router.handle({"OPTIONS", "/square/3", "https://app.example", "GET", "X-Token"});
    EXPECT_EQ(preflight.status, 200u);
    EXPECT_EQ(header(preflight, "Access-Control-Allow-Methods"), "HEAD, GET, OPTIONS");
    EXPECT_EQ(header(preflight, "Access-Control-Allow-Headers"), "X-Token");
    EXPECT_EQ(header(preflight, "Access-Control-Allow-Origin"), "*");
}

TEST(ApiRouter, TooLongIs414WithOneLineReason) {
    ApiOptions options;
    options.max_digits = 5;
    auto router = make_router(options);
    Response r = get(router, "/square/123456");
    EXPECT_EQ(r.status, 414u);
    EXPECT_EQ(r.body, "Number longer than 5 digits\n");
    EXPECT_EQ(get(router, "/square/12345").body, "152399025");
}

TEST(ApiRouter, HealthIsEmptyWithCertificateHeaders) {
    auto router = make_router();
    Response r = get(router, "/health");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(header(r, "X-Certificate-Status"), "loaded");
    EXPECT_EQ(header(r, "X-Certificate-Serial"), "0a1b");
}

TEST(ApiRouter, CorsAndHstsAreConfigurable) {
    ApiOptions options;
    options.cors_allow_origin = "";
    options.hsts_max_age = 31536000;
    auto router = make_router(options);
    Response r = get(router, "/square/2");
    EXPECT_FALSE(header(r, "Access-Control-Allow-Origin"));
    EXPECT_EQ(header(r, "Strict-Transport-Security"), "max-age=31536000");
}

TEST(HostHeader, AcceptsNamesAddressesAndPorts) {
    EXPECT_EQ(host_without_port("api.test"), "api.test");
    EXPECT_EQ(host_without_port("api.test:8080"), "api.test");
    EXPECT_EQ(host_without_port("127.0.0.1:80"), "127.0.0.1");
    EXPECT_EQ(host_without_port("[::1]:80"), "[::1]");
    EXPECT_EQ(host_without_port("[::1]"), "[::1]");
}

TEST(HostHeader, RejectsEverythingElse) {
    for (const char* bad :
         {"", "evil.test/path", "user@api.test", "api.test:", "api.test:99999", "api test", "[::1",
          "[zz]:80", "a..b", ".a", "api.test:80:80", "[::1]x", "ex\r\nample"})
        EXPECT_FALSE(host_without_port(bad)) << bad;
}

TEST(PlainRouter, RedirectKeepsPathAndQueryAndUsesHttpsPort) {
    ChallengeStore store;
    PlainRouter router(store, 8443);
    Response r = router.handle({"GET", "/a b", "/a%20b?x=1&y", "api.test:8080"});
    EXPECT_EQ(r.status, 301u);
    EXPECT_EQ(header(r, "Location"), "https://api.test:8443/a%20b?x=1&y");
    PlainRouter standard(store, 443);
    EXPECT_EQ(header(standard.handle({"POST", "/", "/", "api.test"}), "Location"),
              "https://api.test/");
}

TEST(PlainRouter, BadHostOrTargetIs400) {
    ChallengeStore store;
    PlainRouter router(store, 443);
    EXPECT_EQ(router.handle({"GET", "/", "/", std::nullopt}).status, 400u);
    EXPECT_EQ(router.handle({"GET", "/", "/", "evil.test/x"}).status, 400u);
    EXPECT_EQ(router.handle({"GET", "//evil.test", "//evil.test", "api.test"}).status, 400u);
}

TEST(PlainRouter, ChallengesAnswerOnlyWhilePublished) {
    ChallengeStore store;
    PlainRouter router(store, 443);
    const char* path = "/.well-known/acme-challenge/tok_en-1";
    EXPECT_EQ(router.handle({"GET", path, path, "api.test"}).status, 404u);
    ASSERT_TRUE(store.publish("tok_en-1", "tok_en-1.thumb"));
    Response r = router.handle({"GET", path, path, "api.test"});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "tok_en-1.thumb");
    store.withdraw("tok_en-1");
    EXPECT_EQ(router.handle({"GET", path, path, "api.test"}).status, 404u);
    const char* bad = "/.well-known/acme-challenge/tok.en";
    EXPECT_EQ(router.handle({"GET", bad, bad, "api.test"}).status, 404u);
}

TEST(ChallengeStore, RejectsNonBase64urlTokens) {
    ChallengeStore store;
    EXPECT_FALSE(store.publish("a/b", "a/b.x"));
    EXPECT_FALSE(store.publish("", ".x"));
    EXPECT_FALSE(store.publish("abc", "no-dot"));
    EXPECT_TRUE(store.publish("abc", "abc.x"));
}
