// Delivery to customs: the outbox (store) holds every customs message to send with its CopMsgId; this thread
// takes the due ones in rounds and sends them through their endpoint adapter (adapters/: HTTPS with mTLS, the
// client's folders, DXP envelope) on up to `concurrency` lanes per endpoint; retries with exponential back-off
// and jitter up to the endpoint's limit, then dead letter. An endpoint that fails rests (1 s, doubling to 30 s)
// before the next attempt, so an outage costs one timeout, not one per queued message. Outcomes are committed
// asynchronously and awaited once per round (a job is never taken twice). An answer the endpoint returns at
// once (a DxpRep) is taken in as a receipt like any other. wake() starts a round at once (new work queued).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "adapters/client_folder/client_folder.hpp"
#include "adapters/endpoint.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/core/worker_pool.hpp"
#include "gateway/store/store.hpp"

namespace portgate::delivery {

class sender {
public:
    // Takes a receipt in and calls `done` once it is stored (or could not be); used for DxpRep answers and the
    // client's InBox files. `done` may run on the store's writer thread: it must not block.
    using receipt_sink = std::function<void(std::string bytes, std::string source, std::function<void(status)> done)>;
    // Creates an adapter per [[endpoint]] (certificates and keys load now: errors name the endpoint).
    static result<std::unique_ptr<sender>> create(const config::config& cfg, store::store& st, metrics& m, receipt_sink sink);
    ~sender();
    void start();
    void stop();
    std::size_t run_once();
    void wake();

private:
    sender(const config::config& cfg, store::store& st, receipt_sink sink) : cfg_(cfg), store_(st), sink_(std::move(sink)) {}
    void loop();
    const config::config& cfg_;
    store::store& store_;
    receipt_sink sink_;
    std::map<std::string, std::unique_ptr<adapters::endpoint>> endpoints_;
    std::map<std::string, int> max_attempts_, concurrency_;
    // The lanes' threads, made at the first round and kept: a round used to start (and join) a thread per lane.
    // After endpoints_ so that they go first.
    std::unique_ptr<worker_pool> lanes_;
    struct rest {
        store::millis until = 0;
        int trips = 0;
    };
    std::mutex rest_mu_;
    std::map<std::string, rest> resting_;  // endpoint → resting until (after a failed attempt)
    bool is_resting(const std::string& endpoint, store::millis now);
    void trip(const std::string& endpoint);
    void recovered(const std::string& endpoint);
    bool woken_ = false;
    std::vector<std::unique_ptr<adapters::client_folder::client_folder_reader>> readers_;
    counter *sent_ = nullptr, *retried_ = nullptr, *dead_ = nullptr, *rejected_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace portgate::delivery
