// The customs working calendar: time parsing, weekdays, working hours, holidays, adjusted working days
// and "the last close before" across weekends and holidays.
#include "gateway/formats/calendar.hpp"

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/gateway_process.hpp"

namespace f = portgate::formats;

namespace {
f::civil_seconds at(const char* s) {
    auto t = f::parse_civil(s);
    REQUIRE(t);
    return *t;
}
}  // namespace

TEST_CASE("civil times parse in the customs formats and reject impossible dates", "[formats][calendar]") {
    CHECK(f::format_compact(at("20261123093000")) == "20261123093000");
    CHECK(at("2026-11-23T09:30:00") == at("20261123093000"));
    CHECK(at("2026-11-23T09:30:00+08:00") == at("20261123093000"));
    CHECK(at("2026-11-23 09:30:00") == at("20261123093000"));
    CHECK(at("20261123093000123") == at("20261123093000"));
    CHECK(at("20240229") == at("2024-02-29"));
    CHECK_FALSE(f::parse_civil("20230229120000"));  // not a leap year
    CHECK_FALSE(f::parse_civil("20261323093000"));
    CHECK_FALSE(f::parse_civil("2026112309300"));
    CHECK_FALSE(f::parse_civil("2026-11-23T25:00:00"));
    CHECK_FALSE(f::parse_civil("abc"));
    CHECK(f::weekday_of(at("20261123000000")) == 1);  // a Monday
    CHECK(f::weekday_of(at("19700101000000")) == 4);  // a Thursday
    CHECK(f::weekday_of(at("19691231000000")) == 3);
}

TEST_CASE("the default calendar: weekdays 08:30-12:00 and 13:30-17:30", "[formats][calendar]") {
    f::calendar cal;
    CHECK(cal.is_working_time(at("20261123083000")));
    CHECK_FALSE(cal.is_working_time(at("20261123082959")));
    CHECK_FALSE(cal.is_working_time(at("20261123120000")));  // lunch
    CHECK(cal.is_working_time(at("20261123173000") - 1));
    CHECK_FALSE(cal.is_working_time(at("20261123173000")));
    CHECK_FALSE(cal.is_working_time(at("20261128100000")));  // Saturday
    // Monday morning: the last close is Friday 17:30.
    CHECK(f::format_compact(*cal.last_close_before(at("20261123090000"))) == "20261120173000");
    // Monday evening: that day's close.
    CHECK(f::format_compact(*cal.last_close_before(at("20261123200000"))) == "20261123173000");
    // Exactly at the close: strictly before, so the previous working day.
    CHECK(f::format_compact(*cal.last_close_before(at("20261123173000"))) == "20261120173000");
}

TEST_CASE("a calendar file: holidays, adjusted working days and errors with lines", "[formats][calendar]") {
    portgate::test::temp_dir dir("calendar");
    auto file = dir.path / "cal.toml";
    {
        std::ofstream(file) << "holidays = [\"2026-11-20\"]\nworkdays = [\"2026-11-22\"]\n"
                               "[hours]\nmonday = [\"09:00-17:00\"]\ntuesday = [\"09:00-17:00\"]\nwednesday = [\"09:00-17:00\"]\n"
                               "thursday = [\"09:00-17:00\"]\nfriday = [\"09:00-12:00\"]\nadjusted_workday = [\"10:00-15:00\"]\n";
    }
    auto cal = f::calendar::load(file);
    REQUIRE(cal);
    CHECK_FALSE((*cal)->is_working_time(at("20261120100000")));  // Friday holiday
    CHECK((*cal)->is_working_time(at("20261122100000")));        // Sunday worked
    CHECK_FALSE((*cal)->is_working_time(at("20261122093000")));  // adjusted hours start at 10:00
    CHECK((*cal)->is_working_time(at("20261123090000")));
    CHECK_FALSE((*cal)->is_working_time(at("20261123083000")));
    // Before Monday's opening: the Sunday worked day closed at 15:00.
    CHECK(f::format_compact(*(*cal)->last_close_before(at("20261123080000"))) == "20261122150000");
    // Before Sunday's close: Friday is a holiday, Thursday closes at 17:00.
    CHECK(f::format_compact(*(*cal)->last_close_before(at("20261122120000"))) == "20261119170000");

    {
        std::ofstream(file) << "[hours]\nmonday = [\"9-17\"]\n";
    }
    auto bad = f::calendar::load(file);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message.find("hours.monday") != std::string::npos);
    {
        // Keys written after [hours] belong to it: refused, not silently ignored.
        std::ofstream(file) << "[hours]\nmonday = []\nholidays = [\"2026-11-20\"]\n";
    }
    bad = f::calendar::load(file);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message.find("unknown key 'hours.holidays'") != std::string::npos);
    {
        std::ofstream(file) << "holidays = [\n\"2026-13-01\"]\n";
    }
    bad = f::calendar::load(file);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.err().problems.size() == 1);
    CHECK(bad.err().problems[0].line == 2);
}
