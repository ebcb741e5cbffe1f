#include "acme/base64url.hpp"
#include "acme/client.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

TEST(Base64url, EncodesTheRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64url, UsesTheUrlSafeAlphabet) {
    // 0xfb 0xff 0xbf is "+/+/" in standard base64.
    EXPECT_EQ(base64url_encode(std::string("\xfb\xff\xbf", 3)), "-_-_");
    EXPECT_EQ(base64url_encode(std::string("\x03\xe0", 2)), "A-A");
}

TEST(Base64url, RoundTripsEveryByteValue) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes.push_back(static_cast<char>(i));
    }
    for (size_t length = 0; length <= bytes.size(); length += 37) {
        const std::string input = bytes.substr(0, length);
        auto decoded = base64url_decode(base64url_encode(input));
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(*decoded, input);
    }
}

TEST(Base64url, RejectsPaddingStandardAlphabetAndImpossibleLengths) {
    EXPECT_FALSE(base64url_decode("Zg=="));
    EXPECT_FALSE(base64url_decode("+/+/"));
    EXPECT_FALSE(base64url_decode("Zm9v Yg"));
    const auto too_short = base64url_decode("Zm9vY");
    ASSERT_FALSE(too_short);
    EXPECT_NE(too_short.error().message.find("length"), std::string::npos);
}

// RFC 8555 §6.5.1: the nonces the client keeps and sends back.
TEST(ReplayNonce, KeepsBase64urlAndIgnoresTheRest) {
    EXPECT_TRUE(acceptable_nonce("oFvnlFP1wIhRlYS2jTaXbA"));
    EXPECT_TRUE(acceptable_nonce("A-_z09"));
    for (const char* nonce : {"", "a\"b\\c", "abc=", "ab+/", "a b", "x\x01y", "A"}) {
        EXPECT_FALSE(acceptable_nonce(nonce)) << nonce;
    }
    EXPECT_TRUE(acceptable_nonce(std::string(512, 'n')));
    EXPECT_FALSE(acceptable_nonce(std::string(516, 'n')));
}

} // namespace
} // namespace secure_api::acme
