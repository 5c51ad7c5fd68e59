// Delivery to customs in the running gateway: a route with an endpoint queues its customs messages in the
// durable outbox (CopMsgId = the message id, the same on every attempt); the client-folder endpoint writes
// them atomically into OutBox (state SENT); an unreachable HTTPS endpoint is retried with back-off, then the
// message is a dead letter the operator lists and resends with the same CopMsgId.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

json wait_for_state(http_client& c, const std::string& id, const std::string& state, int seconds = 15) {
    json m;
    for (int i = 0; i < seconds * 20; ++i) {
        m = body_json(c.get("/v1/messages/" + id, "admin-token"));
        if (m["state"] == state) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m;
}

}  // namespace

TEST_CASE("customs messages go out through the client's OutBox, once, with their CopMsgId", "[outbox][integration]") {
    temp_dir client("outbox-client");
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[endpoint]]
id = "eport-client"
kind = "client-folder"
root = "{root}"
biz = "CEB"
dxp_sender_id = "DXPENT0000012345"

[[route]]
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
endpoint = "eport-client"
)~", fmt::arg("root", client.path.string()));
    gateway_process gw("outbox-folder", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    auto r = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-direct-signed.xml"), "other-shop-key");
    INFO(r.body());
    REQUIRE(r.result_int() == 202);
    std::string id = body_json(r)["id"];
    CHECK(body_json(r)["state"] == "QUEUED");
    auto m = wait_for_state(c, id, "SENT");
    CHECK(m["state"] == "SENT");
    // One file in OutBox: a DxpMsg whose CopMsgId is the message id and whose Data is the document.
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(client.path / "CEB" / "OutBox"))
        if (e.is_regular_file()) files.push_back(e.path());
    REQUIRE(files.size() == 1);
    std::ifstream in(files[0]);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(bytes.substr(0, 400));
    CHECK(std::regex_search(bytes, std::regex("CopMsgId>" + id + "</[a-z:]*CopMsgId>")));
    CHECK(bytes.find("DxpMsg") != std::string::npos);
    CHECK(files[0].filename().string().find(".tmp") == std::string::npos);
    auto sent = body_json(c.get("/v1/outbox?state=sent", "admin-token"));
    REQUIRE(sent["items"].size() == 1);
    CHECK(sent["items"][0]["cop_msg_id"] == id);
    // Partners do not see the outbox.
    CHECK(c.get("/v1/outbox", "other-shop-key").result_int() == 403);
}

TEST_CASE("an unreachable endpoint is retried with back-off, then dead-lettered, the operator resends", "[outbox][integration]") {
    temp_dir keys("outbox-ca");
    // Any CA will do: nothing listens on the port.
    REQUIRE(std::system(fmt::format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '{0}/ca.key' "
                                    "-out '{0}/ca.pem' -subj /CN=test -days 2 >/dev/null 2>&1", keys.path.string()).c_str()) == 0);
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[endpoint]]
id = "customs-https"
kind = "https"
url = "https://127.0.0.1:9/ceb"
ca_file = "{ca}"
max_attempts = 2
read_timeout_ms = 500

[[route]]
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
endpoint = "customs-https"
)~", fmt::arg("ca", (keys.path / "ca.pem").string()));
    gateway_process gw("outbox-dead", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    auto r = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-direct-signed.xml"), "other-shop-key");
    REQUIRE(r.result_int() == 202);
    std::string id = body_json(r)["id"];
    auto m = wait_for_state(c, id, "DEAD", 20);
    INFO(m.dump(1));
    REQUIRE(m["state"] == "DEAD");
    int retries = 0;
    for (auto& e : m["events"]) retries += e["kind"] == "retry";
    CHECK(retries == 1);
    auto dead = body_json(c.get("/v1/outbox?state=dead", "admin-token"));
    REQUIRE(dead["items"].size() == 1);
    CHECK(dead["items"][0]["message"] == id);
    CHECK(dead["items"][0]["attempts"] == 2);
    // Resend: back in the outbox with the same CopMsgId (it dies again here: nothing listens).
    auto rs = c.request(boost::beast::http::verb::post, "/v1/messages/" + id + "/resend", "", {{"Authorization", "Bearer admin-token"}});
    REQUIRE(rs.result_int() == 202);
    CHECK(body_json(c.get("/v1/messages/" + id, "admin-token"))["events"].back()["kind"] == "resend");
    CHECK(c.request(boost::beast::http::verb::post, "/v1/messages/" + id + "/resend", "", {{"Authorization", "Bearer other-shop-key"}})
              .result_int() == 403);
}

TEST_CASE("a dead customs message is replayed as a new message with a fresh guid and appType 2, linked both ways", "[outbox][integration]") {
    temp_dir keys("replay-pki");
    auto script = fs::path(PORTGATE_SOURCE_DIR) / "tests" / "sign" / "make_test_pki.sh";
    REQUIRE(std::system(fmt::format("bash '{}' '{}' >/dev/null 2>&1", script.string(), keys.path.string()).c_str()) == 0);
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[signer]]
id = "card-1"
key = "{key}"
cert = "{cert}"
algorithm = "ecdsa-sha256"

[[endpoint]]
id = "customs-https"
kind = "https"
url = "https://127.0.0.1:9/ceb"
ca_file = "{ca}"
max_attempts = 1
read_timeout_ms = 500

[[route]]
id = "signed-lists"
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
signer = "card-1"
endpoint = "customs-https"
)~", fmt::arg("key", (keys.path / "ec.key").string()), fmt::arg("cert", (keys.path / "ec.pem").string()),
                                 fmt::arg("ca", (keys.path / "ca.pem").string()));
    gateway_process gw("outbox-replay", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    auto r = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-valid.xml"), "other-shop-key");
    INFO(r.body());
    REQUIRE(r.result_int() == 202);
    std::string id = body_json(r)["id"];
    REQUIRE(wait_for_state(c, id, "DEAD", 20)["state"] == "DEAD");
    auto replay = [&](const std::string& who, const std::string& which) {
        return c.request(boost::beast::http::verb::post, "/v1/messages/" + which + "/resend", R"({"new_guid": true})",
                         {{"Authorization", "Bearer " + who}, {"Content-Type", "application/json"}});
    };
    CHECK(replay("other-shop-key", id).result_int() == 403);
    auto rp = replay("admin-token", id);
    INFO(rp.body());
    REQUIRE(rp.result_int() == 202);
    json a = body_json(rp);
    std::string nid = a["id"];
    CHECK(nid != id);
    CHECK(a["replay_of"] == id);
    CHECK(a["cop_msg_id"] == nid);
    std::string guid = a["guid"];
    CHECK(guid.size() == 36);

    // The new document: a fresh guid, appType 2, everything else as before, signed again (xmlsec1 verifies).
    auto signed_new = c.get("/v1/messages/" + nid + "/payloads/signed", "admin-token");
    REQUIRE(signed_new.result_int() == 200);
    std::string old_doc = read_file(fs::path(PORTGATE_SOURCE_DIR) / "samples" / "ceb" / "ceb621-inventory-valid.xml");
    std::smatch g_old, g_new;
    REQUIRE(std::regex_search(old_doc, g_old, std::regex("<ceb:guid>([^<]*)</ceb:guid>")));
    REQUIRE(std::regex_search(signed_new.body(), g_new, std::regex("<ceb:guid>([^<]*)</ceb:guid>")));
    CHECK(g_new[1].str() == guid);
    CHECK(g_new[1].str() != g_old[1].str());
    CHECK(signed_new.body().find("<ceb:appType>2</ceb:appType>") != std::string::npos);
    CHECK(signed_new.body().find("<ceb:appType>1</ceb:appType>") == std::string::npos);
    std::smatch order;
    REQUIRE(std::regex_search(old_doc, order, std::regex("<ceb:orderNo>([^<]*)</ceb:orderNo>")));
    CHECK(signed_new.body().find(order[0].str()) != std::string::npos);
    fs::path f = keys.path / "replayed.xml";
    write_file(f, signed_new.body());
    CHECK(std::system(fmt::format("xmlsec1 --verify --trusted-pem '{}' '{}' >/dev/null 2>&1", (keys.path / "ca.pem").string(), f.string()).c_str()) == 0);

    // The audit trail links both ways; the replay is a child of the original and went to the outbox.
    json orig = body_json(c.get("/v1/messages/" + id, "admin-token"));
    json last = orig["events"].back();
    CHECK(last["kind"] == "replayed");
    CHECK(last["detail"].dump().find(nid) != std::string::npos);
    json fresh = wait_for_state(c, nid, "DEAD", 20);
    CHECK(fresh["parent"] == id);
    bool linked = false, queued = false;
    for (auto& e : fresh["events"]) {
        linked |= e["kind"] == "replay_of" && e["detail"].dump().find(id) != std::string::npos;
        queued |= e["kind"] == "queued";
    }
    CHECK(linked);
    CHECK(queued);
    // Once only: the original is replayed already; a message that is not dead is refused.
    auto again = replay("admin-token", id);
    CHECK(again.result_int() == 400);
    CHECK(again.body().find(nid) != std::string::npos);
    // Plain resend (no body) still keeps the CopMsgId.
    auto same = c.request(boost::beast::http::verb::post, "/v1/messages/" + nid + "/resend", "", {{"Authorization", "Bearer admin-token"}});
    CHECK(same.result_int() == 202);
    CHECK(body_json(same)["id"] == nid);
}
