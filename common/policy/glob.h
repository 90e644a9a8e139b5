#pragma once
// Ignore patterns for recursive file rules, with gitignore's meaning so that people can guess
// them right:
//  - a pattern without '/' ("*.swp") matches the name of an entry at any depth;
//  - a pattern with '/' ("cache/**", "/tmp/*.log") matches the path relative to the rule's
//    root, anchored there (a leading '/' is optional);
//  - '*' and '?' never cross '/', "[a-z]" and "[!a-z]" are classes, '\' quotes the next char;
//  - a "**" segment matches any number of directories, including none ("a/**/b" matches
//    "a/b"); "dir/**" matches everything below dir but not dir itself;
//  - a trailing '/' restricts the pattern to directories.
// An ignored directory is not descended into, so everything below it is ignored too.
// Immutable after compile(); safe to share between threads.

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::policy {

class Glob {
 public:
  // The error message says what is malformed (unclosed '[', empty pattern, ...).
  static Result<Glob> compile(std::string_view pattern);

  // `relative` is the entry's path below the rule's root, without a leading '/'.
  bool matches(std::string_view relative, bool isDir) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;                // as written
  std::vector<std::string> segments_;  // for anchored patterns; one segment otherwise
  bool anchored_ = false;
  bool dirOnly_ = false;
};

// Matches one path segment (no '/') against one pattern segment (no '/', no "**").
bool matchSegment(std::string_view pattern, std::string_view text);

class IgnoreSet {
 public:
  IgnoreSet() = default;
  explicit IgnoreSet(std::vector<Glob> globs) : globs_(std::move(globs)) {}

  // True when the entry itself matches. (Ancestors are checked by the caller walking down,
  // or by ignoredWithAncestors for a path that arrives on its own.)
  bool ignores(std::string_view relative, bool isDir) const;
  // True when the entry or any directory above it (below the root) is ignored.
  bool ignoredWithAncestors(std::string_view relative, bool isDir) const;

  bool empty() const { return globs_.empty(); }
  const std::vector<Glob>& globs() const { return globs_; }

 private:
  std::vector<Glob> globs_;
};

}  // namespace driftwatch::policy
