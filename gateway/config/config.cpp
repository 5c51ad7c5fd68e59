// Reads portgate.toml with toml++, checking every key and value and collecting all problems with lines.
#include "gateway/config/config.hpp"

#include <set>

#include <algorithm>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "gateway/core/digest.hpp"

namespace portgate::config {
namespace {

namespace fs = std::filesystem;

class reader {
public:
    explicit reader(std::vector<problem>& out) : out_(out) {}

    void add(const toml::node* n, std::string msg) {
        problem p;
        if (n) {
            p.line = static_cast<int>(n->source().begin.line);
            p.column = static_cast<int>(n->source().begin.column);
        }
        p.message = std::move(msg);
        out_.push_back(std::move(p));
    }
    void add(const toml::node& n, std::string msg) { add(&n, std::move(msg)); }

    // Reports keys of `t` that are not in `known`.
    void unknown_keys(const toml::table& t, std::string_view where, std::initializer_list<std::string_view> known) {
        for (auto&& [k, v] : t) {
            bool found = false;
            for (auto kk : known) found = found || kk == k.str();
            if (!found) add(v, fmt::format("unknown key '{}' in {}", k.str(), where));
        }
    }

    template <class T>
    std::optional<T> get(const toml::table& t, std::string_view key, std::string_view where, bool required = false) {
        const toml::node* n = t.get(key);
        if (!n) {
            if (required) add(t, fmt::format("{}: missing required key '{}'", where, key));
            return std::nullopt;
        }
        if (auto v = n->value<T>()) return v;
        add(n, fmt::format("{}.{}: expected {}", where, key, type_name<T>()));
        return std::nullopt;
    }

    std::vector<std::string> strings(const toml::table& t, std::string_view key, std::string_view where) {
        std::vector<std::string> out;
        const toml::node* n = t.get(key);
        if (!n) return out;
        if (auto s = n->value<std::string>()) {
            out.push_back(*s);
            return out;
        }
        const toml::array* a = n->as_array();
        if (!a) {
            add(n, fmt::format("{}.{}: expected a string or an array of strings", where, key));
            return out;
        }
        for (auto&& e : *a) {
            if (auto s = e.value<std::string>()) out.push_back(*s);
            else add(e, fmt::format("{}.{}: expected a string", where, key));
        }
        return out;
    }

private:
    template <class T>
    static constexpr std::string_view type_name() {
        if constexpr (std::is_same_v<T, std::string>) return "a string";
        else if constexpr (std::is_same_v<T, bool>) return "true or false";
        else return "a number";
    }
    std::vector<problem>& out_;
};

bool parse_listen(std::string_view s, std::string& host, unsigned short& port) {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string h(s.substr(0, colon));
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    auto ps = s.substr(colon + 1);
    if (ps.empty() || ps.size() > 5) return false;
    unsigned p = 0;
    for (char c : ps) {
        if (c < '0' || c > '9') return false;
        p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p > 65535) return false;
    host = std::move(h);
    port = static_cast<unsigned short>(p);
    return true;
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

bool valid_key_hash(std::string_view h) {
    if (h.size() != 7 + 64 || h.substr(0, 7) != "sha256:") return false;
    for (char c : h.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

fs::path resolve(const fs::path& base, const fs::path& p) { return p.is_absolute() ? p : (base / p).lexically_normal(); }

}  // namespace

const partner* config::find_partner(std::string_view id) const {
    for (auto& p : partners)
        if (p.id == id) return &p;
    return nullptr;
}

const route* config::route_by_id(std::string_view id) const {
    for (auto& r : routes)
        if (r.id == id) return &r;
    return nullptr;
}

const route* config::find_route(std::string_view partner_id, std::string_view qualified_root) const {
    for (auto& r : routes)
        if (r.partner == partner_id && r.root == qualified_root) return &r;
    return nullptr;
}

std::string hash_api_key(std::string_view key) { return "sha256:" + sha256_hex(key); }

result<config> load(const fs::path& file) {
    std::vector<problem> problems;
    reader rd(problems);
    config cfg;
    cfg.file = fs::absolute(file).lexically_normal();
    const fs::path base = cfg.file.parent_path();

    toml::table root;
    try {
        root = toml::parse_file(cfg.file.string());
    } catch (const toml::parse_error& e) {
        problem p;
        p.line = static_cast<int>(e.source().begin.line);
        p.column = static_cast<int>(e.source().begin.column);
        p.message = std::string(e.description());
        return error(errc::config_invalid, fmt::format("{}: not valid TOML", file.string()), {std::move(p)});
    } catch (const std::exception& e) {
        return error(errc::config_invalid, fmt::format("{}: {}", file.string(), e.what()));
    }

    rd.unknown_keys(root, "the top level", {"paths", "server", "store", "partner", "route", "signer", "receipts", "endpoint"});

    // [paths]
    cfg.xsd_dir = resolve(base, "../xsd");
    cfg.mappings_dir = resolve(base, "../mappings");
    if (auto* t = root["paths"].as_table()) {
        rd.unknown_keys(*t, "[paths]", {"xsd", "mappings", "calendar"});
        if (auto v = rd.get<std::string>(*t, "xsd", "paths")) cfg.xsd_dir = resolve(base, *v);
        if (auto v = rd.get<std::string>(*t, "calendar", "paths")) {
            cfg.calendar_file = resolve(base, *v);
            if (!fs::is_regular_file(cfg.calendar_file))
                rd.add(t->get("calendar"), fmt::format("paths.calendar: '{}' is not a file", cfg.calendar_file.string()));
        }
        if (auto v = rd.get<std::string>(*t, "mappings", "paths")) cfg.mappings_dir = resolve(base, *v);
    }
    if (!fs::is_directory(cfg.xsd_dir))
        rd.add(root["paths"].node(), fmt::format("paths.xsd: '{}' is not a directory", cfg.xsd_dir.string()));

    // [server]
    auto& sv = cfg.server;
    sv.data_dir = resolve(base, "var");
    if (auto* t = root["server"].as_table()) {
        rd.unknown_keys(*t, "[server]",
                        {"listen", "data_dir", "max_body_bytes", "max_header_bytes", "io_threads", "workers",
                         "queue_capacity", "request_timeout_ms", "shutdown_grace_ms", "admin_token_hash", "xml"});
        if (auto v = rd.get<std::string>(*t, "listen", "server")) {
            if (!parse_listen(*v, sv.listen_host, sv.listen_port))
                rd.add(t->get("listen"), fmt::format("server.listen: '{}' is not HOST:PORT", *v));
        }
        if (auto v = rd.get<std::string>(*t, "data_dir", "server")) sv.data_dir = resolve(base, *v);
        auto positive = [&](std::string_view key, auto& field, std::int64_t lo, std::int64_t hi) {
            if (auto v = rd.get<std::int64_t>(*t, key, "server")) {
                if (*v < lo || *v > hi)
                    rd.add(t->get(key), fmt::format("server.{}: {} is outside {}..{}", key, *v, lo, hi));
                else field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
            }
        };
        positive("max_body_bytes", sv.max_body_bytes, 1024, std::int64_t(1) << 32);
        positive("max_header_bytes", sv.max_header_bytes, 1024, 1 << 20);
        positive("io_threads", sv.io_threads, 1, 64);
        positive("workers", sv.workers, 0, 256);
        positive("queue_capacity", sv.queue_capacity, 1, 1 << 24);
        std::int64_t ms = sv.request_timeout.count();
        positive("request_timeout_ms", ms, 100, 3'600'000);
        sv.request_timeout = std::chrono::milliseconds(ms);
        ms = sv.shutdown_grace.count();
        positive("shutdown_grace_ms", ms, 0, 600'000);
        sv.shutdown_grace = std::chrono::milliseconds(ms);
        if (auto v = rd.get<std::string>(*t, "admin_token_hash", "server")) {
            if (!valid_key_hash(*v))
                rd.add(t->get("admin_token_hash"), "server.admin_token_hash: expected \"sha256:<64 hex digits>\"");
            else sv.admin_token_hash = *v;
        }
        if (auto* x = (*t)["xml"].as_table()) {
            rd.unknown_keys(*x, "[server.xml]", {"max_depth", "max_elements"});
            if (auto v = rd.get<std::int64_t>(*x, "max_depth", "server.xml")) {
                if (*v < 8 || *v > 10'000) rd.add(x->get("max_depth"), "server.xml.max_depth: must be 8..10000");
                else sv.xml.max_depth = static_cast<int>(*v);
            }
            if (auto v = rd.get<std::int64_t>(*x, "max_elements", "server.xml")) {
                if (*v < 16) rd.add(x->get("max_elements"), "server.xml.max_elements: must be at least 16");
                else sv.xml.max_elements = static_cast<std::size_t>(*v);
            }
        }
    }
    sv.xml.max_bytes = sv.max_body_bytes;

    // [store]
    if (auto* t = root["store"].as_table()) {
        rd.unknown_keys(*t, "[store]", {"synchronous", "group_commit_max", "group_commit_wait_us", "group_commit_busy_wait_us", "group_commit_busy_gap_us",
                                       "group_commit_saturated_wait_us", "group_commit_saturated_backlog", "compression",
                                       "checkpoint_pages"});
        if (auto v = rd.get<std::string>(*t, "compression", "store")) {
            if (*v != "none" && *v != "zstd")
                rd.add(t->get("compression"), fmt::format("store.compression: '{}' is not none or zstd", *v));
            else cfg.store.compression = *v;
        }
        if (auto v = rd.get<std::string>(*t, "synchronous", "store")) {
            if (*v != "full" && *v != "normal" && *v != "extra")
                rd.add(t->get("synchronous"), fmt::format("store.synchronous: '{}' is not full, extra or normal", *v));
            else cfg.store.synchronous = *v;
        }
        if (auto v = rd.get<std::int64_t>(*t, "group_commit_max", "store")) {
            if (*v < 1 || *v > 100'000) rd.add(t->get("group_commit_max"), "store.group_commit_max: must be 1..100000");
            else cfg.store.group_commit_max = static_cast<std::size_t>(*v);
        }
        // The group commit's waits, in microseconds, up to a second.
        auto micros = [&](const char* key, std::int64_t min, std::chrono::microseconds& into) {
            if (auto v = rd.get<std::int64_t>(*t, key, "store")) {
                if (*v < min || *v > 1'000'000) rd.add(t->get(key), fmt::format("store.{}: must be {}..1000000", key, min));
                else into = std::chrono::microseconds(*v);
            }
        };
        micros("group_commit_wait_us", 0, cfg.store.group_commit_wait);
        micros("group_commit_busy_wait_us", 0, cfg.store.group_commit_busy_wait);
        micros("group_commit_busy_gap_us", 1, cfg.store.group_commit_busy_gap);
        micros("group_commit_saturated_wait_us", 0, cfg.store.group_commit_saturated_wait);
        if (auto v = rd.get<std::int64_t>(*t, "group_commit_saturated_backlog", "store")) {
            if (*v < 1 || *v > 100'000) rd.add(t->get("group_commit_saturated_backlog"), "store.group_commit_saturated_backlog: must be 1..100000");
            else cfg.store.group_commit_saturated_backlog = static_cast<std::size_t>(*v);
        }
        if (auto v = rd.get<std::int64_t>(*t, "checkpoint_pages", "store")) {
            if (*v < 100 || *v > 1'000'000) rd.add(t->get("checkpoint_pages"), "store.checkpoint_pages: must be 100..1000000");
            else cfg.store.checkpoint_pages = *v;
        }
    }

    // [[partner]]
    std::set<std::string, std::less<>> partner_ids;
    std::map<std::string, std::string> key_owner;
    if (auto* n = root.get("partner")) {
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) rd.add(n, "partner: expected [[partner]] tables");
        else for (auto&& e : *arr) {
            auto& t = *e.as_table();
            partner p;
            p.line = static_cast<int>(t.source().begin.line);
            rd.unknown_keys(t, "[[partner]]", {"id", "name", "customs_codes", "api_keys", "inbox", "inboxes", "notify"});
            if (auto* nt = t["notify"].as_table()) {
                rd.unknown_keys(*nt, "[partner.notify]", {"stylesheet", "channels", "webhook_url", "webhook_secret_env", "folder", "max_attempts"});
                if (auto v = rd.get<std::string>(*nt, "stylesheet", "partner.notify")) p.notify.stylesheet = *v;
                p.notify.channels = rd.strings(*nt, "channels", "partner.notify");
                for (auto& ch : p.notify.channels)
                    if (ch != "mailbox" && ch != "webhook" && ch != "folder")
                        rd.add(nt->get("channels"), fmt::format("partner.notify.channels: '{}' is not mailbox, webhook or folder", ch));
                if (auto v = rd.get<std::string>(*nt, "webhook_url", "partner.notify")) p.notify.webhook_url = *v;
                if (auto v = rd.get<std::string>(*nt, "webhook_secret_env", "partner.notify")) p.notify.webhook_secret_env = *v;
                if (auto v = rd.get<std::string>(*nt, "folder", "partner.notify")) p.notify.folder = resolve(sv.data_dir, *v);
                if (auto v = rd.get<std::int64_t>(*nt, "max_attempts", "partner.notify")) p.notify.max_attempts = static_cast<int>(*v);
                bool webhook = std::find(p.notify.channels.begin(), p.notify.channels.end(), "webhook") != p.notify.channels.end();
                bool folder = std::find(p.notify.channels.begin(), p.notify.channels.end(), "folder") != p.notify.channels.end();
                if (webhook && p.notify.webhook_url.rfind("http://", 0) != 0 && p.notify.webhook_url.rfind("https://", 0) != 0)
                    rd.add(nt, "partner.notify: the webhook channel needs webhook_url = \"http(s)://host:port/path\"");
                if (folder && p.notify.folder.empty()) rd.add(nt, "partner.notify: the folder channel needs folder = \"…\"");
            }
            if (auto v = rd.get<std::string>(t, "id", "partner", true)) {
                if (!valid_id(*v)) rd.add(t.get("id"), fmt::format("partner.id: '{}' must be 1..64 of [A-Za-z0-9._-]", *v));
                else if (!partner_ids.insert(*v).second) rd.add(t.get("id"), fmt::format("partner.id: '{}' is defined twice", *v));
                p.id = *v;
            }
            if (auto v = rd.get<std::string>(t, "name", "partner")) p.name = *v;
            p.customs_codes = rd.strings(t, "customs_codes", "partner");
            for (auto& c : p.customs_codes)
                if (c.size() != 10 && c.size() != 18)
                    rd.add(t.get("customs_codes"), fmt::format("partner.customs_codes: '{}' is neither a 10-digit customs code nor an 18-character USCC", c));
            p.api_key_hashes = rd.strings(t, "api_keys", "partner");
            for (auto& h : p.api_key_hashes) {
                if (!valid_key_hash(h))
                    rd.add(t.get("api_keys"), fmt::format("partner '{}': api_keys hold hashes \"sha256:<64 hex>\" (portgate hash-key KEY), never plain keys", p.id));
                else if (auto [it, fresh] = key_owner.emplace(h, p.id); !fresh)
                    rd.add(t.get("api_keys"), fmt::format("partner '{}': an API key is shared with partner '{}'", p.id, it->second));
            }
            std::vector<std::string> inboxes = rd.strings(t, "inbox", "partner");
            for (auto& s : rd.strings(t, "inboxes", "partner")) inboxes.push_back(s);
            for (auto& s : inboxes) p.inboxes.push_back(resolve(sv.data_dir, s));
            cfg.partners.push_back(std::move(p));
        }
    }
    if (cfg.partners.empty()) rd.add(&root, "no [[partner]] is defined: nobody could send anything");

    // [receipts]
    if (auto* t = root["receipts"].as_table()) {
        rd.unknown_keys(*t, "[receipts]", {"api_keys", "inbox", "inboxes"});
        cfg.receipts.api_key_hashes = rd.strings(*t, "api_keys", "receipts");
        for (auto& h : cfg.receipts.api_key_hashes)
            if (!valid_key_hash(h))
                rd.add(t->get("api_keys"), "receipts.api_keys hold hashes \"sha256:<64 hex>\" (portgate hash-key KEY), never plain keys");
        std::vector<std::string> inboxes = rd.strings(*t, "inbox", "receipts");
        for (auto& x : rd.strings(*t, "inboxes", "receipts")) inboxes.push_back(x);
        for (auto& x : inboxes) cfg.receipts.inboxes.push_back(resolve(sv.data_dir, x));
    }

    // [[endpoint]]
    if (auto* n = root.get("endpoint")) {
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) rd.add(n, "endpoint: expected [[endpoint]] tables");
        else for (auto&& e : *arr) {
            auto& t = *e.as_table();
            endpoint ep;
            ep.line = static_cast<int>(t.source().begin.line);
            rd.unknown_keys(t, "[[endpoint]]", {"id", "kind", "url", "ca_file", "client_cert", "client_key", "key_password_env",
                                                "key_password_file", "root", "biz", "dxp_sender_id", "dxp_receivers", "max_attempts",
                                                "read_timeout_ms", "concurrency"});
            if (auto v = rd.get<std::string>(t, "id", "endpoint", true)) ep.id = *v;
            if (auto v = rd.get<std::string>(t, "kind", "endpoint")) ep.kind = *v;
            if (ep.kind != "https" && ep.kind != "client-folder")
                rd.add(t.get("kind"), fmt::format("endpoint.kind: '{}' is not https or client-folder", ep.kind));
            if (auto v = rd.get<std::string>(t, "url", "endpoint")) ep.url = *v;
            if (auto v = rd.get<std::string>(t, "ca_file", "endpoint")) ep.ca_file = resolve(base, *v).string();
            if (auto v = rd.get<std::string>(t, "client_cert", "endpoint")) ep.client_cert = resolve(base, *v).string();
            if (auto v = rd.get<std::string>(t, "client_key", "endpoint")) ep.client_key = resolve(base, *v).string();
            if (auto v = rd.get<std::string>(t, "key_password_env", "endpoint")) ep.key_password_env = *v;
            if (auto v = rd.get<std::string>(t, "key_password_file", "endpoint")) ep.key_password_file = resolve(base, *v).string();
            if (auto v = rd.get<std::string>(t, "root", "endpoint")) ep.root = resolve(sv.data_dir, *v);
            if (auto v = rd.get<std::string>(t, "biz", "endpoint")) ep.biz = *v;
            if (auto v = rd.get<std::string>(t, "dxp_sender_id", "endpoint")) ep.dxp_sender_id = *v;
            ep.dxp_receivers = rd.strings(t, "dxp_receivers", "endpoint");
            if (auto v = rd.get<std::int64_t>(t, "max_attempts", "endpoint")) ep.max_attempts = static_cast<int>(*v);
            if (auto v = rd.get<std::int64_t>(t, "read_timeout_ms", "endpoint")) ep.read_timeout_ms = static_cast<int>(*v);
            if (auto v = rd.get<std::int64_t>(t, "concurrency", "endpoint")) {
                if (*v < 1 || *v > 64) rd.add(&t, fmt::format("endpoint '{}': concurrency must be 1 to 64", ep.id));
                else ep.concurrency = static_cast<int>(*v);
            }
            if (ep.kind == "https" && ep.url.rfind("https://", 0) != 0)
                rd.add(&t, fmt::format("endpoint '{}': an https endpoint needs url = \"https://…\"", ep.id));
            if (ep.kind == "client-folder" && ep.root.empty()) rd.add(&t, fmt::format("endpoint '{}': a client-folder endpoint needs root", ep.id));
            cfg.endpoints.push_back(std::move(ep));
        }
    }

    // [[signer]]
    if (auto* n = root.get("signer")) {
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) rd.add(n, "signer: expected [[signer]] tables");
        else for (auto&& e : *arr) {
            auto& t = *e.as_table();
            signer sg;
            sg.line = static_cast<int>(t.source().begin.line);
            rd.unknown_keys(t, "[[signer]]", {"id", "source", "key", "cert", "pkcs12", "pkcs11_uri", "pkcs11_module", "password_env",
                                              "password_file", "password", "pin", "algorithm", "sm2_id", "sm2_encoding", "allow_sha1",
                                              "key_name", "per_minute", "expiry_warning_days"});
            if (t.contains("password") || t.contains("pin"))
                rd.add(t.get(t.contains("password") ? "password" : "pin"),
                       "signer: passwords and PINs never stand in the config; use password_env or password_file");
            if (auto v = rd.get<std::string>(t, "id", "signer", true)) sg.id = *v;
            if (auto v = rd.get<std::string>(t, "source", "signer")) sg.source = *v;
            if (sg.source != "file" && sg.source != "pkcs12" && sg.source != "pkcs11")
                rd.add(t.get("source"), fmt::format("signer.source: '{}' is not file, pkcs12 or pkcs11", sg.source));
            if (auto v = rd.get<std::string>(t, "key", "signer")) sg.key = resolve(base, *v);
            if (auto v = rd.get<std::string>(t, "cert", "signer")) sg.cert = resolve(base, *v);
            if (auto v = rd.get<std::string>(t, "pkcs12", "signer")) sg.pkcs12 = resolve(base, *v);
            if (auto v = rd.get<std::string>(t, "pkcs11_uri", "signer")) sg.pkcs11_uri = *v;
            if (auto v = rd.get<std::string>(t, "pkcs11_module", "signer")) sg.pkcs11_module = *v;
            if (auto v = rd.get<std::string>(t, "password_env", "signer")) sg.password_env = *v;
            if (auto v = rd.get<std::string>(t, "password_file", "signer")) sg.password_file = resolve(base, *v);
            if (auto v = rd.get<std::string>(t, "algorithm", "signer")) sg.algorithm = *v;
            if (auto v = rd.get<std::string>(t, "sm2_id", "signer")) sg.sm2_id = *v;
            if (auto v = rd.get<std::string>(t, "sm2_encoding", "signer")) sg.sm2_encoding = *v;
            if (auto v = rd.get<bool>(t, "allow_sha1", "signer")) sg.allow_sha1 = *v;
            if (auto v = rd.get<std::string>(t, "key_name", "signer")) sg.key_name = *v;
            if (auto* pm = t.get("per_minute")) {
                if (auto d = pm->value<double>()) sg.per_minute = *d;
                else rd.add(pm, "signer.per_minute: expected a number");
            }
            if (auto v = rd.get<std::int64_t>(t, "expiry_warning_days", "signer")) sg.expiry_warning_days = static_cast<int>(*v);
            cfg.signers.push_back(std::move(sg));
        }
    }

    // [[route]]
    std::set<std::string> route_keys;
    if (auto* n = root.get("route")) {
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) rd.add(n, "route: expected [[route]] tables");
        else for (auto&& e : *arr) {
            auto& t = *e.as_table();
            route r;
            r.line = static_cast<int>(t.source().begin.line);
            rd.unknown_keys(t, "[[route]]", {"id", "partner", "root", "schema", "type", "rules", "params", "map", "signer", "endpoint"});
            if (auto v = rd.get<std::string>(t, "signer", "route")) r.signer = *v;
            if (auto v = rd.get<std::string>(t, "endpoint", "route")) r.endpoint = *v;
            if (auto v = rd.get<std::string>(t, "id", "route")) r.id = *v;
            if (auto v = rd.get<std::string>(t, "partner", "route", true)) {
                r.partner = *v;
                if (!partner_ids.count(*v)) rd.add(t.get("partner"), fmt::format("route.partner: no partner '{}' is defined", *v));
            }
            if (auto v = rd.get<std::string>(t, "root", "route", true)) {
                r.root = *v;
                if (v->empty() || (v->front() == '{' && v->find('}') == std::string::npos) || v->back() == '}')
                    rd.add(t.get("root"), fmt::format("route.root: '{}' is not \"{{namespace}}LocalName\"", *v));
            }
            if (auto v = rd.get<std::string>(t, "schema", "route")) r.schema = *v;
            if (auto v = rd.get<std::string>(t, "type", "route")) r.type = v->empty() ? "auto" : *v;
            if (auto v = rd.get<bool>(t, "rules", "route")) r.rules = *v;
            if (auto* pn = t.get("params")) {
                if (auto* pt = pn->as_table()) {
                    for (auto&& [k, v] : *pt) {
                        if (auto sv = v.value<std::string>()) r.params[std::string(k.str())] = *sv;
                        else rd.add(v, fmt::format("route.params.{}: expected a string", k.str()));
                    }
                } else {
                    rd.add(pn, "route.params: expected a table of strings");
                }
            }
            if (auto* mn = t.get("map")) {
                auto* ma = mn->as_array();
                if (!ma || !ma->is_array_of_tables()) rd.add(mn, "route.map: expected [[route.map]] tables");
                else for (auto&& me : *ma) {
                    auto& mt = *me.as_table();
                    route_map m;
                    m.line = static_cast<int>(mt.source().begin.line);
                    rd.unknown_keys(mt, "[[route.map]]", {"stylesheet", "output", "optional", "join"});
                    if (auto v = rd.get<std::string>(mt, "stylesheet", "route.map", true)) {
                        m.stylesheet = *v;
                        if (!fs::is_regular_file(cfg.mappings_dir / *v))
                            rd.add(mt.get("stylesheet"), fmt::format("route.map.stylesheet: '{}' is not in {}", *v, cfg.mappings_dir.string()));
                    }
                    if (auto v = rd.get<std::string>(mt, "output", "route.map")) m.output = *v;
                    if (auto v = rd.get<bool>(mt, "optional", "route.map")) m.optional = *v;
                    if (auto* jn = mt.get("join")) {
                        if (auto* jt = jn->as_table()) {
                            rd.unknown_keys(*jt, "route.map.join", {"with", "key", "other_key", "as"});
                            route_map::join_spec j;
                            if (auto v = rd.get<std::string>(*jt, "with", "route.map.join", true)) j.with = *v;
                            if (auto v = rd.get<std::string>(*jt, "key", "route.map.join", true)) j.key = *v;
                            if (auto v = rd.get<std::string>(*jt, "other_key", "route.map.join", true)) j.other_key = *v;
                            if (auto v = rd.get<std::string>(*jt, "as", "route.map.join")) j.as = *v;
                            m.join = std::move(j);
                        } else {
                            rd.add(jn, "route.map.join: expected a table {with, key, other_key, as}");
                        }
                    }
                    r.maps.push_back(std::move(m));
                }
            }
            if (r.id.empty()) r.id = r.partner + ":" + r.root;
            if (!r.partner.empty() && !r.root.empty() && !route_keys.insert(r.partner + "|" + r.root).second)
                rd.add(&t, fmt::format("route: partner '{}' already has a route for {}", r.partner, r.root));
            cfg.routes.push_back(std::move(r));
        }
    }

    for (auto& r : cfg.routes)
        if (!r.endpoint.empty() && std::none_of(cfg.endpoints.begin(), cfg.endpoints.end(), [&](auto& ep) { return ep.id == r.endpoint; }))
            problems.push_back({r.line, 0, "", fmt::format("route '{}': endpoint '{}' is not an [[endpoint]] id", r.id, r.endpoint), ""});
    for (auto& r : cfg.routes)
        if (!r.signer.empty() && std::none_of(cfg.signers.begin(), cfg.signers.end(), [&](auto& sg) { return sg.id == r.signer; }))
            problems.push_back({r.line, 0, "", fmt::format("route '{}': signer '{}' is not a [[signer]] id", r.id, r.signer), ""});

    if (!problems.empty()) {
        std::string summary = fmt::format("{}: {} problem(s)", file.string(), problems.size());
        return error(errc::config_invalid, std::move(summary), std::move(problems));
    }
    return cfg;
}

}  // namespace portgate::config
