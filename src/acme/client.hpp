// One conversation with an ACME server: its directory, the anti-replay nonces
// (RFC 8555 §7.2) and signed requests (§6.2), with badNonce retried (§6.5).
#pragma once

#include "acme/account_key.hpp"
#include "acme/directory.hpp"
#include "acme/json.hpp"
#include "acme/transport.hpp"
#include "common/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace secure_api::acme {

struct ClientOptions {
    TransportOptions transport;
    // Requests sent with fresh nonces before a run of badNonce answers is an
    // error. Ten fail once in 1,024 requests when half the nonces are refused;
    // twenty, once in a million.
    int bad_nonce_attempts = 20;
};

// RFC 8555 §6.5.1: a Replay-Nonce is base64url text, and a client MUST ignore an
// invalid one. Longer than 512 characters counts as invalid too: a server should not
// get its megabyte echoed back in every signed request.
bool acceptable_nonce(std::string_view nonce);

class Client {
public:
    // Fetch the directory at directory_url and get ready to talk to the CA.
    static Result<Client> connect(const std::string& directory_url, AccountKey key,
                                  ClientOptions options = {});

    const std::string& directory_url() const { return directory_url_; }
    const Directory& directory() const { return directory_; }
    const AccountKey& account_key() const { return key_; }

    // The account URL, used as "kid" once known (RFC 8555 §6.2).
    const std::optional<std::string>& account_url() const { return account_url_; }
    void set_account_url(std::string url) { account_url_ = std::move(url); }

    // The Date header of the last response, as sent (for clock-skew checks).
    const std::optional<std::string>& last_server_date() const { return last_date_; }

    // How many requests were sent again after a badNonce answer, in total.
    int bad_nonce_retries() const { return bad_nonce_retries_; }

    // A POST signed with the account URL as "kid". A non-2xx answer is an Error,
    // named after the problem type when the server sent a problem document.
    Result<HttpResponse> post(const std::string& url, const Json& payload);
    // POST-as-GET (RFC 8555 §6.3): an empty payload.
    Result<HttpResponse> post_as_get(const std::string& url, std::string_view accept = {});
    // A POST signed with the public JWK embedded: newAccount (§7.3) and
    // revocation with the certificate key (§7.6).
    Result<HttpResponse> post_with_jwk(const std::string& url, const Json& payload);
    // An unsigned GET, e.g. renewalInfo (RFC 9773 §4.2); non-2xx is an Error.
    Result<HttpResponse> get(const std::string& url);

private:
    Client(std::string directory_url, Directory directory, AccountKey key, Transport transport,
           ClientOptions options);

    Result<HttpResponse> signed_post(const std::string& url, const std::string& payload,
                                     bool embed_jwk, std::string_view accept);
    Result<HttpResponse> send_once(const std::string& url, const std::string& payload,
                                   bool embed_jwk, std::string_view accept);
    Result<std::string> take_nonce();
    void remember(const HttpResponse& response);

    std::string directory_url_;
    Directory directory_;
    AccountKey key_;
    Transport transport_;
    ClientOptions options_;
    std::optional<std::string> nonce_;
    std::optional<std::string> account_url_;
    std::optional<std::string> last_date_;
    int bad_nonce_retries_ = 0;
};

// The Error for a non-2xx response: the problem document in one line when
// there is one (named after its type), else the status and content type.
Error response_error(const std::string& method, const HttpResponse& response);

} // namespace secure_api::acme
