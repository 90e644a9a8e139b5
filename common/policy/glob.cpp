#include "common/policy/glob.h"

#include "common/base/strings.h"

namespace driftwatch::policy {
namespace {

// Matches a "[...]" class at pattern[pi] against c. Sets `next` to the index after ']'.
// Returns false with next = npos when the class is unterminated.
bool matchClass(std::string_view pattern, size_t pi, char c, size_t& next) {
  size_t i = pi + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      if (hi == '\\' && i + 3 < pattern.size()) {
        hi = pattern[i + 3];
        ++i;
      }
      i += 2;
    }
    if (static_cast<unsigned char>(c) >= static_cast<unsigned char>(lo) &&
        static_cast<unsigned char>(c) <= static_cast<unsigned char>(hi)) {
      matched = true;
    }
    ++i;
  }
  if (i >= pattern.size()) {
    next = std::string_view::npos;
    return false;
  }
  next = i + 1;
  return matched != negate;
}

Status validateSegment(std::string_view segment, std::string_view pattern) {
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '\\') {
      if (i + 1 >= segment.size()) {
        return makeError(ErrorCode::kInvalidInput,
                         "ignore pattern '" + std::string(pattern) + "' ends with a lone '\\'");
      }
      ++i;
    } else if (segment[i] == '[') {
      size_t next = 0;
      matchClass(segment, i, 'a', next);
      if (next == std::string_view::npos) {
        return makeError(ErrorCode::kInvalidInput,
                         "ignore pattern '" + std::string(pattern) + "' has an unclosed '['");
      }
      i = next - 1;
    } else if (segment[i] == '*' && i + 1 < segment.size() && segment[i + 1] == '*' &&
               segment != "**") {
      return makeError(ErrorCode::kInvalidInput,
                       "ignore pattern '" + std::string(pattern) +
                           "': '**' must be a whole path segment (like 'a/**/b'); use '*' "
                           "inside a name");
    }
  }
  return {};
}

// Matches path segments against pattern segments, "**" spanning any number of them. Results
// are memoised per (pattern, path) position, so several "**" against a deep path stay
// polynomial instead of exponential.
class SegmentMatcher {
 public:
  SegmentMatcher(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path)
      : pattern_(pattern), path_(path), memo_((pattern.size() + 1) * (path.size() + 1), kUnknown) {}

  bool match(size_t pi, size_t si) {
    int8_t& known = memo_[pi * (path_.size() + 1) + si];
    if (known != kUnknown) return known == 1;
    const bool result = compute(pi, si);
    known = result ? 1 : 0;
    return result;
  }

 private:
  static constexpr int8_t kUnknown = -1;

  bool compute(size_t pi, size_t si) {
    if (pi == pattern_.size()) return si == path_.size();
    if (pattern_[pi] == "**") {
      if (pi + 1 == pattern_.size()) return si < path_.size();  // "dir/**": something below
      for (size_t k = si; k <= path_.size(); ++k) {
        if (match(pi + 1, k)) return true;
      }
      return false;
    }
    return si < path_.size() && matchSegment(pattern_[pi], path_[si]) && match(pi + 1, si + 1);
  }

  const std::vector<std::string>& pattern_;
  const std::vector<std::string_view>& path_;
  std::vector<int8_t> memo_;
};

}  // namespace

bool matchSegment(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point for '*': linear in practice.
  size_t p = 0;
  size_t t = 0;
  size_t starP = std::string_view::npos;
  size_t starT = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        starP = p++;
        starT = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t next = 0;
        if (matchClass(pattern, p, text[t], next)) {
          p = next;
          ++t;
          continue;
        }
      } else {
        char literal = pc;
        size_t width = 1;
        if (pc == '\\' && p + 1 < pattern.size()) {
          literal = pattern[p + 1];
          width = 2;
        }
        if (literal == text[t]) {
          p += width;
          ++t;
          continue;
        }
      }
    }
    if (starP == std::string_view::npos) return false;
    p = starP + 1;
    t = ++starT;
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

Result<Glob> Glob::compile(std::string_view pattern) {
  Glob glob;
  glob.pattern_ = std::string(pattern);
  std::string_view body = pattern;
  if (body.ends_with('/')) {
    glob.dirOnly_ = true;
    body.remove_suffix(1);
  }
  if (body.starts_with('/')) {
    glob.anchored_ = true;
    body.remove_prefix(1);
  }
  if (body.empty()) {
    return makeError(ErrorCode::kInvalidInput, "an ignore pattern is empty");
  }
  if (body.find('/') != std::string_view::npos) glob.anchored_ = true;
  if (glob.anchored_) {
    for (const auto segment : split(body, '/')) {
      if (segment.empty()) {
        return makeError(ErrorCode::kInvalidInput,
                         "ignore pattern '" + glob.pattern_ + "' has an empty segment ('//')");
      }
      if (auto s = validateSegment(segment, pattern); !s.ok()) return s.error();
      glob.segments_.emplace_back(segment);
    }
  } else {
    if (auto s = validateSegment(body, pattern); !s.ok()) return s.error();
    glob.segments_.emplace_back(body);
  }
  return glob;
}

bool Glob::matches(std::string_view relative, bool isDir) const {
  if (dirOnly_ && !isDir) return false;
  if (!anchored_) {
    const size_t slash = relative.rfind('/');
    const std::string_view name =
        slash == std::string_view::npos ? relative : relative.substr(slash + 1);
    return segments_[0] == "**" || matchSegment(segments_[0], name);
  }
  const auto parts = split(relative, '/');
  return SegmentMatcher(segments_, parts).match(0, 0);
}

bool IgnoreSet::ignores(std::string_view relative, bool isDir) const {
  for (const Glob& g : globs_) {
    if (g.matches(relative, isDir)) return true;
  }
  return false;
}

bool IgnoreSet::ignoredWithAncestors(std::string_view relative, bool isDir) const {
  if (globs_.empty()) return false;
  // Every proper prefix ending at a '/' is a directory.
  for (size_t pos = relative.find('/'); pos != std::string_view::npos;
       pos = relative.find('/', pos + 1)) {
    if (ignores(relative.substr(0, pos), true)) return true;
  }
  return ignores(relative, isDir);
}

}  // namespace driftwatch::policy
