#include "gateway/delivery/sender.hpp"

#include <cmath>
#include <future>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/client_folder/client_folder.hpp"
#include "adapters/dxp/dxp.hpp"
#include "adapters/https/https_endpoint.hpp"
#include "gateway/delivery/backoff.hpp"

namespace portgate::delivery {


result<std::unique_ptr<sender>> sender::create(const config::config& cfg, store::store& st, metrics& m, receipt_sink sink) {
    std::unique_ptr<sender> s(new sender(cfg, st, std::move(sink)));
    for (auto& ep : cfg.endpoints) {
        std::optional<adapters::dxp::dxp_config> dxp;
        if (!ep.dxp_sender_id.empty()) {
            adapters::dxp::dxp_config d;
            d.sender_id = ep.dxp_sender_id;
            if (!ep.dxp_receivers.empty()) d.receiver_ids = ep.dxp_receivers;
            dxp = d;
        }
        if (ep.kind == "https") {
            adapters::https::https_config hc;
            hc.id = ep.id;
            hc.url = ep.url;
            hc.ca_file = ep.ca_file;
            hc.client_cert = ep.client_cert;
            hc.client_key = ep.client_key;
            hc.key_password_env = ep.key_password_env;
            hc.key_password_file = ep.key_password_file;
            hc.read_timeout = std::chrono::milliseconds(ep.read_timeout_ms);
            hc.pool_size = static_cast<std::size_t>(ep.concurrency);
            hc.dxp = dxp;
            auto e = adapters::https::https_endpoint::create(hc);
            if (!e) return error(e.err().code, fmt::format("endpoint '{}' (config line {}): {}", ep.id, ep.line, e.err().message));
            s->endpoints_.emplace(ep.id, std::move(e.value()));
        } else {
            adapters::client_folder::client_folder_config fc;
            fc.id = ep.id;
            fc.root = ep.root;
            fc.biz = ep.biz;
            fc.dxp = dxp;
            auto e = adapters::client_folder::client_folder_endpoint::create(fc);
            if (!e) return error(e.err().code, fmt::format("endpoint '{}' (config line {}): {}", ep.id, ep.line, e.err().message));
            s->endpoints_.emplace(ep.id, std::move(e.value()));
            // The client's InBox: answers and receipts, taken in like POST /v1/receipts.
            adapters::client_folder::client_folder_config rc = fc;
            rc.settle_time = std::chrono::milliseconds(300);
            rc.poll_interval = std::chrono::milliseconds(200);
            auto* sink = &s->sink_;
            s->readers_.push_back(std::make_unique<adapters::client_folder::client_folder_reader>(
                rc, [sink, id = ep.id](const adapters::client_folder::inbox_file& f) -> status {
                    if (!*sink) return ok();
                    // The file is removed from the InBox only once its receipt is stored: wait for it.
                    std::promise<status> stored;
                    auto answer = stored.get_future();
                    (*sink)(f.bytes, fmt::format("{}:{}", id, f.name), [&stored](status st) { stored.set_value(std::move(st)); });
                    return answer.get();
                }));
        }
        s->max_attempts_[ep.id] = ep.max_attempts;
        s->concurrency_[ep.id] = ep.concurrency;
    }
    s->sent_ = &m.counter_for("portgate_customs_deliveries_total", "outcome=\"accepted\"");
    s->rejected_ = &m.counter_for("portgate_customs_deliveries_total", "outcome=\"rejected\"");
    s->retried_ = &m.counter_for("portgate_customs_deliveries_total", "outcome=\"retry\"");
    s->dead_ = &m.counter_for("portgate_customs_deliveries_total", "outcome=\"dead\"");
    m.help("portgate_customs_deliveries_total", "Attempts to deliver customs messages, by outcome");
    return s;
}

sender::~sender() { stop(); }

void sender::start() {
    if (endpoints_.empty()) return;
    for (auto& r : readers_)
        if (auto st = r->start(); !st) spdlog::error("client InBox reader: {}", st.err().message);
    thread_ = std::thread([this] { loop(); });
}

void sender::stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (lanes_) lanes_->stop();
    for (auto& r : readers_) r->stop();
}

void sender::loop() {
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stop_ || woken_; });
            woken_ = false;
            if (stop_) return;
        }
        while (run_once() > 0) {
            std::lock_guard lk(mu_);
            if (stop_) return;
        }
    }
}

void sender::wake() {
    {
        std::lock_guard lk(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

bool sender::is_resting(const std::string& endpoint, store::millis now) {
    std::lock_guard lk(rest_mu_);
    auto it = resting_.find(endpoint);
    return it != resting_.end() && it->second.until > now;
}

void sender::trip(const std::string& endpoint) {
    std::lock_guard lk(rest_mu_);
    auto& r = resting_[endpoint];
    const store::millis now = store::now_ms();
    if (r.until > now) return;  // other lanes failing during the same outage: one failure, not one per lane
    ++r.trips;
    r.until = now + std::min<store::millis>(30000, 1000LL << std::min(r.trips - 1, 5));
}

void sender::recovered(const std::string& endpoint) {
    std::lock_guard lk(rest_mu_);
    resting_.erase(endpoint);
}

std::size_t sender::run_once() {
    store::millis now = store::now_ms();
    std::vector<std::string> skip;
    {
        std::lock_guard lk(rest_mu_);
        for (auto& [ep, r] : resting_)
            if (r.until > now) skip.push_back(ep);
    }
    auto jobs = store_.due_outbox(now, 256, skip);
    if (!jobs || jobs->empty()) return 0;
    std::map<std::string, std::vector<const store::outbox_job*>> by_endpoint;
    for (auto& j : *jobs) by_endpoint[j.endpoint].push_back(&j);

    // Outcomes are committed asynchronously; the round ends when all are durable.
    std::mutex done_mu;
    std::condition_variable done_cv;
    std::size_t outstanding = 0, attempted = 0;
    auto finished = [&] {  // one store operation of this round is durable (or failed)
        std::lock_guard lk(done_mu);
        if (--outstanding == 0) done_cv.notify_all();
    };
    auto deliver = [&](const store::outbox_job& j) {
        store::outbox_change c;
        c.seq = j.seq;
        c.attempts = j.attempts + 1;
        auto it = endpoints_.find(j.endpoint);
        adapters::delivery_result r;
        if (it == endpoints_.end()) {
            r.result = adapters::outcome::retry;
            r.detail = fmt::format("endpoint '{}' is not configured", j.endpoint);
        } else {
            adapters::delivery d;
            d.message_id = j.message_id;
            d.type = j.type;
            d.cop_msg_id = j.cop_msg_id;
            d.bytes = j.bytes;
            d.file_name = fmt::format("{}_{}.xml", j.type, j.cop_msg_id);
            r = it->second->send(d);
        }
        if (r.result == adapters::outcome::retry) trip(j.endpoint);
        else recovered(j.endpoint);
        nlohmann::json detail{{"endpoint", j.endpoint}, {"attempt", c.attempts}, {"code", r.code}, {"detail", r.detail}};
        std::string det = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        switch (r.result) {
        case adapters::outcome::accepted:
            c.state = "sent";
            c.message_state = "SENT";
            c.event = {"sent", "SENT", "", det};
            sent_->inc();
            break;
        case adapters::outcome::rejected:
            c.state = "rejected";
            c.message_state = "RETURNED";
            c.error = r.code + " " + r.detail;
            c.event = {"rejected_by_customs", "RETURNED", r.code, det};
            rejected_->inc();
            break;
        case adapters::outcome::retry: {
            int max = max_attempts_.count(j.endpoint) ? max_attempts_[j.endpoint] : 8;
            c.error = r.code + " " + r.detail;
            if (c.attempts >= max) {
                c.state = "dead";
                c.message_state = "DEAD";
                c.event = {"dead", "DEAD", r.code, det};
                dead_->inc();
                spdlog::error("customs delivery of {} to {} gave up after {} attempts: {}", j.message_id, j.endpoint, c.attempts, c.error);
            } else {
                c.state = "pending";
                c.next_at = store::now_ms() + backoff_ms(c.attempts, 1.0);
                c.message_state = "RETRY_WAIT";
                c.event = {"retry", "RETRY_WAIT", r.code, det};
                retried_->inc();
            }
            break;
        }
        }
        const bool answer = !r.response.empty() && sink_;
        {
            std::lock_guard lk(done_mu);
            outstanding += answer ? 2 : 1;
            ++attempted;
        }
        store_.update_outbox(std::move(c), [&](result<store::stored> x) {
            if (!x) spdlog::error("outbox update of {}: {}", j.message_id, x.err().message);
            finished();
        });
        // The endpoint's answer (DxpRep) is queued to the store after the outbox change, so the writer applies
        // them in that order; the lane goes on to its next job without waiting for either commit, and the round
        // ends when both are durable.
        if (answer)
            sink_(std::move(r.response), fmt::format("{}:{}", j.endpoint, j.cop_msg_id), [&finished, id = j.message_id, ep = j.endpoint](status st) {
                if (!st) spdlog::error("answer of {} for {} not stored: {}", ep, id, st.err().message);
                finished();
            });
    };
    // Per endpoint: `concurrency` lanes take its jobs in order; a lane stops when the endpoint rests. The lanes
    // run on the sender's own threads, as many as all endpoints' lanes together (up to 128), so every lane of a
    // round runs at once.
    if (!lanes_) {
        std::size_t total = 0;
        for (auto& [ep, n] : concurrency_) total += static_cast<std::size_t>(std::max(n, 1));
        total = std::clamp<std::size_t>(total, 1, 128);  // beyond that, a round's extra lanes wait their turn
        lanes_ = std::make_unique<worker_pool>(static_cast<unsigned>(total), total, 0);
    }
    std::size_t running = 0;  // lanes of this round not finished yet (under done_mu)
    std::vector<std::unique_ptr<std::atomic<std::size_t>>> cursors;
    for (auto& [ep, list] : by_endpoint) {
        cursors.push_back(std::make_unique<std::atomic<std::size_t>>(0));
        auto* next = cursors.back().get();
        auto* jobs_of = &list;
        int n = std::clamp<int>(concurrency_.count(ep) ? concurrency_[ep] : 4, 1, static_cast<int>(list.size()));
        auto lane = [&, next, jobs_of, ep = ep] {
            for (;;) {
                std::size_t i = (*next)++;
                if (i >= jobs_of->size() || is_resting(ep, store::now_ms())) return;
                deliver(*(*jobs_of)[i]);
            }
        };
        if (n == 1 && by_endpoint.size() == 1) {
            lane();
        } else {
            for (int k = 0; k < n; ++k) {
                {
                    std::lock_guard lk(done_mu);
                    ++running;
                }
                const bool posted = lanes_->post_wait([&, lane] {
                    lane();
                    std::lock_guard lk(done_mu);
                    if (--running == 0) done_cv.notify_all();
                });
                if (!posted) {  // the pool is stopping (shutdown): this lane runs here instead
                    lane();
                    std::lock_guard lk(done_mu);
                    --running;
                }
            }
        }
    }
    std::unique_lock lk(done_mu);
    done_cv.wait(lk, [&] { return running == 0 && outstanding == 0; });
    return attempted;
}

}  // namespace portgate::delivery
