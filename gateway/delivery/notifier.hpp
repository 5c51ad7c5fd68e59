// Partner delivery: every receipt status that moved one of a partner's documents became a notification row
// in the store (one per channel, in the receipt's transaction). This thread maps each (the partner's reverse
// mapping: JSON or XML) and delivers it — webhook (POST with an HMAC-SHA256 signature over timestamp and
// body, retried with exponential back-off and jitter, then dead letter), folder drop (temp file, fsync,
// rename), or the pull mailbox (GET /v1/mailbox, POST /v1/mailbox/ack). At least once; the delivery id in
// the webhook header lets the partner drop repeats.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/config/config.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/mapping/engine.hpp"
#include "gateway/store/store.hpp"
#include "gateway/validation/checker.hpp"

namespace portgate::delivery {

// "sha256=<hex>" of HMAC-SHA256(secret, timestamp + "." + body) — the X-Portgate-Signature header value.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

class notifier {
public:
    notifier(const config::config& cfg, store::store& st, std::shared_ptr<const validation::knowledge> k,
             std::shared_ptr<const mapping::library> lib, metrics& m);
    ~notifier();
    void start();
    void stop();
    void wake();
    // Processes the notifications due now (tests call it directly); returns how many were handled.
    std::size_t run_once();

private:
    void loop();
    store::notification_change handle(const store::notification_job& j);
    const config::config& cfg_;
    store::store& store_;
    std::shared_ptr<const validation::knowledge> knowledge_;
    std::shared_ptr<const mapping::library> lib_;
    counter* delivered_;
    counter* failed_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false, woken_ = false;
    std::thread thread_;
};

}  // namespace portgate::delivery
