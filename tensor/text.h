// Small text helpers shared by the trainer's messages and the command line's output.
#pragma once

#include <string>

namespace sad {

// Seconds as "05:09" or "1:05:09"; "--:--" for a negative or non-finite value.
std::string format_duration(double seconds);

}  // namespace sad
