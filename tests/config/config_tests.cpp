// Tests for loading portgate.toml: the shipped sample, collecting every problem with its line, TOML
// syntax errors, look-ups, and how relative paths resolve. Generated configs live in a temporary directory.
#include "gateway/config/config.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "gateway/core/digest.hpp"
#include "tests/support/gateway_process.hpp"

namespace {

namespace fs = std::filesystem;
using namespace portgate;

using portgate::test::temp_dir;

// Writes `lines` joined by '\n', so that lines[i] is line i + 1 of the file.
fs::path write_config(const fs::path& file, const std::vector<std::string>& lines) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    for (auto& l : lines) out << l << '\n';
    REQUIRE(out.good());
    return file;
}

config::config load_ok(const fs::path& file) {
    auto c = config::load(file);
    if (!c) {
        std::ostringstream all;
        for (auto& p : c.err().problems) all << "\n  line " << p.line << ": " << p.message;
        FAIL(c.err().message << all.str());
    }
    return std::move(c.value());
}

// The one problem whose message contains `needle` (fails when none or several match).
const problem& find_problem(const error& e, const std::string& needle) {
    const problem* found = nullptr;
    int matches = 0;
    for (auto& p : e.problems)
        if (p.message.find(needle) != std::string::npos) {
            found = &p;
            ++matches;
        }
    INFO("looking for a problem mentioning '" << needle << "'");
    REQUIRE(matches == 1);
    return *found;
}

const std::string ceb311 = "{http://www.chinaport.gov.cn/ceb}CEB311Message";
const std::string ceb621 = "{http://www.chinaport.gov.cn/ceb}CEB621Message";

// Seven problems, each on a known line: listen (5), unknown key (6), synchronous (9), compression (10), plain API key (13),
// duplicate partner id (16), route to an unknown partner (20). The xsd directory exists.
std::vector<std::string> bad_config_lines() {
    return {
        /*  1 */ "[paths]",
        /*  2 */ "xsd = \"xsd\"",
        /*  3 */ "",
        /*  4 */ "[server]",
        /*  5 */ "listen = \"nonsense\"",
        /*  6 */ "colour = \"blue\"",
        /*  7 */ "",
        /*  8 */ "[store]",
        /*  9 */ "synchronous = \"sometimes\"",
        /* 10 */ "compression = \"gzip\"",
        /* 11 */ "[[partner]]",
        /* 12 */ "id = \"shop-a\"",
        /* 13 */ "api_keys = [\"my-plain-secret\"]",
        /* 14 */ "",
        /* 15 */ "[[partner]]",
        /* 16 */ "id = \"shop-a\"",
        /* 17 */ fmt::format("api_keys = [\"{}\"]", config::hash_api_key("second-key")),
        /* 18 */ "",
        /* 19 */ "[[route]]",
        /* 20 */ "partner = \"ghost\"",
        /* 21 */ "root = \"{urn:example}Order\"",
        /* 22 */ "schema = \"ceb-import-draft\"",
    };
}

}  // namespace

TEST_CASE("the sample configuration loads", "[config]") {
    const fs::path source = PORTGATE_SOURCE_DIR;
    auto cfg = load_ok(source / "samples" / "portgate.toml");

    CHECK(cfg.file == (source / "samples" / "portgate.toml").lexically_normal());
    CHECK(cfg.xsd_dir == (source / "xsd").lexically_normal());
    CHECK(fs::is_directory(cfg.xsd_dir));
    CHECK(cfg.mappings_dir == (source / "mappings").lexically_normal());
    CHECK(cfg.server.data_dir == (source / "var" / "demo").lexically_normal());
    CHECK(cfg.server.listen_host == "127.0.0.1");
    CHECK(cfg.server.listen_port == 8080);
    CHECK(cfg.server.max_body_bytes == 10'485'760);
    CHECK(cfg.server.xml.max_bytes == cfg.server.max_body_bytes);
    CHECK(cfg.server.xml.max_depth == 256);
    CHECK(cfg.server.queue_capacity == 4096);
    CHECK(cfg.server.admin_token_hash == config::hash_api_key("demo-admin-token"));
    CHECK(cfg.store.synchronous == "full");
    CHECK(cfg.store.group_commit_max == 512);
    CHECK(cfg.store.compression == "none");
    CHECK(cfg.store.group_commit_busy_wait == std::chrono::microseconds(2000));
    CHECK(cfg.store.group_commit_busy_gap == std::chrono::microseconds(250));
    CHECK(cfg.store.group_commit_saturated_wait == std::chrono::microseconds(3000));
    CHECK(cfg.store.group_commit_saturated_backlog == 2);
    CHECK(cfg.store.checkpoint_pages == 1000);

    const config::partner* shop = cfg.find_partner("demo-shop");
    REQUIRE(shop != nullptr);
    CHECK(shop->customs_codes == std::vector<std::string>{"3301960ABC"});
    REQUIRE(shop->api_key_hashes.size() == 1);
    CHECK(shop->api_key_hashes[0] == config::hash_api_key("demo-shop-key"));
    CHECK(shop->api_key_hashes[0] == "sha256:f5d072715bf986543308d9f187277c2406847cd7bfd33cbc2264fedc284a9992");
    REQUIRE(shop->inboxes.size() == 1);
    CHECK(shop->inboxes[0] == cfg.server.data_dir / "inbox" / "demo-shop");
    CHECK(shop->line > 0);

    const config::route* r311 = cfg.find_route("demo-shop", ceb311);
    REQUIRE(r311 != nullptr);
    CHECK(r311->schema == "ceb-import-draft");
    CHECK(r311->id == "demo-shop-ceb311");
    const config::route* r621 = cfg.find_route("demo-shop", ceb621);
    REQUIRE(r621 != nullptr);
    CHECK(r621->schema == "ceb-import-draft");

    CHECK(cfg.find_partner("demo-warehouse") != nullptr);
    CHECK(cfg.find_route("demo-warehouse", ceb311) == nullptr);
}

TEST_CASE("every problem of a bad configuration is reported with its line", "[config]") {
    temp_dir tmp("config-problems");
    fs::create_directories(tmp.path / "xsd");
    auto c = config::load(write_config(tmp.path / "portgate.toml", bad_config_lines()));
    REQUIRE_FALSE(c);
    const error& e = c.err();
    CHECK(e.code == errc::config_invalid);
    for (auto& p : e.problems) UNSCOPED_INFO("line " << p.line << ": " << p.message);
    CHECK(e.problems.size() == 7);

    CHECK(find_problem(e, "server.listen").line == 5);
    CHECK(find_problem(e, "unknown key 'colour'").line == 6);
    CHECK(find_problem(e, "store.synchronous").line == 9);
    CHECK(find_problem(e, "store.compression: 'gzip' is not none or zstd").line == 10);
    CHECK(find_problem(e, "never plain keys").line == 13);
    CHECK(find_problem(e, "defined twice").line == 16);
    CHECK(find_problem(e, "no partner 'ghost'").line == 20);
    for (auto& p : e.problems) CHECK(p.column > 0);
    // The plain key itself is never echoed back into logs.
    for (auto& p : e.problems) CHECK(p.message.find("my-plain-secret") == std::string::npos);
}

TEST_CASE("the group commit's waits are read in microseconds, each within its range", "[config]") {
    temp_dir tmp("config-group-commit");
    fs::create_directories(tmp.path / "xsd");
    const std::string partner_key = fmt::format("api_keys = [\"{}\"]", config::hash_api_key("k"));
    auto good = config::load(write_config(tmp.path / "good.toml", {"[paths]", "xsd = \"xsd\"", "[store]", "group_commit_wait_us = 0",
                                                                     "group_commit_busy_wait_us = 500", "group_commit_busy_gap_us = 40",
                                                                     "group_commit_saturated_wait_us = 7000", "group_commit_saturated_backlog = 8",
                                                                     "checkpoint_pages = 4000", "[[partner]]", "id = \"p\"", partner_key}));
    REQUIRE(good);
    CHECK(good->store.group_commit_wait == std::chrono::microseconds(0));
    CHECK(good->store.group_commit_busy_wait == std::chrono::microseconds(500));
    CHECK(good->store.group_commit_busy_gap == std::chrono::microseconds(40));
    CHECK(good->store.group_commit_saturated_wait == std::chrono::microseconds(7000));
    CHECK(good->store.group_commit_saturated_backlog == 8);
    CHECK(good->store.checkpoint_pages == 4000);
    auto bad = config::load(write_config(tmp.path / "bad.toml", {"[paths]", "xsd = \"xsd\"", "[store]", "group_commit_wait_us = -1",
                                                                   "group_commit_busy_wait_us = 2000000", "group_commit_busy_gap_us = 0",
                                                                   "group_commit_saturated_wait_us = 1000001", "group_commit_saturated_backlog = 0",
                                                                   "checkpoint_pages = 99", "[[partner]]", "id = \"p\"", partner_key}));
    REQUIRE_FALSE(bad);
    CHECK(bad.err().problems.size() == 6);
    CHECK(find_problem(bad.err(), "store.group_commit_wait_us: must be 0..1000000").line == 4);
    CHECK(find_problem(bad.err(), "store.group_commit_busy_wait_us: must be 0..1000000").line == 5);
    CHECK(find_problem(bad.err(), "store.group_commit_busy_gap_us: must be 1..1000000").line == 6);
    CHECK(find_problem(bad.err(), "store.group_commit_saturated_wait_us: must be 0..1000000").line == 7);
    CHECK(find_problem(bad.err(), "store.group_commit_saturated_backlog: must be 1..100000").line == 8);
    CHECK(find_problem(bad.err(), "store.checkpoint_pages: must be 100..1000000").line == 9);
}

TEST_CASE("the summary counts the problems it carries", "[config]") {
    // config.cpp:298 builds the summary and moves `problems` in the same call:
    //   error(errc::config_invalid, fmt::format("{}: {} problem(s)", ..., problems.size()), std::move(problems))
    // Argument evaluation order is unspecified; g++ move-constructs the by-value vector parameter first,
    // so the message reads "0 problem(s)". Fix: format the message into a local before the call.
    temp_dir tmp("config-summary");
    fs::create_directories(tmp.path / "xsd");
    auto c = config::load(write_config(tmp.path / "portgate.toml", bad_config_lines()));
    REQUIRE_FALSE(c);
    REQUIRE(c.err().problems.size() == 7);
    CHECK_THAT(c.err().message, Catch::Contains("7 problem(s)"));
}

TEST_CASE("a TOML syntax error reports its line", "[config]") {
    temp_dir tmp("config-syntax");
    auto file = write_config(tmp.path / "portgate.toml", {
        /* 1 */ "[server]",
        /* 2 */ "listen = \"127.0.0.1:0\"",
        /* 3 */ "data_dir = \"unterminated",
        /* 4 */ "",
    });
    auto c = config::load(file);
    REQUIRE_FALSE(c);
    CHECK(c.err().code == errc::config_invalid);
    REQUIRE(c.err().problems.size() == 1);
    CHECK(c.err().problems[0].line == 3);
    CHECK_FALSE(c.err().problems[0].message.empty());
}

TEST_CASE("a missing configuration file is config_invalid", "[config]") {
    temp_dir tmp("config-missing");
    auto c = config::load(tmp.path / "nope.toml");
    REQUIRE_FALSE(c);
    CHECK(c.err().code == errc::config_invalid);
}

TEST_CASE("find_partner and find_route", "[config]") {
    temp_dir tmp("config-find");
    fs::create_directories(tmp.path / "xsd");
    auto cfg = load_ok(write_config(tmp.path / "portgate.toml", {
        "[paths]",
        "xsd = \"xsd\"",
        "[[partner]]",
        "id = \"shop-a\"",
        fmt::format("api_keys = [\"{}\"]", config::hash_api_key("a-key")),
        "[[partner]]",
        "id = \"shop-b\"",
        "[[route]]",
        "partner = \"shop-a\"",
        "root = \"" + ceb311 + "\"",
        "schema = \"ceb-import-draft\"",
        "[[route]]",
        "id = \"b-621\"",
        "partner = \"shop-b\"",
        "root = \"" + ceb621 + "\"",
        "schema = \"other-schema\"",
    }));

    REQUIRE(cfg.find_partner("shop-a") != nullptr);
    CHECK(cfg.find_partner("shop-a")->id == "shop-a");
    CHECK(cfg.find_partner("shop-a")->line == 3);
    CHECK(cfg.find_partner("shop-b") != nullptr);
    CHECK(cfg.find_partner("shop-c") == nullptr);
    CHECK(cfg.find_partner("") == nullptr);

    const config::route* a = cfg.find_route("shop-a", ceb311);
    REQUIRE(a != nullptr);
    CHECK(a->schema == "ceb-import-draft");
    CHECK(a->id == "shop-a:" + ceb311);  // default id when none is given
    CHECK(a->line == 8);
    const config::route* b = cfg.find_route("shop-b", ceb621);
    REQUIRE(b != nullptr);
    CHECK(b->id == "b-621");
    CHECK(b->schema == "other-schema");

    CHECK(cfg.find_route("shop-a", ceb621) == nullptr);  // routes are per partner
    CHECK(cfg.find_route("shop-b", ceb311) == nullptr);
    CHECK(cfg.find_route("shop-c", ceb311) == nullptr);
    CHECK(cfg.find_route("shop-a", "CEB311Message") == nullptr);  // the namespace is part of the root
}

TEST_CASE("relative paths resolve against the config file, inboxes against data_dir", "[config]") {
    temp_dir tmp("config-paths");
    const fs::path dir = tmp.path / "etc";
    const fs::path absolute_inbox = tmp.path / "elsewhere" / "drop";
    fs::create_directories(tmp.path / "schemas");

    SECTION("explicit paths") {
        auto cfg = load_ok(write_config(dir / "portgate.toml", {
            "[paths]",
            "xsd = \"../schemas\"",
            "mappings = \"maps\"",
            "[server]",
            "data_dir = \"data\"",
            "[[partner]]",
            "id = \"shop-a\"",
            "inbox = \"in/a\"",
            "[[partner]]",
            "id = \"shop-b\"",
            "inboxes = [\"in/b1\", \"" + absolute_inbox.string() + "\"]",
        }));
        CHECK(cfg.file == dir / "portgate.toml");
        CHECK(cfg.xsd_dir == tmp.path / "schemas");
        CHECK(cfg.mappings_dir == dir / "maps");
        CHECK(cfg.server.data_dir == dir / "data");
        REQUIRE(cfg.find_partner("shop-a")->inboxes.size() == 1);
        CHECK(cfg.find_partner("shop-a")->inboxes[0] == dir / "data" / "in" / "a");
        auto& b = cfg.find_partner("shop-b")->inboxes;
        REQUIRE(b.size() == 2);
        CHECK(b[0] == dir / "data" / "in" / "b1");
        CHECK(b[1] == absolute_inbox);  // absolute paths are kept as written
    }

    SECTION("defaults: ../xsd and var next to the config file") {
        fs::create_directories(tmp.path / "xsd");
        auto cfg = load_ok(write_config(dir / "portgate.toml", {
            "[[partner]]",
            "id = \"shop-a\"",
            "inbox = \"in\"",
        }));
        CHECK(cfg.xsd_dir == tmp.path / "xsd");
        CHECK(cfg.mappings_dir == tmp.path / "mappings");
        CHECK(cfg.server.data_dir == dir / "var");
        CHECK(cfg.find_partner("shop-a")->inboxes.at(0) == dir / "var" / "in");
    }

    SECTION("an xsd directory that does not exist is a problem") {
        auto c = config::load(write_config(dir / "portgate.toml", {
            "[paths]",
            "xsd = \"no-such-dir\"",
            "[[partner]]",
            "id = \"shop-a\"",
        }));
        REQUIRE_FALSE(c);
        CHECK(c.err().code == errc::config_invalid);
        CHECK(find_problem(c.err(), "not a directory").line == 1);
    }
}
