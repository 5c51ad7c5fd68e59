// The HTTP API on Boost.Beast. I/O threads only read, route and write; everything heavy (XML, XSD,
// store reads) runs on the worker pool, whose bounded queue turns overload into 503 + Retry-After.
// Each request is read with limits (header size, body size, time); the request → response step is
// `handle`, callable without sockets.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/config/config.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/core/worker_pool.hpp"
#include "gateway/intake/intake.hpp"
#include "gateway/store/store.hpp"

namespace portgate::api {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;
using responder = std::function<void(response)>;

struct context {
    const config::config& cfg;
    store::store& store;
    intake::pipeline& intake;
    worker_pool& workers;
    portgate::metrics& registry;
};

class router {
public:
    explicit router(context ctx);

    // Who is calling: a partner, the operator (admin token), or nobody.
    struct caller {
        const config::partner* partner = nullptr;
        bool admin = false;
        bool customs = false;  // a customs endpoint delivering receipts
    };
    caller authenticate(const request& req) const;

    // Early verdict on a request whose headers are read but body is not yet: 401/413/415 without
    // reading a large body. Empty when the request may proceed.
    std::optional<response> check_headers(const request& req) const;

    // Produces the response for a complete request; `respond` may be called from any thread.
    void handle(request req, responder respond);

private:
    context ctx_;
    std::map<std::string, const config::partner*, std::less<>> keys_;  // key hash → partner
    counter* overloaded_;
};

class server {
public:
    server(boost::asio::io_context& ioc, router& r, const config::server_config& cfg);
    ~server();
    // Binds and starts accepting. Errors (address in use …) are returned, not thrown.
    status listen(const std::string& host, unsigned short port);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Stops accepting; responses from then on carry Connection: close.
    void stop_accepting();
    std::size_t in_flight() const { return in_flight_->load(); }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::shared_ptr<std::atomic<std::size_t>> in_flight_;
};

// Helpers shared with tests.
response json_response(unsigned status, const std::string& body, unsigned version = 11, bool keep_alive = true);
response error_response(errc code, const std::string& message, const std::vector<problem>& problems = {},
                        unsigned version = 11, bool keep_alive = true, const std::string& id = {});

}  // namespace portgate::api
