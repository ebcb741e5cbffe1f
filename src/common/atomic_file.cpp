#include "common/atomic_file.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace secure_api::files {
namespace {

constexpr std::string_view temp_marker = ".tmp-";

Error errno_error(const std::string& what, int code) {
    return Error(what + ": " + std::strerror(code));
}

Result<void> write_all(int fd, std::string_view content) {
    while (!content.empty()) {
        ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::unexpected(errno_error("writing", errno));
        content.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

// Content, owner and final mode go into the temporary file before it gets
// its name, so the target name only ever shows a complete file. mkostemp
// creates it 0600 whatever the umask, so key material is never more exposed
// than its final mode while it is being written.
Result<void> fill_temporary(int fd, std::string_view content, mode_t mode, Ownership owner) {
    if (auto written = write_all(fd, content); !written)
        return written;
    if (::fsync(fd) != 0)
        return std::unexpected(errno_error("syncing", errno));
    if ((owner.uid != static_cast<uid_t>(-1) || owner.gid != static_cast<gid_t>(-1)) &&
        ::fchown(fd, owner.uid, owner.gid) != 0)
        return std::unexpected(errno_error("changing owner", errno));
    if (::fchmod(fd, mode) != 0)
        return std::unexpected(errno_error("changing mode", errno));
    return {};
}

} // namespace

Result<void> write_atomically(const std::filesystem::path& target, std::string_view content,
                              mode_t mode, Ownership owner) {
    auto dir = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
    std::string temp =
        (dir / ("." + target.filename().string() + std::string(temp_marker) + "XXXXXX")).string();
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd)
        return std::unexpected(errno_error("creating a file in " + quoted(dir.string()), errno));
    auto filled = fill_temporary(fd.get(), content, mode, owner);
    if (filled && ::close(fd.release()) != 0)
        filled = std::unexpected(errno_error("closing", errno));
    if (filled && ::rename(temp.c_str(), target.c_str()) != 0)
        filled = std::unexpected(errno_error("renaming", errno));
    if (!filled) {
        ::unlink(temp.c_str());
        return std::unexpected(filled.error().context("writing " + quoted(target.string())));
    }
    return sync_directory(dir);
}

Result<void> sync_directory(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0)
        return std::unexpected(errno_error("syncing directory " + quoted(dir.string()), errno));
    return {};
}

Result<int> remove_stale_temporaries(const std::filesystem::path& dir) {
    std::error_code ec;
    int removed = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        if (name.starts_with(".") && name.find(temp_marker) != std::string::npos &&
            std::filesystem::remove(entry.path(), ec))
            ++removed;
    }
    if (ec)
        return fail("cleaning " + quoted(dir.string()) + ": " + ec.message());
    return removed;
}

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_size) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return std::unexpected(errno_error("opening " + quoted(path.string()), errno));
    std::string content;
    char buffer[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::unexpected(errno_error("reading " + quoted(path.string()), errno));
        if (n == 0)
            return content;
        content.append(buffer, static_cast<size_t>(n));
        if (content.size() > max_size)
            return fail(quoted(path.string()) + " is larger than " + std::to_string(max_size) +
                        " bytes");
    }
}

} // namespace secure_api::files
