// Partner delivery of receipts in the running gateway: each status that moves a partner's document becomes a
// notification, mapped by the partner's reverse mapping, delivered by webhook (HMAC-SHA256 over timestamp
// and body, retried after failures), dropped in a folder (atomically) and kept in the pull mailbox until
// acknowledged. No partner sees another's.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gateway/delivery/notifier.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/support/webhook_sink.hpp"

using namespace portgate::test;
using json = nlohmann::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

}  // namespace

TEST_CASE("webhook signatures are HMAC-SHA256 over timestamp.body", "[notify]") {
    // RFC 4231 style check against a value computed independently with `openssl dgst -sha256 -hmac key`.
    CHECK(portgate::delivery::webhook_signature("key", "1700000000", "{}") ==
          "sha256=" + [] {
              std::string out;
              FILE* f = popen("printf '1700000000.{}' | openssl dgst -sha256 -hmac key -r", "r");
              char buf[256] = {0};
              if (f && fgets(buf, sizeof buf, f)) out = std::string(buf).substr(0, 64);
              if (f) pclose(f);
              return out;
          }());
}

TEST_CASE("receipts reach the partner by webhook (after failures), folder and mailbox, others see nothing", "[notify][integration]") {
    webhook_sink sink(1);  // the first delivery fails: it must be retried
    temp_dir drop("notify-drop");
    ::setenv("PORTGATE_TEST_WEBHOOK_SECRET", "s3cret", 1);
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[receipts]
api_keys = ["sha256:ef32ec0221a394380cd38f830f25968fcaee858fe961b8810c49c7bb54631be9"]

[[partner]]
id = "notify-shop"
name = "Notify Shop"
api_keys = ["sha256:{hash}"]
[partner.notify]
stylesheet = "notify-shop-json.xsl"
channels = ["mailbox", "webhook", "folder"]
webhook_url = "http://127.0.0.1:{port}/hooks/customs"
webhook_secret_env = "PORTGATE_TEST_WEBHOOK_SECRET"
folder = "{drop}"

[[route]]
partner = "notify-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
)~",
                                 fmt::arg("hash", "PLACEHOLDER"), fmt::arg("port", sink.port()), fmt::arg("drop", drop.path.string()));
    std::string hash;
    REQUIRE(run_portgate("hash-key notify-shop-key", hash) == 0);
    hash = hash.substr(7, 64);
    o.extra_config.replace(o.extra_config.find("PLACEHOLDER"), 11, hash);
    gateway_process gw("notify", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    REQUIRE(c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-direct-signed.xml"), "notify-shop-key").result_int() == 202);
    for (auto f : {"ceb/ceb622-receipt-2.xml", "ceb/ceb622-receipt-399.xml", "ceb/ceb622-receipt-800-direct.xml"}) {
        auto r = c.post_xml("/v1/receipts", sample(f), "customs-key");
        REQUIRE(r.result_int() == 202);
        CHECK(body_json(r)["applied"] == 1);
    }
    // Mailbox: three notifications in order, JSON from the partner's reverse mapping.
    json box;
    for (int i = 0; i < 100; ++i) {
        box = body_json(c.get("/v1/mailbox?after=0", "notify-shop-key"));
        if (box["items"].size() == 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(box["items"].size() == 3);
    CHECK(box["items"][0]["notification"]["status"]["code"] == "2");
    CHECK(box["items"][2]["notification"]["status"]["code"] == "800");
    CHECK(box["items"][2]["notification"]["customs"]["code"] == "2600");
    // Another partner's mailbox is empty; the operator cannot read a partner's mailbox.
    CHECK(body_json(c.get("/v1/mailbox", "demo-shop-key"))["items"].size() == 0);
    // Acknowledge the first two: only the third stays.
    auto ack = c.request(bhttp::verb::post, "/v1/mailbox/ack", json{{"cursor", box["items"][1]["cursor"]}}.dump(),
                         {{"Authorization", "Bearer notify-shop-key"}, {"Content-Type", "application/json"}});
    REQUIRE(ack.result_int() == 200);
    CHECK(body_json(ack)["acked"] == 2);
    CHECK(body_json(c.get("/v1/mailbox?after=0", "notify-shop-key"))["items"].size() == 1);

    // Folder: three files, no temporary left.
    int files = 0, temps = 0;
    for (int i = 0; i < 100 && files < 3; ++i) {
        files = temps = 0;
        for (auto& e : fs::directory_iterator(drop.path)) (e.path().filename().string()[0] == '.' ? temps : files)++;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(files == 3);
    CHECK(temps == 0);

    // Webhook: the first attempt failed; all three arrive (the first after a back-off of 1–3 s), signed.
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard lk(sink.mu);
            if (sink.got.size() >= 3) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard lk(sink.mu);
    REQUIRE(sink.got.size() == 3);
    CHECK(sink.seen.load() == 4);
    for (auto& req : sink.got) {
        std::string ts(req["X-Portgate-Timestamp"]);
        CHECK(std::string(req["X-Portgate-Signature"]) == portgate::delivery::webhook_signature("s3cret", ts, req.body()));
        CHECK(std::string(req[bhttp::field::content_type]) == "application/json");
        CHECK(req.target() == "/hooks/customs");
        CHECK(json::parse(req.body())["receiptType"] == "CEB622");
    }
}
