// The rate limit of one signing identity: a token bucket (as GCRA) that makes callers wait for their
// turn instead of failing — back-pressure for a USB key that manages a few signatures a second.
#pragma once

#include <chrono>
#include <mutex>

namespace portgate::sign {

class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    // per_minute <= 0: unlimited. burst: signatures allowed back to back (at least 1).
    explicit token_bucket(double per_minute = 0, int burst = 1);

    bool unlimited() const { return interval_.count() == 0; }

    // Takes the next slot and returns how long the caller must wait before using it (zero when it may
    // go at once). Slots are handed out in call order, so waiting callers stay fair. Pure bookkeeping:
    // `now` is injected so tests need no sleeping.
    clock::duration reserve(clock::time_point now);

    // reserve(clock::now()) and sleep for the answer. Returns the time waited.
    clock::duration acquire();

private:
    std::mutex mutex_;
    clock::duration interval_{0};     // one token
    clock::duration tolerance_{0};    // (burst - 1) * interval
    clock::time_point tat_{};         // theoretical arrival time of the next conforming call
    bool started_ = false;
};

}  // namespace portgate::sign
