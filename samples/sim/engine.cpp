// The simulator's judgement of what arrives and the receipts it plans: scenarios, checks, builders, stats.
#include <algorithm>
#include <cerrno>
#include <ctime>
#include <iconv.h>
#include <random>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <libxml/tree.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "gateway/core/base64.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/sign/sign.hpp"
#include "gateway/xml/parser.hpp"
#include "samples/sim/sim.hpp"

namespace portgate::sim {

std::atomic<bool> stopping{false};

namespace {

constexpr std::string_view ceb_ns = "http://www.chinaport.gov.cn/ceb";
constexpr std::string_view dxp_ns = "http://www.chinaport.gov.cn/dxp";
constexpr std::string_view dec_ns = "http://www.chinaport.gov.cn/dec";

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::string esc(std::string_view s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '&': o += "&amp;"; break;
            case '"': o += "&quot;"; break;
            default: o += c;
        }
    }
    return o;
}

// UTF-8 safe truncation to at most n characters.
std::string clip(std::string_view s, std::size_t n) {
    std::size_t chars = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (chars == n) break;
            ++chars;
        }
    }
    return std::string(s.substr(0, i));
}

// China time (UTC+8), the exchange's clock.
std::tm china_tm(std::chrono::system_clock::time_point tp, int* millis = nullptr) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count() + 8 * 3600 * 1000LL;
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    if (millis) *millis = static_cast<int>(ms % 1000);
    return tm;
}
std::string fmt_time(std::chrono::system_clock::time_point tp, const char* f) {
    std::tm tm = china_tm(tp);
    char buf[64];
    std::strftime(buf, sizeof buf, f, &tm);
    return buf;
}
std::string time17(std::chrono::system_clock::time_point tp) {
    int ms = 0;
    std::tm tm = china_tm(tp, &ms);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return fmt::format("{}{:03}", buf, ms);
}

std::string new_guid(std::mt19937_64& rng) {
    std::uint64_t a = rng(), b = rng();
    return guid_from(a, b);
}
std::mt19937_64& local_rng() {
    thread_local std::mt19937_64 r{std::random_device{}()};
    return r;
}

std::string local(const xmlNode* n) { return n && n->name ? reinterpret_cast<const char*>(n->name) : ""; }
std::string ns_of(const xmlNode* n) { return n && n->ns && n->ns->href ? reinterpret_cast<const char*>(n->ns->href) : ""; }
std::string text(const xmlNode* n) {
    xmlChar* c = xmlNodeGetContent(n);
    std::string s = c ? reinterpret_cast<const char*>(c) : "";
    xmlFree(c);
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}
bool is_element(const xmlNode* n) { return n && n->type == XML_ELEMENT_NODE; }
bool has_element_child(const xmlNode* n) {
    for (auto c = n->children; c; c = c->next)
        if (is_element(c)) return true;
    return false;
}
const xmlNode* child(const xmlNode* n, std::string_view name) {
    for (auto c = n ? n->children : nullptr; c; c = c->next)
        if (is_element(c) && local(c) == name) return c;
    return nullptr;
}
std::string child_text(const xmlNode* n, std::string_view name) {
    auto c = child(n, name);
    return c ? text(c) : "";
}

using values = std::map<std::string, std::string>;

// Leaf elements below n (not inside a ds:Signature), first occurrence of each local name wins.
void leaves(const xmlNode* n, values& out) {
    for (auto c = n->children; c; c = c->next) {
        if (!is_element(c)) continue;
        if (local(c) == "Signature" && ns_of(c) == sign::dsig_ns) continue;
        if (has_element_child(c)) leaves(c, out);
        else out.emplace(local(c), text(c));
    }
}
void find_all(const xmlNode* n, std::string_view name, std::vector<const xmlNode*>& out) {
    for (auto c = n->children; c; c = c->next) {
        if (!is_element(c)) continue;
        if (local(c) == name) out.push_back(c);
        else find_all(c, name, out);
    }
}

struct trans_info {
    std::string cop_msg_id, sender_id, creat_time, msg_type;
    std::vector<std::string> receivers;
};

std::string dxprep(const trans_info& t, std::string_view code, std::string_view info, const std::vector<std::string>& results) {
    std::string r = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<dxp:DxpRep xmlns:dxp=\"http://www.chinaport.gov.cn/dxp\" ver=\"1.0\">\n";
    r += fmt::format("  <dxp:RecevierId>{}</dxp:RecevierId>\n  <dxp:Response>\n", esc(t.sender_id));
    r += fmt::format("    <dxp:ResponseCode>{}</dxp:ResponseCode>\n    <dxp:ResponseInfo>{}</dxp:ResponseInfo>\n", code, esc(info));
    if (!results.empty()) {
        r += "    <dxp:Results>\n";
        for (std::size_t i = 0; i < results.size() && i < 20; ++i)
            r += fmt::format("      <dxp:Result>{}</dxp:Result>\n", esc(clip(results[i], 1000)));
        r += "    </dxp:Results>\n";
    }
    r += fmt::format("    <dxp:NoticeTime>{}</dxp:NoticeTime>\n", fmt_time(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%S"));
    r += fmt::format("    <dxp:OriHead>\n      <dxp:CopMsgId>{}</dxp:CopMsgId>\n      <dxp:SenderId>{}</dxp:SenderId>\n      <dxp:ReceiverIds>\n",
                     esc(t.cop_msg_id), esc(t.sender_id));
    for (auto& rc : t.receivers) r += fmt::format("        <dxp:ReceiverId>{}</dxp:ReceiverId>\n", esc(rc));
    r += fmt::format("      </dxp:ReceiverIds>\n      <dxp:CreatTime>{}</dxp:CreatTime>\n      <dxp:MsgType>{}</dxp:MsgType>\n    </dxp:OriHead>\n",
                     esc(t.creat_time), esc(t.msg_type));
    r += "  </dxp:Response>\n</dxp:DxpRep>\n";
    return r;
}

std::string ceb900(const trans_info& t, std::string_view guid, std::string_view type_id, std::string_view info,
                   std::string_view inner) {
    auto& rng = local_rng();
    return fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ceb:CEB900Message xmlns:ceb=\"{}\" guid=\"{}\" version=\"1.0\">\n"
        "  <ceb:MessageReturn>\n    <ceb:guid>{}</ceb:guid>\n    <ceb:returnStatus>-1</ceb:returnStatus>\n"
        "    <ceb:returnInfo>{}</ceb:returnInfo>\n    <ceb:returnTime>{}</ceb:returnTime>\n"
        "    <ceb:oriCopMsgId>{}</ceb:oriCopMsgId>\n    <ceb:oriMessageType>{}</ceb:oriMessageType>\n"
        "    <ceb:oriBizMessage>{}</ceb:oriBizMessage>\n  </ceb:MessageReturn>\n</ceb:CEB900Message>\n",
        ceb_ns, new_guid(rng), guid.size() == 36 ? std::string(guid) : new_guid(rng), esc(clip(info, 1000)),
        time17(std::chrono::system_clock::now()), esc(t.cop_msg_id), esc(type_id), base64_encode(inner));
}

std::optional<std::string> to_encoding(const std::string& utf8, const char* enc) {
    iconv_t cd = iconv_open(enc, "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::string out(utf8.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(utf8.data());
    std::size_t inleft = utf8.size(), outleft = out.size();
    char* o = out.data();
    std::size_t r = iconv(cd, &in, &inleft, &o, &outleft);
    iconv_close(cd);
    if (r == static_cast<std::size_t>(-1)) return std::nullopt;
    out.resize(out.size() - outleft);
    return out;
}

// Expands {date} {year} {time} {nN} (N random digits) and {field} (a value of the original).
std::string expand(std::string_view f, const values& v, std::mt19937_64& rng) {
    std::string out;
    auto now = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '{') {
            out += f[i];
            continue;
        }
        auto e = f.find('}', i);
        if (e == std::string_view::npos) {
            out += f.substr(i);
            break;
        }
        std::string tok(f.substr(i + 1, e - i - 1));
        i = e;
        if (tok == "date") out += fmt_time(now, "%Y%m%d");
        else if (tok == "year") out += fmt_time(now, "%Y");
        else if (tok == "yy") out += fmt_time(now, "%y");
        else if (tok == "time") out += fmt_time(now, "%H%M%S");
        else if (tok.size() > 1 && tok[0] == 'n' && std::all_of(tok.begin() + 1, tok.end(), ::isdigit)) {
            int n = std::stoi(tok.substr(1));
            for (int d = 0; d < n; ++d) out += static_cast<char>('0' + rng() % 10);
        } else if (auto it = v.find(tok); it != v.end()) out += it->second;
    }
    return out;
}

bool ok_answer(std::string_view builder, std::string_view status) {
    return builder == "dec-response" ? status == "0" : builder == "g2-response" ? status == "0" : true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Scenarios

result<std::vector<scenario>> load_scenarios(const fs::path& dir) {
    std::vector<scenario> out;
    std::vector<problem> problems;
    std::error_code ec;
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".toml") files.push_back(e.path());
    if (ec) return error(errc::config_invalid, fmt::format("cannot read scenario directory {}: {}", dir.string(), ec.message()));
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
        try {
            toml::table t = toml::parse_file(f.string());
            scenario s;
            s.file = f.string();
            s.message = t["message"].value_or(std::string());
            s.receipt = t["receipt"].value_or(std::string());
            s.builder = t["builder"].value_or(std::string("ceb"));
            s.record = t["record"].value_or(std::string());
            s.head = t["head"].value_or(std::string());
            s.encoding = t["encoding"].value_or(std::string("UTF-8"));
            s.with_namespace = t["namespace"].value_or(true);
            s.biz = t["biz"].value_or(std::string("CEB"));
            s.signature_code = t["signature_code"].value_or(std::string());
            s.rule_code = t["rule_code"].value_or(std::string());
            s.duplicate_share = t["duplicate_share"].value_or(0.0);
            s.resend_share = t["resend_share"].value_or(0.0);
            s.out_of_order_share = t["out_of_order_share"].value_or(0.0);
            if (auto a = t["fields"].as_array())
                for (auto& x : *a) s.fields.push_back(x.value_or(std::string()));
            if (auto g = t["generate"].as_table())
                for (auto& [k, v] : *g) {
                    generated gen;
                    gen.field = std::string(k.str());
                    if (auto tt = v.as_table()) {
                        gen.from_status = (*tt)["from"].value_or(std::string());
                        gen.format = (*tt)["format"].value_or(std::string());
                    }
                    s.generate.push_back(std::move(gen));
                }
            if (auto seqs = t["sequence"].as_array())
                for (auto& sv : *seqs) {
                    auto st = sv.as_table();
                    if (!st) continue;
                    sequence q;
                    q.name = (*st)["name"].value_or(std::string());
                    q.weight = (*st)["weight"].value_or(1.0);
                    if (auto steps = (*st)["steps"].as_array())
                        for (auto& pv : *steps) {
                            auto pt = pv.as_table();
                            if (!pt) continue;
                            step p;
                            p.builder = (*pt)["builder"].value_or(std::string());
                            if (auto n = (*pt)["status"].value<std::string>()) p.status = *n;
                            else if (auto i = (*pt)["status"].value<std::int64_t>()) p.status = std::to_string(*i);
                            p.info = (*pt)["info"].value_or(std::string());
                            p.delay_ms = static_cast<int>((*pt)["delay_ms"].value_or(std::int64_t{0}));
                            p.answer = (*pt)["answer"].value_or(false);
                            q.steps.push_back(std::move(p));
                        }
                    if (q.steps.empty()) problems.push_back({0, 0, f.string(), fmt::format("sequence '{}' has no steps", q.name), ""});
                    s.sequences.push_back(std::move(q));
                }
            if (s.message.empty()) problems.push_back({0, 0, f.string(), "'message' (the message type id) is missing", ""});
            if (s.sequences.empty()) problems.push_back({0, 0, f.string(), "no [[sequence]]", ""});
            static const std::set<std::string> builders = {"ceb", "dec-response", "dec-result", "g2-response", "inv201"};
            if (!builders.count(s.builder)) problems.push_back({0, 0, f.string(), "unknown builder " + s.builder, ""});
            for (auto& q : s.sequences)
                for (auto& p : q.steps)
                    if (!p.builder.empty() && !builders.count(p.builder))
                        problems.push_back({0, 0, f.string(), "unknown builder " + p.builder, ""});
            if (s.builder == "ceb" && (s.receipt.empty() || s.record.empty()))
                problems.push_back({0, 0, f.string(), "the ceb builder needs 'receipt' and 'record'", ""});
            out.push_back(std::move(s));
        } catch (const toml::parse_error& e) {
            problems.push_back({static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column), f.string(),
                                std::string(e.description()), ""});
        }
    }
    if (!problems.empty()) {
        std::string msg = "invalid scenario file(s):";
        for (auto& p : problems) msg += fmt::format("\n  {}:{}: {}", p.path, p.line, p.message);
        return error(errc::config_invalid, msg, problems);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Stats

void stats::result(const answer& a) {
    std::lock_guard l(m_);
    ++codes_[a.code];
    if (a.reason == "accepted") ++accepted_;
    else ++rejected_[a.reason];
}

void stats::sent(const delivery& d) {
    std::lock_guard l(m_);
    ++receipts_[d.receipt][d.status];
    ++receipts_total_;
    if (d.duplicate) ++duplicates_;
}

std::string stats::json() const {
    std::lock_guard l(m_);
    nlohmann::json j;
    j["received"] = received_;
    j["accepted"] = accepted_;
    std::uint64_t rej = 0;
    for (auto& [k, v] : rejected_) rej += v;
    j["rejected"] = rej;
    j["rejected_by_reason"] = rejected_;
    j["answers_by_code"] = codes_;
    j["receipts_sent"] = receipts_;
    j["receipts_sent_total"] = receipts_total_;
    j["duplicates_sent"] = duplicates_;
    j["out_of_order"] = out_of_order_;
    j["callback_failures"] = callback_failures_;
    j["callback_rejected"] = callback_rejected_;
    j["pending"] = pending_;
    j["repeated_cop_msg_ids"] = repeats_;
    j["distinct_cop_msg_ids"] = distinct_;
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------------
// Dispatcher

dispatcher::dispatcher(sink s, stats& st) : sink_(std::move(s)), stats_(st), thread_([this] { run(); }) {}
dispatcher::~dispatcher() { stop(); }

void dispatcher::add(std::vector<delivery> ds) {
    if (ds.empty()) return;
    {
        std::lock_guard l(m_);
        for (auto& d : ds) {
            d.order = order_++;
            q_.push(std::move(d));
        }
    }
    stats_.pending(static_cast<long>(ds.size()));
    cv_.notify_one();
}

void dispatcher::stop() {
    {
        std::lock_guard l(m_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void dispatcher::run() {
    std::unique_lock l(m_);
    while (!stop_) {
        if (q_.empty()) {
            cv_.wait(l);
            continue;
        }
        auto due = q_.top().due;
        if (clock::now() < due) {
            cv_.wait_until(l, due);
            continue;
        }
        delivery d = q_.top();
        q_.pop();
        l.unlock();
        int backoff = 50;
        bool done = false;
        while (!(done = sink_(d))) {
            stats_.callback_failure();
            std::unique_lock w(m_);
            if (cv_.wait_for(w, std::chrono::milliseconds(backoff), [this] { return stop_; })) break;
            backoff = std::min(backoff * 2, 2000);
        }
        if (done) stats_.sent(d);
        stats_.pending(-1);
        l.lock();
    }
}

// ---------------------------------------------------------------------------------------------------
// Engine

result<std::unique_ptr<engine>> engine::create(const options& o) {
    std::unique_ptr<engine> e(new engine());
    e->opt_ = o;
    auto k = validation::knowledge::load(o.xsd_dir);
    if (!k) return k.err();
    e->k_ = k.value();
    auto s = load_scenarios(o.scenarios_dir);
    if (!s) return s.err();
    e->scenarios_ = std::move(s.value());
    for (auto& sc : e->scenarios_)
        if (!e->k_->types->find(sc.message))
            return error(errc::config_invalid, fmt::format("{}: message type '{}' is not registered (xsd/families)", sc.file, sc.message));
    return e;
}

const scenario* engine::find(std::string_view message_type) const {
    for (auto& s : scenarios_)
        if (s.message == message_type) return &s;
    return nullptr;
}

answer engine::handle(std::string_view bytes, std::string_view file_name, std::vector<delivery>& out) {
    bool repeat = false;
    answer a = handle_first(bytes, file_name, out, repeat);
    if (repeat || a.cop_msg_id.empty() || a.cop_msg_id == "UNKNOWN") return a;
    std::lock_guard l(seen_m_);
    seen_[a.cop_msg_id] = a;
    return a;
}

answer engine::handle_first(std::string_view bytes, std::string_view file_name, std::vector<delivery>& out, bool& repeat) {
    stats_.received();
    answer a;
    xml::limits lim;
    const auto now_sys = std::chrono::system_clock::now();
    const auto now = clock::now();
    trans_info ti;
    ti.sender_id = "UNKNOWN";
    ti.cop_msg_id = file_name.empty() ? "UNKNOWN" : std::string(file_name);
    ti.creat_time = fmt_time(now_sys, "%Y-%m-%dT%H:%M:%S");
    ti.receivers = {opt_.receiver_id};
    ti.msg_type = "Unknown";
    auto finish = [&](std::string code, std::string reason, std::string info, std::vector<std::string> results = {}) {
        a.code = std::move(code);
        a.reason = std::move(reason);
        a.dxprep = dxprep(ti, a.code, info, results);
        stats_.result(a);
        return a;
    };
    auto problem_lines = [](const std::vector<problem>& ps) {
        std::vector<std::string> r;
        for (auto& p : ps) r.push_back(p.line ? fmt::format("line {}, column {}: {}", p.line, p.column, p.message) : p.message);
        return r;
    };

    auto outer = xml::parse(bytes, lim, file_name);
    if (!outer) return finish("0001", "xml_malformed", "报文不是合法的XML", {outer.err().message});
    const xmlNode* root = xmlDocGetRootElement(outer->doc.get());
    std::string inner;
    if (outer->root_name == "DxpMsg" && outer->root_namespace == dxp_ns) {
        if (auto tr = child(root, "TransInfo")) {
            ti.cop_msg_id = child_text(tr, "CopMsgId");
            ti.sender_id = child_text(tr, "SenderId");
            ti.creat_time = child_text(tr, "CreatTime");
            ti.msg_type = child_text(tr, "MsgType");
            ti.receivers.clear();
            if (auto rs = child(tr, "ReceiverIds"))
                for (auto c = rs->children; c; c = c->next)
                    if (is_element(c) && local(c) == "ReceiverId") ti.receivers.push_back(text(c));
            if (ti.sender_id.empty()) ti.sender_id = "UNKNOWN";
            if (ti.cop_msg_id.empty()) ti.cop_msg_id = "UNKNOWN";
            if (ti.receivers.empty()) ti.receivers = {opt_.receiver_id};
            if (ti.cop_msg_id != "UNKNOWN") {
                std::lock_guard l(seen_m_);
                auto [it, fresh] = seen_.try_emplace(ti.cop_msg_id);
                if (!fresh) {
                    repeat = true;
                    stats_.repeat();
                    if (it->second) {
                        answer again = *it->second;
                        again.repeat = true;
                        return again;
                    }
                    a.repeat = true;
                    a.code = "3002";
                    a.reason = "in_progress";
                    a.dxprep = dxprep(ti, a.code, "报文正在处理，请稍后重试", {});
                    return a;
                }
                stats_.distinct(seen_.size());
                a.cop_msg_id = ti.cop_msg_id;
            }
        }
        if (!opt_.accept_all) {
            auto sc = k_->catalog->find("dxp");
            if (sc) {
                auto v = sc->validate(bytes, file_name);
                if (!v) return finish("3001", "internal", "系统错误", {v.err().message});
                if (!v->empty()) return finish("0002", "envelope_invalid", "报文格式校验失败", problem_lines(*v));
            }
        }
        auto data = base64_decode(child_text(root, "Data"), lim.max_bytes);
        if (!data || data->empty()) return finish("0002", "envelope_invalid", "报文格式校验失败", {"Data is not valid base64"});
        if (opt_.accept_all && !opt_.receipts) return finish("0000", "accepted", "成功");  // nothing checked, nothing to answer later
        inner = std::move(*data);
    } else {
        inner = std::string(bytes);
        ti.msg_type = outer->root_name;
        if (auto g = xmlGetProp(root, reinterpret_cast<const xmlChar*>("guid"))) {
            ti.cop_msg_id = reinterpret_cast<const char*>(g);
            xmlFree(g);
        }
        values v;
        leaves(root, v);
        if (auto it = v.find("dxpId"); it != v.end() && !it->second.empty() && it->second.size() <= 16) ti.sender_id = it->second;
    }

    // The business document.
    auto idoc = xml::parse(inner, lim, "Data");
    if (!idoc) return finish("0002", "xml_malformed", "报文格式校验失败", {idoc.err().message});
    auto t = k_->types->detect(idoc->doc.get());
    if (!t) return finish("2001", "unknown_type", "未知的报文类型", {t.err().message});
    const formats::type_info* type = t.value();
    const xmlNode* iroot = xmlDocGetRootElement(idoc->doc.get());
    const scenario* sc = find(type->id);
    a.biz = sc ? sc->biz : (type->family.rfind("ceb", 0) == 0 ? "CEB" : type->family == "dec" ? "Deccus001" : type->family == "golden2" ? "Sas" : "CEB");
    std::string root_guid;
    if (auto g = xmlGetProp(iroot, reinterpret_cast<const xmlChar*>("guid"))) {
        root_guid = reinterpret_cast<const char*>(g);
        xmlFree(g);
    }

    // Business records of the original (one per head) and the seed for this message.
    values doc_values;
    leaves(iroot, doc_values);
    std::vector<values> records;
    if (sc && !sc->head.empty()) {
        std::vector<const xmlNode*> heads;
        find_all(iroot, sc->head, heads);
        for (auto h : heads) {
            values v;
            leaves(h, v);
            for (auto& [k, x] : doc_values) v.emplace(k, x);
            records.push_back(std::move(v));
        }
    }
    if (records.empty()) records.push_back(doc_values);
    std::string key = type->id;
    if (auto ks = k_->types->keys(*type, idoc->doc.get()); ks && !ks->empty())
        for (auto& [n, v] : ks->front()) key += "|" + n + "=" + v;
    else key += "|" + ti.cop_msg_id;
    std::mt19937_64 rng(fnv1a(key, fnv1a(std::to_string(opt_.seed))));
    std::uniform_real_distribution<double> unit(0.0, 1.0);

    auto build = [&](const std::string& builder, const std::vector<values>& recs, const std::string& status,
                     const std::string& info, std::chrono::system_clock::time_point when, int copies) -> std::string {
        std::string x;
        const bool ns = sc ? sc->with_namespace : true;
        if (builder == "ceb") {
            const std::string p = ns ? "ceb:" : "";
            x = fmt::format("<{}{}Message{} guid=\"{}\" version=\"1.0\">\n", p, sc->receipt,
                            ns ? fmt::format(" xmlns:ceb=\"{}\"", ceb_ns) : "", new_guid(local_rng()));
            for (auto& r : recs)
                for (int c = 0; c < copies; ++c) {
                    x += fmt::format("  <{}{}>\n", p, sc->record);
                    for (auto& f : sc->fields)
                        if (auto it = r.find(f); it != r.end() && !it->second.empty())
                            x += fmt::format("    <{0}{1}>{2}</{0}{1}>\n", p, f, esc(it->second));
                    x += fmt::format("    <{0}returnStatus>{1}</{0}returnStatus>\n    <{0}returnTime>{2}</{0}returnTime>\n"
                                     "    <{0}returnInfo>{3}</{0}returnInfo>\n",
                                     p, esc(status), time17(when), esc(clip(info, 1000)));
                    x += fmt::format("  </{}{}>\n", p, sc->record);
                }
            x += fmt::format("</{}{}Message>\n", p, sc->receipt);
        } else if (builder == "dec-response") {
            auto& r = recs.front();
            auto get = [&](const char* n) { auto it = r.find(n); return it == r.end() ? std::string() : it->second; };
            x = fmt::format("<DecImportResponse{}>\n  <ResponseCode>{}</ResponseCode>\n  <ErrorMessage>{}</ErrorMessage>\n"
                            "  <ClientSeqNo>{}</ClientSeqNo>\n",
                            ns ? fmt::format(" xmlns=\"{}\"", dec_ns) : "", esc(status), esc(info), esc(get("ClientSeqNo")));
            if (!get("SeqNo").empty()) x += fmt::format("  <SeqNo>{}</SeqNo>\n", esc(get("SeqNo")));
            x += "</DecImportResponse>\n";
        } else if (builder == "dec-result") {
            x = "<DEC_DATA>\n";
            for (auto& r : recs)
                for (int c = 0; c < copies; ++c) {
                    auto get = [&](const char* n) { auto it = r.find(n); return it == r.end() ? std::string() : it->second; };
                    x += fmt::format("  <DEC_RESULT>\n    <CUS_CIQ_NO>{}</CUS_CIQ_NO>\n", esc(get("SeqNo")));
                    if (!get("EntryId").empty()) x += fmt::format("    <ENTRY_ID>{}</ENTRY_ID>\n", esc(get("EntryId")));
                    x += fmt::format("    <NOTICE_DATE>{}</NOTICE_DATE>\n    <CHANNEL>{}</CHANNEL>\n    <NOTE>{}</NOTE>\n  </DEC_RESULT>\n",
                                     fmt_time(when, "%Y-%m-%dT%H:%M:%S"), esc(status), esc(clip(info, 255)));
                }
            x += "</DEC_DATA>\n";
        } else if (builder == "g2-response") {
            auto& r = recs.front();
            auto get = [&](const char* n) { auto it = r.find(n); return it == r.end() ? std::string() : it->second; };
            x = "<CommonResponeMessage>\n";
            if (!get("SeqNo").empty()) x += fmt::format("  <SeqNo>{}</SeqNo>\n", esc(get("SeqNo")));
            x += fmt::format("  <EtpsPreentNo>{}</EtpsPreentNo>\n  <CheckInfo>{}</CheckInfo>\n  <DealFlag>{}</DealFlag>\n</CommonResponeMessage>\n",
                             esc(get("EtpsInnerInvtNo")), esc(info), esc(status));
        } else if (builder == "inv201") {
            auto& r = recs.front();
            auto get = [&](const char* n) { auto it = r.find(n); return it == r.end() ? std::string() : it->second; };
            x = fmt::format("<Package{}>\n  <EnvelopInfo>\n    <version>1.0</version>\n    <message_id>{}</message_id>\n"
                            "    <file_name>INV201_{}.xml</file_name>\n    <message_type>INV201</message_type>\n"
                            "    <sender_id>DXPEDCSAS0000001</sender_id>\n    <receiver_id>{}</receiver_id>\n"
                            "    <send_time>{}</send_time>\n  </EnvelopInfo>\n  <DataInfo>\n    <BussinessData>\n      <INV201>\n",
                            ns ? fmt::format(" xmlns=\"{}\"", sign::dsig_ns) : "", new_guid(local_rng()), esc(get("BondInvtNo")),
                            esc(ti.sender_id), fmt_time(when, "%Y-%m-%dT%H:%M:%S"));
            for (int c = 0; c < copies; ++c)
                x += fmt::format("        <HdeApprResult>\n          <etpsPreentNo>{}</etpsPreentNo>\n          <businessId>{}</businessId>\n"
                                 "          <tmsCnt>0</tmsCnt>\n          <typecd>INV</typecd>\n          <manageResult>{}</manageResult>\n"
                                 "          <manageDate>{}</manageDate>\n          <rmk>{}</rmk>\n        </HdeApprResult>\n",
                                 esc(get("EtpsInnerInvtNo")), esc(get("BondInvtNo")), esc(status), fmt_time(when, "%Y%m%d%H%M%S"),
                                 esc(clip(info, 255)));
            x += "      </INV201>\n    </BussinessData>\n  </DataInfo>\n</Package>\n";
        }
        std::string enc = sc ? sc->encoding : "UTF-8";
        for (auto& ch : enc) ch = static_cast<char>(::toupper(static_cast<unsigned char>(ch)));
        if (enc != "UTF-8") {
            if (auto g = to_encoding(x, enc.c_str())) return "<?xml version=\"1.0\" encoding=\"" + enc + "\"?>\n" + *g;
            if (auto g = to_encoding(x, "GB18030")) return "<?xml version=\"1.0\" encoding=\"GB18030\"?>\n" + *g;
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + x;
    };
    auto file_for = [&](const std::string& receipt, std::size_t i) {
        std::string base = file_name.empty() ? ti.cop_msg_id : std::string(file_name);
        if (auto dot = base.rfind('.'); dot != std::string::npos) base.resize(dot);
        return fmt::format("{}_{}_{}_{:02}.xml", receipt, base, time17(now_sys), i);
    };
    auto one_receipt = [&](const std::string& status, const std::string& info) {
        if (!sc) return;
        delivery d;
        d.due = now + std::chrono::milliseconds(sc->sequences.front().steps.front().delay_ms);
        std::string builder = sc->sequences.front().steps.front().builder.empty() ? sc->builder : sc->sequences.front().steps.front().builder;
        d.receipt = builder == "ceb" ? sc->receipt : builder;
        d.status = status;
        d.bytes = build(builder, records, status, info, now_sys, 1);
        d.name = file_for(d.receipt, 0);
        if (sc->sequences.front().steps.front().answer && !ok_answer(builder, status)) d.name = "Failed_" + std::string(file_name);
        d.biz = a.biz;
        out.push_back(std::move(d));
    };

    if (!opt_.accept_all) {
        // Signature first: an unsigned declared message is a security failure, not a format one.
        const formats::family_info* fam = k_->types->family(type->family);
        if (fam && fam->signature == "enveloped") {
            sign::verify_policy pol;
            pol.allow_sha1 = true;
            if (!opt_.trust_any) pol.trusted_ca_file = opt_.trust_ca;
            auto v = sign::verify_document(inner, pol);
            if (!v || !v->valid) {
                std::string why = v ? v->code : "unverifiable";
                std::string sentence = v ? v->reason : v.err().message;
                std::string code = why == "digest_mismatch" ? "1004" : "1001";
                if (sc && !sc->signature_code.empty())
                    one_receipt(sc->signature_code, fmt::format("[Code:{};Desc:签名验证失败] {}", sc->signature_code, sentence));
                return finish(code, "signature:" + why, code == "1004" ? "签名与数据不一致" : "签名无效", {"数字签名验证失败: " + sentence});
            }
        }
        validation::options vo;
        vo.type = type->id;
        vo.prof = validation::profile::sent;
        auto rep = validation::check(*k_, inner, vo, lim, "Data");
        if (!rep) return finish("3001", "internal", "系统错误", {rep.err().message});
        if (rep->code == errc::schema_invalid || (rep->code != errc::ok && rep->code != errc::rule_violated)) {
            auto lines = problem_lines(rep->problems);
            if (type->family.rfind("ceb", 0) == 0) {
                delivery d;
                d.due = now + std::chrono::milliseconds(sc && !sc->sequences.empty() ? sc->sequences.front().steps.front().delay_ms : 0);
                d.receipt = "CEB900";
                d.status = "-1";
                d.bytes = ceb900(ti, doc_values.count("guid") ? doc_values["guid"] : root_guid, type->id,
                                 "报文格式校验失败：" + (lines.empty() ? rep->message : lines.front()), inner);
                d.name = file_for("CEB900", 0);
                d.biz = a.biz;
                out.push_back(std::move(d));
            }
            return finish("0002", "schema_invalid", "报文格式校验失败", lines);
        }
        if (rep->code == errc::rule_violated) {
            std::string code = sc ? sc->rule_code : "";
            std::string first = rep->problems.empty() ? rep->message : rep->problems.front().message;
            static const std::regex cc("customs error (-[0-9]{6})");
            std::smatch m;
            std::string firsts = first;
            if (std::regex_search(firsts, m, cc)) code = m[1];
            if (code.empty()) code = "-1";
            one_receipt(code, fmt::format("[Code:{};Desc:业务校验失败] {}", code, clip(first, 900)));
            a.code = "0000";
            a.reason = "rule_violated";
            a.dxprep = dxprep(ti, "0000", "成功", {});
            stats_.result(a);
            return a;
        }
    }

    // Accepted: plan the receipt sequence.
    a.code = "0000";
    a.reason = "accepted";
    a.dxprep = dxprep(ti, "0000", "成功", {});
    stats_.result(a);
    if (!sc) return a;
    double total = 0;
    for (auto& q : sc->sequences) total += std::max(0.0, q.weight);
    double pick = unit(rng) * total;
    const sequence* seq = &sc->sequences.back();
    for (auto& q : sc->sequences) {
        if (pick < q.weight) {
            seq = &q;
            break;
        }
        pick -= std::max(0.0, q.weight);
    }
    // Generated numbers, the same for the whole sequence, visible from their step on.
    std::vector<std::map<std::string, std::string>> gen(records.size());
    for (std::size_t r = 0; r < records.size(); ++r)
        for (auto& g : sc->generate) gen[r][g.field] = expand(g.format, records[r], rng);
    const double u_dup = unit(rng), u_resend = unit(rng), u_ooo = unit(rng);
    const std::size_t n = seq->steps.size();
    const std::size_t dup_at = rng() % n, resend_at = rng() % n, ooo_at = n >= 3 ? 1 + rng() % (n - 2) : 0;
    const bool dup = u_dup < sc->duplicate_share, resend = u_resend < sc->resend_share, ooo = n >= 3 && u_ooo < sc->out_of_order_share;

    std::vector<delivery> planned;
    int cumulative = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const step& s = seq->steps[i];
        cumulative += s.delay_ms;
        std::vector<values> recs = records;
        for (std::size_t r = 0; r < recs.size(); ++r)
            for (auto& g : sc->generate) {
                bool visible = false;
                for (std::size_t j = 0; j <= i; ++j)
                    if (seq->steps[j].status == g.from_status) visible = true;
                if (visible) recs[r][g.field] = gen[r][g.field];
                else recs[r].erase(g.field);
            }
        const std::string builder = s.builder.empty() ? sc->builder : s.builder;
        delivery d;
        d.due = now + std::chrono::milliseconds(cumulative);
        d.receipt = builder == "ceb" ? sc->receipt : builder == "dec-response" ? "DECRSP" : builder == "dec-result" ? "DECRESULT"
                    : builder == "g2-response" ? "G2RSP" : "INV201";
        d.status = s.status;
        const bool twice = dup && i == dup_at && builder != "dec-response" && builder != "g2-response";
        d.bytes = build(builder, recs, s.status, s.info, now_sys + std::chrono::milliseconds(cumulative), twice ? 2 : 1);
        d.duplicate = twice;
        d.name = s.answer ? (ok_answer(builder, s.status) ? "Successed_" : "Failed_") + std::string(file_name.empty() ? ti.cop_msg_id + ".xml" : std::string(file_name))
                          : file_for(d.receipt, i);
        d.biz = a.biz;
        planned.push_back(std::move(d));
    }
    if (ooo) {
        std::swap(planned[ooo_at].bytes, planned[ooo_at + 1].bytes);
        std::swap(planned[ooo_at].status, planned[ooo_at + 1].status);
        std::swap(planned[ooo_at].receipt, planned[ooo_at + 1].receipt);
        std::swap(planned[ooo_at].duplicate, planned[ooo_at + 1].duplicate);
        stats_.out_of_order();
    }
    if (resend) {
        delivery again = planned[resend_at];
        again.due += std::chrono::milliseconds(5);
        again.duplicate = true;
        if (again.name.rfind("Successed_", 0) != 0 && again.name.rfind("Failed_", 0) != 0) again.name = file_for(again.receipt, 90 + resend_at);
        planned.push_back(std::move(again));
    }
    for (auto& d : planned) out.push_back(std::move(d));
    return a;
}

}  // namespace portgate::sim
