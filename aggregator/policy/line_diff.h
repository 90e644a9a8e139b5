#pragma once
// A line diff of two texts for people (`policy diff`): unchanged lines far from a change are
// left out. Pure function.

#include <optional>
#include <string>
#include <string_view>

namespace driftwatch::aggregator {

// Lines as "  same", "- removed", "+ added", with `context` unchanged lines around each change
// and "@@ line N @@" where a run of unchanged lines was left out. Empty when the texts are
// equal; nullopt when they are too large to compare line by line (over 4 million line pairs).
std::optional<std::string> lineDiff(std::string_view before, std::string_view after,
                                    size_t context = 3);

}  // namespace driftwatch::aggregator
