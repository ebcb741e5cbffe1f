// The pure parts of the ACME transport's HTTP/1.1 client, kept free of sockets and TLS so that
// unit tests can drive them byte by byte: https URLs (RFC 8555 §6.1), reference resolution
// (RFC 3986 §5.2) and a response parser for HTTP/1.1 message framing (RFC 9112).
#pragma once

#include "common/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace secure_api::acme::http1 {

// An https URL taken apart into what a request needs.
struct Url {
    std::string host; // DNS name or IP literal, without the brackets of an IPv6 one
    bool host_is_ip = false;
    std::uint16_t port = 443;
    std::string target; // path and query, "/" at least (RFC 9112 §3.2.1)

    // The Host header's value: the host, bracketed when IPv6, with ":port" unless 443.
    std::string authority() const;
};

// ASCII lower case, for field names, tokens, schemes and hosts (RFC 9110 §5.1, §4.2.3).
std::string lower(std::string_view text);

// The text without the optional whitespace (SP, HTAB) around a field value or list
// member (RFC 9110 §5.6.3).
std::string_view trim(std::string_view text);

// RFC 8555 §6.1: ACME runs over HTTPS only, so any other scheme is an error, and so is
// userinfo (RFC 9110 §4.2.4). A fragment is dropped: it never goes on the wire.
Result<Url> parse_https_url(std::string_view url);

// The URL for a log line: a userinfo part (a name or password before "@" in the
// authority, refused anyway) replaced by "***", so no password reaches the journal.
std::string without_userinfo(std::string_view url);

// Resolve a reference against an absolute base URL (RFC 3986 §5.2, strict parser).
Result<std::string> resolve_reference(std::string_view base, std::string_view reference);

struct Field {
    std::string name; // lower case
    std::string value;
};

// One final (non-1xx) response as the parser read it.
struct Message {
    int status = 0;
    int minor_version = 1; // HTTP/1.<minor>
    std::vector<Field> fields;
    std::string body;
};

// Reads one response to one request from the bytes that arrive, in any split.
class ResponseParser {
public:
    struct Limits {
        std::size_t max_body = 1024 * 1024;
        std::size_t max_head = 64 * 1024; // status line and fields, also each chunk line
    };

    // A response to HEAD has no body whatever its fields say (RFC 9112 §6.3).
    ResponseParser(bool head_request, Limits limits);

    // Feed bytes; returns how many belong to this response (the rest, if any, came after
    // its end and the connection cannot be trusted for another request).
    Result<std::size_t> feed(std::string_view bytes);
    // The server closed the connection: ends a body read until close, else an error.
    Result<void> close();

    bool done() const { return state_ == State::Done; }
    // Whether any byte of the response arrived yet.
    bool started() const { return started_; }
    // Whether the connection may carry the next request (RFC 9112 §9.3).
    bool keep_alive() const { return keep_alive_; }
    const Message& message() const { return message_; }
    Message take_message() { return std::move(message_); }

private:
    enum class State {
        StatusLine,
        Fields,
        Body,       // Content-Length bytes
        UntilClose, // the body ends when the connection does
        ChunkSize,
        ChunkData,
        ChunkEnd, // the CRLF after a chunk's data
        Trailer,
        Done,
    };

    Result<void> take_line(std::string_view line);
    Result<void> take_status_line(std::string_view line);
    Result<void> take_field_line(std::string_view line);
    Result<void> end_of_fields();
    Result<void> choose_framing();
    Result<void> take_chunk_size(std::string_view line);
    Result<void> take_trailer_line(std::string_view line);
    Result<std::size_t> take_body_bytes(std::string_view bytes);
    Result<void> append_body(std::string_view bytes);
    bool line_state() const;

    bool head_request_;
    Limits limits_;
    State state_ = State::StatusLine;
    bool started_ = false;
    bool keep_alive_ = false;
    std::string line_;
    std::size_t head_bytes_ = 0;
    std::size_t remaining_ = 0; // of the Content-Length body or of the current chunk
    Message message_;
};

} // namespace secure_api::acme::http1
