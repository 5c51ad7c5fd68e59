// Receipts from customs in the running gateway: POST /v1/receipts with the customs endpoint's own key;
// raw bytes stored first, read leniently, correlated by business keys, statuses only move forward, repeats
// and out-of-order statuses are kept but do not move the document back, orphans wait for their original.
#include <cstdio>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

gateway_options with_customs_key() {
    gateway_options o;
    // sha256("customs-key")
    o.extra_config = "\n[receipts]\napi_keys = [\"sha256:ef32ec0221a394380cd38f830f25968fcaee858fe961b8810c49c7bb54631be9\"]\n";
    return o;
}

json post_receipt(http_client& c, const std::string& bytes, unsigned expect = 202) {
    auto r = c.post_xml("/v1/receipts", bytes, "customs-key");
    INFO(r.body());
    REQUIRE(r.result_int() == expect);
    return body_json(r);
}

}  // namespace

TEST_CASE("receipts advance the inventory list they answer, forward only, repeats dropped", "[receipts][integration]") {
    gateway_process gw("receipts", with_customs_key());
    gw.start();
    http_client c(gw.host(), gw.port());
    auto m = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-direct-signed.xml"), "demo-shop-key");
    REQUIRE(m.result_int() == 202);
    std::string id = body_json(m)["id"];

    auto r2 = post_receipt(c, sample("ceb/ceb622-receipt-2.xml"));
    CHECK(r2["type"] == "CEB622");
    {  // the raw receipt is stored byte for byte, before anything is made of it
        std::string out;
        if (FILE* p = popen(fmt::format("sqlite3 '{}' \"SELECT hex(bytes) FROM receipt WHERE id = '{}'\"",
                                        (gw.data_dir() / "portgate.db").string(), r2["id"].get<std::string>()).c_str(), "r")) {
            char buf[4096];
            std::size_t n;
            while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
            pclose(p);
        }
        std::string hex;
        for (unsigned char ch : sample("ceb/ceb622-receipt-2.xml")) hex += fmt::format("{:02X}", ch);
        CHECK(out == hex + "\n");
    }
    CHECK(r2["matched"] == 1);
    CHECK(r2["applied"] == 1);
    CHECK(r2["messages"][0] == id);
    auto g = body_json(c.get("/v1/messages/" + id, "demo-shop-key"));
    CHECK(g["state"] == "ACCEPTED");
    CHECK(g["customs_status"] == "2");

    auto r399 = post_receipt(c, sample("ceb/ceb622-receipt-399.xml"));
    CHECK(r399["applied"] == 1);
    // 120 arrives late: recorded, but the document does not go back.
    auto r120 = post_receipt(c, sample("ceb/ceb622-receipt-120.xml"));
    CHECK(r120["matched"] == 1);
    CHECK(r120["applied"] == 0);
    g = body_json(c.get("/v1/messages/" + id, "demo-shop-key"));
    CHECK(g["customs_status"] == "399");
    // The same file again: one receipt, answered as a duplicate.
    auto again = post_receipt(c, sample("ceb/ceb622-receipt-399.xml"), 200);
    CHECK(again["duplicate"] == true);
    CHECK(again["id"] == r399["id"]);

    auto r800 = post_receipt(c, sample("ceb/ceb622-receipt-800-direct.xml"));
    CHECK(r800["applied"] == 1);
    g = body_json(c.get("/v1/messages/" + id, "demo-shop-key"));
    CHECK(g["state"] == "RELEASED");
    auto r899 = post_receipt(c, sample("ceb/ceb622-receipt-899.xml"));
    g = body_json(c.get("/v1/messages/" + id, "demo-shop-key"));
    CHECK(g["state"] == "CLOSED");
    CHECK(g["customs_status"] == "899");
    REQUIRE(g["receipts"].size() == 5);  // 2, 399, 120, 800, 899 — every status kept
    bool code = false;
    for (auto& x : g["receipts"]) code |= x.value("customs_code", "") == "2600";
    CHECK(code);
    // Another partner sees nothing of it.
    CHECK(c.get("/v1/messages/" + id, "other-shop-key").result_int() == 404);
}

TEST_CASE("a receipt for a message not yet known waits as an orphan and is matched when it appears", "[receipts][integration]") {
    gateway_process gw("receipts-orphan", with_customs_key());
    gw.start();
    http_client c(gw.host(), gw.port());
    auto orphan = post_receipt(c, sample("ceb/ceb622-receipt-800.xml"));
    CHECK(orphan["matched"] == 0);
    CHECK(orphan["orphans"] == 1);
    auto m = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-valid.xml"), "demo-shop-key");
    REQUIRE(m.result_int() == 202);
    auto g = body_json(c.get("/v1/messages/" + body_json(m)["id"].get<std::string>(), "demo-shop-key"));
    CHECK(g["state"] == "RELEASED");
    REQUIRE(g["receipts"].size() == 1);
    CHECK(g["receipts"][0]["status"] == "800");
}

TEST_CASE("receipts need the customs key, unreadable ones are kept with the reason", "[receipts][integration]") {
    gateway_process gw("receipts-auth", with_customs_key());
    gw.start();
    http_client c(gw.host(), gw.port());
    CHECK(c.post_xml("/v1/receipts", sample("ceb/ceb622-receipt-2.xml"), "demo-shop-key").result_int() == 401);
    CHECK(c.post_xml("/v1/receipts", sample("ceb/ceb622-receipt-2.xml"), "nope").result_int() == 401);
    auto junk = post_receipt(c, "<Hello/>");
    CHECK(junk["error"]["code"] == "PG-305");
    CHECK(junk["records"] == 0);
    // A lenient receipt (no namespace, GB2312, the same return twice) is read all the same.
    auto lenient = post_receipt(c, sample("ceb/ceb622-lenient-gb2312-repeated.xml"));
    CHECK(lenient["records"].get<int>() >= 1);
    CHECK(lenient["repeated"].get<int>() >= 1);
}
