#include "aggregator/policy/line_diff.h"

#include <vector>

namespace driftwatch::aggregator {
namespace {

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct Op {
  char kind;  // ' ', '-', '+'
  std::string_view line;
  size_t afterLine;  // 1-based line in `after` (for ' ' and '+'), or the next one (for '-')
};

}  // namespace

std::optional<std::string> lineDiff(std::string_view before, std::string_view after,
                                    size_t context) {
  const auto a = splitLines(before);
  const auto b = splitLines(after);
  const size_t n = a.size(), m = b.size();
  if (static_cast<unsigned long long>(n + 1) * (m + 1) > 4'000'000ull) return std::nullopt;
  // Longest common subsequence, suffix lengths: lcs[i][j] for a[i..], b[j..].
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  const auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;)
      at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
  }
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', a[i], j + 1});
      ++i, ++j;
    } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
      ops.push_back({'-', a[i], j + 1});  // removals first, as diff shows them
      ++i;
    } else {
      ops.push_back({'+', b[j], j + 1});
      ++j;
    }
  }
  // Keep the changes and `context` lines around each.
  std::vector<bool> keep(ops.size(), false);
  bool changed = false;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (ops[k].kind == ' ') continue;
    changed = true;
    const size_t from = k >= context ? k - context : 0;
    const size_t to = std::min(ops.size(), k + context + 1);
    for (size_t x = from; x < to; ++x)
      keep[x] = true;
  }
  if (!changed) return std::string();
  std::string out;
  bool skipping = true;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!keep[k]) {
      skipping = true;
      continue;
    }
    if (skipping) out += "@@ line " + std::to_string(ops[k].afterLine) + " @@\n";
    skipping = false;
    out += ops[k].kind;
    out += ' ';
    out += ops[k].line;
    out += '\n';
  }
  return out;
}

}  // namespace driftwatch::aggregator
