#include "aggregator/policy/policy_lint.h"

#include <filesystem>
#include <system_error>

#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

// Entry names of every common shape: a pattern that matches all of them matches everything.
constexpr const char* kProbes[] = {"a",   "nginx.conf", ".hidden",  "10-local.conf",
                                   "b.d", "README",     "x.tar.gz", "id_ed25519"};

bool matchesEverything(const policy::Glob& glob) {
  for (const char* name : kProbes) {
    if (!glob.matches(name, false) || !glob.matches(name, true)) return false;
  }
  return true;
}

std::string percent(double share) {
  return std::to_string(static_cast<int>(share * 100 + 0.5)) + "%";
}

}  // namespace

std::vector<LintWarning> lintPolicy(const policy::Policy& p, const LintOptions& o) {
  std::vector<LintWarning> out;
  for (const auto& rule : p.files) {
    if (rule.ignore.empty()) continue;
    for (const auto& glob : rule.ignore.globs()) {
      if (matchesEverything(glob)) {
        out.push_back({rule.where, "ignore pattern '" + escapeBytes(glob.pattern()) +
                                       "' matches every entry: the rule watches nothing below " +
                                       escapeBytes(rule.path) +
                                       " (list what to ignore, or drop the rule)"});
      }
    }
    if (o.root.empty() || !rule.recursive) continue;
    // Measure on the real tree: which share of the entries below the rule is ignored.
    const std::filesystem::path top = std::filesystem::path(o.root) / rule.path.substr(1);
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(
        top, std::filesystem::directory_options::skip_permission_denied, ec);
    if (ec) continue;  // not there on this machine: nothing to measure
    size_t total = 0, ignored = 0;
    const std::string prefix = top.string() + "/";
    for (; it != std::filesystem::recursive_directory_iterator() && total < o.maxEntries;
         it.increment(ec)) {
      if (ec) break;
      const std::string path = it->path().string();
      if (path.size() <= prefix.size()) continue;
      const bool isDir = it->is_directory(ec) && !it->is_symlink(ec);
      ++total;
      if (rule.ignore.ignoredWithAncestors(path.substr(prefix.size()), isDir)) ++ignored;
    }
    if (total == 0) continue;
    const double share = static_cast<double>(ignored) / static_cast<double>(total);
    if (share > o.broadShare) {
      out.push_back({rule.where, "ignore patterns hide " + percent(share) + " of " +
                                     escapeBytes(rule.path) + " (" + std::to_string(ignored) +
                                     " of " + std::to_string(total) +
                                     " entries): drift there goes unseen; narrow them, or watch "
                                     "a smaller tree"});
    }
  }
  return out;
}

}  // namespace driftwatch::aggregator
