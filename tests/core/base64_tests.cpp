// base64: the block paths of encode and decode give what the plain one-character-at-a-time definition gives,
// on random data, with whitespace, padding and bad characters anywhere, and at every output limit.
#include <optional>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "gateway/core/base64.hpp"

using portgate::base64_decode;
using portgate::base64_encode;

namespace {

const std::string letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The definition, character by character (RFC 4648 alphabet; whitespace skipped; '=' only at the end).
std::optional<std::string> reference_decode(const std::string& text, std::size_t max_out) {
    std::string out;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad) return std::nullopt;
        const auto at = letters.find(c);
        if (at == std::string::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(at);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out.size() >= max_out) return std::nullopt;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || bits >= 6) return std::nullopt;
    return out;
}

std::string reference_encode(const std::string& in) {
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16 | unsigned(static_cast<unsigned char>(in[i + 1])) << 8 |
                     static_cast<unsigned char>(in[i + 2]);
        for (int s : {18, 12, 6, 0}) out += letters[(v >> s) & 63];
    }
    const std::size_t left = in.size() - i;
    if (left > 0) {
        unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16;
        if (left == 2) v |= unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
        out += letters[v >> 18];
        out += letters[(v >> 12) & 63];
        out += left == 2 ? letters[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace

TEST_CASE("base64: known vectors (RFC 4648 section 10)", "[core]") {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (auto [raw, text] : vectors) {
        CHECK(base64_encode(raw) == text);
        CHECK(base64_decode(text) == std::optional<std::string>(raw));
    }
    CHECK(base64_encode(std::string("\xff\xfe\x00\x01", 4)) == "//4AAQ==");
    CHECK(base64_decode("//4AAQ==") == std::optional<std::string>(std::string("\xff\xfe\x00\x01", 4)));
}

TEST_CASE("base64: bad texts are refused wherever the fault is", "[core]") {
    CHECK_FALSE(base64_decode("Zm9v*mFy"));      // a character outside the alphabet, inside a block
    CHECK(base64_decode("Zm9vYmE") == std::optional<std::string>("fooba"));  // missing pads are tolerated
    CHECK_FALSE(base64_decode("Zm9vY"));         // 6 bits left: not a byte
    CHECK_FALSE(base64_decode("Zg==Zm9v"));      // data after padding
    CHECK_FALSE(base64_decode("Zg==="));         // three pads
    CHECK_FALSE(base64_decode("Zm9v\x80mFy"));   // a high byte
    CHECK(base64_decode("Zm 9v\nYm\r\nFy\t") == std::optional<std::string>("foobar"));
    CHECK(base64_decode("Zm9vYmFy", 6) == std::optional<std::string>("foobar"));
    CHECK_FALSE(base64_decode("Zm9vYmFy", 5));   // the limit falls inside the last block
    CHECK_FALSE(base64_decode("Zm9vYmFy", 0));
}

TEST_CASE("base64: encode and decode agree with the definition on random texts", "[core]") {
    std::mt19937 rng(20261124);
    const std::string noise = " \n\r\t=*-_.\x01\xc3";
    std::size_t refused = 0, decoded = 0;
    for (int round = 0; round < 4000; ++round) {
        std::string raw(rng() % 200, '\0');
        for (auto& c : raw) c = static_cast<char>(rng() & 0xFF);
        const std::string text = base64_encode(raw);
        REQUIRE(text == reference_encode(raw));
        REQUIRE(base64_decode(text) == std::optional<std::string>(raw));

        // Damage the text: whitespace (harmless), pads, bad characters or deletions at random places.
        std::string bent = text;
        const int edits = static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !bent.empty(); ++e) {
            const std::size_t at = rng() % (bent.size() + 1);
            switch (rng() % 3) {
            case 0: bent.insert(at, 1, noise[rng() % 4]); break;
            case 1: bent.insert(at, 1, noise[rng() % noise.size()]); break;
            default:
                if (at < bent.size()) bent.erase(at, 1);
            }
        }
        const std::size_t limit = rng() % 3 == 0 ? rng() % (raw.size() + 2) : std::string::npos;
        const auto mine = base64_decode(bent, limit);
        const auto theirs = reference_decode(bent, limit);
        REQUIRE(mine == theirs);
        (mine ? decoded : refused)++;
    }
    // Both outcomes were exercised many times.
    CHECK(refused > 500);
    CHECK(decoded > 500);
}
