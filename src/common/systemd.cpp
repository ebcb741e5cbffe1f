#include "common/systemd.hpp"

#include <systemd/sd-daemon.h>

namespace secure_api::sd {

void notify(const std::string& state) {
    sd_notify(0, state.c_str());
}

} // namespace secure_api::sd
