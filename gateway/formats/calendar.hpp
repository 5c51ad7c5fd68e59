// The customs working calendar (xsd/calendar.toml, or the file named in the config): working hours per
// weekday, public holidays and the weekend days that are worked instead (调休). Used by business rules
// such as the appointment clearance rules (pg:is-working-time, pg:last-close-before). Times are civil
// times of the customs office (China Standard Time); no time zone arithmetic is done.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"

namespace portgate::formats {

// Seconds since 1970-01-01T00:00:00 of a civil time (no zone).
using civil_seconds = std::int64_t;

// Accepts yyyyMMddHHmmss[SSS], yyyyMMddHHmm, yyyyMMdd, yyyy-MM-dd, yyyy-MM-ddTHH:mm[:ss[.fff]][Z|±hh:mm]
// and "yyyy-MM-dd HH:mm:ss". A zone suffix is ignored (civil time). nullopt when not a valid time.
std::optional<civil_seconds> parse_civil(std::string_view s);
std::string format_compact(civil_seconds t);  // yyyyMMddHHmmss
// 0 = Sunday … 6 = Saturday.
int weekday_of(civil_seconds t);
civil_seconds now_civil();  // the machine's local time

class calendar {
public:
    struct interval {
        int from = 0, to = 0;  // minutes after midnight, from < to
    };
    // Default: Monday–Friday 08:30–12:00 and 13:30–17:30, no holidays.
    calendar();
    static result<std::shared_ptr<const calendar>> load(const std::filesystem::path& file);

    bool is_working_day(civil_seconds t) const;
    bool is_working_time(civil_seconds t) const;
    // The closing time of the last working day whose close is strictly before `t`.
    std::optional<civil_seconds> last_close_before(civil_seconds t) const;

private:
    std::array<std::vector<interval>, 7> week_;  // by weekday, 0 = Sunday
    std::set<std::int64_t> holidays_;            // day numbers (days since epoch)
    std::set<std::int64_t> workdays_;            // weekend days worked; they use `adjusted_` hours
    std::vector<interval> adjusted_;
};

}  // namespace portgate::formats
