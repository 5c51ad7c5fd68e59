// Integration tests of the HTTP API against the real portgate process on port 0.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;
namespace http = boost::beast::http;

namespace {

const std::string shop_key = "demo-shop-key";
const std::string other_key = "other-shop-key";

json body_json(const response& r) { return json::parse(r.body()); }

}  // namespace

TEST_CASE("POST /v1/messages stores a valid document and GET shows it to its partner only", "[http][integration]") {
    gateway_process gw("http-basic");
    gw.start();
    http_client c(gw.host(), gw.port());

    auto r = c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), shop_key);
    REQUIRE(r.result_int() == 202);
    auto j = body_json(r);
    std::string id = j["id"];
    CHECK(id.size() == 26);
    CHECK(j["state"] == "VALIDATED");
    CHECK(j["type"] == "CEB311");
    CHECK(std::string(r[http::field::location]) == "/v1/messages/" + id);

    auto g = c.get("/v1/messages/" + id, shop_key);
    REQUIRE(g.result_int() == 200);
    auto m = body_json(g);
    CHECK(m["id"] == id);
    CHECK(m["partner"] == "demo-shop");
    CHECK(m["channel"] == "http");
    CHECK(m["state"] == "VALIDATED");
    CHECK(m["guid"] == "5FE29E1E-10A9-4F6C-8373-C194AFDD5D2F");
    REQUIRE(m["events"].size() == 2);
    CHECK(m["events"][0]["kind"] == "received");
    CHECK(m["events"][1]["kind"] == "validated");
    CHECK(m["events"][1]["detail"]["schema"] == "ceb-import-draft");

    // The exact bytes are kept.
    auto p = c.get("/v1/messages/" + id + "/payloads/inbound", shop_key);
    REQUIRE(p.result_int() == 200);
    CHECK(p.body() == sample("ceb/ceb311-order-valid.xml"));

    // Another partner cannot see it; the operator can.
    CHECK(c.get("/v1/messages/" + id, other_key).result_int() == 404);
    CHECK(c.get("/v1/messages/" + id + "/payloads/inbound", other_key).result_int() == 404);
    CHECK(c.get("/v1/messages/" + id, "admin-token").result_int() == 200);
    CHECK(c.get("/v1/messages/NOSUCHID", shop_key).result_int() == 404);
    CHECK(gw.terminate() == 0);
}

TEST_CASE("authentication, media type and size limits", "[http][integration]") {
    gateway_options o;
    o.max_body_bytes = 64 * 1024;
    gateway_process gw("http-limits", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    const std::string doc = sample("ceb/ceb311-order-valid.xml");

    auto none = c.post_xml("/v1/messages", doc, "");
    CHECK(none.result_int() == 401);
    CHECK(body_json(none)["code"] == "PG-101");
    CHECK(c.post_xml("/v1/messages", doc, "wrong-key").result_int() == 401);
    CHECK(c.get("/v1/messages", "").result_int() == 401);

    auto json_ct = c.request(http::verb::post, "/v1/messages", "{\"a\":1}",
                             {{"Authorization", "Bearer " + shop_key}, {"Content-Type", "application/json"}});
    CHECK(json_ct.result_int() == 415);
    auto not_xml = c.post_xml("/v1/messages", "hello, this is not xml", shop_key);
    CHECK(not_xml.result_int() == 415);
    CHECK(body_json(not_xml)["code"] == "PG-104");

    std::string big = doc;
    big.insert(big.find("<ceb:note>") == std::string::npos ? big.size() - 20 : big.find("<ceb:note>"), std::string(70 * 1024, ' '));
    auto too_big = c.post_xml("/v1/messages", big, shop_key);
    CHECK(too_big.result_int() == 413);
    CHECK(body_json(too_big)["code"] == "PG-103");

    // The server is still there and keeps answering.
    CHECK(c.post_xml("/v1/messages", doc, shop_key).result_int() == 202);
    CHECK(c.get("/healthz", "").result_int() == 200);
}

TEST_CASE("invalid documents get 422 with line, column and message, and are kept as REJECTED", "[http][integration]") {
    gateway_process gw("http-422");
    gw.start();
    http_client c(gw.host(), gw.port());

    auto r = c.post_xml("/v1/messages", sample("ceb/ceb311-invalid-PG301-guid-length.xml"), shop_key);
    REQUIRE(r.result_int() == 422);
    auto j = body_json(r);
    CHECK(j["code"] == "PG-301");
    CHECK(j["name"] == "schema_invalid");
    REQUIRE(j["errors"].size() >= 1);
    CHECK(j["errors"][0]["line"].get<int>() >= 2);
    CHECK(j["errors"][0]["column"].get<int>() > 0);
    CHECK(!j["errors"][0]["message"].get<std::string>().empty());
    std::string id = j["id"];
    auto g = body_json(c.get("/v1/messages/" + id, shop_key));
    CHECK(g["state"] == "REJECTED");
    CHECK(g["error_code"] == "PG-301");
    CHECK(g["events"][1]["kind"] == "rejected");
    CHECK(g["events"][1]["detail"]["errors"].size() == j["errors"].size());

    // An element out of order: the error names the line where it stands.
    auto order = body_json(c.post_xml("/v1/messages", sample("ceb/ceb621-invalid-PG301-element-order.xml"), shop_key));
    CHECK(order["code"] == "PG-301");

    // A root element no route accepts from this partner.
    auto receipt = c.post_xml("/v1/messages", sample("ceb/ceb622-receipt-800.xml"), shop_key);
    CHECK(receipt.result_int() == 422);
    CHECK(body_json(receipt)["code"] == "PG-302");
    // other-shop has no CEB621 route.
    auto other = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-valid.xml"), other_key);
    CHECK(body_json(other)["code"] == "PG-302");
}

TEST_CASE("hostile XML gets its own error and the server stays up", "[http][integration][hostile]") {
    gateway_process gw("http-hostile");
    gw.start();
    http_client c(gw.host(), gw.port());

    struct hostile {
        std::string name, body, code;
    };
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "<a>";
    std::vector<hostile> cases = {
        {"xxe", "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<r>&x;</r>", "PG-202"},
        {"billion laughs",
         "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
         "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<lolz>&lol3;</lolz>",
         "PG-202"},
        {"deep nesting", deep, "PG-203"},
        {"invalid utf-8", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>caf\xC3\x28 \xFF\xFE</r>", "PG-206"},
        {"truncated", sample("ceb/ceb311-order-valid.xml").substr(0, 700), "PG-201"},
    };
    for (auto& h : cases) {
        INFO(h.name);
        auto r = c.post_xml("/v1/messages", h.body, shop_key);
        CHECK(r.result_int() == 422);
        auto j = body_json(r);
        CHECK(j["code"] == h.code);
        CHECK(!j["error"].get<std::string>().empty());
    }
    // Still serving.
    CHECK(c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), shop_key).result_int() == 202);
    CHECK(gw.terminate() == 0);
}

TEST_CASE("a 50 MB attribute is refused at the door", "[http][integration][hostile]") {
    gateway_process gw("http-50mb");
    gw.start();
    http_client c(gw.host(), gw.port());
    std::string body = "<r a=\"" + std::string(50u << 20, 'x') + "\"/>";
    auto r = c.post_xml("/v1/messages", body, shop_key);
    CHECK(r.result_int() == 413);
    http_client c2(gw.host(), gw.port());
    CHECK(c2.get("/healthz", "").result_int() == 200);
}

TEST_CASE("Idempotency-Key: a repeated key from the same partner answers the first message", "[http][integration]") {
    gateway_process gw("http-idem");
    gw.start();
    http_client c(gw.host(), gw.port());
    const std::string doc = sample("ceb/ceb311-order-valid.xml");

    auto a = c.post_xml("/v1/messages", doc, shop_key, {{"Idempotency-Key", "order-42"}});
    REQUIRE(a.result_int() == 202);
    auto b = c.post_xml("/v1/messages", doc, shop_key, {{"Idempotency-Key", "order-42"}});
    REQUIRE(b.result_int() == 200);
    CHECK(body_json(b)["id"] == body_json(a)["id"]);
    CHECK(body_json(b)["duplicate"] == true);
    // Another partner's same key is its own message.
    auto o = c.post_xml("/v1/messages", doc, other_key, {{"Idempotency-Key", "order-42"}});
    REQUIRE(o.result_int() == 202);
    CHECK(body_json(o)["id"] != body_json(a)["id"]);
    // Concurrent repeats still yield exactly one message.
    std::vector<std::string> ids(8);
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([&, i] {
            http_client ci(gw.host(), gw.port());
            ids[static_cast<std::size_t>(i)] = body_json(ci.post_xml("/v1/messages", doc, shop_key, {{"Idempotency-Key", "race-1"}}))["id"];
        });
    for (auto& t : ts) t.join();
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
    auto list = body_json(c.get("/v1/messages?q=race-1", shop_key));
    CHECK(list["items"].size() == 1);
}

TEST_CASE("GET /v1/messages filters and pages with a cursor", "[http][integration]") {
    gateway_process gw("http-list");
    gw.start();
    http_client c(gw.host(), gw.port());
    std::set<std::string> accepted;
    for (int i = 0; i < 7; ++i) accepted.insert(body_json(c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), shop_key))["id"]);
    std::string rejected = body_json(c.post_xml("/v1/messages", sample("ceb/ceb311-invalid-PG301-guid-length.xml"), shop_key))["id"];
    std::string inv = body_json(c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-valid.xml"), shop_key))["id"];
    c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), other_key);

    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto j = body_json(c.get("/v1/messages?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), shop_key));
        for (auto& it : j["items"]) {
            CHECK(it["partner"] == "demo-shop");
            CHECK(seen.insert(it["id"].get<std::string>()).second);
        }
        cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
        ++pages;
    } while (!cursor.empty() && pages < 10);
    CHECK(seen.size() == 9);
    CHECK(pages == 3);

    auto rej = body_json(c.get("/v1/messages?state=REJECTED", shop_key));
    REQUIRE(rej["items"].size() == 1);
    CHECK(rej["items"][0]["id"] == rejected);
    auto t = body_json(c.get("/v1/messages?type=CEB621", shop_key));
    REQUIRE(t["items"].size() == 1);
    CHECK(t["items"][0]["id"] == inv);
    CHECK(body_json(c.get("/v1/messages?from=2000-01-01T00:00:00Z&to=2000-01-02", shop_key))["items"].size() == 0);
    CHECK(body_json(c.get("/v1/messages?from=2000-01-01", shop_key))["items"].size() == 9);
    CHECK(c.get("/v1/messages?state=NONSENSE", shop_key).result_int() == 400);
    CHECK(c.get("/v1/messages?cursor=abc", shop_key).result_int() == 400);
    CHECK(c.get("/v1/messages?colour=red", shop_key).result_int() == 400);
    // The operator sees everyone.
    CHECK(body_json(c.get("/v1/messages?limit=100", "admin-token"))["items"].size() == 10);
}

TEST_CASE("healthz and metrics", "[http][integration]") {
    gateway_process gw("http-metrics");
    gw.start();
    http_client c(gw.host(), gw.port());
    c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), shop_key);
    c.post_xml("/v1/messages", sample("ceb/ceb311-invalid-PG301-guid-length.xml"), shop_key);
    auto h = c.get("/healthz", "");
    REQUIRE(h.result_int() == 200);
    CHECK(body_json(h)["status"] == "ok");
    auto m = c.get("/metrics", "");
    REQUIRE(m.result_int() == 200);
    CHECK(m.body().find("portgate_messages_total{partner=\"demo-shop\",channel=\"http\",outcome=\"accepted\"} 1") != std::string::npos);
    CHECK(m.body().find("portgate_messages_total{partner=\"demo-shop\",channel=\"http\",outcome=\"rejected\"} 1") != std::string::npos);
    CHECK(m.body().find("portgate_stage_seconds_bucket{stage=\"validate\",le=\"+Inf\"} 2") != std::string::npos);
    CHECK(m.body().find("portgate_intake_stored_seconds_count 2") != std::string::npos);
}

TEST_CASE("a full worker queue answers 503 with Retry-After, and nothing it refused is stored", "[http][integration]") {
    gateway_options o;
    o.workers = 1;
    o.queue_capacity = 1;
    gateway_process gw("http-503", o);
    gw.start();
    const std::string doc = sample("ceb/ceb621-inventory-valid.xml");
    std::atomic<int> accepted{0}, overloaded{0}, other{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 16; ++i)
        ts.emplace_back([&] {
            http_client c(gw.host(), gw.port());
            for (int k = 0; k < 20; ++k) {
                auto r = c.post_xml("/v1/messages", doc, shop_key);
                if (r.result_int() == 202) ++accepted;
                else if (r.result_int() == 503) {
                    ++overloaded;
                    CHECK(std::string(r[http::field::retry_after]) == "1");
                } else ++other;
            }
        });
    for (auto& t : ts) t.join();
    CHECK(other == 0);
    CHECK(accepted + overloaded == 320);
    CHECK(overloaded > 0);
    http_client c(gw.host(), gw.port());
    CHECK(body_json(c.get("/v1/messages?limit=500", shop_key))["items"].size() == static_cast<std::size_t>(accepted.load()));
}
