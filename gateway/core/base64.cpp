#include "gateway/core/base64.hpp"

#include <algorithm>
#include <array>

namespace portgate {
namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_table() {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}
constexpr auto table = make_table();
}  // namespace

// Both directions write into a buffer sized once (a DxpMsg carries a whole signed document: appending
// byte by byte with a capacity check each time cost more than the rest of the envelope).
std::string base64_encode(std::string_view in) {
    std::string out((in.size() + 2) / 3 * 4, '\0');
    char* o = out.data();
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3, o += 4) {
        const unsigned v = unsigned(p[i]) << 16 | unsigned(p[i + 1]) << 8 | unsigned(p[i + 2]);
        o[0] = alphabet[v >> 18];
        o[1] = alphabet[(v >> 12) & 63];
        o[2] = alphabet[(v >> 6) & 63];
        o[3] = alphabet[v & 63];
    }
    if (i + 1 == in.size()) {
        const unsigned v = unsigned(p[i]) << 16;
        o[0] = alphabet[v >> 18];
        o[1] = alphabet[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
    } else if (i + 2 == in.size()) {
        const unsigned v = unsigned(p[i]) << 16 | unsigned(p[i + 1]) << 8;
        o[0] = alphabet[v >> 18];
        o[1] = alphabet[(v >> 12) & 63];
        o[2] = alphabet[(v >> 6) & 63];
        o[3] = '=';
    }
    return out;
}

// Whitespace anywhere is skipped; '=' only at the end (at most two); anything else outside the alphabet, or
// a lone trailing character, is refused. Four alphabet characters at a byte boundary (the common case: a
// line of a wrapped text) are decoded as one block; everything else goes one character at a time.
std::optional<std::string> base64_decode(std::string_view text, std::size_t max_out) {
    std::string out(std::min(max_out, text.size() / 4 * 3 + 3), '\0');
    std::size_t n = 0;  // bytes written
    unsigned acc = 0;
    int bits = 0, pad = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t size = text.size();
    std::size_t i = 0;
    while (i < size) {
        if (bits == 0 && pad == 0 && i + 4 <= size && n + 3 <= max_out) {
            const int a = table[p[i]], b = table[p[i + 1]], c = table[p[i + 2]], d = table[p[i + 3]];
            if ((a | b | c | d) >= 0) {
                const unsigned v = unsigned(a) << 18 | unsigned(b) << 12 | unsigned(c) << 6 | unsigned(d);
                out[n] = static_cast<char>(v >> 16);
                out[n + 1] = static_cast<char>((v >> 8) & 0xFF);
                out[n + 2] = static_cast<char>(v & 0xFF);
                n += 3;
                i += 4;
                continue;
            }
        }
        const unsigned char ch = p[i++];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        if (ch == '=') {
            ++pad;
            continue;
        }
        if (pad) return std::nullopt;  // data after padding
        const int v = table[ch];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= max_out) return std::nullopt;
            out[n++] = static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || bits >= 6) return std::nullopt;
    out.resize(n);
    return out;
}

}  // namespace portgate
