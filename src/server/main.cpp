// secure-apid: parse the configuration, build the daemon, run its loop.
#include "common/config.hpp"
#include "common/log.hpp"
#include "server/daemon.hpp"

#include <cstdio>

int main(int argc, char** argv) {
    using namespace secure_api;
    auto config = load_config(argc, argv, "secure-apid");
    if (!config) {
        log::error(config.error().message);
        return exit_config_error;
    }
    if (config->early_output) {
        std::fputs(config->early_output->c_str(), stdout);
        return 0;
    }
    auto daemon = server::Daemon::create(std::move(*config));
    if (!daemon) {
        log::error(daemon.error().message);
        return daemon.error().name == "Config" ? exit_config_error : 1;
    }
    return (*daemon)->run();
}
