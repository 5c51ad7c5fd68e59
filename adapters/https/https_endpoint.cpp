// HTTPS POST endpoint: one io_context per pooled connection, every operation bounded by the tcp_stream's
// deadline, so a blocking `send` never waits longer than connect + handshake + read timeouts.
#include "adapters/https/https_endpoint.hpp"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace portgate::adapters::https {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

struct target_url {
    std::string host, port, path, host_header;
    bool is_ip = false;
};

result<target_url> parse_url(const std::string& url) {
    constexpr std::string_view scheme = "https://";
    if (url.rfind(scheme, 0) != 0)
        return error(errc::config_invalid, fmt::format("endpoint url \"{}\" must start with https://", url));
    std::string rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    target_url t;
    t.path = slash == std::string::npos ? "/" : rest.substr(slash);
    if (authority.empty() || authority.find('@') != std::string::npos)
        return error(errc::config_invalid, fmt::format("endpoint url \"{}\" has no usable host", url));
    t.port = "443";
    if (authority.front() == '[') {  // [IPv6]:port
        auto close = authority.find(']');
        if (close == std::string::npos) return error(errc::config_invalid, fmt::format("endpoint url \"{}\": bad IPv6 host", url));
        t.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return error(errc::config_invalid, fmt::format("endpoint url \"{}\": bad port", url));
            t.port = authority.substr(close + 2);
        }
    } else {
        auto colon = authority.rfind(':');
        t.host = authority.substr(0, colon);
        if (colon != std::string::npos) t.port = authority.substr(colon + 1);
    }
    if (t.host.empty() || t.port.empty() || t.port.find_first_not_of("0123456789") != std::string::npos)
        return error(errc::config_invalid, fmt::format("endpoint url \"{}\": bad host or port", url));
    beast::error_code ec;
    net::ip::make_address(t.host, ec);
    t.is_ip = !ec;
    t.host_header = authority;
    return t;
}

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

bool stale_connection_error(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::connection_aborted || ec == ssl::error::stream_truncated;
}

std::string printable(std::string_view s, std::size_t max = 200) {
    std::string out;
    for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 && c != '\n') ? ' ' : c;
    if (s.size() > max) out += "…";
    return out;
}

struct connection {
    net::io_context ioc{1};
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    clock::time_point last_used = clock::now();
    bool reused = false;
    explicit connection(ssl::context& ctx) : stream(ioc, ctx) {}
};

// Runs one asynchronous operation on the connection's own io_context under a deadline.
template <class Start>
beast::error_code run_op(connection& c, std::chrono::milliseconds timeout, Start start) {
    beast::error_code result = net::error::would_block;
    beast::get_lowest_layer(c.stream).expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    c.ioc.restart();
    c.ioc.run();
    beast::get_lowest_layer(c.stream).expires_never();
    return result;
}

}  // namespace

struct https_endpoint::impl {
    https_config cfg;
    target_url url;
    ssl::context ctx{ssl::context::tls_client};
    mutable std::mutex mu;
    std::vector<std::unique_ptr<connection>> idle;

    std::unique_ptr<connection> checkout() {
        std::lock_guard lk(mu);
        while (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            if (clock::now() - c->last_used <= cfg.idle_timeout) {
                c->reused = true;
                return c;
            }
        }
        return nullptr;
    }

    void checkin(std::unique_ptr<connection> c) {
        c->last_used = clock::now();
        std::lock_guard lk(mu);
        if (idle.size() < cfg.pool_size) idle.push_back(std::move(c));
    }

    // A new connection: resolve + connect within connect_timeout, TLS handshake within handshake_timeout.
    std::unique_ptr<connection> open(delivery_result& r) {
        auto c = std::make_unique<connection>(ctx);
        SSL* ssl_handle = c->stream.native_handle();
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (url.is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
            SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
        }
        c->stream.set_verify_mode(ssl::verify_peer);

        const auto deadline = clock::now() + cfg.connect_timeout;
        tcp::resolver resolver(c->ioc);
        beast::error_code ec = net::error::would_block;
        tcp::resolver::results_type endpoints;
        resolver.async_resolve(url.host, url.port, [&](beast::error_code e, tcp::resolver::results_type res) {
            ec = e;
            endpoints = std::move(res);
        });
        c->ioc.run_for(cfg.connect_timeout);
        if (ec == net::error::would_block) {
            resolver.cancel();
            c->ioc.restart();
            c->ioc.run();
            r.code = "timeout";
            r.detail = fmt::format("resolving {} took longer than {} ms", url.host, cfg.connect_timeout.count());
            return nullptr;
        }
        if (ec) {
            r.code = "connect";
            r.detail = fmt::format("cannot resolve {}: {}", url.host, ec.message());
            return nullptr;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() < 1) left = std::chrono::milliseconds(1);
        ec = run_op(*c, left, [&](auto h) { beast::get_lowest_layer(c->stream).async_connect(endpoints, std::move(h)); });
        if (ec) {
            r.code = ec == beast::error::timeout ? "timeout" : "connect";
            r.detail = ec == beast::error::timeout
                           ? fmt::format("connecting to {}:{} took longer than {} ms", url.host, url.port, cfg.connect_timeout.count())
                           : fmt::format("cannot connect to {}:{}: {}", url.host, url.port, ec.message());
            return nullptr;
        }
        // Requests go out in more than one TLS record; without this, Nagle holds the last one back until the
        // peer's delayed ACK (~40 ms for every message larger than ~16 KB).
        beast::get_lowest_layer(c->stream).socket().set_option(tcp::no_delay(true), ec);
        ec = run_op(*c, cfg.handshake_timeout, [&](auto h) { c->stream.async_handshake(ssl::stream_base::client, std::move(h)); });
        if (ec) {
            if (ec == beast::error::timeout) {
                r.code = "timeout";
                r.detail = fmt::format("TLS handshake with {}:{} took longer than {} ms", url.host, url.port, cfg.handshake_timeout.count());
            } else {
                r.code = "tls";
                std::string why = ec.message();
                long v = SSL_get_verify_result(ssl_handle);
                if (v != X509_V_OK) why += fmt::format(" ({})", X509_verify_cert_error_string(v));
                r.detail = fmt::format("TLS handshake with {}:{} failed: {}", url.host, url.port, why);
            }
            return nullptr;
        }
        return c;
    }

    // One exchange on `c`. Returns false with r filled when the transport failed; `stale` tells whether
    // nothing at all was read back on a reused connection (so the request can go again on a new one).
    bool exchange(connection& c, const http::request<http::string_body>& req, int& status, std::string& body,
                  bool& keep_alive, bool& stale, delivery_result& r) {
        stale = false;
        beast::error_code ec = run_op(c, cfg.read_timeout, [&](auto h) { http::async_write(c.stream, req, std::move(h)); });
        if (!ec) {
            http::response_parser<http::string_body> parser;
            parser.body_limit(cfg.max_response_bytes);
            parser.header_limit(64 * 1024);
            ec = run_op(c, cfg.read_timeout, [&](auto h) { http::async_read(c.stream, c.buffer, parser, std::move(h)); });
            if (!ec) {
                auto res = parser.release();
                status = static_cast<int>(res.result_int());
                keep_alive = res.keep_alive();
                body = std::move(res.body());
                return true;
            }
            if (c.reused && !parser.got_some() && stale_connection_error(ec)) stale = true;
        } else if (c.reused && stale_connection_error(ec)) {
            stale = true;
        }
        if (ec == beast::error::timeout) {
            r.code = "timeout";
            r.detail = fmt::format("no answer from {}:{} within {} ms", url.host, url.port, cfg.read_timeout.count());
        } else if (ec.category() == ssl::error::get_stream_category() || ec.category() == net::error::get_ssl_category()) {
            r.code = "tls";
            r.detail = fmt::format("TLS error talking to {}:{}: {}", url.host, url.port, ec.message());
        } else {
            r.code = "io";
            r.detail = fmt::format("connection to {}:{} failed: {}", url.host, url.port, ec.message());
        }
        return false;
    }

    delivery_result send(const delivery& d) {
        delivery_result r;
        r.result = outcome::retry;
        http::request<http::string_body> req{http::verb::post, url.path, 11};
        req.set(http::field::host, url.host_header);
        req.set(http::field::user_agent, "portgate");
        req.set(http::field::content_type, cfg.content_type);
        req.set(http::field::accept, "application/xml, text/xml, */*");
        if (!d.cop_msg_id.empty()) req.set("Idempotency-Key", d.cop_msg_id);
        if (!d.message_id.empty()) req.set("X-Portgate-Message-Id", d.message_id);
        for (auto& [k, v] : cfg.headers) req.set(k, v);
        req.keep_alive(true);
        req.body() = cfg.dxp ? dxp::wrap(d, *cfg.dxp) : d.bytes;
        req.prepare_payload();

        for (int attempt = 0; attempt < 2; ++attempt) {
            auto c = checkout();
            if (!c) {
                c = open(r);
                if (!c) return r;
            }
            int status = 0;
            std::string body;
            bool keep_alive = false, stale = false;
            if (!exchange(*c, req, status, body, keep_alive, stale, r)) {
                if (stale && attempt == 0) continue;  // the server had closed the idle connection: once more, new
                return r;
            }
            if (keep_alive) checkin(std::move(c));
            return map_answer(status, std::move(body), d.cop_msg_id);
        }
        return r;
    }
};

delivery_result map_answer(int status, std::string body, std::string_view cop_msg_id) {
    delivery_result r;
    const bool success = status >= 200 && status < 300;
    auto rep = dxp::parse_reply(body);
    if (rep) {
        const auto& x = rep->about(cop_msg_id);
        auto verdict = dxp::classify(x.code);
        if (success || verdict != outcome::accepted) {
            r.result = verdict;
            r.code = x.code;
            r.detail = fmt::format("HTTP {}, DxpRep {}", status, x.code);
            if (!x.info.empty()) r.detail += ": " + x.info;
            for (auto& line : x.results) r.detail += "; " + line;
            r.response = std::move(body);
            return r;
        }
    }
    r.code = std::to_string(status);
    if (success) {
        r.result = outcome::accepted;
        r.detail = fmt::format("HTTP {}", status);
        return r;
    }
    if (status == 408 || status == 429) {
        r.result = outcome::retry;
    } else if (status >= 400 && status < 500) {
        r.result = outcome::rejected;
    } else {
        r.result = outcome::retry;  // 1xx/3xx (redirects are not followed: a configuration matter), 5xx
    }
    r.detail = fmt::format("HTTP {}", status);
    if (!body.empty()) r.detail += ": " + printable(body);
    return r;
}

result<std::unique_ptr<https_endpoint>> https_endpoint::create(https_config cfg) {
    auto u = parse_url(cfg.url);
    if (!u) return u.err();
    if (cfg.dxp)
        if (auto s = dxp::check_config(*cfg.dxp); !s) return s.err();
    if (cfg.pool_size > 64) cfg.pool_size = 64;
    auto p = std::make_unique<impl>();
    p->url = *u;
    auto& ctx = p->ctx;
    SSL_CTX* raw = ctx.native_handle();
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx.set_verify_mode(ssl::verify_peer);
    ERR_clear_error();
    if (cfg.ca_file.empty()) {
        if (SSL_CTX_set_default_verify_paths(raw) != 1)
            return error(errc::config_invalid, fmt::format("endpoint {}: cannot load the system CA store: {}", cfg.id, openssl_errors()));
    } else if (SSL_CTX_load_verify_locations(raw, cfg.ca_file.c_str(), nullptr) != 1) {
        return error(errc::config_invalid, fmt::format("endpoint {}: cannot load ca_file {}: {}", cfg.id, cfg.ca_file, openssl_errors()));
    }
    if (cfg.client_cert.empty() != cfg.client_key.empty())
        return error(errc::config_invalid, fmt::format("endpoint {}: client_cert and client_key go together", cfg.id));
    if (!cfg.client_cert.empty()) {
        std::string password;
        if (!cfg.key_password_env.empty()) {
            const char* v = std::getenv(cfg.key_password_env.c_str());
            if (v == nullptr)
                return error(errc::sign_key_unavailable,
                             fmt::format("endpoint {}: environment variable {} (the client key's password) is not set", cfg.id, cfg.key_password_env));
            password = v;
        } else if (!cfg.key_password_file.empty()) {
            std::ifstream in(cfg.key_password_file);
            if (!in)
                return error(errc::sign_key_unavailable, fmt::format("endpoint {}: cannot read key_password_file {}", cfg.id, cfg.key_password_file));
            std::getline(in, password);
            while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) password.pop_back();
        }
        ctx.set_password_callback([password](std::size_t, ssl::context::password_purpose) { return password; });
        if (SSL_CTX_use_certificate_chain_file(raw, cfg.client_cert.c_str()) != 1)
            return error(errc::sign_key_unavailable, fmt::format("endpoint {}: cannot load client_cert {}: {}", cfg.id, cfg.client_cert, openssl_errors()));
        if (SSL_CTX_use_PrivateKey_file(raw, cfg.client_key.c_str(), SSL_FILETYPE_PEM) != 1)
            return error(errc::sign_key_unavailable,
                         fmt::format("endpoint {}: cannot load client_key {} (wrong or missing password?): {}", cfg.id, cfg.client_key, openssl_errors()));
        if (SSL_CTX_check_private_key(raw) != 1)
            return error(errc::sign_key_unavailable, fmt::format("endpoint {}: client_key does not match client_cert", cfg.id));
        ctx.set_password_callback([](std::size_t, ssl::context::password_purpose) { return std::string(); });
    }
    p->cfg = std::move(cfg);
    return std::unique_ptr<https_endpoint>(new https_endpoint(std::move(p)));
}

https_endpoint::https_endpoint(std::unique_ptr<impl> p) : p_(std::move(p)) {}
https_endpoint::~https_endpoint() = default;

const std::string& https_endpoint::id() const { return p_->cfg.id; }

delivery_result https_endpoint::send(const delivery& d) {
    try {
        return p_->send(d);
    } catch (const std::exception& e) {
        delivery_result r;
        r.code = "internal";
        r.detail = fmt::format("endpoint {}: {}", p_->cfg.id, e.what());
        return r;
    } catch (...) {
        delivery_result r;
        r.code = "internal";
        r.detail = fmt::format("endpoint {}: unknown failure", p_->cfg.id);
        return r;
    }
}

std::size_t https_endpoint::idle_connections() const {
    std::lock_guard lk(p_->mu);
    return p_->idle.size();
}

}  // namespace portgate::adapters::https
