// Folder intake against the real process: drop files, watch them move to archive/ or error/.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

// Drops a file the way a well-behaved writer does: temporary name, then rename.
void drop(const fs::path& inbox, const std::string& name, const std::string& bytes) {
    write_file(inbox / ("." + name + ".tmp"), bytes);
    fs::rename(inbox / ("." + name + ".tmp"), inbox / name);
}

bool wait_for(const fs::path& p, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (fs::exists(p)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

json find_by_name(http_client& c, const std::string& name) {
    auto j = json::parse(c.get("/v1/messages?q=" + name, "demo-shop-key").body());
    return j["items"].empty() ? json() : j["items"][0];
}

}  // namespace

TEST_CASE("a valid file dropped in the inbox is stored and archived", "[folder][integration]") {
    gateway_process gw("folder-ok");
    gw.start();
    drop(gw.inbox(), "order-1.xml", sample("ceb/ceb311-order-valid.xml"));
    REQUIRE(wait_for(gw.inbox() / "archive" / "order-1.xml"));
    CHECK(!fs::exists(gw.inbox() / "order-1.xml"));
    CHECK(read_file(gw.inbox() / "archive" / "order-1.xml") == sample("ceb/ceb311-order-valid.xml"));
    http_client c(gw.host(), gw.port());
    auto m = find_by_name(c, "order-1.xml");
    REQUIRE(!m.is_null());
    CHECK(m["channel"] == "folder");
    CHECK(m["state"] == "VALIDATED");
    auto full = json::parse(c.get("/v1/messages/" + m["id"].get<std::string>(), "demo-shop-key").body());
    CHECK(full["events"][0]["detail"]["channel"] == "folder");
}

TEST_CASE("an invalid file goes to error/ with a report beside it", "[folder][integration]") {
    gateway_process gw("folder-bad");
    gw.start();
    drop(gw.inbox(), "bad.xml", sample("ceb/ceb621-invalid-PG301-gcode-length.xml"));
    drop(gw.inbox(), "garbage.xml", "<not closed");
    REQUIRE(wait_for(gw.inbox() / "error" / "bad.xml.err.json"));
    REQUIRE(wait_for(gw.inbox() / "error" / "garbage.xml.err.json"));
    CHECK(fs::exists(gw.inbox() / "error" / "bad.xml"));
    auto rep = json::parse(read_file(gw.inbox() / "error" / "bad.xml.err.json"));
    CHECK(rep["code"] == "PG-301");
    CHECK(rep["file"] == "bad.xml");
    REQUIRE(rep["errors"].size() >= 1);
    CHECK(rep["errors"][0]["line"].get<int>() > 1);
    CHECK(rep["errors"][0]["message"].get<std::string>().find("gcode") != std::string::npos);
    auto g = json::parse(read_file(gw.inbox() / "error" / "garbage.xml.err.json"));
    CHECK(g["code"] == "PG-201");
    // Rejected files are stored too (the audit trail keeps everything accepted for processing).
    http_client c(gw.host(), gw.port());
    CHECK(find_by_name(c, "bad.xml")["state"] == "REJECTED");
}

TEST_CASE("temporary and hidden names are never read", "[folder][integration]") {
    gateway_process gw("folder-tmp");
    gw.start();
    write_file(gw.inbox() / "partial.xml.tmp", "<half");
    write_file(gw.inbox() / ".hidden.xml", sample("ceb/ceb311-order-valid.xml"));
    write_file(gw.inbox() / "upload.part", "<half");
    drop(gw.inbox(), "marker.xml", sample("ceb/ceb311-order-valid.xml"));
    REQUIRE(wait_for(gw.inbox() / "archive" / "marker.xml"));
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // past a periodic rescan
    CHECK(fs::exists(gw.inbox() / "partial.xml.tmp"));
    CHECK(fs::exists(gw.inbox() / ".hidden.xml"));
    CHECK(fs::exists(gw.inbox() / "upload.part"));
    CHECK(fs::is_empty(gw.inbox() / "error"));
}

TEST_CASE("files waiting at start-up and files left claimed by a crash are taken in exactly once", "[folder][integration]") {
    gateway_process gw("folder-start");
    // Before the gateway runs: one file waiting in the inbox, one left in .work/ as if a crash came
    // after the claim.
    write_file(gw.inbox() / "waiting.xml", sample("ceb/ceb311-order-valid.xml"));
    write_file(gw.inbox() / ".work" / "claimed.xml", sample("ceb/ceb621-inventory-valid.xml"));
    gw.start();
    REQUIRE(wait_for(gw.inbox() / "archive" / "waiting.xml"));
    REQUIRE(wait_for(gw.inbox() / "archive" / "claimed.xml"));
    http_client c(gw.host(), gw.port());
    CHECK(!find_by_name(c, "claimed.xml").is_null());

    // A crash after the store committed but before the file moved: the same file reappears in .work/;
    // the idempotency key (name + content hash) answers the first message instead of a duplicate.
    gw.kill9();
    fs::copy_file(gw.inbox() / "archive" / "claimed.xml", gw.inbox() / ".work" / "claimed.xml");
    gw.start();
    REQUIRE(wait_for(gw.inbox() / "archive" / fs::path("claimed.xml").string(), std::chrono::milliseconds(5000)));
    http_client c2(gw.host(), gw.port());
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fs::exists(gw.inbox() / ".work" / "claimed.xml") && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(!fs::exists(gw.inbox() / ".work" / "claimed.xml"));
    auto all = json::parse(c2.get("/v1/messages?q=claimed.xml", "demo-shop-key").body());
    CHECK(all["items"].size() == 1);
}

TEST_CASE("many files dropped at once are all taken in", "[folder][integration]") {
    gateway_process gw("folder-many");
    gw.start();
    const std::string doc = sample("ceb/ceb311-order-valid.xml");
    for (int i = 0; i < 100; ++i) drop(gw.inbox(), "o-" + std::to_string(i) + ".xml", doc);
    for (int i = 0; i < 100; ++i) REQUIRE(wait_for(gw.inbox() / "archive" / ("o-" + std::to_string(i) + ".xml")));
    http_client c(gw.host(), gw.port());
    CHECK(json::parse(c.get("/v1/messages?limit=500", "demo-shop-key").body())["items"].size() == 100);
}
