#include "gateway/delivery/notifier.hpp"

#include <chrono>
#include <cmath>
#include <future>
#include <fstream>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include "gateway/core/files.hpp"
#include "gateway/delivery/backoff.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::delivery {
namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    std::string msg;
    msg.reserve(timestamp.size() + 1 + body.size());
    msg.append(timestamp).append(".").append(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    std::string hex = "sha256=";
    for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", mac[i]);
    return hex;
}

namespace {

struct url_parts {
    std::string host, port, target;
};

bool parse_http_url(const std::string& url, url_parts& out) {
    constexpr std::string_view scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return false;
    std::string rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    out.target = slash == std::string::npos ? "/" : rest.substr(slash);
    auto colon = hostport.rfind(':');
    out.host = hostport.substr(0, colon);
    out.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    return !out.host.empty();
}

// One POST with a deadline; returns the HTTP status or an error text.
result<int> post(const std::string& url, const std::string& body, const std::string& content_type,
                 const std::vector<std::pair<std::string, std::string>>& headers, std::chrono::seconds timeout) {
    url_parts u;
    if (!parse_http_url(url, u))
        return error(errc::bad_request, fmt::format("webhook url '{}' is not http://host[:port]/path (https webhooks go through the HTTPS adapter)", url));
    try {
        net::io_context ioc;
        beast::tcp_stream stream(ioc);
        stream.expires_after(timeout);
        net::ip::tcp::resolver resolver(ioc);
        stream.connect(resolver.resolve(u.host, u.port));
        http::request<http::string_body> req{http::verb::post, u.target, 11};
        req.set(http::field::host, u.host);
        req.set(http::field::content_type, content_type);
        req.set(http::field::user_agent, "portgate");
        for (auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(stream, buf, res);
        beast::error_code ec;
        stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
        return static_cast<int>(res.result_int());
    } catch (const std::exception& e) {
        return error(errc::io_error, e.what());
    }
}


}  // namespace

notifier::notifier(const config::config& cfg, store::store& st, std::shared_ptr<const validation::knowledge> k,
                   std::shared_ptr<const mapping::library> lib, metrics& m)
    : cfg_(cfg), store_(st), knowledge_(std::move(k)), lib_(std::move(lib)) {
    delivered_ = &m.counter_for("portgate_notifications_total", "outcome=\"delivered\"");
    failed_ = &m.counter_for("portgate_notifications_total", "outcome=\"failed\"");
    m.help("portgate_notifications_total", "Partner notifications handled, by outcome");
    std::map<std::string, std::vector<std::string>> channels;
    for (auto& p : cfg.partners)
        if (!p.notify.channels.empty()) channels[p.id] = p.notify.channels;
    store_.set_notification_channels(std::move(channels));
}

notifier::~notifier() { stop(); }

void notifier::start() {
    thread_ = std::thread([this] { loop(); });
}

void notifier::stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void notifier::wake() {
    {
        std::lock_guard lk(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

void notifier::loop() {
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, std::chrono::milliseconds(200), [&] { return stop_ || woken_; });
            if (stop_) return;
            woken_ = false;
        }
        while (run_once() > 0) {
            std::lock_guard lk(mu_);
            if (stop_) return;
        }
    }
}

std::size_t notifier::run_once() {
    auto jobs = store_.due_notifications(store::now_ms(), 64);
    if (!jobs) return 0;
    for (auto& j : *jobs) {
        auto change = handle(j);
        std::promise<result<store::stored>> p;
        auto f = p.get_future();
        store_.update_notification(std::move(change), [&p](result<store::stored> r) { p.set_value(std::move(r)); });
        f.get();
    }
    return jobs->size();
}

store::notification_change notifier::handle(const store::notification_job& j) {
    store::notification_change c;
    c.seq = j.seq;
    c.attempts = j.attempts;
    const config::partner* p = cfg_.find_partner(j.partner);
    std::string body = j.body, content_type = j.content_type;
    if (body.empty()) {
        formats::receipt_record rec;
        rec.family = j.family;
        rec.type = j.type;
        rec.keys = j.keys;
        rec.status = j.status;
        rec.meaning = j.meaning;
        rec.time = j.time;
        rec.info = j.info;
        rec.customs_code = j.customs_code;
        if (auto* t = knowledge_->types->find(j.type))
            if (auto* tbl = knowledge_->codes->table(t->returns.status_table))
                if (auto* e = tbl->find(j.status)) {
                    std::vector<const std::string*> cols{&e->alias};
                    for (auto& x : e->extra) cols.push_back(&x);
                    for (auto* col : cols) {
                        if (*col == "final") rec.final = true;
                        if (*col == "ok" || *col == "bad") rec.judgement = *col;
                    }
                }
        if (auto* t = knowledge_->types->find(j.type))
            if (std::find(t->returns.final_statuses.begin(), t->returns.final_statuses.end(), j.status) != t->returns.final_statuses.end())
                rec.final = true;
        auto [code, desc] = formats::customs_code_in(rec.info);
        rec.customs_desc = desc;
        mapping::receipt_original orig{j.message_id, j.message_type, j.partner, ""};
        std::string xml = mapping::receipt_document(rec, &orig);
        if (p && !p->notify.stylesheet.empty()) {
            auto doc = xml::parse(xml, {}, "receipt");
            mapping::run_options ro;
            auto outs = doc ? lib_->apply(p->notify.stylesheet, doc->doc.get(), ro) : result<std::vector<mapping::output>>(doc.err());
            if (!outs || outs->empty()) {
                failed_->inc();
                c.state = "dead";
                c.error = outs ? "the partner's notification mapping produced nothing" : outs.err().message;
                return c;
            }
            body = (*outs)[0].bytes;
            content_type = (*outs)[0].text ? "application/json" : "application/xml";
        } else {
            body = xml;
            content_type = "application/xml";
        }
        c.body = body;
        c.content_type = content_type;
    }
    if (j.channel == "mailbox") {
        c.state = "ready";
        delivered_->inc();
        return c;
    }
    if (!p) {
        c.state = "dead";
        c.error = fmt::format("partner '{}' is no longer configured", j.partner);
        return c;
    }
    std::string ext = content_type == "application/json" ? "json" : "xml";
    if (j.channel == "folder") {
        std::error_code ec;
        fs::create_directories(p->notify.folder, ec);
        auto s = write_file_atomically(p->notify.folder / fmt::format("{}-{:08}.{}", j.message_id, j.seq, ext), body);
        if (s) {
            c.state = "delivered";
            delivered_->inc();
        } else {
            c.attempts = j.attempts + 1;
            c.state = c.attempts >= p->notify.max_attempts ? "dead" : "pending";
            c.next_at = store::now_ms() + backoff_ms(c.attempts, 2.0);
            c.error = s.err().message;
            failed_->inc();
        }
        return c;
    }
    // webhook
    std::string secret;
    if (!p->notify.webhook_secret_env.empty())
        if (const char* v = std::getenv(p->notify.webhook_secret_env.c_str())) secret = v;
    std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    std::vector<std::pair<std::string, std::string>> headers{{"X-Portgate-Timestamp", ts}, {"X-Portgate-Delivery", std::to_string(j.seq)},
                                                             {"X-Portgate-Message", j.message_id}};
    if (!secret.empty()) headers.emplace_back("X-Portgate-Signature", webhook_signature(secret, ts, body));
    auto r = post(p->notify.webhook_url, body, content_type, headers, std::chrono::seconds(10));
    if (r && *r >= 200 && *r < 300) {
        c.state = "delivered";
        delivered_->inc();
        return c;
    }
    c.attempts = j.attempts + 1;
    c.error = r ? fmt::format("HTTP {}", *r) : r.err().message;
    c.state = c.attempts >= p->notify.max_attempts ? "dead" : "pending";
    c.next_at = store::now_ms() + backoff_ms(c.attempts, 2.0);
    failed_->inc();
    spdlog::warn("webhook to partner {} (notification {}): {} — {}", j.partner, j.seq, c.error,
                 c.state == "dead" ? "dead letter" : fmt::format("retry {} in {} ms", c.attempts, c.next_at - store::now_ms()));
    return c;
}

}  // namespace portgate::delivery
