// Beast listener and sessions, and the router implementing API v1.
#include "gateway/api/server.hpp"

#include <charconv>
#include <ctime>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/core/digest.hpp"
#include "gateway/pipeline/state.hpp"

namespace portgate::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string iso_time(store::millis ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

// Accepts milliseconds since the epoch or an ISO-8601 UTC time (2026-11-23, 2026-11-23T10:00:00Z).
std::optional<store::millis> parse_time(std::string_view s) {
    if (s.empty()) return std::nullopt;
    if (s.find_first_not_of("0123456789") == std::string_view::npos) {
        store::millis v = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc()) return std::nullopt;
        return v;
    }
    std::tm tm{};
    std::string str(s);
    const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) {
        tm = {};
        end = strptime(str.c_str(), "%Y-%m-%d", &tm);
        if (!end) return std::nullopt;
    }
    std::string_view rest(end);
    if (!rest.empty() && rest != "Z") return std::nullopt;
    return static_cast<store::millis>(timegm(&tm)) * 1000;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') out += ' ';
        else if (s[i] == '%') {
            auto hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            int hi = i + 1 < s.size() ? hex(s[i + 1]) : -1, lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) out += s[i];
            else {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        } else out += s[i];
    }
    return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        auto eq = part.find('=');
        if (!part.empty())
            out[percent_decode(part.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

bool is_xml_content_type(std::string_view ct) {
    auto semi = ct.find(';');
    std::string t(ct.substr(0, semi));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t == "application/xml" || t == "text/xml" || (t.size() > 4 && t.ends_with("+xml"));
}

// A body "looks like XML" when, after an optional BOM and whitespace, it starts with '<'.
bool looks_like_xml(std::string_view b) {
    if (b.starts_with("\xEF\xBB\xBF")) b.remove_prefix(3);
    auto p = b.find_first_not_of(" \t\r\n");
    return p != std::string_view::npos && b[p] == '<';
}

json message_json(const store::message_view& m, bool with_events) {
    json j{{"id", m.id},
           {"partner", m.partner},
           {"channel", m.channel},
           {"type", m.type},
           {"root", m.root},
           {"state", m.state},
           {"size", m.size},
           {"sha256", m.sha256},
           {"received_at", iso_time(m.received_at)},
           {"updated_at", iso_time(m.updated_at)}};
    if (!m.error_code.empty()) j["error_code"] = m.error_code;
    if (!m.doc_guid.empty()) j["guid"] = m.doc_guid;
    if (!m.idempotency_key.empty()) j["idempotency_key"] = m.idempotency_key;
    if (!m.source_name.empty()) j["source_name"] = m.source_name;
    if (!m.route.empty()) j["route"] = m.route;
    if (!m.direction.empty()) j["direction"] = m.direction;
    if (!m.parent_id.empty()) j["parent"] = m.parent_id;
    if (!m.customs_status.empty()) j["customs_status"] = m.customs_status;
    if (!m.receipts.empty()) {
        json r = json::array();
        for (auto& x : m.receipts) {
            json o{{"receipt", x.receipt_id}, {"type", x.type}, {"status", x.status}, {"meaning", x.meaning}, {"time", x.time},
                   {"received_at", iso_time(x.received_at)}};
            if (!x.info.empty()) o["info"] = x.info;
            if (!x.customs_code.empty()) o["customs_code"] = x.customs_code;
            r.push_back(std::move(o));
        }
        j["receipts"] = std::move(r);
    }
    if (!m.children.empty()) {
        json c = json::array();
        for (auto& ch : m.children) c.push_back({{"id", ch.id}, {"type", ch.type}, {"state", ch.state}});
        j["outputs"] = std::move(c);
    }
    if (with_events) {
        json ev = json::array();
        for (auto& e : m.events) {
            json x{{"seq", e.seq}, {"at", iso_time(e.at)}, {"kind", e.kind}};
            if (!e.state.empty()) x["state"] = e.state;
            if (!e.code.empty()) x["code"] = e.code;
            if (!e.detail.empty()) {
                auto d = json::parse(e.detail, nullptr, false);
                x["detail"] = d.is_discarded() ? json(e.detail) : d;
            }
            ev.push_back(std::move(x));
        }
        j["events"] = std::move(ev);
    }
    return j;
}

}  // namespace

response json_response(unsigned status, const std::string& body, unsigned version, bool keep_alive) {
    response res{static_cast<http::status>(status), version};
    res.set(http::field::server, "portgate");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = body;
    res.prepare_payload();
    return res;
}

response error_response(errc code, const std::string& message, const std::vector<problem>& problems, unsigned version,
                        bool keep_alive, const std::string& id) {
    json j{{"error", message}, {"code", code_string(code)}, {"name", std::string(code_name(code))}};
    if (!id.empty()) j["id"] = id;
    if (!problems.empty()) j["errors"] = json::parse(intake::problems_json(problems));
    auto res = json_response(static_cast<unsigned>(http_status(code)), dump(j), version, keep_alive);
    if (code == errc::overloaded || code == errc::shutting_down) res.set(http::field::retry_after, "1");
    if (code == errc::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"portgate\"");
    return res;
}

// ---------------------------------------------------------------------------------------------------
// router

router::router(context ctx) : ctx_(ctx) {
    for (auto& p : ctx_.cfg.partners)
        for (auto& h : p.api_key_hashes) keys_.emplace(h, &p);
    overloaded_ = &ctx_.registry.counter_for("portgate_http_overloaded_total");
}

router::caller router::authenticate(const request& req) const {
    caller c;
    auto auth = req[http::field::authorization];
    constexpr std::string_view bearer = "Bearer ";
    if (auth.size() <= bearer.size() || !(auth.substr(0, bearer.size()) == bearer)) return c;
    auto key = auth.substr(bearer.size());
    std::string h = config::hash_api_key(key);
    if (auto it = keys_.find(h); it != keys_.end()) c.partner = it->second;
    else if (!ctx_.cfg.server.admin_token_hash.empty() && secure_equals(h, ctx_.cfg.server.admin_token_hash)) c.admin = true;
    else
        for (auto& k : ctx_.cfg.receipts.api_key_hashes)
            if (secure_equals(h, k)) c.customs = true;
    return c;
}

std::optional<response> router::check_headers(const request& req) const {
    if (req.method() != http::verb::post || req.target() != "/v1/messages") return std::nullopt;
    const bool ka = false;  // the body is not read: the connection cannot be reused
    if (!authenticate(req).partner)
        return error_response(errc::unauthorized, "a partner API key is required: Authorization: Bearer <key>", {}, req.version(), ka);
    if (auto ct = req[http::field::content_type]; !ct.empty() && !is_xml_content_type(ct))
        return error_response(errc::unsupported_media_type,
                              fmt::format("Content-Type '{}' is not XML (use application/xml)", std::string(ct)), {}, req.version(), ka);
    return std::nullopt;
}

void router::handle(request req, responder respond) {
    const unsigned ver = req.version();
    const bool ka = req.keep_alive();
    std::string_view target = req.target();
    auto qpos = target.find('?');
    std::string path(target.substr(0, qpos));
    std::string query_text(qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1));

    if (path == "/healthz") {
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            return respond(error_response(errc::method_not_allowed, "use GET", {}, ver, ka));
        json j{{"status", "ok"},
               {"store_schema_version", ctx_.store.schema_version()},
               {"queued", ctx_.workers.queued()},
               {"store_pending", ctx_.store.pending()}};
        return respond(json_response(200, dump(j), ver, ka));
    }
    if (path == "/metrics") {
        response res{http::status::ok, ver};
        res.set(http::field::content_type, "text/plain; version=0.0.4");
        res.keep_alive(ka);
        res.body() = ctx_.registry.render();
        res.prepare_payload();
        return respond(std::move(res));
    }

    caller who = authenticate(req);
    if (path == "/v1/receipts") {
        if (req.method() != http::verb::post) return respond(error_response(errc::method_not_allowed, "use POST", {}, ver, ka));
        if (!who.customs)
            return respond(error_response(errc::unauthorized, "a customs endpoint key ([receipts] api_keys) is required", {}, ver, ka));
        if (!looks_like_xml(req.body()))
            return respond(error_response(errc::unsupported_media_type, "the body is not XML (it must start with '<')", {}, ver, ka));
        auto body = std::make_shared<std::string>(std::move(req.body()));
        if (!ctx_.workers.try_post([this, body, respond, ver, ka] {
                ctx_.intake.process_receipt(std::move(*body), "http", "", [respond, ver, ka](intake::pipeline::receipt_answer a) {
                    if (!a.stored) return respond(error_response(a.code, a.message, {}, ver, ka));
                    json j{{"id", a.id}, {"type", a.type}, {"records", a.records}, {"matched", a.outcome.matched},
                           {"orphans", a.outcome.orphans}, {"repeated", a.outcome.repeated}, {"applied", a.outcome.applied},
                           {"messages", a.outcome.message_ids}};
                    if (a.outcome.duplicate) j["duplicate"] = true;
                    if (a.code != errc::ok) j["error"] = {{"code", code_string(a.code)}, {"message", a.message}};
                    // Stored in every case (even unreadable): the exchange must not resend.
                    respond(json_response(a.outcome.duplicate ? 200 : 202, dump(j), ver, ka));
                });
            })) {
            overloaded_->inc();
            return respond(error_response(errc::overloaded, "the gateway is at capacity; retry after the indicated delay", {}, ver, ka));
        }
        return;
    }
    if (!who.partner && !who.admin)
        return respond(error_response(errc::unauthorized, "a partner API key is required: Authorization: Bearer <key>", {}, ver, ka));

    auto post = [&](std::function<void()> job) {
        if (!ctx_.workers.try_post(std::move(job))) {
            overloaded_->inc();
            respond(error_response(errc::overloaded, "the gateway is at capacity; retry after the indicated delay", {}, ver, ka));
        }
    };

    if (path == "/v1/messages" && req.method() == http::verb::post) {
        if (!who.partner) return respond(error_response(errc::forbidden, "only partners submit messages", {}, ver, ka));
        if (auto ct = req[http::field::content_type]; !ct.empty() && !is_xml_content_type(ct))
            return respond(error_response(errc::unsupported_media_type,
                                          fmt::format("Content-Type '{}' is not XML (use application/xml)", std::string(ct)), {}, ver, ka));
        if (!looks_like_xml(req.body()))
            return respond(error_response(errc::unsupported_media_type, "the body is not XML (it must start with '<')", {}, ver, ka));
        intake::submission s;
        s.partner = who.partner;
        s.channel = "http";
        s.idempotency_key = std::string(req["Idempotency-Key"]);
        if (s.idempotency_key.size() > 200)
            return respond(error_response(errc::bad_request, "Idempotency-Key is longer than 200 characters", {}, ver, ka));
        s.bytes = std::move(req.body());
        auto shared = std::make_shared<intake::submission>(std::move(s));
        return post([this, shared, respond, ver, ka] {
            ctx_.intake.process(std::move(*shared), [respond, ver, ka](intake::outcome o) {
                if (!o.stored) return respond(error_response(o.code, o.message, o.problems, ver, ka));
                if (o.code != errc::ok) return respond(error_response(o.code, o.message, o.problems, ver, ka, o.id));
                json j{{"id", o.id}, {"state", o.state}, {"type", o.type}};
                if (o.duplicate) j["duplicate"] = true;
                auto res = json_response(o.duplicate ? 200 : 202, dump(j), ver, ka);
                res.set(http::field::location, "/v1/messages/" + o.id);
                respond(std::move(res));
            });
        });
    }

    if (path == "/v1/mailbox" && req.method() == http::verb::get) {
        if (!who.partner) return respond(error_response(errc::forbidden, "the mailbox belongs to a partner: use its key", {}, ver, ka));
        auto params = parse_query(query_text);
        std::int64_t after = 0;
        int limit = 100;
        try {
            if (params.count("after")) after = std::stoll(params["after"]);
            if (params.count("limit")) limit = std::stoi(params["limit"]);
        } catch (...) {
            return respond(error_response(errc::bad_request, "after and limit are numbers", {}, ver, ka));
        }
        auto items = ctx_.store.mailbox(who.partner->id, after, limit);
        if (!items) return respond(error_response(items.err().code, items.err().message, {}, ver, ka));
        json arr = json::array();
        std::int64_t last = after;
        for (auto& it : *items) {
            json o{{"cursor", it.cursor}, {"message", it.message_id}, {"content_type", it.content_type}, {"created_at", iso_time(it.created_at)}};
            if (it.content_type == "application/json") {
                auto parsed = json::parse(it.body, nullptr, false);
                o["notification"] = parsed.is_discarded() ? json(it.body) : parsed;
            } else {
                o["notification"] = it.body;
            }
            arr.push_back(std::move(o));
            last = it.cursor;
        }
        return respond(json_response(200, dump(json{{"items", arr}, {"cursor", last}}), ver, ka));
    }
    if (path == "/v1/mailbox/ack" && req.method() == http::verb::post) {
        if (!who.partner) return respond(error_response(errc::forbidden, "the mailbox belongs to a partner: use its key", {}, ver, ka));
        auto j = json::parse(req.body(), nullptr, false);
        if (j.is_discarded() || !j.contains("cursor") || !j["cursor"].is_number_integer())
            return respond(error_response(errc::bad_request, "expected JSON {\"cursor\": N} (the last cursor read)", {}, ver, ka));
        std::int64_t cursor = j["cursor"].get<std::int64_t>();
        ctx_.store.ack_mailbox(who.partner->id, cursor, [respond, ver, ka](result<store::stored> r) {
            if (!r) return respond(error_response(r.err().code, r.err().message, {}, ver, ka));
            respond(json_response(200, dump(json{{"acked", std::stoll(r->id)}}), ver, ka));
        });
        return;
    }
    if (path == "/v1/outbox" && req.method() == http::verb::get) {
        if (!who.admin) return respond(error_response(errc::forbidden, "operators only", {}, ver, ka));
        auto params = parse_query(query_text);
        std::string st = params.count("state") ? params["state"] : "dead";
        if (st != "pending" && st != "sent" && st != "rejected" && st != "dead")
            return respond(error_response(errc::bad_request, "state is pending, sent, rejected or dead", {}, ver, ka));
        auto jobs = ctx_.store.outbox_in_state(st, 500);
        if (!jobs) return respond(error_response(jobs.err().code, jobs.err().message, {}, ver, ka));
        json arr = json::array();
        for (auto& j : *jobs)
            arr.push_back({{"message", j.message_id}, {"type", j.type}, {"endpoint", j.endpoint}, {"cop_msg_id", j.cop_msg_id},
                           {"attempts", j.attempts}, {"last_error", j.last_error}});
        return respond(json_response(200, dump(json{{"state", st}, {"items", arr}}), ver, ka));
    }
    if (path.starts_with("/v1/messages/") && path.ends_with("/resend") && req.method() == http::verb::post) {
        if (!who.admin) return respond(error_response(errc::forbidden, "operators only", {}, ver, ka));
        std::string id = path.substr(13, path.size() - 13 - 7);
        // {"new_guid": true} (or ?new_guid=true): send it again as a new message, fresh guid, appType 2.
        bool new_guid = parse_query(query_text)["new_guid"] == "true";
        if (!req.body().empty()) {
            auto b = json::parse(req.body(), nullptr, false);
            if (b.is_discarded() || !b.is_object())
                return respond(error_response(errc::bad_request, "the body must be a JSON object such as {\"new_guid\": true}", {}, ver, ka));
            if (b.contains("new_guid")) {
                if (!b["new_guid"].is_boolean()) return respond(error_response(errc::bad_request, "new_guid must be true or false", {}, ver, ka));
                new_guid = b["new_guid"].get<bool>();
            }
        }
        if (new_guid) {
            auto post_job = [this, id, respond, ver, ka] {
                ctx_.intake.replay_with_new_guid(id, [respond, ver, ka](intake::pipeline::replay_answer a) {
                    if (a.code != errc::ok) return respond(error_response(a.code, a.message, a.problems, ver, ka));
                    respond(json_response(202, dump(json{{"id", a.id}, {"replay_of", a.original}, {"state", a.state}, {"guid", a.guid},
                                                         {"app_type", "2"}, {"cop_msg_id", a.id}}), ver, ka));
                });
            };
            if (!ctx_.workers.try_post(std::move(post_job))) {
                overloaded_->inc();
                return respond(error_response(errc::overloaded, "the gateway is at capacity; retry after the indicated delay", {}, ver, ka));
            }
            return;
        }
        ctx_.store.resend(id, [respond, ver, ka](result<store::stored> r) {
            if (!r) return respond(error_response(r.err().code, r.err().message, {}, ver, ka));
            respond(json_response(202, dump(json{{"id", r->id}, {"state", r->state}, {"cop_msg_id", "unchanged"}}), ver, ka));
        });
        return;
    }
    if (path == "/v1/notifications/dead" && req.method() == http::verb::get) {
        if (!who.admin) return respond(error_response(errc::forbidden, "operators only", {}, ver, ka));
        auto dead = ctx_.store.dead_notifications(200);
        if (!dead) return respond(error_response(dead.err().code, dead.err().message, {}, ver, ka));
        json arr = json::array();
        for (auto& d : *dead)
            arr.push_back({{"notification", d.seq}, {"partner", d.partner}, {"channel", d.channel}, {"message", d.message_id},
                           {"status", d.status}, {"attempts", d.attempts}});
        return respond(json_response(200, dump(json{{"items", arr}}), ver, ka));
    }

    if (path == "/v1/messages" && req.method() == http::verb::get) {
        auto params = parse_query(query_text);
        store::query q;
        if (who.partner) q.partner = who.partner->id;
        else if (auto it = params.find("partner"); it != params.end()) q.partner = it->second;
        for (auto& [k, v] : params) {
            if (k == "state") {
                if (!parse_state(v)) return respond(error_response(errc::bad_request, fmt::format("state '{}' is unknown", v), {}, ver, ka));
                q.state = v;
            } else if (k == "type") q.type = v;
            else if (k == "q") q.q = v;
            else if (k == "from" || k == "to") {
                auto t = parse_time(v);
                if (!t) return respond(error_response(errc::bad_request, fmt::format("{}='{}' is neither ISO-8601 UTC nor epoch milliseconds", k, v), {}, ver, ka));
                (k == "from" ? q.from : q.to) = t;
            } else if (k == "cursor") {
                std::int64_t c = 0;
                auto r = std::from_chars(v.data(), v.data() + v.size(), c);
                if (r.ec != std::errc() || r.ptr != v.data() + v.size() || c <= 0)
                    return respond(error_response(errc::bad_request, fmt::format("cursor '{}' is not one this API gave", v), {}, ver, ka));
                q.before_seq = c;
            } else if (k == "limit") {
                int l = 0;
                auto r = std::from_chars(v.data(), v.data() + v.size(), l);
                if (r.ec != std::errc() || l < 1 || l > 500)
                    return respond(error_response(errc::bad_request, "limit must be 1..500", {}, ver, ka));
                q.limit = l;
            } else if (k != "partner") {
                return respond(error_response(errc::bad_request, fmt::format("unknown query parameter '{}'", k), {}, ver, ka));
            }
        }
        return post([this, q, respond, ver, ka] {
            auto pg = ctx_.store.list(q);
            if (!pg) return respond(error_response(pg.err().code, pg.err().message, {}, ver, ka));
            json items = json::array();
            for (auto& m : pg->items) items.push_back(message_json(m, false));
            json j{{"items", std::move(items)}, {"next_cursor", pg->next_cursor ? json(std::to_string(*pg->next_cursor)) : json(nullptr)}};
            respond(json_response(200, dump(j), ver, ka));
        });
    }

    constexpr std::string_view prefix = "/v1/messages/";
    if (path.starts_with(prefix) && req.method() == http::verb::get) {
        std::string rest = path.substr(prefix.size());
        std::string id = rest, stage;
        if (auto slash = rest.find('/'); slash != std::string::npos) {
            id = rest.substr(0, slash);
            std::string tail = rest.substr(slash + 1);
            constexpr std::string_view payloads = "payloads/";
            if (!tail.starts_with(payloads) || tail.size() == payloads.size())
                return respond(error_response(errc::not_found, "no such resource", {}, ver, ka));
            stage = tail.substr(payloads.size());
        }
        std::string partner = who.partner ? who.partner->id : "";
        return post([this, id, stage, partner, respond, ver, ka] {
            auto m = ctx_.store.get(id, partner);
            if (!m) return respond(error_response(m.err().code, m.err().message, {}, ver, ka));
            if (!*m) return respond(error_response(errc::not_found, fmt::format("no message '{}'", id), {}, ver, ka));
            if (stage.empty()) return respond(json_response(200, dump(message_json(**m, true)), ver, ka));
            auto p = ctx_.store.payload(id, stage);
            if (!p) return respond(error_response(p.err().code, p.err().message, {}, ver, ka));
            if (!*p) return respond(error_response(errc::not_found, fmt::format("message '{}' has no '{}' payload", id, stage), {}, ver, ka));
            response res{http::status::ok, ver};
            res.set(http::field::content_type, "application/xml");
            res.keep_alive(ka);
            res.body() = std::move(**p);
            res.prepare_payload();
            respond(std::move(res));
        });
    }

    if (path == "/v1/messages" || path.starts_with(prefix))
        return respond(error_response(errc::method_not_allowed, fmt::format("{} does not accept {}", path, std::string(req.method_string())), {}, ver, ka));
    respond(error_response(errc::not_found, fmt::format("no such resource: {}", path), {}, ver, ka));
}

// ---------------------------------------------------------------------------------------------------
// sessions and listener

namespace {

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket&& s, router& r, const config::server_config& cfg, std::shared_ptr<std::atomic<std::size_t>> in_flight,
            std::shared_ptr<std::atomic<bool>> draining)
        : stream_(std::move(s)), router_(r), cfg_(cfg), in_flight_(std::move(in_flight)), draining_(std::move(draining)) {}

    void start() { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this())); }

private:
    void do_read() {
        parser_.emplace();
        parser_->body_limit(cfg_.max_body_bytes);
        parser_->header_limit(static_cast<std::uint32_t>(cfg_.max_header_bytes));
        stream_.expires_after(cfg_.request_timeout);
        http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout) return close();
        if (ec == http::error::body_limit)
            return send(error_response(errc::payload_too_large, fmt::format("body is over the limit of {} bytes", cfg_.max_body_bytes), {}, 11, false));
        if (ec == http::error::header_limit) {
            return send(error_response(errc::bad_request, "request headers are larger than the limit", {}, 11, false));
        }
        if (ec) return send(error_response(errc::bad_request, fmt::format("malformed HTTP request: {}", ec.message()), {}, 11, false));
        auto& req = parser_->get();
        if (auto early = router_.check_headers(req)) return send(std::move(*early));
        if (auto len = parser_->content_length(); len && *len > cfg_.max_body_bytes)
            return send(error_response(errc::payload_too_large,
                                       fmt::format("body of {} bytes is over the limit of {} bytes", *len, cfg_.max_body_bytes), {},
                                       req.version(), false));
        if (beast::iequals(req[http::field::expect], "100-continue")) {
            auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
            return http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                if (ec) return self->close();
                self->read_body();
            });
        }
        read_body();
    }

    void read_body() {
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::body_limit)
            return send(error_response(errc::payload_too_large, fmt::format("body is over the limit of {} bytes", cfg_.max_body_bytes), {}, 11, false));
        if (ec == beast::error::timeout)
            return send(error_response(errc::request_timeout, "the request was not received in time", {}, 11, false));
        if (ec) return close();
        stream_.expires_never();  // the worker's time is not the client's
        in_flight_->fetch_add(1);
        counted_ = true;
        auto self = shared_from_this();
        router_.handle(parser_->release(), [self](response res) {
            auto shared = std::make_shared<response>(std::move(res));
            net::post(self->stream_.get_executor(), [self, shared] { self->send(std::move(*shared)); });
        });
    }

    void send(response res) {
        if (draining_->load()) res.keep_alive(false);
        res_ = std::make_shared<response>(std::move(res));
        stream_.expires_after(cfg_.request_timeout);
        http::async_write(stream_, *res_, beast::bind_front_handler(&session::on_write, shared_from_this(), !res_->keep_alive()));
    }

    void on_write(bool close_after, beast::error_code ec, std::size_t) {
        if (counted_) {
            in_flight_->fetch_sub(1);
            counted_ = false;
        }
        res_.reset();
        if (ec || close_after) return close();
        do_read();
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.socket().close(ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<response> res_;
    router& router_;
    const config::server_config& cfg_;
    std::shared_ptr<std::atomic<std::size_t>> in_flight_;
    std::shared_ptr<std::atomic<bool>> draining_;
    bool counted_ = false;
};

}  // namespace

struct server::impl {
    net::io_context& ioc;
    router& r;
    const config::server_config& cfg;
    tcp::acceptor acceptor;
    std::shared_ptr<std::atomic<bool>> draining = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<std::size_t>> in_flight;

    impl(net::io_context& c, router& rr, const config::server_config& sc, std::shared_ptr<std::atomic<std::size_t>> f)
        : ioc(c), r(rr), cfg(sc), acceptor(net::make_strand(c)), in_flight(std::move(f)) {}

    void do_accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
            if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) {
                s.set_option(tcp::no_delay(true), ec);
                std::make_shared<session>(std::move(s), r, cfg, in_flight, draining)->start();
            }
            do_accept();
        });
    }
};

server::server(net::io_context& ioc, router& r, const config::server_config& cfg)
    : in_flight_(std::make_shared<std::atomic<std::size_t>>(0)) {
    impl_ = std::make_unique<impl>(ioc, r, cfg, in_flight_);
}

server::~server() = default;

status server::listen(const std::string& host, unsigned short port) {
    beast::error_code ec;
    auto addr = net::ip::make_address(host, ec);
    if (ec) return error(errc::config_invalid, fmt::format("'{}' is not an IP address", host));
    tcp::endpoint ep{addr, port};
    auto& a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return error(errc::io_error, fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
    impl_->do_accept();
    return ok();
}

tcp::endpoint server::local_endpoint() const {
    beast::error_code ec;
    return impl_->acceptor.local_endpoint(ec);
}

void server::stop_accepting() {
    impl_->draining->store(true);
    net::post(impl_->acceptor.get_executor(), [this] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
    });
}

}  // namespace portgate::api
