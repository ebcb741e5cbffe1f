#include "acme/timestamp.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>

namespace secure_api::acme {

namespace {

using namespace std::chrono;

struct Fields {
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
};

// Reads a fixed run of digits from the front of text.
std::optional<int> take_digits(std::string_view& text, size_t count) {
    if (text.size() < count) {
        return std::nullopt;
    }
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
        const char c = text[i];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    text.remove_prefix(count);
    return value;
}

bool take_literal(std::string_view& text, std::string_view literal) {
    if (!text.starts_with(literal)) {
        return false;
    }
    text.remove_prefix(literal.size());
    return true;
}

std::optional<unsigned> take_month_name(std::string_view& text) {
    static constexpr std::array<std::string_view, 12> names{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (size_t i = 0; i < names.size(); ++i) {
        if (take_literal(text, names[i])) {
            return static_cast<unsigned>(i + 1);
        }
    }
    return std::nullopt;
}

// Skips the day name and the separator after it ("Sun, " / "Sunday, " / "Sun ").
bool skip_day_name(std::string_view& text, std::string_view separator) {
    const size_t end = text.find(separator);
    if (end == std::string_view::npos || end < 3) {
        return false;
    }
    text.remove_prefix(end + separator.size());
    return true;
}

// "08:49:37"
bool take_clock(std::string_view& text, Fields& out) {
    auto h = take_digits(text, 2);
    auto m = h && take_literal(text, ":") ? take_digits(text, 2) : std::nullopt;
    auto s = m && take_literal(text, ":") ? take_digits(text, 2) : std::nullopt;
    if (!s) {
        return false;
    }
    out.hour = *h;
    out.minute = *m;
    out.second = *s;
    return true;
}

// The clock counts nanoseconds in 64 bits, from 1678 to 2262; a date the server
// sends outside 1900-2200 would overflow it on the way (or after an offset), and no
// CA's clock or schedule is there, so such a date does not parse.
constexpr int earliest_year = 1900;
constexpr int latest_year = 2200;

std::optional<Clock::time_point> to_time_point(const Fields& f) {
    const year_month_day date{year{f.year}, month{f.month}, day{f.day}};
    if (f.year < earliest_year || f.year > latest_year) {
        return std::nullopt;
    }
    // Leap seconds (60) are accepted and folded into the next second.
    if (!date.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) {
        return std::nullopt;
    }
    return time_point_cast<Clock::duration>(sys_days{date} + hours{f.hour} + minutes{f.minute} +
                                            seconds{f.second});
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<Fields> imf_fixdate(std::string_view text) {
    Fields f;
    if (!skip_day_name(text, ", ")) {
        return std::nullopt;
    }
    auto d = take_digits(text, 2);
    auto m = d && take_literal(text, " ") ? take_month_name(text) : std::nullopt;
    auto y = m && take_literal(text, " ") ? take_digits(text, 4) : std::nullopt;
    if (!y || !take_literal(text, " ") || !take_clock(text, f) || text != " GMT") {
        return std::nullopt;
    }
    f.day = static_cast<unsigned>(*d);
    f.month = *m;
    f.year = *y;
    return f;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; RFC 9110 §5.6.7: a two-digit year that
// looks more than 50 years in the future is in the past century.
std::optional<Fields> rfc850_date(std::string_view text, int current_year) {
    Fields f;
    if (!skip_day_name(text, ", ")) {
        return std::nullopt;
    }
    auto d = take_digits(text, 2);
    auto m = d && take_literal(text, "-") ? take_month_name(text) : std::nullopt;
    auto y = m && take_literal(text, "-") ? take_digits(text, 2) : std::nullopt;
    if (!y || !take_literal(text, " ") || !take_clock(text, f) || text != " GMT") {
        return std::nullopt;
    }
    int year = current_year / 100 * 100 + *y;
    if (year > current_year + 50) {
        year -= 100;
    }
    f.day = static_cast<unsigned>(*d);
    f.month = *m;
    f.year = year;
    return f;
}

// "Sun Nov  6 08:49:37 1994"
std::optional<Fields> asctime_date(std::string_view text) {
    Fields f;
    if (!skip_day_name(text, " ")) {
        return std::nullopt;
    }
    auto m = take_month_name(text);
    if (!m || !take_literal(text, " ")) {
        return std::nullopt;
    }
    take_literal(text, " "); // a one-digit day is padded with a space
    auto d = take_digits(text, 2);
    if (!d) {
        d = take_digits(text, 1);
    }
    if (!d || !take_literal(text, " ") || !take_clock(text, f) || !take_literal(text, " ")) {
        return std::nullopt;
    }
    auto y = take_digits(text, 4);
    if (!y || !text.empty()) {
        return std::nullopt;
    }
    f.day = static_cast<unsigned>(*d);
    f.month = *m;
    f.year = *y;
    return f;
}

int current_year() {
    const year_month_day today{floor<days>(Clock::now())};
    return static_cast<int>(today.year());
}

// "+05:30" / "-08:00" / "Z" → offset east of UTC.
std::optional<minutes> take_offset(std::string_view& text) {
    if (take_literal(text, "Z") || take_literal(text, "z")) {
        return minutes{0};
    }
    if (text.empty() || (text.front() != '+' && text.front() != '-')) {
        return std::nullopt;
    }
    const int sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
    auto h = take_digits(text, 2);
    auto m = h && take_literal(text, ":") ? take_digits(text, 2) : std::nullopt;
    if (!m || *h > 23 || *m > 59) {
        return std::nullopt;
    }
    return minutes{sign * (*h * 60 + *m)};
}

// ".123456" → the fraction as a duration (digits past nanoseconds are dropped).
std::optional<nanoseconds> take_fraction(std::string_view& text) {
    if (!take_literal(text, ".")) {
        return nanoseconds{0};
    }
    size_t digits = 0;
    long long value = 0;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
        if (digits < 9) {
            value = value * 10 + (text.front() - '0');
        }
        ++digits;
        text.remove_prefix(1);
    }
    if (digits == 0) {
        return std::nullopt;
    }
    for (size_t i = digits; i < 9; ++i) {
        value *= 10;
    }
    return nanoseconds{value};
}

std::optional<Fields> rfc3339_fields(std::string_view& text) {
    Fields f;
    auto y = take_digits(text, 4);
    auto mo = y && take_literal(text, "-") ? take_digits(text, 2) : std::nullopt;
    auto d = mo && take_literal(text, "-") ? take_digits(text, 2) : std::nullopt;
    if (!d || !(take_literal(text, "T") || take_literal(text, "t")) || !take_clock(text, f)) {
        return std::nullopt;
    }
    f.year = *y;
    f.month = static_cast<unsigned>(*mo);
    f.day = static_cast<unsigned>(*d);
    return f;
}

} // namespace

Result<Clock::time_point> parse_http_date(std::string_view text) {
    std::optional<Fields> fields = imf_fixdate(text);
    if (!fields) {
        fields = rfc850_date(text, current_year());
    }
    if (!fields) {
        fields = asctime_date(text);
    }
    auto when = fields ? to_time_point(*fields) : std::nullopt;
    if (!when) {
        return fail(secure_api::quoted(text) + " is not an HTTP-date");
    }
    return *when;
}

Result<Clock::time_point> parse_rfc3339(std::string_view text) {
    std::string_view rest = text;
    auto fields = rfc3339_fields(rest);
    auto fraction = fields ? take_fraction(rest) : std::nullopt;
    auto offset = fraction ? take_offset(rest) : std::nullopt;
    auto when = offset && rest.empty() ? to_time_point(*fields) : std::nullopt;
    if (!when) {
        return fail(secure_api::quoted(text) + " is not an RFC 3339 timestamp");
    }
    return *when + duration_cast<Clock::duration>(*fraction) - *offset;
}

std::string format_rfc3339(Clock::time_point when) {
    const auto day_start = floor<days>(when);
    const year_month_day date{day_start};
    const hh_mm_ss clock{floor<seconds>(when - day_start)};
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                  static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()));
    return std::string(buffer.data());
}

} // namespace secure_api::acme
