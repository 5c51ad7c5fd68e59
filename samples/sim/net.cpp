// The simulator's HTTPS endpoint (Boost.Beast + OpenSSL, one thread per connection, keep-alive), the
// callback client that delivers receipts, and the client-folder mode.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "samples/sim/sim.hpp"

namespace portgate::sim {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

struct url_parts {
    bool tls = false;
    std::string host, port, target;
};

std::optional<url_parts> parse_url(const std::string& url) {
    url_parts u;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) rest = url.substr(7);
    else return std::nullopt;
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) {
        u.host = hostport;
        u.port = u.tls ? "443" : "80";
    } else {
        u.host = hostport.substr(0, colon);
        u.port = hostport.substr(colon + 1);
    }
    if (!u.host.empty() && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
    return u;
}

template <class Stream>
int exchange(Stream& s, const url_parts& u, const std::string& body, const std::string& token, std::string* response) {
    http::request<http::string_body> req{http::verb::post, u.target, 11};
    req.set(http::field::host, u.host);
    req.set(http::field::content_type, "application/xml");
    req.set(http::field::user_agent, "portgate-customs-sim");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    if (response) *response = res.body();
    return static_cast<int>(res.result_int());
}

template <class Body>
void respond(auto& stream, const http::request<http::string_body>& req, http::status st, std::string content_type, Body body) {
    http::response<http::string_body> res{st, req.version()};
    res.set(http::field::server, "portgate-customs-sim");
    res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    http::write(stream, res);
}

template <class Stream>
void serve(Stream& stream, engine& e, dispatcher& d, int answer_delay_ms) {
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        beast::error_code ec;
        http::read(stream, buf, parser, ec);
        if (ec) return;
        auto& req = parser.get();
        std::string target(req.target());
        if (req.method() == http::verb::get && target.rfind("/sim/stats", 0) == 0) {
            respond(stream, req, http::status::ok, "application/json", e.counters().json());
        } else if (req.method() == http::verb::get && target == "/sim/health") {
            respond(stream, req, http::status::ok, "text/plain", std::string("ok\n"));
        } else if (req.method() == http::verb::post) {
            std::vector<delivery> planned;
            std::string name;
            if (auto it = req.find("X-File-Name"); it != req.end()) name = std::string(it->value());
            answer a = e.handle(req.body(), name, planned);
            d.add(std::move(planned));
            if (answer_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(answer_delay_ms));
            respond(stream, req, http::status::ok, "application/xml; charset=utf-8", a.dxprep);
        } else {
            respond(stream, req, http::status::method_not_allowed, "text/plain", std::string("POST a DxpMsg, or GET /sim/stats\n"));
        }
        if (!req.keep_alive()) return;
    }
}

void on_signal(int) { stopping = true; }

}  // namespace

int post(const std::string& url, const std::string& body, const std::string& token, const std::string& ca_file, std::string* response) {
    auto u = parse_url(url);
    if (!u) return -1;
    try {
        net::io_context ioc;
        tcp::resolver r(ioc);
        auto eps = r.resolve(u->host, u->port);
        if (!u->tls) {
            beast::tcp_stream s(ioc);
            s.expires_after(std::chrono::seconds(10));
            s.connect(eps);
            int st = exchange(s, *u, body, token, response);
            beast::error_code ec;
            s.socket().shutdown(tcp::socket::shutdown_both, ec);
            return st;
        }
        ssl::context ctx(ssl::context::tls_client);
        if (!ca_file.empty()) {
            ctx.load_verify_file(ca_file);
            ctx.set_verify_mode(ssl::verify_peer);
        } else ctx.set_verify_mode(ssl::verify_none);
        beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
        SSL_set_tlsext_host_name(s.native_handle(), u->host.c_str());
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
        beast::get_lowest_layer(s).connect(eps);
        s.handshake(ssl::stream_base::client);
        int st = exchange(s, *u, body, token, response);
        beast::error_code ec;
        s.shutdown(ec);
        return st;
    } catch (const std::exception&) {
        return -1;
    }
}

int run_https(engine& e, const https_options& o) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    auto colon = o.listen.rfind(':');
    if (colon == std::string::npos) {
        std::cerr << "portgate-customs-sim: --listen wants HOST:PORT\n";
        return 2;
    }
    std::string host = o.listen.substr(0, colon), port = o.listen.substr(colon + 1);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);

    ssl::context ctx(ssl::context::tls_server);
    if (!o.plain_http) {
        try {
            ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
            ctx.use_certificate_chain_file(o.cert);
            ctx.use_private_key_file(o.key, ssl::context::pem);
            if (!o.ca.empty()) ctx.load_verify_file(o.ca);
            if (o.require_client_cert) ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        } catch (const std::exception& ex) {
            std::cerr << "portgate-customs-sim: TLS set-up failed: " << ex.what() << "\n";
            return 2;
        }
    }

    // Receipts go to the callback, retried while it fails.
    const std::string cb = o.callback, token = o.callback_token, cb_ca = o.callback_ca;
    stats& st = e.counters();
    dispatcher disp(
        [cb, token, cb_ca, &st](const delivery& d) {
            if (cb.empty()) return true;  // nobody to tell: counted as sent
            int code = post(cb, d.bytes, token, cb_ca);
            if (code >= 200 && code < 300) return true;
            if (code >= 400 && code < 500 && code != 408 && code != 429) {
                st.callback_rejected();
                return true;  // the gateway refused this receipt: retrying would not help
            }
            return false;
        },
        st);

    net::io_context ioc;
    tcp::acceptor acc(ioc);
    try {
        tcp::resolver r(ioc);
        auto ep = r.resolve(host, port).begin()->endpoint();
        acc.open(ep.protocol());
        acc.set_option(net::socket_base::reuse_address(true));
        acc.bind(ep);
        acc.listen();
    } catch (const std::exception& ex) {
        std::cerr << "portgate-customs-sim: cannot listen on " << o.listen << ": " << ex.what() << "\n";
        return 2;
    }
    auto ep = acc.local_endpoint();
    std::string shown = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    std::cout << fmt::format("listening on {}://{}:{}", o.plain_http ? "http" : "https", shown, ep.port()) << std::endl;

    // Accept with a short timeout so a signal stops the loop.
    acc.non_blocking(true);
    while (!stopping) {
        beast::error_code ec;
        tcp::socket sock(ioc);
        acc.accept(sock, ec);
        if (ec == net::error::would_block || ec == net::error::try_again) {
            usleep(5000);
            continue;
        }
        if (ec) continue;
        sock.set_option(tcp::no_delay(true), ec);
        sock.non_blocking(false);
        std::thread([s = std::move(sock), &ctx, &e, &disp, plain = o.plain_http, delay = o.answer_delay_ms]() mutable {
            try {
                if (plain) {
                    beast::tcp_stream stream(std::move(s));
                    serve(stream, e, disp, delay);
                    beast::error_code ec2;
                    stream.socket().shutdown(tcp::socket::shutdown_send, ec2);
                } else {
                    beast::ssl_stream<beast::tcp_stream> stream(std::move(s), ctx);
                    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
                    stream.handshake(ssl::stream_base::server);
                    beast::get_lowest_layer(stream).expires_never();
                    serve(stream, e, disp, delay);
                    beast::error_code ec2;
                    stream.shutdown(ec2);
                }
            } catch (const std::exception&) {
            }
        }).detach();
    }
    disp.stop();
    std::cout << "stopped" << std::endl;
    // Connection threads are detached and may still hold the engine: leave without running destructors.
    std::_Exit(0);
}

int run_folder(engine& e, const folder_options& o) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    for (auto& b : o.biz)
        for (auto sub : {"OutBox", "InBox", "SentBox", "FailBox"}) fs::create_directories(o.root / b / sub);
    const fs::path root = o.root;
    dispatcher disp(
        [root](const delivery& d) {
            std::error_code ec;
            fs::path dir = root / d.biz / "InBox";
            fs::create_directories(dir, ec);
            fs::path tmp = dir / ("." + d.name + ".tmp");
            {
                std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
                out << d.bytes;
                if (!out) return false;
            }
            fs::rename(tmp, dir / d.name, ec);
            return !ec;
        },
        e.counters());
    std::cout << "watching " << o.root.string() << std::endl;
    auto last_stats = clock::now() - std::chrono::seconds(1);
    while (!stopping) {
        bool any = false;
        for (auto& b : o.biz) {
            std::vector<fs::path> files;
            std::error_code ec;
            for (auto& ent : fs::directory_iterator(o.root / b / "OutBox", ec)) {
                auto n = ent.path().filename().string();
                if (!ent.is_regular_file() || n.empty() || n[0] == '.' || n.ends_with(".tmp") || n.ends_with(".part")) continue;
                // A file written in place (not renamed in) may still be growing: let it settle 50 ms.
                auto age = fs::file_time_type::clock::now() - ent.last_write_time(ec);
                if (!ec && age < std::chrono::milliseconds(50)) {
                    any = true;
                    continue;
                }
                files.push_back(ent.path());
            }
            std::sort(files.begin(), files.end());
            for (auto& f : files) {
                any = true;
                const std::string name = f.filename().string();
                std::ifstream in(f, std::ios::binary);
                std::stringstream ss;
                ss << in.rdbuf();
                std::string bytes = ss.str();
                bool readable = static_cast<bool>(in) || in.eof();
                std::vector<delivery> planned;
                answer a;
                if (readable) a = e.handle(bytes, name, planned);
                // Unreadable (not XML at all) → FailBox; everything the exchange took → SentBox.
                const bool fail = !readable || a.reason == "xml_malformed";
                std::error_code rec;
                fs::rename(f, o.root / b / (fail ? "FailBox" : "SentBox") / name, rec);
                if (rec) {
                    fs::copy_file(f, o.root / b / (fail ? "FailBox" : "SentBox") / name, fs::copy_options::overwrite_existing, rec);
                    fs::remove(f, rec);
                }
                for (auto& d : planned) d.biz = b;
                if (!a.accepted()) {
                    delivery d;
                    d.due = clock::now();
                    d.receipt = "DXPREP";
                    d.status = a.code;
                    d.bytes = a.dxprep;
                    d.name = "Failed_" + name;
                    d.biz = b;
                    planned.insert(planned.begin(), std::move(d));
                } else if (b == "CEB") {
                    delivery d;
                    d.due = clock::now();
                    d.receipt = "DXPREP";
                    d.status = a.code;
                    d.bytes = a.dxprep;
                    d.name = "Successed_" + name;
                    d.biz = b;
                    planned.insert(planned.begin(), std::move(d));
                }
                disp.add(std::move(planned));
            }
        }
        // The counters for folder-mode tests and operators: <root>/sim-stats.json, replaced atomically.
        if (clock::now() - last_stats > std::chrono::milliseconds(200)) {
            last_stats = clock::now();
            std::ofstream(o.root / ".sim-stats.json.tmp", std::ios::trunc) << e.counters().json();
            std::error_code sec;
            fs::rename(o.root / ".sim-stats.json.tmp", o.root / "sim-stats.json", sec);
        }
        if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
    }
    disp.stop();
    std::cout << "stopped" << std::endl;
    return 0;
}

}  // namespace portgate::sim
