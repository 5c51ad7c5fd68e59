// Tests for the SQLite message store: opening and migrations, exact payload storage, idempotency keys,
// group commit under concurrency, the append-only event trail, listing with filters and cursor paging,
// shutdown and durability across reopen. Every test works in its own temporary directory.
#include "gateway/store/store.hpp"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "gateway/core/digest.hpp"
#include "gateway/store/packing.hpp"
#include "tests/support/gateway_process.hpp"
#include "gateway/core/ids.hpp"

namespace {

namespace fs = std::filesystem;
using namespace portgate;

using portgate::test::temp_dir;

// The newest migration this portgate ships (store.cpp: migrations[]).
constexpr int latest_schema_version = 8;

constexpr store::millis t0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

config::store_config fast_config() {
    config::store_config c;
    c.synchronous = "normal";  // tests survive process exit, not power loss: no fsync needed
    return c;
}

std::unique_ptr<store::store> open_store(const fs::path& dir, const config::store_config& cfg = fast_config()) {
    auto s = store::store::open(dir, cfg);
    if (!s) FAIL("store::open failed: " << s.err().message);
    return std::move(s.value());
}

// Seeded ids: the n-th message of a test always has the same, time-ordered id.
std::string seeded_id(std::uint64_t n) { return make_ulid(static_cast<std::uint64_t>(t0) + n, 0x1234, n); }

store::new_message message(std::string id, std::string partner = "demo-shop") {
    store::new_message m;
    m.id = std::move(id);
    m.partner = std::move(partner);
    m.channel = "http";
    m.root = "{http://www.chinaport.gov.cn/ceb}CEB311Message";
    m.type = "CEB311Message";
    m.state = "VALIDATED";
    m.bytes = "<CEB311Message/>";
    m.sha256 = sha256_hex(m.bytes);
    m.received_at = t0;
    m.events = {{"received", "RECEIVED", "", "{}"}, {"validated", "VALIDATED", "", "{\"schema\":\"ceb-import-draft\"}"}};
    return m;
}

store::stored submit_ok(store::store& s, store::new_message m) {
    auto r = s.submit_wait(std::move(m));
    if (!r) FAIL("submit failed: " << r.err().message);
    return r.value();
}

// A raw connection beside the store's own, to look at the file the way any SQLite client would.
struct raw_db {
    sqlite3* db = nullptr;
    explicit raw_db(const fs::path& file) {
        REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        sqlite3_busy_timeout(db, 10'000);
    }
    ~raw_db() { sqlite3_close_v2(db); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    // Runs `sql`; returns "" on success, the error message otherwise.
    std::string exec(const std::string& sql) {
        char* msg = nullptr;
        int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
        std::string out = rc == SQLITE_OK ? "" : (msg ? msg : "error");
        sqlite3_free(msg);
        return out;
    }
    // First column of the first row as text.
    std::string scalar(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        std::string out;
        if (sqlite3_step(st) == SQLITE_ROW) {
            auto p = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            out = p ? p : "";
        }
        sqlite3_finalize(st);
        return out;
    }
};

// Damages the store with `sql`, then reads payload `stage` of `id`: it must be refused (store_failed, never
// wrong bytes); the refusal's message is returned for the caller to check what it names.
std::string refusal_after(raw_db& raw, store::store& s, const std::string& sql, const std::string& id, const std::string& stage) {
    CHECK(raw.exec(sql).empty());
    auto p = s.payload(id, stage);
    REQUIRE_FALSE(p);
    CHECK(p.err().code == errc::store_failed);
    return p.err().message;
}

std::vector<std::string> ids_of(const store::page& p) {
    std::vector<std::string> out;
    for (auto& m : p.items) out.push_back(m.id);
    return out;
}

}  // namespace

// Tags of every test that submits a message or filters list() by text (a regression once bound text
// parameters through std::bind found by argument-dependent lookup; see "text parameters reach SQLite").
#define STORE_WRITES "[store]"

TEST_CASE("text parameters reach SQLite", STORE_WRITES) {
    // store.cpp:290 `bind(s, 2, std::string("inbound"))` and store.cpp:471 `bind(st, i, texts[i])`:
    // the argument is a std::string rvalue / non-const lvalue, so argument-dependent lookup finds
    // std::bind, whose forwarding template is a better match than the file-local
    // bind(sqlite3_stmt*, int, const std::string&). std::bind builds a callable and discards it; the
    // parameter stays NULL. Result: every insert fails ("NOT NULL constraint failed: payload.stage")
    // and every text filter of list() (partner, state, type, q) matches nothing.
    temp_dir tmp("store-bind");
    auto s = open_store(tmp.path);
    auto r = s->submit_wait(message(seeded_id(1)));
    REQUIRE(r);
    raw_db raw(tmp.path / "portgate.db");
    CHECK(raw.scalar("SELECT stage FROM payload") == "inbound");
    store::query q;
    q.partner = "demo-shop";
    CHECK(s->list(q).value().items.size() == 1);
}

TEST_CASE("open creates <dir>/portgate.db in WAL mode with the latest schema", "[store]") {
    temp_dir tmp("store-open");
    const fs::path dir = tmp.path / "nested" / "data";  // open creates missing directories
    auto s = open_store(dir);

    REQUIRE(fs::is_regular_file(dir / "portgate.db"));
    CHECK(s->schema_version() == latest_schema_version);

    raw_db raw(dir / "portgate.db");
    CHECK(raw.scalar("PRAGMA journal_mode") == "wal");
    CHECK(raw.scalar("SELECT COUNT(*) FROM schema_migration") == std::to_string(latest_schema_version));
    CHECK(raw.scalar("SELECT MAX(version) FROM schema_migration") == std::to_string(latest_schema_version));
    CHECK(std::stoll(raw.scalar("SELECT applied_at FROM schema_migration WHERE version = 1")) > 0);
    for (const char* table : {"message", "payload", "event", "idempotency"})
        CHECK(raw.scalar(fmt::format("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'", table)) == "1");
    CHECK(s->count().value() == 0);
}

TEST_CASE("reopening an existing database keeps data and does not re-run migrations", STORE_WRITES) {
    temp_dir tmp("store-reopen");
    const std::string id = seeded_id(1);
    std::string applied_at;
    {
        auto s = open_store(tmp.path);
        submit_ok(*s, message(id));
        s->close();
        raw_db raw(tmp.path / "portgate.db");
        applied_at = raw.scalar("SELECT applied_at FROM schema_migration WHERE version = 1");
    }
    auto s = open_store(tmp.path);
    CHECK(s->schema_version() == latest_schema_version);
    CHECK(s->count().value() == 1);
    auto got = s->get(id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->events.size() == 2);

    raw_db raw(tmp.path / "portgate.db");
    CHECK(raw.scalar("SELECT COUNT(*) FROM schema_migration") == std::to_string(latest_schema_version));
    CHECK(raw.scalar("SELECT applied_at FROM schema_migration WHERE version = 1") == applied_at);
}

TEST_CASE("a database from a newer portgate is refused", "[store]") {
    temp_dir tmp("store-newer");
    open_store(tmp.path)->close();
    {
        raw_db raw(tmp.path / "portgate.db");
        REQUIRE(raw.exec("INSERT INTO schema_migration VALUES (999, 0)").empty());
    }
    auto s = store::store::open(tmp.path, fast_config());
    REQUIRE_FALSE(s);
    CHECK(s.err().code == errc::store_failed);
    CHECK_THAT(s.err().message, Catch::Contains("999"));
}

TEST_CASE("submit stores every field, the exact payload bytes and the events in order", STORE_WRITES) {
    temp_dir tmp("store-payload");
    auto s = open_store(tmp.path);

    SECTION("fields and events") {
        auto m = message(seeded_id(1));
        m.channel = "folder";
        m.doc_guid = "4CDE1CFD-EDED-46B1-946C-B8022E42FC94";
        m.idempotency_key = "order-1";
        m.source_name = "order-1.xml";
        m.state = "REJECTED";
        m.error_code = "PG-301";
        m.received_at = t0 + 42;
        m.events = {{"received", "RECEIVED", "", "{}"},
                    {"parsed", "", "", ""},
                    {"rejected", "REJECTED", "PG-301", "{\"line\":3}"}};
        auto r = submit_ok(*s, m);
        CHECK(r.id == m.id);
        CHECK(r.state == "REJECTED");
        CHECK(r.type == "CEB311Message");
        CHECK_FALSE(r.duplicate);

        auto got = s->get(m.id);
        REQUIRE(got);
        REQUIRE(got->has_value());
        const store::message_view& v = **got;
        CHECK(v.id == m.id);
        CHECK(v.partner == m.partner);
        CHECK(v.channel == "folder");
        CHECK(v.root == m.root);
        CHECK(v.type == m.type);
        CHECK(v.state == "REJECTED");
        CHECK(v.error_code == "PG-301");
        CHECK(v.doc_guid == m.doc_guid);
        CHECK(v.idempotency_key == "order-1");
        CHECK(v.source_name == "order-1.xml");
        CHECK(v.sha256 == m.sha256);
        CHECK(v.size == static_cast<std::int64_t>(m.bytes.size()));
        CHECK(v.received_at == t0 + 42);
        CHECK(v.updated_at > 0);
        REQUIRE(v.events.size() == 3);
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(v.events[i].kind == m.events[i].kind);
            CHECK(v.events[i].state == m.events[i].state);
            CHECK(v.events[i].code == m.events[i].code);
            CHECK(v.events[i].detail == m.events[i].detail);
            if (i > 0) CHECK(v.events[i].seq > v.events[i - 1].seq);
        }
    }

    SECTION("binary bytes including NUL survive exactly") {
        std::string bytes;
        for (int round = 0; round < 3; ++round)
            for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
        bytes.insert(0, std::string("\0\0<x>\0", 6));
        auto m = message(seeded_id(2));
        m.bytes = bytes;
        m.sha256 = sha256_hex(bytes);
        submit_ok(*s, m);
        auto p = s->payload(m.id, "inbound");
        REQUIRE(p);
        REQUIRE(p->has_value());
        CHECK(**p == bytes);
        CHECK(sha256_hex(**p) == m.sha256);
        CHECK(s->get(m.id)->value().size == static_cast<std::int64_t>(bytes.size()));
    }

    SECTION("a 5 MB payload survives exactly") {
        std::string bytes(5 * 1024 * 1024, '\0');
        std::mt19937 rng(42);
        for (auto& c : bytes) c = static_cast<char>(rng());
        auto m = message(seeded_id(3));
        m.bytes = bytes;
        m.sha256 = sha256_hex(bytes);
        submit_ok(*s, m);
        auto p = s->payload(m.id, "inbound");
        REQUIRE(p);
        REQUIRE(p->has_value());
        CHECK((*p)->size() == bytes.size());
        CHECK(**p == bytes);
    }

    SECTION("an empty payload is stored as empty, not missing") {
        auto m = message(seeded_id(4));
        m.bytes.clear();
        m.sha256 = sha256_hex("");
        submit_ok(*s, m);
        auto p = s->payload(m.id, "inbound");
        REQUIRE(p);
        REQUIRE(p->has_value());
        CHECK((*p)->empty());
    }

    SECTION("unknown message or stage has no payload") {
        submit_ok(*s, message(seeded_id(5)));
        CHECK_FALSE(s->payload(seeded_id(5), "signed").value().has_value());
        CHECK_FALSE(s->payload("no-such-id", "inbound").value().has_value());
    }
}

TEST_CASE("get is restricted to the owning partner", STORE_WRITES) {
    temp_dir tmp("store-get");
    auto s = open_store(tmp.path);
    const std::string id = seeded_id(1);
    submit_ok(*s, message(id, "demo-shop"));

    auto own = s->get(id, "demo-shop");
    REQUIRE(own);
    REQUIRE(own->has_value());
    CHECK((*own)->partner == "demo-shop");

    auto any = s->get(id);  // operators: no partner restriction
    REQUIRE(any);
    CHECK(any->has_value());

    auto other = s->get(id, "other-shop");
    REQUIRE(other);
    CHECK_FALSE(other->has_value());

    auto missing = s->get("01ZZZZZZZZZZZZZZZZZZZZZZZZ");
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());
}

TEST_CASE("idempotency keys answer a repeat with the first message", STORE_WRITES) {
    temp_dir tmp("store-idem");
    auto s = open_store(tmp.path);
    raw_db raw(tmp.path / "portgate.db");

    SECTION("same partner, same key: duplicate with the first id, one row") {
        auto a = message(seeded_id(1));
        a.idempotency_key = "order-42";
        auto b = message(seeded_id(2));
        b.idempotency_key = "order-42";
        b.state = "REJECTED";
        auto first = submit_ok(*s, a);
        auto second = submit_ok(*s, b);
        CHECK_FALSE(first.duplicate);
        CHECK(second.duplicate);
        CHECK(second.id == a.id);
        CHECK(second.state == "VALIDATED");  // the first message's state, not the repeat's
        CHECK(s->count().value() == 1);
        CHECK_FALSE(s->get(b.id).value().has_value());
        CHECK(raw.scalar("SELECT COUNT(*) FROM message WHERE idempotency_key = 'order-42'") == "1");
        CHECK(raw.scalar("SELECT COUNT(*) FROM idempotency") == "1");
        CHECK(raw.scalar("SELECT COUNT(*) FROM payload") == "1");
    }

    SECTION("same key from another partner is a different message") {
        auto a = message(seeded_id(1), "demo-shop");
        a.idempotency_key = "order-42";
        auto b = message(seeded_id(2), "other-shop");
        b.idempotency_key = "order-42";
        CHECK_FALSE(submit_ok(*s, a).duplicate);
        auto r = submit_ok(*s, b);
        CHECK_FALSE(r.duplicate);
        CHECK(r.id == b.id);
        CHECK(s->count().value() == 2);
    }

    SECTION("messages without a key are never duplicates") {
        for (int i = 1; i <= 5; ++i) {
            auto m = message(seeded_id(static_cast<std::uint64_t>(i)));
            m.bytes = "<same/>";
            m.sha256 = sha256_hex(m.bytes);
            CHECK_FALSE(submit_ok(*s, m).duplicate);
        }
        CHECK(s->count().value() == 5);
        CHECK(raw.scalar("SELECT COUNT(*) FROM idempotency") == "0");
    }

    SECTION("a repeat inside the same batch is a duplicate too") {
        config::store_config cfg = fast_config();
        cfg.group_commit_max = 2;
        cfg.group_commit_wait = std::chrono::milliseconds(500);  // wait for both to arrive
        s->close();
        temp_dir tmp2("store-idem-batch");
        auto bs = open_store(tmp2.path, cfg);
        std::promise<result<store::stored>> p1, p2;
        auto a = message(seeded_id(1));
        a.idempotency_key = "k";
        auto b = message(seeded_id(2));
        b.idempotency_key = "k";
        bs->submit(a, [&](result<store::stored> r) { p1.set_value(std::move(r)); });
        bs->submit(b, [&](result<store::stored> r) { p2.set_value(std::move(r)); });
        auto r1 = p1.get_future().get();
        auto r2 = p2.get_future().get();
        REQUIRE(r1);
        REQUIRE(r2);
        CHECK_FALSE(r1->duplicate);
        CHECK(r2->duplicate);
        CHECK(r2->id == a.id);
        CHECK(bs->count().value() == 1);
    }
}

TEST_CASE("one failing operation does not take its batch down", STORE_WRITES) {
    temp_dir tmp("store-batch-fail");
    config::store_config cfg = fast_config();
    cfg.group_commit_max = 3;
    cfg.group_commit_wait = std::chrono::milliseconds(500);
    auto s = open_store(tmp.path, cfg);
    std::promise<result<store::stored>> p[3];
    auto a = message(seeded_id(1));
    auto again = message(seeded_id(1));  // same public id: violates UNIQUE
    again.idempotency_key = "would-be-key";
    auto b = message(seeded_id(2));
    s->submit(a, [&](result<store::stored> r) { p[0].set_value(std::move(r)); });
    s->submit(again, [&](result<store::stored> r) { p[1].set_value(std::move(r)); });
    s->submit(b, [&](result<store::stored> r) { p[2].set_value(std::move(r)); });
    auto r0 = p[0].get_future().get();
    auto r1 = p[1].get_future().get();
    auto r2 = p[2].get_future().get();
    CHECK(r0);
    REQUIRE_FALSE(r1);
    CHECK(r1.err().code == errc::store_failed);
    CHECK(r2);
    CHECK(s->count().value() == 2);
    raw_db raw(tmp.path / "portgate.db");
    CHECK(raw.scalar("SELECT COUNT(*) FROM event") == "4");  // the failed operation left no events behind
    CHECK(raw.scalar("SELECT COUNT(*) FROM idempotency") == "0");
}

TEST_CASE("group commit: 2000 concurrent submissions from 4 threads share transactions", STORE_WRITES) {
    temp_dir tmp("store-group");
    config::store_config cfg;  // production defaults: synchronous=full, group_commit_max=512, no extra wait
    auto s = open_store(tmp.path, cfg);

    constexpr int threads = 4, per_thread = 500, total = threads * per_thread;
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, failed = 0, duplicates = 0;
    std::vector<std::string> ids(total);
    for (int i = 0; i < total; ++i) ids[static_cast<std::size_t>(i)] = seeded_id(static_cast<std::uint64_t>(i));

    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t)
        producers.emplace_back([&, t] {
            for (int i = t * per_thread; i < (t + 1) * per_thread; ++i)
                s->submit(message(ids[static_cast<std::size_t>(i)]), [&](result<store::stored> r) {
                    std::lock_guard lk(mu);
                    if (!r) ++failed;
                    else if (r->duplicate) ++duplicates;
                    ++done;
                    cv.notify_all();
                });
        });
    for (auto& p : producers) p.join();
    {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return done == total; }));
    }
    CHECK(failed == 0);
    CHECK(duplicates == 0);
    CHECK(s->count().value() == total);
    for (auto& id : ids) {
        auto got = s->get(id);
        REQUIRE(got);
        REQUIRE(got->has_value());
    }
    auto st = s->writer_stats();
    CHECK(st.operations == static_cast<std::uint64_t>(total));
    CHECK(st.commits < st.operations);  // batching happened
    CHECK(st.max_batch > 1);
    CHECK(st.max_batch <= cfg.group_commit_max);
    CHECK(s->pending() == 0);
}

TEST_CASE("group_commit_max bounds the size of a batch", STORE_WRITES) {
    temp_dir tmp("store-group-max");
    config::store_config cfg = fast_config();
    cfg.group_commit_max = 8;
    auto s = open_store(tmp.path, cfg);
    std::atomic<int> ok{0};
    for (int i = 0; i < 100; ++i)
        s->submit(message(seeded_id(static_cast<std::uint64_t>(i))), [&](result<store::stored> r) {
            if (r) ok.fetch_add(1);
        });
    s->close();  // commits everything queued
    CHECK(ok.load() == 100);
    auto st = s->writer_stats();
    CHECK(st.operations == 100);
    CHECK(st.max_batch <= 8);
    CHECK(st.commits >= 100 / 8);
}

TEST_CASE("group_commit_busy_wait gathers operations only while the writer is busy", STORE_WRITES) {
    temp_dir tmp("store-busy-wait");
    config::store_config cfg = fast_config();
    cfg.group_commit_busy_wait = std::chrono::milliseconds(400);
    cfg.group_commit_busy_gap = std::chrono::milliseconds(300);  // long enough for this test's pauses
    auto s = open_store(tmp.path, cfg);

    SECTION("one operation at a time is not delayed") {
        // A busy writer would hold each of them for a gap (300 ms) at least; none is made to wait.
        for (int i = 0; i < 5; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            submit_ok(*s, message(seeded_id(static_cast<std::uint64_t>(i))));
            CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(250));
        }
        CHECK(s->writer_stats().commits == 5);
    }

    SECTION("under load, the next operations wait for company and share a transaction") {
        std::vector<result<store::stored>> got(7, error(errc::internal, "not done"));
        std::mutex mu;
        std::condition_variable cv;
        int done = 0;
        auto record = [&](std::size_t i) {
            return [&, i](result<store::stored> r) {
                std::lock_guard lk(mu);
                got[i] = std::move(r);
                ++done;
                cv.notify_all();
            };
        };
        auto wait_for = [&](int n) {
            std::unique_lock lk(mu);
            return cv.wait_for(lk, std::chrono::seconds(10), [&] { return done >= n; });
        };
        // Alone: committed at once. Its completion (on the writer) submits four more, which the writer then
        // finds together: a batch of four, so the writer is busy.
        s->submit(message(seeded_id(1)), [&](result<store::stored> r) {
            record(0)(std::move(r));
            for (std::size_t i = 1; i <= 4; ++i) s->submit(message(seeded_id(1 + i)), record(i));
        });
        REQUIRE(wait_for(5));
        auto before = s->writer_stats();
        // Busy: the next operation waits for company; the one 50 ms later (within a gap) joins its transaction.
        s->submit(message(seeded_id(6)), record(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        s->submit(message(seeded_id(7)), record(6));
        REQUIRE(wait_for(7));
        for (auto& r : got) CHECK(r);
        CHECK(before.commits == 2);
        CHECK(before.max_batch == 4);
        auto st = s->writer_stats();
        CHECK(st.operations == 7);
        CHECK(st.commits == 3);  // {1}, {2..5}, {6, 7}
        CHECK(s->count().value() == 7);
    }
}

TEST_CASE("group_commit_busy_gap: a lull ends the busy wait", STORE_WRITES) {
    temp_dir tmp("store-busy-gap");
    config::store_config cfg = fast_config();
    cfg.group_commit_busy_wait = std::chrono::seconds(5);
    cfg.group_commit_busy_gap = std::chrono::milliseconds(30);
    auto s = open_store(tmp.path, cfg);
    // Four at once make the writer busy; then one alone waits one gap for company, not the 5 s.
    std::promise<void> four;
    std::atomic<int> n{0};
    s->submit(message(seeded_id(1)), [&](result<store::stored>) {
        for (std::uint64_t i = 2; i <= 5; ++i)
            s->submit(message(seeded_id(i)), [&](result<store::stored>) {
                if (++n == 4) four.set_value();
            });
    });
    four.get_future().get();
    CHECK(s->writer_stats().max_batch == 4);  // the batch that made it busy
    auto t0 = std::chrono::steady_clock::now();
    submit_ok(*s, message(seeded_id(6)));
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(waited >= std::chrono::milliseconds(25));  // it did wait for company: one gap
    CHECK(waited < std::chrono::seconds(2));
    CHECK(s->writer_stats().commits == 3);  // {1}, {2..5}, {6}
}

TEST_CASE("group_commit_saturated_wait: while the intake has a backlog, operations wait for company", STORE_WRITES) {
    temp_dir tmp("store-saturated");
    config::store_config cfg = fast_config();
    cfg.group_commit_busy_wait = std::chrono::microseconds(0);  // only the saturated wait in play
    cfg.group_commit_saturated_wait = std::chrono::milliseconds(400);  // the backlog is looked at every 133 ms
    cfg.group_commit_saturated_backlog = 2;
    auto s = open_store(tmp.path, cfg);
    auto backlog = std::make_shared<std::atomic<std::size_t>>(0);
    s->watch_backlog(backlog);
    using clock = std::chrono::steady_clock;
    auto submit_timed = [&](std::uint64_t n, std::promise<clock::duration>& p) {
        auto t0 = clock::now();
        s->submit(message(seeded_id(n)), [&p, t0](result<store::stored> r) {
            CHECK(r);
            p.set_value(clock::now() - t0);
        });
    };

    SECTION("no backlog (or less than the threshold): nothing waits") {
        backlog->store(1);
        for (std::uint64_t i = 1; i <= 3; ++i) {
            auto t0 = clock::now();
            submit_ok(*s, message(seeded_id(i)));
            CHECK(clock::now() - t0 < std::chrono::milliseconds(200));  // a saturated writer holds it 400 ms
        }
        CHECK(s->writer_stats().commits == 3);
    }

    SECTION("a backlog: the next operation joins the one waiting, in one transaction") {
        backlog->store(2);
        std::promise<clock::duration> a, b;
        submit_timed(1, a);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // before the first look: still there
        submit_timed(2, b);
        backlog->store(0);  // the intake caught up: the batch goes
        auto wa = a.get_future().get();
        b.get_future().get();
        CHECK(wa >= std::chrono::milliseconds(90));
        CHECK(wa < std::chrono::milliseconds(350));  // ended by the backlog, not by the 400 ms limit
        auto st = s->writer_stats();
        CHECK(st.commits == 1);
        CHECK(st.max_batch == 2);
    }

    SECTION("a backlog that lasts: the wait ends at group_commit_saturated_wait") {
        backlog->store(50);
        std::promise<clock::duration> a;
        submit_timed(1, a);
        auto wa = a.get_future().get();
        CHECK(wa >= std::chrono::milliseconds(380));
        CHECK(wa < std::chrono::seconds(3));
        CHECK(s->writer_stats().commits == 1);
    }
    s->close();
    CHECK(s->count().value() >= 1);
}

TEST_CASE("events are append-only even for other SQLite clients", STORE_WRITES) {
    temp_dir tmp("store-events");
    auto s = open_store(tmp.path);
    submit_ok(*s, message(seeded_id(1)));

    raw_db raw(tmp.path / "portgate.db");
    REQUIRE(raw.scalar("SELECT COUNT(*) FROM event") == "2");
    std::string update = raw.exec("UPDATE event SET kind = 'tampered'");
    CHECK_THAT(update, Catch::Contains("append-only"));
    std::string del = raw.exec("DELETE FROM event");
    CHECK_THAT(del, Catch::Contains("append-only"));
    CHECK(raw.scalar("SELECT COUNT(*) FROM event") == "2");
    CHECK(raw.scalar("SELECT COUNT(*) FROM event WHERE kind = 'tampered'") == "0");
    // Appending stays possible: that is how the trail grows.
    CHECK(raw.exec("INSERT INTO event (message_seq, at, kind) SELECT seq, 0, 'note' FROM message").empty());
}

TEST_CASE("list filters, orders newest first and counts", STORE_WRITES) {
    temp_dir tmp("store-list");
    auto s = open_store(tmp.path);

    // Submitted one by one, so seq follows the order below.
    struct row {
        const char* partner;
        const char* state;
        const char* type;
        const char* guid;
        const char* key;
        const char* source;
        store::millis at;
    };
    const row rows[] = {
        {"demo-shop", "VALIDATED", "CEB311Message", "G-1", "", "", t0 + 1000},
        {"demo-shop", "REJECTED", "CEB311Message", "", "key-2", "", t0 + 2000},
        {"other-shop", "VALIDATED", "CEB621Message", "", "", "drop-3.xml", t0 + 3000},
        {"demo-shop", "VALIDATED", "CEB621Message", "G-4", "key-4", "", t0 + 4000},
        {"other-shop", "REJECTED", "CEB311Message", "", "", "", t0 + 5000},
        {"demo-shop", "VALIDATED", "CEB311Message", "", "", "", t0 + 6000},
    };
    std::vector<std::string> id;
    for (std::size_t i = 0; i < std::size(rows); ++i) {
        auto m = message(seeded_id(i), rows[i].partner);
        m.state = rows[i].state;
        m.type = rows[i].type;
        m.doc_guid = rows[i].guid;
        m.idempotency_key = rows[i].key;
        m.source_name = rows[i].source;
        m.received_at = rows[i].at;
        id.push_back(m.id);
        submit_ok(*s, m);
    }
    auto list = [&](store::query q) {
        auto p = s->list(q);
        if (!p) FAIL("list failed: " << p.err().message);
        return p.value();
    };

    CHECK(s->count().value() == 6);

    SECTION("no filter: everything, newest first, no cursor") {
        auto p = list({});
        CHECK(ids_of(p) == std::vector<std::string>{id[5], id[4], id[3], id[2], id[1], id[0]});
        CHECK_FALSE(p.next_cursor.has_value());
        for (std::size_t i = 1; i < p.items.size(); ++i) CHECK(p.items[i - 1].seq > p.items[i].seq);
        CHECK(p.items.front().events.empty());  // list does not load events
    }
    SECTION("partner") {
        store::query q;
        q.partner = "other-shop";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[4], id[2]});
        q.partner = "nobody";
        CHECK(list(q).items.empty());
    }
    SECTION("state") {
        store::query q;
        q.state = "REJECTED";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[4], id[1]});
    }
    SECTION("type") {
        store::query q;
        q.type = "CEB621Message";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[3], id[2]});
    }
    SECTION("filters combine") {
        store::query q;
        q.partner = "demo-shop";
        q.state = "VALIDATED";
        q.type = "CEB311Message";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[5], id[0]});
    }
    SECTION("q matches id, doc_guid, idempotency_key and source_name") {
        store::query q;
        q.q = id[4];
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[4]});
        q.q = "G-1";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[0]});
        q.q = "key-2";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[1]});
        q.q = "drop-3.xml";
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[2]});
        q.q = "nothing-like-this";
        CHECK(list(q).items.empty());
        q.q = "key-4";
        q.partner = "other-shop";  // q still respects the partner restriction
        CHECK(list(q).items.empty());
    }
    SECTION("from is inclusive, to is exclusive (received_at, ms)") {
        store::query q;
        q.from = t0 + 2000;
        q.to = t0 + 5000;
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[3], id[2], id[1]});
        q = {};
        q.from = t0 + 5001;
        CHECK(ids_of(list(q)) == std::vector<std::string>{id[5]});
        q = {};
        q.to = t0 + 1000;
        CHECK(list(q).items.empty());
        q = {};
        q.from = 0;  // the epoch itself is a valid bound
        CHECK(list(q).items.size() == 6);
    }
    SECTION("limit is clamped to 1..500") {
        store::query q;
        q.limit = 0;
        auto p = list(q);
        CHECK(ids_of(p) == std::vector<std::string>{id[5]});
        CHECK(p.next_cursor.has_value());
        q.limit = 100'000;
        CHECK(list(q).items.size() == 6);
    }
}

TEST_CASE("a time bound before 1970 is compared as a number", "[store]") {
    // store.cpp list(): numeric bindings are chosen by `ints[i].second >= 0 && texts[i].empty()`, so a
    // negative from/to/cursor is bound as the empty TEXT '' instead of an integer. In SQLite every
    // integer sorts below every text, so `received_at >= ''` matches nothing and `received_at < ''`
    // matches everything. The API's parse_time() yields negative values for ISO dates before 1970.
    temp_dir tmp("store-list-negative");
    auto s = open_store(tmp.path);
    submit_ok(*s, message(seeded_id(1)));

    store::query q;
    q.from = -86'400'000;  // 1969-12-31: every message was received after it
    CHECK(s->list(q).value().items.size() == 1);
    q = {};
    q.to = -86'400'000;  // nothing was received before it
    CHECK(s->list(q).value().items.empty());
}

TEST_CASE("cursor paging walks every row exactly once", STORE_WRITES) {
    temp_dir tmp("store-paging");
    auto s = open_store(tmp.path);
    const int total = GENERATE(23, 20);
    const int limit = 5;
    std::set<std::string> expected;
    for (int i = 0; i < total; ++i) {
        auto m = message(seeded_id(static_cast<std::uint64_t>(i)), i % 3 == 0 ? "other-shop" : "demo-shop");
        expected.insert(m.id);
        submit_ok(*s, m);
    }
    REQUIRE(s->count().value() == total);

    std::vector<std::string> seen;
    std::optional<std::int64_t> cursor;
    std::int64_t last_seq = std::numeric_limits<std::int64_t>::max();
    int pages = 0;
    for (;;) {
        store::query q;
        q.limit = limit;
        q.before_seq = cursor;
        auto p = s->list(q);
        REQUIRE(p);
        ++pages;
        REQUIRE(pages <= total);  // no endless loop
        CHECK(p->items.size() <= static_cast<std::size_t>(limit));
        for (auto& m : p->items) {
            CHECK(m.seq < last_seq);  // newest first, across pages too
            last_seq = m.seq;
            seen.push_back(m.id);
        }
        if (!p->next_cursor) break;
        CHECK(p->items.size() == static_cast<std::size_t>(limit));
        cursor = p->next_cursor;
    }
    CHECK(pages == (total + limit - 1) / limit);
    CHECK(seen.size() == static_cast<std::size_t>(total));
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == expected);

    // Paging under a filter sees only that partner's rows, each once.
    std::set<std::string> other;
    cursor.reset();
    for (int guard = 0; guard < total; ++guard) {
        store::query q;
        q.partner = "other-shop";
        q.limit = 2;
        q.before_seq = cursor;
        auto p = s->list(q).value();
        for (auto& m : p.items) {
            CHECK(m.partner == "other-shop");
            CHECK(other.insert(m.id).second);
        }
        if (!p.next_cursor) break;
        cursor = p.next_cursor;
    }
    CHECK(other.size() == static_cast<std::size_t>((total + 2) / 3));
}

TEST_CASE("close commits what is queued, is idempotent and refuses later submissions", STORE_WRITES) {
    temp_dir tmp("store-close");
    auto s = open_store(tmp.path);
    std::atomic<int> ok{0};
    for (int i = 0; i < 200; ++i)
        s->submit(message(seeded_id(static_cast<std::uint64_t>(i))), [&](result<store::stored> r) {
            if (r) ok.fetch_add(1);
        });
    s->close();
    CHECK(ok.load() == 200);
    s->close();  // idempotent
    s->close();

    auto late = s->submit_wait(message(seeded_id(1000)));
    REQUIRE_FALSE(late);
    CHECK(late.err().code == errc::shutting_down);

    std::promise<result<store::stored>> p;
    s->submit(message(seeded_id(1001)), [&](result<store::stored> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::shutting_down);

    s.reset();
    auto again = open_store(tmp.path);
    CHECK(again->count().value() == 200);
}

TEST_CASE("data survives the store object going away without close()", STORE_WRITES) {
    temp_dir tmp("store-durable");
    const std::string id = seeded_id(7);
    auto m = message(id);
    m.bytes = std::string("<a>\0b</a>", 9);
    m.sha256 = sha256_hex(m.bytes);
    {
        auto s = open_store(tmp.path, config::store_config{});  // synchronous = full
        submit_ok(*s, m);
    }  // destroyed: the destructor closes
    auto s = open_store(tmp.path);
    auto got = s->get(id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->events.size() == 2);
    CHECK(s->payload(id, "inbound").value().value() == m.bytes);
}

TEST_CASE("an acknowledged message survives the process dying without any cleanup", STORE_WRITES) {
    temp_dir tmp("store-crash");
    const std::string id = seeded_id(9);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // Child: store one message, then die at once — no destructors, no close, no atexit handlers.
        auto s = store::store::open(tmp.path, config::store_config{});
        if (!s) ::_exit(2);
        auto r = s.value()->submit_wait(message(id));
        ::_exit(r ? 0 : 3);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    auto s = open_store(tmp.path);
    CHECK(s->count().value() == 1);
    auto got = s->get(id);
    REQUIRE(got);
    CHECK(got->has_value());
}

TEST_CASE("mapping outputs are stored as children, a waiting join completes once, whoever finishes it", STORE_WRITES) {
    temp_dir tmp("store-join");
    auto s = open_store(tmp.path);
    auto order = message("01JOINORDER000000000000001");
    order.route = "shop-orders";
    order.state = "WAITING";
    order.keys = {{"orderNo", "A1"}, {"orderNo", "A2"}};
    order.join_keys = {{"A1", true}, {"A2", true}};
    auto out = message("01JOINCHILD000000000000001");
    out.direction = "out";
    out.payload_stage = "mapped";
    out.type = "CEB311";
    out.bytes = "<CEB311Message/>";
    order.children.push_back(out);
    submit_ok(*s, order);

    auto ship = message("01JOINSHIP0000000000000001", "demo-warehouse");
    ship.route = "wms-shipments";
    ship.join_keys = {{"A1", false}};
    submit_ok(*s, ship);

    // Look-ups by route and key see who waits and who offers.
    auto waiting = s->find_join("shop-orders", "A1");
    REQUIRE(waiting);
    REQUIRE(waiting->size() == 1);
    CHECK((*waiting)[0].id == order.id);
    CHECK((*waiting)[0].waiting);
    auto offering = s->find_join("wms-shipments", "A1");
    REQUIRE(offering);
    REQUIRE(offering->size() == 1);
    CHECK_FALSE((*offering)[0].waiting);
    CHECK(s->find_join("wms-shipments", "A2")->empty());

    auto got = s->get(order.id);
    REQUIRE(got->has_value());
    CHECK((*got)->state == "WAITING");
    CHECK((*got)->route == "shop-orders");
    REQUIRE((*got)->children.size() == 1);
    CHECK((*got)->children[0].id == out.id);
    CHECK((*got)->children[0].type == "CEB311");
    auto child = s->get(out.id);
    CHECK((*child)->parent_id == order.id);
    CHECK((*child)->direction == "out");
    CHECK(s->payload(out.id, "mapped")->value() == "<CEB311Message/>");

    auto join = [&](const std::string& key, const std::string& child_id) {
        store::message_update u;
        u.id = order.id;
        u.join_route = "shop-orders";
        u.join_key = key;
        u.done_state = "MAPPED";
        u.events.push_back({"joined", "", "", "{}"});
        auto c = message(child_id);
        c.direction = "out";
        c.type = "CEB621";
        u.children.push_back(c);
        std::promise<portgate::result<store::stored>> p;
        auto f = p.get_future();
        s->update(std::move(u), [&p](portgate::result<store::stored> r) { p.set_value(std::move(r)); });
        return f.get();
    };
    // Two workers complete the same join: the first wins, the second changes nothing.
    auto first = join("A1", "01JOINLIST0000000000000001");
    REQUIRE(first);
    CHECK_FALSE(first->duplicate);
    CHECK(first->state == "WAITING");  // A2 still waits
    auto second = join("A1", "01JOINLIST0000000000000002");
    REQUIRE(second);
    CHECK(second->duplicate);
    CHECK_FALSE(s->get("01JOINLIST0000000000000002")->has_value());
    // The last key: the message is MAPPED.
    auto last = join("A2", "01JOINLIST0000000000000003");
    REQUIRE(last);
    CHECK(last->state == "MAPPED");
    got = s->get(order.id);
    CHECK((*got)->state == "MAPPED");
    CHECK((*got)->children.size() == 3);
    // An unknown message is not found.
    store::message_update u;
    u.id = "nope";
    std::promise<portgate::result<store::stored>> p;
    s->update(std::move(u), [&p](portgate::result<store::stored> r) { p.set_value(std::move(r)); });
    auto nf = p.get_future().get();
    REQUIRE_FALSE(nf);
    CHECK(nf.err().code == portgate::errc::not_found);
}

// Payloads are compressed when that saves space (migration 8, packing.hpp): what any reader of the store
// gets back is the exact bytes submitted, whichever way they were stored.
TEST_CASE("the sender reads the signed payload, else the mapped one, else the bytes received", STORE_WRITES) {
    temp_dir tmp("store-outbox-stage");
    auto s = open_store(tmp.path, fast_config());
    auto queued = [&](std::uint64_t n, std::string first_stage, std::vector<std::pair<std::string, std::string>> more) {
        auto m = message(seeded_id(n));
        m.payload_stage = std::move(first_stage);
        m.bytes = m.payload_stage + " bytes of " + m.id;
        m.sha256 = sha256_hex(m.bytes);
        m.more_payloads = std::move(more);
        m.outbox_endpoint = "customs";
        submit_ok(*s, m);
        return m.id;
    };
    // Stored in an order that is neither alphabetical nor the order of preference.
    const auto a = queued(1, "inbound", {{"signed", "signed A"}, {"mapped", "mapped A"}});
    const auto b = queued(2, "mapped", {{"inbound", "inbound B"}});
    const auto c = queued(3, "inbound", {});
    auto due = s->due_outbox(std::numeric_limits<store::millis>::max(), 10, {});
    REQUIRE(due);
    REQUIRE(due->size() == 3);
    std::map<std::string, std::string> sent;
    for (auto& j : *due) sent[j.message_id] = j.bytes;
    CHECK(sent[a] == "signed A");
    CHECK(sent[b] == "mapped bytes of " + b);
    CHECK(sent[c] == "inbound bytes of " + c);
}

TEST_CASE("a later stage that differs from the first payload by one run is stored as that run", STORE_WRITES) {
    temp_dir tmp("store-delta");
    auto s = open_store(tmp.path, fast_config());
    std::string mapped = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ceb:CEB621Message xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\">";
    for (int i = 1; i <= 30; ++i) mapped += fmt::format("<ceb:InventoryList><ceb:gnum>{}</ceb:gnum><ceb:qty>{}</ceb:qty></ceb:InventoryList>", i, i * 3);
    mapped += "<ceb:BaseTransfer><ceb:copCode>1105910159</ceb:copCode></ceb:BaseTransfer></ceb:CEB621Message>";
    const std::string signature = "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">…签名…</ds:Signature>";
    const auto at = mapped.find("<ceb:BaseTransfer>");
    const std::string signed_doc = mapped.substr(0, at) + signature + mapped.substr(at);
    const std::string unrelated = std::string(mapped.rbegin(), mapped.rend());

    auto m = message(seeded_id(1));
    m.payload_stage = "mapped";
    m.bytes = mapped;
    m.sha256 = sha256_hex(mapped);
    m.more_payloads = {{"signed", signed_doc}, {"unrelated", unrelated}, {"same", mapped}};
    m.outbox_endpoint = "customs";
    submit_ok(*s, m);

    raw_db raw(tmp.path / "portgate.db");
    auto column = [&](const std::string& what, const std::string& stage) {
        return raw.scalar("SELECT " + what + " FROM payload WHERE stage = '" + stage + "'");
    };
    // Where the run starts and ends is a matter of choice ('<' begins both it and what follows it): only
    // its length and the base are fixed.
    CHECK(column("encoding", "signed").rfind("delta:mapped:1:", 0) == 0);
    CHECK(column("length(bytes)", "signed") == std::to_string(signature.size()));
    CHECK(column("encoding", "unrelated") == "");  // nothing in common: kept whole
    CHECK(column("length(bytes)", "unrelated") == std::to_string(unrelated.size()));
    CHECK(column("encoding", "same") == fmt::format("delta:mapped:1:{}:0", mapped.size()));
    CHECK(column("length(bytes)", "same") == "0");

    // Read back byte for byte, by the API and by the sender.
    for (auto [stage, bytes] : {std::pair<std::string, std::string>{"mapped", mapped}, {"signed", signed_doc}, {"unrelated", unrelated}, {"same", mapped}}) {
        auto p = s->payload(m.id, stage);
        REQUIRE(p);
        REQUIRE(p->has_value());
        CHECK(**p == bytes);
    }
    auto due = s->due_outbox(std::numeric_limits<store::millis>::max(), 10, {});
    REQUIRE(due);
    REQUIRE(due->size() == 1);
    CHECK(due->front().bytes == signed_doc);

    // Damage is an error naming what is wrong, never wrong bytes.
    auto refused = [&](const std::string& sql, const std::string& stage) { return refusal_after(raw, *s, sql, m.id, stage); };
    CHECK(refused("UPDATE payload SET encoding = 'delta:mapped:1:999999:0' WHERE stage = 'same'", "same").find("base") != std::string::npos);
    CHECK(refused("UPDATE payload SET encoding = 'delta:mapped:x:1:0' WHERE stage = 'same'", "same").find("malformed") != std::string::npos);
    CHECK(refused("UPDATE payload SET encoding = 'delta:signed:1:0:0' WHERE stage = 'same'", "same").find("delta itself") != std::string::npos);
    CHECK(refused("DELETE FROM payload WHERE stage = 'mapped'", "signed").find("missing") != std::string::npos);
}

TEST_CASE("concurrent readers share the pooled connections and each gets its own answers", STORE_WRITES) {
    temp_dir tmp("store-readers");
    auto s = open_store(tmp.path, fast_config());
    std::vector<std::string> ids;
    for (int i = 1; i <= 20; ++i) {
        auto m = message(seeded_id(static_cast<std::uint64_t>(i)));
        m.bytes = fmt::format("<doc n='{}'>{}</doc>", i, std::string(static_cast<std::size_t>(i) * 50, 'x'));
        m.sha256 = sha256_hex(m.bytes);
        m.more_payloads = {{"signed", m.bytes + fmt::format("<!-- {} -->", i)}};
        submit_ok(*s, m);
        ids.push_back(m.id);
    }
    // Readers take a connection, prepare statements on it and give it back; with 8 threads the pool's
    // connections pass from thread to thread constantly. Every answer must be the one asked for.
    std::atomic<int> wrong{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int k = 0; k < 400; ++k) {
                const int i = (t * 7 + k) % 20 + 1;
                const std::string& id = ids[static_cast<std::size_t>(i - 1)];
                auto p = s->payload(id, k % 2 ? "signed" : "inbound");
                auto g = s->get(id, "");
                if (!p || !g) {
                    ++errors;
                    continue;
                }
                const std::string want = fmt::format("<doc n='{}'>", i);
                if (!p->has_value() || (*p)->rfind(want, 0) != 0 || ((k % 2) && (*p)->find(fmt::format("<!-- {} -->", i)) == std::string::npos)) ++wrong;
                if (!g->has_value() || (*g)->id != id) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(errors == 0);
    CHECK(wrong == 0);
}

TEST_CASE("deltas: any run replaced in any document is rebuilt exactly", "[store]") {
    std::mt19937 rng(1124);
    std::size_t as_delta = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string base(rng() % 300, '\0');
        for (auto& c : base) c = "ab<>/ \n"[rng() % 7];  // few letters: long accidental common runs
        std::string derived = base;
        const std::size_t from = base.empty() ? 0 : rng() % (base.size() + 1);
        const std::size_t cut = rng() % (base.size() - from + 1);
        std::string run(rng() % 40, '\0');
        for (auto& c : run) c = "abxyz<>"[rng() % 7];
        derived.replace(from, cut, run);
        auto d = store::find_delta(base, derived);
        if (!d) {  // refused only when even the replacing run is more than half of the result
            CHECK(derived.size() < 2 * run.size());
            continue;
        }
        CHECK(d->middle.size() <= run.size());
        ++as_delta;
        CHECK(d->middle.size() * 2 <= derived.size());
        auto ref = store::parse_delta(store::delta_encoding("mapped", 1, *d));
        REQUIRE(ref);
        CHECK(ref->stage == "mapped");
        auto rebuilt = store::apply_delta(base, *ref, d->middle);
        REQUIRE(rebuilt);
        REQUIRE(*rebuilt == derived);
    }
    CHECK(as_delta > 1500);
    // Stage names are free text; the numbers are read from the right.
    auto odd = store::parse_delta("delta:a:b:7:10:2");
    REQUIRE(odd);
    CHECK(odd->stage == "a:b");
    CHECK(odd->version == 7);
    CHECK(odd->prefix == 10);
    CHECK(odd->suffix == 2);
    for (const char* bad : {"delta:", "delta:mapped", "delta:mapped:1:2", "delta::1:2:3", "delta:m:1:-2:3", "delta:m:1:2:", "zstd", ""})
        CHECK_FALSE(store::parse_delta(bad).has_value());
}

TEST_CASE("payloads are stored compressed when that saves space and read back byte for byte", STORE_WRITES) {
    temp_dir tmp("store-packing");
    auto cfg = fast_config();
    cfg.compression = "zstd";
    auto s = open_store(tmp.path, cfg);
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ceb:CEB621Message xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\">";
    for (int i = 1; i <= 40; ++i)
        xml += fmt::format("<ceb:InventoryList><ceb:gnum>{}</ceb:gnum><ceb:itemName>婴幼儿配方奶粉3段 800克</ceb:itemName>"
                           "<ceb:qty>{}</ceb:qty><ceb:unit>122</ceb:unit><ceb:price>59.90</ceb:price></ceb:InventoryList>",
                           i, i % 7 + 1);
    xml += "</ceb:CEB621Message>";
    std::mt19937_64 rng(42);
    std::string noise(4096, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    const std::string small = "<a>tiny</a>";

    auto m = message(seeded_id(1));
    m.bytes = xml;
    m.sha256 = sha256_hex(xml);
    const std::string other = "<other>" + xml.substr(40) + "<tail/>";  // no common start or end with xml: compressed
    m.more_payloads = {{"signed", xml + "<!-- signed -->"}, {"noise", noise}, {"small", small}, {"other", other}};
    m.outbox_endpoint = "customs";
    submit_ok(*s, m);

    raw_db raw(tmp.path / "portgate.db");
    auto encoding = [&](const std::string& stage) { return raw.scalar("SELECT encoding FROM payload WHERE stage = '" + stage + "'"); };
    auto stored_size = [&](const std::string& stage) { return std::stoul(raw.scalar("SELECT length(bytes) FROM payload WHERE stage = '" + stage + "'")); };
    CHECK(encoding("inbound") == "zstd");
    CHECK(stored_size("inbound") * 3 < xml.size());
    CHECK(encoding("other") == "zstd");
    // The signed payload is the received one plus a run of bytes: stored as that run, against the packed base.
    CHECK(encoding("signed") == fmt::format("delta:inbound:1:{}:0", xml.size()));
    CHECK(stored_size("signed") == std::string("<!-- signed -->").size());
    CHECK(encoding("noise") == "");  // incompressible: kept as it is
    CHECK(stored_size("noise") == noise.size());
    CHECK(encoding("small") == "");  // too small to gain
    // The size the API reports is the message's, not the stored frame's.
    CHECK(raw.scalar("SELECT size FROM message") == std::to_string(xml.size()));

    for (auto [stage, bytes] : {std::pair<std::string, std::string>{"inbound", xml}, {"signed", xml + "<!-- signed -->"}, {"other", other},
                                {"noise", noise}, {"small", small}}) {
        auto p = s->payload(m.id, stage);
        REQUIRE(p);
        REQUIRE(p->has_value());
        CHECK(**p == bytes);
    }
    // The sender reads what it sends (the signed payload) unpacked too.
    auto due = s->due_outbox(std::numeric_limits<store::millis>::max(), 10, {});
    REQUIRE(due);
    REQUIRE(due->size() == 1);
    CHECK(due->front().bytes == xml + "<!-- signed -->");

    // A damaged frame is an error that names the payload, not a crash nor wrong bytes.
    CHECK(refusal_after(raw, *s, "UPDATE payload SET bytes = substr(bytes, 1, 20) WHERE stage = 'inbound'", m.id, "inbound").find("inbound") !=
          std::string::npos);
    // An encoding this portgate does not know (a newer one's) is refused the same way.
    CHECK(refusal_after(raw, *s, "UPDATE payload SET encoding = 'brotli' WHERE stage = 'signed'", m.id, "signed").find("brotli") !=
          std::string::npos);

    // The default keeps payloads as they are; a store reopened that way still reads the packed ones.
    auto m3 = message(seeded_id(3));
    m3.bytes = xml;
    submit_ok(*s, m3);
    s.reset();
    auto plain = open_store(tmp.path);
    auto m2 = message(seeded_id(2));
    m2.bytes = xml;
    submit_ok(*plain, m2);
    CHECK(raw.scalar("SELECT encoding FROM payload p JOIN message m ON m.seq = p.message_seq WHERE m.id = '" + m2.id + "'") == "");
    auto packed_back = plain->payload(m3.id, "inbound");
    REQUIRE(packed_back);
    CHECK(**packed_back == xml);
    CHECK(raw.scalar("SELECT encoding FROM payload p JOIN message m ON m.seq = p.message_seq WHERE m.id = '" + m3.id + "'") == "zstd");
}
