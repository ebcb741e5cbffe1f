#include "acme/polling.hpp"
#include "acme/retry_after.hpp"
#include "acme/timestamp.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

using namespace std::chrono_literals;

Clock::time_point at(const char* rfc3339) {
    auto when = parse_rfc3339(rfc3339);
    EXPECT_TRUE(when) << rfc3339;
    return when.value_or(Clock::time_point{});
}

TEST(RetryAfter, ReadsDeltaSeconds) {
    const auto now = Clock::now();
    EXPECT_EQ(parse_retry_after("120", now).value_or(-1s), 120s);
    EXPECT_EQ(parse_retry_after(" 0 ", now).value_or(-1s), 0s);
}

TEST(RetryAfter, BoundsAbsurdDeltaSeconds) {
    auto delay = parse_retry_after("99999999999999999999999", Clock::now());
    ASSERT_TRUE(delay);
    EXPECT_EQ(*delay, std::chrono::seconds(std::chrono::days(365)));
}

TEST(RetryAfter, ReadsAnImfFixdateRelativeToNow) {
    const auto now = at("1994-11-06T08:49:07Z");
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now).value_or(-1s), 30s);
}

TEST(RetryAfter, ReadsTheObsoleteHttpDateForms) {
    const auto now = at("1994-11-06T08:48:37Z");
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now).value_or(-1s), 60s);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now).value_or(-1s), 60s);
}

TEST(RetryAfter, ADateInThePastMeansNow) {
    const auto now = at("2030-01-01T00:00:00Z");
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now).value_or(-1s), 0s);
}

TEST(RetryAfter, RejectsGarbageAndNamesTheValue) {
    const auto now = Clock::now();
    for (const char* value : {"", "soon", "-5", "1.5", "12s", "Sun, 32 Nov 1994 08:49:37 GMT",
                              "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 25:49:37 GMT"}) {
        auto delay = parse_retry_after(value, now);
        ASSERT_FALSE(delay) << value;
        EXPECT_NE(delay.error().message.find("Retry-After"), std::string::npos);
    }
    EXPECT_NE(parse_retry_after("soon", now).error().message.find("'soon'"), std::string::npos);
}

// The clock's nanoseconds end in 2262: a server's date beyond (or long before) must
// not wrap around into a plausible time (a rate limit "until 9999" became "now").
TEST(Timestamp, RefusesDatesTheClockCannotHold) {
    const auto now = Clock::now();
    for (const char* value : {"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 2263 00:00:00 GMT",
                              "Fri, 01 Jan 1600 00:00:00 GMT"}) {
        EXPECT_FALSE(parse_retry_after(value, now)) << value;
        EXPECT_FALSE(parse_http_date(value)) << value;
    }
    for (const char* text :
         {"9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "1600-01-01T00:00:00Z"}) {
        EXPECT_FALSE(parse_rfc3339(text)) << text;
    }
    EXPECT_EQ(format_rfc3339(at("2200-01-01T00:00:00Z")), "2200-01-01T00:00:00Z");
}

TEST(Timestamp, ParsesRfc3339WithFractionsAndOffsets) {
    const auto base = at("2025-01-02T04:00:00Z");
    EXPECT_EQ(at("2025-01-02T04:00:00.5Z") - base, 500ms);
    EXPECT_EQ(at("2025-01-02T05:30:00+01:30"), base);
    EXPECT_EQ(at("2025-01-01T20:00:00-08:00"), base);
    EXPECT_EQ(format_rfc3339(base), "2025-01-02T04:00:00Z");
    EXPECT_EQ(std::chrono::system_clock::to_time_t(base), 1735790400);
}

TEST(Timestamp, RejectsMalformedRfc3339) {
    for (const char* text : {"2025-01-02", "2025-01-02T04:00:00", "2025-02-30T00:00:00Z",
                             "2025-01-02T04:00:00.Z", "2025-01-02 04:00:00Z", "x"}) {
        EXPECT_FALSE(parse_rfc3339(text)) << text;
    }
}

TEST(PollSchedule, StartsFastAndBacksOffToTheLongestDelay) {
    const auto start = PollSchedule::SteadyClock::time_point{};
    PollSchedule schedule(PollPolicy{250ms, 2s, 60s}, start);
    std::vector<long long> delays;
    for (int i = 0; i < 6; ++i) {
        delays.push_back(schedule.next_delay(std::nullopt, start)->count());
    }
    EXPECT_EQ(delays, (std::vector<long long>{250, 500, 1000, 2000, 2000, 2000}));
}

TEST(PollSchedule, HonoursRetryAfterButNeverSpins) {
    const auto start = PollSchedule::SteadyClock::time_point{};
    PollSchedule schedule(PollPolicy{250ms, 2s, 60s}, start);
    EXPECT_EQ(schedule.next_delay(7s, start), std::optional(std::chrono::milliseconds(7000)));
    EXPECT_EQ(schedule.next_delay(0s, start), std::optional(std::chrono::milliseconds(250)));
}

TEST(PollSchedule, StopsAtTheDeadline) {
    const auto start = PollSchedule::SteadyClock::time_point{};
    PollSchedule schedule(PollPolicy{250ms, 2s, 10s}, start);
    EXPECT_TRUE(schedule.next_delay(std::nullopt, start + 9s));
    EXPECT_FALSE(schedule.next_delay(std::nullopt, start + 9900ms));
    EXPECT_FALSE(schedule.next_delay(30s, start));
}

} // namespace
} // namespace secure_api::acme
