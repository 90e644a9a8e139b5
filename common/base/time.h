#pragma once
// Wall-clock time as driftwatch writes it: UTC, RFC 3339, second precision
// ("2026-11-27T17:40:00Z").

#include <chrono>
#include <string>

namespace driftwatch {

std::string formatUtc(std::chrono::system_clock::time_point t);

}  // namespace driftwatch
