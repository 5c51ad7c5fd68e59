// Test support: run the real `portgate` binary in a temporary directory on port 0, talk real HTTP to it,
// and stop it gracefully or with kill -9. Used by the integration and fault tests.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <boost/beast/http.hpp>

namespace portgate::test {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& bytes);
std::string sample(const std::string& relative);  // bytes of samples/<relative>
// A CEB document with its first <ceb:copNo> replaced (distinct business keys for each list of a test).
std::string with_cop_no(std::string doc, const std::string& cop);
fs::path fresh_dir(const std::string& tag);        // empty temporary directory

// An empty temporary directory removed again when the test ends.
struct temp_dir {
    fs::path path;
    explicit temp_dir(const std::string& tag) : path(fresh_dir(tag)) {}
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

struct gateway_options {
    std::size_t max_body_bytes = 10 * 1024 * 1024;
    int workers = 2;
    int queue_capacity = 4096;
    std::string synchronous = "full";
    std::string extra_server;  // more TOML lines inside [server]
    std::string extra_config;  // more TOML at the end (partners, routes)
};

// The test configuration: partners demo-shop (key "demo-shop-key", inbox) and other-shop
// (key "other-shop-key"), routes for CEB311 and CEB621 through the draft schema, admin token "admin-token".
std::string test_config(const fs::path& dir, const gateway_options& o);

class gateway_process {
public:
    explicit gateway_process(const std::string& tag, gateway_options o = {});
    ~gateway_process();

    void start();                // waits for "listening on http://…"
    int terminate();             // SIGTERM, waits, returns the exit status (or -signal)
    void kill9();                // SIGKILL, waits
    bool running() const { return pid_ > 0; }

    const fs::path& dir() const { return dir_; }
    fs::path data_dir() const { return dir_ / "data"; }
    fs::path inbox() const { return data_dir() / "inbox" / "demo-shop"; }
    const fs::path& config_file() const { return config_; }
    const std::string& host() const { return host_; }
    const std::string& port() const { return port_; }
    std::string log() const;

private:
    fs::path dir_, config_;
    pid_t pid_ = -1;
    std::string host_, port_;
    int runs_ = 0;
};

using response = boost::beast::http::response<boost::beast::http::string_body>;

// A keep-alive HTTP/1.1 client over one connection (reconnects when the server closed it).
class http_client {
public:
    http_client(std::string host, std::string port);
    ~http_client();
    response request(boost::beast::http::verb method, const std::string& target, const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});
    response post_xml(const std::string& target, const std::string& body, const std::string& key,
                      const std::map<std::string, std::string>& headers = {});
    response get(const std::string& target, const std::string& key);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Runs `portgate ARGS…`, returns exit status; stdout+stderr in `output`.
int run_portgate(const std::string& args, std::string& output);

}  // namespace portgate::test
