// A real HTTPS server for the [adapters] tests: Beast + OpenSSL on 127.0.0.1, port 0, one thread per
// connection. Counts accepted connections, failed handshakes and requests; the handler may hang (never
// answer) to test timeouts. Optionally requires a client certificate (mTLS).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace portgate::test {

class tls_server {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    using response = boost::beast::http::response<boost::beast::http::string_body>;
    // nullopt: never answer (the connection hangs until the server stops).
    using handler = std::function<std::optional<response>(const request&)>;

    struct options {
        std::filesystem::path cert, key;
        std::filesystem::path client_ca;      // required with require_client_cert
        bool require_client_cert = false;
        bool close_after_response = false;    // drop the connection silently after each answer (stale keep-alive)
    };

    tls_server(options o, handler h) : opt_(std::move(o)), handler_(std::move(h)) {
        namespace ssl = boost::asio::ssl;
        ctx_.use_certificate_chain_file(opt_.cert.string());
        ctx_.use_private_key_file(opt_.key.string(), ssl::context::pem);
        if (opt_.require_client_cert) {
            ctx_.load_verify_file(opt_.client_ca.string());
            ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        }
        using tcp = boost::asio::ip::tcp;
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~tls_server() { stop(); }

    void stop() {
        if (stopping_.exchange(true)) return;
        {
            std::lock_guard lk(mu_);
            hang_.notify_all();
            ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
            for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
        }
        if (accept_thread_.joinable()) accept_thread_.join();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    unsigned short port() const { return port_; }
    std::string url(const std::string& path = "/dxp") const { return "https://127.0.0.1:" + std::to_string(port_) + path; }

    std::atomic<int> connections{0};
    std::atomic<int> handshake_failures{0};
    std::atomic<int> requests{0};
    std::atomic<int> client_certs_seen{0};

private:
    void accept_loop() {
        using tcp = boost::asio::ip::tcp;
        while (!stopping_) {
            tcp::socket s(ioc_);
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec || stopping_) break;
            ++connections;
            std::lock_guard lk(mu_);
            live_.insert(s.native_handle());
            threads_.emplace_back([this, sock = std::move(s)]() mutable { serve(std::move(sock)); });
        }
    }

    void serve(boost::asio::ip::tcp::socket sock) {
        namespace beast = boost::beast;
        namespace http = beast::http;
        const int fd = sock.native_handle();
        {
            beast::ssl_stream<boost::asio::ip::tcp::socket> stream(std::move(sock), ctx_);
            boost::system::error_code ec;
            stream.handshake(boost::asio::ssl::stream_base::server, ec);
            if (ec) {
                ++handshake_failures;
            } else {
                if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
                    ++client_certs_seen;
                    X509_free(peer);
                }
                beast::flat_buffer buf;
                while (!stopping_) {
                    request req;
                    http::read(stream, buf, req, ec);
                    if (ec) break;
                    ++requests;
                    auto res = handler_(req);
                    if (!res) {
                        std::unique_lock lk(mu_);
                        hang_.wait(lk, [&] { return stopping_.load(); });
                        break;
                    }
                    res->version(11);
                    res->keep_alive(req.keep_alive());
                    res->prepare_payload();
                    http::write(stream, *res, ec);
                    if (ec || !req.keep_alive() || opt_.close_after_response) break;
                }
            }
            std::lock_guard lk(mu_);
            live_.erase(fd);
            // the stream (and its socket) closes here, after the fd left live_
        }
    }

    options opt_;
    handler handler_;
    boost::asio::io_context ioc_;
    boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_server};
    boost::asio::ip::tcp::acceptor acceptor_{ioc_};
    unsigned short port_ = 0;
    std::atomic<bool> stopping_{false};
    std::mutex mu_;
    std::condition_variable hang_;
    std::set<int> live_;
    std::thread accept_thread_;
    std::vector<std::thread> threads_;
};

}  // namespace portgate::test
