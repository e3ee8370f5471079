// Small text helpers shared by the trainer's messages and the command line's output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sad {

// Seconds as "05:09" or "1:05:09"; "--:--" for a negative or non-finite value.
std::string format_duration(double seconds);

// The one strict integer parser: the whole text is a decimal integer (an optional '-', then
// digits; no spaces, no '+', no trailing characters) that fits int64_t; else nullopt.
std::optional<int64_t> parse_int64(std::string_view text);

}  // namespace sad
