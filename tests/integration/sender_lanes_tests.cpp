// The sender's lanes against a slow exchange: the simulator holds every DxpRep 400 ms
// (--answer-delay-ms), the endpoint has 4 lanes, so 8 lists go out in about two answers' time, not eight —
// in the first rounds and again in later ones (the lanes' threads are kept between rounds).
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"
#include "tests/support/sim_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

// "2026-11-24T06:40:00.123Z" → milliseconds since the epoch.
long long event_ms(const std::string& iso) {
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

}  // namespace

TEST_CASE("sender: an endpoint's lanes send in parallel, round after round", "[outbox][integration]") {
    temp_dir tls("lanes-tls");
    REQUIRE(std::system(fmt::format("bash '{}/tests/adapters/make_tls_pki.sh' '{}' >/dev/null 2>&1", PORTGATE_SOURCE_DIR, tls.path.string()).c_str()) == 0);
    sim_process sim(tls.path, {"--https", "--listen", "127.0.0.1:0", "--cert", (tls.path / "server.pem").string(), "--key",
                               (tls.path / "server.key").string(), "--ca", (tls.path / "ca.pem").string(), "--accept-all",
                               "--answer-delay-ms", "400"});
    REQUIRE_FALSE(sim.port().empty());
    gateway_options o;
    o.extra_config = fmt::format(R"~(
[[endpoint]]
id = "slow-customs"
kind = "https"
url = "https://127.0.0.1:{port}/ceb"
ca_file = "{tls}/ca.pem"
dxp_sender_id = "DXPENT0000012345"
read_timeout_ms = 5000
concurrency = 4

[[route]]
partner = "other-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
endpoint = "slow-customs"
)~", fmt::arg("port", sim.port()), fmt::arg("tls", tls.path.string()));
    gateway_process gw("sender-lanes", o);
    gw.start();
    http_client c(gw.host(), gw.port());
    const std::string doc = sample("ceb/ceb621-inventory-direct-signed.xml");

    for (int batch = 0; batch < 2; ++batch) {
        std::vector<std::string> ids;
        for (int i = 0; i < 8; ++i) {
            auto r = c.post_xml("/v1/messages", with_cop_no(doc, fmt::format("LN2026112400{}{:03}", batch, i)), "other-shop-key");
            INFO(r.body());
            REQUIRE(r.result_int() == 202);
            ids.push_back(body_json(r)["id"]);
        }
        // The "sent" event of each: when its answer came back.
        std::vector<long long> sent;
        for (int round = 0; round < 300 && sent.size() < ids.size(); ++round) {  // ≤ 15 s
            sent.clear();
            for (auto& id : ids) {
                auto m = body_json(c.get("/v1/messages/" + id, "admin-token"));
                for (auto& e : m["events"])
                    if (e["kind"] == "sent") sent.push_back(event_ms(e["at"]));
            }
            if (sent.size() < ids.size()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        INFO("batch " << batch << "; simulator log:\n" << sim.log());
        REQUIRE(sent.size() == ids.size());
        const auto [first, last] = std::minmax_element(sent.begin(), sent.end());
        REQUIRE(*first > 0);
        // One lane would need 7 more answers after the first: ≥ 2.8 s. Four need at most 2 more (≤ ~0.8 s).
        CHECK(*last - *first < 2000);
    }
}
