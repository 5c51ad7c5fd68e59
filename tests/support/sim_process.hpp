// Test support: the customs simulator (`portgate-customs-sim`, built next to `portgate`) as a child
// process, started with the source tree's xsd/ and scenarios, ready when it has printed its address
// ("listening on https://…") or its folder ("watching …"); stopped with SIGTERM (then SIGKILL).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace portgate::test {

class sim_process {
public:
    // `args`: the simulator's options (mode, certificates, seed …); output goes to DIR/sim-std{out,err}.txt.
    sim_process(const std::filesystem::path& dir, std::vector<std::string> args);
    ~sim_process();
    sim_process(const sim_process&) = delete;
    sim_process& operator=(const sim_process&) = delete;

    int stop();  // exit status, -9 when it had to be killed
    pid_t pid() const { return pid_; }
    const std::string& host() const { return host_; }  // HTTPS/HTTP mode
    const std::string& port() const { return port_; }
    std::string err() const;
    std::string log() const;  // stdout and stderr

private:
    std::filesystem::path out_, err_;
    pid_t pid_ = -1;
    std::string host_, port_;
};

}  // namespace portgate::test
