// Delivery to customs: the outbox (store) holds every customs message to send with its CopMsgId; this thread
// sends the due ones through their endpoint adapter (adapters/: HTTPS with mTLS, the client's folders, DXP
// envelope), retries with exponential back-off and jitter up to the endpoint's limit, then dead letter. An
// answer the endpoint returns at once (a DxpRep) is taken in as a receipt like any other.
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
#include "gateway/store/store.hpp"

namespace portgate::delivery {

class sender {
public:
    // Takes a receipt in (stored when it returns ok); used for DxpRep answers and the client's InBox files.
    using receipt_sink = std::function<status(std::string bytes, std::string source)>;
    // Creates an adapter per [[endpoint]] (certificates and keys load now: errors name the endpoint).
    static result<std::unique_ptr<sender>> create(const config::config& cfg, store::store& st, metrics& m, receipt_sink sink);
    ~sender();
    void start();
    void stop();
    std::size_t run_once();

private:
    sender(const config::config& cfg, store::store& st, receipt_sink sink) : cfg_(cfg), store_(st), sink_(std::move(sink)) {}
    void loop();
    const config::config& cfg_;
    store::store& store_;
    receipt_sink sink_;
    std::map<std::string, std::unique_ptr<adapters::endpoint>> endpoints_;
    std::map<std::string, int> max_attempts_;
    std::vector<std::unique_ptr<adapters::client_folder::client_folder_reader>> readers_;
    counter *sent_ = nullptr, *retried_ = nullptr, *dead_ = nullptr, *rejected_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace portgate::delivery
