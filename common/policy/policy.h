#pragma once
// Desired state as written by people: a policy file (YAML) parsed into typed rules. The format
// is documented in docs/policy.md; every key is checked (an unknown key is an error, so that a
// typo cannot silently disable a check) and every rule remembers where it was written.
// Immutable after parsing; safe to share between threads.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/sha256.h"
#include "common/model/dpkg_version.h"
#include "common/model/drift.h"
#include "common/model/labels.h"
#include "common/model/resource.h"
#include "common/policy/glob.h"

namespace driftwatch::policy {

// The attributes a file rule takes from the baseline when it declares neither explicit values
// nor an `attributes` list.
inline constexpr model::AttrMask kDefaultBaselineAttrs =
    model::bit(model::Attr::kType) | model::bit(model::Attr::kMode) |
    model::bit(model::Attr::kOwner) | model::bit(model::Attr::kGroup) |
    model::bit(model::Attr::kSize) | model::bit(model::Attr::kSha256) |
    model::bit(model::Attr::kTarget);

struct FileRule {
  std::string path;  // absolute, normalised, raw bytes
  bool recursive = false;
  bool absent = false;  // ensure: absent
  // Explicit desired values (any subset).
  std::optional<model::FileType> type;
  std::optional<uint32_t> mode;
  std::optional<std::string> owner;  // user name or decimal uid
  std::optional<std::string> group;  // group name or decimal gid
  std::optional<Sha256Digest> sha256;
  std::optional<std::string> content;
  std::optional<std::string> target;
  // Attributes whose desired values come from the baseline; 0 when none do.
  model::AttrMask baselineAttrs = 0;
  IgnoreSet ignore;
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;

  bool usesBaseline() const { return baselineAttrs != 0; }
  // Attributes the rule sets explicitly.
  model::AttrMask explicitAttrs() const;
  // Attributes the observation must provide: hashing only when sha256 is wanted.
  bool needsHash() const;
};

struct SysctlRule {
  std::string key;    // as written: "net.ipv4.ip_forward"
  std::string value;  // compared after folding runs of white space
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;
};

struct PackageRule {
  enum class Want : uint8_t { kPresent, kAbsent, kVersion };
  std::string name;  // "openssh-server" or "libc6:i386"
  Want want = Want::kPresent;
  model::VersionConstraint version;  // for kVersion
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;
};

struct ServiceRule {
  std::string unit;  // "ssh.service"
  std::optional<bool> enabled;
  std::optional<bool> masked;
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;
};

struct UserRule {
  std::string name;
  bool absent = false;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<std::string> home;
  std::optional<std::string> shell;
  std::optional<std::string> comment;
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;
};

struct GroupRule {
  std::string name;
  bool absent = false;
  std::optional<uint32_t> gid;
  std::optional<std::vector<std::string>> members;  // sorted; compared as an exact set
  model::Severity severity = model::Severity::kMedium;
  std::optional<std::chrono::milliseconds> settle;  // how long drift lasts before it alerts
  model::RuleRef where;
};

struct Policy {
  std::string name;
  std::string file;  // where it was loaded from, as given
  std::string description;
  model::Severity severity = model::Severity::kMedium;
  // The settle time of every rule that sets none; nullopt: the aggregator's default.
  std::optional<std::chrono::milliseconds> settle;
  // The hosts a fleet policy applies to, by label; empty: every host. The offline check and
  // the daemon apply the policy they are given whatever its selector.
  model::Labels selector;
  std::vector<FileRule> files;
  std::vector<SysctlRule> sysctl;
  std::vector<PackageRule> packages;
  std::vector<ServiceRule> services;
  std::vector<UserRule> users;
  std::vector<GroupRule> groups;
};

// Parses policy text. `fileName` is used in error messages and rule references.
// Errors read "FILE:LINE:COLUMN: FIELD: what is wrong (what to write instead)".
Result<Policy> parsePolicy(std::string_view text, std::string_view fileName);
// Reads and parses a policy file (at most 16 MiB).
Result<Policy> loadPolicy(const std::string& path);

}  // namespace driftwatch::policy
