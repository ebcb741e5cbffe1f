// The error policy of secure-api, written down once.
//
// Expected failures (a file that does not parse, a CA that answers 500, a bad
// config value) are values: functions return Result<T>, whose error carries
// the cause and the context as one readable line. The layer that decides what
// to do with a failure logs it, once; lower layers only return it.
//
// Exceptions are for bugs and for fatal start-up conditions, and they never
// cross a C callback: every callback handed to a C library is noexcept.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <utility>

namespace secure_api {

struct Error {
    std::string message; // one line, user-supplied values in quotes
    std::string name;    // optional stable machine-readable kind, e.g. "KeyMismatch"
    // When the other side said to try again (an HTTP Retry-After), if it did.
    std::optional<std::chrono::seconds> retry_after;

    Error() = default;
    explicit Error(std::string msg, std::string kind = {})
        : message(std::move(msg)), name(std::move(kind)) {}

    // Prefix the message with what was being done: "loading '/x': <cause>".
    Error context(const std::string& what) const& {
        Error wider = *this;
        wider.message = what + ": " + message;
        return wider;
    }
};

template <typename T> using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message, std::string kind = {}) {
    return std::unexpected(Error(std::move(message), std::move(kind)));
}

// A value from outside (user, server) made safe for a log line or error
// message: control characters escaped, anything past 256 bytes cut (the
// length is given).
std::string printable(std::string_view value);

// The same in single quotes. The std::string overloads keep std::quoted
// (found by argument-dependent lookup) out of the way.
std::string quoted(std::string_view value);
inline std::string quoted(const std::string& value) {
    return quoted(std::string_view(value));
}
inline std::string quoted(std::string& value) {
    return quoted(std::string_view(value));
}
inline std::string quoted(const char* value) {
    return quoted(std::string_view(value));
}

} // namespace secure_api
