// SQLite implementation of the message store: migrations, the group-commit writer, read connections.
#include "gateway/store/store.hpp"
#include "gateway/store/packing.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace portgate::store {
namespace {

namespace fs = std::filesystem;

struct db_deleter {
    void operator()(sqlite3* d) const noexcept { sqlite3_close_v2(d); }
};
using db_ptr = std::unique_ptr<sqlite3, db_deleter>;
struct stmt_deleter {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

// Versioned migrations: append only; a version once released is never edited.
struct migration {
    int version;
    const char* sql;
};
constexpr migration migrations[] = {
    {1, R"sql(
CREATE TABLE message (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  partner         TEXT NOT NULL,
  direction       TEXT NOT NULL DEFAULT 'in',
  channel         TEXT NOT NULL,
  root            TEXT NOT NULL DEFAULT '',
  type            TEXT NOT NULL DEFAULT '',
  state           TEXT NOT NULL,
  error_code      TEXT NOT NULL DEFAULT '',
  doc_guid        TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT NOT NULL DEFAULT '',
  source_name     TEXT NOT NULL DEFAULT '',
  size            INTEGER NOT NULL,
  sha256          TEXT NOT NULL,
  received_at     INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX message_partner_seq ON message(partner, seq);
CREATE INDEX message_state_seq ON message(state, seq);
CREATE INDEX message_type_seq ON message(type, seq);
CREATE INDEX message_doc_guid ON message(doc_guid) WHERE doc_guid <> '';

CREATE TABLE payload (
  message_seq INTEGER NOT NULL REFERENCES message(seq),
  stage       TEXT NOT NULL,
  version     INTEGER NOT NULL,
  bytes       BLOB NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (message_seq, stage, version)
) WITHOUT ROWID;

CREATE TABLE event (
  seq         INTEGER PRIMARY KEY,
  message_seq INTEGER NOT NULL REFERENCES message(seq),
  at          INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT '',
  code        TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX event_message ON event(message_seq, seq);
CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event
  BEGIN SELECT RAISE(ABORT, 'event is append-only'); END;
CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event
  BEGIN SELECT RAISE(ABORT, 'event is append-only'); END;

CREATE TABLE idempotency (
  partner     TEXT NOT NULL,
  key         TEXT NOT NULL,
  message_seq INTEGER NOT NULL REFERENCES message(seq),
  PRIMARY KEY (partner, key)
) WITHOUT ROWID;
)sql"},
    {2, R"sql(
ALTER TABLE message ADD COLUMN parent_seq INTEGER REFERENCES message(seq);
ALTER TABLE message ADD COLUMN route TEXT NOT NULL DEFAULT '';
CREATE INDEX message_parent ON message(parent_seq) WHERE parent_seq IS NOT NULL;

-- Business keys of each message (ebpCode+orderNo, copNo, ClientSeqNo …), for receipt correlation.
CREATE TABLE message_key (
  message_seq INTEGER NOT NULL REFERENCES message(seq),
  name        TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (message_seq, name, value)
) WITHOUT ROWID;
CREATE INDEX message_key_value ON message_key(value, name);

-- Join keys: documents of a route offering a key, and whether they still wait for their partner.
CREATE TABLE join_key (
  route       TEXT NOT NULL,
  key         TEXT NOT NULL,
  message_seq INTEGER NOT NULL REFERENCES message(seq),
  waiting     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (route, key, message_seq)
) WITHOUT ROWID;
)sql"},
    {3, R"sql(
ALTER TABLE message ADD COLUMN customs_status TEXT NOT NULL DEFAULT '';
ALTER TABLE message ADD COLUMN customs_rank INTEGER NOT NULL DEFAULT 0;

-- Receipts exactly as received (raw bytes first), then their normalized records.
CREATE TABLE receipt (
  seq         INTEGER PRIMARY KEY,
  id          TEXT NOT NULL UNIQUE,
  channel     TEXT NOT NULL,
  source      TEXT NOT NULL DEFAULT '',
  type        TEXT NOT NULL DEFAULT '',
  family      TEXT NOT NULL DEFAULT '',
  sha256      TEXT NOT NULL UNIQUE,
  bytes       BLOB NOT NULL,
  error       TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL
);
CREATE TABLE receipt_record (
  seq          INTEGER PRIMARY KEY,
  receipt_seq  INTEGER NOT NULL REFERENCES receipt(seq),
  message_seq  INTEGER REFERENCES message(seq),
  type         TEXT NOT NULL DEFAULT '',
  status       TEXT NOT NULL DEFAULT '',
  meaning      TEXT NOT NULL DEFAULT '',
  time         TEXT NOT NULL DEFAULT '',
  info         TEXT NOT NULL DEFAULT '',
  customs_code TEXT NOT NULL DEFAULT '',
  rank         INTEGER NOT NULL DEFAULT 0,
  to_state     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX receipt_record_message ON receipt_record(message_seq, type, status, time);
CREATE INDEX receipt_record_orphan ON receipt_record(seq) WHERE message_seq IS NULL;
CREATE TABLE receipt_key (
  record_seq INTEGER NOT NULL REFERENCES receipt_record(seq),
  name       TEXT NOT NULL,
  value      TEXT NOT NULL,
  PRIMARY KEY (record_seq, name, value)
) WITHOUT ROWID;
CREATE INDEX receipt_key_value ON receipt_key(value);
)sql"},
    {4, R"sql(
CREATE TABLE notification (
  seq          INTEGER PRIMARY KEY,
  partner      TEXT NOT NULL,
  message_seq  INTEGER NOT NULL REFERENCES message(seq),
  record_seq   INTEGER NOT NULL REFERENCES receipt_record(seq),
  channel      TEXT NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending',
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_at      INTEGER NOT NULL DEFAULT 0,
  content_type TEXT NOT NULL DEFAULT '',
  body         BLOB,
  last_error   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (record_seq, channel)
);
CREATE INDEX notification_due ON notification(state, next_at);
CREATE INDEX notification_mailbox ON notification(partner, channel, state, seq);
)sql"},
    {5, R"sql(
CREATE TABLE outbox (
  message_seq INTEGER PRIMARY KEY REFERENCES message(seq),
  endpoint    TEXT NOT NULL,
  cop_msg_id  TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending',
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT NOT NULL DEFAULT '',
  updated_at  INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(state, next_at);
)sql"},
    // Found at 1 M stored messages: listing the outbox by state sorted the whole state's rows; completing a
    // join counted the waiting keys of a message by scanning every join key.
    {6, R"sql(
CREATE INDEX outbox_by_state ON outbox(state, message_seq);
CREATE INDEX join_key_waiting ON join_key(message_seq) WHERE waiting = 1;
)sql"},
    // Searches (GET /v1/messages ?q= and ?from/to) walked every row of a partner: 0.4 s at 1 M stored.
    {7, R"sql(
CREATE INDEX message_received ON message(received_at);
CREATE INDEX message_idempotency_key ON message(idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX message_source_name ON message(source_name) WHERE source_name <> '';
)sql"},
    // Payloads compressed when that saves space (packing.hpp): '' = the bytes as they are, 'zstd' = a frame.
    {8, R"sql(
ALTER TABLE payload ADD COLUMN encoding TEXT NOT NULL DEFAULT '';
)sql"},
};

std::string sqlite_error(sqlite3* db, std::string_view what) {
    return fmt::format("{}: {} (sqlite {})", what, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

result<db_ptr> open_db(const fs::path& file, bool readonly) {
    sqlite3* raw = nullptr;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
    db_ptr db(raw);
    if (rc != SQLITE_OK)
        return error(errc::store_failed, fmt::format("cannot open {}: {}", file.string(), raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_busy_timeout(db.get(), 10'000);
    sqlite3_extended_result_codes(db.get(), 1);
    // SQLite's default page cache is 2 MB per connection: with a million messages the indexes' inner pages no
    // longer fit the writer's and every insert goes to the OS: 64 MB for the writer. Readers keep the default:
    // their cache is dropped whenever the writer has committed, and a big one costs more to drop than it saves.
    if (!readonly) sqlite3_exec(db.get(), "PRAGMA cache_size=-65536", nullptr, nullptr, nullptr);
    return db;
}

status exec(sqlite3* db, const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "unknown";
        sqlite3_free(msg);
        return error(errc::store_failed, fmt::format("{}: {}", sql.substr(0, 60), m));
    }
    return ok();
}

result<stmt_ptr> prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        return error(errc::store_failed, sqlite_error(db, "prepare"));
    return stmt_ptr(s);
}

// A statement from the writer's cache: reset and unbound when the handle goes out of scope.
struct cached_stmt {
    sqlite3_stmt* s = nullptr;
    explicit cached_stmt(sqlite3_stmt* x) : s(x) {}
    cached_stmt(cached_stmt&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
    cached_stmt(const cached_stmt&) = delete;
    ~cached_stmt() {
        if (s) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    }
    sqlite3_stmt* get() const { return s; }
};

// Statements of one connection compiled once, by their text. One thread at a time; a handle resets its
// statement when it goes out of scope. clear() only while no handle is alive.
class statement_cache {
public:
    result<cached_stmt> get(sqlite3* db, const std::string& sql) {
        auto it = stmts_.find(sql);
        if (it == stmts_.end()) {
            auto st = prepare(db, sql);
            if (!st) return st.err();
            it = stmts_.emplace(sql, std::move(st.value())).first;
        }
        return cached_stmt(it->second.get());
    }
    std::size_t size() const { return stmts_.size(); }
    void clear() { stmts_.clear(); }

private:
    std::unordered_map<std::string, stmt_ptr> stmts_;
};

void bind_value(sqlite3_stmt* s, int i, const std::string& v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC); }
void bind_value(sqlite3_stmt* s, int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); }
void bind_blob(sqlite3_stmt* s, int i, const std::string& v) { sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC); }
// A payload's encoding column: a literal, so binding it without a copy is safe.
void bind_encoding(sqlite3_stmt* s, int i, bool packed) {
    const std::string_view e = packed ? zstd_encoding : std::string_view("");
    sqlite3_bind_text(s, i, e.data(), static_cast<int>(e.size()), SQLITE_STATIC);
}

// Parameters of a query built at run time (filters, IN lists), bound from 1 in order.
using sql_arg = std::variant<std::string, std::int64_t>;
void bind_all(sqlite3_stmt* s, const std::vector<sql_arg>& args) {
    for (std::size_t i = 0; i < args.size(); ++i) std::visit([&](auto& v) { bind_value(s, static_cast<int>(i) + 1, v); }, args[i]);
}
std::string col_text(sqlite3_stmt* s, int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

struct reset_guard {
    sqlite3_stmt* s;
    ~reset_guard() { sqlite3_reset(s); sqlite3_clear_bindings(s); }
};

constexpr const char* message_columns =
    "seq, id, partner, channel, root, type, state, error_code, doc_guid, idempotency_key, source_name, sha256, "
    "size, received_at, updated_at, route, direction, "
    "COALESCE((SELECT p.id FROM message p WHERE p.seq = message.parent_seq), '')";

message_view read_message(sqlite3_stmt* s) {
    message_view m;
    m.seq = sqlite3_column_int64(s, 0);
    m.id = col_text(s, 1);
    m.partner = col_text(s, 2);
    m.channel = col_text(s, 3);
    m.root = col_text(s, 4);
    m.type = col_text(s, 5);
    m.state = col_text(s, 6);
    m.error_code = col_text(s, 7);
    m.doc_guid = col_text(s, 8);
    m.idempotency_key = col_text(s, 9);
    m.source_name = col_text(s, 10);
    m.sha256 = col_text(s, 11);
    m.size = sqlite3_column_int64(s, 12);
    m.received_at = sqlite3_column_int64(s, 13);
    m.updated_at = sqlite3_column_int64(s, 14);
    m.route = col_text(s, 15);
    m.direction = col_text(s, 16);
    m.parent_id = col_text(s, 17);
    return m;
}

}  // namespace

millis now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct resend_request {
    std::string message_id;
};

struct mailbox_ack {
    std::string partner;
    std::int64_t cursor = 0;
};

struct store::impl {
    std::map<std::string, std::vector<std::string>> notify_channels;  // partner → channels (set before traffic)
    // Writer thread only: receipt records waiting for their message. While it is 0 (the usual case) a new
    // message skips the orphan look-up, which would otherwise cost a query on every intake. Recounted from
    // the database whenever a rollback may have undone an adoption or an orphan.
    std::int64_t orphan_records = 0;
    void recount_orphans() {
        auto q = prepare(wdb.get(), "SELECT COUNT(*) FROM receipt_record WHERE message_seq IS NULL");
        orphan_records = q && sqlite3_step(q->get()) == SQLITE_ROW ? sqlite3_column_int64(q->get(), 0) : 1;
    }
    fs::path file;
    config::store_config cfg;
    int version = 0;

    // Writer side: only the writer thread touches wdb and its statements after open().
    db_ptr wdb;
    stmt_ptr find_idem, insert_msg, insert_payload, insert_event, insert_idem, insert_key, insert_join, begin, commit, rollback;
    stmt_ptr savepoint, release;  // SAVEPOINT op / RELEASE op around every operation: compiled once
    stmt_ptr find_seq, mark_join, count_waiting, set_state;
    // Writer thread only: statements compiled once (the receipt and outbox paths used to compile ~12 per receipt).
    statement_cache stmt_cache;
    result<cached_stmt> cached(const std::string& sql) { return stmt_cache.get(wdb.get(), sql); }

    struct op {
        std::variant<new_message, message_update, new_receipt, notification_change, mailbox_ack, outbox_change, resend_request> what;
        completion done;
    };
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<op> queue;
    std::shared_ptr<const std::atomic<std::size_t>> backlog;  // the intake's, under mu (watch_backlog)
    bool closing = false;
    std::thread writer;
    std::atomic<std::uint64_t> commits{0}, operations{0}, max_batch{0};

    void enqueue(std::variant<new_message, message_update, new_receipt, notification_change, mailbox_ack, outbox_change, resend_request> what, completion done) {
        bool wake = false;
        {
            std::lock_guard lk(mu);
            if (!closing) {
                queue.push_back({std::move(what), std::move(done)});
                done = nullptr;
                // The writer waits for a first operation, or (gathering a batch) for a full one: nothing between.
                wake = queue.size() == 1 || queue.size() >= cfg.group_commit_max;
            }
        }
        if (done) return done(error(errc::shutting_down, "the store is closing"));
        if (wake) cv.notify_one();
    }

    // Read side.
    mutable std::mutex rmu;
    mutable std::vector<db_ptr> readers;

    // A pooled read connection, given back when the lease goes. Taken first in a function, so that the
    // statements prepared on it after are finalised before another thread can take the connection (they
    // are opened without SQLite's mutex: a statement finalised on a connection another thread is using is
    // a data race).
    class reader_lease {
    public:
        reader_lease(const impl* owner, db_ptr d) : owner_(owner), db_(std::move(d)) {}
        reader_lease(reader_lease&& o) noexcept : owner_(o.owner_), db_(std::move(o.db_)) {}
        reader_lease& operator=(reader_lease&&) = delete;
        ~reader_lease() {
            if (db_) owner_->give_reader(std::move(db_));
        }
        sqlite3* get() const { return db_.get(); }

    private:
        const impl* owner_;
        db_ptr db_;
    };

    result<reader_lease> take_reader() const {
        {
            std::lock_guard lk(rmu);
            if (!readers.empty()) {
                db_ptr d = std::move(readers.back());
                readers.pop_back();
                return reader_lease(this, std::move(d));
            }
        }
        auto d = open_db(file, true);
        if (!d) return d.err();
        return reader_lease(this, std::move(d.value()));
    }
    void give_reader(db_ptr d) const {
        std::lock_guard lk(rmu);
        if (readers.size() < 16) readers.push_back(std::move(d));
    }

    // The sender's polling read (due_outbox) has a connection of its own, with its statements compiled once:
    // under load a round lasts milliseconds, and compiling its statements each time cost ~2 % of the gateway.
    // Declared in this order so that the statements are finalised before their connection closes.
    mutable std::mutex outbox_mu;
    mutable db_ptr outbox_db;
    mutable statement_cache outbox_stmts;

    status migrate() {
        auto st = exec(wdb.get(), "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        if (!st) return st;
        auto q = prepare(wdb.get(), "SELECT COALESCE(MAX(version), 0) FROM schema_migration");
        if (!q) return q.err();
        if (sqlite3_step(q->get()) == SQLITE_ROW) version = sqlite3_column_int(q->get(), 0);
        constexpr int latest = migrations[std::size(migrations) - 1].version;
        if (version > latest)
            return error(errc::store_failed, fmt::format("{} has schema version {}, newer than this portgate ({})", file.string(), version, latest));
        for (auto& m : migrations) {
            if (m.version <= version) continue;
            if (auto s = exec(wdb.get(), "BEGIN IMMEDIATE"); !s) return s;
            auto s = exec(wdb.get(), m.sql);
            if (s) s = exec(wdb.get(), fmt::format("INSERT INTO schema_migration VALUES ({}, {})", m.version, now_ms()));
            if (!s) {
                exec(wdb.get(), "ROLLBACK");
                return error(errc::store_failed, fmt::format("migration {} failed: {}", m.version, s.err().message));
            }
            if (auto c = exec(wdb.get(), "COMMIT"); !c) return c;
            version = m.version;
            spdlog::info("store: applied migration {}", m.version);
        }
        return ok();
    }

    status prepare_writer() {
        auto p = [&](stmt_ptr& out, std::string_view sql) -> status {
            auto r = prepare(wdb.get(), sql);
            if (!r) return r.err();
            out = std::move(r.value());
            return ok();
        };
        status s = ok();
        if (s) s = p(find_idem, "SELECT m.id, m.state, m.type FROM idempotency i JOIN message m ON m.seq = i.message_seq WHERE i.partner = ? AND i.key = ?");
        if (s) s = p(insert_msg, "INSERT INTO message (id, partner, channel, root, type, state, error_code, doc_guid, idempotency_key, "
                                  "source_name, size, sha256, received_at, updated_at, route, direction, parent_seq) "
                                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        if (s) s = p(insert_payload, "INSERT INTO payload (message_seq, stage, version, bytes, created_at, encoding) VALUES (?,?,1,?,?,?)");
        if (s) s = p(insert_key, "INSERT OR IGNORE INTO message_key (message_seq, name, value) VALUES (?,?,?)");
        if (s) s = p(insert_join, "INSERT OR IGNORE INTO join_key (route, key, message_seq, waiting) VALUES (?,?,?,?)");
        if (s) s = p(find_seq, "SELECT seq, state FROM message WHERE id = ?");
        if (s) s = p(mark_join, "UPDATE join_key SET waiting = 0 WHERE route = ? AND key = ? AND message_seq = ? AND waiting = 1");
        if (s) s = p(count_waiting, "SELECT COUNT(*) FROM join_key WHERE message_seq = ? AND waiting = 1");
        if (s) s = p(set_state, "UPDATE message SET state = ?, updated_at = ? WHERE seq = ?");
        if (s) s = p(insert_event, "INSERT INTO event (message_seq, at, kind, state, code, detail) VALUES (?,?,?,?,?,?)");
        if (s) s = p(insert_idem, "INSERT INTO idempotency (partner, key, message_seq) VALUES (?,?,?)");
        if (s) s = p(begin, "BEGIN IMMEDIATE");
        if (s) s = p(commit, "COMMIT");
        if (s) s = p(rollback, "ROLLBACK");
        if (s) s = p(savepoint, "SAVEPOINT op");
        if (s) s = p(release, "RELEASE op");
        return s;
    }

    bool step_done(sqlite3_stmt* s) {
        reset_guard g{s};
        return sqlite3_step(s) == SQLITE_DONE;
    }

    // Applies one operation inside the open transaction. Value: what to answer. Error: this operation
    // failed (its partial writes are undone by the savepoint); the batch goes on.
    result<stored> apply(const new_message& m) {
        if (!m.idempotency_key.empty()) {
            reset_guard g{find_idem.get()};
            bind_value(find_idem.get(), 1, m.partner);
            bind_value(find_idem.get(), 2, m.idempotency_key);
            if (sqlite3_step(find_idem.get()) == SQLITE_ROW)
                return stored{col_text(find_idem.get(), 0), col_text(find_idem.get(), 1), col_text(find_idem.get(), 2), true};
        }
        step_done(savepoint.get());
        auto fail = [&](std::string_view what) -> result<stored> {
            std::string msg = sqlite_error(wdb.get(), what);
            exec(wdb.get(), "ROLLBACK TO op");
            step_done(release.get());
            recount_orphans();
            return error(errc::store_failed, msg);
        };
        const millis now = now_ms();
        auto seq = insert_one(m, 0, now);
        if (!seq) return fail(seq.err().message);
        step_done(release.get());
        return stored{m.id, m.state, m.type, false};
    }

    // Inserts a message, its payload, events, keys, join keys, idempotency key and children.
    result<std::int64_t> insert_one(const new_message& m, std::int64_t parent_seq, millis now) {
        {
            auto* s = insert_msg.get();
            reset_guard g{s};
            bind_value(s, 1, m.id); bind_value(s, 2, m.partner); bind_value(s, 3, m.channel); bind_value(s, 4, m.root); bind_value(s, 5, m.type);
            bind_value(s, 6, m.state); bind_value(s, 7, m.error_code); bind_value(s, 8, m.doc_guid); bind_value(s, 9, m.idempotency_key);
            bind_value(s, 10, m.source_name); bind_value(s, 11, static_cast<std::int64_t>(m.bytes.size())); bind_value(s, 12, m.sha256);
            bind_value(s, 13, m.received_at); bind_value(s, 14, now); bind_value(s, 15, m.route); bind_value(s, 16, m.direction);
            if (parent_seq > 0) bind_value(s, 17, parent_seq);
            else sqlite3_bind_null(s, 17);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert message"));
        }
        const std::int64_t seq = sqlite3_last_insert_rowid(wdb.get());
        {
            auto* s = insert_payload.get();
            reset_guard g{s};
            const bool packed = !m.packed.empty();
            bind_value(s, 1, seq); bind_value(s, 2, m.payload_stage); bind_blob(s, 3, packed ? m.packed : m.bytes); bind_value(s, 4, now);
            bind_encoding(s, 5, packed);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert payload"));
        }
        for (std::size_t i = 0; i < m.more_payloads.size(); ++i) {
            auto* s = insert_payload.get();
            reset_guard g{s};
            const bool packed = i < m.more_encoding.size() && !m.more_encoding[i].empty();
            bind_value(s, 1, seq); bind_value(s, 2, m.more_payloads[i].first);
            bind_blob(s, 3, packed ? m.more_packed[i] : m.more_payloads[i].second); bind_value(s, 4, now);
            if (packed) bind_value(s, 5, m.more_encoding[i]);
            else bind_encoding(s, 5, false);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert payload"));
        }
        if (auto e = insert_events(seq, m.events, now); !e) return e.err();
        for (auto& [name, value] : m.keys) {
            auto* s = insert_key.get();
            reset_guard g{s};
            bind_value(s, 1, seq); bind_value(s, 2, name); bind_value(s, 3, value);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert business key"));
        }
        for (auto& [k, waiting] : m.join_keys) {
            auto* s = insert_join.get();
            reset_guard g{s};
            bind_value(s, 1, m.route); bind_value(s, 2, k); bind_value(s, 3, seq); bind_value(s, 4, static_cast<std::int64_t>(waiting ? 1 : 0));
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert join key"));
        }
        if (!m.idempotency_key.empty()) {
            auto* s = insert_idem.get();
            reset_guard g{s};
            bind_value(s, 1, m.partner); bind_value(s, 2, m.idempotency_key); bind_value(s, 3, seq);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert idempotency key"));
        }
        for (auto& c : m.children)
            if (auto r = insert_one(c, seq, now); !r) return r.err();
        if (!m.outbox_endpoint.empty()) {
            // The message's id is its CopMsgId: unique, ≤255, and the same on every retry.
            auto o = cached("INSERT INTO outbox (message_seq, endpoint, cop_msg_id, updated_at) VALUES (?,?,?,?)");
            if (!o) return o.err();
            bind_value(o->get(), 1, seq); bind_value(o->get(), 2, m.outbox_endpoint); bind_value(o->get(), 3, m.id); bind_value(o->get(), 4, now);
            if (sqlite3_step(o->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "queue in outbox"));
            auto k = insert_key.get();
            reset_guard g{k};
            static const std::string cop = "CopMsgId";
            bind_value(k, 1, seq); bind_value(k, 2, cop); bind_value(k, 3, m.id);
            if (sqlite3_step(k) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "CopMsgId key"));
        }
        if (!m.keys.empty() && orphan_records > 0)
            if (auto a = adopt_orphans(seq, m.keys, now); !a) return a.err();
        return seq;
    }

    // Candidate messages for a receipt record's key values: most matching keys first, customs messages
    // portgate made ("out") before partner inputs, newest first.
    struct candidate {
        std::int64_t seq = 0;
        std::string id;
        double score = 0;
        bool out = false;
    };
    result<std::vector<candidate>> candidates(const std::vector<std::pair<std::string, std::string>>& keys) {
        std::vector<std::string> values;
        for (auto& [k, v] : keys)
            if (!v.empty() && std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
        std::vector<candidate> out;
        if (values.empty()) return out;
        // Rare values weigh more (1 / number of messages holding the value): a company code shared by every
        // message of a partner hardly counts, a copNo or preNo decides.
        std::string vals;
        for (std::size_t i = 0; i < values.size(); ++i) vals += i ? ",(?)" : "(?)";
        // A value held by more than 100 messages (a company code, a currency) does not identify anything: it is
        // left out, and its count stops at 101, so a receipt costs the same with 10 k or 10 M messages stored.
        std::string sql = "WITH v(value) AS (VALUES " + vals + "), "
                          "df AS (SELECT v.value, (SELECT COUNT(DISTINCT s) FROM (SELECT k.message_seq AS s FROM message_key k "
                          "WHERE k.value = v.value LIMIT 101)) AS n FROM v) "
                          "SELECT m.seq, m.id, SUM(1.0 / df.n) AS score, m.direction = 'out' FROM df "
                          "JOIN message_key k ON k.value = df.value JOIN message m ON m.seq = k.message_seq "
                          "WHERE df.n BETWEEN 1 AND 100 "
                          "GROUP BY m.seq ORDER BY score DESC, m.direction = 'out' DESC, m.seq DESC LIMIT 2";
        auto q = cached(sql);
        if (!q) return q.err();
        for (std::size_t i = 0; i < values.size(); ++i) bind_value(q->get(), static_cast<int>(i) + 1, values[i]);
        while (sqlite3_step(q->get()) == SQLITE_ROW)
            out.push_back({sqlite3_column_int64(q->get(), 0), col_text(q->get(), 1), sqlite3_column_double(q->get(), 2),
                           sqlite3_column_int(q->get(), 3) != 0});
        return out;
    }

    // Applies a record's status to a message: forward only; learns the record's keys (preNo, invtNo …).
    result<bool> apply_status(std::int64_t msg_seq, std::int64_t record_seq, const std::string& status, int rank, const std::string& to_state,
                              const std::vector<std::pair<std::string, std::string>>& keys, const std::string& detail, millis now) {
        for (auto& [name, value] : keys) {
            if (value.empty()) continue;
            auto* s = insert_key.get();
            reset_guard g{s};
            bind_value(s, 1, msg_seq); bind_value(s, 2, name); bind_value(s, 3, value);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "learn key"));
        }
        int current = 0;
        {
            auto q = cached("SELECT customs_rank FROM message WHERE seq = ?");
            if (!q) return q.err();
            bind_value(q->get(), 1, msg_seq);
            if (sqlite3_step(q->get()) == SQLITE_ROW) current = sqlite3_column_int(q->get(), 0);
        }
        bool forward = rank > current;
        if (forward) {
            auto u = cached("UPDATE message SET customs_status = ?, customs_rank = ?, state = ?, updated_at = ? WHERE seq = ?");
            if (!u) return u.err();
            bind_value(u->get(), 1, status); bind_value(u->get(), 2, static_cast<std::int64_t>(rank)); bind_value(u->get(), 3, to_state);
            bind_value(u->get(), 4, now); bind_value(u->get(), 5, msg_seq);
            if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "apply status"));
        }
        if (auto e = insert_events(msg_seq, {{"receipt", forward ? to_state : "", "", detail}}, now); !e) return e.err();
        if (forward) {
            std::string partner;
            {
                auto q = cached("SELECT partner FROM message WHERE seq = ?");
                if (!q) return q.err();
                bind_value(q->get(), 1, msg_seq);
                if (sqlite3_step(q->get()) == SQLITE_ROW) partner = col_text(q->get(), 0);
            }
            if (auto it = notify_channels.find(partner); it != notify_channels.end())
                for (auto& ch : it->second) {
                    auto n = cached("INSERT OR IGNORE INTO notification (partner, message_seq, record_seq, channel, created_at, updated_at) "
                                                "VALUES (?,?,?,?,?,?)");
                    if (!n) return n.err();
                    bind_value(n->get(), 1, partner); bind_value(n->get(), 2, msg_seq); bind_value(n->get(), 3, record_seq);
                    bind_value(n->get(), 4, ch); bind_value(n->get(), 5, now); bind_value(n->get(), 6, now);
                    if (sqlite3_step(n->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert notification"));
                }
        }
        return forward;
    }

    // A message just stored with `keys` takes the orphan receipt records that name one of them.
    status adopt_orphans(std::int64_t seq, const std::vector<std::pair<std::string, std::string>>& keys, millis now) {
        std::vector<std::string> values;
        for (auto& [k, v] : keys)
            if (!v.empty()) values.push_back(v);
        if (values.empty()) return ok();
        std::string sql = "SELECT DISTINCT r.seq, r.status, r.rank, r.to_state, r.type, r.time, rc.id FROM receipt_key rk "
                          "JOIN receipt_record r ON r.seq = rk.record_seq JOIN receipt rc ON rc.seq = r.receipt_seq "
                          "WHERE r.message_seq IS NULL AND rk.value IN (";
        for (std::size_t i = 0; i < values.size(); ++i) sql += i ? ",?" : "?";
        sql += ") ORDER BY r.seq";
        auto q = cached(sql);
        if (!q) return q.err();
        for (std::size_t i = 0; i < values.size(); ++i) bind_value(q->get(), static_cast<int>(i) + 1, values[i]);
        struct orphan {
            std::int64_t seq;
            std::string status;
            int rank;
            std::string state, type, time, receipt;
        };
        std::vector<orphan> found;
        while (sqlite3_step(q->get()) == SQLITE_ROW)
            found.push_back({sqlite3_column_int64(q->get(), 0), col_text(q->get(), 1), sqlite3_column_int(q->get(), 2),
                             col_text(q->get(), 3), col_text(q->get(), 4), col_text(q->get(), 5), col_text(q->get(), 6)});
        for (auto& o : found) {
            auto u = cached("UPDATE receipt_record SET message_seq = ? WHERE seq = ?");
            if (!u) return u.err();
            bind_value(u->get(), 1, seq); bind_value(u->get(), 2, o.seq);
            if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "adopt orphan"));
            --orphan_records;
            std::string detail = fmt::format(R"({{"receipt":"{}","type":"{}","status":"{}","time":"{}","orphan":true}})", o.receipt, o.type,
                                             o.status, o.time);
            if (auto a = apply_status(seq, o.seq, o.status, o.rank, o.state, {}, detail, now); !a) return a.err();
        }
        return ok();
    }

    result<stored> apply(const notification_change& c) {
        auto u = cached("UPDATE notification SET state = ?, attempts = ?, next_at = ?, body = COALESCE(?, body), "
                                    "content_type = CASE WHEN ? = '' THEN content_type ELSE ? END, last_error = ?, updated_at = ? WHERE seq = ?");
        if (!u) return u.err();
        bind_value(u->get(), 1, c.state); bind_value(u->get(), 2, static_cast<std::int64_t>(c.attempts)); bind_value(u->get(), 3, c.next_at);
        if (c.body.empty()) sqlite3_bind_null(u->get(), 4);
        else bind_blob(u->get(), 4, c.body);
        bind_value(u->get(), 5, c.content_type); bind_value(u->get(), 6, c.content_type); bind_value(u->get(), 7, c.error);
        bind_value(u->get(), 8, now_ms()); bind_value(u->get(), 9, c.seq);
        if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "update notification"));
        return stored{std::to_string(c.seq), c.state, "", false};
    }

    result<stored> apply(const outbox_change& c) {
        const millis now = now_ms();
        auto u = cached("UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_error = ?, updated_at = ? WHERE message_seq = ?");
        if (!u) return u.err();
        bind_value(u->get(), 1, c.state); bind_value(u->get(), 2, static_cast<std::int64_t>(c.attempts)); bind_value(u->get(), 3, c.next_at);
        bind_value(u->get(), 4, c.error); bind_value(u->get(), 5, now); bind_value(u->get(), 6, c.seq);
        if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "update outbox"));
        if (!c.message_state.empty()) {
            // A receipt may already have moved the message further (its DxpRep arrived first): never back.
            auto m = cached("UPDATE message SET state = ?, updated_at = ? WHERE seq = ? AND customs_rank = 0");
            if (!m) return m.err();
            bind_value(m->get(), 1, c.message_state); bind_value(m->get(), 2, now); bind_value(m->get(), 3, c.seq);
            if (sqlite3_step(m->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "outbox state"));
        }
        if (!c.event.kind.empty())
            if (auto e = insert_events(c.seq, {c.event}, now); !e) return e.err();
        return stored{"", c.state, "", false};
    }

    result<stored> apply(const resend_request& r) {
        auto q = cached("SELECT o.message_seq, o.state FROM outbox o JOIN message m ON m.seq = o.message_seq WHERE m.id = ?");
        if (!q) return q.err();
        bind_value(q->get(), 1, r.message_id);
        if (sqlite3_step(q->get()) != SQLITE_ROW) return error(errc::not_found, fmt::format("message {} has never been queued for customs", r.message_id));
        std::int64_t seq = sqlite3_column_int64(q->get(), 0);
        std::string was = col_text(q->get(), 1);
        if (was == "pending" || was == "sent") return error(errc::bad_request, fmt::format("message {} is {} in the outbox: nothing to resend", r.message_id, was));
        const millis now = now_ms();
        auto u = cached("UPDATE outbox SET state = 'pending', attempts = 0, next_at = 0, updated_at = ? WHERE message_seq = ?");
        if (!u) return u.err();
        bind_value(u->get(), 1, now); bind_value(u->get(), 2, seq);
        if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "resend"));
        auto m = cached("UPDATE message SET state = 'QUEUED', updated_at = ? WHERE seq = ?");
        if (!m) return m.err();
        bind_value(m->get(), 1, now); bind_value(m->get(), 2, seq);
        if (sqlite3_step(m->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "resend state"));
        if (auto e = insert_events(seq, {{"resend", "QUEUED", "", fmt::format(R"({{"was":"{}","cop_msg_id":"same"}})", was)}}, now); !e) return e.err();
        return stored{r.message_id, "QUEUED", "", false};
    }

    result<stored> apply(const mailbox_ack& a) {
        auto u = cached("UPDATE notification SET state = 'acked', updated_at = ? WHERE partner = ? AND channel = 'mailbox' "
                                    "AND state = 'ready' AND seq <= ?");
        if (!u) return u.err();
        bind_value(u->get(), 1, now_ms()); bind_value(u->get(), 2, a.partner); bind_value(u->get(), 3, a.cursor);
        if (sqlite3_step(u->get()) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "ack mailbox"));
        return stored{std::to_string(sqlite3_changes(wdb.get())), "", "", false};
    }

    result<stored> apply(const new_receipt& r) {
        auto& out = *r.outcome;
        {
            auto q = cached("SELECT id FROM receipt WHERE sha256 = ?");
            if (!q) return q.err();
            bind_value(q->get(), 1, r.sha256);
            if (sqlite3_step(q->get()) == SQLITE_ROW) {
                out.duplicate = true;
                return stored{col_text(q->get(), 0), "", r.type, true};
            }
        }
        step_done(savepoint.get());
        auto fail = [&](std::string what) -> result<stored> {
            exec(wdb.get(), "ROLLBACK TO op");
            step_done(release.get());
            recount_orphans();
            return error(errc::store_failed, std::move(what));
        };
        const millis now = now_ms();
        auto ins = cached("INSERT INTO receipt (id, channel, source, type, family, sha256, bytes, error, received_at) VALUES (?,?,?,?,?,?,?,?,?)");
        if (!ins) return fail(ins.err().message);
        bind_value(ins->get(), 1, r.id); bind_value(ins->get(), 2, r.channel); bind_value(ins->get(), 3, r.source); bind_value(ins->get(), 4, r.type);
        bind_value(ins->get(), 5, r.family); bind_value(ins->get(), 6, r.sha256); bind_blob(ins->get(), 7, r.bytes); bind_value(ins->get(), 8, r.error);
        bind_value(ins->get(), 9, r.received_at ? r.received_at : now);
        if (sqlite3_step(ins->get()) != SQLITE_DONE) return fail(sqlite_error(wdb.get(), "insert receipt"));
        const std::int64_t rseq = sqlite3_last_insert_rowid(wdb.get());
        for (auto& rec : r.records) {
            auto cands = candidates(rec.keys);
            if (!cands) return fail(cands.err().message);
            std::int64_t msg = 0;
            std::string msg_id;
            if (!cands->empty()) {
                auto& top = (*cands)[0];
                bool ambiguous = cands->size() > 1 && std::fabs((*cands)[1].score - top.score) < 1e-9 && (*cands)[1].out == top.out;
                if (!ambiguous) msg = top.seq, msg_id = top.id;
            }
            // A repeat of a record already seen for this message (or as an orphan) is dropped.
            {
                auto d = cached("SELECT 1 FROM receipt_record WHERE message_seq IS ? AND type = ? AND status = ? AND time = ? LIMIT 1");
                if (!d) return fail(d.err().message);
                if (msg) bind_value(d->get(), 1, msg);
                else sqlite3_bind_null(d->get(), 1);
                bind_value(d->get(), 2, rec.type); bind_value(d->get(), 3, rec.status); bind_value(d->get(), 4, rec.time);
                if (sqlite3_step(d->get()) == SQLITE_ROW) {
                    ++out.repeated;
                    continue;
                }
            }
            auto ir = cached("INSERT INTO receipt_record (receipt_seq, message_seq, type, status, meaning, time, info, customs_code, rank, to_state) "
                                         "VALUES (?,?,?,?,?,?,?,?,?,?)");
            if (!ir) return fail(ir.err().message);
            bind_value(ir->get(), 1, rseq);
            if (msg) bind_value(ir->get(), 2, msg);
            else sqlite3_bind_null(ir->get(), 2);
            bind_value(ir->get(), 3, rec.type); bind_value(ir->get(), 4, rec.status); bind_value(ir->get(), 5, rec.meaning);
            bind_value(ir->get(), 6, rec.time); bind_value(ir->get(), 7, rec.info); bind_value(ir->get(), 8, rec.customs_code);
            bind_value(ir->get(), 9, static_cast<std::int64_t>(rec.rank)); bind_value(ir->get(), 10, rec.state);
            if (sqlite3_step(ir->get()) != SQLITE_DONE) return fail(sqlite_error(wdb.get(), "insert receipt record"));
            const std::int64_t recseq = sqlite3_last_insert_rowid(wdb.get());
            for (auto& [name, value] : rec.keys) {
                if (value.empty()) continue;
                auto ik = cached("INSERT OR IGNORE INTO receipt_key (record_seq, name, value) VALUES (?,?,?)");
                if (!ik) return fail(ik.err().message);
                bind_value(ik->get(), 1, recseq); bind_value(ik->get(), 2, name); bind_value(ik->get(), 3, value);
                if (sqlite3_step(ik->get()) != SQLITE_DONE) return fail(sqlite_error(wdb.get(), "insert receipt key"));
            }
            if (!msg) {
                ++out.orphans;
                ++orphan_records;
                continue;
            }
            ++out.matched;
            if (std::find(out.message_ids.begin(), out.message_ids.end(), msg_id) == out.message_ids.end()) out.message_ids.push_back(msg_id);
            nlohmann::json detail{{"receipt", r.id}, {"type", rec.type}, {"status", rec.status}, {"meaning", rec.meaning}, {"time", rec.time}};
            if (!rec.customs_code.empty()) detail["customs_code"] = rec.customs_code;
            if (!rec.info.empty()) detail["info"] = rec.info;
            auto a = apply_status(msg, recseq, rec.status, rec.rank, rec.state, rec.learn, detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), now);
            if (!a) return fail(a.err().message);
            if (*a) ++out.applied;
        }
        step_done(release.get());
        return stored{r.id, "", r.type, false};
    }

    status insert_events(std::int64_t seq, const std::vector<new_event>& events, millis now) {
        for (auto& e : events) {
            auto* s = insert_event.get();
            reset_guard g{s};
            bind_value(s, 1, seq); bind_value(s, 2, now); bind_value(s, 3, e.kind); bind_value(s, 4, e.state); bind_value(s, 5, e.code); bind_value(s, 6, e.detail);
            if (sqlite3_step(s) != SQLITE_DONE) return error(errc::store_failed, sqlite_error(wdb.get(), "insert event"));
        }
        return ok();
    }

    result<stored> apply(const message_update& u) {
        std::int64_t seq = 0;
        std::string state;
        {
            reset_guard g{find_seq.get()};
            bind_value(find_seq.get(), 1, u.id);
            if (sqlite3_step(find_seq.get()) != SQLITE_ROW) return error(errc::not_found, fmt::format("message {} does not exist", u.id));
            seq = sqlite3_column_int64(find_seq.get(), 0);
            state = col_text(find_seq.get(), 1);
        }
        step_done(savepoint.get());
        auto fail = [&](std::string_view what) -> result<stored> {
            std::string msg = sqlite_error(wdb.get(), what);
            exec(wdb.get(), "ROLLBACK TO op");
            step_done(release.get());
            recount_orphans();
            return error(errc::store_failed, msg);
        };
        const millis now = now_ms();
        if (!u.join_key.empty()) {
            reset_guard g{mark_join.get()};
            bind_value(mark_join.get(), 1, u.join_route); bind_value(mark_join.get(), 2, u.join_key); bind_value(mark_join.get(), 3, seq);
            if (sqlite3_step(mark_join.get()) != SQLITE_DONE) return fail("mark join key");
            if (sqlite3_changes(wdb.get()) == 0) {
                step_done(release.get());
                return stored{u.id, state, "", true};  // someone completed this join already
            }
        }
        if (auto e = insert_events(seq, u.events, now); !e) return fail(e.err().message);
        for (auto& c : u.children)
            if (auto r = insert_one(c, seq, now); !r) return fail(r.err().message);
        if (!u.done_state.empty()) {
            std::int64_t waiting = 0;
            {
                reset_guard g{count_waiting.get()};
                bind_value(count_waiting.get(), 1, seq);
                if (sqlite3_step(count_waiting.get()) == SQLITE_ROW) waiting = sqlite3_column_int64(count_waiting.get(), 0);
            }
            if (waiting == 0 && state != u.done_state) {
                reset_guard g{set_state.get()};
                bind_value(set_state.get(), 1, u.done_state); bind_value(set_state.get(), 2, now); bind_value(set_state.get(), 3, seq);
                if (sqlite3_step(set_state.get()) != SQLITE_DONE) return fail("set state");
                state = u.done_state;
            }
        }
        step_done(release.get());
        return stored{u.id, state, "", false};
    }

    void run() {
        std::vector<op> batch;
        std::vector<result<stored>> results;
        bool busy = false;  // the writer is under load: the next batch waits for company (group_commit_busy_wait)
        for (;;) {
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return closing || !queue.empty(); });
                if (queue.empty() && closing) return;
                auto full = [&] { return closing || queue.size() >= cfg.group_commit_max; };
                if (cfg.group_commit_wait.count() > 0 && !full()) cv.wait_for(lk, cfg.group_commit_wait, full);
                auto saturated = [&] {
                    return backlog && cfg.group_commit_saturated_wait.count() > 0 &&
                           backlog->load(std::memory_order_relaxed) >= cfg.group_commit_saturated_backlog;
                };
                if (saturated()) {
                    // Intake work is queued behind busy workers: their operations will come. Gather them while
                    // the backlog lasts, up to the saturated wait. The backlog is looked at three times in it (not
                    // every busy gap): each look wakes this thread, and with large documents (99 items, ~10 ms
                    // of a worker each) waking every 250 µs cost the workers ~8 % of their messages/s.
                    const auto deadline = std::chrono::steady_clock::now() + cfg.group_commit_saturated_wait;
                    const auto look = std::max<std::chrono::microseconds>(cfg.group_commit_busy_gap, cfg.group_commit_saturated_wait / 3);
                    while (!full() && saturated()) {
                        const auto now = std::chrono::steady_clock::now();
                        if (now >= deadline) break;
                        cv.wait_until(lk, std::min(now + look, deadline), full);
                    }
                } else if (busy && cfg.group_commit_busy_wait.count() > 0) {
                    // Gather while operations keep arriving: each slice of one gap must bring at least one more.
                    const auto deadline = std::chrono::steady_clock::now() + cfg.group_commit_busy_wait;
                    while (!full()) {
                        const std::size_t before = queue.size();
                        const auto now = std::chrono::steady_clock::now();
                        if (now >= deadline) break;
                        cv.wait_until(lk, std::min(now + cfg.group_commit_busy_gap, deadline), full);
                        if (queue.size() == before) break;  // a lull: commit what is there
                    }
                }
                while (!queue.empty() && batch.size() < cfg.group_commit_max) {
                    batch.push_back(std::move(queue.front()));
                    queue.pop_front();
                }
            }
            results.clear();
            bool committed = step_done(begin.get());
            std::string failure = committed ? "" : sqlite_error(wdb.get(), "begin");
            if (committed) {
                for (auto& o : batch) results.push_back(std::visit([&](auto& w) { return apply(w); }, o.what));
                committed = step_done(commit.get());
                // Busy: this batch gathered 4 operations or more, or 2 or more arrived while it committed (looked
                // at before the completions run, which may start the next operation of a lone submitter). Lower
                // thresholds also caught half load, where waiting only added latency (p50 +1.5 ms); once waiting
                // under full load, batches stay large and the writer stays busy.
                {
                    std::lock_guard lk(mu);
                    busy = batch.size() >= 4 || queue.size() >= 2;
                }
                if (!committed) {
                    failure = sqlite_error(wdb.get(), "commit");
                    step_done(rollback.get());
                    recount_orphans();
                }
            }
            if (committed) {
                commits.fetch_add(1, std::memory_order_relaxed);
                operations.fetch_add(batch.size(), std::memory_order_relaxed);
                if (batch.size() > max_batch.load(std::memory_order_relaxed)) max_batch.store(batch.size(), std::memory_order_relaxed);
                for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
            } else {
                spdlog::error("store: group commit of {} operation(s) failed: {}", batch.size(), failure);
                for (auto& o : batch) o.done(error(errc::store_failed, failure));
            }
            batch.clear();
        }
    }
};

result<std::unique_ptr<store>> store::open(const fs::path& data_dir, const config::store_config& cfg) {
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    if (ec) return error(errc::store_failed, fmt::format("cannot create {}: {}", data_dir.string(), ec.message()));
    std::unique_ptr<store> s(new store());
    s->impl_ = std::make_unique<impl>();
    auto& im = *s->impl_;
    im.file = data_dir / "portgate.db";
    im.cfg = cfg;
    if (im.cfg.group_commit_max == 0) im.cfg.group_commit_max = 1;
    auto db = open_db(im.file, false);
    if (!db) return db.err();
    im.wdb = std::move(db.value());
    std::string sync = cfg.synchronous == "normal" ? "NORMAL" : cfg.synchronous == "extra" ? "EXTRA" : "FULL";
    for (std::string pragma : {std::string("PRAGMA journal_mode=WAL"), "PRAGMA synchronous=" + sync,
                               std::string("PRAGMA foreign_keys=ON"), std::string("PRAGMA temp_store=MEMORY"),
                               fmt::format("PRAGMA wal_autocheckpoint={}", cfg.checkpoint_pages)}) {
        if (auto st = exec(im.wdb.get(), pragma); !st) return st.err();
    }
    if (auto st = im.migrate(); !st) return st.err();
    if (auto st = im.prepare_writer(); !st) return st.err();
    im.recount_orphans();
    im.writer = std::thread([&im] { im.run(); });
    return s;
}

store::~store() { close(); }

void store::watch_backlog(std::shared_ptr<const std::atomic<std::size_t>> backlog) {
    std::lock_guard lk(impl_->mu);
    impl_->backlog = std::move(backlog);
}

void store::close() {
    if (!impl_) return;
    {
        std::lock_guard lk(impl_->mu);
        if (impl_->closing && !impl_->writer.joinable()) return;
        impl_->closing = true;
    }
    impl_->cv.notify_all();
    if (impl_->writer.joinable()) impl_->writer.join();
}

// Done here, on the submitting thread (an intake worker), not on the single writer: a later stage that is
// the first payload with one run changed (the signed document) is stored as a delta against it; with
// [store] compression = "zstd", the rest is compressed.
static void pack_payloads(new_message& m, bool compress) {
    if (compress) m.packed = pack(m.bytes);
    m.more_packed.assign(m.more_payloads.size(), std::string());
    m.more_encoding.assign(m.more_payloads.size(), std::string());
    for (std::size_t i = 0; i < m.more_payloads.size(); ++i) {
        const std::string& bytes = m.more_payloads[i].second;
        if (auto d = find_delta(m.bytes, bytes)) {
            m.more_packed[i] = std::string(d->middle);
            m.more_encoding[i] = delta_encoding(m.payload_stage, 1, *d);
        } else if (compress) {
            m.more_packed[i] = pack(bytes);
            if (!m.more_packed[i].empty()) m.more_encoding[i] = std::string(zstd_encoding);
        }
    }
    for (auto& c : m.children) pack_payloads(c, compress);
}

void store::submit(new_message m, completion done) {
    pack_payloads(m, impl_->cfg.compression == "zstd");
    impl_->enqueue(std::move(m), std::move(done));
}

void store::update(message_update u, completion done) {
    for (auto& c : u.children) pack_payloads(c, impl_->cfg.compression == "zstd");
    impl_->enqueue(std::move(u), std::move(done));
}

void store::submit_receipt(new_receipt r, completion done) { impl_->enqueue(std::move(r), std::move(done)); }

void store::set_notification_channels(std::map<std::string, std::vector<std::string>> by_partner) {
    std::lock_guard lk(impl_->mu);
    impl_->notify_channels = std::move(by_partner);
}

void store::update_notification(notification_change c, completion done) { impl_->enqueue(std::move(c), std::move(done)); }

void store::update_outbox(outbox_change c, completion done) { impl_->enqueue(std::move(c), std::move(done)); }

void store::resend(const std::string& message_id, completion done) { impl_->enqueue(resend_request{message_id}, std::move(done)); }

constexpr const char* delta_base_sql = "SELECT bytes, encoding FROM payload WHERE message_seq = ? AND stage = ? AND version = ?";

// A stored payload's bytes, unpacked: column `col` holds them as stored, `col + 1` their encoding. A delta is
// applied to its base, payload (`seq`, stage, version) read with `base_query` (delta_base_sql; prepared here
// when null) — itself a whole payload, never another delta.
static result<std::string> payload_bytes(sqlite3_stmt* st, int col, sqlite3* db, sqlite3_stmt* base_query, std::int64_t seq) {
    auto p = static_cast<const char*>(sqlite3_column_blob(st, col));
    std::string_view stored(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, col)));
    const std::string encoding = col_text(st, col + 1);
    auto ref = parse_delta(encoding);
    if (!ref) {
        if (encoding.starts_with(delta_prefix)) return error(errc::store_failed, fmt::format("payload encoding '{}' is malformed", encoding));
        return unpack(stored, encoding);
    }
    stmt_ptr own;
    if (!base_query) {
        auto q = prepare(db, delta_base_sql);
        if (!q) return q.err();
        own = std::move(q.value());
        base_query = own.get();
    }
    reset_guard g{base_query};
    bind_value(base_query, 1, seq);
    bind_value(base_query, 2, ref->stage);
    bind_value(base_query, 3, static_cast<std::int64_t>(ref->version));
    const int rc = sqlite3_step(base_query);
    if (rc == SQLITE_DONE) return error(errc::store_failed, fmt::format("the {} payload (version {}) this delta is based on is missing", ref->stage, ref->version));
    if (rc != SQLITE_ROW) return error(errc::store_failed, sqlite_error(db, "delta base"));
    const std::string base_encoding = col_text(base_query, 1);
    if (base_encoding.starts_with(delta_prefix)) return error(errc::store_failed, fmt::format("the {} payload a delta is based on is a delta itself", ref->stage));
    auto b = static_cast<const char*>(sqlite3_column_blob(base_query, 0));
    auto base = unpack(std::string_view(b ? b : "", static_cast<std::size_t>(sqlite3_column_bytes(base_query, 0))), base_encoding);
    if (!base) return base.err();
    return apply_delta(*base, *ref, stored);
}

// Outbox rows matching `where`, their statements from `stmts` (the connection's). `with_bytes`: the payload
// to send (the sender); listings leave it out.
static result<std::vector<outbox_job>> read_outbox(sqlite3* db, statement_cache& stmts, const std::string& where,
                                                   const std::vector<sql_arg>& args, bool with_bytes = true) {
    auto q = stmts.get(db, fmt::format("SELECT o.message_seq, m.id, m.type, o.endpoint, o.cop_msg_id, o.state, o.attempts, o.last_error "
                                       "FROM outbox o JOIN message m ON m.seq = o.message_seq WHERE {}",
                                       where));
    if (!q) return q.err();
    auto* st = q->get();
    bind_all(st, args);
    std::vector<outbox_job> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_job j;
        j.seq = sqlite3_column_int64(st, 0);
        j.message_id = col_text(st, 1); j.type = col_text(st, 2); j.endpoint = col_text(st, 3); j.cop_msg_id = col_text(st, 4);
        j.state = col_text(st, 5); j.attempts = sqlite3_column_int(st, 6); j.last_error = col_text(st, 7);
        out.push_back(std::move(j));
    }
    if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db, "outbox"));
    if (!with_bytes || out.empty()) return out;
    // What is sent: the signed payload, else the mapped one, else the latest of any other stage (the bytes
    // received). One primary-key lookup per stage, in that order: a single query ordering the message's
    // payloads by stage copied every one of them into a sorter to return one.
    auto by_stage = stmts.get(db, "SELECT bytes, encoding FROM payload WHERE message_seq = ? AND stage = ? ORDER BY version DESC LIMIT 1");
    if (!by_stage) return by_stage.err();
    auto any = stmts.get(db, "SELECT bytes, encoding FROM payload WHERE message_seq = ? ORDER BY version DESC LIMIT 1");
    if (!any) return any.err();
    auto base = stmts.get(db, delta_base_sql);
    if (!base) return base.err();
    for (auto& j : out) {
        for (const char* stage : {"signed", "mapped", ""}) {
            sqlite3_stmt* q = *stage ? by_stage->get() : any->get();
            reset_guard g{q};
            bind_value(q, 1, j.seq);
            if (*stage) sqlite3_bind_text(q, 2, stage, -1, SQLITE_STATIC);
            if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                auto bytes = payload_bytes(q, 0, db, base->get(), j.seq);
                if (!bytes) return error(bytes.err().code, fmt::format("outbox message {}: {}", j.message_id, bytes.err().message));
                j.bytes = std::move(bytes.value());
                break;
            }
            if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db, "outbox payload"));
        }
    }
    return out;
}

result<std::vector<outbox_job>> store::due_outbox(millis now, int limit, const std::vector<std::string>& skip) const {
    std::lock_guard lk(impl_->outbox_mu);
    if (!impl_->outbox_db) {
        auto db = open_db(impl_->file, true);
        if (!db) return db.err();
        impl_->outbox_db = std::move(db.value());
    }
    std::string not_in;
    std::vector<sql_arg> args{now};
    for (auto& e : skip) {
        not_in += not_in.empty() ? " AND o.endpoint NOT IN (?" : ",?";
        args.emplace_back(e);
    }
    if (!not_in.empty()) not_in += ")";
    if (impl_->outbox_stmts.size() >= 32) impl_->outbox_stmts.clear();  // the endpoint exclusions vary the text
    return read_outbox(impl_->outbox_db.get(), impl_->outbox_stmts,
                       fmt::format("o.state = 'pending' AND o.next_at <= ?{} ORDER BY o.next_at, o.message_seq LIMIT {}", not_in,
                                   std::clamp(limit, 1, 1000)),
                       args);
}

result<std::vector<outbox_job>> store::outbox_in_state(const std::string& state, int limit) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    statement_cache once;  // a pooled reader: its statements go before it is given back
    auto r = read_outbox(db->get(), once, fmt::format("o.state = ? ORDER BY o.message_seq DESC LIMIT {}", std::clamp(limit, 1, 1000)), {state},
                         false);
    once.clear();
    return r;
}

void store::ack_mailbox(const std::string& partner, std::int64_t cursor, completion done) {
    impl_->enqueue(mailbox_ack{partner, cursor}, std::move(done));
}

namespace {
constexpr const char* notification_columns =
    "n.seq, n.partner, n.channel, n.state, n.attempts, m.id, m.type, COALESCE(rc.family, ''), r.type, r.status, r.meaning, r.time, r.info, "
    "r.customs_code, COALESCE(n.body, ''), n.content_type, r.seq";
}  // namespace

static result<std::vector<notification_job>> read_jobs(sqlite3* db, const std::string& where, const std::vector<sql_arg>& args) {
    std::string sql = fmt::format("SELECT {} FROM notification n JOIN message m ON m.seq = n.message_seq JOIN receipt_record r ON r.seq = n.record_seq "
                                  "JOIN receipt rc ON rc.seq = r.receipt_seq WHERE {}", notification_columns, where);
    auto q = prepare(db, sql);
    if (!q) return q.err();
    bind_all(q->get(), args);
    std::vector<notification_job> out;
    std::vector<std::int64_t> records;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
        notification_job j;
        auto* st = q->get();
        j.seq = sqlite3_column_int64(st, 0);
        j.partner = col_text(st, 1); j.channel = col_text(st, 2); j.state = col_text(st, 3); j.attempts = sqlite3_column_int(st, 4);
        j.message_id = col_text(st, 5); j.message_type = col_text(st, 6); j.family = col_text(st, 7); j.type = col_text(st, 8);
        j.status = col_text(st, 9); j.meaning = col_text(st, 10); j.time = col_text(st, 11); j.info = col_text(st, 12);
        j.customs_code = col_text(st, 13);
        auto p = static_cast<const char*>(sqlite3_column_blob(st, 14));
        j.body = std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 14)));
        j.content_type = col_text(st, 15);
        records.push_back(sqlite3_column_int64(st, 16));
        out.push_back(std::move(j));
    }
    if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db, "notifications"));
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto k = prepare(db, "SELECT name, value FROM receipt_key WHERE record_seq = ?");
        if (!k) return k.err();
        bind_value(k->get(), 1, records[i]);
        while (sqlite3_step(k->get()) == SQLITE_ROW) out[i].keys.emplace_back(col_text(k->get(), 0), col_text(k->get(), 1));
    }
    return out;
}

result<std::vector<notification_job>> store::due_notifications(millis now, int limit) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto r = read_jobs(db->get(), fmt::format("n.state = 'pending' AND n.next_at <= ? ORDER BY n.next_at, n.seq LIMIT {}", std::clamp(limit, 1, 1000)),
                       {now});
    return r;
}

result<std::vector<notification_job>> store::dead_notifications(int limit) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto r = read_jobs(db->get(), fmt::format("n.state = 'dead' ORDER BY n.seq DESC LIMIT {}", std::clamp(limit, 1, 1000)), {});
    return r;
}

result<std::vector<mailbox_item>> store::mailbox(const std::string& partner, std::int64_t after, int limit) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto q = prepare(db->get(), fmt::format("SELECT n.seq, m.id, n.content_type, n.body, n.created_at FROM notification n JOIN message m ON m.seq = n.message_seq "
                                            "WHERE n.partner = ? AND n.channel = 'mailbox' AND n.state = 'ready' AND n.seq > ? ORDER BY n.seq LIMIT {}",
                                            std::clamp(limit, 1, 500)));
    if (!q) return q.err();
    bind_value(q->get(), 1, partner);
    bind_value(q->get(), 2, after);
    std::vector<mailbox_item> out;
    while (sqlite3_step(q->get()) == SQLITE_ROW) {
        mailbox_item it;
        it.cursor = sqlite3_column_int64(q->get(), 0);
        it.message_id = col_text(q->get(), 1);
        it.content_type = col_text(q->get(), 2);
        auto p = static_cast<const char*>(sqlite3_column_blob(q->get(), 3));
        it.body = std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(q->get(), 3)));
        it.created_at = sqlite3_column_int64(q->get(), 4);
        out.push_back(std::move(it));
    }
    q->reset();
    return out;
}

result<std::vector<join_entry>> store::find_join(const std::string& route, const std::string& key) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto q = prepare(db->get(), "SELECT m.id, m.partner, m.state, j.waiting FROM join_key j JOIN message m ON m.seq = j.message_seq "
                                "WHERE j.route = ? AND j.key = ? ORDER BY m.seq");
    if (!q) return q.err();
    bind_value(q->get(), 1, route);
    bind_value(q->get(), 2, key);
    std::vector<join_entry> out;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW)
        out.push_back({col_text(q->get(), 0), col_text(q->get(), 1), col_text(q->get(), 2), sqlite3_column_int64(q->get(), 3) != 0});
    if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db->get(), "find join"));
    q->reset();
    return out;
}

result<stored> store::submit_wait(new_message m) {
    std::promise<result<stored>> p;
    auto f = p.get_future();
    submit(std::move(m), [&p](result<stored> r) { p.set_value(std::move(r)); });
    return f.get();
}

result<std::optional<message_view>> store::get(const std::string& id, const std::string& partner) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto q = prepare(db->get(), fmt::format("SELECT {} FROM message WHERE id = ?", message_columns));
    if (!q) return q.err();
    bind_value(q->get(), 1, id);
    std::optional<message_view> out;
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_ROW) {
        message_view m = read_message(q->get());
        if (partner.empty() || m.partner == partner) out = std::move(m);
    } else if (rc != SQLITE_DONE) {
        return error(errc::store_failed, sqlite_error(db->get(), "get message"));
    }
    if (out) {
        auto e = prepare(db->get(), "SELECT seq, at, kind, state, code, detail FROM event WHERE message_seq = ? ORDER BY seq");
        if (!e) return e.err();
        bind_value(e->get(), 1, out->seq);
        while ((rc = sqlite3_step(e->get())) == SQLITE_ROW)
            out->events.push_back({sqlite3_column_int64(e->get(), 0), sqlite3_column_int64(e->get(), 1), col_text(e->get(), 2),
                                   col_text(e->get(), 3), col_text(e->get(), 4), col_text(e->get(), 5)});
        if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db->get(), "get events"));
        int rc_ = SQLITE_DONE;
        auto rq = prepare(db->get(), "SELECT rc.id, r.type, r.status, r.meaning, r.time, r.info, r.customs_code, rc.received_at "
                                     "FROM receipt_record r JOIN receipt rc ON rc.seq = r.receipt_seq WHERE r.message_seq = ? ORDER BY r.seq");
        if (!rq) return rq.err();
        bind_value(rq->get(), 1, out->seq);
        while ((rc_ = sqlite3_step(rq->get())) == SQLITE_ROW)
            out->receipts.push_back({col_text(rq->get(), 0), col_text(rq->get(), 1), col_text(rq->get(), 2), col_text(rq->get(), 3),
                                     col_text(rq->get(), 4), col_text(rq->get(), 5), col_text(rq->get(), 6), sqlite3_column_int64(rq->get(), 7)});
        auto cs = prepare(db->get(), "SELECT customs_status FROM message WHERE seq = ?");
        if (!cs) return cs.err();
        bind_value(cs->get(), 1, out->seq);
        if (sqlite3_step(cs->get()) == SQLITE_ROW) out->customs_status = col_text(cs->get(), 0);
        auto c = prepare(db->get(), "SELECT id, type, state FROM message WHERE parent_seq = ? ORDER BY seq");
        if (!c) return c.err();
        bind_value(c->get(), 1, out->seq);
        while ((rc = sqlite3_step(c->get())) == SQLITE_ROW)
            out->children.push_back({col_text(c->get(), 0), col_text(c->get(), 1), col_text(c->get(), 2)});
        if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db->get(), "get children"));
    }
    q->reset();
    return out;
}

result<page> store::list(const query& qy) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    std::string sql = fmt::format("SELECT {} FROM message WHERE 1=1", message_columns);
    std::vector<sql_arg> args;
    auto text = [&](std::string_view clause, const std::string& v) {
        sql += clause;
        args.emplace_back(v);
    };
    auto num = [&](std::string_view clause, std::int64_t v) {
        sql += clause;
        args.emplace_back(v);
    };
    if (!qy.partner.empty()) text(" AND partner = ?", qy.partner);
    if (!qy.state.empty()) text(" AND state = ?", qy.state);
    if (!qy.type.empty()) text(" AND type = ?", qy.type);
    if (qy.from) num(" AND received_at >= ?", *qy.from);
    if (qy.to) num(" AND received_at < ?", *qy.to);
    if (qy.before_seq) num(" AND seq < ?", *qy.before_seq);
    if (!qy.q.empty()) {
        // One indexed look-up per field (an OR of the four would scan the partner's rows).
        sql += " AND seq IN (SELECT seq FROM message WHERE id = ? UNION ALL SELECT seq FROM message WHERE doc_guid = ? AND doc_guid <> '' "
               "UNION ALL SELECT seq FROM message WHERE idempotency_key = ? AND idempotency_key <> '' "
               "UNION ALL SELECT seq FROM message WHERE source_name = ? AND source_name <> '')";
        for (int i = 0; i < 4; ++i) args.emplace_back(qy.q);
    }
    int limit = std::clamp(qy.limit, 1, 500);
    sql += fmt::format(" ORDER BY seq DESC LIMIT {}", limit + 1);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db->get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
        return error(errc::store_failed, sqlite_error(db->get(), "list"));
    stmt_ptr st(raw);
    bind_all(st.get(), args);
    page pg;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) pg.items.push_back(read_message(st.get()));
    if (rc != SQLITE_DONE) return error(errc::store_failed, sqlite_error(db->get(), "list"));
    if (pg.items.size() > static_cast<std::size_t>(limit)) {
        pg.items.pop_back();
        pg.next_cursor = pg.items.back().seq;
    }
    st.reset();
    return pg;
}

result<std::optional<std::string>> store::payload(const std::string& id, const std::string& stage) const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto q = prepare(db->get(), "SELECT p.bytes, p.encoding, p.message_seq FROM payload p JOIN message m ON m.seq = p.message_seq "
                                "WHERE m.id = ? AND p.stage = ? ORDER BY p.version DESC LIMIT 1");
    if (!q) return q.err();
    bind_value(q->get(), 1, id);
    bind_value(q->get(), 2, stage);
    std::optional<std::string> out;
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_ROW) {
        auto bytes = payload_bytes(q->get(), 0, db->get(), nullptr, sqlite3_column_int64(q->get(), 2));
        if (!bytes) {
            q->reset();
            return error(bytes.err().code, fmt::format("payload {} of message {}: {}", stage, id, bytes.err().message));
        }
        out = std::move(bytes.value());
    } else if (rc != SQLITE_DONE) {
        return error(errc::store_failed, sqlite_error(db->get(), "payload"));
    }
    q->reset();
    return out;
}

result<std::int64_t> store::count() const {
    auto db = impl_->take_reader();
    if (!db) return db.err();
    auto q = prepare(db->get(), "SELECT COUNT(*) FROM message");
    if (!q) return q.err();
    std::int64_t n = 0;
    if (sqlite3_step(q->get()) == SQLITE_ROW) n = sqlite3_column_int64(q->get(), 0);
    q->reset();
    return n;
}

int store::schema_version() const { return impl_->version; }

stats store::writer_stats() const {
    return {impl_->commits.load(), impl_->operations.load(), impl_->max_batch.load()};
}

std::size_t store::pending() const {
    std::lock_guard lk(impl_->mu);
    return impl_->queue.size();
}

}  // namespace portgate::store
