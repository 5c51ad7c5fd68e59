// Payload compression in the store: every payload version is kept, so the bytes written per message are
// the store's size. With [store] compression = "zstd", payloads are stored as zstd frames when that saves
// space (XML shrinks about threefold), raw otherwise; the payload row's `encoding` says which, and every
// reader unpacks whatever it finds. Measured: the workers' compression costs more than the writer saves,
// so the default stays "none" (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/error.hpp"

namespace portgate::store {

// The payload.encoding value of a zstd frame ("" = raw bytes).
inline constexpr std::string_view zstd_encoding = "zstd";

// `raw` as a zstd frame, or "" when that would not be smaller (small or incompressible payloads).
std::string pack(std::string_view raw);

// A later stage that differs from the message's first payload by one run of bytes (the signed document is
// the mapped one with a ds:Signature spliced in) is stored as that run only: encoding
// "delta:<base stage>:<base version>:<prefix>:<suffix>", the bytes = what replaces base[prefix, size - suffix).
// The signed payload, 8 KB of a 5-item CEB621, becomes ~1.6 KB; the writer writes and the store keeps that
// much less.
struct delta {
    std::size_t prefix = 0, suffix = 0;
    std::string_view middle;  // in `derived`
};
inline constexpr std::string_view delta_prefix = "delta:";
// The delta of `derived` against `base`, when storing it that way saves at least half of `derived`.
std::optional<delta> find_delta(std::string_view base, std::string_view derived);
std::string delta_encoding(std::string_view base_stage, int base_version, const delta& d);
struct delta_ref {
    std::string stage;
    int version = 0;
    std::size_t prefix = 0, suffix = 0;
};
// The base a "delta:…" encoding names; empty when `encoding` is not one or is malformed.
std::optional<delta_ref> parse_delta(std::string_view encoding);
// base[0, prefix) + middle + base[size - suffix, size); an error when the base is too short for them.
result<std::string> apply_delta(std::string_view base, const delta_ref& ref, std::string_view middle);

// The bytes of a stored payload: `stored` as read from the row with its `encoding`. Errors: an unknown
// encoding, or a frame that is corrupt or would exceed `limit` bytes (store_failed).
result<std::string> unpack(std::string_view stored, std::string_view encoding, std::size_t limit = std::size_t(256) << 20);

}  // namespace portgate::store
