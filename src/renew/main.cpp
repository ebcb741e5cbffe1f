// secure-api-renew: parse the configuration, run one renewal, exit with a
// status that says what happened (renew/exit_status.hpp).
#include "common/config.hpp"
#include "common/log.hpp"
#include "renew/renewal.hpp"

#include <cstdio>
#include <sys/stat.h>

int main(int argc, char** argv) {
    using namespace secure_api;
    // Whatever the caller's umask, nothing this program creates is for others.
    ::umask(0027);
    auto config = load_config(argc, argv, "secure-api-renew");
    if (!config) {
        log::error(config.error().message);
        return renew::config_error;
    }
    if (config->early_output) {
        std::fputs(config->early_output->c_str(), stdout);
        return 0;
    }
    if (config->acme.directory.empty() && !config->domains.empty()) {
        log::error(config->file.string() + ": acme.directory is not set");
        return renew::config_error;
    }
    return renew::Renewal(std::move(*config)).run();
}
