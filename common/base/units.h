#pragma once
// Durations and sizes as people write them in config files and flags: "200ms", "5s", "10m",
// "2h", "1d" (a bare number is seconds) and "1GiB", "512MiB", "64KiB", "10MB" (a bare number
// is bytes). Pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace driftwatch {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
std::optional<uint64_t> parseSize(std::string_view text);
// A non-negative decimal number and the unit text after it: "1.5m" is 1.5 and "m".
bool splitNumber(std::string_view text, double& number, std::string_view& unit);

}  // namespace driftwatch
