#pragma once
// Answers "which file rule owns this path?" for a policy's file rules. The most specific rule
// wins: a rule for the path itself, else the nearest recursive rule above it. A path that the
// owning recursive rule ignores (or that lies below an ignored directory) is owned by nobody:
// a broader rule further up never picks it up again, so an ignore is final.
// Holds pointers into the rules it was built from: they must outlive it. Immutable after
// construction; safe to share between threads.

#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/policy/policy.h"

namespace driftwatch::policy {

class FileRuleIndex {
 public:
  explicit FileRuleIndex(const std::vector<FileRule>& rules);

  // nullptr when no rule covers the path or its owner ignores it.
  const FileRule* ownerOf(std::string_view path, bool isDir) const;
  // The rule declared for exactly this path, if any.
  const FileRule* ruleAt(std::string_view path) const;

 private:
  std::unordered_map<std::string_view, const FileRule*> byPath_;
};

// `path` relative to `root` ("/etc/nginx", "/etc/nginx/a/b" -> "a/b"); path must be below root.
std::string_view relativeTo(std::string_view root, std::string_view path);

}  // namespace driftwatch::policy
