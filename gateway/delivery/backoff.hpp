// Exponential back-off with jitter for retried deliveries (customs outbox, partner webhooks).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace portgate::delivery {

// Milliseconds to wait before attempt `attempts` + 1: first_seconds · 2^(attempts−1), at most five minutes,
// times a random factor in [0.5, 1.5) so that many failed deliveries do not come back in step.
inline std::int64_t backoff_ms(int attempts, double first_seconds) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    double base = std::min(300.0, first_seconds * std::pow(2.0, std::clamp(attempts - 1, 0, 12)));
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return static_cast<std::int64_t>(base * jitter(rng) * 1000);
}

}  // namespace portgate::delivery
