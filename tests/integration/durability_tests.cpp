// Fault tests: kill -9 during a stream of submissions, SIGTERM with requests in flight. Every message
// that was acknowledged (202) must be found after a restart.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;
using json = nlohmann::json;

namespace {

struct load_result {
    std::vector<std::string> acknowledged;
    int errors = 0;
};

// Posts from `clients` threads until `stop` is set; collects every acknowledged id.
load_result run_load(const gateway_process& gw, int clients, std::atomic<bool>& stop, std::atomic<int>& acked) {
    load_result res;
    std::mutex mu;
    std::vector<std::thread> ts;
    const std::string doc = sample("ceb/ceb311-order-valid.xml");
    for (int i = 0; i < clients; ++i)
        ts.emplace_back([&] {
            try {
                http_client c(gw.host(), gw.port());
                while (!stop) {
                    auto r = c.post_xml("/v1/messages", doc, "demo-shop-key");
                    if (r.result_int() == 202) {
                        std::lock_guard lk(mu);
                        res.acknowledged.push_back(json::parse(r.body())["id"]);
                        ++acked;
                    }
                }
            } catch (const std::exception&) {
                std::lock_guard lk(mu);
                ++res.errors;  // the connection died with the process: those requests were never acknowledged
            }
        });
    for (auto& t : ts) t.join();
    return res;
}

}  // namespace

TEST_CASE("kill -9 during a stream of submissions loses nothing that was acknowledged", "[durability][integration][slow]") {
    gateway_process gw("kill9");
    gw.start();
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    load_result res;
    std::atomic<bool> load_done{false};
    std::thread load([&] {
        res = run_load(gw, 6, stop, acked);
        load_done = true;
    });
    // Never wait forever: if every client died (a loaded machine), the test fails instead of hanging.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (acked < 300 && !load_done && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    INFO("acknowledged before the kill: " << acked.load() << (load_done ? " (all clients had stopped)" : ""));
    CHECK(acked >= 300);
    gw.kill9();  // mid-stream: requests are being read, validated and committed right now
    stop = true;
    load.join();
    REQUIRE(res.acknowledged.size() >= 300);

    gw.start();
    http_client c(gw.host(), gw.port());
    int missing = 0;
    for (auto& id : res.acknowledged)
        if (c.get("/v1/messages/" + id, "demo-shop-key").result_int() != 200) ++missing;
    CHECK(missing == 0);
    // And the restarted gateway takes new work.
    CHECK(c.post_xml("/v1/messages", sample("ceb/ceb311-order-valid.xml"), "demo-shop-key").result_int() == 202);
    CHECK(gw.terminate() == 0);
}

TEST_CASE("SIGTERM finishes requests in flight and stops cleanly", "[durability][integration]") {
    gateway_process gw("sigterm");
    gw.start();
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    load_result res;
    std::atomic<bool> load_done{false};
    std::thread load([&] {
        res = run_load(gw, 4, stop, acked);
        load_done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (acked < 50 && !load_done && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(acked >= 50);
    int status = gw.terminate();
    stop = true;
    load.join();
    CHECK(status == 0);
    CHECK(gw.log().find("stopped") != std::string::npos);

    gw.start();
    http_client c(gw.host(), gw.port());
    int missing = 0;
    for (auto& id : res.acknowledged)
        if (c.get("/v1/messages/" + id, "demo-shop-key").result_int() != 200) ++missing;
    CHECK(missing == 0);
}
