#pragma once
// Wall-clock time as driftwatch writes it: UTC, RFC 3339, second precision
// ("2026-11-27T17:40:00Z").

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace driftwatch {

std::string formatUtc(std::chrono::system_clock::time_point t);

// "2026-12-31" (midnight UTC) or "2026-12-31T18:00:00Z" as unix milliseconds; nullopt for
// anything else, including dates that do not exist (2026-02-30).
std::optional<int64_t> parseUtc(std::string_view text);

}  // namespace driftwatch
