#include "acme/jws.hpp"

#include "acme/base64url.hpp"

namespace secure_api::acme {

Result<Json> sign_flattened(const AccountKey& key, const Json& protected_header,
                            std::string_view payload) {
    const std::string encoded_header = base64url_encode(compact(protected_header));
    const std::string encoded_payload = base64url_encode(payload);
    // RFC 7515 §5.1: the signing input is ASCII(header '.' payload).
    auto signature = key.sign(encoded_header + "." + encoded_payload);
    if (!signature) {
        return std::unexpected(signature.error());
    }
    return Json{{"protected", encoded_header},
                {"payload", encoded_payload},
                {"signature", base64url_encode(*signature)}};
}

Result<Json> sign_acme_request(const AccountKey& key, const JwsHeader& header,
                               std::string_view payload) {
    Json protected_header{{"alg", key.algorithm()}, {"nonce", header.nonce}, {"url", header.url}};
    if (header.kid) {
        protected_header["kid"] = *header.kid;
    } else {
        protected_header["jwk"] = key.jwk();
    }
    return sign_flattened(key, protected_header, payload);
}

} // namespace secure_api::acme
