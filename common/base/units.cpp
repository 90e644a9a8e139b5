#include "common/base/units.h"

#include <map>
#include <string>

#include "common/base/strings.h"

namespace driftwatch {

bool splitNumber(std::string_view text, double& number, std::string_view& unit) {
  text = trim(text);
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  try {
    // The whole run of digits and dots must be the number: stod would read "1.2.3" as 1.2.
    size_t used = 0;
    number = std::stod(std::string(text.substr(0, i)), &used);
    if (used != i) return false;
  } catch (...) {
    return false;
  }
  unit = trim(text.substr(i));
  return number >= 0;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) return std::nullopt;
  static const std::map<std::string_view, double> kUnits = {
      {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  const double ms = n * it->second;
  if (ms > 1e15) return std::nullopt;  // centuries: a typo, and past what int64 ms can hold
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::optional<uint64_t> parseSize(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) return std::nullopt;
  static const std::map<std::string_view, double> kUnits = {
      {"", 1},        {"B", 1},    {"KiB", 1024.0}, {"MiB", 1048576.0},      {"GiB", 1073741824.0},
      {"KB", 1000.0}, {"MB", 1e6}, {"GB", 1e9},     {"TiB", 1099511627776.0}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  const double bytes = n * it->second;
  if (bytes > 9e18) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

}  // namespace driftwatch
