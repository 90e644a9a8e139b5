#include "common/policy/file_rule_index.h"

namespace driftwatch::policy {

FileRuleIndex::FileRuleIndex(const std::vector<FileRule>& rules) {
  byPath_.reserve(rules.size());
  for (const FileRule& rule : rules)
    byPath_.emplace(rule.path, &rule);
}

const FileRule* FileRuleIndex::ruleAt(std::string_view path) const {
  const auto it = byPath_.find(path);
  return it == byPath_.end() ? nullptr : it->second;
}

const FileRule* FileRuleIndex::ownerOf(std::string_view path, bool isDir) const {
  if (const FileRule* exact = ruleAt(path)) return exact;
  std::string_view ancestor = path;
  while (ancestor.size() > 1) {
    const size_t slash = ancestor.rfind('/');
    ancestor = slash == 0 ? std::string_view("/") : ancestor.substr(0, slash);
    const FileRule* rule = ruleAt(ancestor);
    if (rule == nullptr || !rule->recursive) continue;
    if (rule->ignore.ignoredWithAncestors(relativeTo(rule->path, path), isDir)) return nullptr;
    return rule;
  }
  return nullptr;
}

std::string_view relativeTo(std::string_view root, std::string_view path) {
  if (path.size() <= root.size()) return {};
  if (root == "/") return path.substr(1);
  return path.substr(root.size() + 1);
}

}  // namespace driftwatch::policy
