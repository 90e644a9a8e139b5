#pragma once
// Small string helpers shared by the parsers. Pure functions, safe from any thread.

#include <string>
#include <string_view>
#include <vector>

namespace driftwatch {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Calls fn(line, lineNumber) for each line of `text` (1-based, without the '\n' or a final
// '\r'), without building a list of lines first: inputs can be large and hostile.
template <typename Fn>
void forEachLine(std::string_view text, Fn&& fn) {
  int lineNo = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line, ++lineNo);
    start = end + 1;
  }
}

// Collects warnings about an input, keeping the first `limit` and counting the rest, so that
// a hostile file of a million bad lines costs a few lines of output, not gigabytes.
class WarningList {
 public:
  explicit WarningList(std::vector<std::string>& out, size_t limit = 20)
      : out_(out), limit_(limit) {}
  WarningList(const WarningList&) = delete;
  WarningList& operator=(const WarningList&) = delete;

  void add(std::string warning);
  // Appends "... and N more like these" when warnings were dropped. Call once, at the end.
  void close();

 private:
  std::vector<std::string>& out_;
  size_t limit_;
  size_t kept_ = 0;
  size_t dropped_ = 0;
};

// Levenshtein distance, for "did you mean" hints on misspelt keys.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates);

// Parses a whole decimal unsigned number; false on anything else (sign, spaces, overflow).
bool parseUnsigned(std::string_view s, unsigned long long& out);

}  // namespace driftwatch
