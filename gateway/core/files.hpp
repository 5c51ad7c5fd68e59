// Small file-system helpers shared by the loaders of xsd/ and mappings/.
#pragma once

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "gateway/core/error.hpp"

namespace portgate {

// The regular files of `dir` (not recursive) with one of `extensions` (".toml"), sorted by name so that
// loading and its error messages are reproducible. Empty when `dir` does not exist.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir, std::initializer_list<std::string_view> extensions) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return out;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
        auto ext = e.path().extension().string();
        if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Writes `bytes` to `dest` so that readers see the whole file or nothing: a temporary `.<name>.tmp` beside
// it, fsync (when `sync`), rename, fsync of the directory. Error: the reason as text (errc::io_error).
status write_file_atomically(const std::filesystem::path& dest, std::string_view bytes, bool sync = true);

}  // namespace portgate
