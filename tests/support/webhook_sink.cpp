#include "tests/support/webhook_sink.hpp"

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>

namespace portgate::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

webhook_sink::webhook_sink(int fails) : acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    fail_first = fails;
    thread_ = std::thread([this] {
        while (!stop_) {
            net::ip::tcp::socket s(ioc_);
            beast::error_code ec;
            acceptor_.accept(s, ec);
            if (ec || stop_) break;
            beast::flat_buffer buf;
            for (;;) {  // keep-alive: serve the connection until the client closes it
                request req;
                http::read(s, buf, req, ec);
                if (ec) break;
                int n = seen++;
                http::status st = n < fail_first ? http::status::internal_server_error
                                  : failing      ? http::status::service_unavailable
                                                 : http::status::ok;
                http::response<http::string_body> res{st, 11};
                res.keep_alive(req.keep_alive());
                res.body() = st == http::status::ok ? "{}" : "not now";
                res.prepare_payload();
                bool keep = req.keep_alive();
                if (st == http::status::ok) {
                    std::lock_guard lk(mu);
                    got.push_back(std::move(req));
                } else {
                    ++refused;
                }
                http::write(s, res, ec);
                if (ec || !keep) break;
            }
        }
    });
}

webhook_sink::~webhook_sink() {
    stop_ = true;
    try {  // wake the blocking accept
        net::io_context c;
        net::ip::tcp::socket s(c);
        s.connect(acceptor_.local_endpoint());
    } catch (...) {
    }
    thread_.join();
}

}  // namespace portgate::test
