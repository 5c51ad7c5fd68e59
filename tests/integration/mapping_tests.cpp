// Mapping in the running gateway: a partner's order batch becomes CEB311/CEB411 documents at once and waits,
// visibly, for the warehouse's shipment confirmation; the CEB621 lists appear when both have arrived, in
// either order, exactly once; a mapping that fails is a reject naming the stylesheet.
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

gateway_options with_partner_routes() {
    gateway_options o;
    // sha256("demo-warehouse-key")
    o.extra_config = R"~(
[[partner]]
id = "demo-warehouse"
name = "Demo Warehouse"
api_keys = ["sha256:cc18cfe8c5a752f3f229b3afaf66b2af89623ea305678912fd82310148250cf9"]

[[route]]
id = "shop-orders"
partner = "demo-shop"
root = "{urn:portgate:partner:shop-orders:1}OrderBatch"
[route.params]
copCode = "3301960ABC"
copName = "杭州云海跨境电子商务平台有限公司"
dxpId = "DXPENT0000012345"
ebpCode = "3301960ABC"
ebpName = "杭州云海跨境电子商务平台有限公司"
agentCode = "3301986Q5M"
agentName = "杭州关通报关服务有限公司"
tradeMode = "1210"
trafMode = "Y"
[[route.map]]
stylesheet = "shop-orders-to-ceb311.xsl"
output = "CEB311"
[[route.map]]
stylesheet = "shop-orders-to-ceb411.xsl"
output = "CEB411"
optional = true
[[route.map]]
stylesheet = "shop-orders-to-ceb621.xsl"
output = "CEB621"
join = { with = "wms-shipments", key = "/so:OrderBatch/so:Order/so:orderNo", other_key = "/ws:ShipmentConfirmation/ws:shipment/ws:orderNo", as = "shipment" }

[[route]]
id = "wms-shipments"
partner = "demo-warehouse"
root = "{urn:portgate:partner:wms-shipments:1}ShipmentConfirmation"
[route.params]
copCode = "3302460W01"
copName = "宁波保税仓储物流有限公司"
dxpId = "DXPENT0000047120"
[[route.map]]
stylesheet = "wms-shipments-to-ceb511.xsl"
output = "CEB511"
)~";
    return o;
}

const std::string shop_key = "demo-shop-key", wms_key = "demo-warehouse-key";

json get_message(http_client& c, const std::string& id) { return body_json(c.get("/v1/messages/" + id, "admin-token")); }

json wait_state(http_client& c, const std::string& id, const std::string& state) {
    json m;
    for (int i = 0; i < 200; ++i) {
        m = get_message(c, id);
        if (m["state"] == state) return m;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return m;
}

std::map<std::string, int> count_types(const json& outputs) {
    std::map<std::string, int> n;
    for (auto& o : outputs) n[o["type"].get<std::string>()]++;
    return n;
}

}  // namespace

TEST_CASE("an order batch maps at once and its inventory lists follow the shipment confirmation", "[mapping][integration]") {
    gateway_process gw("map-join", with_partner_routes());
    gw.start();
    http_client c(gw.host(), gw.port());

    auto r = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-batch-three-orders.xml"), shop_key);
    INFO(r.body());
    REQUIRE(r.result_int() == 202);
    auto order = body_json(r);
    CHECK(order["state"] == "WAITING");
    CHECK(order["type"] == "SHOP_ORDERS");
    auto m = get_message(c, order["id"]);
    auto n = count_types(m["outputs"]);
    CHECK(n["CEB311"] == 3);
    CHECK(n["CEB411"] == 2);
    CHECK(n.count("CEB621") == 0);
    CHECK(m["events"].back()["kind"] == "waiting");
    CHECK(m["events"].back()["detail"]["waiting_for"].size() == 3);
    // Each output is a document of its own, with its customs bytes.
    std::string first = m["outputs"][0]["id"];
    auto out = get_message(c, first);
    CHECK(out["parent"] == order["id"]);
    CHECK(out["direction"] == "out");
    CHECK(out["state"] == "MAPPED");
    auto bytes = c.get("/v1/messages/" + first + "/payloads/mapped", "admin-token");
    CHECK(bytes.result_int() == 200);
    CHECK(bytes.body().find("CEB311Message") != std::string::npos);
    // The partner sees its own outputs; another partner does not.
    CHECK(c.get("/v1/messages/" + first, shop_key).result_int() == 200);
    CHECK(c.get("/v1/messages/" + first, "other-shop-key").result_int() == 404);

    auto s = c.post_xml("/v1/messages", sample("partners/wms-shipments/wms_shipments-three-parcels.xml"), wms_key);
    INFO(s.body());
    REQUIRE(s.result_int() == 202);
    auto ship = get_message(c, body_json(s)["id"]);
    CHECK(ship["state"] == "MAPPED");
    CHECK(count_types(ship["outputs"])["CEB511"] == 3);

    auto done = wait_state(c, order["id"], "MAPPED");
    INFO(done.dump(1));
    CHECK(done["state"] == "MAPPED");
    n = count_types(done["outputs"]);
    CHECK(n["CEB621"] == 3);
    int joined = 0;
    for (auto& e : done["events"]) joined += e["kind"] == "joined";
    CHECK(joined == 3);

    // The same confirmation again does not map the lists twice.
    auto again = c.post_xml("/v1/messages", sample("partners/wms-shipments/wms_shipments-three-parcels.xml"), wms_key);
    REQUIRE(again.result_int() == 202);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(count_types(get_message(c, order["id"])["outputs"])["CEB621"] == 3);
    CHECK(gw.terminate() == 0);
}

TEST_CASE("the shipment first: the order finds it and maps its lists at once", "[mapping][integration]") {
    gateway_process gw("map-join-reverse", with_partner_routes());
    gw.start();
    http_client c(gw.host(), gw.port());
    REQUIRE(c.post_xml("/v1/messages", sample("partners/wms-shipments/wms_shipments-five-items-parcel.xml"), wms_key).result_int() == 202);
    auto r = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-single-five-items.xml"), shop_key);
    INFO(r.body());
    REQUIRE(r.result_int() == 202);
    auto order = body_json(r);
    CHECK(order["state"] == "MAPPED");
    auto n = count_types(get_message(c, order["id"])["outputs"]);
    CHECK(n["CEB311"] == 1);
    CHECK(n["CEB621"] == 1);
}

TEST_CASE("a mapping that cannot map is a reject naming the stylesheet and the reason", "[mapping][integration]") {
    gateway_process gw("map-reject", with_partner_routes());
    gw.start();
    http_client c(gw.host(), gw.port());
    auto r = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-invalid-PG306-currency-rmb.xml"), shop_key);
    REQUIRE(r.result_int() == 422);
    auto j = body_json(r);
    CHECK(j["code"] == "PG-306");
    CHECK(j.dump().find(".xsl") != std::string::npos);
    auto bad = c.post_xml("/v1/messages", sample("partners/shop-orders/shop_orders-invalid-PG307-paid-not-the-sum.xml"), shop_key);
    REQUIRE(bad.result_int() == 422);
    auto b = body_json(bad);
    CHECK(b["code"] == "PG-307");
    CHECK(b.dump().find("IMP_ORDER_PAID") != std::string::npos);
    // The output's rule is checked on the mapping's tree, then again from its bytes for the line it names:
    // the OrderHead's in the indented output (the XML declaration, CEB311Message, Order, OrderHead), not the
    // line of the stylesheet or of the input the tree's nodes came from.
    INFO(b.dump());
    REQUIRE(b["errors"].size() == 1);
    CHECK(b["errors"][0]["path"] == "/CEB311Message/Order/OrderHead");
    CHECK(b["errors"][0]["line"] == 4);
    auto stored = get_message(c, b["id"]);
    CHECK(stored["state"] == "REJECTED");
    CHECK(stored.count("outputs") == 0);
}
