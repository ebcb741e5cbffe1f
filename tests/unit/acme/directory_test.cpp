#include "acme/directory.hpp"
#include "acme/json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secure_api::acme {
namespace {

TEST(Directory, ReadsUrlsRenewalInfoAndTerms) {
    auto directory = parse_directory(R"({
        "newNonce": "https://ca.test/nonce", "newAccount": "https://ca.test/acct",
        "newOrder": "https://ca.test/order", "revokeCert": "https://ca.test/revoke",
        "keyChange": "https://ca.test/key", "renewalInfo": "https://ca.test/ari",
        "meta": {"termsOfService": "https://ca.test/tos", "caaIdentities": ["ca.test"],
                 "externalAccountRequired": false, "profiles": {"x": "y"}}
    })");
    ASSERT_TRUE(directory) << directory.error().message;
    EXPECT_EQ(directory->new_nonce, "https://ca.test/nonce");
    EXPECT_EQ(directory->new_order, "https://ca.test/order");
    EXPECT_EQ(directory->renewal_info, "https://ca.test/ari");
    EXPECT_EQ(directory->terms_of_service, "https://ca.test/tos");
    EXPECT_EQ(directory->caa_identities, std::vector<std::string>{"ca.test"});
    EXPECT_FALSE(directory->new_authz);
}

TEST(Directory, WithoutRenewalInfoHasNone) {
    auto directory = parse_directory(R"({"newNonce": "n", "newAccount": "a",
        "newOrder": "o", "revokeCert": "r"})");
    ASSERT_TRUE(directory);
    EXPECT_FALSE(directory->renewal_info);
    EXPECT_FALSE(directory->terms_of_service);
}

TEST(Directory, NamesTheMissingMember) {
    auto directory = parse_directory(R"({"newAccount": "a", "newOrder": "o", "revokeCert": "r"})");
    ASSERT_FALSE(directory);
    EXPECT_NE(directory.error().message.find("'newNonce'"), std::string::npos);
    EXPECT_FALSE(parse_directory("not json"));
}

// A megabyte of "[" cost the parser 85 MB before it failed; nesting is capped.
TEST(Json, RefusesDeepNestingButNotBracketsInStrings) {
    const auto deep = parse_json(std::string(1'000'000, '['), "the directory");
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().message, "the directory nests deeper than 64 levels");
    const std::string nested = std::string(64, '[') + std::string(64, ']');
    EXPECT_TRUE(parse_json(nested, "x"));
    EXPECT_FALSE(parse_json("[" + nested + "]", "x"));
    // Brackets and escaped quotes inside strings do not count.
    const std::string text = R"({"a": "\")" + std::string(70, '[') + R"(", "b": [1]})";
    EXPECT_TRUE(parse_json(text, "x"));
    EXPECT_TRUE(parse_json(R"(")" + std::string(200, '[') + R"(")", "x"));
}

} // namespace
} // namespace secure_api::acme
