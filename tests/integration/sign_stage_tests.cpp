// The sign stage in the running gateway: a route with a [[signer]] signs the customs messages it makes
// (mapping outputs, and native documents passed through) with the key loaded once at start-up; what is
// stored as "signed" verifies with portgate and with xmlsec1 and passes the schema as sent. Passwords never
// stand in the config.
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

fs::path make_pki(const fs::path& dir) {
    auto script = fs::path(PORTGATE_SOURCE_DIR) / "tests" / "sign" / "make_test_pki.sh";
    REQUIRE(std::system(fmt::format("bash '{}' '{}' >/dev/null 2>&1", script.string(), dir.string()).c_str()) == 0);
    return dir;
}

}  // namespace

TEST_CASE("a route's signer signs native and mapped customs messages, the signed bytes verify independently", "[sign][integration]") {
    temp_dir keys("sign-stage-pki");
    make_pki(keys.path);
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[signer]]
id = "card-1"
source = "file"
key = "{key}"
cert = "{cert}"
algorithm = "ecdsa-sha256"

[[signer]]
id = "sm2-card"
source = "file"
key = "{sm2key}"
cert = "{sm2cert}"
algorithm = "sm2-sm3"

[[route]]
id = "signed-orders"
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
signer = "sm2-card"

[[route]]
id = "shop-orders"
partner = "demo-shop"
root = "{{urn:portgate:partner:shop-orders:1}}OrderBatch"
signer = "card-1"
[route.params]
copCode = "3301960ABC"
copName = "杭州云海跨境电子商务平台有限公司"
dxpId = "DXPENT0000012345"
ebpCode = "3301960ABC"
ebpName = "杭州云海跨境电子商务平台有限公司"
[[route.map]]
stylesheet = "shop-orders-to-ceb311.xsl"
output = "CEB311"
)~",
                                 fmt::arg("key", (keys.path / "ec.key").string()), fmt::arg("cert", (keys.path / "ec.pem").string()),
                                 fmt::arg("sm2key", (keys.path / "sm2.key").string()), fmt::arg("sm2cert", (keys.path / "sm2.pem").string()));
    gateway_process gw("sign-stage", o);
    gw.start();
    http_client c(gw.host(), gw.port());

    // Mapped outputs: every CEB311 is SIGNED, and the signed bytes verify with xmlsec1 and portgate.
    auto r = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-batch-three-orders.xml"), "demo-shop-key");
    INFO(r.body());
    REQUIRE(r.result_int() == 202);
    auto m = body_json(c.get("/v1/messages/" + body_json(r)["id"].get<std::string>(), "admin-token"));
    REQUIRE(m["outputs"].size() == 3);
    temp_dir work("sign-stage-out");
    for (auto& out : m["outputs"]) {
        CHECK(out["state"] == "SIGNED");
        auto signed_bytes = c.get("/v1/messages/" + out["id"].get<std::string>() + "/payloads/signed", "admin-token");
        REQUIRE(signed_bytes.result_int() == 200);
        auto mapped = c.get("/v1/messages/" + out["id"].get<std::string>() + "/payloads/mapped", "admin-token");
        // Enveloped: removing the Signature element gives back the mapped bytes exactly.
        std::string sb = signed_bytes.body();
        auto a = sb.find("<ds:Signature"), b = sb.find("</ds:Signature>");
        REQUIRE(a != std::string::npos);
        REQUIRE(b != std::string::npos);
        CHECK(sb.substr(0, a) + sb.substr(b + 15) == mapped.body());
        auto f = work.path / (out["id"].get<std::string>() + ".xml");
        std::ofstream(f, std::ios::binary) << sb;
        std::string log;
        CHECK(run_portgate(fmt::format("verify --cert {} {}", (keys.path / "ec.pem").string(), f.string()), log) == 0);
        CHECK(run_portgate(fmt::format("validate --type CEB311 --profile sent --rules {}", f.string()), log) == 0);
        CHECK(std::system(fmt::format("xmlsec1 --verify --trusted-pem '{}' '{}' >/dev/null 2>&1", (keys.path / "ca.pem").string(), f.string()).c_str()) == 0);
    }

    // A mapped output that breaks a customs rule is refused by the check of what would be sent (the signed
    // document): 422 PG-307 naming the rule, and a line in the document; nothing is stored as signed.
    auto usd = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-invalid-PG307-usd-order.xml"), "demo-shop-key");
    INFO(usd.body());
    REQUIRE(usd.result_int() == 422);
    auto uj = body_json(usd);
    CHECK(uj["code"] == "PG-307");
    CHECK(uj.dump().find("IMP_ORDER_CURRENCY_RMB") != std::string::npos);
    CHECK(uj.dump().find("as signed") != std::string::npos);
    bool has_line = false;
    for (auto& e : uj["errors"]) has_line |= e.value("line", 0) > 1;
    CHECK(has_line);
    CHECK(body_json(c.get("/v1/messages/" + uj["id"].get<std::string>(), "admin-token"))["state"] == "REJECTED");

    // A native CEB621 through an SM2 route: stored SIGNED; the strict schema (signature required) accepts it.
    auto n = c.post_xml("/v1/messages", sample("ceb/ceb621-inventory-valid.xml"), "other-shop-key");
    INFO(n.body());
    REQUIRE(n.result_int() == 202);
    CHECK(body_json(n)["state"] == "SIGNED");
    auto sb = c.get("/v1/messages/" + body_json(n)["id"].get<std::string>() + "/payloads/signed", "admin-token");
    REQUIRE(sb.result_int() == 200);
    auto f = work.path / "native.xml";
    std::ofstream(f, std::ios::binary) << sb.body();
    std::string log;
    CHECK(run_portgate(fmt::format("validate --schema ceb-import {}", f.string()), log) == 0);
    CHECK(run_portgate(fmt::format("verify --cert {} {}", (keys.path / "sm2.pem").string(), f.string()), log) == 0);
    // The certificate's lifetime is a metric.
    auto metrics = c.get("/metrics", "admin-token").body();
    CHECK(metrics.find("portgate_signer_certificate_days_left{signer=\"card-1\"}") != std::string::npos);
    // Three orders, and the USD order's output: an output is checked as signed, so it was signed first.
    CHECK(metrics.find("portgate_signer_signatures{signer=\"card-1\"} 4") != std::string::npos);
}

TEST_CASE("a password in the config is refused, a missing key stops start-up with the signer named", "[sign][config]") {
    temp_dir tmp("sign-config");
    auto cfg = tmp.path / "c.toml";
    std::ofstream(cfg) << "[paths]\nxsd = \"" << (fs::path(PORTGATE_SOURCE_DIR) / "xsd").string()
                       << "\"\n[[signer]]\nid = \"s\"\nkey = \"nope.key\"\ncert = \"nope.pem\"\npassword = \"secret\"\n";
    std::string out;
    CHECK(run_portgate("check-config --config " + cfg.string(), out) == 1);
    CHECK(out.find("passwords and PINs never stand in the config") != std::string::npos);
    CHECK(out.find("secret") == std::string::npos);
    std::ofstream(cfg) << "[paths]\nxsd = \"" << (fs::path(PORTGATE_SOURCE_DIR) / "xsd").string()
                       << "\"\n[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"" << (tmp.path / "d").string()
                       << "\"\n[[partner]]\nid = \"p\"\napi_keys = [\"sha256:f5d072715bf986543308d9f187277c2406847cd7bfd33cbc2264fedc284a9992\"]\n"
                       << "[[signer]]\nid = \"usb-key\"\nkey = \"nope.key\"\ncert = \"nope.pem\"\n";
    CHECK(run_portgate("serve --config " + cfg.string(), out) == 1);
    CHECK(out.find("usb-key") != std::string::npos);
}

// enrich-ceb.xsl says indent="no": the gateway signs its result tree as it is, without parsing the bytes again
// (xml::adopt). What is sent must still verify, for documents laid out any way a partner may send them.
TEST_CASE("an enrich route signs the mapping's own tree, and what it stores verifies with xmlsec1", "[sign][integration]") {
    temp_dir keys("sign-enrich-pki");
    make_pki(keys.path);
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[signer]]
id = "card-1"
source = "file"
key = "{key}"
cert = "{cert}"
algorithm = "ecdsa-sha256"

[[route]]
id = "enrich-621"
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
signer = "card-1"
[route.params]
copCode = "3301960ABC"
copName = "杭州云海跨境电子商务平台有限公司"
dxpId = "DXPENT0000012345"
[[route.map]]
stylesheet = "enrich-ceb.xsl"
)~",
                                 fmt::arg("key", (keys.path / "ec.key").string()), fmt::arg("cert", (keys.path / "ec.pem").string()));
    gateway_process gw("sign-enrich", o);
    gw.start();
    http_client c(gw.host(), gw.port());

    const std::string as_given = sample("ceb/ceb621-inventory-valid.xml");
    // The same list on one line, with a comment, a processing instruction and character references.
    std::string compact;
    for (std::size_t i = 0; i < as_given.size(); ++i) {
        if (as_given[i] == '\n' || as_given[i] == '\r') {
            while (i + 1 < as_given.size() && (as_given[i + 1] == ' ' || as_given[i + 1] == '\t')) ++i;
            continue;
        }
        compact += as_given[i];
    }
    compact.replace(compact.find("?>") + 2, 0, "\n");  // the XML declaration stays on its own line
    const auto head = compact.find("<ceb:InventoryHead>");
    REQUIRE(head != std::string::npos);
    compact.insert(head, "<!-- from the warehouse --><?wms batch=\"7\"?>");
    const auto address = compact.find("</ceb:consigneeAddress>");
    REQUIRE(address != std::string::npos);
    compact.insert(address, " &#x6C5F;&amp;&lt;tab&#9;end");

    temp_dir work("sign-enrich-out");
    int n = 0;
    for (const std::string* doc : std::vector<const std::string*>{&as_given, &compact}) {
        auto r = c.post_xml("/v1/messages", *doc, "other-shop-key");
        INFO(r.body());
        REQUIRE(r.result_int() == 202);
        auto m = body_json(c.get("/v1/messages/" + body_json(r)["id"].get<std::string>(), "admin-token"));
        REQUIRE(m["outputs"].size() == 1);
        auto& out = m["outputs"][0];
        CHECK(out["state"] == "SIGNED");
        const std::string id = out["id"].get<std::string>();
        auto signed_bytes = c.get("/v1/messages/" + id + "/payloads/signed", "admin-token");
        auto mapped = c.get("/v1/messages/" + id + "/payloads/mapped", "admin-token");
        REQUIRE(signed_bytes.result_int() == 200);
        std::string sb = signed_bytes.body();
        auto a = sb.find("<ds:Signature"), b = sb.find("</ds:Signature>");
        REQUIRE(a != std::string::npos);
        REQUIRE(b != std::string::npos);
        CHECK(sb.substr(0, a) + sb.substr(b + 15) == mapped.body());
        CHECK(mapped.body().find("<ceb:copCode>3301960ABC</ceb:copCode>") != std::string::npos);
        if (doc == &compact) CHECK(mapped.body().find("<!-- from the warehouse --><?wms batch=\"7\"?>") != std::string::npos);
        auto f = work.path / fmt::format("enriched-{}.xml", n++);
        std::ofstream(f, std::ios::binary) << sb;
        std::string log;
        INFO(f.string());
        // portgate verify refuses any comment by policy (docs/signing.md); xmlsec1 below checks that one.
        if (doc == &as_given) CHECK(run_portgate(fmt::format("verify --cert {} {}", (keys.path / "ec.pem").string(), f.string()), log) == 0);
        CHECK(run_portgate(fmt::format("validate --type CEB621 --profile sent --rules {}", f.string()), log) == 0);
        CHECK(std::system(fmt::format("xmlsec1 --verify --trusted-pem '{}' '{}' >/dev/null 2>&1", (keys.path / "ca.pem").string(), f.string()).c_str()) == 0);
    }
}
