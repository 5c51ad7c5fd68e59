// portgate-customs-sim: a stand-in for the customs exchange (DXP endpoint and the desktop client's
// folders). It checks what arrives like the exchange does (envelope schema, signature, business schema,
// business rules), answers with a DxpRep, and then sends receipt sequences taken from scenario files
// (samples/scenarios/*.toml) after per-step delays, by HTTP callback or into InBox folders.
// A seed makes every choice (which message is returned, inspected, duplicated …) repeatable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/error.hpp"
#include "gateway/validation/checker.hpp"

namespace portgate::sim {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------------
// Scenarios (data, samples/scenarios/*.toml — see docs/simulator.md)

struct step {
    std::string builder;  // "" = the scenario's
    std::string status, info;
    int delay_ms = 0;
    bool answer = false;  // folder mode: the client's import answer, written as Successed_/Failed_<name>
};

struct sequence {
    std::string name;
    double weight = 1;
    std::vector<step> steps;
};

struct generated {
    std::string field, from_status, format;
};

struct scenario {
    std::string file;
    std::string message;     // message type id it answers (CEB621, DEC, INV101 …)
    std::string receipt;     // receipt id (CEB622 …) — names the root for the ceb builder
    std::string builder = "ceb";  // ceb | dec-response | dec-result | g2-response | inv201
    std::string record;      // ceb: the …Return element
    std::string head;        // element(s) of the original whose children give the keys (one record each)
    std::vector<std::string> fields;  // ceb: key elements of each …Return, in schema order
    std::string encoding = "UTF-8";   // or GB2312
    bool with_namespace = true;
    std::string biz = "CEB";          // folder mode: <root>/<biz>/
    std::string signature_code, rule_code;  // negative business codes
    double duplicate_share = 0, resend_share = 0, out_of_order_share = 0;
    std::vector<generated> generate;
    std::vector<sequence> sequences;
};

result<std::vector<scenario>> load_scenarios(const fs::path& dir);

// ---------------------------------------------------------------------------------------------------
// What the simulator answers and sends

struct delivery {
    clock::time_point due;
    std::uint64_t order = 0;
    std::string receipt;   // type for stats (CEB622, CEB900, DECRSP …)
    std::string status;
    std::string bytes;
    std::string name;      // file name in folder mode
    std::string biz;       // folder mode: which <Biz>/InBox
    bool duplicate = false;
};

struct answer {
    std::string code = "0000";  // DXP ResponseCode
    std::string reason;         // stats reason: accepted, envelope_invalid, schema_invalid, signature:<code> …
    std::string dxprep;         // the DxpRep bytes
    std::string biz = "CEB";
    std::string cop_msg_id;     // the DxpMsg's CopMsgId ("" for a bare document)
    bool repeat = false;        // the CopMsgId was answered before: the same answer again, nothing sent
    bool accepted() const { return code == "0000"; }
};

struct options {
    fs::path xsd_dir, scenarios_dir;
    std::uint64_t seed = 1;
    std::string trust_ca;      // PEM file; signatures must chain to it
    bool trust_any = false;    // any certificate in KeyInfo
    bool accept_all = false;   // answer 0000 without checking (benchmarks)
    // False: the transport answer only, no receipt planned (accept-all over HTTP with no --callback: the
    // receipts would have nowhere to go, and building them would eat the CPU a benchmark measures).
    bool receipts = true;
    std::string receiver_id = "DXPEDCCEB0000002";
};

class stats {
public:
    void received() { std::lock_guard l(m_); ++received_; }
    void result(const answer& a);
    void sent(const delivery& d);
    void out_of_order() { std::lock_guard l(m_); ++out_of_order_; }
    void callback_failure() { std::lock_guard l(m_); ++callback_failures_; }
    void callback_rejected() { std::lock_guard l(m_); ++callback_rejected_; }
    void pending(long delta) { std::lock_guard l(m_); pending_ += delta; }
    void repeat() { std::lock_guard l(m_); ++repeats_; }
    void distinct(std::uint64_t n) { std::lock_guard l(m_); distinct_ = n; }
    std::string json() const;

private:
    mutable std::mutex m_;
    std::uint64_t received_ = 0, accepted_ = 0, duplicates_ = 0, out_of_order_ = 0, callback_failures_ = 0,
                  callback_rejected_ = 0, receipts_total_ = 0, repeats_ = 0, distinct_ = 0;
    long pending_ = 0;
    std::map<std::string, std::uint64_t> rejected_, codes_;
    std::map<std::string, std::map<std::string, std::uint64_t>> receipts_;
};

// Sends deliveries when they are due, one at a time and in due order; a failed delivery is retried
// (with back-off) before anything after it, so a gateway that is down delays receipts but loses none.
class dispatcher {
public:
    using sink = std::function<bool(const delivery&)>;  // true = delivered
    dispatcher(sink s, stats& st);
    ~dispatcher();
    void add(std::vector<delivery> ds);
    void stop();

private:
    void run();
    struct later {
        bool operator()(const delivery& a, const delivery& b) const {
            return a.due != b.due ? a.due > b.due : a.order > b.order;
        }
    };
    sink sink_;
    stats& stats_;
    std::mutex m_;
    std::condition_variable cv_;
    std::priority_queue<delivery, std::vector<delivery>, later> q_;
    std::uint64_t order_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

class engine {
public:
    static result<std::unique_ptr<engine>> create(const options& o);

    // Checks one arriving document (DxpMsg or bare business XML) and returns the transport answer; the
    // receipts it causes are returned in `out` with their due times.
    // A CopMsgId answered before gets the same DxpRep again and causes nothing (a sender's retry after a lost
    // answer takes effect once); while the first is still being checked, a repeat gets 3002 (retry later).
    answer handle(std::string_view bytes, std::string_view file_name, std::vector<delivery>& out);

    stats& counters() { return stats_; }
    const options& opts() const { return opt_; }

private:
    engine() = default;
    answer handle_first(std::string_view bytes, std::string_view file_name, std::vector<delivery>& out, bool& repeat);
    std::mutex seen_m_;
    std::map<std::string, std::optional<answer>> seen_;  // CopMsgId → its answer (nullopt while in progress)
    options opt_;
    std::shared_ptr<const validation::knowledge> k_;
    std::vector<scenario> scenarios_;
    stats stats_;
    const scenario* find(std::string_view message_type) const;
};

// Runs the HTTPS endpoint until SIGINT/SIGTERM. Prints "listening on https://HOST:PORT".
struct https_options {
    std::string listen = "127.0.0.1:0";
    std::string cert, key, ca;
    bool require_client_cert = false;
    std::string callback, callback_token, callback_ca;
    bool plain_http = false;  // --http: no TLS (local benchmarks only)
    int answer_delay_ms = 0;  // --answer-delay-ms: hold each DxpRep this long (a slow exchange; each connection its own)
};
int run_https(engine& e, const https_options& o);

// POSTs `body` to an http:// or https:// URL; returns the HTTP status or -1 when it could not connect.
int post(const std::string& url, const std::string& body, const std::string& token, const std::string& ca_file,
         std::string* response = nullptr);

// Watches <root>/<biz>/OutBox for each biz until SIGINT/SIGTERM. Prints "watching ROOT".
struct folder_options {
    fs::path root;
    std::vector<std::string> biz = {"CEB", "Deccus001", "Sas"};
    int poll_ms = 50;
};
int run_folder(engine& e, const folder_options& o);

extern std::atomic<bool> stopping;

}  // namespace portgate::sim
