// Prometheus text exposition of portgate's metrics.
#include "gateway/core/metrics.hpp"

#include <fmt/format.h>

namespace portgate {

void histogram::observe(double seconds) {
    for (std::size_t i = 0; i < bounds.size(); ++i)
        if (seconds <= bounds[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

counter& metrics::counter_for(const std::string& name, const std::string& labels) {
    std::lock_guard lk(mu_);
    auto& slot = counters_[name][labels];
    if (!slot) slot = std::make_unique<counter>();
    return *slot;
}

histogram& metrics::histogram_for(const std::string& name, const std::string& labels) {
    std::lock_guard lk(mu_);
    auto& slot = histograms_[name][labels];
    if (!slot) slot = std::make_unique<histogram>();
    return *slot;
}

void metrics::gauge(const std::string& name, std::function<double()> read) {
    std::lock_guard lk(mu_);
    gauges_[name] = std::move(read);
}

void metrics::help(const std::string& name, const std::string& text) {
    std::lock_guard lk(mu_);
    help_[name] = text;
}

std::string metrics::render() const {
    std::lock_guard lk(mu_);
    std::string out;
    auto head = [&](const std::string& name, const char* type) {
        if (auto it = help_.find(name); it != help_.end()) out += fmt::format("# HELP {} {}\n", name, it->second);
        out += fmt::format("# TYPE {} {}\n", name, type);
    };
    auto braced = [](const std::string& labels) { return labels.empty() ? std::string() : "{" + labels + "}"; };
    for (auto& [name, series] : counters_) {
        head(name, "counter");
        for (auto& [labels, c] : series) out += fmt::format("{}{} {}\n", name, braced(labels), c->value());
    }
    std::string last_base;
    for (auto& [name, read] : gauges_) {
        // A gauge may carry labels in its name (name{label="v"}): one TYPE line per base name.
        std::string base = name.substr(0, name.find('{'));
        if (base != last_base) head(base, "gauge");
        last_base = base;
        out += fmt::format("{} {}\n", name, read());
    }
    for (auto& [name, series] : histograms_) {
        head(name, "histogram");
        for (auto& [labels, h] : series) {
            std::string sep = labels.empty() ? "" : labels + ",";
            std::uint64_t cum = 0;
            for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
                cum += h->buckets_[i].load(std::memory_order_relaxed);
                out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, sep, histogram::bounds[i], cum);
            }
            out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, sep, h->count());
            out += fmt::format("{}_sum{} {}\n", name, braced(labels), h->sum_us_.load() / 1e6);
            out += fmt::format("{}_count{} {}\n", name, braced(labels), h->count());
        }
    }
    return out;
}

}  // namespace portgate
