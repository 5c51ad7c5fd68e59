// HTTP intake throughput: starts `portgate serve` on a fresh data directory (durable store,
// synchronous=FULL as configured) and posts the CEB311 sample over keep-alive connections from
// several client threads for a fixed time. Prints accepted messages/s and latency percentiles.
//   http_intake_bench --config samples/portgate.toml --portgate build/bin/portgate
//                     [--connections 32] [--seconds 10] [--sample samples/ceb/ceb311-order-valid.xml]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    std::string config = "samples/portgate.toml", portgate = "build/bin/portgate", sample = "samples/ceb/ceb311-order-valid.xml";
    int connections = 32, seconds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--config") config = argv[i + 1];
        else if (a == "--portgate") portgate = argv[i + 1];
        else if (a == "--connections") connections = std::stoi(argv[i + 1]);
        else if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
        else if (a == "--sample") sample = argv[i + 1];
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    std::ifstream in(sample, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string body = ss.str();
    if (body.empty()) {
        std::cerr << "cannot read " << sample << "\n";
        return 2;
    }

    fs::path data = fs::temp_directory_path() / fmt::format("portgate-bench-{}", getpid());
    fs::create_directories(data);
    fs::path out = data / "stdout.txt";
    pid_t pid = fork();
    if (pid == 0) {
        freopen(out.c_str(), "w", stdout);
        freopen((data / "stderr.txt").c_str(), "w", stderr);
        execl(portgate.c_str(), portgate.c_str(), "serve", "--config", config.c_str(), "--listen", "127.0.0.1:0", "--data-dir",
              (data / "data").c_str(), "--log-level", "warn", nullptr);
        _exit(127);
    }
    std::string addr;
    for (int i = 0; i < 400 && addr.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        std::ifstream o(out);
        std::string line;
        if (std::getline(o, line) && line.rfind("listening on http://", 0) == 0) addr = line.substr(20);
    }
    if (addr.empty()) {
        std::cerr << "the gateway did not start (see " << data << ")\n";
        kill(pid, SIGKILL);
        return 1;
    }
    auto colon = addr.rfind(':');
    std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);

    std::atomic<bool> stop{false};
    std::atomic<long> ok{0}, failed{0};
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(connections));
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < connections; ++c)
        threads.emplace_back([&, c] {
            try {
                net::io_context ioc;
                tcp::resolver res(ioc);
                beast::tcp_stream stream(ioc);
                stream.connect(res.resolve(host, port));
                beast::flat_buffer buf;
                while (!stop.load(std::memory_order_relaxed)) {
                    http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
                    req.set(http::field::host, host);
                    req.set(http::field::authorization, "Bearer demo-shop-key");
                    req.set(http::field::content_type, "application/xml");
                    req.body() = body;
                    req.prepare_payload();
                    auto s = std::chrono::steady_clock::now();
                    http::write(stream, req);
                    http::response<http::string_body> r;
                    http::read(stream, buf, r);
                    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
                    if (r.result_int() == 202) {
                        ok.fetch_add(1, std::memory_order_relaxed);
                        lat[static_cast<std::size_t>(c)].push_back(ms);
                    } else failed.fetch_add(1, std::memory_order_relaxed);
                }
            } catch (const std::exception& e) {
                std::cerr << "client " << c << ": " << e.what() << "\n";
            }
        });
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);

    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))]; };
    std::cout << fmt::format("HTTP intake (POST /v1/messages, CEB311 {} bytes, parse + XSD + durable SQLite, keep-alive)\n", body.size());
    std::cout << fmt::format("  connections        {}\n  seconds            {:.1f}\n  accepted (202)     {}\n  other answers      {}\n", connections,
                             elapsed, ok.load(), failed.load());
    std::cout << fmt::format("  messages/s         {:.0f}\n  latency p50/p99/p999 ms  {:.2f} / {:.2f} / {:.2f}\n", ok.load() / elapsed, pct(0.5),
                             pct(0.99), pct(0.999));
    std::cout << fmt::format("  gateway exit       {}\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fs::remove_all(data);
    return 0;
}
