#include "gateway/formats/calendar.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace portgate::formats {
namespace {

// Howard Hinnant's civil-from-days algorithm family (public domain description), written out here.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yy + (m <= 2));
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

unsigned days_in_month(int y, unsigned m) {
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

std::optional<civil_seconds> make(int y, int mo, int d, int h, int mi, int s) {
    if (mo < 1 || mo > 12 || d < 1 || d > static_cast<int>(days_in_month(y, unsigned(mo))) || h > 23 || mi > 59 || s > 60)
        return std::nullopt;
    return days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + s;
}

std::int64_t day_of(civil_seconds t) { return t >= 0 ? t / 86400 : (t - 86399) / 86400; }

result<std::vector<calendar::interval>> parse_intervals(const toml::array& arr, const std::string& where) {
    std::vector<calendar::interval> out;
    for (auto& v : arr) {
        auto s = v.value<std::string>();
        int h1, m1, h2, m2;
        if (!s || s->size() != 11 || (*s)[2] != ':' || (*s)[5] != '-' || (*s)[8] != ':' || !digits(*s, 0, 2, h1) ||
            !digits(*s, 3, 2, m1) || !digits(*s, 6, 2, h2) || !digits(*s, 9, 2, m2) || h1 * 60 + m1 >= h2 * 60 + m2 || h2 > 24)
            return error(errc::config_invalid, fmt::format("{}: expected \"HH:MM-HH:MM\" intervals", where),
                         {{static_cast<int>(v.source().begin.line), 0, "", fmt::format("{}: expected \"HH:MM-HH:MM\"", where), ""}});
        out.push_back({h1 * 60 + m1, h2 * 60 + m2});
    }
    return out;
}

}  // namespace

std::optional<civil_seconds> parse_civil(std::string_view s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (s.size() >= 10 && s[4] == '-' && s[7] == '-') {
        if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d)) return std::nullopt;
        if (s.size() > 10) {
            if ((s[10] != 'T' && s[10] != ' ') || s.size() < 16 || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi))
                return std::nullopt;
            std::size_t p = 16;
            if (p < s.size() && s[p] == ':') {
                if (!digits(s, p + 1, 2, sec)) return std::nullopt;
                p += 3;
                if (p < s.size() && s[p] == '.') {
                    ++p;
                    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
                }
            }
            std::string_view zone = s.substr(p);
            if (!(zone.empty() || zone == "Z" ||
                  (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':')))
                return std::nullopt;
        }
        return make(y, mo, d, h, mi, sec);
    }
    for (char c : s)
        if (c < '0' || c > '9') return std::nullopt;
    if (s.size() != 8 && s.size() != 12 && s.size() != 14 && s.size() != 17) return std::nullopt;
    digits(s, 0, 4, y);
    digits(s, 4, 2, mo);
    digits(s, 6, 2, d);
    if (s.size() >= 12) {
        digits(s, 8, 2, h);
        digits(s, 10, 2, mi);
    }
    if (s.size() >= 14) digits(s, 12, 2, sec);
    return make(y, mo, d, h, mi, sec);
}

std::string format_compact(civil_seconds t) {
    std::int64_t day = day_of(t);
    std::int64_t rest = t - day * 86400;
    int y;
    unsigned m, d;
    civil_from_days(day, y, m, d);
    return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", y, m, d, rest / 3600, (rest % 3600) / 60, rest % 60);
}

int weekday_of(civil_seconds t) {
    std::int64_t z = day_of(t);
    return static_cast<int>(((z % 7) + 7 + 4) % 7);
}

civil_seconds now_civil() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    return *make(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec > 59 ? 59 : tm.tm_sec);
}

calendar::calendar() {
    for (int wd = 1; wd <= 5; ++wd) week_[wd] = {{8 * 60 + 30, 12 * 60}, {13 * 60 + 30, 17 * 60 + 30}};
    adjusted_ = week_[1];
}

result<std::shared_ptr<const calendar>> calendar::load(const std::filesystem::path& file) {
    toml::table tbl;
    try {
        tbl = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        return error(errc::config_invalid, fmt::format("{}:{}: {}", file.string(), e.source().begin.line, e.description()),
                     {{static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column), "", std::string(e.description()), ""}});
    }
    auto cal = std::make_shared<calendar>();
    static const char* names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
    for (auto& [k, v] : tbl)
        if (k != "hours" && k != "holidays" && k != "workdays")
            return error(errc::config_invalid, fmt::format("{}:{}: unknown key '{}' (expected hours, holidays, workdays)", file.string(),
                                                           v.source().begin.line, k.str()));
    if (auto* hours = tbl["hours"].as_table())
        for (auto& [k, v] : *hours) {
            bool known = k == "adjusted_workday";
            for (auto* n : names) known |= k == n;
            if (!known)
                return error(errc::config_invalid,
                             fmt::format("{}:{}: unknown key 'hours.{}' (weekday names and adjusted_workday only; holidays and "
                                         "workdays belong before [hours])", file.string(), v.source().begin.line, k.str()));
        }
    if (auto* hours = tbl["hours"].as_table()) {
        for (int wd = 0; wd < 7; ++wd) {
            if (auto* arr = (*hours)[names[wd]].as_array()) {
                auto iv = parse_intervals(*arr, fmt::format("{}: hours.{}", file.string(), names[wd]));
                if (!iv) return iv.err();
                cal->week_[wd] = std::move(iv.value());
            } else if (hours->contains(names[wd])) {
                return error(errc::config_invalid, fmt::format("{}: hours.{} must be an array", file.string(), names[wd]));
            }
        }
        if (auto* arr = (*hours)["adjusted_workday"].as_array()) {
            auto iv = parse_intervals(*arr, fmt::format("{}: hours.adjusted_workday", file.string()));
            if (!iv) return iv.err();
            cal->adjusted_ = std::move(iv.value());
        } else {
            cal->adjusted_ = cal->week_[1];
        }
    }
    auto dates = [&](const char* key, std::set<std::int64_t>& into) -> status {
        auto* arr = tbl[key].as_array();
        if (!arr) return ok();
        for (auto& v : *arr) {
            auto s = v.value<std::string>();
            std::optional<civil_seconds> t;
            if (s && s->size() == 10) t = parse_civil(*s);
            if (!t)
                return error(errc::config_invalid, fmt::format("{}:{}: {} entries must be \"yyyy-MM-dd\"", file.string(), v.source().begin.line, key),
                             {{static_cast<int>(v.source().begin.line), 0, "", fmt::format("{} entries must be \"yyyy-MM-dd\"", key), ""}});
            into.insert(day_of(*t));
        }
        return ok();
    };
    if (auto s = dates("holidays", cal->holidays_); !s) return s.err();
    if (auto s = dates("workdays", cal->workdays_); !s) return s.err();
    return std::shared_ptr<const calendar>(cal);
}

bool calendar::is_working_day(civil_seconds t) const {
    std::int64_t d = day_of(t);
    if (workdays_.count(d)) return true;
    if (holidays_.count(d)) return false;
    return !week_[weekday_of(t)].empty();
}

bool calendar::is_working_time(civil_seconds t) const {
    std::int64_t d = day_of(t);
    const std::vector<interval>* iv = nullptr;
    if (workdays_.count(d)) iv = &adjusted_;
    else if (holidays_.count(d)) return false;
    else iv = &week_[weekday_of(t)];
    int minute = static_cast<int>((t - d * 86400) / 60);
    for (auto& i : *iv)
        if (minute >= i.from && minute < i.to) return true;
    return false;
}

std::optional<civil_seconds> calendar::last_close_before(civil_seconds t) const {
    std::int64_t d = day_of(t);
    for (int back = 0; back < 400; ++back, --d) {
        const std::vector<interval>* iv = nullptr;
        if (workdays_.count(d)) iv = &adjusted_;
        else if (holidays_.count(d)) continue;
        else iv = &week_[weekday_of(d * 86400)];
        if (iv->empty()) continue;
        int close = 0;
        for (auto& i : *iv) close = std::max(close, i.to);
        civil_seconds c = d * 86400 + close * 60;
        if (c < t) return c;
    }
    return std::nullopt;
}

}  // namespace portgate::formats
