// Payload compression in the store: every payload version is kept, so the bytes written per message are
// the store's size. With [store] compression = "zstd", payloads are stored as zstd frames when that saves
// space (XML shrinks about threefold), raw otherwise; the payload row's `encoding` says which, and every
// reader unpacks whatever it finds. Measured: the workers' compression costs more than the writer saves,
// so the default stays "none" (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "gateway/core/error.hpp"

namespace portgate::store {

// The payload.encoding value of a zstd frame ("" = raw bytes).
inline constexpr std::string_view zstd_encoding = "zstd";

// `raw` as a zstd frame, or "" when that would not be smaller (small or incompressible payloads).
std::string pack(std::string_view raw);

// The bytes of a stored payload: `stored` as read from the row with its `encoding`. Errors: an unknown
// encoding, or a frame that is corrupt or would exceed `limit` bytes (store_failed).
result<std::string> unpack(std::string_view stored, std::string_view encoding, std::size_t limit = std::size_t(256) << 20);

}  // namespace portgate::store
