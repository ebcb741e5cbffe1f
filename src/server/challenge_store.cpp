#include "server/challenge_store.hpp"

#include <mutex>

namespace secure_api::server {
namespace {

constexpr std::size_t max_token_length = 256;
constexpr std::size_t max_key_authorization_length = 1024;

bool base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// token "." thumbprint, both base64url (RFC 8555 §8.1).
bool valid_key_authorization(std::string_view text) {
    auto dot = text.find('.');
    return dot != std::string_view::npos && valid_token(text.substr(0, dot)) &&
           valid_token(text.substr(dot + 1)) && text.size() <= max_key_authorization_length;
}

} // namespace

bool valid_token(std::string_view token) {
    if (token.empty() || token.size() > max_token_length)
        return false;
    for (char c : token)
        if (!base64url_char(c))
            return false;
    return true;
}

Result<void> ChallengeStore::publish(std::string_view token, std::string_view key_authorization) {
    if (!valid_token(token))
        return fail("the token " + quoted(token) + " is not base64url", "InvalidArgument");
    if (!valid_key_authorization(key_authorization))
        return fail("the key authorization for " + quoted(token) +
                        " is not <token>.<thumbprint> in base64url",
                    "InvalidArgument");
    std::unique_lock lock(mutex_);
    if (entries_.size() >= max_entries && !entries_.contains(std::string(token)))
        return fail("too many published challenges", "InvalidArgument");
    entries_[std::string(token)] = std::string(key_authorization);
    return {};
}

void ChallengeStore::withdraw(std::string_view token) {
    std::unique_lock lock(mutex_);
    entries_.erase(std::string(token));
}

std::optional<std::string> ChallengeStore::find(std::string_view token) const {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(std::string(token));
    if (it == entries_.end())
        return std::nullopt;
    return it->second;
}

} // namespace secure_api::server
