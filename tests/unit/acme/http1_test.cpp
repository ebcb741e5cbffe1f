#include "acme/http1.hpp"
#include "acme/transport.hpp"

#include <gtest/gtest.h>

#include <utility>

namespace secure_api::acme::http1 {
namespace {

// --- URLs --------------------------------------------------------------------------------------

TEST(HttpsUrl, TakesApartAnIpv4LiteralWithPort) {
    const auto url = parse_https_url("https://127.0.0.1:14000/dir?x=1#frag");
    ASSERT_TRUE(url) << url.error().message;
    EXPECT_EQ(url->host, "127.0.0.1");
    EXPECT_TRUE(url->host_is_ip);
    EXPECT_EQ(url->port, 14000);
    EXPECT_EQ(url->target, "/dir?x=1");
    EXPECT_EQ(url->authority(), "127.0.0.1:14000");
}

TEST(HttpsUrl, BracketsAnIpv6LiteralOnlyInTheAuthority) {
    const auto url = parse_https_url("https://[::1]:8443/a");
    ASSERT_TRUE(url) << url.error().message;
    EXPECT_EQ(url->host, "::1");
    EXPECT_TRUE(url->host_is_ip);
    EXPECT_EQ(url->authority(), "[::1]:8443");
}

TEST(HttpsUrl, DefaultsThePortAndThePath) {
    const auto url = parse_https_url("HTTPS://Acme.Example");
    ASSERT_TRUE(url) << url.error().message;
    EXPECT_EQ(url->host, "acme.example");
    EXPECT_FALSE(url->host_is_ip);
    EXPECT_EQ(url->port, 443);
    EXPECT_EQ(url->target, "/");
    EXPECT_EQ(url->authority(), "acme.example");
    const auto empty_port = parse_https_url("https://acme.example:/x");
    ASSERT_TRUE(empty_port);
    EXPECT_EQ(empty_port->port, 443);
}

TEST(HttpsUrl, RefusesOtherSchemesUserinfoAndBadPorts) {
    const std::pair<const char*, const char*> cases[] = {
        {"http://acme.example/dir", "not https"},
        {"ftp://acme.example/dir", "not https"},
        {"/dir", "not an absolute URL"},
        {"https://user:pw@acme.example/dir", "userinfo"},
        {"https://acme.example:0/", "invalid port"},
        {"https://acme.example:65536/", "invalid port"},
        {"https://acme.example:8x/", "invalid port"},
        {"https:///dir", "no host"},
        {"https://[::1/dir", "unterminated"},
        {"https://[nonsense]/dir", "invalid IPv6"},
        {"https://acme.example/a b", "not an absolute URL"},
        {"https://acme.example/a\r\nX: y", "not an absolute URL"},
        {"https://bad%2fhost/", "invalid host"},
    };
    for (const auto& [text, reason] : cases) {
        const auto url = parse_https_url(text);
        ASSERT_FALSE(url) << text;
        EXPECT_NE(url.error().message.find(reason), std::string::npos)
            << text << ": " << url.error().message;
    }
}

// RFC 3986 §5.4.1 and §5.4.2, on an https base.
TEST(HttpsUrl, KeepsPasswordsOutOfErrorsAndLogLines) {
    const auto parsed = parse_https_url("https://admin:s3cret@ca.test:14000/dir");
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().message.find("s3cret"), std::string::npos) << parsed.error().message;
    EXPECT_EQ(without_userinfo("https://admin:s3cret@ca.test/dir?q=a@b"),
              "https://***@ca.test/dir?q=a@b");
    EXPECT_EQ(without_userinfo("https://ca.test/dir?q=a@b"), "https://ca.test/dir?q=a@b");
    EXPECT_EQ(without_userinfo("not a url @ all"), "not a url @ all");
}

TEST(ResolveUrl, FollowsTheExamplesOfRfc3986) {
    const std::string base = "https://a/b/c/d;p?q";
    const std::pair<const char*, const char*> cases[] = {
        {"g:h", "g:h"},
        {"g", "https://a/b/c/g"},
        {"./g", "https://a/b/c/g"},
        {"g/", "https://a/b/c/g/"},
        {"/g", "https://a/g"},
        {"//g", "https://g"},
        {"?y", "https://a/b/c/d;p?y"},
        {"g?y", "https://a/b/c/g?y"},
        {"#s", "https://a/b/c/d;p?q#s"},
        {"g#s", "https://a/b/c/g#s"},
        {"g?y#s", "https://a/b/c/g?y#s"},
        {";x", "https://a/b/c/;x"},
        {"g;x", "https://a/b/c/g;x"},
        {"g;x?y#s", "https://a/b/c/g;x?y#s"},
        {"", "https://a/b/c/d;p?q"},
        {".", "https://a/b/c/"},
        {"./", "https://a/b/c/"},
        {"..", "https://a/b/"},
        {"../", "https://a/b/"},
        {"../g", "https://a/b/g"},
        {"../..", "https://a/"},
        {"../../", "https://a/"},
        {"../../g", "https://a/g"},
        {"../../../g", "https://a/g"},
        {"../../../../g", "https://a/g"},
        {"/./g", "https://a/g"},
        {"/../g", "https://a/g"},
        {"g.", "https://a/b/c/g."},
        {".g", "https://a/b/c/.g"},
        {"g..", "https://a/b/c/g.."},
        {"..g", "https://a/b/c/..g"},
        {"./../g", "https://a/b/g"},
        {"./g/.", "https://a/b/c/g/"},
        {"g/./h", "https://a/b/c/g/h"},
        {"g/../h", "https://a/b/c/h"},
        {"g;x=1/./y", "https://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "https://a/b/c/y"},
        {"g?y/./x", "https://a/b/c/g?y/./x"},
        {"g?y/../x", "https://a/b/c/g?y/../x"},
        {"g#s/./x", "https://a/b/c/g#s/./x"},
        {"g#s/../x", "https://a/b/c/g#s/../x"},
    };
    for (const auto& [reference, expected] : cases) {
        const auto resolved = resolve_url(base, reference);
        ASSERT_TRUE(resolved) << reference << ": " << resolved.error().message;
        EXPECT_EQ(*resolved, expected) << "reference " << reference;
    }
}

TEST(ResolveUrl, KeepsThePortAndMergesIntoAnEmptyPath) {
    EXPECT_EQ(resolve_url("https://127.0.0.1:14000", "cert/1").value_or(""),
              "https://127.0.0.1:14000/cert/1");
    EXPECT_EQ(resolve_url("https://[::1]:8443/a/b#f", "../c").value_or(""), "https://[::1]:8443/c");
}

TEST(ResolveUrl, RefusesARelativeBaseAndSpaces) {
    EXPECT_FALSE(resolve_url("/relative", "x"));
    EXPECT_FALSE(resolve_url("https://a/b", "c d"));
}

// --- Responses ---------------------------------------------------------------------------------

ResponseParser::Limits limits(std::size_t max_body = 1024, std::size_t max_head = 4096) {
    return {max_body, max_head};
}

struct Parsed {
    Result<Message> message;
    bool keep_alive = false;
    std::size_t used = 0;
};

// Feeds the pieces in order, then closes when asked; stops at the first error.
Parsed parse_pieces(const std::vector<std::string_view>& pieces, bool head = false,
                    bool close = false, ResponseParser::Limits lim = limits()) {
    ResponseParser parser(head, lim);
    Parsed out{Message()};
    for (std::string_view piece : pieces) {
        auto used = parser.feed(piece);
        if (!used) {
            out.message = std::unexpected(used.error());
            return out;
        }
        out.used += *used;
    }
    if (close) {
        if (auto closed = parser.close(); !closed) {
            out.message = std::unexpected(closed.error());
            return out;
        }
    }
    if (!parser.done()) {
        out.message = fail("incomplete");
        return out;
    }
    out.keep_alive = parser.keep_alive();
    out.message = parser.take_message();
    return out;
}

Parsed parse(std::string_view bytes, bool head = false, bool close = false,
             ResponseParser::Limits lim = limits()) {
    return parse_pieces({bytes}, head, close, lim);
}

// Every split into two pieces must give the same message as the whole.
void expect_same_at_every_split(std::string_view bytes, bool close = false) {
    const Parsed whole = parse(bytes, false, close);
    ASSERT_TRUE(whole.message) << whole.message.error().message;
    for (std::size_t at = 0; at <= bytes.size(); ++at) {
        const Parsed split = parse_pieces({bytes.substr(0, at), bytes.substr(at)}, false, close);
        ASSERT_TRUE(split.message) << "split at " << at << ": " << split.message.error().message;
        EXPECT_EQ(split.message->status, whole.message->status) << at;
        EXPECT_EQ(split.message->body, whole.message->body) << at;
        ASSERT_EQ(split.message->fields.size(), whole.message->fields.size()) << at;
        EXPECT_EQ(split.keep_alive, whole.keep_alive) << at;
    }
    // And one byte at a time.
    std::vector<std::string_view> bytewise;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytewise.push_back(bytes.substr(i, 1));
    }
    const Parsed single = parse_pieces(bytewise, false, close);
    ASSERT_TRUE(single.message) << single.message.error().message;
    EXPECT_EQ(single.message->body, whole.message->body);
}

std::string field(const Message& message, std::string_view name) {
    for (const Field& f : message.fields) {
        if (f.name == name) {
            return f.value;
        }
    }
    return "<none>";
}

TEST(ResponseParser, ReadsAContentLengthBodyInAnySplit) {
    const std::string_view bytes = "HTTP/1.1 201 Created\r\n"
                                   "Content-Type: application/json\r\n"
                                   "REPLAY-Nonce:  abc \r\n"
                                   "Content-Length: 11\r\n"
                                   "\r\n"
                                   "{\"a\": true}";
    const Parsed parsed = parse(bytes);
    ASSERT_TRUE(parsed.message) << parsed.message.error().message;
    EXPECT_EQ(parsed.message->status, 201);
    EXPECT_EQ(parsed.message->body, "{\"a\": true}");
    EXPECT_EQ(field(*parsed.message, "replay-nonce"), "abc");
    EXPECT_TRUE(parsed.keep_alive);
    expect_same_at_every_split(bytes);
}

TEST(ResponseParser, DecodesChunkedWithExtensionsAndTrailerInAnySplit) {
    const std::string_view bytes = "HTTP/1.1 200 OK\r\n"
                                   "Transfer-Encoding: chunked\r\n"
                                   "\r\n"
                                   "5;name=value\r\nhello\r\n"
                                   "7\r\n, world\r\n"
                                   "0\r\n"
                                   "Trailer-Field: x\r\n"
                                   "\r\n";
    const Parsed parsed = parse(bytes);
    ASSERT_TRUE(parsed.message) << parsed.message.error().message;
    EXPECT_EQ(parsed.message->body, "hello, world");
    EXPECT_EQ(parsed.used, bytes.size());
    EXPECT_TRUE(parsed.keep_alive);
    expect_same_at_every_split(bytes);
}

TEST(ResponseParser, ReadsUntilCloseWithoutLengthAndDoesNotKeepTheConnection) {
    const std::string_view bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
    ResponseParser parser(false, limits());
    ASSERT_TRUE(parser.feed(bytes));
    EXPECT_FALSE(parser.done());
    ASSERT_TRUE(parser.close());
    EXPECT_TRUE(parser.done());
    EXPECT_FALSE(parser.keep_alive());
    EXPECT_EQ(parser.message().body, "all of it");
    expect_same_at_every_split(bytes, true);
}

TEST(ResponseParser, SkipsInterimResponsesAndTheirFields) {
    const std::string_view bytes = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                                   "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const Parsed parsed = parse(bytes);
    ASSERT_TRUE(parsed.message) << parsed.message.error().message;
    EXPECT_EQ(parsed.message->status, 200);
    EXPECT_EQ(field(*parsed.message, "x-interim"), "<none>");
    EXPECT_EQ(field(*parsed.message, "link"), "<none>");
    EXPECT_EQ(parsed.message->body, "ok");
    expect_same_at_every_split(bytes);
}

TEST(ResponseParser, ReadsNoBodyForHeadOr204Or304) {
    const Parsed head = parse("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true);
    ASSERT_TRUE(head.message) << head.message.error().message;
    EXPECT_EQ(head.message->body, "");
    EXPECT_TRUE(head.keep_alive);
    for (const char* status : {"204 No Content", "304 Not Modified"}) {
        const std::string bytes = std::string("HTTP/1.1 ") + status + "\r\n\r\n";
        const Parsed parsed = parse(bytes);
        ASSERT_TRUE(parsed.message) << status;
        EXPECT_EQ(parsed.used, bytes.size());
    }
}

TEST(ResponseParser, KeepsTheConnectionAsVersionAndConnectionSay) {
    EXPECT_FALSE(
        parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
    EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    EXPECT_TRUE(
        parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    // Transfer-Encoding and Content-Length together: chunked wins, the connection goes.
    EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\n\r\n")
                     .keep_alive);
}

TEST(ResponseParser, AcceptsBareLineFeedsAndFoldedFields) {
    const Parsed parsed = parse("HTTP/1.1 200 OK\nX-Folded: a\n  b\nContent-Length: 1\n\nz");
    ASSERT_TRUE(parsed.message) << parsed.message.error().message;
    EXPECT_EQ(field(*parsed.message, "x-folded"), "a b");
    EXPECT_EQ(parsed.message->body, "z");
}

TEST(ResponseParser, CapsTheBodyWhateverItsFraming) {
    const std::string big(2000, 'x');
    const std::string cases[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + big,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + big.substr(0, 512) +
            "\r\n200\r\n" + big.substr(0, 512) + "\r\n200\r\n",
        "HTTP/1.1 200 OK\r\n\r\n" + big,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
    };
    for (const std::string& bytes : cases) {
        const Parsed parsed = parse(bytes, false, true);
        ASSERT_FALSE(parsed.message) << bytes.substr(0, 60);
        EXPECT_EQ(parsed.message.error().message, "the response body is larger than 1024 bytes");
    }
    const Parsed exact =
        parse("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + big.substr(0, 1024));
    EXPECT_TRUE(exact.message);
}

TEST(ResponseParser, CapsTheHeaderSection) {
    std::string bytes = "HTTP/1.1 200 OK\r\n";
    while (bytes.size() < 5000) {
        bytes += "X-Filler: 0123456789012345678901234567890123456789\r\n";
    }
    const Parsed parsed = parse(bytes);
    ASSERT_FALSE(parsed.message);
    EXPECT_EQ(parsed.message.error().message,
              "the response header section is larger than 4096 bytes");
    // Also when no line ever ends.
    const Parsed endless = parse("HTTP/1.1 200 OK\r\nX: " + std::string(5000, 'a'));
    ASSERT_FALSE(endless.message);
    EXPECT_NE(endless.message.error().message.find("header section"), std::string::npos);
}

TEST(ResponseParser, RefusesMalformedResponses) {
    const std::pair<const char*, const char*> cases[] = {
        {"HTTP/2 200 OK\r\n\r\n", "status line"},
        {"ICY 200 OK\r\n\r\n", "status line"},
        {"HTTP/1.1 20 OK\r\n\r\n", "status line"},
        {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed field line"},
        {"HTTP/1.1 200 OK\r\nName : value\r\n\r\n", "malformed field line"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", "chunk longer"},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"},
        {"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n", "Content-Length"},
        {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.0"},
        {"HTTP/1.1 200 OK\r\nRetry-After: 1\x1b[2J\rfake\r\n\r\n", "control character"},
        {"HTTP/1.1 200 OK\r\nX-\x7f: a\r\n\r\n", "control character"},
    };
    for (const auto& [bytes, reason] : cases) {
        const Parsed parsed = parse(bytes);
        ASSERT_FALSE(parsed.message) << bytes;
        EXPECT_NE(parsed.message.error().message.find(reason), std::string::npos)
            << bytes << ": " << parsed.message.error().message;
    }
    EXPECT_TRUE(parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab").message);
    // NUL cannot sit in a C string literal: a field value with one.
    const std::string nul("HTTP/1.1 200 OK\r\nX-Evil: a\0b\r\nContent-Length: 0\r\n\r\n", 51);
    const Parsed with_nul = parse(nul);
    ASSERT_FALSE(with_nul.message);
    EXPECT_NE(with_nul.message.error().message.find("control character"), std::string::npos);
    EXPECT_TRUE(parse("HTTP/1.1 200 OK\r\nX-Tab: a\tb\r\nContent-Length: 0\r\n\r\n").message);
}

TEST(ResponseParser, LeavesBytesAfterTheEndUnconsumed) {
    const std::string_view bytes = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
    ResponseParser parser(false, limits());
    const auto used = parser.feed(bytes);
    ASSERT_TRUE(used);
    EXPECT_EQ(*used, bytes.size() - 8);
    EXPECT_TRUE(parser.done());
}

TEST(ResponseParser, TellsAnEarlyCloseApartFromACutOne) {
    ResponseParser silent(false, limits());
    EXPECT_FALSE(silent.started());
    const auto none = silent.close();
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("without responding"), std::string::npos);

    ResponseParser cut(false, limits());
    ASSERT_TRUE(cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    EXPECT_TRUE(cut.started());
    const auto closed = cut.close();
    ASSERT_FALSE(closed);
    EXPECT_NE(closed.error().message.find("middle of the response"), std::string::npos);
}

} // namespace
} // namespace secure_api::acme::http1
