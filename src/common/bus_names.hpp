// Where secure-apid is on the system bus; the daemon exports it, the renewal calls it.
#pragma once

namespace secure_api::bus {

inline constexpr const char* name = "org.secureapi.Daemon1";
inline constexpr const char* object_path = "/org/secureapi/Daemon1";
inline constexpr const char* interface_name = "org.secureapi.Daemon1";

} // namespace secure_api::bus
