#include "common/error.hpp"

#include <algorithm>
#include <array>

namespace secure_api {

namespace {

// Longer values (a URL or a header a hostile server made megabytes long) are cut:
// a log record stays one readable line.
constexpr std::size_t quoted_limit = 256;

void append_escaped(std::string& out, char c) {
    switch (c) {
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    default:
        break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
        // Control characters (ESC above all) would act on a terminal reading the log.
        static constexpr std::array<char, 16> hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
        out += "\\x";
        out += hex[byte >> 4];
        out += hex[byte & 0xf];
        return;
    }
    out += c;
}

std::string cut_note(std::string_view value) {
    return value.size() > quoted_limit ? "... (" + std::to_string(value.size()) + " bytes)" : "";
}

std::string escaped(std::string_view value) {
    std::string out;
    out.reserve(std::min(value.size(), quoted_limit) + 16);
    for (char c : value.substr(0, quoted_limit)) {
        append_escaped(out, c);
    }
    return out;
}

} // namespace

std::string printable(std::string_view value) {
    return escaped(value) + cut_note(value);
}

std::string quoted(std::string_view value) {
    return "'" + escaped(value) + "'" + cut_note(value);
}

} // namespace secure_api
