// GCRA form of the token bucket: one timestamp instead of a token count, so a reservation is O(1) and
// the wait for the n-th queued caller is exact.
#include "gateway/sign/token_bucket.hpp"

#include <algorithm>
#include <thread>

namespace portgate::sign {

token_bucket::token_bucket(double per_minute, int burst) {
    if (per_minute > 0) {
        interval_ = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(60.0 / per_minute));
        if (interval_.count() <= 0) interval_ = clock::duration(1);
        tolerance_ = interval_ * (std::max(burst, 1) - 1);
    }
}

token_bucket::clock::duration token_bucket::reserve(clock::time_point now) {
    if (unlimited()) return clock::duration::zero();
    std::lock_guard lock(mutex_);
    if (!started_) {
        tat_ = now;
        started_ = true;
    }
    const auto base = std::max(tat_, now);
    const auto allowed_at = base - tolerance_;
    tat_ = base + interval_;
    return allowed_at > now ? allowed_at - now : clock::duration::zero();
}

token_bucket::clock::duration token_bucket::acquire() {
    const auto wait = reserve(clock::now());
    if (wait > clock::duration::zero()) std::this_thread::sleep_for(wait);
    return wait;
}

}  // namespace portgate::sign
