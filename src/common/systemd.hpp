// Move-only owners for sd-event and sd-bus handles, and sd_notify helpers.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>
#include <string>

namespace secure_api::sd {

template <typename T, T* (*Unref)(T*)> struct Unref_ {
    void operator()(T* handle) const noexcept { Unref(handle); }
};

using Event = std::unique_ptr<sd_event, Unref_<sd_event, sd_event_unref>>;
using EventSource =
    std::unique_ptr<sd_event_source, Unref_<sd_event_source, sd_event_source_unref>>;
using Bus = std::unique_ptr<sd_bus, Unref_<sd_bus, sd_bus_flush_close_unref>>;
using BusSlot = std::unique_ptr<sd_bus_slot, Unref_<sd_bus_slot, sd_bus_slot_unref>>;

// Owns a sd_bus_error and frees it.
class BusError {
public:
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&error_); }
    sd_bus_error* get() { return &error_; }
    std::string message() const {
        return error_.message != nullptr ? error_.message
                                         : (error_.name != nullptr ? error_.name : "");
    }
    std::string name() const { return error_.name != nullptr ? error_.name : ""; }

private:
    sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

// Send a state change to the service manager; a no-op outside systemd.
void notify(const std::string& state);

} // namespace secure_api::sd
