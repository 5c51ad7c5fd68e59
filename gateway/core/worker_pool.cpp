// Fixed-size thread pool over one bounded FIFO.
#include "gateway/core/worker_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace portgate {

worker_pool::worker_pool(unsigned threads, std::size_t capacity, int nice) : capacity_(capacity ? capacity : 1) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this, nice] {
            // Intake work yields to the threads that finish what was accepted (store writer, outbox sender,
            // notifier, I/O): under full load the outbox keeps up instead of growing behind new intake. Raising
            // a thread's nice value needs no privilege; it only weighs the CPU share when the cores are busy.
            // 10, not 5, since intake became twice as fast: at 5 a saturated gateway sent ~250 ms (p99 ~600 ms)
            // behind intake, at 10 ~10 ms (p99 50–90 ms) for the same messages per second (docs/benchmarks.md).
            if (nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
            run();
        });
}

worker_pool::~worker_pool() { stop(); }

bool worker_pool::try_post(job j) {
    {
        std::lock_guard lk(mu_);
        if (stopping_ || jobs_.size() >= capacity_) return false;
        jobs_.push_back(std::move(j));
        backlog_->store(jobs_.size(), std::memory_order_relaxed);
    }
    has_work_.notify_one();
    return true;
}

bool worker_pool::post_wait(job j) {
    {
        std::unique_lock lk(mu_);
        has_room_.wait(lk, [&] { return stopping_ || jobs_.size() < capacity_; });
        if (stopping_) return false;
        jobs_.push_back(std::move(j));
        backlog_->store(jobs_.size(), std::memory_order_relaxed);
    }
    has_work_.notify_one();
    return true;
}

void worker_pool::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    has_work_.notify_all();
    has_room_.notify_all();
    for (auto& t : threads_)
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
}

std::size_t worker_pool::queued() const {
    std::lock_guard lk(mu_);
    return jobs_.size();
}

void worker_pool::run() {
    for (;;) {
        job j;
        {
            std::unique_lock lk(mu_);
            has_work_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping and drained
            j = std::move(jobs_.front());
            jobs_.pop_front();
            backlog_->store(jobs_.size(), std::memory_order_relaxed);
        }
        has_room_.notify_one();
        j();
    }
}

}  // namespace portgate
