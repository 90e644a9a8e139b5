#pragma once
// Small string helpers shared by the parsers. Pure functions, safe from any thread.

#include <string>
#include <string_view>
#include <vector>

namespace driftwatch {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Levenshtein distance, for "did you mean" hints on misspelt keys.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates);

// Parses a whole decimal unsigned number; false on anything else (sign, spaces, overflow).
bool parseUnsigned(std::string_view s, unsigned long long& out);

}  // namespace driftwatch
