// Start-up and graceful shutdown of the gateway's components.
#include "gateway/app/gateway.hpp"

#include <future>

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "adapters/folder/folder_intake.hpp"
#include "gateway/api/server.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/core/worker_pool.hpp"
#include "gateway/intake/intake.hpp"
#include "gateway/store/store.hpp"
#include "gateway/xml/parser.hpp"
#include "gateway/delivery/notifier.hpp"
#include "gateway/delivery/sender.hpp"
#include "gateway/mapping/engine.hpp"
#include "gateway/validation/checker.hpp"
#include "gateway/xsd/validator.hpp"

namespace portgate {

namespace net = boost::asio;

struct gateway::impl {
    config::config cfg;
    std::shared_ptr<const validation::knowledge> knowledge;
    std::shared_ptr<const mapping::library> mappings;
    std::unique_ptr<store::store> st;
    metrics m;
    std::unique_ptr<worker_pool> workers;
    std::unique_ptr<intake::pipeline> pipeline;
    std::unique_ptr<delivery::notifier> notifier;
    std::unique_ptr<delivery::sender> sender;
    net::io_context ioc;
    std::unique_ptr<api::router> router;
    std::unique_ptr<api::server> server;
    std::unique_ptr<adapters::folder_intake> folders;
    std::vector<std::thread> io_threads;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    net::signal_set signals{ioc};

    std::mutex mu;
    std::condition_variable cv;
    bool stop_requested = false;
    bool stopped = false;
};

result<std::unique_ptr<gateway>> gateway::create(config::config cfg) {
    xml::initialise();
    xsd::initialise();
    std::unique_ptr<gateway> g(new gateway());
    g->impl_ = std::make_unique<impl>();
    auto& im = *g->impl_;
    im.cfg = std::move(cfg);

    auto k = validation::knowledge::load(im.cfg.xsd_dir, im.cfg.calendar_file);
    if (!k) return k.err();
    im.knowledge = std::move(k.value());
    auto lib = mapping::library::load(im.cfg.mappings_dir, rules::environment{im.knowledge->codes, im.knowledge->calendar, std::nullopt});
    if (!lib) return lib.err();
    im.mappings = std::move(lib.value());
    for (auto& r : im.cfg.routes)
        for (auto& mp : r.maps)
            if (!im.mappings->has(mp.stylesheet))
                return error(errc::config_invalid, fmt::format("route '{}': stylesheet {} is not in {}", r.id, mp.stylesheet, im.cfg.mappings_dir.string()));
    if (auto problems = intake::pipeline::check_routes(im.cfg, *im.knowledge); !problems.empty())
        return error(errc::config_invalid, fmt::format("{}: routes name unknown schemas or types", im.cfg.file.string()), problems);

    auto signers = intake::pipeline::open_signers(im.cfg);
    if (!signers) return signers.err();

    auto st = store::store::open(im.cfg.server.data_dir, im.cfg.store);
    if (!st) return st.err();
    im.st = std::move(st.value());

    unsigned workers = im.cfg.server.workers ? im.cfg.server.workers : std::max(1u, std::thread::hardware_concurrency());
    im.workers = std::make_unique<worker_pool>(workers, im.cfg.server.queue_capacity);
    im.st->watch_backlog(im.workers->backlog());
    im.pipeline = std::make_unique<intake::pipeline>(im.cfg, im.knowledge, im.mappings, *im.st, im.m, std::move(signers.value()));
    im.notifier = std::make_unique<delivery::notifier>(im.cfg, *im.st, im.knowledge, im.mappings, im.m);
    auto* pl = im.pipeline.get();
    auto snd = delivery::sender::create(im.cfg, *im.st, im.m, [pl](std::string bytes, std::string source, std::function<void(status)> done) {
        pl->process_receipt(std::move(bytes), "endpoint", std::move(source), [done = std::move(done)](intake::pipeline::receipt_answer a) {
            if (!a.stored) return done(error(a.code == errc::ok ? errc::store_failed : a.code, a.message));
            done(ok());
        });
    });
    if (!snd) return snd.err();
    im.sender = std::move(snd.value());
    auto* sender = im.sender.get();
    im.pipeline->on_queued([sender] { sender->wake(); });
    im.router = std::make_unique<api::router>(api::context{im.cfg, *im.st, *im.pipeline, *im.workers, im.m});
    im.server = std::make_unique<api::server>(im.ioc, *im.router, im.cfg.server);
    im.folders = std::make_unique<adapters::folder_intake>(im.cfg, *im.pipeline, *im.workers, im.m);

    auto* wp = im.workers.get();
    auto* sp = im.st.get();
    im.m.gauge("portgate_worker_queue_depth", [wp] { return static_cast<double>(wp->queued()); });
    im.m.gauge("portgate_store_pending_operations", [sp] { return static_cast<double>(sp->pending()); });
    im.m.gauge("portgate_store_commits", [sp] { return static_cast<double>(sp->writer_stats().commits); });
    im.m.gauge("portgate_store_max_batch", [sp] { return static_cast<double>(sp->writer_stats().max_batch); });
    return g;
}

gateway::~gateway() {
    // A gateway whose create() failed half-way has nothing running: nothing to shut down.
    if (impl_ && impl_->server && impl_->folders) {
        stop();
        // run() may not have been called (tests): shut down here.
        std::unique_lock lk(impl_->mu);
        if (!impl_->stopped) {
            lk.unlock();
            run();
        }
    }
}

status gateway::start() {
    auto& im = *impl_;
    if (auto n = im.pipeline->recheck_waiting(); n > 0) spdlog::info("completed {} join(s) left waiting by an earlier run", n);
    if (auto s = im.server->listen(im.cfg.server.listen_host, im.cfg.server.listen_port); !s) return s;
    im.work.emplace(net::make_work_guard(im.ioc));
    for (unsigned i = 0; i < im.cfg.server.io_threads; ++i) im.io_threads.emplace_back([&im] { im.ioc.run(); });
    if (auto s = im.folders->start(); !s) return s;
    im.notifier->start();
    im.sender->start();
    im.signals.add(SIGTERM);
    im.signals.add(SIGINT);
    im.signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("received signal {}: finishing in-flight work", sig);
        stop();
    });
    return ok();
}

std::string gateway::address() const {
    auto ep = impl_->server->local_endpoint();
    auto a = ep.address();
    return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port()) : fmt::format("{}:{}", a.to_string(), ep.port());
}

void gateway::stop() {
    std::lock_guard lk(impl_->mu);
    impl_->stop_requested = true;
    impl_->cv.notify_all();
}

void gateway::run() {
    auto& im = *impl_;
    {
        std::unique_lock lk(im.mu);
        im.cv.wait(lk, [&] { return im.stop_requested; });
        if (im.stopped) return;
        im.stopped = true;
    }
    // 1. No new work: close the listener and the folder watchers (claimed files are finished).
    im.server->stop_accepting();
    im.folders->stop();
    // 2. Let requests already read finish (their responses are written) within the grace period.
    auto deadline = std::chrono::steady_clock::now() + im.cfg.server.shutdown_grace;
    while (im.server->in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (im.server->in_flight() > 0) spdlog::warn("{} request(s) still in flight after the grace period", im.server->in_flight());
    // 3. Drain the workers and the store (every queued operation is committed), then stop I/O.
    im.workers->stop();
    im.pipeline->drain_joins();
    im.sender->stop();
    im.notifier->stop();
    im.st->close();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let posted responses reach their sockets
    im.work.reset();
    im.signals.cancel();
    im.ioc.stop();
    for (auto& t : im.io_threads)
        if (t.joinable()) t.join();
    spdlog::info("stopped");
}

}  // namespace portgate
