// Tests for gateway/core: the bounded worker pool, Prometheus metrics, ULID message ids, the error
// catalogue and the digest helpers.
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/core/digest.hpp"
#include "gateway/core/error.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/core/worker_pool.hpp"

using namespace portgate;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------
// worker_pool

TEST_CASE("worker_pool: try_post refuses when the queue is full", "[core]") {
    worker_pool pool(1, 2);
    CHECK(pool.capacity() == 2);
    CHECK(pool.threads() == 1);
    std::latch started(1), release(1);
    std::atomic<int> ran{0};

    REQUIRE(pool.try_post([&] {
        started.count_down();
        release.wait();
        ++ran;
    }));
    started.wait();  // the only thread is now busy: further jobs wait in the queue

    auto backlog = pool.backlog();  // what the store's writer reads, without the pool's lock
    CHECK(backlog->load() == 0);
    CHECK(pool.try_post([&] { ++ran; }));
    CHECK(pool.try_post([&] { ++ran; }));
    CHECK(pool.queued() == 2);
    CHECK(backlog->load() == 2);
    CHECK_FALSE(pool.try_post([&] { ++ran; }));  // third waiting job: over capacity
    CHECK(pool.queued() == 2);
    CHECK(backlog->load() == 2);

    release.count_down();
    pool.stop();
    CHECK(ran.load() == 3);
    CHECK(pool.queued() == 0);
    CHECK(backlog->load() == 0);
}

TEST_CASE("worker_pool: stop runs every queued job before returning", "[core]") {
    worker_pool pool(1, 100);
    std::latch started(1), release(1);
    std::atomic<int> ran{0};
    REQUIRE(pool.try_post([&] {
        started.count_down();
        release.wait();
    }));
    started.wait();
    int accepted = 0;
    for (int i = 0; i < 50; ++i) accepted += pool.try_post([&] { ++ran; }) ? 1 : 0;
    REQUIRE(accepted == 50);

    std::thread stopper([&] { pool.stop(); });
    // Wait until stop() has begun: the pool then refuses new work although the queue has room.
    bool refused = false;
    for (int i = 0; i < 2000 && !refused; ++i) {
        if (pool.try_post([&] { ++ran; })) ++accepted;
        else refused = true;
        if (!refused) std::this_thread::sleep_for(1ms);
    }
    REQUIRE(refused);
    CHECK(pool.queued() == static_cast<std::size_t>(accepted));  // stop() is waiting, nothing ran yet

    release.count_down();
    stopper.join();
    CHECK(ran.load() == accepted);
    CHECK(pool.queued() == 0);
    CHECK_FALSE(pool.try_post([] {}));
    CHECK_FALSE(pool.post_wait([] {}));
    pool.stop();  // idempotent
}

TEST_CASE("worker_pool: post_wait blocks until there is room", "[core]") {
    worker_pool pool(1, 1);
    std::latch started(1), release(1);
    std::atomic<int> ran{0};
    REQUIRE(pool.try_post([&] {
        started.count_down();
        release.wait();
        ++ran;
    }));
    started.wait();
    REQUIRE(pool.try_post([&] { ++ran; }));  // the queue is full now
    REQUIRE_FALSE(pool.try_post([] {}));

    std::atomic<bool> returned{false};
    std::promise<bool> posted;
    std::thread producer([&] {
        bool ok = pool.post_wait([&] { ++ran; });
        returned = true;
        posted.set_value(ok);
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(returned.load());  // still blocked: no room

    release.count_down();
    auto f = posted.get_future();
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    CHECK(f.get());
    producer.join();
    pool.stop();
    CHECK(ran.load() == 3);
}

TEST_CASE("worker_pool: stop releases a producer blocked in post_wait", "[core]") {
    worker_pool pool(1, 1);
    std::latch started(1), release(1);
    REQUIRE(pool.try_post([&] {
        started.count_down();
        release.wait();
    }));
    started.wait();
    REQUIRE(pool.try_post([] {}));

    std::promise<bool> posted;
    auto f = posted.get_future();
    std::thread producer([&] { posted.set_value(pool.post_wait([] {})); });
    std::this_thread::sleep_for(20ms);
    std::thread stopper([&] { pool.stop(); });
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(f.get());  // refused: the pool is stopping
    release.count_down();
    producer.join();
    stopper.join();
}

// ---------------------------------------------------------------------------------------------------
// metrics

namespace {

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

}  // namespace

TEST_CASE("metrics: counters render with their labels", "[core]") {
    metrics m;
    m.help("portgate_messages_total", "Messages by partner and outcome.");
    m.counter_for("portgate_messages_total", R"(partner="demo-shop",outcome="accepted")").inc(3);
    m.counter_for("portgate_messages_total", R"(partner="demo-shop",outcome="rejected")").inc();
    m.counter_for("portgate_restarts_total").inc(2);
    // The same name and labels are the same series.
    counter& c = m.counter_for("portgate_messages_total", R"(partner="demo-shop",outcome="accepted")");
    c.inc();
    CHECK(&c == &m.counter_for("portgate_messages_total", R"(partner="demo-shop",outcome="accepted")"));
    CHECK(c.value() == 4);
    m.gauge("portgate_queue_depth", [] { return 7.0; });

    const std::string text = m.render();
    INFO(text);
    CHECK(has_line(text, "# HELP portgate_messages_total Messages by partner and outcome."));
    CHECK(has_line(text, "# TYPE portgate_messages_total counter"));
    CHECK(has_line(text, R"(portgate_messages_total{partner="demo-shop",outcome="accepted"} 4)"));
    CHECK(has_line(text, R"(portgate_messages_total{partner="demo-shop",outcome="rejected"} 1)"));
    CHECK(has_line(text, "portgate_restarts_total 2"));
    CHECK(has_line(text, "# TYPE portgate_queue_depth gauge"));
    CHECK(has_line(text, "portgate_queue_depth 7"));
}

TEST_CASE("metrics: histogram buckets are cumulative and end in _count", "[core]") {
    metrics m;
    histogram& h = m.histogram_for("portgate_stage_seconds", R"(stage="validate")");
    h.observe(0.0002);  // le 0.00025
    h.observe(0.003);   // le 0.005
    h.observe(0.003);
    h.observe(0.7);     // le 1
    h.observe(20.0);    // beyond the last bound: only +Inf
    CHECK(h.count() == 5);

    const std::string text = m.render();
    INFO(text);
    CHECK(has_line(text, "# TYPE portgate_stage_seconds histogram"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="0.0001"} 0)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="0.00025"} 1)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="0.0025"} 1)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="0.005"} 3)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="0.5"} 3)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_bucket{stage="validate",le="+Inf"} 5)"));
    CHECK(has_line(text, R"(portgate_stage_seconds_count{stage="validate"} 5)"));

    // Every bucket line, in order: one per bound plus +Inf, never decreasing, ending at the count.
    std::istringstream in(text);
    std::vector<unsigned long long> cumulative;
    for (std::string l; std::getline(in, l);)
        if (l.rfind("portgate_stage_seconds_bucket{", 0) == 0) cumulative.push_back(std::stoull(l.substr(l.rfind(' ') + 1)));
    REQUIRE(cumulative.size() == histogram::bounds.size() + 1);
    for (std::size_t i = 1; i < cumulative.size(); ++i) CHECK(cumulative[i - 1] <= cumulative[i]);
    CHECK(cumulative.back() == 5);
    CHECK(text.find("portgate_stage_seconds_sum{stage=\"validate\"} ") != std::string::npos);
}

TEST_CASE("metrics: an unlabelled histogram", "[core]") {
    metrics m;
    m.histogram_for("portgate_commit_seconds").observe(0.001);
    const std::string text = m.render();
    INFO(text);
    CHECK(has_line(text, R"(portgate_commit_seconds_bucket{le="0.001"} 1)"));
    CHECK(has_line(text, R"(portgate_commit_seconds_bucket{le="+Inf"} 1)"));
    CHECK(has_line(text, "portgate_commit_seconds_count 1"));
}

// ---------------------------------------------------------------------------------------------------
// ids

TEST_CASE("ids: new_message_id is a 26-character Crockford base32 ULID", "[core]") {
    const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // no I, L, O, U
    for (int i = 0; i < 100; ++i) {
        const std::string id = new_message_id();
        REQUIRE(id.size() == 26);
        CHECK(id.find_first_not_of(alphabet) == std::string::npos);
        CHECK(id[0] <= '7');  // 48-bit time: the first character holds 3 bits
    }
}

TEST_CASE("ids: 10,000 ids are unique", "[core]") {
    std::set<std::string> ids;
    for (int i = 0; i < 10'000; ++i) ids.insert(new_message_id());
    CHECK(ids.size() == 10'000);
}

TEST_CASE("ids: ids generated 2 ms apart sort in time order", "[core]") {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(new_message_id());
        std::this_thread::sleep_for(2ms);
    }
    for (std::size_t i = 1; i < ids.size(); ++i) {
        CHECK(ids[i - 1] < ids[i]);
        CHECK(ids[i - 1].substr(0, 10) < ids[i].substr(0, 10));  // the time part alone orders them
    }
}

TEST_CASE("ids: make_ulid known vectors", "[core]") {
    CHECK(make_ulid(0, 0, 0) == "00000000000000000000000000");
    CHECK(make_ulid(0, 0, 1) == "00000000000000000000000001");
    CHECK(make_ulid(1, 0, 0) == "00000000010000000000000000");
    // The ULID specification's largest value: 2^48 - 1 ms and 80 random bits set.
    CHECK(make_ulid((1ull << 48) - 1, 0xffff, ~0ull) == "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
    // The time example of the reference implementation (ulid/javascript encodeTime).
    CHECK(make_ulid(1469918176385, 0, 0).substr(0, 10) == "01ARYZ6S41");
    // Only the low 16 bits of rand_hi16 are used.
    CHECK(make_ulid(0, 0x1ffff, 0) == make_ulid(0, 0xffff, 0));
}

// ---------------------------------------------------------------------------------------------------
// error catalogue

TEST_CASE("error catalogue: codes, names and HTTP statuses", "[core]") {
    CHECK(code_string(errc::schema_invalid) == "PG-301");
    CHECK(code_string(errc::unauthorized) == "PG-101");
    CHECK(code_string(errc::xml_dtd_forbidden) == "PG-202");
    CHECK(code_string(errc::config_invalid) == "PG-601");
    CHECK(code_name(errc::xml_dtd_forbidden) == "xml_dtd_forbidden");

    CHECK(http_status(errc::ok) == 200);
    CHECK(http_status(errc::unauthorized) == 401);
    CHECK(http_status(errc::payload_too_large) == 413);
    CHECK(http_status(errc::xml_too_large) == 413);
    CHECK(http_status(errc::unsupported_media_type) == 415);
    CHECK(http_status(errc::schema_invalid) == 422);
    CHECK(http_status(errc::xml_malformed) == 422);
    CHECK(http_status(errc::no_route) == 422);
    CHECK(http_status(errc::overloaded) == 503);
    CHECK(http_status(errc::shutting_down) == 503);
    CHECK(http_status(errc::store_failed) == 500);
}

TEST_CASE("error catalogue: only could-not-decide errors are retryable", "[core]") {
    for (errc verdict : {errc::schema_invalid, errc::no_route, errc::xml_malformed, errc::xml_dtd_forbidden,
                         errc::xml_too_deep, errc::xml_too_many_elements, errc::xml_too_large, errc::xml_empty,
                         errc::unauthorized, errc::forbidden, errc::payload_too_large, errc::unsupported_media_type,
                         errc::bad_request, errc::config_invalid}) {
        INFO(code_name(verdict));
        CHECK_FALSE(is_retryable(verdict));
    }
    for (errc e : {errc::store_failed, errc::internal, errc::io_error, errc::shutting_down, errc::overloaded}) {
        INFO(code_name(e));
        CHECK(is_retryable(e));
    }
}

TEST_CASE("error catalogue: every code has a name, a PG code and a status", "[core]") {
    const errc all[] = {errc::ok, errc::unauthorized, errc::forbidden, errc::payload_too_large,
                        errc::unsupported_media_type, errc::not_found, errc::bad_request, errc::overloaded,
                        errc::method_not_allowed, errc::request_timeout, errc::xml_malformed,
                        errc::xml_dtd_forbidden, errc::xml_too_deep, errc::xml_too_many_elements,
                        errc::xml_too_large, errc::xml_bad_encoding, errc::xml_value_too_long, errc::xml_empty,
                        errc::schema_invalid, errc::no_route, errc::unknown_schema, errc::store_failed,
                        errc::internal, errc::io_error, errc::shutting_down, errc::config_invalid};
    std::set<std::string> names, codes;
    for (errc e : all) {
        INFO(static_cast<int>(e));
        CHECK(code_name(e) != "unknown");
        CHECK(names.insert(std::string(code_name(e))).second);
        CHECK(codes.insert(code_string(e)).second);
        CHECK(code_string(e).size() == 6);
        CHECK(http_status(e) >= 200);
        CHECK(http_status(e) < 600);
        if (e != errc::ok) CHECK(http_status(e) >= 400);
    }
}

// ---------------------------------------------------------------------------------------------------
// digest

TEST_CASE("digest: sha256_hex known values", "[core]") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex(std::string("a\0b", 3)) != sha256_hex("a"));  // binary-safe: NUL does not end input
}

TEST_CASE("digest: secure_equals", "[core]") {
    CHECK(secure_equals("token", "token"));
    CHECK(secure_equals("", ""));
    CHECK_FALSE(secure_equals("token", "tokeN"));
    CHECK_FALSE(secure_equals("token", "token2"));
    CHECK_FALSE(secure_equals("token", "tok"));
    CHECK_FALSE(secure_equals("", "x"));
    CHECK_FALSE(secure_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}
