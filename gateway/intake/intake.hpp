// The intake stages shared by every channel (HTTP, folders): parse once with the hardened parser, find
// the route for (partner, root element), validate against the route's schema, then hand the exchange to
// the store with its verdict. The answer is given only after the store's commit is durable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/core/error.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/store/store.hpp"
#include "gateway/mapping/route_runner.hpp"
#include "gateway/sign/sign.hpp"
#include "gateway/validation/checker.hpp"

namespace portgate::intake {

struct submission {
    const config::partner* partner = nullptr;
    std::string channel;          // http | folder
    std::string bytes;
    std::string idempotency_key;  // "" = none
    std::string source_name;      // file name (folder)
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct outcome {
    errc code = errc::ok;         // ok, a verdict (schema_invalid, xml_*, no_route) or an error
    bool stored = false;          // true when the message (accepted or rejected) is durable
    bool duplicate = false;       // an earlier message with the same idempotency key answered
    std::string id, state, type;
    std::string message;
    std::vector<problem> problems;
};

class pipeline {
public:
    pipeline(const config::config& cfg, std::shared_ptr<const validation::knowledge> knowledge,
             std::shared_ptr<const mapping::library> mappings, store::store& st, metrics& m,
             std::map<std::string, std::shared_ptr<sign::identity>> signers = {});

    // Opens every [[signer]] of the config (keys loaded once). Errors name the signer and why.
    static result<std::map<std::string, std::shared_ptr<sign::identity>>> open_signers(const config::config& cfg);
    ~pipeline();

    // Runs the stages on the calling (worker) thread and submits to the store; `done` runs once the
    // outcome is durable (on the store's writer thread) or at once when nothing could be stored.
    void process(submission s, std::function<void(outcome)> done);

    // Checks that every route's schema exists in the catalog and its type in the registry, that every
    // mapping's output type exists and every join names an existing route. Problems carry the config line.
    static std::vector<problem> check_routes(const config::config& cfg, const validation::knowledge& knowledge);

    // A receipt from customs (HTTP or the client's InBox): stored raw first, read leniently, its records
    // correlated with the messages by business keys in the store. `done` runs after the commit.
    struct receipt_answer {
        errc code = errc::ok;
        bool stored = false;
        std::string id, type, message;
        store::receipt_outcome outcome;
        std::size_t records = 0;
    };
    void process_receipt(std::string bytes, std::string channel, std::string source, std::function<void(receipt_answer)> done);

    // Operator replay of a customs message as a NEW message: its unsigned document with a fresh guid in every
    // head and appType 2 (modification), checked, signed and queued again under a new id (= new CopMsgId).
    // Only a message that was queued for customs and ended DEAD, RETURNED or REJECTED, and only once (replay
    // the replay if it fails again). The new message is a child of the original; the original gets a
    // "replayed" event naming it and the new one a "replay_of" event naming the original (the audit link).
    struct replay_answer {
        errc code = errc::ok;
        std::string message, original, id, guid, state;
        std::vector<problem> problems;
    };
    void replay_with_new_guid(const std::string& id, std::function<void(replay_answer)> done);

    // Called (on the store's writer thread) after a commit that put work in the outbox: wakes the sender.
    void on_queued(std::function<void()> hook) { queued_hook_ = std::move(hook); }

    // Start-up: joins whose other document arrived while nobody could finish them (a crash between the two
    // commits) are completed now. Returns the number of joins completed.
    std::size_t recheck_waiting();
    // Waits until queued join work is done (tests, shutdown).
    void drain_joins();

private:
    const config::config& cfg_;
    std::shared_ptr<const validation::knowledge> knowledge_;
    std::shared_ptr<const mapping::library> mappings_;
    std::map<std::string, std::shared_ptr<sign::identity>> signers_;
    // Signs the message's bytes with the route's signer (when its family is signed by portgate) and adds them
    // as payload "signed"; false = not signed here. mark_signed records the state and event. `tree`: the
    // mapping's result tree that the bytes hold exactly (mapping::mapped::tree), signed instead of a new parse.
    result<bool> attach_signature(const config::route& r, store::new_message& m, std::vector<problem>& problems,
                                  xml::doc_ptr tree = nullptr);
    void mark_signed(const config::route& r, store::new_message& m) const;
    // Puts a customs message in the outbox of the route's endpoint (state QUEUED), when the route has one.
    void queue_for_customs(const config::route& r, store::new_message& m) const;
    // Signs `bytes` with the route's signer when its family is signed by portgate; nullopt = not signed.
    // `keys` (when given) receives the business keys the as-sent check found.
    result<std::optional<std::string>> sign_for_route(const config::route& r, const std::string& type, const std::string& bytes,
                                                      std::vector<problem>& problems, std::vector<formats::key_values>* keys = nullptr,
                                                      xml::doc_ptr tree = nullptr);
    // True when the route's signer signs this type (its family is signed enveloped by portgate).
    bool signs(const config::route& r, const std::string& type) const;
    struct joiner;
    std::unique_ptr<joiner> joiner_;
    void after_commit(const std::string& id, const config::route* r, std::vector<std::string> offered, std::vector<std::string> waiting);
    std::size_t complete_join(const config::route& waiting_route, const config::route_map& m, const std::string& waiting_id,
                              const std::string& key, const std::string& other_id);
    store::store& store_;
    metrics& metrics_;
    std::function<void()> queued_hook_;
    void queued() const {
        if (queued_hook_) queued_hook_();
    }
    histogram* stage_parse_;
    histogram* stage_validate_;
    histogram* stage_map_;
    histogram* stage_sign_;
    histogram* stored_latency_;
};

// JSON text of problems for events and error reports.
std::string problems_json(const std::vector<problem>& problems);

}  // namespace portgate::intake
