// Squares checked against Python's own big integers, an independent implementation.
#include "server/square.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>

using secure_api::server::check_digits;
using secure_api::server::DigitsCheck;
using secure_api::server::square;

namespace {

std::string python_square(const std::string& digits) {
    std::string command = "python3 -c 'import sys; sys.set_int_max_str_digits(0); "
                          "n = int(sys.argv[1]); print(n * n, end=\"\")' " +
                          digits;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    std::string out;
    char buffer[4096];
    size_t n = 0;
    while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe.get())) > 0)
        out.append(buffer, n);
    return out;
}

std::string random_digits(std::mt19937_64& random, size_t length) {
    std::uniform_int_distribution<int> digit(0, 9);
    std::string out;
    for (size_t i = 0; i < length; ++i)
        out += static_cast<char>('0' + digit(random));
    return out;
}

} // namespace

TEST(Square, SmallNumbers) {
    EXPECT_EQ(square("15"), "225");
    EXPECT_EQ(square("0"), "0");
    EXPECT_EQ(square("0000"), "0");
    EXPECT_EQ(square("007"), "49");
    EXPECT_EQ(square("1"), "1");
}

TEST(Square, AroundTheSmallNumberLimitMatchesPython) {
    for (const char* digits :
         {"9999999999999999999", "10000000000000000000", "18446744073709551615",
          "18446744073709551616", "340282366920938463463374607431768211455"})
        EXPECT_EQ(square(digits), python_square(digits)) << digits;
}

TEST(Square, RandomLengthsMatchPython) {
    std::mt19937_64 random(20261204);
    for (size_t length : {1u, 2u, 9u, 18u, 19u, 20u, 21u, 38u, 39u, 40u, 100u, 1000u, 10000u}) {
        std::string digits = random_digits(random, length);
        EXPECT_EQ(square(digits), python_square(digits)) << "length " << length;
    }
}

TEST(Square, LeadingZerosOnALongNumber) {
    std::string digits = std::string(50, '0') + "123456789012345678901234567890";
    EXPECT_EQ(square(digits), python_square(digits));
}

TEST(CheckDigits, OnlyAsciiDigitsCount) {
    EXPECT_EQ(check_digits("15", 10), DigitsCheck::ok);
    EXPECT_EQ(check_digits("000", 10), DigitsCheck::ok);
    for (const char* text : {"", "-5", "+5", "1.5", "15/", " 15", "1e3", "0x10", "\xd9\xa5"})
        EXPECT_EQ(check_digits(text, 10), DigitsCheck::not_digits) << text;
}

TEST(CheckDigits, LimitIsInclusive) {
    EXPECT_EQ(check_digits("12345", 5), DigitsCheck::ok);
    EXPECT_EQ(check_digits("123456", 5), DigitsCheck::too_long);
}
