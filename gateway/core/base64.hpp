// Base64 (RFC 4648, standard alphabet) for DXP Data, certificates and signatures.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portgate {

std::string base64_encode(std::string_view bytes);
// Whitespace is skipped; anything else outside the alphabet, or bad padding, gives nullopt.
// Stops with nullopt as soon as the output would exceed `max_out` bytes.
std::optional<std::string> base64_decode(std::string_view text, std::size_t max_out = std::string::npos);

}  // namespace portgate
