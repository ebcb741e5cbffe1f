// Logging: structured journald records when stderr is connected to the
// journal, "<N>message" lines on stderr otherwise (systemd reads the prefix
// as the priority, and a terminal user still reads the message).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace secure_api::log {

enum class Priority { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

// A journal field: name in upper case ("DOMAIN"), value as text.
using Field = std::pair<std::string_view, std::string>;

// Stable message IDs for the events an admin searches for (journalctl MESSAGE_ID=...).
namespace id {
inline constexpr std::string_view daemon_started = "c7fed6804d264b02a47d613d7bbcddf8";
inline constexpr std::string_view daemon_stopping = "b6cc89ca48ff47998c0ab5b830c2a729";
inline constexpr std::string_view reloaded = "b2eab8d171a544f89db02f67c8df23e1";
inline constexpr std::string_view reload_rejected = "a60c020d01f946c9b88355893258113b";
inline constexpr std::string_view placeholder = "595a55d86aac48ac92a05390bfd68908";
inline constexpr std::string_view cert_issued = "ee195a258330455aadcdda3e32a4cadb";
inline constexpr std::string_view not_due = "67701fbb01d345fb8377e3f5e0599ecb";
inline constexpr std::string_view renewal_failed = "445d8d19e12942e0a7a018eea7dfa787";
} // namespace id

// Log one record. message_id may be empty. Fields are added to the journal
// record; on stderr only the message is printed.
void write(Priority priority, std::string_view message, std::string_view message_id = {},
           std::initializer_list<Field> fields = {});

inline void error(std::string_view m) {
    write(Priority::error, m);
}
inline void warning(std::string_view m) {
    write(Priority::warning, m);
}
inline void notice(std::string_view m) {
    write(Priority::notice, m);
}
inline void info(std::string_view m) {
    write(Priority::info, m);
}
inline void debug(std::string_view m) {
    write(Priority::debug, m);
}

// True when stderr is the journal (JOURNAL_STREAM names stderr's device:inode).
bool to_journal();

} // namespace secure_api::log
