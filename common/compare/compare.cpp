#include "common/compare/compare.h"

#include <algorithm>

#include "common/base/strings.h"

namespace driftwatch::compare {

using model::Attr;
using model::AttributeDrift;
using model::Change;
using model::DriftItem;
using model::FileType;
using model::Presence;
using model::ResourceId;
using model::ResourceKind;

namespace {

constexpr std::string_view kPresent = "present";
constexpr std::string_view kAbsent = "absent";

DriftItem makeItem(ResourceKind kind, std::string name, Change change, model::Severity severity,
                   const model::RuleRef& rule, std::optional<std::chrono::milliseconds> settle) {
  DriftItem item;
  item.id = ResourceId{kind, std::move(name)};
  item.change = change;
  item.severity = severity;
  item.rule = rule;
  item.settle = settle;
  return item;
}

AttributeDrift attrDrift(Attr attr, std::optional<std::string> desired,
                         std::optional<std::string> actual) {
  return AttributeDrift{attr, std::move(desired), std::move(actual)};
}

AttributeDrift ensureDrift(bool desiredPresent, std::string_view actual) {
  return attrDrift(Attr::kEnsure, std::string(desiredPresent ? kPresent : kAbsent),
                   std::string(actual));
}

std::string userText(uint32_t uid, const IdentityResolver& ids) {
  if (auto name = ids.userName(uid)) return *name;
  return std::to_string(uid);
}

std::string groupText(uint32_t gid, const IdentityResolver& ids) {
  if (auto name = ids.groupName(gid)) return *name;
  return std::to_string(gid);
}

// A user or group given by name or number in a policy, as a numeric id on the observed host.
std::optional<uint32_t> resolveId(const std::string& spec, bool user, const IdentityResolver& ids) {
  unsigned long long number = 0;
  if (parseUnsigned(spec, number) && number < 0xffffffffULL) return static_cast<uint32_t>(number);
  return user ? ids.uidOf(spec) : ids.gidOf(spec);
}

// Renders what the host has for a content rule: the text when it was captured, else its size
// and digest so that a reader still sees what changed.
std::optional<std::string> actualContent(const model::FileObservation& actual) {
  if (actual.content) return *actual.content;
  if (model::has(actual.attrs.mask, Attr::kSha256)) {
    return "(" + std::to_string(actual.attrs.size) + " bytes, sha256 " +
           toHex(actual.attrs.sha256) + ")";
  }
  return std::nullopt;
}

// Compares the file attributes that `rule` and `base` ask for; appends what differs.
void compareFileAttrs(const policy::FileRule& rule, const baseline::BaselineEntry* base,
                      const model::FileObservation& actual, const IdentityResolver& ids,
                      DriftItem& item) {
  const model::FileAttrs& a = actual.attrs;
  const model::AttrMask fromBaseline = base != nullptr ? rule.baselineAttrs : 0;
  const auto fromBase = [&](Attr attr) {
    return model::has(fromBaseline, attr) && model::has(base->attrs.mask, attr);
  };
  const auto missingInBaseline = [&](Attr attr) {
    // The rule wants the attribute from a baseline that does not hold it (recorded with
    // other attributes, or the entry is missing): say so instead of guessing.
    return model::has(rule.baselineAttrs, attr) && !fromBase(attr);
  };

  // Type first: when it differs, type-specific attributes are not compared.
  std::optional<FileType> desiredType;
  if (rule.type) {
    desiredType = *rule.type;
  } else if (fromBase(Attr::kType)) {
    desiredType = base->attrs.type;
  } else if (rule.sha256 || rule.content) {
    desiredType = FileType::kFile;  // a digest or content implies a regular file
  } else if (rule.target) {
    desiredType = FileType::kSymlink;
  }
  bool typeDiffers = false;
  if (desiredType && *desiredType != a.type) {
    typeDiffers = true;
    item.attributes.push_back(attrDrift(Attr::kType, std::string(model::fileTypeName(*desiredType)),
                                        std::string(model::fileTypeName(a.type))));
  } else if (missingInBaseline(Attr::kType)) {
    item.attributes.push_back(
        attrDrift(Attr::kType, std::nullopt, std::string(model::fileTypeName(a.type))));
  }

  // Mode (symlink permissions mean nothing on Linux; compare them only when asked explicitly).
  if (rule.mode) {
    if (*rule.mode != a.mode) {
      item.attributes.push_back(
          attrDrift(Attr::kMode, model::formatMode(*rule.mode), model::formatMode(a.mode)));
    }
  } else if (fromBase(Attr::kMode)) {
    if (base->attrs.mode != a.mode && !(typeDiffers && a.type == FileType::kSymlink)) {
      item.attributes.push_back(
          attrDrift(Attr::kMode, model::formatMode(base->attrs.mode), model::formatMode(a.mode)));
    }
  } else if (missingInBaseline(Attr::kMode)) {
    item.attributes.push_back(attrDrift(Attr::kMode, std::nullopt, model::formatMode(a.mode)));
  }

  // Owner and group: names in a policy are resolved through the observed host's own tables.
  const auto compareId = [&](Attr attr, const std::optional<std::string>& spec, uint32_t actualId,
                             bool user) {
    const uint32_t baseId =
        attr == Attr::kOwner ? (base ? base->attrs.uid : 0) : (base ? base->attrs.gid : 0);
    const std::string actualText = user ? userText(actualId, ids) : groupText(actualId, ids);
    if (spec) {
      const auto want = resolveId(*spec, user, ids);
      if (!want || *want != actualId) {
        std::string desired = *spec;
        if (!want) desired += user ? " (no such user on the host)" : " (no such group on the host)";
        item.attributes.push_back(attrDrift(attr, desired, actualText));
      }
    } else if (fromBase(attr)) {
      if (baseId != actualId) {
        item.attributes.push_back(
            attrDrift(attr, user ? userText(baseId, ids) : groupText(baseId, ids), actualText));
      }
    } else if (missingInBaseline(attr)) {
      item.attributes.push_back(attrDrift(attr, std::nullopt, actualText));
    }
  };
  compareId(Attr::kOwner, rule.owner, a.uid, true);
  compareId(Attr::kGroup, rule.group, a.gid, false);

  if (typeDiffers) return;

  if (a.type == FileType::kFile) {
    if (fromBase(Attr::kSize) && base->attrs.size != a.size) {
      item.attributes.push_back(
          attrDrift(Attr::kSize, std::to_string(base->attrs.size), std::to_string(a.size)));
    } else if (missingInBaseline(Attr::kSize)) {
      item.attributes.push_back(attrDrift(Attr::kSize, std::nullopt, std::to_string(a.size)));
    }
    const bool hashed = model::has(a.mask, Attr::kSha256);
    // Not hashed (unreadable, or over the size limit): no value, and item.error says why.
    const auto actualHash = [&]() -> std::optional<std::string> {
      if (hashed) return toHex(a.sha256);
      return std::nullopt;
    };
    if (rule.content) {
      const Sha256Digest want = Sha256::of(*rule.content);
      if (!hashed || want != a.sha256) {
        item.attributes.push_back(attrDrift(Attr::kContent, *rule.content, actualContent(actual)));
      }
    } else if (rule.sha256) {
      if (!hashed || *rule.sha256 != a.sha256) {
        item.attributes.push_back(attrDrift(Attr::kSha256, toHex(*rule.sha256), actualHash()));
      }
    } else if (fromBase(Attr::kSha256)) {
      if (!hashed || base->attrs.sha256 != a.sha256) {
        item.attributes.push_back(
            attrDrift(Attr::kSha256, toHex(base->attrs.sha256), actualHash()));
      }
    } else if (missingInBaseline(Attr::kSha256)) {
      item.attributes.push_back(attrDrift(Attr::kSha256, std::nullopt, actualHash()));
    }
  }

  if (a.type == FileType::kSymlink) {
    const bool haveTarget = model::has(a.mask, Attr::kTarget);
    const std::optional<std::string> actualTarget =
        haveTarget ? std::optional<std::string>(a.target) : std::nullopt;
    if (rule.target) {
      if (!haveTarget || *rule.target != a.target) {
        item.attributes.push_back(attrDrift(Attr::kTarget, *rule.target, actualTarget));
      }
    } else if (fromBase(Attr::kTarget)) {
      if (!haveTarget || base->attrs.target != a.target) {
        item.attributes.push_back(attrDrift(Attr::kTarget, base->attrs.target, actualTarget));
      }
    } else if (missingInBaseline(Attr::kTarget)) {
      item.attributes.push_back(attrDrift(Attr::kTarget, std::nullopt, actualTarget));
    }
  }
}

}  // namespace

std::optional<DriftItem> compareFile(const policy::FileRule& rule,
                                     const baseline::BaselineEntry* base,
                                     const model::FileObservation& actual,
                                     const IdentityResolver& ids) {
  const bool ruleRoot = actual.path == rule.path;
  bool desiredPresent = false;
  if (rule.absent) {
    desiredPresent = false;
  } else if (ruleRoot && rule.explicitAttrs() != 0) {
    desiredPresent = true;
  } else {
    desiredPresent = base != nullptr;
  }

  if (actual.presence == Presence::kUnknown) {
    DriftItem item = makeItem(ResourceKind::kFile, actual.path, Change::kModified, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(
        attrDrift(Attr::kEnsure, std::string(desiredPresent ? kPresent : kAbsent), std::nullopt));
    item.error = actual.error;
    return item;
  }
  const bool actualPresent = actual.presence == Presence::kPresent;
  if (!desiredPresent) {
    if (!actualPresent) return std::nullopt;
    DriftItem item = makeItem(ResourceKind::kFile, actual.path, Change::kAdded, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(false, kPresent));
    item.attributes.push_back(
        attrDrift(Attr::kType, std::nullopt, std::string(model::fileTypeName(actual.attrs.type))));
    item.error = actual.error;
    return item;
  }
  if (!actualPresent) {
    DriftItem item = makeItem(ResourceKind::kFile, actual.path, Change::kRemoved, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(true, kAbsent));
    return item;
  }
  DriftItem item = makeItem(ResourceKind::kFile, actual.path, Change::kModified, rule.severity,
                            rule.where, rule.settle);
  compareFileAttrs(rule, base, actual, ids, item);
  if (item.attributes.empty()) return std::nullopt;
  item.error = actual.error;
  return item;
}

std::string foldWhitespace(std::string_view value) {
  std::string out;
  bool pendingSpace = false;
  for (const char c : trim(value)) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pendingSpace = true;
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += c;
  }
  return out;
}

std::optional<DriftItem> compareSysctl(const policy::SysctlRule& rule,
                                       const model::SysctlObservation& actual) {
  if (actual.presence == Presence::kPresent) {
    if (foldWhitespace(rule.value) == foldWhitespace(actual.value)) return std::nullopt;
    DriftItem item = makeItem(ResourceKind::kSysctl, rule.key, Change::kModified, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(
        attrDrift(Attr::kValue, foldWhitespace(rule.value), foldWhitespace(actual.value)));
    return item;
  }
  const Change change = actual.presence == Presence::kAbsent ? Change::kRemoved : Change::kModified;
  DriftItem item =
      makeItem(ResourceKind::kSysctl, rule.key, change, rule.severity, rule.where, rule.settle);
  item.attributes.push_back(attrDrift(Attr::kValue, foldWhitespace(rule.value), std::nullopt));
  item.error = actual.error;
  return item;
}

bool isInstalledState(std::string_view state) {
  return state == "installed" || state == "triggers-awaited" || state == "triggers-pending";
}

bool isPresentState(std::string_view state) {
  return state != "not-installed" && state != "config-files";
}

std::optional<DriftItem> comparePackage(const policy::PackageRule& rule,
                                        const model::PackageObservation& actual) {
  using Want = policy::PackageRule::Want;
  if (!actual.error.empty()) {
    DriftItem item = makeItem(ResourceKind::kPackage, rule.name, Change::kModified, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(attrDrift(
        Attr::kEnsure, std::string(rule.want == Want::kAbsent ? kAbsent : kPresent), std::nullopt));
    item.error = actual.error;
    return item;
  }
  std::vector<const model::PackageInstance*> present;
  for (const auto& inst : actual.instances) {
    if (isPresentState(inst.state)) present.push_back(&inst);
  }
  const auto versions = [&]() {
    std::string out;
    for (const auto* inst : present) {
      if (!out.empty()) out += ", ";
      out += inst->version;
      if (present.size() > 1) out += " (" + inst->arch + ")";
    }
    return out;
  };
  if (rule.want == Want::kAbsent) {
    if (present.empty()) return std::nullopt;
    DriftItem item = makeItem(ResourceKind::kPackage, rule.name, Change::kAdded, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(false, kPresent));
    item.attributes.push_back(attrDrift(Attr::kVersion, std::nullopt, versions()));
    return item;
  }
  if (present.empty()) {
    DriftItem item = makeItem(ResourceKind::kPackage, rule.name, Change::kRemoved, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(true, kAbsent));
    if (rule.want == Want::kVersion) {
      item.attributes.push_back(attrDrift(Attr::kVersion, rule.version.text, std::nullopt));
    }
    for (const auto& inst : actual.instances) {
      if (inst.state == "config-files") {
        // Removed but not purged: worth knowing, its configuration is still on disk.
        item.attributes.push_back(attrDrift(Attr::kState, std::string("installed"), inst.state));
        break;
      }
    }
    return item;
  }
  DriftItem item = makeItem(ResourceKind::kPackage, rule.name, Change::kModified, rule.severity,
                            rule.where, rule.settle);
  for (const auto* inst : present) {
    if (!isInstalledState(inst->state)) {
      item.attributes.push_back(
          attrDrift(Attr::kState, std::string("installed"),
                    inst->state + (present.size() > 1 ? " (" + inst->arch + ")" : "")));
    }
  }
  if (rule.want == Want::kVersion) {
    bool allSatisfy = true;
    for (const auto* inst : present) {
      auto v = model::parseDpkgVersion(inst->version);
      if (!v.ok() || !rule.version.satisfiedBy(*v)) allSatisfy = false;
    }
    if (!allSatisfy)
      item.attributes.push_back(attrDrift(Attr::kVersion, rule.version.text, versions()));
  }
  if (item.attributes.empty()) return std::nullopt;
  return item;
}

std::optional<DriftItem> compareService(const policy::ServiceRule& rule,
                                        const model::ServiceObservation& actual) {
  DriftItem item = makeItem(ResourceKind::kService, rule.unit, Change::kModified, rule.severity,
                            rule.where, rule.settle);
  const auto text = [](bool b) { return std::string(b ? "true" : "false"); };
  if (!actual.error.empty()) {
    if (rule.enabled)
      item.attributes.push_back(attrDrift(Attr::kEnabled, text(*rule.enabled), std::nullopt));
    if (rule.masked)
      item.attributes.push_back(attrDrift(Attr::kMasked, text(*rule.masked), std::nullopt));
    item.error = actual.error;
    return item;
  }
  if (rule.enabled && *rule.enabled != actual.enabled) {
    item.attributes.push_back(attrDrift(Attr::kEnabled, text(*rule.enabled), text(actual.enabled)));
  }
  if (rule.masked && *rule.masked != actual.masked) {
    item.attributes.push_back(attrDrift(Attr::kMasked, text(*rule.masked), text(actual.masked)));
  }
  if (item.attributes.empty()) return std::nullopt;
  return item;
}

std::optional<DriftItem> compareUser(const policy::UserRule& rule,
                                     const model::UserObservation& actual) {
  if (actual.presence == Presence::kUnknown) {
    DriftItem item = makeItem(ResourceKind::kUser, rule.name, Change::kModified, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(
        attrDrift(Attr::kEnsure, std::string(rule.absent ? kAbsent : kPresent), std::nullopt));
    item.error = actual.error;
    return item;
  }
  const bool present = actual.presence == Presence::kPresent;
  if (rule.absent) {
    if (!present) return std::nullopt;
    DriftItem item = makeItem(ResourceKind::kUser, rule.name, Change::kAdded, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(false, kPresent));
    item.attributes.push_back(attrDrift(Attr::kUid, std::nullopt, std::to_string(actual.uid)));
    return item;
  }
  if (!present) {
    DriftItem item = makeItem(ResourceKind::kUser, rule.name, Change::kRemoved, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(true, kAbsent));
    return item;
  }
  DriftItem item = makeItem(ResourceKind::kUser, rule.name, Change::kModified, rule.severity,
                            rule.where, rule.settle);
  if (rule.uid && *rule.uid != actual.uid) {
    item.attributes.push_back(
        attrDrift(Attr::kUid, std::to_string(*rule.uid), std::to_string(actual.uid)));
  }
  if (rule.gid && *rule.gid != actual.gid) {
    item.attributes.push_back(
        attrDrift(Attr::kGid, std::to_string(*rule.gid), std::to_string(actual.gid)));
  }
  if (rule.home && *rule.home != actual.home) {
    item.attributes.push_back(attrDrift(Attr::kHome, *rule.home, actual.home));
  }
  if (rule.shell && *rule.shell != actual.shell) {
    item.attributes.push_back(attrDrift(Attr::kShell, *rule.shell, actual.shell));
  }
  if (rule.comment && *rule.comment != actual.comment) {
    item.attributes.push_back(attrDrift(Attr::kComment, *rule.comment, actual.comment));
  }
  if (item.attributes.empty()) return std::nullopt;
  return item;
}

std::optional<DriftItem> compareGroup(const policy::GroupRule& rule,
                                      const model::GroupObservation& actual) {
  if (actual.presence == Presence::kUnknown) {
    DriftItem item = makeItem(ResourceKind::kGroup, rule.name, Change::kModified, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(
        attrDrift(Attr::kEnsure, std::string(rule.absent ? kAbsent : kPresent), std::nullopt));
    item.error = actual.error;
    return item;
  }
  const bool present = actual.presence == Presence::kPresent;
  if (rule.absent) {
    if (!present) return std::nullopt;
    DriftItem item = makeItem(ResourceKind::kGroup, rule.name, Change::kAdded, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(false, kPresent));
    item.attributes.push_back(attrDrift(Attr::kGid, std::nullopt, std::to_string(actual.gid)));
    return item;
  }
  if (!present) {
    DriftItem item = makeItem(ResourceKind::kGroup, rule.name, Change::kRemoved, rule.severity,
                              rule.where, rule.settle);
    item.attributes.push_back(ensureDrift(true, kAbsent));
    return item;
  }
  DriftItem item = makeItem(ResourceKind::kGroup, rule.name, Change::kModified, rule.severity,
                            rule.where, rule.settle);
  if (rule.gid && *rule.gid != actual.gid) {
    item.attributes.push_back(
        attrDrift(Attr::kGid, std::to_string(*rule.gid), std::to_string(actual.gid)));
  }
  if (rule.members) {
    std::vector<std::string> members = actual.members;
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    if (members != *rule.members) {
      item.attributes.push_back(
          attrDrift(Attr::kMembers, join(*rule.members, ","), join(members, ",")));
    }
  }
  if (item.attributes.empty()) return std::nullopt;
  return item;
}

}  // namespace driftwatch::compare
