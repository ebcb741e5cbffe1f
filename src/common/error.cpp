#include "common/error.hpp"

namespace secure_api {

std::string quoted(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 2);
    out += '\'';
    for (char c : value) {
        // Keep a log record on one line whatever the user supplied.
        if (c == '\n' || c == '\r' || c == '\0')
            out += "\\n";
        else
            out += c;
    }
    out += '\'';
    return out;
}

} // namespace secure_api
