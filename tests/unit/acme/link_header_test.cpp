#include "acme/link_header.hpp"
#include "acme/transport.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

TEST(LinkHeader, ReadsSeveralLinksWithQuotedAndBareRelations) {
    const auto links = parse_link_header(
        R"(<https://ca.test/cert/1/alt/1>;rel="alternate", <https://ca.test/dir>; rel=index,)"
        R"( <https://ca.test/issuer>; title="a, b"; rel="up alternate")");
    ASSERT_EQ(links.size(), 3u);
    EXPECT_EQ(links[0].target, "https://ca.test/cert/1/alt/1");
    EXPECT_TRUE(links[0].has_relation("alternate"));
    EXPECT_TRUE(links[1].has_relation("index"));
    EXPECT_TRUE(links[2].has_relation("up"));
    EXPECT_TRUE(links[2].has_relation("ALTERNATE"));
    EXPECT_EQ(links[2].target, "https://ca.test/issuer");
}

TEST(LinkHeader, SkipsMalformedEntries) {
    const auto links = parse_link_header(R"(garbage, <https://ca.test/x>;rel="up")");
    ASSERT_EQ(links.size(), 1u);
    EXPECT_EQ(links[0].target, "https://ca.test/x");
}

TEST(ResolveUrl, ResolvesRelativeReferencesAgainstTheRequest) {
    EXPECT_EQ(resolve_url("https://ca.test/acme/cert/1", "/acme/cert/1/1").value_or(""),
              "https://ca.test/acme/cert/1/1");
    EXPECT_EQ(resolve_url("https://ca.test/acme/cert/1", "https://other.test/a").value_or(""),
              "https://other.test/a");
}

} // namespace
} // namespace secure_api::acme
