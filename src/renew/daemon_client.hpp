// The renewal's side of org.secureapi.Daemon1: publish and withdraw HTTP-01
// answers, and ask the daemon to reload its certificate.
#pragma once

#include "acme/issuance.hpp"
#include "common/error.hpp"
#include "common/systemd.hpp"

#include <filesystem>
#include <string>

namespace secure_api::renew {

class DaemonClient {
public:
    // The system bus, or DBUS_SYSTEM_BUS_ADDRESS when set.
    static Result<DaemonClient> connect();

    // Returns the serial the daemon now serves. The D-Bus error of a refused
    // reload names the reason (org.secureapi.Daemon1.Error.KeyMismatch…).
    Result<std::string> reload();
    Result<void> publish(std::string_view token, std::string_view key_authorization);
    Result<void> withdraw(std::string_view token);

private:
    explicit DaemonClient(sd::Bus bus) : bus_(std::move(bus)) {}
    sd::Bus bus_;
};

// http-01 answers served by secure-apid on port 80.
class DaemonPublisher final : public acme::ChallengePublisher {
public:
    explicit DaemonPublisher(DaemonClient& client) : client_(client) {}
    Result<void> publish(std::string_view token, std::string_view key_authorization) override;
    void withdraw(std::string_view token) noexcept override;

private:
    DaemonClient& client_;
};

// http-01 answers as files under <webroot>/.well-known/acme-challenge/, for
// setups where another web server owns port 80.
class WebrootPublisher final : public acme::ChallengePublisher {
public:
    explicit WebrootPublisher(std::filesystem::path webroot) : webroot_(std::move(webroot)) {}
    Result<void> publish(std::string_view token, std::string_view key_authorization) override;
    void withdraw(std::string_view token) noexcept override;

private:
    std::filesystem::path webroot_;
};

} // namespace secure_api::renew
