// Folder intake: each partner's inbox is watched with inotify (and scanned at start and every few
// seconds for anything missed). A file is claimed by an atomic rename into `.work/`, processed exactly
// like an HTTP submission, and moved to `archive/` once stored, or to `error/` with `<name>.err.json`.
// Writers must create files under a temporary name (`*.tmp`, `*.part`, or a dotfile) and rename them
// into place; such names are never read.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/core/worker_pool.hpp"
#include "gateway/intake/intake.hpp"

namespace portgate::adapters {

class folder_intake {
public:
    folder_intake(const config::config& cfg, intake::pipeline& p, worker_pool& workers, metrics& m);
    ~folder_intake();

    // Creates the folders, claims what is already there, starts watching.
    status start();
    // Stops watching and waits until every claimed file has been archived or moved to error/.
    void stop();

    std::size_t in_progress() const;

    // True for names that are never picked up (temporary or hidden).
    static bool ignored_name(std::string_view name);

private:
    struct inbox {
        const config::partner* partner;
        std::filesystem::path dir;
        int watch = -1;
    };
    void run();
    void scan(const inbox& in, bool include_work, bool only_settled);
    void claim(const inbox& in, const std::string& name);
    void process(const inbox& in, const std::string& name);
    void finish(const inbox& in, const std::string& name, const intake::outcome& o);

    const config::config& cfg_;
    intake::pipeline& pipeline_;
    worker_pool& workers_;
    metrics& metrics_;
    std::vector<inbox> inboxes_;
    int inotify_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    mutable std::mutex mu_;
    std::condition_variable idle_;
    std::set<std::string> active_;  // "<dir>/<name>" being processed
};

}  // namespace portgate::adapters
