#include "acme/http1.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <arpa/inet.h>

namespace secure_api::acme::http1 {

namespace {

constexpr auto npos = std::string_view::npos;

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

// The members of a comma-separated list field (RFC 9110 §5.6.1), empty ones skipped.
std::vector<std::string_view> list_members(std::string_view value) {
    std::vector<std::string_view> members;
    while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view member = trim(value.substr(0, comma));
        if (!member.empty()) {
            members.push_back(member);
        }
        value.remove_prefix(comma == npos ? value.size() : comma + 1);
    }
    return members;
}

// RFC 3986 §3 splits a reference into five parts; absent ones stay nullopt (Appendix B).
struct UriParts {
    std::optional<std::string_view> scheme;
    std::optional<std::string_view> authority;
    std::string_view path;
    std::optional<std::string_view> query;
    std::optional<std::string_view> fragment;
};

bool valid_scheme(std::string_view scheme) {
    // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (scheme.empty() || !std::isalpha(static_cast<unsigned char>(scheme.front()))) {
        return false;
    }
    return std::all_of(scheme.begin(), scheme.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '+' || c == '-' || c == '.';
    });
}

// Spaces and control characters are never part of a URI (RFC 3986 §2); refusing them also
// keeps a request line or Host field from being split.
bool has_forbidden_octet(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

std::optional<UriParts> split_uri(std::string_view text) {
    if (has_forbidden_octet(text)) {
        return std::nullopt;
    }
    UriParts parts;
    if (const size_t hash = text.find('#'); hash != npos) {
        parts.fragment = text.substr(hash + 1);
        text = text.substr(0, hash);
    }
    if (const size_t question = text.find('?'); question != npos) {
        parts.query = text.substr(question + 1);
        text = text.substr(0, question);
    }
    const size_t colon = text.find(':');
    if (colon != npos && colon < text.find('/')) {
        parts.scheme = text.substr(0, colon);
        if (!valid_scheme(*parts.scheme)) {
            return std::nullopt;
        }
        text.remove_prefix(colon + 1);
    }
    if (text.starts_with("//")) {
        text.remove_prefix(2);
        const size_t slash = text.find('/');
        parts.authority = text.substr(0, slash);
        text.remove_prefix(slash == npos ? text.size() : slash);
    }
    parts.path = text;
    return parts;
}

// RFC 3986 §5.3
std::string recompose(const UriParts& parts, std::string_view path) {
    std::string out;
    if (parts.scheme) {
        out.append(*parts.scheme).append(":");
    }
    if (parts.authority) {
        out.append("//").append(*parts.authority);
    }
    out.append(path);
    if (parts.query) {
        out.append("?").append(*parts.query);
    }
    if (parts.fragment) {
        out.append("#").append(*parts.fragment);
    }
    return out;
}

void drop_last_segment(std::string& out) {
    const size_t slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
}

// RFC 3986 §5.2.4, step by step: rule A to E on the input buffer.
std::string remove_dot_segments(std::string_view in) {
    std::string out;
    while (!in.empty()) {
        if (in.starts_with("../")) {
            in.remove_prefix(3);
        } else if (in.starts_with("./") || in.starts_with("/./")) {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.starts_with("/../")) {
            in.remove_prefix(3);
            drop_last_segment(out);
        } else if (in == "/..") {
            in = "/";
            drop_last_segment(out);
        } else if (in == "." || in == "..") {
            in = {};
        } else {
            const size_t next = in.find('/', 1);
            const size_t length = next == npos ? in.size() : next;
            out.append(in.substr(0, length));
            in.remove_prefix(length);
        }
    }
    return out;
}

// RFC 3986 §5.2.3
std::string merge(const UriParts& base, std::string_view path) {
    if (base.authority && base.path.empty()) {
        return "/" + std::string(path);
    }
    const size_t slash = base.path.rfind('/');
    if (slash == npos) {
        return std::string(path);
    }
    return std::string(base.path.substr(0, slash + 1)) + std::string(path);
}

// RFC 3986 §5.2.2, with T built in place from the base and the reference.
std::string transform(const UriParts& base, const UriParts& ref) {
    UriParts target = ref;
    std::string path;
    if (ref.scheme || ref.authority) {
        path = remove_dot_segments(ref.path);
        target.scheme = ref.scheme ? ref.scheme : base.scheme;
    } else {
        if (ref.path.empty()) {
            path = std::string(base.path);
            target.query = ref.query ? ref.query : base.query;
        } else if (ref.path.starts_with('/')) {
            path = remove_dot_segments(ref.path);
        } else {
            path = remove_dot_segments(merge(base, ref.path));
        }
        target.authority = base.authority;
        target.scheme = base.scheme;
    }
    return recompose(target, path);
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view url) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
        return fail("the URL " + quoted(url) + " has an invalid port");
    }
    return static_cast<std::uint16_t>(value);
}

bool valid_dns_name(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
}

// Host and port of an https authority (RFC 3986 §3.2); no userinfo (RFC 9110 §4.2.4).
Result<void> parse_authority(std::string_view authority, std::string_view url, Url& out) {
    if (authority.find('@') != npos) {
        return fail("the URL " + quoted(without_userinfo(url)) +
                    " carries userinfo, which HTTPS forbids");
    }
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {
        const size_t close = authority.find(']');
        if (close == npos) {
            return fail("the URL " + quoted(url) + " has an unterminated IPv6 literal");
        }
        host = authority.substr(1, close - 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) {
            return fail("the URL " + quoted(url) + " has junk after its IPv6 literal");
        }
        port = rest.empty() ? rest : rest.substr(1);
        in6_addr address{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) {
            return fail("the URL " + quoted(url) + " has an invalid IPv6 literal");
        }
        out.host_is_ip = true;
    } else if (const size_t colon = authority.rfind(':'); colon != npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (!out.host_is_ip) {
        in_addr address{};
        out.host_is_ip = inet_pton(AF_INET, std::string(host).c_str(), &address) == 1;
        if (!out.host_is_ip && !valid_dns_name(host)) {
            return fail("the URL " + quoted(url) + " has an invalid host");
        }
    }
    out.host = lower(host);
    if (!port.empty()) { // an empty port means the default (RFC 3986 §3.2.3)
        auto number = parse_port(port, url);
        if (!number) {
            return std::unexpected(number.error());
        }
        out.port = *number;
    }
    return {};
}

} // namespace

std::string Url::authority() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 443) {
        out += ":" + std::to_string(port);
    }
    return out;
}

Result<Url> parse_https_url(std::string_view url) {
    const auto parts = split_uri(url);
    if (!parts || !parts->scheme) {
        return fail("the URL " + quoted(url) + " is not an absolute URL");
    }
    if (lower(*parts->scheme) != "https") {
        // RFC 8555 §6.1: all ACME communication is over HTTPS.
        return fail("the URL " + quoted(url) + " is not https, and ACME runs over HTTPS only");
    }
    if (!parts->authority || parts->authority->empty()) {
        return fail("the URL " + quoted(url) + " has no host");
    }
    Url out;
    if (auto authority = parse_authority(*parts->authority, url, out); !authority) {
        return std::unexpected(authority.error());
    }
    out.target = parts->path.empty() ? "/" : std::string(parts->path);
    if (parts->query) {
        out.target.append("?").append(*parts->query);
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_ows(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_ows(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::string without_userinfo(std::string_view url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == npos) {
        return std::string(url);
    }
    const size_t start = scheme_end + 3;
    const size_t end = std::min(url.find_first_of("/?#", start), url.size());
    const size_t at = url.substr(0, end).rfind('@');
    if (at == npos || at < start) {
        return std::string(url);
    }
    return std::string(url.substr(0, start)) + "***" + std::string(url.substr(at));
}

Result<std::string> resolve_reference(std::string_view base, std::string_view reference) {
    const auto base_parts = split_uri(base);
    if (!base_parts || !base_parts->scheme) {
        return fail("the URL " + quoted(base) + " does not parse as an absolute URL");
    }
    const auto ref_parts = split_uri(reference);
    if (!ref_parts) {
        return fail("the URL reference " + quoted(reference) + " does not parse");
    }
    UriParts base_without_fragment = *base_parts;
    base_without_fragment.fragment.reset(); // RFC 3986 §5.1: the base has no fragment
    return transform(base_without_fragment, *ref_parts);
}

// --- ResponseParser ---------------------------------------------------------------------------

namespace {

Error body_too_large(std::size_t limit) {
    return Error("the response body is larger than " + std::to_string(limit) + " bytes");
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Every Content-Length value, also in a list, must be the same number (RFC 9112 §6.3 item 5).
Result<std::optional<std::size_t>> content_length(const std::vector<Field>& fields) {
    std::optional<std::size_t> length;
    for (const Field& field : fields) {
        if (field.name != "content-length") {
            continue;
        }
        const auto members = list_members(field.value);
        if (members.empty()) { // "Content-Length:" or "Content-Length: ," names no length
            return fail("the response has an invalid Content-Length " + quoted(field.value));
        }
        for (std::string_view member : members) {
            std::size_t value = 0;
            const auto [end, ec] =
                std::from_chars(member.data(), member.data() + member.size(), value);
            if (!all_digits(member) || ec != std::errc() || (length && *length != value)) {
                return fail("the response has an invalid Content-Length " + quoted(field.value));
            }
            length = value;
        }
    }
    return length;
}

// The transfer codings, in order; only "chunked" is ever acceptable since the request offers
// no TE (RFC 9112 §7.4), and chunked must be the last (RFC 9112 §6.1).
Result<bool> chunked(const std::vector<Field>& fields) {
    std::vector<std::string> codings;
    for (const Field& field : fields) {
        if (field.name == "transfer-encoding") {
            for (std::string_view member : list_members(field.value)) {
                codings.push_back(lower(member));
            }
        }
    }
    if (codings.empty()) {
        return false;
    }
    if (codings.size() != 1 || codings.front() != "chunked") {
        return fail("the response uses an unsupported transfer coding");
    }
    return true;
}

bool has_token(const std::vector<Field>& fields, std::string_view name, std::string_view token) {
    for (const Field& field : fields) {
        if (field.name != name) {
            continue;
        }
        for (std::string_view member : list_members(field.value)) {
            if (lower(member) == token) {
                return true;
            }
        }
    }
    return false;
}

} // namespace

ResponseParser::ResponseParser(bool head_request, Limits limits)
    : head_request_(head_request), limits_(limits) {}

bool ResponseParser::line_state() const {
    return state_ == State::StatusLine || state_ == State::Fields || state_ == State::ChunkSize ||
           state_ == State::ChunkEnd || state_ == State::Trailer;
}

Result<std::size_t> ResponseParser::feed(std::string_view bytes) {
    started_ = started_ || !bytes.empty();
    std::size_t used = 0;
    while (used < bytes.size() && state_ != State::Done) {
        if (!line_state()) {
            auto taken = take_body_bytes(bytes.substr(used));
            if (!taken) {
                return std::unexpected(taken.error());
            }
            used += *taken;
            continue;
        }
        const size_t newline = bytes.find('\n', used);
        const size_t end = newline == npos ? bytes.size() : newline + 1;
        const bool in_head = state_ != State::ChunkSize && state_ != State::ChunkEnd;
        const size_t spent = (in_head ? head_bytes_ : 0) + line_.size() + (end - used);
        if (spent > limits_.max_head) {
            return fail("the response header section is larger than " +
                        std::to_string(limits_.max_head) + " bytes");
        }
        line_.append(bytes.substr(used, end - used));
        used = end;
        if (newline == npos) {
            break;
        }
        head_bytes_ += in_head ? line_.size() : 0;
        std::string line = std::move(line_);
        line_.clear();
        line.pop_back(); // the LF; a bare LF ends a line too (RFC 9112 §2.2)
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (auto taken = take_line(line); !taken) {
            return std::unexpected(taken.error());
        }
    }
    return used;
}

Result<void> ResponseParser::take_line(std::string_view line) {
    switch (state_) {
    case State::StatusLine:
        return take_status_line(line);
    case State::Fields:
        return take_field_line(line);
    case State::ChunkSize:
        return take_chunk_size(line);
    case State::ChunkEnd:
        if (!line.empty()) {
            return fail("the response has a chunk longer than its size says");
        }
        state_ = State::ChunkSize;
        return {};
    case State::Trailer:
        return take_trailer_line(line);
    default:
        return {};
    }
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
Result<void> ResponseParser::take_status_line(std::string_view line) {
    if (line.empty()) {
        return {}; // tolerate empty lines before the status line, as servers do for requests
    }
    const bool shaped = line.size() >= 12 && line.starts_with("HTTP/1.") &&
                        std::isdigit(static_cast<unsigned char>(line[7])) && line[8] == ' ' &&
                        all_digits(line.substr(9, 3)) && (line.size() == 12 || line[12] == ' ');
    if (!shaped || line[9] == '0') {
        return fail("the response does not start with an HTTP/1.x status line");
    }
    message_.minor_version = line[7] - '0';
    message_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    state_ = State::Fields;
    return {};
}

// RFC 9110 §5.5: CR, LF and NUL in a field value are invalid and dangerous; other
// control characters have no business in the fields ACME reads either. HTAB is
// whitespace.
bool has_control_character(std::string_view line) {
    return std::any_of(line.begin(), line.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\t') || byte == 0x7f;
    });
}

// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
Result<void> ResponseParser::take_field_line(std::string_view line) {
    if (line.empty()) {
        return end_of_fields();
    }
    if (has_control_character(line)) {
        return fail("the response has a control character in the field line " + quoted(line));
    }
    if (is_ows(line.front())) {
        // obs-fold (RFC 9112 §5.2): a user agent replaces it with SP.
        if (message_.fields.empty()) {
            return fail("the response starts its fields with a continuation line");
        }
        message_.fields.back().value.append(" ").append(trim(line));
        return {};
    }
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == npos || name.empty() ||
        std::any_of(name.begin(), name.end(), [](char c) { return is_ows(c); })) {
        return fail("the response has a malformed field line " + quoted(line));
    }
    message_.fields.push_back({lower(name), std::string(trim(line.substr(colon + 1)))});
    return {};
}

Result<void> ResponseParser::end_of_fields() {
    if (message_.status == 101) {
        return fail("the server switched protocols, which was not asked for");
    }
    if (message_.status < 200) {
        // An interim response (RFC 9110 §15.2): its fields say nothing about the final one.
        message_ = Message();
        state_ = State::StatusLine;
        return {};
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    keep_alive_ = message_.minor_version >= 1
                      ? !has_token(message_.fields, "connection", "close")
                      : has_token(message_.fields, "connection", "keep-alive");
    return choose_framing();
}

// RFC 9112 §6.3: the message body length, in its order of precedence.
Result<void> ResponseParser::choose_framing() {
    const int status = message_.status;
    if (head_request_ || status == 204 || status == 304) {
        state_ = State::Done;
        return {};
    }
    auto is_chunked = chunked(message_.fields);
    if (!is_chunked) {
        return std::unexpected(is_chunked.error());
    }
    auto length = content_length(message_.fields);
    if (!length) {
        return std::unexpected(length.error());
    }
    if (*is_chunked && message_.minor_version == 0) {
        // RFC 9112 §6.1: HTTP/1.0 has no transfer codings; such framing is faulty.
        return fail("the response is HTTP/1.0 but chunked");
    }
    if (*is_chunked) {
        // Item 3: Transfer-Encoding overrides Content-Length, and such a message may be an
        // attempt at request smuggling, so the connection is not reused.
        keep_alive_ = keep_alive_ && !*length;
        state_ = State::ChunkSize;
    } else if (*length) {
        if (**length > limits_.max_body) {
            return std::unexpected(body_too_large(limits_.max_body));
        }
        remaining_ = **length;
        state_ = remaining_ == 0 ? State::Done : State::Body;
    } else {
        keep_alive_ = false; // item 8: the body ends when the connection does
        state_ = State::UntilClose;
    }
    return {};
}

// RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF, the size in hex.
Result<void> ResponseParser::take_chunk_size(std::string_view line) {
    const size_t digits = std::min(line.find_first_not_of("0123456789abcdefABCDEF"), line.size());
    const std::string_view rest = trim(line.substr(digits));
    std::size_t size = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + digits, size, 16);
    if (digits == 0 || (!rest.empty() && !rest.starts_with(';'))) {
        return fail("the response has a malformed chunk size line " + quoted(line));
    }
    if (ec != std::errc() || size > limits_.max_body - message_.body.size()) {
        return std::unexpected(body_too_large(limits_.max_body));
    }
    remaining_ = size;
    state_ = size == 0 ? State::Trailer : State::ChunkData;
    return {};
}

// RFC 9112 §7.1.2: trailer fields are read and dropped; ACME defines none.
Result<void> ResponseParser::take_trailer_line(std::string_view line) {
    if (line.empty()) {
        state_ = State::Done;
    }
    return {};
}

Result<std::size_t> ResponseParser::take_body_bytes(std::string_view bytes) {
    if (state_ == State::UntilClose) {
        if (auto appended = append_body(bytes); !appended) {
            return std::unexpected(appended.error());
        }
        return bytes.size();
    }
    const std::size_t count = std::min(remaining_, bytes.size());
    if (auto appended = append_body(bytes.substr(0, count)); !appended) {
        return std::unexpected(appended.error());
    }
    remaining_ -= count;
    if (remaining_ == 0) {
        state_ = state_ == State::Body ? State::Done : State::ChunkEnd;
    }
    return count;
}

Result<void> ResponseParser::append_body(std::string_view bytes) {
    if (bytes.size() > limits_.max_body - message_.body.size()) {
        return std::unexpected(body_too_large(limits_.max_body));
    }
    message_.body.append(bytes);
    return {};
}

Result<void> ResponseParser::close() {
    if (state_ == State::UntilClose) {
        state_ = State::Done;
    }
    if (state_ == State::Done) {
        return {};
    }
    if (!started_) {
        return fail("the server closed the connection without responding");
    }
    return fail("the server closed the connection in the middle of the response");
}

} // namespace secure_api::acme::http1
