#include "common/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secure_api {
namespace {

TEST(Quoted, KeepsPlainTextAsItIs) {
    EXPECT_EQ(quoted("api.example.org"), "'api.example.org'");
    EXPECT_EQ(printable("https://ca.test/dir"), "https://ca.test/dir");
}

// A value from a server must not act on the terminal that reads the log (ESC
// sequences) nor split or overwrite the line (CR, LF, NUL).
TEST(Quoted, EscapesEveryControlCharacter) {
    EXPECT_EQ(quoted("1\x1b[2J\rfake\nline\t\x7f"), "'1\\x1b[2J\\rfake\\nline\\t\\x7f'");
    EXPECT_EQ(quoted(std::string("a\0b", 3)), "'a\\x00b'");
    EXPECT_EQ(printable("x\x01y"), "x\\x01y");
}

TEST(Quoted, CutsLongValuesAndSaysHowLong) {
    const std::string url = "https://ca.test/" + std::string(1'000'000, 'A');
    const std::string shown = quoted(url);
    EXPECT_EQ(shown, "'" + url.substr(0, 256) + "'... (1000016 bytes)");
    EXPECT_EQ(printable(url), url.substr(0, 256) + "... (1000016 bytes)");
    EXPECT_EQ(quoted(std::string(256, 'b')), "'" + std::string(256, 'b') + "'");
}

} // namespace
} // namespace secure_api
