#include "renew/policy.hpp"

#include <algorithm>
#include <cctype>

namespace secure_api::renew {
namespace {

constexpr auto short_lifetime = std::chrono::hours(24 * 10);

std::vector<std::string> normalized(std::vector<std::string> names) {
    for (auto& name : names)
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

} // namespace

Clock::time_point lifetime_due_at(const CertFacts& cert) {
    auto lifetime = cert.not_after - cert.not_before;
    auto keep = lifetime < short_lifetime ? lifetime / 2 : lifetime / 3;
    return cert.not_after - keep;
}

bool names_differ(const std::vector<std::string>& have, const std::vector<std::string>& want) {
    return normalized(have) != normalized(want);
}

Decision decide(const std::optional<CertFacts>& cert, const std::vector<std::string>& names,
                const std::optional<AriWindow>& ari, Clock::time_point now, bool force) {
    if (force)
        return {Reason::forced, now};
    if (!cert)
        return {Reason::no_certificate, now};
    if (names_differ(cert->names, names))
        return {Reason::names_changed, now};
    auto due_at = lifetime_due_at(*cert);
    if (now >= due_at)
        return {Reason::lifetime, due_at};
    // RFC 9773 §4.2 lets the client pick any moment in the window; the
    // start is the one that never lets an open window pass unused.
    if (ari && now >= ari->start)
        return {Reason::ari_window, ari->start};
    if (ari)
        due_at = std::min(due_at, ari->start);
    return {Reason::not_due, due_at};
}

std::string_view describe(Reason reason) {
    switch (reason) {
    case Reason::forced:
        return "renewal forced";
    case Reason::no_certificate:
        return "no certificate yet";
    case Reason::names_changed:
        return "the configured names changed";
    case Reason::lifetime:
        return "little of its lifetime is left";
    case Reason::ari_window:
        return "the CA's renewal window has begun";
    case Reason::not_due:
        return "not due";
    }
    return "unknown";
}

} // namespace secure_api::renew
