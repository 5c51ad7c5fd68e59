// HTTPS endpoint against a real local TLS server (tests/adapters/tls_server.hpp) and a test CA made at run
// time by make_tls_pki.sh: answers, DxpRep codes, HTTP statuses, TLS failures, mTLS, timeouts, reuse.
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "adapters/dxp/dxp.hpp"
#include "adapters/https/https_endpoint.hpp"
#include "gateway/core/base64.hpp"
#include "tests/adapters/tls_server.hpp"
#include "tests/support/gateway_process.hpp"

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace portgate::adapters;
using portgate::test::tls_server;

namespace {

const fs::path& tls_pki() {
    static portgate::test::temp_dir dir("adapters-pki");
    static const bool made = [] {
        std::string cmd = fmt::format("'{}/tests/adapters/make_tls_pki.sh' '{}' 2>&1", PORTGATE_SOURCE_DIR, dir.path.string());
        FILE* p = popen(cmd.c_str(), "r");
        std::string out;
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        int st = pclose(p);
        if (st != 0) FAIL("make_tls_pki.sh failed: " << out);
        return true;
    }();
    (void)made;
    return dir.path;
}

std::string pki(const std::string& name) { return (tls_pki() / name).string(); }

tls_server::options server_opts(const std::string& cert = "server") {
    tls_server::options o;
    o.cert = pki(cert + ".pem");
    o.key = pki(cert + ".key");
    return o;
}

std::string dxprep(const std::string& code, const std::string& cop, const std::string& info = "") {
    return fmt::format(R"(<?xml version="1.0" encoding="UTF-8"?>
<dxp:DxpRep xmlns:dxp="http://www.chinaport.gov.cn/dxp" ver="1.0">
  <dxp:RecevierId>DXPENT0000023871</dxp:RecevierId>
  <dxp:Response>
    <dxp:ResponseCode>{}</dxp:ResponseCode>
    <dxp:ResponseInfo>{}</dxp:ResponseInfo>
    <dxp:NoticeTime>2026-11-24T09:15:33</dxp:NoticeTime>
    <dxp:OriHead>
      <dxp:CopMsgId>{}</dxp:CopMsgId>
      <dxp:SenderId>DXPENT0000023871</dxp:SenderId>
      <dxp:ReceiverIds><dxp:ReceiverId>DXPEDCCEB0000002</dxp:ReceiverId></dxp:ReceiverIds>
      <dxp:CreatTime>2026-11-24T09:15:30</dxp:CreatTime>
      <dxp:MsgType>CEB621Message</dxp:MsgType>
    </dxp:OriHead>
  </dxp:Response>
</dxp:DxpRep>
)", code, info, cop);
}

tls_server::response answer(http::status s, std::string body) {
    tls_server::response r{s, 11};
    r.set(http::field::content_type, "application/xml");
    r.body() = std::move(body);
    return r;
}

https::https_config client_cfg(const tls_server& srv) {
    https::https_config c;
    c.id = "customs-test";
    c.url = srv.url();
    c.ca_file = pki("ca.pem");
    c.connect_timeout = std::chrono::milliseconds(2000);
    c.handshake_timeout = std::chrono::milliseconds(2000);
    c.read_timeout = std::chrono::milliseconds(3000);
    return c;
}

std::unique_ptr<https::https_endpoint> make(https::https_config c) {
    auto r = https::https_endpoint::create(std::move(c));
    if (!r) FAIL("create: " << r.err().message);
    return std::move(*r);
}

delivery sample_delivery(const std::string& cop = "9FD28E74-B47F-4F15-82D3-3F5F068C6D1F") {
    delivery d;
    d.message_id = "01JTESTMESSAGE0000000000000";
    d.type = "CEB621";
    d.cop_msg_id = cop;
    d.bytes = portgate::test::sample("ceb/ceb621-inventory-valid.xml");
    d.file_name = "CEB621_" + cop + ".xml";
    return d;
}

dxp::dxp_config dxp_cfg() {
    dxp::dxp_config c;
    c.sender_id = "DXPENT0000023871";
    return c;
}

}  // namespace

TEST_CASE("https: 200 with DxpRep 0000 is accepted, the body is the DxpMsg around the exact bytes", "[adapters]") {
    std::string seen_body, seen_key;
    tls_server srv(server_opts(), [&](const tls_server::request& req) -> std::optional<tls_server::response> {
        seen_body = req.body();
        seen_key = std::string(req["Idempotency-Key"]);
        auto cop = req["Idempotency-Key"];
        return answer(http::status::ok, dxprep("0000", std::string(cop), "成功"));
    });
    auto cfg = client_cfg(srv);
    cfg.dxp = dxp_cfg();
    auto ep = make(cfg);
    auto d = sample_delivery();
    auto r = ep->send(d);
    INFO(r.detail);
    CHECK(r.result == outcome::accepted);
    CHECK(r.code == "0000");
    CHECK(r.response.find("DxpRep") != std::string::npos);
    CHECK(seen_key == d.cop_msg_id);
    REQUIRE(seen_body.find("<dxp:DxpMsg") != std::string::npos);
    auto b = seen_body.find("<dxp:Data>") + 10;
    auto e = seen_body.find("</dxp:Data>");
    auto decoded = portgate::base64_decode(seen_body.substr(b, e - b));
    REQUIRE(decoded);
    CHECK(*decoded == d.bytes);
    CHECK(ep->id() == "customs-test");
}

TEST_CASE("https: a DxpRep error code is rejected or retried by its range", "[adapters]") {
    std::string code;
    tls_server srv(server_opts(), [&](const tls_server::request& req) -> std::optional<tls_server::response> {
        return answer(http::status::ok, dxprep(code, std::string(req["Idempotency-Key"]), "报文格式校验失败"));
    });
    auto ep = make(client_cfg(srv));
    code = "0002";
    auto r = ep->send(sample_delivery());
    CHECK(r.result == outcome::rejected);
    CHECK(r.code == "0002");
    CHECK(r.detail.find("报文格式校验失败") != std::string::npos);
    CHECK_FALSE(r.response.empty());
    code = "1001";
    CHECK(ep->send(sample_delivery()).result == outcome::rejected);
    code = "3001";
    r = ep->send(sample_delivery());
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "3001");
}

TEST_CASE("https: HTTP statuses map to accepted, rejected and retry", "[adapters]") {
    http::status status = http::status::internal_server_error;
    tls_server srv(server_opts(), [&](const tls_server::request&) -> std::optional<tls_server::response> {
        return answer(status, status == http::status::ok ? "" : "<html>something went wrong</html>");
    });
    auto ep = make(client_cfg(srv));
    auto r = ep->send(sample_delivery());
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "500");
    CHECK(r.response.empty());  // not a DxpRep: nothing to store as a receipt
    CHECK(r.detail.find("something went wrong") != std::string::npos);
    status = http::status::bad_request;
    CHECK(ep->send(sample_delivery()).result == outcome::rejected);
    status = http::status::too_many_requests;
    CHECK(ep->send(sample_delivery()).result == outcome::retry);
    status = http::status::request_timeout;
    CHECK(ep->send(sample_delivery()).result == outcome::retry);
    status = http::status::ok;
    r = ep->send(sample_delivery());
    CHECK(r.result == outcome::accepted);
    CHECK(r.code == "200");
}

TEST_CASE("https: a server certificate from an untrusted CA is a retry with a clear TLS error", "[adapters]") {
    tls_server srv(server_opts(), [&](const tls_server::request&) -> std::optional<tls_server::response> {
        return answer(http::status::ok, "");
    });
    auto cfg = client_cfg(srv);
    cfg.ca_file = pki("other-ca.pem");
    auto r = make(cfg)->send(sample_delivery());
    INFO(r.detail);
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "tls");
    CHECK(r.detail.find("certificate verify failed") != std::string::npos);
    CHECK(srv.requests == 0);
}

TEST_CASE("https: a certificate for another host name is refused", "[adapters]") {
    tls_server srv(server_opts("wronghost"), [&](const tls_server::request&) -> std::optional<tls_server::response> {
        return answer(http::status::ok, "");
    });
    auto r = make(client_cfg(srv))->send(sample_delivery());
    INFO(r.detail);
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "tls");
    CHECK(r.detail.find("mismatch") != std::string::npos);
    CHECK(srv.requests == 0);
}

TEST_CASE("https: mTLS — no client certificate fails, the configured one (encrypted key) works", "[adapters]") {
    auto o = server_opts();
    o.require_client_cert = true;
    o.client_ca = pki("ca.pem");
    tls_server srv(o, [&](const tls_server::request&) -> std::optional<tls_server::response> {
        return answer(http::status::ok, "");
    });
    auto cfg = client_cfg(srv);
    auto r = make(cfg)->send(sample_delivery());
    INFO(r.detail);
    CHECK(r.result == outcome::retry);
    CHECK((r.code == "tls" || r.code == "io"));
    CHECK(srv.requests == 0);

    ::setenv("PORTGATE_TEST_CLIENT_KEY_PASSWORD", "test-only-password", 1);
    cfg.client_cert = pki("client.pem");
    cfg.client_key = pki("client-enc.key");
    cfg.key_password_env = "PORTGATE_TEST_CLIENT_KEY_PASSWORD";
    r = make(cfg)->send(sample_delivery());
    INFO(r.detail);
    CHECK(r.result == outcome::accepted);
    CHECK(srv.client_certs_seen == 1);

    // the same key with its password from a file
    cfg.key_password_env.clear();
    cfg.key_password_file = pki("password.txt");
    CHECK(make(cfg)->send(sample_delivery()).result == outcome::accepted);

    // a wrong password is a start-up error, not a silent failure at send time
    ::setenv("PORTGATE_TEST_CLIENT_KEY_PASSWORD", "wrong", 1);
    cfg.key_password_file.clear();
    cfg.key_password_env = "PORTGATE_TEST_CLIENT_KEY_PASSWORD";
    auto bad = https::https_endpoint::create(cfg);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == portgate::errc::sign_key_unavailable);
    ::unsetenv("PORTGATE_TEST_CLIENT_KEY_PASSWORD");
    bad = https::https_endpoint::create(cfg);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message.find("PORTGATE_TEST_CLIENT_KEY_PASSWORD") != std::string::npos);
}

TEST_CASE("https: a server that never answers is a retry within the read timeout", "[adapters]") {
    tls_server srv(server_opts(), [&](const tls_server::request&) -> std::optional<tls_server::response> { return std::nullopt; });
    auto cfg = client_cfg(srv);
    cfg.read_timeout = std::chrono::milliseconds(400);
    auto ep = make(cfg);
    auto t0 = std::chrono::steady_clock::now();
    auto r = ep->send(sample_delivery());
    auto took = std::chrono::steady_clock::now() - t0;
    INFO(r.detail);
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "timeout");
    CHECK(took >= std::chrono::milliseconds(350));
    CHECK(took < std::chrono::milliseconds(2000));
    CHECK(ep->idle_connections() == 0);  // a timed-out connection is never reused
}

TEST_CASE("https: nobody listening is a retry", "[adapters]") {
    unsigned short port;
    {
        tls_server srv(server_opts(), [&](const tls_server::request&) -> std::optional<tls_server::response> { return std::nullopt; });
        port = srv.port();
    }
    https::https_config c;
    c.id = "gone";
    c.url = fmt::format("https://127.0.0.1:{}/dxp", port);
    c.ca_file = pki("ca.pem");
    auto r = make(c)->send(sample_delivery());
    CHECK(r.result == outcome::retry);
    CHECK(r.code == "connect");
}

TEST_CASE("https: keep-alive connections are reused, by one thread and by several", "[adapters]") {
    tls_server srv(server_opts(), [&](const tls_server::request& req) -> std::optional<tls_server::response> {
        return answer(http::status::ok, dxprep("0000", std::string(req["Idempotency-Key"])));
    });
    auto cfg = client_cfg(srv);
    cfg.pool_size = 4;
    auto ep = make(cfg);
    for (int i = 0; i < 5; ++i) CHECK(ep->send(sample_delivery("COP-" + std::to_string(i))).result == outcome::accepted);
    CHECK(srv.connections == 1);
    CHECK(srv.requests == 5);
    CHECK(ep->idle_connections() == 1);

    std::vector<std::future<int>> fs;
    for (int t = 0; t < 4; ++t)
        fs.push_back(std::async(std::launch::async, [&, t] {
            int ok = 0;
            for (int i = 0; i < 10; ++i)
                ok += ep->send(sample_delivery(fmt::format("COP-{}-{}", t, i))).result == outcome::accepted;
            return ok;
        }));
    int total = 0;
    for (auto& f : fs) total += f.get();
    CHECK(total == 40);
    CHECK(srv.requests == 45);
    CHECK(srv.connections <= 4);
    CHECK(ep->idle_connections() <= 4);
}

TEST_CASE("https: a pooled connection the server dropped is replaced transparently", "[adapters]") {
    auto o = server_opts();
    o.close_after_response = true;  // answers keep-alive, then closes anyway
    tls_server srv(o, [&](const tls_server::request&) -> std::optional<tls_server::response> { return answer(http::status::ok, ""); });
    auto ep = make(client_cfg(srv));
    for (int i = 0; i < 3; ++i) {
        auto r = ep->send(sample_delivery());
        INFO(r.detail);
        CHECK(r.result == outcome::accepted);
    }
    CHECK(srv.requests == 3);
    CHECK(srv.connections == 3);
}

TEST_CASE("https: configuration errors are reported at creation", "[adapters]") {
    https::https_config c;
    c.id = "x";
    c.url = "http://127.0.0.1/";
    CHECK_FALSE(https::https_endpoint::create(c));
    c.url = "https://";
    CHECK_FALSE(https::https_endpoint::create(c));
    c.url = "https://127.0.0.1:8443/dxp";
    c.ca_file = "/nonexistent/ca.pem";
    auto r = https::https_endpoint::create(c);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == portgate::errc::config_invalid);
    c.ca_file.clear();
    c.client_cert = "/nonexistent/client.pem";
    CHECK_FALSE(https::https_endpoint::create(c));
    c.client_cert.clear();
    c.dxp = dxp::dxp_config{};  // no sender id
    CHECK_FALSE(https::https_endpoint::create(c));
}

TEST_CASE("https: answer mapping", "[adapters]") {
    CHECK(https::map_answer(204, "", "A").result == outcome::accepted);
    CHECK(https::map_answer(200, "not xml", "A").result == outcome::accepted);
    CHECK(https::map_answer(302, "", "A").result == outcome::retry);
    CHECK(https::map_answer(403, "", "A").result == outcome::rejected);
    CHECK(https::map_answer(503, "", "A").result == outcome::retry);
    // a 4xx carrying DxpRep 0002 is judged by the DxpRep
    auto r = https::map_answer(400, dxprep("0002", "A"), "A");
    CHECK(r.result == outcome::rejected);
    CHECK(r.code == "0002");
    // a 503 carrying DxpRep 0000 is not an acceptance
    CHECK(https::map_answer(503, dxprep("0000", "A"), "A").result == outcome::retry);
}
