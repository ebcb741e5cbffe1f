// Files replaced atomically or not at all: the new content is written to a
// temporary file in the target's directory, created with its final mode,
// fsync'ed, renamed over the target, and the directory is fsync'ed.
#pragma once

#include "common/error.hpp"

#include <filesystem>
#include <string_view>
#include <sys/types.h>

namespace secure_api::files {

struct Ownership {
    uid_t uid = static_cast<uid_t>(-1); // -1: leave as created
    gid_t gid = static_cast<gid_t>(-1);
};

// Temporary files are named ".<target name>.tmp-<random>" so a later run can
// find and remove what an interrupted one left behind.
Result<void> write_atomically(const std::filesystem::path& target, std::string_view content,
                              mode_t mode, Ownership owner = {});

// fsync a directory, so that renames and creations in it are durable.
Result<void> sync_directory(const std::filesystem::path& dir);

// Remove leftovers of interrupted writes in dir; returns how many were removed.
Result<int> remove_stale_temporaries(const std::filesystem::path& dir);

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_size = 1 << 20);

} // namespace secure_api::files
