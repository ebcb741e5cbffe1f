// org.secureapi.Daemon1 on the system bus: Reload, PublishChallenge,
// WithdrawChallenge and the properties of the served certificate.
#pragma once

#include "common/bus_names.hpp"
#include "common/error.hpp"
#include "common/systemd.hpp"
#include "server/challenge_store.hpp"
#include "server/credential_store.hpp"

#include <functional>
#include <memory>

namespace secure_api::server {

using bus::interface_name;
using bus::object_path;
inline constexpr const char* bus_name = bus::name;

class DbusService {
public:
    using Reloader = std::function<Result<Credentials::Ptr>()>;

    // Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS when set), exports
    // the object, takes the name, and runs on event.
    static Result<std::unique_ptr<DbusService>> start(sd_event* event, Reloader reload,
                                                      ChallengeStore& challenges,
                                                      const CredentialStore& store);

    void emit_properties_changed();

private:
    friend struct BusMethods; // the sd-bus callbacks of dbus_service.cpp
    DbusService(Reloader reload, ChallengeStore& challenges, const CredentialStore& store)
        : reload_(std::move(reload)), challenges_(challenges), store_(store) {}

    Reloader reload_;
    ChallengeStore& challenges_;
    const CredentialStore& store_;
    sd::Bus bus_;
    sd::BusSlot slot_;
};

} // namespace secure_api::server
