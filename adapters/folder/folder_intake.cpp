// inotify-driven folder intake with claim-by-rename and archive/error outcomes.
#include "adapters/folder/folder_intake.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/core/digest.hpp"

namespace portgate::adapters {
namespace {

namespace fs = std::filesystem;
constexpr auto rescan_every = std::chrono::seconds(3);
constexpr auto settle_time = std::chrono::seconds(2);

std::string read_file(const fs::path& p, std::size_t limit, errc& code, std::string& why) {
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (ec) {
        code = errc::io_error;
        why = fmt::format("cannot read {}: {}", p.filename().string(), ec.message());
        return {};
    }
    if (size > limit) {
        code = errc::payload_too_large;
        why = fmt::format("file of {} bytes is over the limit of {} bytes", size, limit);
        return {};
    }
    std::ifstream in(p, std::ios::binary);
    std::string bytes(size, '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
        code = errc::io_error;
        why = fmt::format("cannot read {}", p.filename().string());
        return {};
    }
    code = errc::ok;
    return bytes;
}

// Moves `from` into `dir`, keeping the name unless it is taken (then `<name>.<suffix>`).
fs::path move_into(const fs::path& from, const fs::path& dir, const std::string& suffix) {
    fs::path to = dir / from.filename();
    std::error_code ec;
    if (fs::exists(to, ec)) to = dir / (from.filename().string() + "." + suffix);
    fs::rename(from, to, ec);
    if (ec) spdlog::error("folder: cannot move {} to {}: {}", from.string(), to.string(), ec.message());
    return to;
}

void write_atomically(const fs::path& p, const std::string& text) {
    fs::path tmp = p.parent_path() / ("." + p.filename().string() + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
    }
    std::error_code ec;
    fs::rename(tmp, p, ec);
}

}  // namespace

bool folder_intake::ignored_name(std::string_view n) {
    if (n.empty() || n.front() == '.' || n.front() == '~') return true;
    for (std::string_view suf : {".tmp", ".part", ".partial", ".swp", ".err.json"})
        if (n.size() >= suf.size() && n.substr(n.size() - suf.size()) == suf) return true;
    return false;
}

folder_intake::folder_intake(const config::config& cfg, intake::pipeline& p, worker_pool& workers, metrics& m)
    : cfg_(cfg), pipeline_(p), workers_(workers), metrics_(m) {}

folder_intake::~folder_intake() { stop(); }

status folder_intake::start() {
    for (auto& p : cfg_.partners)
        for (auto& d : p.inboxes) {
            std::error_code ec;
            for (auto sub : {fs::path(), fs::path(".work"), fs::path("archive"), fs::path("error")}) {
                fs::create_directories(d / sub, ec);
                if (ec) return error(errc::io_error, fmt::format("cannot create {}: {}", (d / sub).string(), ec.message()));
            }
            inboxes_.push_back({&p, d});
        }
    if (inboxes_.empty()) return ok();
    inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (inotify_fd_ < 0 || wake_fd_ < 0) return error(errc::io_error, fmt::format("inotify: {}", std::strerror(errno)));
    for (auto& in : inboxes_) {
        in.watch = inotify_add_watch(inotify_fd_, in.dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
        if (in.watch < 0) return error(errc::io_error, fmt::format("cannot watch {}: {}", in.dir.string(), std::strerror(errno)));
        spdlog::info("folder: watching {} for partner {}", in.dir.string(), in.partner->id);
    }
    // Files claimed before a crash are taken again first; the idempotency key makes that safe.
    for (auto& in : inboxes_) scan(in, true, false);
    thread_ = std::thread([this] { run(); });
    return ok();
}

void folder_intake::stop() {
    if (stopping_.exchange(true)) return;
    if (wake_fd_ >= 0) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    {
        std::unique_lock lk(mu_);
        idle_.wait(lk, [&] { return active_.empty(); });
    }
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    inotify_fd_ = wake_fd_ = -1;
}

std::size_t folder_intake::in_progress() const {
    std::lock_guard lk(mu_);
    return active_.size();
}

void folder_intake::run() {
    alignas(inotify_event) char buf[64 * 1024];
    auto last_scan = std::chrono::steady_clock::now();
    while (!stopping_) {
        pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int n = ::poll(fds, 2, 1000);
        if (stopping_) break;
        if (n > 0 && (fds[0].revents & POLLIN)) {
            ssize_t len;
            while ((len = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
                for (char* p = buf; p < buf + len;) {
                    auto* ev = reinterpret_cast<inotify_event*>(p);
                    p += sizeof(inotify_event) + ev->len;
                    if (ev->mask & IN_Q_OVERFLOW) {
                        for (auto& in : inboxes_) scan(in, false, false);
                        continue;
                    }
                    if ((ev->mask & IN_ISDIR) || ev->len == 0) continue;
                    std::string name(ev->name);
                    if (ignored_name(name)) continue;
                    for (auto& in : inboxes_)
                        if (in.watch == ev->wd) claim(in, name);
                }
            }
        }
        if (std::chrono::steady_clock::now() - last_scan >= rescan_every) {
            for (auto& in : inboxes_) scan(in, true, true);
            last_scan = std::chrono::steady_clock::now();
        }
    }
}

void folder_intake::scan(const inbox& in, bool include_work, bool only_settled) {
    std::error_code ec;
    auto now = fs::file_time_type::clock::now();
    if (include_work) {
        for (auto& e : fs::directory_iterator(in.dir / ".work", ec)) {
            std::string name = e.path().filename().string();
            if (!e.is_regular_file() || ignored_name(name)) continue;
            {
                std::lock_guard lk(mu_);
                if (active_.count((in.dir / name).string())) continue;
            }
            process(in, name);
        }
    }
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(in.dir, ec)) {
        std::string name = e.path().filename().string();
        if (!e.is_regular_file() || ignored_name(name)) continue;
        if (only_settled) {
            auto t = fs::last_write_time(e.path(), ec);
            if (ec || now - t < settle_time) continue;
        }
        names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) claim(in, n);
}

void folder_intake::claim(const inbox& in, const std::string& name) {
    std::error_code ec;
    fs::path work = in.dir / ".work" / name;
    if (fs::exists(work, ec)) return;  // a file of that name is still being processed; the rescan retries
    fs::rename(in.dir / name, work, ec);
    if (ec) return;  // gone already (claimed elsewhere) or not ours to take
    process(in, name);
}

void folder_intake::process(const inbox& in, const std::string& name) {
    {
        std::lock_guard lk(mu_);
        if (!active_.insert((in.dir / name).string()).second) return;
    }
    const inbox* inp = &in;
    bool posted = workers_.post_wait([this, inp, name] {
        fs::path work = inp->dir / ".work" / name;
        errc code;
        std::string why;
        std::string bytes = read_file(work, cfg_.server.max_body_bytes, code, why);
        if (code != errc::ok) {
            intake::outcome o;
            o.code = code;
            o.message = why;
            return finish(*inp, name, o);
        }
        intake::submission s;
        s.partner = inp->partner;
        s.channel = "folder";
        s.source_name = name;
        s.idempotency_key = "file:" + name + ":" + sha256_hex(bytes);
        s.bytes = std::move(bytes);
        pipeline_.process(std::move(s), [this, inp, name](intake::outcome o) { finish(*inp, name, o); });
    });
    if (!posted) {
        std::lock_guard lk(mu_);
        active_.erase((in.dir / name).string());
        idle_.notify_all();
    }
}

void folder_intake::finish(const inbox& in, const std::string& name, const intake::outcome& o) {
    fs::path work = in.dir / ".work" / name;
    if (!o.stored && is_retryable(o.code)) {
        // Could not decide (store or I/O failure): the file stays claimed and the rescan retries it.
        spdlog::warn("folder: {} for partner {} will be retried: {}", name, in.partner->id, o.message);
    } else if (o.stored && o.code == errc::ok && o.state != "REJECTED") {
        move_into(work, in.dir / "archive", o.id);
        metrics_.counter_for("portgate_folder_files_total", fmt::format("partner=\"{}\",outcome=\"archived\"", in.partner->id)).inc();
    } else {
        fs::path moved = move_into(work, in.dir / "error", o.id.empty() ? "dup" : o.id);
        nlohmann::json j{{"file", name}, {"code", code_string(o.code)}, {"name", std::string(code_name(o.code))}, {"error", o.message}};
        if (o.duplicate) j["error"] = fmt::format("this file was taken in before as message {}, which was rejected", o.id);
        if (!o.id.empty()) j["id"] = o.id;
        if (!o.problems.empty()) j["errors"] = nlohmann::json::parse(intake::problems_json(o.problems));
        write_atomically(moved.parent_path() / (moved.filename().string() + ".err.json"),
                         j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        metrics_.counter_for("portgate_folder_files_total", fmt::format("partner=\"{}\",outcome=\"error\"", in.partner->id)).inc();
    }
    std::lock_guard lk(mu_);
    active_.erase((in.dir / name).string());
    idle_.notify_all();
}

}  // namespace portgate::adapters
