// `portgate sign` and `portgate verify`: sign a document with a key file, a PKCS#12 bundle or a PKCS#11
// token (the signed bytes on standard output), and verify one (exit 0 valid, 1 invalid, 2 error).
#pragma once

#include <functional>
#include <optional>

#include <CLI/CLI.hpp>

namespace portgate::cli {

// Registers both subcommands on `app` (call before app.parse()). The returned function, called after
// app.parse(), runs the chosen one and gives its exit code, or nullopt when neither was chosen.
std::function<std::optional<int>()> add_sign_commands(CLI::App& app);

}  // namespace portgate::cli
