// The composition root of a running portgate: it owns the configuration, the compiled schemas, the
// store, the worker pool, the intake pipeline, the HTTP server and the folder watchers, starts them in
// dependency order and stops them in reverse so that nothing accepted is dropped on the way out.
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.hpp"
#include "gateway/core/error.hpp"

namespace portgate {

class gateway {
public:
    // Compiles schemas, opens the store (migrating it), checks routes against the catalog.
    static result<std::unique_ptr<gateway>> create(config::config cfg);
    ~gateway();

    // Binds the listener (port 0 = any free port) and starts the I/O threads and folder watchers.
    status start();
    // "HOST:PORT" actually bound.
    std::string address() const;
    // Blocks until SIGTERM or SIGINT (or stop()), then shuts down gracefully.
    void run();
    // Asks run() to return (thread-safe).
    void stop();

private:
    gateway() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace portgate
