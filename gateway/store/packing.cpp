#include "gateway/store/packing.hpp"

#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <zstd.h>

namespace portgate::store {

namespace {

// Level 1: ~14 µs for a 6.5 KB CEB621 (3.2×); higher levels gain a few percent for twice the time.
constexpr int level = 1;
// Below this a frame's header and the row's overhead eat the gain.
constexpr std::size_t min_size = 256;

struct cctx_free {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct dctx_free {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// One context per thread, reused: creating one per payload costs more than compressing it.
ZSTD_CCtx* compressor() {
    thread_local std::unique_ptr<ZSTD_CCtx, cctx_free> c(ZSTD_createCCtx());
    return c.get();
}
ZSTD_DCtx* decompressor() {
    thread_local std::unique_ptr<ZSTD_DCtx, dctx_free> d(ZSTD_createDCtx());
    return d.get();
}

}  // namespace

std::string pack(std::string_view raw) {
    if (raw.size() < min_size) return {};
    ZSTD_CCtx* c = compressor();
    if (!c) return {};
    std::string out(ZSTD_compressBound(raw.size()), '\0');
    const std::size_t n = ZSTD_compressCCtx(c, out.data(), out.size(), raw.data(), raw.size(), level);
    if (ZSTD_isError(n) || n >= raw.size()) return {};
    out.resize(n);
    return out;
}

std::optional<delta> find_delta(std::string_view base, std::string_view derived) {
    const std::size_t most = std::min(base.size(), derived.size());
    // Whole blocks first (memcmp), then byte by byte: a 99-item list is ~100 KB.
    constexpr std::size_t block = 64;
    std::size_t prefix = 0;
    while (prefix + block <= most && std::memcmp(base.data() + prefix, derived.data() + prefix, block) == 0) prefix += block;
    while (prefix < most && base[prefix] == derived[prefix]) ++prefix;
    std::size_t suffix = 0;
    while (suffix + block <= most - prefix &&
           std::memcmp(base.data() + base.size() - suffix - block, derived.data() + derived.size() - suffix - block, block) == 0)
        suffix += block;
    while (suffix < most - prefix && base[base.size() - 1 - suffix] == derived[derived.size() - 1 - suffix]) ++suffix;
    const std::size_t middle = derived.size() - prefix - suffix;
    if (middle * 2 > derived.size()) return std::nullopt;
    return delta{prefix, suffix, derived.substr(prefix, middle)};
}

std::string delta_encoding(std::string_view base_stage, int base_version, const delta& d) {
    return fmt::format("{}{}:{}:{}:{}", delta_prefix, base_stage, base_version, d.prefix, d.suffix);
}

std::optional<delta_ref> parse_delta(std::string_view e) {
    if (!e.starts_with(delta_prefix)) return std::nullopt;
    e.remove_prefix(delta_prefix.size());
    // The three numbers from the right: a stage name is free text.
    std::size_t numbers[3];
    for (int k = 2; k >= 0; --k) {
        const auto colon = e.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        const std::string_view digits = e.substr(colon + 1);
        if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
        numbers[k] = std::stoull(std::string(digits));
        e = e.substr(0, colon);
    }
    if (e.empty()) return std::nullopt;
    return delta_ref{std::string(e), static_cast<int>(numbers[0]), numbers[1], numbers[2]};
}

result<std::string> apply_delta(std::string_view base, const delta_ref& ref, std::string_view middle) {
    if (ref.prefix > base.size() || ref.suffix > base.size() - ref.prefix)
        return error(errc::store_failed, fmt::format("stored delta keeps {} + {} bytes of its {} base of {} bytes", ref.prefix,
                                                     ref.suffix, ref.stage, base.size()));
    std::string out;
    out.reserve(ref.prefix + middle.size() + ref.suffix);
    out.append(base.substr(0, ref.prefix));
    out.append(middle);
    out.append(base.substr(base.size() - ref.suffix));
    return out;
}

result<std::string> unpack(std::string_view stored, std::string_view encoding, std::size_t limit) {
    if (encoding.empty()) return std::string(stored);
    if (encoding != zstd_encoding) return error(errc::store_failed, fmt::format("payload encoding '{}' is unknown to this portgate", encoding));
    const unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return error(errc::store_failed, "stored payload is not a complete zstd frame");
    if (size > limit) return error(errc::store_failed, fmt::format("stored payload would unpack to {} bytes, over the limit of {}", size, limit));
    ZSTD_DCtx* d = decompressor();
    if (!d) return error(errc::store_failed, "out of memory unpacking a payload");
    std::string out(static_cast<std::size_t>(size), '\0');
    const std::size_t n = ZSTD_decompressDCtx(d, out.data(), out.size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != out.size())
        return error(errc::store_failed, fmt::format("stored payload does not unpack: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch"));
    return out;
}

}  // namespace portgate::store
