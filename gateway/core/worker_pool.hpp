// The worker pool where all heavy work runs (parsing, validation, later mapping and signing), never on
// I/O threads. Its queue is bounded: try_post refuses when full, which the API answers with 503.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace portgate {

class worker_pool {
public:
    using job = std::function<void()>;

    // `nice`: the threads' nice value (intake work yields to the threads that finish what was accepted: 10;
    // those threads themselves, e.g. the sender's lanes: 0).
    worker_pool(unsigned threads, std::size_t capacity, int nice = 10);
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    // False when the queue holds `capacity` jobs already, or the pool is stopping.
    bool try_post(job j);
    // Blocks while the queue is full (for producers that must not drop work, e.g. folder intake).
    bool post_wait(job j);
    // Runs every queued job, then joins the threads. Idempotent.
    void stop();

    std::size_t queued() const;
    // The number of jobs waiting for a thread, readable without the pool's lock and after the pool is gone
    // (the store's writer reads it: a backlog here means the cores are saturated).
    std::shared_ptr<const std::atomic<std::size_t>> backlog() const { return backlog_; }
    std::size_t capacity() const { return capacity_; }
    unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

private:
    void run();
    mutable std::mutex mu_;
    std::condition_variable has_work_, has_room_;
    std::deque<job> jobs_;
    std::shared_ptr<std::atomic<std::size_t>> backlog_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::size_t capacity_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace portgate
