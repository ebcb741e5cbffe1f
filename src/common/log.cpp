#include "common/log.hpp"

#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace secure_api::log {
namespace {

bool detect_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr)
        return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
        return false;
    return dev == st.st_dev && ino == st.st_ino;
}

void write_stderr(Priority priority, std::string_view message) {
    std::string line = "<" + std::to_string(static_cast<int>(priority)) + ">";
    line += message;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

void write_journal(Priority priority, std::string_view message, std::string_view message_id,
                   std::initializer_list<Field> fields) {
    std::vector<std::string> items;
    items.reserve(fields.size() + 3);
    items.push_back("MESSAGE=" + std::string(message));
    items.push_back("PRIORITY=" + std::to_string(static_cast<int>(priority)));
    if (!message_id.empty())
        items.push_back("MESSAGE_ID=" + std::string(message_id));
    for (const auto& [name, value] : fields)
        items.push_back(std::string(name) + "=" + value);
    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (auto& item : items)
        iov.push_back({item.data(), item.size()});
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0)
        write_stderr(priority, message);
}

// SECURE_API_LOG_LEVEL=debug shows debug records; the default stops at info.
Priority threshold() {
    const char* level = std::getenv("SECURE_API_LOG_LEVEL");
    return level != nullptr && std::string_view(level) == "debug" ? Priority::debug
                                                                  : Priority::info;
}

} // namespace

bool to_journal() {
    static const bool journal = detect_journal();
    return journal;
}

void write(Priority priority, std::string_view message, std::string_view message_id,
           std::initializer_list<Field> fields) {
    static const Priority shown = threshold();
    if (priority > shown)
        return;
    if (to_journal())
        write_journal(priority, message, message_id, fields);
    else
        write_stderr(priority, message);
}

} // namespace secure_api::log
