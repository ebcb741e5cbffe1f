#include "renew/state.hpp"

#include "common/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>

namespace secure_api::renew {
namespace {

using Json = nlohmann::json;

std::int64_t to_seconds(Clock::time_point when) {
    return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

Clock::time_point from_seconds(std::int64_t seconds) {
    return Clock::time_point(std::chrono::seconds(seconds));
}

void put_time(Json& out, const char* key, const std::optional<Clock::time_point>& when) {
    if (when)
        out[key] = to_seconds(*when);
}

std::optional<Clock::time_point> get_time(const Json& in, const char* key) {
    if (!in.contains(key) || !in[key].is_number_integer())
        return std::nullopt;
    return from_seconds(in[key].get<std::int64_t>());
}

State from_json(const Json& in) {
    State state;
    state.failures = in.value("failures", 0);
    state.backoff_until = get_time(in, "backoff_until");
    state.rate_limited_until = get_time(in, "rate_limited_until");
    state.pending_reload = in.value("pending_reload", false);
    state.ari_serial = in.value("ari_serial", "");
    auto start = get_time(in, "ari_window_start");
    auto end = get_time(in, "ari_window_end");
    if (start && end)
        state.ari_window = AriWindow{*start, *end};
    state.ari_next_check = get_time(in, "ari_next_check");
    state.account_url = in.value("account_url", "");
    state.account_directory = in.value("account_directory", "");
    return state;
}

Json to_json(const State& state) {
    Json out = Json::object();
    out["failures"] = state.failures;
    put_time(out, "backoff_until", state.backoff_until);
    put_time(out, "rate_limited_until", state.rate_limited_until);
    out["pending_reload"] = state.pending_reload;
    out["ari_serial"] = state.ari_serial;
    if (state.ari_window) {
        out["ari_window_start"] = to_seconds(state.ari_window->start);
        out["ari_window_end"] = to_seconds(state.ari_window->end);
    }
    put_time(out, "ari_next_check", state.ari_next_check);
    out["account_url"] = state.account_url;
    out["account_directory"] = state.account_directory;
    return out;
}

} // namespace

Result<State> load_state(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return State{};
    auto text = files::read_file(path);
    if (!text)
        return std::unexpected(text.error());
    Json in = Json::parse(*text, nullptr, false);
    if (in.is_discarded() || !in.is_object())
        return fail(quoted(path.string()) + " is not a JSON object; remove it to start afresh");
    try {
        return from_json(in);
    } catch (const Json::exception& e) {
        return fail(quoted(path.string()) + ": " + e.what());
    }
}

Result<void> save_state(const std::filesystem::path& path, const State& state) {
    return files::write_atomically(path, to_json(state).dump(2) + "\n", 0600);
}

std::chrono::seconds backoff_after(int failures) {
    using namespace std::chrono_literals;
    if (failures <= 1)
        return 1h;
    if (failures == 2)
        return 2h;
    if (failures == 3)
        return 4h;
    return 6h;
}

} // namespace secure_api::renew
