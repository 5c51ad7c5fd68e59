// Process metrics in Prometheus text format: labelled counters, gauges read at scrape time, and
// latency histograms. Hot paths hold a pointer to their series and only touch atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace portgate {

class counter {
public:
    void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }
private:
    std::atomic<std::uint64_t> v_{0};
};

class histogram {
public:
    // Upper bounds in seconds: 100 µs … 10 s.
    static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                   0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0};
    void observe(double seconds);
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
private:
    friend class metrics;
    std::array<std::atomic<std::uint64_t>, bounds.size()> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_us_{0};
};

class metrics {
public:
    // `labels` is the Prometheus label text without braces, e.g. partner="demo-shop",outcome="accepted".
    counter& counter_for(const std::string& name, const std::string& labels = {});
    histogram& histogram_for(const std::string& name, const std::string& labels = {});
    void gauge(const std::string& name, std::function<double()> read);
    void help(const std::string& name, const std::string& text);
    std::string render() const;

private:
    mutable std::mutex mu_;
    std::map<std::string, std::map<std::string, std::unique_ptr<counter>>> counters_;
    std::map<std::string, std::map<std::string, std::unique_ptr<histogram>>> histograms_;
    std::map<std::string, std::function<double()>> gauges_;
    std::map<std::string, std::string> help_;
};

}  // namespace portgate
