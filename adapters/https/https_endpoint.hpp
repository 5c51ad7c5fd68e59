// HTTPS POST endpoint on Boost.Beast + OpenSSL: certificate verification always on (a CA file or the
// system store), host name / IP checked against the certificate, optional client certificate (mTLS),
// connect / handshake / read timeouts, a small keep-alive connection pool, optional DXP wrapping.
// Answers: 2xx (+ DxpRep 0000) → accepted; DxpRep error → by code (dxp::classify); 4xx → rejected except
// 408 / 429 → retry; 3xx, 5xx, network, TLS, timeout → retry. docs/adapters.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "adapters/dxp/dxp.hpp"
#include "adapters/endpoint.hpp"
#include "gateway/core/error.hpp"

namespace portgate::adapters::https {

struct https_config {
    std::string id;
    std::string url;                 // https://host[:port]/path (http:// is refused)
    std::string ca_file;             // PEM bundle to trust; "" = the system store
    std::string client_cert;         // PEM chain for mTLS ("" = none)
    std::string client_key;          // PEM key for client_cert
    std::string key_password_env;    // name of the environment variable holding the key's password
    std::string key_password_file;   // or a file holding it (first line); never the password itself
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds handshake_timeout{5000};
    std::chrono::milliseconds read_timeout{30000};  // writing the request + reading the whole answer
    std::size_t pool_size = 4;                      // idle keep-alive connections kept
    std::chrono::milliseconds idle_timeout{30000};  // pooled connections idle longer are dropped
    std::size_t max_response_bytes = 4 * 1024 * 1024;
    std::string content_type = "application/xml; charset=utf-8";
    std::map<std::string, std::string> headers;     // extra request headers
    std::optional<dxp::dxp_config> dxp;             // set: the body is the DxpMsg around the bytes
};

class https_endpoint final : public endpoint {
public:
    // Loads the CA, client certificate and key (config_invalid / sign_key_unavailable when they do not load).
    static result<std::unique_ptr<https_endpoint>> create(https_config cfg);
    ~https_endpoint() override;

    const std::string& id() const override;
    delivery_result send(const delivery& d) override;

    std::size_t idle_connections() const;  // pooled now (tests, metrics)

    struct impl;

private:
    explicit https_endpoint(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

// The mapping of an HTTP answer (status, body) to a delivery result, shared with tests and the simulator.
delivery_result map_answer(int http_status, std::string body, std::string_view cop_msg_id);

}  // namespace portgate::adapters::https
