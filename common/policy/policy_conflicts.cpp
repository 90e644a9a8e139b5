#include "common/policy/policy_conflicts.h"

#include <map>
#include <utility>

#include "common/base/escape.h"
#include "common/crypto/sha256.h"
#include "common/model/labels.h"
#include "common/model/resource.h"

namespace driftwatch::policy {
namespace {

struct Wanted {
  std::string value;
  model::RuleRef where;
};

// resource -> attribute -> what the policy wants there. A recursive file rule is its own
// resource ("file:/etc/**"): its values apply to every entry below, which only another
// recursive rule on the same tree states in the same terms.
using Table = std::map<std::string, std::map<std::string, Wanted>>;

std::string resourceText(model::ResourceKind kind, const std::string& name) {
  return model::ResourceId{kind, name}.str();
}

void want(Table& table, const std::string& resource, std::string_view attr, std::string value,
          const model::RuleRef& where) {
  table[resource].emplace(std::string(attr), Wanted{std::move(value), where});
}

std::string yesNo(bool b) {
  return b ? "true" : "false";
}

Table explicitValues(const Policy& p) {
  using model::ResourceKind;
  Table t;
  for (const auto& r : p.files) {
    const std::string res = resourceText(ResourceKind::kFile, r.path) + (r.recursive ? "/**" : "");
    want(t, res, "ensure", r.absent ? "absent" : "present", r.where);
    if (r.type) want(t, res, "type", std::string(model::fileTypeName(*r.type)), r.where);
    if (r.mode) want(t, res, "mode", model::formatMode(*r.mode), r.where);
    if (r.owner) want(t, res, "owner", escapeBytes(*r.owner), r.where);
    if (r.group) want(t, res, "group", escapeBytes(*r.group), r.where);
    if (r.content) want(t, res, "sha256", toHex(Sha256::of(*r.content)), r.where);
    if (r.sha256) want(t, res, "sha256", toHex(*r.sha256), r.where);
    if (r.target) want(t, res, "target", escapeBytes(*r.target), r.where);
  }
  for (const auto& r : p.sysctl)
    want(t, resourceText(ResourceKind::kSysctl, r.key), "value", r.value, r.where);
  for (const auto& r : p.packages) {
    const std::string res = resourceText(ResourceKind::kPackage, r.name);
    want(t, res, "ensure", r.want == PackageRule::Want::kAbsent ? "absent" : "present", r.where);
    if (r.want == PackageRule::Want::kVersion) want(t, res, "version", r.version.text, r.where);
  }
  for (const auto& r : p.services) {
    const std::string res = resourceText(ResourceKind::kService, r.unit);
    if (r.enabled) want(t, res, "enabled", yesNo(*r.enabled), r.where);
    if (r.masked) want(t, res, "masked", yesNo(*r.masked), r.where);
  }
  for (const auto& r : p.users) {
    const std::string res = resourceText(ResourceKind::kUser, r.name);
    want(t, res, "ensure", r.absent ? "absent" : "present", r.where);
    if (r.uid) want(t, res, "uid", std::to_string(*r.uid), r.where);
    if (r.gid) want(t, res, "gid", std::to_string(*r.gid), r.where);
    if (r.home) want(t, res, "home", escapeBytes(*r.home), r.where);
    if (r.shell) want(t, res, "shell", escapeBytes(*r.shell), r.where);
    if (r.comment) want(t, res, "comment", escapeBytes(*r.comment), r.where);
  }
  for (const auto& r : p.groups) {
    const std::string res = resourceText(ResourceKind::kGroup, r.name);
    want(t, res, "ensure", r.absent ? "absent" : "present", r.where);
    if (r.gid) want(t, res, "gid", std::to_string(*r.gid), r.where);
    if (r.members) {
      std::string members;
      for (const auto& m : *r.members)
        members += (members.empty() ? "" : ",") + escapeBytes(m);
      want(t, res, "members", "[" + members + "]", r.where);
    }
  }
  return t;
}

}  // namespace

std::string RuleConflict::describe() const {
  return resource + " " + attribute + ": " + first.str() + " wants " + firstWants + ", " +
         second.str() + " wants " + secondWants;
}

std::vector<RuleConflict> findConflicts(const Policy& first, const Policy& second) {
  std::vector<RuleConflict> out;
  if (!model::selectorsOverlap(first.selector, second.selector)) return out;
  const Table a = explicitValues(first);
  const Table b = explicitValues(second);
  for (const auto& [resource, attrs] : a) {
    const auto other = b.find(resource);
    if (other == b.end()) continue;
    // Presence is an attribute like the others ("ensure"): a rule that wants a file absent
    // conflicts with one that wants it present, whatever else either states.
    for (const auto& [attr, wanted] : attrs) {
      const auto there = other->second.find(attr);
      if (there == other->second.end() || there->second.value == wanted.value) continue;
      out.push_back(
          {resource, attr, wanted.value, there->second.value, wanted.where, there->second.where});
    }
  }
  return out;
}

}  // namespace driftwatch::policy
