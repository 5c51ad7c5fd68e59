// Small digest helpers on OpenSSL (API-key hashes, content hashes for idempotent file intake).
#pragma once

#include <string>
#include <string_view>

namespace portgate {

std::string sha256_hex(std::string_view bytes);
// Constant-time equality for secrets of equal length (different lengths compare unequal).
bool secure_equals(std::string_view a, std::string_view b);

}  // namespace portgate
