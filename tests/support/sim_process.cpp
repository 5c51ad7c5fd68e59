#include "tests/support/sim_process.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/gateway_process.hpp"

namespace portgate::test {

using namespace std::chrono_literals;

sim_process::sim_process(const fs::path& dir, std::vector<std::string> args) {
    out_ = dir / "sim-stdout.txt";
    err_ = dir / "sim-stderr.txt";
    args.insert(args.begin(), (fs::path(PORTGATE_BINARY).parent_path() / "portgate-customs-sim").string());
    args.push_back("--xsd-dir");
    args.push_back(std::string(PORTGATE_SOURCE_DIR) + "/xsd");
    args.push_back("--scenarios");
    args.push_back(std::string(PORTGATE_SOURCE_DIR) + "/samples/scenarios");
    std::fflush(nullptr);  // or the child's freopen would flush the parent's buffered output again
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        if (!freopen(out_.c_str(), "w", stdout) || !freopen(err_.c_str(), "w", stderr)) _exit(126);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    for (int i = 0; i < 1000; ++i) {
        std::string s = read_file(out_);
        for (const char* scheme : {"listening on https://", "listening on http://"}) {
            auto p = s.find(scheme);
            if (p != std::string::npos && s.find('\n', p) != std::string::npos) {
                std::size_t from = p + std::string(scheme).size();
                std::string addr = s.substr(from, s.find('\n', p) - from);
                host_ = addr.substr(0, addr.rfind(':'));
                port_ = addr.substr(addr.rfind(':') + 1);
                return;
            }
        }
        if (s.find("watching ") != std::string::npos) return;
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("simulator exited at start: " + read_file(err_));
        }
        std::this_thread::sleep_for(10ms);
    }
    stop();
    throw std::runtime_error("simulator did not start: " + read_file(err_));
}

sim_process::~sim_process() { stop(); }

int sim_process::stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGCONT);  // a test may have stopped it (SIGSTOP)
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; ++i) {
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return -9;
}

std::string sim_process::err() const { return read_file(err_); }
std::string sim_process::log() const { return read_file(out_) + read_file(err_); }

}  // namespace portgate::test
