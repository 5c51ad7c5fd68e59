// The message store on SQLite (WAL): messages, versioned payloads, the append-only event trail and
// idempotency keys. One writer thread applies operations in batches (group commit: one transaction and
// one fsync for everything that arrived together); completions run after the commit is durable, which
// is what lets intake acknowledge only what is stored. Reads use a small pool of read connections.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/core/error.hpp"

namespace portgate::store {

using millis = std::int64_t;  // milliseconds since the Unix epoch, UTC
millis now_ms();

struct new_event {
    std::string kind;     // received | validated | rejected | …
    std::string state;    // state after the event ("" = unchanged)
    std::string code;     // error code (PG-nnn) for verdicts
    std::string detail;   // JSON text
};

// A document arriving from a partner, with the verdict of the intake stages already decided.
struct new_message {
    std::string id;               // public id (ULID)
    std::string partner;
    std::string channel;          // http | folder
    std::string root;             // "{ns}local" (empty when unparseable)
    std::string type;             // e.g. CEB311Message
    std::string doc_guid;         // the document's own guid attribute when present
    std::string idempotency_key;  // "" = none
    std::string source_name;      // file name for folder intake
    std::string state;            // final state of the intake stages (VALIDATED or REJECTED)
    std::string error_code;       // PG-nnn when rejected
    std::string bytes;            // exact bytes received
    std::string sha256;
    millis received_at = 0;
    std::vector<new_event> events;

    std::string route;               // the route that took it in ("" = none)
    std::string direction = "in";    // in: from a partner · out: a customs message portgate made
    std::string payload_stage = "inbound";  // stage of `bytes` (outputs of mappings: "mapped")
    std::vector<std::pair<std::string, std::string>> more_payloads;  // further stages (e.g. "signed")
    std::vector<std::pair<std::string, std::string>> keys;  // business keys (name, value) for correlation
    // Join keys under its route: (key, waiting). Waiting = its mapping still needs the other document;
    // not waiting = it only lets a waiting document of another route find it.
    std::vector<std::pair<std::string, bool>> join_keys;
    std::vector<new_message> children;  // mapping outputs, stored with this message as parent
    std::string outbox_endpoint;        // set: queue it for delivery to this endpoint (payload "signed", else bytes)

    // Set by store::submit and store::update on the caller's thread, so that the single writer does not
    // compress: `bytes` and each of `more_payloads` as stored (packing.hpp; "" = stored raw), and the
    // encodings of `more_payloads` (zstd, or a delta against `bytes`).
    std::string packed;
    std::vector<std::string> more_packed;
    std::vector<std::string> more_encoding;
};

// A change to a stored message, applied atomically by the writer: typically a join completing for a
// message that waited — its outputs are added and the join key is marked done, but only if it still
// waits (two workers finishing the same join: the second is a no-op reported as duplicate).
struct message_update {
    std::string id;
    std::string join_route, join_key;  // mark this waiting key done (compare-and-set); "" = no join
    std::string done_state;            // state once no key waits any more ("" = unchanged)
    std::vector<new_event> events;
    std::vector<new_message> children;
};

// A receipt from customs, read leniently: its records are correlated with stored messages by business keys
// in the writer (one thread: no race between two receipts of one message), repeats are dropped, statuses
// only move a document forward, and records that match nothing wait as orphans until their original
// appears (a message stored later with a matching key picks them up in its own transaction).
struct new_receipt_record {
    std::string type, status, meaning, time, info, customs_code;
    std::vector<std::pair<std::string, std::string>> keys;
    // The keys the matched message learns (customs-assigned numbers such as preNo, invtNo): only names the
    // answered message type declares as business keys, so shared codes never become identifying.
    std::vector<std::pair<std::string, std::string>> learn;
    int rank = 0;        // progress rank (pipeline/customs_status): applied only when above the message's
    std::string state;   // the state it leads to
};
struct receipt_outcome {
    bool duplicate = false;  // the same bytes were taken in before (same sha256)
    int matched = 0, orphans = 0, repeated = 0, applied = 0;
    std::vector<std::string> message_ids;  // messages the records matched
};
struct new_receipt {
    std::string id, channel, source, type, family, sha256, bytes, error;
    millis received_at = 0;
    std::vector<new_receipt_record> records;
    std::shared_ptr<receipt_outcome> outcome = std::make_shared<receipt_outcome>();  // filled by the writer
};

struct receipt_view {
    std::string receipt_id, type, status, meaning, time, info, customs_code;
    millis received_at = 0;
};

// Notifications to partners (the outbox toward them): one row per receipt record that moved one of the
// partner's documents, per delivery channel; written by the writer in the receipt's transaction.
struct notification_job {
    std::int64_t seq = 0;
    std::string partner, channel, state;
    int attempts = 0;
    std::string message_id, message_type, family;
    std::string type, status, meaning, time, info, customs_code;  // the receipt record
    std::vector<std::pair<std::string, std::string>> keys;
    std::string body, content_type;  // once mapped
};
struct notification_change {
    std::int64_t seq = 0;
    std::string state;  // pending (retry) | ready (mailbox) | delivered | dead
    int attempts = 0;
    millis next_at = 0;
    std::string body, content_type, error;
};
struct mailbox_item {
    std::int64_t cursor = 0;
    std::string message_id, content_type, body;
    millis created_at = 0;
};

// The durable outbox toward customs: one row per customs message to deliver, with its CopMsgId (the same on
// every attempt, so a resend takes effect once at the exchange).
struct outbox_job {
    std::int64_t seq = 0;  // the message's seq
    std::string message_id, type, endpoint, cop_msg_id, state, last_error;
    int attempts = 0;
    std::string bytes;     // what is sent: the signed payload, else the mapped / inbound one
};
struct outbox_change {
    std::int64_t seq = 0;
    std::string state;          // pending (retry) | sent | rejected | dead
    int attempts = 0;
    millis next_at = 0;
    std::string error;
    std::string message_state;  // new state of the message ("" = unchanged)
    new_event event;
};

struct join_entry {
    std::string id, partner, state;
    bool waiting = false;
};

struct stored {
    std::string id;
    std::string state;
    std::string type;
    bool duplicate = false;  // an earlier message with the same idempotency key answered
};

struct event_view {
    std::int64_t seq = 0;
    millis at = 0;
    std::string kind, state, code, detail;
};

struct child_view {
    std::string id, type, state;
};

struct message_view {
    std::int64_t seq = 0;
    std::string id, partner, channel, root, type, state, error_code, doc_guid, idempotency_key, source_name, sha256;
    std::string route, direction, parent_id;
    std::vector<child_view> children;  // filled by get()
    std::string customs_status;
    std::vector<receipt_view> receipts;  // filled by get()
    std::int64_t size = 0;
    millis received_at = 0, updated_at = 0;
    std::vector<event_view> events;  // filled by get()
};

struct query {
    std::string partner;  // "" = all (operators only)
    std::string state, type, q;
    std::optional<millis> from, to;
    std::optional<std::int64_t> before_seq;  // cursor: rows with seq < this
    int limit = 50;
};

struct page {
    std::vector<message_view> items;
    std::optional<std::int64_t> next_cursor;
};

struct stats {
    std::uint64_t commits = 0, operations = 0, max_batch = 0;
};

class store {
public:
    using completion = std::function<void(result<stored>)>;

    // Opens (creating if needed) `<data_dir>/portgate.db`, applies pending migrations, starts the writer.
    static result<std::unique_ptr<store>> open(const std::filesystem::path& data_dir, const config::store_config& cfg);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // Queues the message for the next group commit; `done` runs on the writer thread after the commit
    // (durable) or with errc::store_failed. Keep `done` short: post elsewhere for real work.
    void submit(new_message m, completion done);
    // Blocking convenience over submit().
    result<stored> submit_wait(new_message m);
    // Queues a change of a stored message (same group commit). `stored.duplicate` = nothing to do (the
    // join was completed already); errc::not_found when the message does not exist.
    void update(message_update u, completion done);

    // Stores a receipt and correlates its records (see new_receipt). `stored.id` = the receipt's id.
    void submit_receipt(new_receipt r, completion done);

    // Which channels each partner's notifications go to (set once at start, before traffic).
    void set_notification_channels(std::map<std::string, std::vector<std::string>> by_partner);
    result<std::vector<notification_job>> due_notifications(millis now, int limit) const;
    void update_notification(notification_change c, completion done);
    // The partner's mailbox: ready notifications after `after` (cursor), oldest first.
    result<std::vector<mailbox_item>> mailbox(const std::string& partner, std::int64_t after, int limit) const;
    // Acknowledges the partner's mailbox up to `cursor`; stored.id = the count acknowledged.
    void ack_mailbox(const std::string& partner, std::int64_t cursor, completion done);
    // Operators: notifications that could not be delivered.
    result<std::vector<notification_job>> dead_notifications(int limit) const;

    // Due jobs, oldest first; `skip` = endpoints resting after a failure (their jobs stay for later).
    result<std::vector<outbox_job>> due_outbox(millis now, int limit, const std::vector<std::string>& skip = {}) const;
    result<std::vector<outbox_job>> outbox_in_state(const std::string& state, int limit) const;
    void update_outbox(outbox_change c, completion done);
    // Operators: put a dead or rejected message back in the outbox with the same CopMsgId.
    void resend(const std::string& message_id, completion done);

    // Stored messages offering `key` under route `route` (joins).
    result<std::vector<join_entry>> find_join(const std::string& route, const std::string& key) const;

    // A message with its events; `partner` non-empty restricts to that partner (others: not found).
    result<std::optional<message_view>> get(const std::string& id, const std::string& partner = {}) const;
    result<page> list(const query& q) const;
    // The stored bytes of a stage ("inbound"), latest version.
    result<std::optional<std::string>> payload(const std::string& id, const std::string& stage) const;
    result<std::int64_t> count() const;

    // The intake's backlog (jobs waiting for a worker). While it holds group_commit_saturated_backlog jobs or
    // more, the cores are saturated: the writer gathers a larger batch (group_commit_saturated_wait), since
    // every commit has a fixed cost and more operations are known to be on their way.
    void watch_backlog(std::shared_ptr<const std::atomic<std::size_t>> backlog);

    int schema_version() const;
    stats writer_stats() const;
    std::size_t pending() const;
    // Stops accepting, commits everything queued, joins the writer. Idempotent.
    void close();

private:
    store() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace portgate::store
