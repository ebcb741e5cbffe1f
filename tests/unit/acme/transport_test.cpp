// The transport against a small GnuTLS server in a thread on 127.0.0.1: trust, names, request
// shape, framing over a real TLS connection, connection reuse and timeouts.
#include "acme/transport.hpp"
#include "test_certs.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace secure_api::acme {
namespace {

void check(int rc, const char* what) {
    if (rc < 0) {
        throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rc));
    }
}

// A server certificate for 127.0.0.1 (IP SAN) and localhost (DNS SAN), or for another name.
test::Issued make_server_cert(const test::Issued& ca, bool right_names) {
    auto key = test::new_ec_key();
    auto crt = tls::new_x509_cert();
    const std::string cn = right_names ? "localhost" : "other.test";
    const time_t now = std::time(nullptr);
    check(gnutls_x509_crt_set_version(crt.get(), 3), "version");
    check(gnutls_x509_crt_set_dn_by_oid(crt.get(), GNUTLS_OID_X520_COMMON_NAME, 0, cn.data(),
                                        cn.size()),
          "CN");
    check(gnutls_x509_crt_set_key(crt.get(), key.get()), "key");
    check(gnutls_x509_crt_set_serial(crt.get(), "\x02", 1), "serial");
    check(gnutls_x509_crt_set_activation_time(crt.get(), now - 3600), "not before");
    check(gnutls_x509_crt_set_expiration_time(crt.get(), now + 86400), "not after");
    check(gnutls_x509_crt_set_basic_constraints(crt.get(), 0, -1), "basic constraints");
    check(gnutls_x509_crt_set_subject_alt_name(crt.get(), GNUTLS_SAN_DNSNAME, cn.data(), cn.size(),
                                               GNUTLS_FSAN_APPEND),
          "DNS SAN");
    if (right_names) {
        const unsigned char loopback[4] = {127, 0, 0, 1};
        check(gnutls_x509_crt_set_subject_alt_name(crt.get(), GNUTLS_SAN_IPADDRESS, loopback, 4,
                                                   GNUTLS_FSAN_APPEND),
              "IP SAN");
    }
    check(gnutls_x509_crt_sign2(crt.get(), ca.cert.get(), ca.key.get(), GNUTLS_DIG_SHA256, 0),
          "sign");
    return test::Issued{std::move(crt), std::move(key), {}};
}

std::string write_temp(const std::string& name, const std::string& text) {
    const auto path =
        std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()) + ".pem");
    std::ofstream(path) << text;
    return path.string();
}

// What the server answers: the raw response bytes, and whether to hang up after them.
struct Reply {
    std::string bytes;
    bool hang_up = false;
    std::chrono::milliseconds delay{0};
};
using Handler = std::function<Reply(const std::string& request)>;

// One connection at a time, several requests per connection, blocking I/O.
class TlsServer {
public:
    TlsServer(const test::Issued& cert, Handler handler) : handler_(std::move(handler)) {
        gnutls_certificate_credentials_t raw = nullptr;
        check(gnutls_certificate_allocate_credentials(&raw), "credentials");
        credentials_.reset(raw);
        gnutls_x509_crt_t chain[] = {cert.cert.get()};
        check(gnutls_certificate_set_x509_key(raw, chain, 1, cert.key.get()), "server key");
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener_, 8) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            throw std::runtime_error("cannot listen on 127.0.0.1");
        }
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~TlsServer() {
        stopping_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        if (const int fd = active_.load(); fd >= 0) {
            ::shutdown(fd, SHUT_RDWR);
        }
        thread_.join();
        ::close(listener_);
    }

    std::string base() const { return "https://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    int connections() const { return connections_; }
    std::vector<std::string> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void run() {
        while (!stopping_) {
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                return;
            }
            ++connections_;
            active_ = fd;
            serve(fd);
            active_ = -1;
            ::close(fd);
        }
    }

    void serve(int fd) {
        gnutls_session_t raw = nullptr;
        gnutls_init(&raw, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
        const std::unique_ptr<gnutls_session_int, decltype(&gnutls_deinit)> session(raw,
                                                                                    gnutls_deinit);
        gnutls_set_default_priority(raw);
        gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE, credentials_.get());
        gnutls_transport_set_int(raw, fd);
        int rc = 0;
        do {
            rc = gnutls_handshake(raw);
        } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
        if (rc < 0) {
            return;
        }
        std::string pending;
        for (;;) {
            auto request = read_request(raw, pending);
            if (request.empty()) {
                return;
            }
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(request);
            }
            const Reply reply = handler_(request);
            std::this_thread::sleep_for(reply.delay);
            if (gnutls_record_send(raw, reply.bytes.data(), reply.bytes.size()) < 0) {
                return;
            }
            if (reply.hang_up) {
                gnutls_bye(raw, GNUTLS_SHUT_WR);
                return;
            }
        }
    }

    // Head and Content-Length body of the next request; empty when the client went away.
    static std::string read_request(gnutls_session_t session, std::string& pending) {
        for (;;) {
            const size_t end = pending.find("\r\n\r\n");
            if (end != std::string::npos) {
                size_t length = 0;
                if (const size_t at = pending.find("Content-Length: "); at < end) {
                    length = std::stoul(pending.substr(at + 16));
                }
                if (pending.size() >= end + 4 + length) {
                    std::string request = pending.substr(0, end + 4 + length);
                    pending.erase(0, end + 4 + length);
                    return request;
                }
            }
            char buffer[4096];
            const ssize_t got = gnutls_record_recv(session, buffer, sizeof buffer);
            if (got <= 0) {
                return {};
            }
            pending.append(buffer, static_cast<size_t>(got));
        }
    }

    Handler handler_;
    tls::CertCredentials credentials_;
    int listener_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> active_{-1};
    std::atomic<int> connections_{0};
    std::mutex mutex_;
    std::vector<std::string> requests_;
};

std::string ok(std::string_view body, std::string_view extra = {}) {
    return "HTTP/1.1 200 OK\r\nContent-Type: Application/JSON; charset=utf-8\r\n" +
           std::string(extra) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           std::string(body);
}

class TransportTest : public ::testing::Test {
protected:
    test::Issued ca = test::make_cert({"transport test CA"}, nullptr);
    test::Issued other_ca = test::make_cert({"unrelated CA"}, nullptr);
    std::string ca_file = write_temp("transport-ca", ca.pem);
    std::string other_ca_file = write_temp("transport-other-ca", other_ca.pem);

    void TearDown() override {
        std::filesystem::remove(ca_file);
        std::filesystem::remove(other_ca_file);
    }

    Transport transport(const std::string& bundle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        TransportOptions options;
        options.ca_bundle = bundle;
        options.total_timeout = timeout;
        auto created = Transport::create(options);
        if (!created) {
            throw std::runtime_error(created.error().message);
        }
        return std::move(*created);
    }
};

TEST_F(TransportTest, VerifiesAnIpLiteralAndReadsTheAcmeFields) {
    TlsServer server(make_server_cert(ca, true), [](const std::string&) {
        return Reply{ok("{}", "Replay-Nonce: n1\r\nLocation: /acct/1\r\n"
                              "Link: <../dir>;rel=\"index\"\r\nRetry-After: 7\r\n"
                              "Date: Fri, 04 Dec 2026 12:00:00 GMT\r\n")};
    });
    auto t = transport(ca_file);
    const auto response = t.get(server.base() + "/a/b");
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->url, server.base() + "/a/b");
    EXPECT_EQ(response->body, "{}");
    EXPECT_EQ(response->content_type, "application/json");
    EXPECT_EQ(response->replay_nonce.value_or(""), "n1");
    EXPECT_EQ(response->location.value_or(""), server.base() + "/acct/1");
    EXPECT_EQ(response->link_targets("index"), std::vector<std::string>{server.base() + "/dir"});
    EXPECT_EQ(response->retry_after.value_or(""), "7");
    EXPECT_EQ(response->date.value_or(""), "Fri, 04 Dec 2026 12:00:00 GMT");
}

TEST_F(TransportTest, SendsAJosePostWithHostAgentAndAccept) {
    TlsServer server(make_server_cert(ca, true), [](const std::string&) { return Reply{ok("")}; });
    auto t = transport(ca_file);
    ASSERT_TRUE(t.post_jose(server.base() + "/order?x=1", R"({"protected":"e30"})",
                            "application/pem-certificate-chain"));
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    const std::string expected_head =
        "POST /order?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
        "\r\nUser-Agent: " + t.options().user_agent +
        "\r\nAccept: application/pem-certificate-chain\r\n"
        "Content-Type: application/jose+json\r\nContent-Length: 19\r\n\r\n"
        R"({"protected":"e30"})";
    EXPECT_EQ(requests[0], expected_head);
    EXPECT_TRUE(t.options().user_agent.starts_with("secure-api/"));
}

TEST_F(TransportTest, ReusesOneConnectionAndReconnectsAfterTheServerHangsUp) {
    int count = 0;
    TlsServer server(make_server_cert(ca, true), [&count](const std::string&) {
        ++count;
        // The second answer is chunked and followed by a hang-up without "Connection: close".
        if (count == 2) {
            return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "2\r\nab\r\n0\r\n\r\n",
                         true};
        }
        return Reply{ok(std::to_string(count))};
    });
    auto t = transport(ca_file);
    ASSERT_TRUE(t.get(server.base() + "/1"));
    const auto second = t.get(server.base() + "/2");
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->body, "ab");
    EXPECT_EQ(server.connections(), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto third = t.head(server.base() + "/3");
    ASSERT_TRUE(third) << third.error().message;
    EXPECT_EQ(server.connections(), 2);
    EXPECT_TRUE(server.requests().back().starts_with("HEAD /3 HTTP/1.1\r\n"));
}

TEST_F(TransportTest, RefusesAnUntrustedIssuerWithAReason) {
    TlsServer server(make_server_cert(ca, true), [](const std::string&) { return Reply{ok("")}; });
    auto t = transport(other_ca_file);
    const auto response = t.get(server.base() + "/dir");
    ASSERT_FALSE(response);
    const std::string& message = response.error().message;
    EXPECT_TRUE(message.starts_with("GET " + server.base() + "/dir: ")) << message;
    EXPECT_NE(message.find("does not verify"), std::string::npos) << message;
    EXPECT_NE(message.find("issuer"), std::string::npos) << message;
}

TEST_F(TransportTest, RefusesACertificateForAnotherName) {
    TlsServer server(make_server_cert(ca, false), [](const std::string&) { return Reply{ok("")}; });
    auto t = transport(ca_file);
    const auto response = t.get(server.base() + "/dir");
    ASSERT_FALSE(response);
    const std::string& message = response.error().message;
    EXPECT_NE(message.find("does not verify"), std::string::npos) << message;
    EXPECT_NE(message.find("name"), std::string::npos) << message;
}

TEST_F(TransportTest, TimesOutASlowServer) {
    TlsServer server(make_server_cert(ca, true), [](const std::string&) {
        return Reply{ok(""), false, std::chrono::milliseconds(1500)};
    });
    auto t = transport(ca_file, std::chrono::milliseconds(300));
    const auto started = std::chrono::steady_clock::now();
    const auto response = t.get(server.base() + "/slow");
    ASSERT_FALSE(response);
    EXPECT_NE(response.error().message.find("timed out"), std::string::npos)
        << response.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
}

TEST_F(TransportTest, RefusesPlainHttpAndAnUnloadableBundle) {
    auto t = transport(ca_file);
    const auto plain = t.get("http://127.0.0.1:1/dir");
    ASSERT_FALSE(plain);
    EXPECT_NE(plain.error().message.find("not https"), std::string::npos);

    TransportOptions options;
    options.ca_bundle = "/nonexistent/ca.pem";
    const auto created = Transport::create(options);
    ASSERT_FALSE(created);
    EXPECT_NE(created.error().message.find("'/nonexistent/ca.pem'"), std::string::npos)
        << created.error().message;
}

} // namespace
} // namespace secure_api::acme
