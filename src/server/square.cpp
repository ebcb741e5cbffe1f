#include "server/square.hpp"

#include <gmp.h>

#include <memory>

namespace secure_api::server {
namespace {

// Up to 19 digits the square fits in 128 bits (10^38 < 2^128), which
// covers nearly every request without touching the big-number library.
constexpr std::size_t small_digits = 19;

std::string small_square(std::string_view digits) {
    unsigned __int128 n = 0;
    for (char c : digits)
        n = n * 10 + static_cast<unsigned>(c - '0');
    n *= n;
    char buffer[40];
    char* end = buffer + sizeof buffer;
    char* p = end;
    do {
        *--p = static_cast<char>('0' + static_cast<int>(n % 10));
        n /= 10;
    } while (n != 0);
    return std::string(p, end);
}

struct Mpz {
    mpz_t value;
    Mpz() { mpz_init(value); }
    ~Mpz() { mpz_clear(value); }
    Mpz(const Mpz&) = delete;
    Mpz& operator=(const Mpz&) = delete;
};

std::string big_square(std::string_view digits) {
    Mpz n;
    std::string text(digits); // GMP wants a terminated string
    mpz_set_str(n.value, text.c_str(), 10);
    mpz_mul(n.value, n.value, n.value);
    std::string out(mpz_sizeinbase(n.value, 10) + 1, '\0');
    mpz_get_str(out.data(), 10, n.value);
    out.resize(out.find('\0'));
    return out;
}

} // namespace

DigitsCheck check_digits(std::string_view text, std::size_t max_digits) {
    if (text.empty())
        return DigitsCheck::not_digits;
    for (char c : text)
        if (c < '0' || c > '9')
            return DigitsCheck::not_digits;
    return text.size() > max_digits ? DigitsCheck::too_long : DigitsCheck::ok;
}

std::string square(std::string_view digits) {
    auto first = digits.find_first_not_of('0');
    if (first == std::string_view::npos)
        return "0";
    digits.remove_prefix(first);
    return digits.size() <= small_digits ? small_square(digits) : big_square(digits);
}

} // namespace secure_api::server
