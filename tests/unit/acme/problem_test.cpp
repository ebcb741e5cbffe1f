#include "acme/client.hpp"
#include "acme/problem.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secure_api::acme {
namespace {

// RFC 8555 §6.7.1's example, with a line break in a detail.
constexpr const char* compound = R"({
    "type": "urn:ietf:params:acme:error:malformed",
    "detail": "Some of the identifiers requested were rejected",
    "status": 400,
    "subproblems": [
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Invalid underscore in DNS name \"_example.org\"",
            "identifier": {"type": "dns", "value": "_example.org"}
        },
        {
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "This CA will not issue\nfor \"example.net\"",
            "identifier": {"type": "dns", "value": "example.net"}
        }
    ]
})";

TEST(Problem, ParsesTypeDetailStatusAndSubproblems) {
    auto problem = parse_problem(compound);
    ASSERT_TRUE(problem) << problem.error().message;
    EXPECT_EQ(problem->type, "urn:ietf:params:acme:error:malformed");
    EXPECT_EQ(problem->detail, "Some of the identifiers requested were rejected");
    EXPECT_EQ(problem->status, 400);
    ASSERT_EQ(problem->subproblems.size(), 2u);
    EXPECT_EQ(problem->subproblems[1].type, "urn:ietf:params:acme:error:rejectedIdentifier");
    EXPECT_EQ(problem->subproblems[1].identifier, dns_identifier("example.net"));
    EXPECT_TRUE(is_acme_error(*problem, "malformed"));
    EXPECT_FALSE(is_acme_error(*problem, "badNonce"));
}

// A "status" that is no HTTP status (99999999999999 printed as HTTP 276447231) is
// ignored.
TEST(Problem, IgnoresAStatusThatIsNoHttpStatus) {
    for (const char* status : {"99999999999999", "-1", "99", "600", "\"400\"", "4.5e2"}) {
        const std::string text =
            std::string(R"({"type": "urn:ietf:params:acme:error:malformed", "status": )") + status +
            "}";
        auto problem = parse_problem(text);
        ASSERT_TRUE(problem) << status;
        EXPECT_FALSE(problem->status) << status;
    }
}

TEST(Problem, ErrorIsNamedAfterTheTypeAndSaysEverythingOnOneLine) {
    auto problem = parse_problem(compound);
    ASSERT_TRUE(problem);
    const Error error = problem_error(*problem);
    EXPECT_EQ(error.name, "urn:ietf:params:acme:error:malformed");
    EXPECT_EQ(error.message.find('\n'), std::string::npos);
    for (const char* part :
         {"urn:ietf:params:acme:error:malformed", "Some of the identifiers requested were rejected",
          "HTTP 400", "dns '_example.org'", "dns 'example.net'",
          "urn:ietf:params:acme:error:rejectedIdentifier", "This CA will not issue for"}) {
        EXPECT_NE(error.message.find(part), std::string::npos) << part << " in " << error.message;
    }
}

TEST(Problem, RateLimitedKeepsItsTypeAsTheErrorName) {
    auto problem = parse_problem(R"({"type":"urn:ietf:params:acme:error:rateLimited",
        "detail":"too many certificates already issued"})");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem_error(*problem).name, "urn:ietf:params:acme:error:rateLimited");
    EXPECT_FALSE(problem->status);
}

TEST(Problem, AMissingTypeIsAboutBlank) {
    auto problem = parse_problem(R"({"detail":"no type"})");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->type, "about:blank");
}

TEST(Problem, RejectsDocumentsThatAreNotProblems) {
    EXPECT_FALSE(parse_problem("<html>502 Bad Gateway</html>"));
    EXPECT_FALSE(parse_problem("[]"));
    EXPECT_FALSE(parse_problem(R"({"type": 7})"));
    EXPECT_FALSE(parse_problem(R"({"type":"x","subproblems":{}})"));
}

TEST(ResponseError, CarriesTheProblemTheStatusAndTheRetryAfter) {
    HttpResponse response;
    response.url = "https://ca.test/new-order";
    response.status = 429;
    response.content_type = "application/problem+json";
    response.retry_after = "60";
    response.body = R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"})";
    const Error error = response_error("POST", response);
    EXPECT_EQ(error.name, "urn:ietf:params:acme:error:rateLimited");
    for (const char* part :
         {"POST https://ca.test/new-order", "slow down", "HTTP 429", "Retry-After: 60"}) {
        EXPECT_NE(error.message.find(part), std::string::npos) << part << " in " << error.message;
    }
    ASSERT_TRUE(error.retry_after);
    EXPECT_EQ(*error.retry_after, std::chrono::seconds(60));
}

TEST(ResponseError, WithoutAProblemDocumentNamesTheStatus) {
    HttpResponse response;
    response.url = "https://ca.test/dir";
    response.status = 502;
    response.content_type = "text/html";
    response.body = "<html>Bad Gateway</html>";
    const Error error = response_error("GET", response);
    EXPECT_EQ(error.name, "HttpStatus");
    EXPECT_NE(error.message.find("HTTP 502"), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("'text/html'"), std::string::npos) << error.message;
}

} // namespace
} // namespace secure_api::acme
