#include "renew/daemon_client.hpp"

#include "acme/base64url.hpp"
#include "common/atomic_file.hpp"
#include "common/bus_names.hpp"
#include "common/log.hpp"

#include <cstring>

namespace secure_api::renew {
namespace {

using bus::interface_name;
using bus::object_path;
constexpr const char* bus_name = bus::name;

Error call_error(const std::string& method, sd::BusError& error, int rc) {
    std::string text = error.message().empty() ? std::strerror(-rc) : error.message();
    std::string name = error.name();
    return Error("the daemon's " + method + " failed: " + text +
                     (name.empty() ? "" : " (" + name + ")"),
                 name);
}

} // namespace

Result<DaemonClient> DaemonClient::connect() {
    sd_bus* bus = nullptr;
    if (int rc = sd_bus_open_system(&bus); rc < 0)
        return fail(std::string("connecting to the system bus: ") + std::strerror(-rc));
    return DaemonClient(sd::Bus(bus));
}

Result<std::string> DaemonClient::reload() {
    sd::BusError error;
    sd_bus_message* reply = nullptr;
    int rc = sd_bus_call_method(bus_.get(), bus_name, object_path, interface_name, "Reload",
                                error.get(), &reply, "");
    if (rc < 0)
        return std::unexpected(call_error("Reload", error, rc));
    const char* serial = nullptr;
    std::uint64_t not_after = 0;
    rc = sd_bus_message_read(reply, "st", &serial, &not_after);
    std::string result = rc >= 0 && serial != nullptr ? serial : "";
    sd_bus_message_unref(reply);
    if (rc < 0)
        return fail("the daemon's Reload answer could not be read");
    return result;
}

Result<void> DaemonClient::publish(std::string_view token, std::string_view key_authorization) {
    sd::BusError error;
    std::string t(token), k(key_authorization);
    int rc =
        sd_bus_call_method(bus_.get(), bus_name, object_path, interface_name, "PublishChallenge",
                           error.get(), nullptr, "ss", t.c_str(), k.c_str());
    if (rc < 0)
        return std::unexpected(call_error("PublishChallenge", error, rc));
    return {};
}

Result<void> DaemonClient::withdraw(std::string_view token) {
    sd::BusError error;
    std::string t(token);
    int rc = sd_bus_call_method(bus_.get(), bus_name, object_path, interface_name,
                                "WithdrawChallenge", error.get(), nullptr, "s", t.c_str());
    if (rc < 0)
        return std::unexpected(call_error("WithdrawChallenge", error, rc));
    return {};
}

Result<void> DaemonPublisher::publish(std::string_view token, std::string_view key_authorization) {
    return client_.publish(token, key_authorization);
}

void DaemonPublisher::withdraw(std::string_view token) noexcept {
    try {
        if (auto withdrawn = client_.withdraw(token); !withdrawn)
            log::warning(withdrawn.error().message + ", ignoring");
    } catch (...) {
    }
}

Result<void> WebrootPublisher::publish(std::string_view token, std::string_view key_authorization) {
    // The token becomes a file name: base64url only (RFC 8555 §8.3), so no "/" or "..".
    if (token.empty() || !acme::base64url_decode(token))
        return fail("the CA sent the token " + quoted(token) + ", which is not base64url");
    auto dir = webroot_ / ".well-known" / "acme-challenge";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return fail("creating " + quoted(dir.string()) + ": " + ec.message());
    return files::write_atomically(dir / std::string(token), key_authorization, 0644);
}

void WebrootPublisher::withdraw(std::string_view token) noexcept {
    try {
        std::error_code ec;
        std::filesystem::remove(webroot_ / ".well-known" / "acme-challenge" / std::string(token),
                                ec);
        if (ec)
            log::warning("Removing the challenge file " + quoted(token) +
                         " failed: " + ec.message() + ", ignoring");
    } catch (...) {
    }
}

} // namespace secure_api::renew
