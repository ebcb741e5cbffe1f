// Installing a certificate chain and its key so that the live names never
// show a torn pair. The live directory (certs/<name>) is a symbolic link to
// a generation directory (certs/.<name>/<serial>); a new pair is written in
// full into a new generation, and one rename() of a fresh link over the old
// one switches both files at once. An interrupted install leaves the old
// link, hence the old pair, untouched; its leftovers go on the next run.
#pragma once

#include "common/atomic_file.hpp"
#include "common/error.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace secure_api::renew {

struct LiveFiles {
    std::filesystem::path cert; // <live dir>/fullchain.pem
    std::filesystem::path key;  // <live dir>/privkey.pem, same directory

    std::filesystem::path live_dir() const { return cert.parent_path(); }
    std::filesystem::path generations() const;
};

// Both files must live in one directory; anything else cannot be swapped
// as a pair.
Result<LiveFiles> live_files(const std::filesystem::path& cert, const std::filesystem::path& key);

struct Material {
    std::string chain_pem;
    std::string key_pem;
    std::string serial; // names the generation
};

// Certificate 0644, key 0640, both owned by owner (the key readable by the
// daemon's group only).
Result<void> install(const LiveFiles& live, const Material& material, files::Ownership owner);

// Remove generations that are neither live nor the one before, and temporary
// files of interrupted runs. Returns how many entries were removed.
Result<int> clean_up(const LiveFiles& live);

} // namespace secure_api::renew
