// End-to-end load benchmark of the CBEC import inventory list (CEB621): a real `portgate serve` process and a
// real customs simulator over HTTPS (--accept-all: DxpRep 0000 without checking), a keep-alive Beast load
// generator posting distinct lists, then the store is read (read-only) to see when each one was SENT.
// Prints accepted and delivered messages/s, latencies intake→stored and intake→sent, CPU per message and
// peak RSS of both processes; asserts nothing. With --rate the load is open loop and a request's latency
// counts from the time it was due, not from when a connection got round to it.
//   e2e_bench [--alg sm2|ecdsa|rsa] [--workers N] [--items N] [--connections C] [--threads T]
//             [--seconds S] [--warmup S] [--rate R] [--drain-timeout S] [--mtls]
//             [--root DIR] [--data-dir DIR] [--json-out FILE --label L] [--keep]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "gateway/config/config.hpp"

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

double wall_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A TOML basic string (paths of this run are written into the generated configuration).
std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// ---------------------------------------------------------------------------------------------------
// Child processes: the gateway and the simulator, their stdout/stderr in files, CPU and RSS from /proc.

class child_process {
public:
    child_process(std::string name, fs::path logdir) : name_(std::move(name)), out_(logdir / (name_ + ".out")), err_(logdir / (name_ + ".err")) {}
    ~child_process() { kill_now(); }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    void start(const std::vector<std::string>& args) {
        std::fflush(nullptr);
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            if (!freopen(out_.c_str(), "w", stdout) || !freopen(err_.c_str(), "w", stderr)) _exit(126);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }

    // Waits for a stdout line starting with `prefix`; returns the rest of that line.
    std::string wait_line(const std::string& prefix, std::chrono::milliseconds timeout) {
        auto deadline = steady::now() + timeout;
        while (steady::now() < deadline) {
            std::string text = slurp(out_);
            auto p = text.find(prefix);
            if (p != std::string::npos) {
                auto nl = text.find('\n', p);
                if (nl != std::string::npos) return text.substr(p + prefix.size(), nl - p - prefix.size());
            }
            int st = 0;
            if (waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error(fmt::format("{} exited at start:\n{}{}", name_, slurp(out_), slurp(err_)));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        throw std::runtime_error(fmt::format("{} did not print '{}' within {} ms:\n{}", name_, prefix, timeout.count(), slurp(err_)));
    }

    // SIGTERM, then SIGKILL after `grace`. Returns the exit status, or -signal.
    int terminate(std::chrono::milliseconds grace) {
        if (pid_ <= 0) return -1;
        ::kill(pid_, SIGTERM);
        int st = 0;
        auto deadline = steady::now() + grace;
        while (waitpid(pid_, &st, WNOHANG) != pid_) {
            if (steady::now() > deadline) {
                ::kill(pid_, SIGKILL);
                waitpid(pid_, &st, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }

    void kill_now() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
    }

    bool alive() {
        if (pid_ <= 0) return false;
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }

    // utime + stime in seconds (/proc/<pid>/stat fields 14 and 15).
    double cpu_seconds() const {
        std::string s = slurp(fmt::format("/proc/{}/stat", pid_));
        auto close = s.rfind(')');
        if (close == std::string::npos) return 0;
        std::istringstream in(s.substr(close + 2));
        std::vector<std::string> f;
        for (std::string w; in >> w;) f.push_back(w);
        if (f.size() < 13) return 0;
        return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }

    // A "Key:   N kB" line of /proc/<pid>/status, in kB.
    long status_kb(const std::string& key) const {
        std::ifstream in(fmt::format("/proc/{}/status", pid_));
        for (std::string line; std::getline(in, line);)
            if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
        return 0;
    }

    pid_t pid() const { return pid_; }
    const fs::path& err_file() const { return err_; }

private:
    std::string name_;
    fs::path out_, err_;
    pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------------------------------
// The documents: the CEB621 sample with N InventoryList lines (gnum 1..N, the sample's five lines in turn)
// and, per request, its own guids, orderNo, copNo and logisticsNo. The document is cut once into the fixed
// text between the varying values, so a request costs a few string appends.

class inventory_generator {
public:
    inventory_generator(const std::string& sample, int items, std::uint64_t run_token) : token_(run_token) {
        const std::string open = "<ceb:InventoryList>", close = "</ceb:InventoryList>";
        auto first = sample.find(open);
        auto last = sample.rfind(close);
        if (first == std::string::npos || last == std::string::npos) throw std::runtime_error("the sample has no InventoryList");
        auto line_start = sample.rfind('\n', first) + 1;
        std::string indent = sample.substr(line_start, first - line_start);
        std::vector<std::string> lines;
        for (auto p = first; p != std::string::npos && p <= last; p = sample.find(open, p + 1))
            lines.push_back(sample.substr(p, sample.find(close, p) + close.size() - p));

        // Lines 1..N; the head's weights follow the lines (kilogram quantities), so net ≤ gross holds at any N.
        std::string body;
        double net_kg = 0;
        for (int i = 1; i <= items; ++i) {
            std::string line = lines[static_cast<std::size_t>(i - 1) % lines.size()];
            line = replace_value(line, "gnum", std::to_string(i));
            if (value_of(line, "unit1") == "035") net_kg += std::stod(value_of(line, "qty1"));
            else net_kg += 0.05;  // pieces: a small packed weight each
            body += (i == 1 ? "" : "\n" + indent) + line;
        }
        std::string doc = sample.substr(0, first) + body + sample.substr(last + close.size());
        doc = replace_value(doc, "netWeight", fmt::format("{:.2f}", net_kg));
        doc = replace_value(doc, "grossWeight", fmt::format("{:.2f}", net_kg * 1.2 + 0.1));

        // Cut points of the values that change per request, in document order.
        struct cut {
            std::size_t at, len;
            int field;
        };
        std::vector<cut> cuts;
        auto root_guid = doc.find(" guid=\"") + 7;
        cuts.push_back({root_guid, doc.find('"', root_guid) - root_guid, 0});
        int field = 1;
        for (const char* name : {"guid", "orderNo", "logisticsNo", "copNo"}) {
            auto a = doc.find(fmt::format("<ceb:{}>", name));
            if (a == std::string::npos) throw std::runtime_error(fmt::format("the sample has no {}", name));
            a += std::strlen(name) + 6;
            cuts.push_back({a, doc.find('<', a) - a, field++});
        }
        std::sort(cuts.begin(), cuts.end(), [](const cut& x, const cut& y) { return x.at < y.at; });
        std::size_t pos = 0;
        for (auto& c : cuts) {
            fixed_.push_back(doc.substr(pos, c.at - pos));
            order_.push_back(c.field);
            pos = c.at + c.len;
        }
        fixed_.push_back(doc.substr(pos));
        size_ = doc.size();
    }

    // The k-th document of this run: no two share a guid, orderNo, copNo or logisticsNo.
    std::string make(std::uint64_t k) const {
        std::string values[5] = {
            guid(k, 0),
            guid(k, 1),
            fmt::format("EB{:08}{:010}", token_, k),  // orderNo (≤ 60)
            fmt::format("SD{:08}{:010}", token_, k),  // logisticsNo (≤ 60)
            fmt::format("C{:08}{:07}", token_, k % 10'000'000),  // copNo (≤ 20)
        };
        std::string out;
        out.reserve(size_ + 64);
        for (std::size_t i = 0; i < order_.size(); ++i) {
            out += fixed_[i];
            out += values[order_[i]];
        }
        out += fixed_.back();
        return out;
    }

    std::size_t size() const { return size_; }

private:
    static std::string value_of(const std::string& xml, const std::string& name) {
        auto a = xml.find("<ceb:" + name + ">");
        if (a == std::string::npos) return {};
        a += name.size() + 6;
        return xml.substr(a, xml.find('<', a) - a);
    }
    static std::string replace_value(std::string xml, const std::string& name, const std::string& v) {
        auto a = xml.find("<ceb:" + name + ">");
        if (a == std::string::npos) throw std::runtime_error("the sample has no " + name);
        a += name.size() + 6;
        return xml.replace(a, xml.find('<', a) - a, v);
    }
    // 36 characters of [0-9A-F-] (the CEB Guid type).
    std::string guid(std::uint64_t k, int which) const {
        return fmt::format("{:08X}-{:04X}-4{:03X}-A{:03X}-{:012X}", token_ & 0xffffffffu, (k >> 48) & 0xffff,
                           static_cast<unsigned>(getpid()) & 0xfff, static_cast<unsigned>(which), k & 0xffffffffffffULL);
    }

    std::uint64_t token_;
    std::vector<std::string> fixed_;
    std::vector<int> order_;
    std::size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// The load generator: C keep-alive connections spread over T threads, each an async loop
// (connect → write → read → next). Closed loop by default; with a rate, request k is due at
// start + k / rate (open loop) and its latency counts from that due time.

struct load_plan {
    std::string host, port, key;
    const inventory_generator* docs = nullptr;
    double rate = 0;  // 0 = closed loop
    steady::time_point start, measure_from, end;
};

struct accepted_request {
    std::string id;
    double sent_wall_ms = 0;
};

struct thread_tally {
    std::vector<double> latency_ms;       // requests due inside the measured window, answered 202
    std::vector<accepted_request> accepted;  // every 202 (warm-up included): the messages to see SENT
    std::uint64_t ok_in_window = 0, ok_total = 0, other_status = 0, io_errors = 0;
};

struct shared_state {
    std::atomic<std::uint64_t> ticket{0};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> io_errors{0};
    std::mutex mu;
    std::string first_error, sample_response;
    std::map<unsigned, std::uint64_t> statuses;
    void note_error(const std::string& what) {
        std::lock_guard lk(mu);
        if (first_error.empty()) first_error = what;
    }
};

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(net::io_context& ioc, tcp::resolver::results_type eps, const load_plan& plan, shared_state& sh, thread_tally& t)
        : eps_(std::move(eps)), stream_(ioc), timer_(ioc), plan_(plan), sh_(sh), tally_(t) {
        req_ = {http::verb::post, "/v1/messages", 11};
        req_.set(http::field::host, plan.host);
        req_.set(http::field::authorization, "Bearer " + plan.key);
        req_.set(http::field::content_type, "application/xml");
        req_.keep_alive(true);
    }

    void run() { do_connect(); }

private:
    void do_connect() {
        stream_.expires_after(std::chrono::seconds(10));
        stream_.async_connect(eps_, beast::bind_front_handler(&connection::on_connect, shared_from_this()));
    }
    void on_connect(beast::error_code ec, const tcp::endpoint&) {
        if (ec) return fail("connect", ec);
        do_next();
    }
    void do_next() {
        if (sh_.stop.load(std::memory_order_relaxed)) return close();
        k_ = sh_.ticket.fetch_add(1, std::memory_order_relaxed);
        if (plan_.rate <= 0) return do_send(steady::now());
        auto due = plan_.start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(static_cast<double>(k_) / plan_.rate));
        if (due >= plan_.end) return close();
        timer_.expires_at(due);
        timer_.async_wait([self = shared_from_this(), due](beast::error_code ec) {
            if (ec) return self->close();
            self->do_send(due);
        });
    }
    void do_send(steady::time_point due) {
        due_ = due;
        req_.body() = plan_.docs->make(k_);
        req_.prepare_payload();
        sent_wall_ = wall_ms() - std::chrono::duration<double, std::milli>(steady::now() - due).count();
        stream_.expires_after(std::chrono::seconds(60));
        http::async_write(stream_, req_, beast::bind_front_handler(&connection::on_write, shared_from_this()));
    }
    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return fail("write", ec);
        res_ = {};
        http::async_read(stream_, buf_, res_, beast::bind_front_handler(&connection::on_read, shared_from_this()));
    }
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return fail("read", ec);
        auto done = steady::now();
        unsigned st = res_.result_int();
        if (st == 202) {
            ++tally_.ok_total;
            if (done >= plan_.measure_from && done <= plan_.end) ++tally_.ok_in_window;
            if (due_ >= plan_.measure_from && due_ < plan_.end)
                tally_.latency_ms.push_back(std::chrono::duration<double, std::milli>(done - due_).count());
            const std::string& b = res_.body();
            auto p = b.find("\"id\":\"");
            if (p != std::string::npos) {
                p += 6;
                tally_.accepted.push_back({b.substr(p, b.find('"', p) - p), sent_wall_});
            } else {
                sh_.note_error("202 without a message id: " + b);
            }
            if (k_ == 0) {
                std::lock_guard lk(sh_.mu);
                sh_.sample_response = fmt::format("{} {}", st, b);
            }
        } else {
            ++tally_.other_status;
            sh_.note_error(fmt::format("HTTP {}: {}", st, res_.body()));
        }
        {
            std::lock_guard lk(sh_.mu);
            ++sh_.statuses[st];
        }
        if (!res_.keep_alive()) {
            beast::error_code ignored;
            stream_.socket().close(ignored);
            buf_.clear();
            return do_connect();
        }
        do_next();
    }
    void fail(const char* what, beast::error_code ec) {
        ++tally_.io_errors;
        sh_.note_error(fmt::format("{}: {}", what, ec.message()));
        // A gateway that is gone would make this spin: give up after a few hundred failures in total.
        if (sh_.io_errors.fetch_add(1) > 200) sh_.stop = true;
        beast::error_code ignored;
        stream_.socket().close(ignored);
        buf_.clear();
        if (sh_.stop.load()) return;
        timer_.expires_after(std::chrono::milliseconds(50));
        timer_.async_wait([self = shared_from_this()](beast::error_code e) {
            if (!e) self->do_connect();
        });
    }
    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    tcp::resolver::results_type eps_;
    beast::tcp_stream stream_;
    net::steady_timer timer_;
    const load_plan& plan_;
    shared_state& sh_;
    thread_tally& tally_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
    beast::flat_buffer buf_;
    std::uint64_t k_ = 0;
    steady::time_point due_;
    double sent_wall_ = 0;
};

// One synchronous GET (the gateway's /metrics).
std::string http_get(const std::string& host, const std::string& port, const std::string& target) {
    try {
        net::io_context ioc;
        tcp::resolver r(ioc);
        beast::tcp_stream s(ioc);
        s.expires_after(std::chrono::seconds(5));
        s.connect(r.resolve(host, port));
        http::request<http::empty_body> req{http::verb::get, target, 11};
        req.set(http::field::host, host);
        http::write(s, req);
        beast::flat_buffer b;
        http::response<http::string_body> res;
        http::read(s, b, res);
        return res.body();
    } catch (const std::exception&) {
        return {};
    }
}

// ---------------------------------------------------------------------------------------------------
// The store, read-only while the gateway runs (WAL: readers never block its writer).

class store_reader {
public:
    explicit store_reader(const fs::path& db) {
        if (sqlite3_open_v2(db.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            throw std::runtime_error(fmt::format("cannot open {} read-only: {}", db.string(), sqlite3_errmsg(db_)));
        sqlite3_busy_timeout(db_, 2000);
    }
    ~store_reader() { sqlite3_close_v2(db_); }
    store_reader(const store_reader&) = delete;
    store_reader& operator=(const store_reader&) = delete;

    template <class Row>
    void each(const std::string& sql, std::int64_t arg, Row&& row) const {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
            throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db_)));
        sqlite3_bind_int64(s, 1, arg);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db_)));
    }
    std::int64_t scalar(const std::string& sql, std::int64_t arg = 0) const {
        std::int64_t v = 0;
        each(sql, arg, [&](sqlite3_stmt* s) { v = sqlite3_column_int64(s, 0); });
        return v;
    }

private:
    sqlite3* db_ = nullptr;
};

std::string text(sqlite3_stmt* s, int col) {
    auto p = sqlite3_column_text(s, col);
    return p ? reinterpret_cast<const char*>(p) : "";
}

struct outbox_counts {
    std::int64_t pending = 0, sent = 0, rejected = 0, dead = 0;
    std::int64_t settled() const { return sent + rejected + dead; }
};

outbox_counts count_outbox(const store_reader& db, std::int64_t after_seq) {
    outbox_counts c;
    db.each("SELECT state, COUNT(*) FROM outbox WHERE message_seq > ? GROUP BY state", after_seq, [&](sqlite3_stmt* s) {
        std::string st = text(s, 0);
        auto n = sqlite3_column_int64(s, 1);
        if (st == "sent") c.sent = n;
        else if (st == "rejected") c.rejected = n;
        else if (st == "dead") c.dead = n;
        else c.pending += n;
    });
    return c;
}

// ---------------------------------------------------------------------------------------------------

struct percentiles {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

percentiles summarize(std::vector<double> v) {
    percentiles p;
    p.n = v.size();
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
    p.p50 = at(0.5);
    p.p99 = at(0.99);
    p.p999 = at(0.999);
    p.max = v.back();
    double sum = 0;
    for (double x : v) sum += x;
    p.mean = sum / static_cast<double>(v.size());
    return p;
}

json to_json(const percentiles& p) {
    return {{"n", p.n}, {"p50", p.p50}, {"p99", p.p99}, {"p999", p.p999}, {"max", p.max}, {"mean", p.mean}};
}

// Mean seconds of a Prometheus histogram series (…_sum / …_count), or -1.
double histogram_mean(const std::string& metrics, const std::string& series) {
    auto value = [&](const std::string& name) -> double {
        auto p = metrics.find("\n" + name + " ");
        if (p == std::string::npos) return -1;
        return std::atof(metrics.c_str() + p + name.size() + 2);
    };
    auto [base, labels] = [&] {
        auto b = series.find('{');
        return b == std::string::npos ? std::pair{series, std::string()} : std::pair{series.substr(0, b), series.substr(b)};
    }();
    double sum = value(base + "_sum" + labels), count = value(base + "_count" + labels);
    return count > 0 ? sum / count : -1;
}

// CPU seconds of this process so far (the load generator).
double own_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

fs::path own_directory() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : p.parent_path();
}

// A binary next to this program (the same build), else <root>/build/bin.
fs::path find_binary(const std::string& name, const fs::path& root) {
    auto here = own_directory() / name;
    if (!own_directory().empty() && fs::exists(here)) return here;
    return root / "build" / "bin" / name;
}

struct options {
    std::string alg = "ecdsa";
    unsigned workers = 0;
    int items = 5, connections = 32, threads = 2;
    double seconds = 10, warmup = 1, rate = 0, drain_timeout = 15;
    std::string root = ".", data_dir, json_out, label, portgate, sim;
    bool keep = false, mtls = false;
    std::vector<std::string> store_options;  // extra `key = value` lines of [store], for experiments
    bool receipts = false;  // the simulator sends receipts back (callback); the partner gets them in its mailbox
};

int run(const options& o) {
    const fs::path root = fs::canonical(o.root);
    const fs::path portgate = o.portgate.empty() ? find_binary("portgate", root) : fs::path(o.portgate);
    const fs::path simulator = o.sim.empty() ? find_binary("portgate-customs-sim", root) : fs::path(o.sim);
    for (auto& b : {portgate, simulator})
        if (!fs::exists(b)) throw std::runtime_error(fmt::format("{} not found (build it, or name it with --portgate / --sim)", b.string()));

    std::random_device rd;
    const fs::path tmp = fs::temp_directory_path() / fmt::format("portgate-e2e-{}-{:x}", getpid(), rd());
    fs::create_directories(tmp);
    struct cleanup {
        fs::path dir;
        bool keep;
        ~cleanup() {
            std::error_code ec;
            if (keep) std::cout << fmt::format("kept {}\n", dir.string());
            else fs::remove_all(dir, ec);
        }
    } cleanup_tmp{tmp, o.keep};
    const fs::path data = o.data_dir.empty() ? tmp / "data" : fs::absolute(o.data_dir);
    const bool reused_store = fs::exists(data / "portgate.db");

    // 1. Keys: the signer's (tests/sign) and the TLS ones (tests/adapters); both scripts make a ca.pem.
    auto t_setup = steady::now();
    {
        // Both at once: most of their time is RSA key generation.
        auto cmd = fmt::format("bash '{0}/tests/sign/make_test_pki.sh' '{1}/sign' >'{1}/sign-pki.log' 2>&1 & p=$!; "
                               "bash '{0}/tests/adapters/make_tls_pki.sh' '{1}/tls' >'{1}/tls-pki.log' 2>&1; t=$?; wait $p; s=$?; "
                               "[ $s -eq 0 ] && [ $t -eq 0 ]",
                               root.string(), tmp.string());
        if (std::system(cmd.c_str()) != 0)
            throw std::runtime_error(fmt::format("making the test keys failed:\n{}{}", slurp(tmp / "sign-pki.log"), slurp(tmp / "tls-pki.log")));
    }
    struct algorithm {
        std::string name, key, cert;
    };
    const algorithm alg = o.alg == "sm2"     ? algorithm{"sm2-sm3", "sm2.key", "sm2.pem"}
                          : o.alg == "rsa"   ? algorithm{"rsa-sha256", "rsa.key", "rsa.pem"}
                                             : algorithm{"ecdsa-sha256", "ec.key", "ec.pem"};

    // 2. The simulator: the DXP front over HTTPS, answering 0000 without checking; no --callback, so the
    //    receipts it plans are dropped (counted as sent) and nothing comes back to the gateway.
    child_process sim("sim", tmp);
    std::vector<std::string> sim_args{simulator.string(), "--https", "--listen", "127.0.0.1:0", "--cert", (tmp / "tls/server.pem").string(),
                                      "--key", (tmp / "tls/server.key").string(), "--accept-all", "--seed", "1",
                                      "--xsd-dir", (root / "xsd").string(), "--scenarios", (root / "samples/scenarios").string()};
    if (o.mtls) {
        sim_args.insert(sim_args.end(), {"--ca", (tmp / "tls/ca.pem").string(), "--require-client-cert"});
    }
    // --receipts: the gateway's port is chosen now, so the simulator can call it back.
    unsigned short gw_port = 0;
    const std::string customs_token = "e2e-customs-token";
    if (o.receipts) {
        net::io_context pick;
        tcp::acceptor a(pick, {net::ip::make_address("127.0.0.1"), 0});
        gw_port = a.local_endpoint().port();
        sim_args.insert(sim_args.end(), {"--callback", fmt::format("http://127.0.0.1:{}/v1/receipts", gw_port), "--callback-token", customs_token});
    }
    sim.start(sim_args);
    const std::string sim_url = "https://" + sim.wait_line("listening on https://", std::chrono::seconds(20));

    // 3. The gateway's configuration.
    std::mt19937_64 rng(rd());
    const std::string api_key = fmt::format("e2e-bench-{:016x}", rng());
    const std::uint64_t token = static_cast<std::uint64_t>(std::time(nullptr)) % 100'000'000;
    std::string cfg = fmt::format(R"(# generated by e2e_bench
[paths]
xsd = {xsd}
mappings = {mappings}

[server]
listen = "127.0.0.1:{gw_port}"
data_dir = {data}
io_threads = 1
workers = {workers}
queue_capacity = {queue}
request_timeout_ms = 60000
shutdown_grace_ms = 10000

[store]
synchronous = "full"
{store_extra}

[[partner]]
id = "bench"
name = "e2e_bench load generator"
api_keys = ["{key_hash}"]
{notify}
[[signer]]
id = "bench-signer"
key = {sign_key}
cert = {sign_cert}
algorithm = "{alg}"

[[endpoint]]
id = "customs-sim"
kind = "https"
url = {url}
ca_file = {ca}
dxp_sender_id = "DXPENT0000012345"
{client}
[[route]]
id = "bench-ceb621"
partner = "bench"
root = "{{http://www.chinaport.gov.cn/ceb}}CEB621Message"
schema = "ceb-import-draft"
signer = "bench-signer"
endpoint = "customs-sim"
[route.params]
copCode = "3301960ABC"
copName = "杭州云海跨境电子商务平台有限公司"
dxpId = "DXPENT0000012345"
[[route.map]]
stylesheet = "enrich-ceb.xsl"
)",
                                  fmt::arg("xsd", toml_string((root / "xsd").string())), fmt::arg("mappings", toml_string((root / "mappings").string())),
                                  fmt::arg("data", toml_string(data.string())), fmt::arg("workers", o.workers), fmt::arg("gw_port", gw_port),
                                  fmt::arg("store_extra", fmt::format("{}", fmt::join(o.store_options, "\n"))),
                                  fmt::arg("notify", o.receipts ? std::string("[partner.notify]\nstylesheet = \"notify-shop-json.xsl\"\nchannels = [\"mailbox\"]\n")
                                                                : std::string()),
                                  fmt::arg("queue", std::max(8192, o.connections * 4)), fmt::arg("key_hash", portgate::config::hash_api_key(api_key)),
                                  fmt::arg("sign_key", toml_string((tmp / "sign" / alg.key).string())),
                                  fmt::arg("sign_cert", toml_string((tmp / "sign" / alg.cert).string())), fmt::arg("alg", alg.name),
                                  fmt::arg("url", toml_string(sim_url + "/dxp/receive")), fmt::arg("ca", toml_string((tmp / "tls/ca.pem").string())),
                                  fmt::arg("client", o.mtls ? fmt::format("client_cert = {}\nclient_key = {}\n", toml_string((tmp / "tls/client.pem").string()),
                                                                          toml_string((tmp / "tls/client.key").string()))
                                                            : std::string()));
    if (o.receipts) cfg += fmt::format("\n[receipts]\napi_keys = [\"{}\"]\n", portgate::config::hash_api_key(customs_token));
    const fs::path cfg_file = tmp / "portgate.toml";
    write_text(cfg_file, cfg);
    if (auto c = portgate::config::load(cfg_file); !c) {
        std::string why = c.err().message;
        for (auto& p : c.err().problems) why += fmt::format("\n  line {}: {}", p.line, p.message);
        throw std::runtime_error("generated configuration refused: " + why);
    }

    // 4. The gateway.
    child_process gw("gateway", tmp);
    gw.start({portgate.string(), "serve", "--config", cfg_file.string(), "--log-level", "warn"});
    const std::string addr = gw.wait_line("listening on http://", std::chrono::seconds(60));
    const double setup_s = std::chrono::duration<double>(steady::now() - t_setup).count();
    const auto colon = addr.rfind(':');
    load_plan plan;
    plan.host = addr.substr(0, colon);
    plan.port = addr.substr(colon + 1);
    plan.key = api_key;

    store_reader db(data / "portgate.db");
    const std::int64_t rows_before = db.scalar("SELECT COUNT(*) FROM message");
    const std::int64_t seq_before = db.scalar("SELECT COALESCE(MAX(seq), 0) FROM message");
    const std::int64_t outbox_open_before = db.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'");

    const inventory_generator docs(slurp(root / "samples/ceb/ceb621-inventory-valid.xml"), o.items, token);
    plan.docs = &docs;
    plan.rate = o.rate;

    std::cout << fmt::format("e2e: gateway pid {} on {}, simulator pid {} on {}, alg {}, {} item(s) ({} bytes), {} connection(s), store {} rows{}\n",
                             gw.pid(), addr, sim.pid(), sim_url, alg.name, o.items, docs.size(), o.connections, rows_before,
                             reused_store ? " (reused)" : "");
    if (outbox_open_before > 0)
        std::cout << fmt::format("  note: {} message(s) of an earlier run still wait in the outbox and compete for the sender\n", outbox_open_before);
    std::cout.flush();

    // 5. Load: warm-up, then the measured window.
    const double gw_cpu0 = gw.cpu_seconds(), sim_cpu0 = sim.cpu_seconds(), client_cpu0 = own_cpu_seconds();
    shared_state sh;
    const int nthreads = std::max(1, std::min(o.threads, o.connections));
    std::vector<thread_tally> tallies(static_cast<std::size_t>(nthreads));
    std::vector<std::unique_ptr<net::io_context>> iocs;
    tcp::resolver::results_type eps;
    {
        net::io_context r_ioc;
        tcp::resolver r(r_ioc);
        eps = r.resolve(plan.host, plan.port);
    }
    plan.start = steady::now();
    const double first_request_wall = wall_ms();
    plan.measure_from = plan.start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.warmup));
    plan.end = plan.measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.seconds));
    for (int t = 0; t < nthreads; ++t) {
        iocs.push_back(std::make_unique<net::io_context>(1));
        for (int c = t; c < o.connections; c += nthreads)
            std::make_shared<connection>(*iocs.back(), eps, plan, sh, tallies[static_cast<std::size_t>(t)])->run();
    }
    std::vector<std::thread> threads;
    for (auto& ioc : iocs) threads.emplace_back([&ioc] { ioc->run(); });
    while (steady::now() < plan.end && !sh.stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sh.stop = true;
    for (auto& t : threads) t.join();
    const auto load_done = steady::now();
    const double gw_cpu_load = gw.cpu_seconds(), sim_cpu_load = sim.cpu_seconds(), client_cpu = own_cpu_seconds() - client_cpu0;

    thread_tally all;
    for (auto& t : tallies) {
        all.latency_ms.insert(all.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
        all.accepted.insert(all.accepted.end(), t.accepted.begin(), t.accepted.end());
        all.ok_in_window += t.ok_in_window;
        all.ok_total += t.ok_total;
        all.other_status += t.other_status;
        all.io_errors += t.io_errors;
    }
    const double window_s = o.seconds;
    const double accepted_per_s = static_cast<double>(all.ok_in_window) / window_s;
    const percentiles stored = summarize(all.latency_ms);

    // 6. Until every accepted message is SENT (or settled otherwise), within the timeout.
    const auto expected = static_cast<std::int64_t>(all.ok_total);
    outbox_counts oc = count_outbox(db, seq_before);
    const std::int64_t backlog_at_load_end = expected - oc.settled();
    const auto drain_deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.drain_timeout));
    while (oc.settled() < expected && steady::now() < drain_deadline && gw.alive()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        oc = count_outbox(db, seq_before);
    }
    const bool complete = oc.settled() >= expected;
    const double drain_s = std::chrono::duration<double>(steady::now() - load_done).count();
    // --receipts: until every customs message of the run has a final customs status and every notification
    // is in the partner's mailbox; then intake → the partner's final receipt, per message.
    std::int64_t final_count = 0, notifications = 0;
    bool receipts_complete = false;
    percentiles to_partner{};
    double to_partner_per_s = 0;
    if (o.receipts) {
        const auto deadline = steady::now() + std::chrono::seconds(std::max(60, static_cast<int>(o.drain_timeout)));
        for (;;) {
            std::int64_t pending = 0;
            db.each("SELECT COUNT(*) FROM message c JOIN message p ON p.seq = c.parent_seq WHERE p.seq > ? AND p.partner = 'bench' "
                    "AND c.state IN ('CLOSED','RETURNED')", seq_before, [&](sqlite3_stmt* st) { final_count = sqlite3_column_int64(st, 0); });
            db.each("SELECT COUNT(*) FROM notification WHERE state = 'pending' AND message_seq > ?", seq_before,
                    [&](sqlite3_stmt* st) { pending = sqlite3_column_int64(st, 0); });
            receipts_complete = final_count >= expected && pending == 0;
            if (receipts_complete || steady::now() > deadline || !gw.alive()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        std::vector<double> lat;
        double last = 0;
        db.each("SELECT p.received_at, (SELECT MAX(n.updated_at) FROM notification n WHERE n.message_seq = c.seq AND n.state = 'ready'), "
                "(SELECT COUNT(*) FROM notification n WHERE n.message_seq = c.seq) "
                "FROM message p JOIN message c ON c.parent_seq = p.seq WHERE p.seq > ? AND p.partner = 'bench' AND c.state IN ('CLOSED','RETURNED')",
                seq_before, [&](sqlite3_stmt* st) {
                    notifications += sqlite3_column_int64(st, 2);
                    if (sqlite3_column_type(st, 1) == SQLITE_NULL) return;
                    const double at = static_cast<double>(sqlite3_column_int64(st, 1));
                    lat.push_back(at - static_cast<double>(sqlite3_column_int64(st, 0)));
                    last = std::max(last, at);
                });
        to_partner = summarize(lat);
        if (last > first_request_wall) to_partner_per_s = static_cast<double>(lat.size()) / ((last - first_request_wall) / 1000.0);
    }
    const double gw_cpu1 = gw.cpu_seconds(), sim_cpu1 = sim.cpu_seconds();
    const long gw_rss = gw.status_kb("VmHWM"), sim_rss = sim.status_kb("VmHWM");
    const std::string metrics = "\n" + http_get(plan.host, plan.port, "/metrics");

    // Intake → sent from the store: the partner message's received_at, its customs message's "sent" event.
    std::unordered_map<std::string, double> request_wall;
    for (auto& a : all.accepted) request_wall.emplace(a.id, a.sent_wall_ms);
    std::vector<double> sent_ms, request_to_sent_ms;
    double last_sent = 0;
    std::int64_t sent_of_run = 0, found_in_store = 0;
    db.each("SELECT p.id, p.received_at, (SELECT MIN(e.at) FROM event e WHERE e.message_seq = c.seq AND e.kind = 'sent') "
            "FROM message p LEFT JOIN message c ON c.parent_seq = p.seq LEFT JOIN outbox o ON o.message_seq = c.seq "
            "WHERE p.seq > ? AND p.partner = 'bench'",
            seq_before, [&](sqlite3_stmt* s) {
                auto it = request_wall.find(text(s, 0));
                if (it == request_wall.end()) return;
                ++found_in_store;
                if (sqlite3_column_type(s, 2) == SQLITE_NULL) return;
                const double received = static_cast<double>(sqlite3_column_int64(s, 1)), sent = static_cast<double>(sqlite3_column_int64(s, 2));
                ++sent_of_run;
                sent_ms.push_back(sent - received);
                request_to_sent_ms.push_back(sent - it->second);
                last_sent = std::max(last_sent, sent);
            });
    const percentiles to_sent = summarize(sent_ms), req_to_sent = summarize(request_to_sent_ms);
    const double delivered_per_s = last_sent > first_request_wall ? static_cast<double>(sent_of_run) / ((last_sent - first_request_wall) / 1000.0) : 0;
    std::map<std::string, double> stage_ms;
    for (auto st : {"parse", "validate", "map", "sign"})
        if (double m = histogram_mean(metrics, fmt::format("portgate_stage_seconds{{stage=\"{}\"}}", st)); m >= 0) stage_ms[st] = m * 1000;
    if (double m = histogram_mean(metrics, "portgate_intake_stored_seconds"); m >= 0) stage_ms["intake_to_stored"] = m * 1000;
    auto gauge = [&](const std::string& name) {
        auto p = metrics.find("\n" + name + " ");
        return p == std::string::npos ? -1.0 : std::atof(metrics.c_str() + p + name.size() + 2);
    };
    const double store_commits = gauge("portgate_store_commits"), store_max_batch = gauge("portgate_store_max_batch");

    // 7. Shutdown.
    const int gw_exit = gw.terminate(std::chrono::seconds(20));
    const int sim_exit = sim.terminate(std::chrono::seconds(5));

    const double msgs = static_cast<double>(std::max<std::int64_t>(1, expected));
    const unsigned workers = o.workers ? o.workers : std::max(1u, std::thread::hardware_concurrency());
    std::string statuses;
    for (auto& [code, n] : sh.statuses) statuses += fmt::format("{}{}×{}", statuses.empty() ? "" : " ", code, n);

    // 8. Report.
    std::cout << fmt::format("sample answer: {}; ids of the {} 202 answers found in the store: {}\n",
                             sh.sample_response.empty() ? "(none)" : sh.sample_response, all.accepted.size(), found_in_store);
    if (!sh.first_error.empty()) std::cout << fmt::format("first error: {}\n", sh.first_error);
    std::cout << fmt::format(
        "CEB621 end to end (HTTP intake → XSD + rules → enrich-ceb.xsl → {} signature → SQLite FULL → HTTPS DXP → simulator)\n", alg.name);
    std::cout << fmt::format("  {:<34}{}\n", "mode", o.rate > 0 ? fmt::format("open loop, {:.0f} msg/s offered", o.rate) : "closed loop");
    std::cout << fmt::format("  {:<34}{} (effective {}), io_threads 1, {} connection(s) on {} thread(s)\n", "workers", o.workers, workers, o.connections, nthreads);
    std::cout << fmt::format("  {:<34}{:.1f} s warm-up + {:.1f} s measured; set-up {:.1f} s\n", "time", o.warmup, window_s, setup_s);
    std::cout << fmt::format("  {:<34}{} in window, {} in all; other answers {}; I/O errors {}  [{}]\n", "accepted (202)", all.ok_in_window,
                             all.ok_total, all.other_status, all.io_errors, statuses);
    std::cout << fmt::format("  {:<34}{:.0f}\n", "accepted messages/s", accepted_per_s);
    std::cout << fmt::format("  {:<34}{:.2f} / {:.2f} / {:.2f}  (max {:.2f})\n", "intake→stored ms p50/p99/p999", stored.p50, stored.p99, stored.p999, stored.max);
    std::cout << fmt::format("  {:<34}{} of {} sent{} (rejected {}, dead {}); backlog at load end {}, drained in {:.1f} s\n", "delivery",
                             oc.sent, expected, complete ? "" : " — TIMED OUT", oc.rejected, oc.dead, backlog_at_load_end, drain_s);
    if (o.receipts) {
        std::cout << fmt::format("  {:<34}{} of {} final{}; {} notifications in the partner's mailbox\n", "receipts (callback)", final_count,
                                 expected, receipts_complete ? "" : " — TIMED OUT", notifications);
        std::cout << fmt::format("  {:<34}{:.0f}\n", "intake→partner msg/s", to_partner_per_s);
        std::cout << fmt::format("  {:<34}{:.0f} / {:.0f} / {:.0f}  (max {:.0f})\n", "intake→partner ms p50/p99/p999", to_partner.p50, to_partner.p99,
                                 to_partner.p999, to_partner.max);
    }
    std::cout << fmt::format("  {:<34}{:.0f}\n", "delivered messages/s", delivered_per_s);
    std::cout << fmt::format("  {:<34}{:.0f} / {:.0f} / {:.0f}  (max {:.0f})\n", "intake→sent ms p50/p99/p999", to_sent.p50, to_sent.p99, to_sent.p999, to_sent.max);
    std::cout << fmt::format("  {:<34}{:.0f} / {:.0f} / {:.0f}\n", "request→sent ms p50/p99/p999", req_to_sent.p50, req_to_sent.p99, req_to_sent.p999);
    std::cout << fmt::format("  {:<34}{:.0f} µs/msg ({:.2f} s; load {:.2f} s + drain {:.2f} s), peak RSS {} MB\n", "gateway CPU",
                             (gw_cpu1 - gw_cpu0) / msgs * 1e6, gw_cpu1 - gw_cpu0, gw_cpu_load - gw_cpu0, gw_cpu1 - gw_cpu_load, gw_rss / 1024);
    std::cout << fmt::format("  {:<34}{:.0f} µs/msg ({:.2f} s), peak RSS {} MB\n", "simulator CPU", (sim_cpu1 - sim_cpu0) / msgs * 1e6, sim_cpu1 - sim_cpu0,
                             sim_rss / 1024);
    std::cout << fmt::format("  {:<34}{:.0f} µs/msg ({:.2f} s)\n", "load generator CPU", client_cpu / msgs * 1e6, client_cpu);
    std::string stages;
    for (auto& [k, v] : stage_ms) stages += fmt::format("{}{} {:.2f}", stages.empty() ? "" : ", ", k, v);
    std::cout << fmt::format("  {:<34}{}\n", "gateway stage means ms", stages);
    std::cout << fmt::format("  {:<34}{:.0f} commits since start (largest batch {:.0f})\n", "store", store_commits, store_max_batch);
    std::cout << fmt::format("  {:<34}{}, simulator {}\n", "exit status: gateway", gw_exit, sim_exit);

    if (!o.json_out.empty()) {
        json run{{"label", o.label},
                 {"time", static_cast<std::int64_t>(std::time(nullptr))},
                 {"alg", alg.name},
                 {"workers", o.workers},
                 {"workers_effective", workers},
                 {"items", o.items},
                 {"body_bytes", docs.size()},
                 {"connections", o.connections},
                 {"client_threads", nthreads},
                 {"seconds", window_s},
                 {"warmup_seconds", o.warmup},
                 {"rate", o.rate},
                 {"mtls", o.mtls},
                 {"store_rows_before", rows_before},
                 {"accepted_in_window", all.ok_in_window},
                 {"accepted_total", all.ok_total},
                 {"other_answers", all.other_status},
                 {"io_errors", all.io_errors},
                 {"first_error", sh.first_error},
                 {"ids_found_in_store", found_in_store},
                 {"accepted_per_s", accepted_per_s},
                 {"intake_to_stored_ms", to_json(stored)},
                 {"sent", oc.sent},
                 {"rejected", oc.rejected},
                 {"dead", oc.dead},
                 {"delivery_complete", complete},
                 {"receipts", o.receipts},
                 {"receipts_complete", receipts_complete},
                 {"final_statuses", final_count},
                 {"notifications", notifications},
                 {"intake_to_partner_per_s", to_partner_per_s},
                 {"intake_to_partner_ms", to_json(to_partner)},
                 {"backlog_at_load_end", backlog_at_load_end},
                 {"drain_seconds", drain_s},
                 {"delivered_per_s", delivered_per_s},
                 {"intake_to_sent_ms", to_json(to_sent)},
                 {"request_to_sent_ms", to_json(req_to_sent)},
                 {"gateway", {{"cpu_seconds", gw_cpu1 - gw_cpu0}, {"cpu_seconds_load", gw_cpu_load - gw_cpu0}, {"cpu_us_per_message", (gw_cpu1 - gw_cpu0) / msgs * 1e6},
                              {"peak_rss_kb", gw_rss}, {"exit", gw_exit}, {"stage_mean_ms", stage_ms},
                              {"store_commits", store_commits}, {"store_max_batch", store_max_batch}}},
                 {"load_generator", {{"cpu_seconds", client_cpu}, {"cpu_us_per_message", client_cpu / msgs * 1e6}}},
                 {"simulator", {{"cpu_seconds", sim_cpu1 - sim_cpu0}, {"cpu_seconds_load", sim_cpu_load - sim_cpu0}, {"cpu_us_per_message", (sim_cpu1 - sim_cpu0) / msgs * 1e6}, {"peak_rss_kb", sim_rss}, {"exit", sim_exit}}}};
        json arr = json::array();
        if (fs::exists(o.json_out)) {
            arr = json::parse(slurp(o.json_out), nullptr, false);
            if (!arr.is_array()) throw std::runtime_error(o.json_out + " exists and is not a JSON array: not touched");
        }
        arr.push_back(std::move(run));
        const std::string tmp_out = o.json_out + ".tmp";
        write_text(tmp_out, arr.dump(2) + "\n");
        fs::rename(tmp_out, o.json_out);
        std::cout << fmt::format("appended to {}\n", o.json_out);
    }
    if (!complete) std::cout << fmt::format("gateway log: {}\n", slurp(gw.err_file()).substr(0, 2000));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"e2e_bench: CEB621 through a real gateway and the customs simulator; prints throughput, latencies, CPU and RSS"};
    app.add_option("--alg", o.alg, "signature: sm2 (SM2-SM3), ecdsa (ECDSA-SHA256), rsa (RSA-SHA256)")->check(CLI::IsMember({"sm2", "ecdsa", "rsa"}));
    app.add_option("--workers", o.workers, "gateway workers (0 = cores)");
    app.add_option("--items", o.items, "InventoryList lines per document (1..99)")->check(CLI::Range(1, 99));
    app.add_option("--connections", o.connections, "keep-alive client connections")->check(CLI::Range(1, 4096));
    app.add_option("--threads", o.threads, "client threads")->check(CLI::Range(1, 64));
    app.add_option("--seconds", o.seconds, "measured seconds (after the warm-up)")->check(CLI::PositiveNumber);
    app.add_option("--warmup", o.warmup, "warm-up seconds (not measured)")->check(CLI::NonNegativeNumber);
    app.add_option("--rate", o.rate, "open loop: messages/s offered (0 = closed loop)")->check(CLI::NonNegativeNumber);
    app.add_option("--drain-timeout", o.drain_timeout, "seconds to wait after the load until every accepted message is SENT")->check(CLI::NonNegativeNumber);
    app.add_option("--root", o.root, "the source tree (xsd/, mappings/, samples/, tests/)");
    app.add_option("--data-dir", o.data_dir, "gateway data directory to use (a prefilled store); kept afterwards");
    app.add_option("--json-out", o.json_out, "append this run as one object to the JSON array in FILE");
    app.add_option("--label", o.label, "label of this run in --json-out");
    app.add_option("--portgate", o.portgate, "portgate binary (default: next to this program, else ROOT/build/bin)");
    app.add_option("--sim", o.sim, "portgate-customs-sim binary (default: as --portgate)");
    app.add_flag("--receipts", o.receipts, "the simulator sends its receipt sequences back by callback; the partner gets them in its mailbox");
    app.add_flag("--mtls", o.mtls, "the simulator requires a client certificate; the endpoint presents one");
    app.add_option("--store-option", o.store_options, "an extra line of the gateway's [store] table, e.g. 'group_commit_wait_us = 500' (repeatable)");
    app.add_flag("--keep", o.keep, "keep the temporary directory (keys, configuration, logs, store)");
    CLI11_PARSE(app, argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "e2e_bench: " << e.what() << "\n";
        return 1;
    }
}
