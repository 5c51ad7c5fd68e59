// Fault tests against the HTTPS customs endpoint (the simulator, mutual TLS, DxpMsg envelopes, receipts by
// callback to POST /v1/receipts) with partner notifications by webhook: the simulator is stopped (SIGSTOP)
// for a while in the middle of a run, or the partner's webhook answers 503 for a while. In each case every
// accepted list reaches customs once in effect (the simulator counts distinct CopMsgIds and repeats) and
// every status change reaches the partner (counted on the webhook against the store's notifications).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gateway/core/digest.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/support/sim_process.hpp"
#include "tests/support/webhook_sink.hpp"

using namespace portgate::test;
using json = nlohmann::json;
namespace net = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

json body_json(const response& r) { return json::parse(r.body()); }

std::string shell(const std::string& cmd) {
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    return out;
}

unsigned short free_port() {
    net::io_context ioc;
    net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

// The customs simulator in HTTPS mode on a chosen port (mutual TLS), receipts by callback to the gateway.
std::unique_ptr<sim_process> start_sim(unsigned short port, const fs::path& tls, const fs::path& signing_ca, const std::string& callback,
                                       const fs::path& logdir) {
    return std::make_unique<sim_process>(
        logdir, std::vector<std::string>{"--https", "--listen", fmt::format("127.0.0.1:{}", port), "--cert", (tls / "server.pem").string(),
                                         "--key", (tls / "server.key").string(), "--ca", (tls / "ca.pem").string(), "--require-client-cert",
                                         "--trust-ca", signing_ca.string(), "--callback", callback, "--callback-token", "customs-key",
                                         "--seed", "23"});
}

// GET /sim/stats over mutual TLS.
json sim_stats(const fs::path& tls, unsigned short port) {
    auto text = shell(fmt::format("curl -s --max-time 5 --cacert '{0}/ca.pem' --cert '{0}/client.pem' --key '{0}/client.key' "
                                  "https://127.0.0.1:{1}/sim/stats", tls.string(), port));
    return json::parse(text, nullptr, false);
}

struct harness {
    temp_dir keys{"fault-pki"}, tls{"fault-tls"};
    webhook_sink hook;
    unsigned short sim_port = free_port();
    std::unique_ptr<gateway_process> gw;
    std::unique_ptr<sim_process> sim;
    std::vector<std::string> ids;

    explicit harness(const std::string& tag) {
        REQUIRE(std::system(fmt::format("bash '{}/tests/sign/make_test_pki.sh' '{}' >/dev/null 2>&1", PORTGATE_SOURCE_DIR, keys.path.string()).c_str()) == 0);
        REQUIRE(std::system(fmt::format("bash '{}/tests/adapters/make_tls_pki.sh' '{}' >/dev/null 2>&1", PORTGATE_SOURCE_DIR, tls.path.string()).c_str()) == 0);
        gateway_options o;
        o.extra_config = fmt::format(R"~(
[receipts]
api_keys = ["sha256:{customs}"]

[[partner]]
id = "hook-shop"
customs_codes = ["3301960ABC"]
api_keys = ["sha256:{shop}"]
[partner.notify]
stylesheet = "notify-shop-json.xsl"
channels = ["webhook"]
webhook_url = "http://127.0.0.1:{hook}/customs-status"
max_attempts = 60

[[signer]]
id = "card"
key = "{key}"
cert = "{cert}"
algorithm = "ecdsa-sha256"

[[endpoint]]
id = "customs-https"
kind = "https"
url = "https://127.0.0.1:{sim}/ceb"
ca_file = "{tls}/ca.pem"
client_cert = "{tls}/client.pem"
client_key = "{tls}/client.key"
dxp_sender_id = "DXPENT0000012345"
max_attempts = 100
read_timeout_ms = 1000
concurrency = 4

[[route]]
id = "hook-lists"
partner = "hook-shop"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
signer = "card"
endpoint = "customs-https"
)~", fmt::arg("customs", portgate::sha256_hex("customs-key")), fmt::arg("shop", portgate::sha256_hex("hook-shop-key")),
                                     fmt::arg("hook", hook.port()), fmt::arg("key", (keys.path / "ec.key").string()),
                                     fmt::arg("cert", (keys.path / "ec.pem").string()), fmt::arg("sim", sim_port),
                                     fmt::arg("tls", tls.path.string()));
        gw = std::make_unique<gateway_process>(tag, o);
        gw->start();
        sim = start_sim(sim_port, tls.path, keys.path / "ca.pem", fmt::format("http://{}:{}/v1/receipts", gw->host(), gw->port()), gw->dir());
    }

    void post(http_client& c, int count) {
        static const std::string doc = sample("ceb/ceb621-inventory-valid.xml");
        for (int i = 0; i < count; ++i) {
            auto r = c.post_xml("/v1/messages", with_cop_no(doc, fmt::format("FT2026112300{:05}", ids.size())), "hook-shop-key");
            INFO(r.body());
            REQUIRE(r.result_int() == 202);
            ids.push_back(body_json(r)["id"]);
        }
    }

    // Waits until every list has a final customs status and nothing is left to notify; then counts both sides.
    void verify(http_client& c) {
        const std::set<std::string> finals{"CLOSED", "RETURNED"};
        std::map<std::string, json> msgs;
        auto deadline = steady::now() + std::chrono::seconds(120);
        std::size_t done = 0;
        std::string left_to_notify;
        while (steady::now() < deadline) {
            done = 0;
            for (auto& id : ids) {
                if (msgs.count(id) && finals.count(msgs[id]["state"])) {
                    ++done;
                    continue;
                }
                msgs[id] = body_json(c.get("/v1/messages/" + id, "admin-token"));
                done += finals.count(msgs[id]["state"]);
            }
            left_to_notify = shell(fmt::format("sqlite3 '{}' \"SELECT COUNT(*) FROM notification WHERE state = 'pending'\"",
                                               (gw->data_dir() / "portgate.db").string()));
            if (done == ids.size() && left_to_notify == "0\n") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        const std::string sim_log = sim->log();
        INFO("simulator log (end):\n" << sim_log.substr(sim_log.size() > 3000 ? sim_log.size() - 3000 : 0));
        REQUIRE(done == ids.size());
        REQUIRE(left_to_notify == "0\n");
        for (auto& id : ids) msgs[id] = body_json(c.get("/v1/messages/" + id, "admin-token"));

        // Customs side: each CopMsgId taken once in effect; repeats (retries after a lost answer) answered again only.
        json st = sim_stats(tls.path, sim_port);
        INFO(st.dump(1));
        CHECK(st["distinct_cop_msg_ids"] == ids.size());
        CHECK(st["accepted"] == ids.size());
        CHECK(st["pending"] == 0);
        // Partner side: every notification the store made was accepted by the webhook, none is dead, and per
        // list the partner saw exactly the forward status changes, ending with the final status.
        auto db = (gw->data_dir() / "portgate.db").string();
        auto rows = shell(fmt::format("sqlite3 '{}' \"SELECT state, COUNT(*) FROM notification WHERE partner = 'hook-shop' GROUP BY state\"", db));
        INFO(rows);
        std::lock_guard lk(hook.mu);
        std::map<std::string, int> accepted;                 // X-Portgate-Delivery → times accepted
        std::map<std::string, std::vector<json>> by_message;  // X-Portgate-Message → bodies (first acceptance)
        for (auto& req : hook.got)
            if (accepted[std::string(req["X-Portgate-Delivery"])]++ == 0)
                by_message[std::string(req["X-Portgate-Message"])].push_back(json::parse(req.body(), nullptr, false));
        std::size_t delivered = std::stoul(shell(fmt::format("sqlite3 '{}' \"SELECT COUNT(*) FROM notification WHERE partner = 'hook-shop' AND channel = 'webhook' AND state = 'delivered'\"", db)));
        CHECK(rows.find("dead") == std::string::npos);
        CHECK(accepted.size() == delivered);
        std::size_t forward_total = 0;
        for (auto& id : ids) {
            const json& m = msgs[id];
            std::vector<std::string> forward;
            for (auto& e : m["events"])
                if (e["kind"] == "receipt" && e.contains("state")) forward.push_back(e["state"]);
            forward_total += forward.size();
            auto& got = by_message[id];
            INFO(id << " " << m.dump().substr(0, 2000));
            CHECK(got.size() == forward.size());
            bool final_seen = false;
            for (auto& b : got)
                if (b.is_object() && b["status"]["code"] == m["customs_status"]) final_seen = true;
            CHECK(final_seen);
        }
        CHECK(forward_total == delivered);
    }
};

}  // namespace

TEST_CASE("the customs endpoint stops for a while: every list reaches customs once in effect, every status reaches the partner",
          "[e2e][integration][fault][slow]") {
    harness h("fault-sim-stop");
    http_client c(h.gw->host(), h.gw->port());
    h.post(c, 80);
    ::kill(h.sim->pid(), SIGSTOP);  // customs stops answering: connections hang, the outbox times out and rests
    h.post(c, 80);                // intake goes on: stored and acknowledged while customs is away
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ::kill(h.sim->pid(), SIGCONT);
    h.post(c, 80);
    h.verify(c);
    auto metrics = c.get("/metrics", "admin-token").body();
    auto at = metrics.find("portgate_customs_deliveries_total{outcome=\"retry\"} ");
    REQUIRE(at != std::string::npos);
    INFO(metrics.substr(at, 80));
    CHECK(std::stod(metrics.substr(at + 51)) >= 1);  // the stop was felt: attempts timed out and were retried
    CHECK(metrics.find("portgate_customs_deliveries_total{outcome=\"dead\"} 0") != std::string::npos);
}

TEST_CASE("the partner's webhook fails for a while: every status still reaches it, once per notification id",
          "[e2e][integration][fault][slow]") {
    harness h("fault-webhook");
    h.hook.failing = true;
    http_client c(h.gw->host(), h.gw->port());
    h.post(c, 120);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    CHECK(h.hook.refused > 0);  // notifications were due while it failed
    h.hook.failing = false;
    h.post(c, 120);
    h.verify(c);
}
