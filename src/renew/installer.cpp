#include "renew/installer.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace secure_api::renew {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view previous_link = "previous";
constexpr std::string_view link_temp_prefix = ".link-tmp-";

Error errno_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

std::string random_suffix() {
    std::random_device random;
    return std::to_string(random()) + std::to_string(random());
}

// Replace (or create) the symbolic link at path so it points at target.
Result<void> point_link(const fs::path& path, const fs::path& target) {
    fs::path temp = path.parent_path() / (std::string(link_temp_prefix) + random_suffix());
    if (::symlink(target.c_str(), temp.c_str()) != 0)
        return std::unexpected(errno_error("creating a link in " + quoted(path.parent_path())));
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        auto error = errno_error("switching " + quoted(path.string()));
        ::unlink(temp.c_str());
        return std::unexpected(error);
    }
    return files::sync_directory(path.parent_path());
}

// The generation the live link points at, relative to the certs directory.
std::optional<fs::path> link_target(const fs::path& link) {
    std::error_code ec;
    if (!fs::is_symlink(link, ec))
        return std::nullopt;
    return fs::read_symlink(link, ec);
}

// A live directory that is a plain directory (installed by hand) becomes
// the first generation, so that the link can take its place.
Result<void> adopt_plain_directory(const LiveFiles& live) {
    std::error_code ec;
    if (fs::is_symlink(live.live_dir(), ec) || !fs::is_directory(live.live_dir(), ec))
        return {};
    fs::path adopted = live.generations() / ("adopted-" + random_suffix());
    if (::rename(live.live_dir().c_str(), adopted.c_str()) != 0)
        return std::unexpected(errno_error("moving " + quoted(live.live_dir().string())));
    return point_link(live.live_dir(), fs::relative(adopted, live.live_dir().parent_path()));
}

Result<fs::path> new_generation(const LiveFiles& live, const std::string& serial) {
    fs::path dir = live.generations() / (serial + "-" + random_suffix());
    if (::mkdir(dir.c_str(), 0755) != 0 || ::chmod(dir.c_str(), 0755) != 0)
        return std::unexpected(errno_error("creating " + quoted(dir.string())));
    return dir;
}

Result<void> write_pair(const LiveFiles& live, const fs::path& dir, const Material& material,
                        files::Ownership owner) {
    if (auto key =
            files::write_atomically(dir / live.key.filename(), material.key_pem, 0640, owner);
        !key)
        return key;
    if (auto cert =
            files::write_atomically(dir / live.cert.filename(), material.chain_pem, 0644, owner);
        !cert)
        return cert;
    return files::sync_directory(dir);
}

} // namespace

fs::path LiveFiles::generations() const {
    return live_dir().parent_path() / ("." + live_dir().filename().string());
}

Result<LiveFiles> live_files(const fs::path& cert, const fs::path& key) {
    if (cert.parent_path() != key.parent_path() || cert.parent_path().empty())
        return fail("tls.cert " + quoted(cert.string()) + " and tls.key " + quoted(key.string()) +
                    " must be in the same directory for the renewal to replace them together");
    return LiveFiles{cert, key};
}

Result<void> install(const LiveFiles& live, const Material& material, files::Ownership owner) {
    std::error_code ec;
    fs::create_directories(live.generations(), ec);
    if (ec)
        return fail("creating " + quoted(live.generations().string()) + ": " + ec.message());
    // The daemon, another user, must get through to the key; the program's
    // umask would leave directories closed to it. The files guard themselves.
    ::chmod(live.generations().c_str(), 0755);
    if (auto adopted = adopt_plain_directory(live); !adopted)
        return adopted;
    auto previous = link_target(live.live_dir());
    auto dir = new_generation(live, material.serial);
    if (!dir)
        return std::unexpected(dir.error());
    if (auto written = write_pair(live, *dir, material, owner); !written) {
        fs::remove_all(*dir, ec);
        return written;
    }
    auto target = fs::relative(*dir, live.live_dir().parent_path());
    if (auto switched = point_link(live.live_dir(), target); !switched) {
        fs::remove_all(*dir, ec);
        return switched;
    }
    if (previous) // for the admin, and so clean_up keeps it
        (void)point_link(live.generations() / previous_link, fs::path("..") / *previous);
    return {};
}

Result<int> clean_up(const LiveFiles& live) {
    std::error_code ec;
    int removed = 0;
    if (auto stale = files::remove_stale_temporaries(live.live_dir().parent_path()); stale)
        removed += *stale;
    if (!fs::is_directory(live.generations(), ec))
        return removed;
    auto keep = [&](const fs::path& link) {
        auto target = link_target(link);
        return target ? fs::weakly_canonical(link.parent_path() / *target, ec) : fs::path();
    };
    fs::path current = keep(live.live_dir());
    fs::path previous = keep(live.generations() / previous_link);
    for (const auto& entry : fs::directory_iterator(live.generations(), ec)) {
        auto path = fs::weakly_canonical(entry.path(), ec);
        std::string name = entry.path().filename().string();
        if (name == previous_link || path == current || path == previous)
            continue;
        removed += static_cast<int>(fs::remove_all(entry.path(), ec) > 0);
    }
    for (const auto& entry : fs::directory_iterator(live.live_dir().parent_path(), ec))
        if (entry.path().filename().string().starts_with(link_temp_prefix))
            removed += static_cast<int>(fs::remove(entry.path(), ec));
    return removed;
}

} // namespace secure_api::renew
