// ULID generation with a per-thread random engine seeded from the OS.
#include "gateway/core/ids.hpp"

#include <chrono>
#include <random>

#include <fmt/format.h>

namespace portgate {

std::string make_ulid(std::uint64_t ms, std::uint64_t hi16, std::uint64_t lo64) {
    static constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::string out(26, '0');
    // 48-bit time → 10 characters (the first holds 3 bits).
    for (int i = 9; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = alphabet[ms & 31];
        ms >>= 5;
    }
    // 80 random bits → 16 characters.
    unsigned __int128 r = (static_cast<unsigned __int128>(hi16 & 0xffff) << 64) | lo64;
    for (int i = 25; i >= 10; --i) {
        out[static_cast<std::size_t>(i)] = alphabet[static_cast<unsigned>(r & 31)];
        r >>= 5;
    }
    return out;
}

namespace {
std::mt19937_64& thread_rng() {
    thread_local std::mt19937_64 rng([] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }());
    return rng;
}
}  // namespace

std::string guid_from(std::uint64_t a, std::uint64_t b) {
    std::string hex = fmt::format("{:016X}{:016X}", a, b);
    hex[12] = '4';              // version 4 shape
    hex[16] = "89AB"[b >> 62];  // RFC 4122 variant
    return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4), hex.substr(16, 4), hex.substr(20, 12));
}

std::string new_guid() {
    auto& rng = thread_rng();
    std::uint64_t a = rng(), b = rng();
    return guid_from(a, b);
}

std::string new_message_id() {
    auto& rng = thread_rng();
    auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    return make_ulid(ms, rng(), rng());
}

}  // namespace portgate
