// The `portgate` command line: serve, validate, check-config, hash-key.
#pragma once

namespace portgate::cli {

// Returns the process exit code.
int run(int argc, char** argv);

}  // namespace portgate::cli
