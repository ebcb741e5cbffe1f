#include "server/dbus_service.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>

namespace secure_api::server {
namespace {

std::uint64_t usec_since_epoch(x509::Clock::time_point when) {
    auto usec = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch());
    return usec.count() < 0 ? 0 : static_cast<std::uint64_t>(usec.count());
}

int set_error(sd_bus_error* error, const Error& cause) {
    std::string name = std::string(interface_name) + ".Error." +
                       (cause.name.empty() ? std::string("Failed") : cause.name);
    return sd_bus_error_set(error, name.c_str(), cause.message.c_str());
}

} // namespace

// Every callback is noexcept: an exception must not unwind through sd-bus.
struct BusMethods {
    static DbusService& self(void* userdata) { return *static_cast<DbusService*>(userdata); }

    static int reload(sd_bus_message* message, void* userdata, sd_bus_error* error) noexcept try {
        auto loaded = self(userdata).reload_();
        if (!loaded)
            return set_error(error, loaded.error());
        const auto& info = (*loaded)->info();
        return sd_bus_reply_method_return(message, "st", info.serial.c_str(),
                                          usec_since_epoch(info.not_after));
    } catch (const std::exception& e) {
        return set_error(error, Error(e.what()));
    }

    static int publish(sd_bus_message* message, void* userdata, sd_bus_error* error) noexcept {
        const char* token = nullptr;
        const char* key_authorization = nullptr;
        if (int rc = sd_bus_message_read(message, "ss", &token, &key_authorization); rc < 0)
            return rc;
        try {
            if (auto published = self(userdata).challenges_.publish(token, key_authorization);
                !published)
                return set_error(error, published.error());
        } catch (const std::exception& e) {
            return set_error(error, Error(e.what()));
        }
        return sd_bus_reply_method_return(message, "");
    }

    static int withdraw(sd_bus_message* message, void* userdata, sd_bus_error*) noexcept {
        const char* token = nullptr;
        if (int rc = sd_bus_message_read(message, "s", &token); rc < 0)
            return rc;
        try {
            self(userdata).challenges_.withdraw(token);
        } catch (...) {
            return -ENOMEM;
        }
        return sd_bus_reply_method_return(message, "");
    }

    static Credentials::Ptr current(void* userdata) { return self(userdata).store_.current(); }

    static int serial(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                      void* userdata, sd_bus_error*) noexcept {
        return sd_bus_message_append(reply, "s", current(userdata)->info().serial.c_str());
    }

    static int not_after(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                         void* userdata, sd_bus_error*) noexcept {
        return sd_bus_message_append(reply, "t",
                                     usec_since_epoch(current(userdata)->info().not_after));
    }

    static int loaded_at(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                         void* userdata, sd_bus_error*) noexcept {
        return sd_bus_message_append(reply, "t", usec_since_epoch(current(userdata)->loaded_at()));
    }

    static int names(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                     void* userdata, sd_bus_error*) noexcept {
        auto credentials = current(userdata);
        int rc = sd_bus_message_open_container(reply, 'a', "s");
        for (const auto& name : credentials->info().names)
            if (rc >= 0)
                rc = sd_bus_message_append(reply, "s", name.c_str());
        return rc < 0 ? rc : sd_bus_message_close_container(reply);
    }
};

namespace {

constexpr auto changes = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Reload", "", , "st",
                             SD_BUS_PARAM(serial) SD_BUS_PARAM(not_after_usec), BusMethods::reload,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("PublishChallenge", "ss",
                             SD_BUS_PARAM(token) SD_BUS_PARAM(key_authorization), "", ,
                             BusMethods::publish, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("WithdrawChallenge", "s", SD_BUS_PARAM(token), "", ,
                             BusMethods::withdraw, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("CertificateSerial", "s", BusMethods::serial, 0, changes),
    SD_BUS_PROPERTY("CertificateNotAfter", "t", BusMethods::not_after, 0, changes),
    SD_BUS_PROPERTY("CertificateNames", "as", BusMethods::names, 0, changes),
    SD_BUS_PROPERTY("LoadedAt", "t", BusMethods::loaded_at, 0, changes),
    SD_BUS_VTABLE_END,
};

Error bus_error(const std::string& what, int rc) {
    return Error(what + ": " + std::strerror(-rc));
}

} // namespace

Result<std::unique_ptr<DbusService>> DbusService::start(sd_event* event, Reloader reload,
                                                        ChallengeStore& challenges,
                                                        const CredentialStore& store) {
    std::unique_ptr<DbusService> service(new DbusService(std::move(reload), challenges, store));
    sd_bus* bus = nullptr;
    if (int rc = sd_bus_open_system(&bus); rc < 0)
        return std::unexpected(bus_error("connecting to the system bus", rc));
    service->bus_.reset(bus);
    sd_bus_slot* slot = nullptr;
    if (int rc = sd_bus_add_object_vtable(bus, &slot, object_path, interface_name, vtable,
                                          service.get());
        rc < 0)
        return std::unexpected(bus_error("exporting " + std::string(object_path), rc));
    service->slot_.reset(slot);
    if (int rc = sd_bus_request_name(bus, bus_name, 0); rc < 0)
        return std::unexpected(bus_error("taking the bus name " + std::string(bus_name), rc));
    if (int rc = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL); rc < 0)
        return std::unexpected(bus_error("attaching to the event loop", rc));
    return service;
}

void DbusService::emit_properties_changed() {
    sd_bus_emit_properties_changed(bus_.get(), object_path, interface_name, "CertificateSerial",
                                   "CertificateNotAfter", "CertificateNames", "LoadedAt", nullptr);
}

} // namespace secure_api::server
