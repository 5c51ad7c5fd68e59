// Test support: a partner's webhook receiver on 127.0.0.1 (any free port), serving keep-alive connections.
// It refuses (HTTP 500) the first `fail_first` requests and (HTTP 503) every request while `failing` is set,
// and keeps every request it accepted, in order.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

namespace portgate::test {

class webhook_sink {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    explicit webhook_sink(int fail_first = 0);
    ~webhook_sink();
    webhook_sink(const webhook_sink&) = delete;
    webhook_sink& operator=(const webhook_sink&) = delete;
    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    std::atomic<int> fail_first{0};
    std::atomic<bool> failing{false};
    std::atomic<int> seen{0}, refused{0};  // every request; those answered with an error
    std::mutex mu;                         // guards `got`
    std::vector<request> got;              // accepted (2xx) requests, in order

private:
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace portgate::test
