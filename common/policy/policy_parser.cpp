// Policy YAML -> typed rules. yaml-cpp does the YAML; this file does the checking, so that
// every mistake in a policy comes back as one line naming file, line, column and field.

#include <algorithm>
#include <map>

#include <yaml-cpp/yaml.h>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/paths.h"
#include "common/base/strings.h"
#include "common/base/units.h"
#include "common/policy/policy.h"

namespace driftwatch::policy {

using model::Attr;
using model::AttrMask;
using model::bit;
using model::Severity;

model::AttrMask FileRule::explicitAttrs() const {
  AttrMask mask = 0;
  if (type) mask |= bit(Attr::kType);
  if (mode) mask |= bit(Attr::kMode);
  if (owner) mask |= bit(Attr::kOwner);
  if (group) mask |= bit(Attr::kGroup);
  if (sha256) mask |= bit(Attr::kSha256);
  if (content) mask |= bit(Attr::kContent);
  if (target) mask |= bit(Attr::kTarget);
  return mask;
}

bool FileRule::needsHash() const {
  return sha256.has_value() || content.has_value() || model::has(baselineAttrs, Attr::kSha256);
}

namespace {

constexpr size_t kMaxPolicyBytes = 16u << 20;
constexpr size_t kMaxContentBytes = 1u << 20;
// Aliases let a small YAML document expand into a huge tree; walking it is bounded.
constexpr long kNodeBudget = 2'000'000;

// Thrown inside the parser only, caught in parsePolicy: a parse stops at its first error.
struct ParseFailure {
  Error error;
};

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view fileName) : file_(fileName) {}

  Policy parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      throw ParseFailure{
          makeError(ErrorCode::kInvalidInput, "invalid YAML: " + e.msg, location(e.mark))};
    }
    if (!root.IsDefined() || root.IsNull()) {
      fail(root, "", "the policy is empty; it needs at least `name:` (see docs/policy.md)");
    }
    if (!root.IsMap()) fail(root, "", "the policy must be a mapping of keys (name, files, ...)");
    policy_.file = file_;

    static const std::vector<std::string_view> kTopKeys = {
        "name",   "description", "severity", "settle", "selector", "files",
        "sysctl", "packages",    "services", "users",  "groups"};
    const auto keys = checkKeys(root, "", kTopKeys);

    if (!keys.contains("name")) fail(root, "name", "missing: every policy needs a `name`");
    const YAML::Node nameNode = root["name"];
    policy_.name = scalar(nameNode, "name");
    if (policy_.name.empty() || policy_.name.size() > 64 ||
        !std::all_of(policy_.name.begin(), policy_.name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        })) {
      fail(nameNode, "name",
           "'" + escapeBytes(policy_.name) +
               "' is not a valid name: use 1-64 characters from a-z, 0-9 and '-'");
    }
    if (keys.contains("description"))
      policy_.description = scalar(root["description"], "description");
    if (keys.contains("severity")) policy_.severity = severity(root["severity"], "severity");
    if (keys.contains("settle")) policy_.settle = settle(root["settle"], "settle");
    if (keys.contains("selector")) parseSelector(root["selector"]);

    if (keys.contains("files")) parseFiles(root["files"]);
    if (keys.contains("sysctl")) parseSysctl(root["sysctl"]);
    if (keys.contains("packages")) parsePackages(root["packages"]);
    if (keys.contains("services")) parseServices(root["services"]);
    if (keys.contains("users")) parseUsers(root["users"]);
    if (keys.contains("groups")) parseGroups(root["groups"]);
    return std::move(policy_);
  }

 private:
  // ---- diagnostics -------------------------------------------------------------------------

  std::string location(const YAML::Mark& mark) const {
    if (mark.is_null()) return file_;
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  [[noreturn]] void fail(const YAML::Node& node, std::string_view field,
                         std::string message) const {
    std::string where = location(node.Mark());
    if (!field.empty()) {
      where += ": ";
      where += field;
    }
    throw ParseFailure{makeError(ErrorCode::kInvalidInput, std::move(message), std::move(where))};
  }

  model::RuleRef ruleRef(const YAML::Node& node, std::string field) const {
    model::RuleRef ref;
    ref.policy = policy_.name;
    ref.file = file_;
    ref.line = node.Mark().line + 1;
    ref.column = node.Mark().column + 1;
    ref.field = std::move(field);
    return ref;
  }

  void spend(const YAML::Node& node) {
    if (--budget_ < 0)
      fail(node, "", "the policy is too large (or expands through aliases) to check");
  }

  // ---- typed accessors ---------------------------------------------------------------------

  // Checks a mapping's keys: each known (with a "did you mean" hint) and not repeated.
  // Returns the set of keys present.
  std::map<std::string, int> checkKeys(const YAML::Node& map, std::string_view field,
                                       const std::vector<std::string_view>& allowed) {
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      spend(it->first);
      const std::string key = keyText(it->first, field);
      const std::string keyField = join(field, key);
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string message = "unknown key '" + escapeBytes(key) + "'";
        if (const auto hint = closestMatch(key, allowed); !hint.empty()) {
          message += " (did you mean '" + hint + "'?)";
        } else {
          message += " (allowed here: " + list(allowed) + ")";
        }
        fail(it->first, keyField, message);
      }
      const int line = it->first.Mark().line + 1;
      if (const auto [pos, inserted] = seen.emplace(key, line); !inserted) {
        fail(it->first, keyField,
             "repeated key (first given on line " + std::to_string(pos->second) +
                 "); a repeated key would silently replace the first");
      }
    }
    return seen;
  }

  std::string keyText(const YAML::Node& key, std::string_view field) {
    if (!key.IsScalar()) fail(key, field, "a key must be a plain value, not a list or mapping");
    return key.Scalar();
  }

  static std::string join(std::string_view field, std::string_view key) {
    if (field.empty()) return std::string(key);
    return std::string(field) + "." + std::string(key);
  }

  static std::string list(const std::vector<std::string_view>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ", ";
      out += items[i];
    }
    return out;
  }

  std::string scalar(const YAML::Node& node, std::string_view field) {
    spend(node);
    if (!node.IsDefined() || node.IsNull()) fail(node, field, "needs a value");
    if (!node.IsScalar()) fail(node, field, "must be a single value, not a list or mapping");
    return node.Scalar();
  }

  bool boolean(const YAML::Node& node, std::string_view field) {
    const std::string text = scalar(node, field);
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    fail(node, field, "'" + escapeBytes(text) + "' is not true or false");
  }

  uint32_t id(const YAML::Node& node, std::string_view field) {
    const std::string text = scalar(node, field);
    unsigned long long value = 0;
    if (!parseUnsigned(text, value) || value >= 0xffffffffULL) {
      fail(node, field, "'" + escapeBytes(text) + "' is not a numeric id (0 to 4294967294)");
    }
    return static_cast<uint32_t>(value);
  }

  Severity severity(const YAML::Node& node, std::string_view field) {
    const std::string text = scalar(node, field);
    if (const auto s = model::parseSeverity(text)) return *s;
    fail(node, field,
         "'" + escapeBytes(text) + "' is not a severity (low, medium, high or critical)");
  }

  // How long drift must last before it alerts: a duration up to a day ("0s" alerts at once).
  std::chrono::milliseconds settle(const YAML::Node& node, std::string_view field) {
    const std::string text = scalar(node, field);
    const auto d = parseDuration(text);
    if (!d || *d > std::chrono::hours(24)) {
      fail(
          node, field,
          "'" + escapeBytes(text) + "' is not a settle time (a duration up to 1d, like 30s or 5m)");
    }
    return *d;
  }

  // "present" or "absent"; returns true for absent.
  bool ensure(const YAML::Node& node, std::string_view field) {
    const std::string text = scalar(node, field);
    if (text == "present") return false;
    if (text == "absent") return true;
    fail(node, field, "'" + escapeBytes(text) + "' is not present or absent");
  }

  std::string principal(const YAML::Node& node, std::string_view field, std::string_view what) {
    const std::string text = scalar(node, field);
    const bool valid =
        !text.empty() && text.size() <= 256 && std::none_of(text.begin(), text.end(), [](char c) {
          return c == ':' || c == ',' || static_cast<unsigned char>(c) <= ' ';
        });
    if (!valid) {
      fail(node, field,
           "'" + escapeBytes(text) + "' is not a " + std::string(what) + " name or numeric id");
    }
    return text;
  }

  const YAML::Node& requireMap(const YAML::Node& node, std::string_view field,
                               std::string_view shape) {
    if (!node.IsMap()) fail(node, field, "must be a mapping, like " + std::string(shape));
    return node;
  }

  // ---- files -------------------------------------------------------------------------------

  void parseFiles(const YAML::Node& node) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
      fail(node, "files", "must be a list of file rules (each starting with '- path: /...')");
    }
    std::map<std::string, const model::RuleRef*> byPath;
    policy_.files.reserve(node.size());
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string field = "files[" + std::to_string(i) + "]";
      policy_.files.push_back(parseFileRule(node[i], field));
    }
    for (size_t i = 0; i < policy_.files.size(); ++i) {
      const FileRule& rule = policy_.files[i];
      if (const auto [pos, inserted] = byPath.emplace(rule.path, &rule.where); !inserted) {
        fail(node[i], "files[" + std::to_string(i) + "].path",
             "'" + escapeBytes(rule.path) + "' already has a rule at " + pos->second->str() +
                 "; merge the two rules");
      }
    }
  }

  FileRule parseFileRule(const YAML::Node& node, const std::string& field) {
    requireMap(node, field, "{path: /etc/motd, mode: \"0644\"}");
    static const std::vector<std::string_view> kKeys = {
        "path",    "ensure", "type",      "mode",       "owner",  "group",    "sha256",
        "content", "target", "recursive", "attributes", "ignore", "severity", "settle"};
    const auto keys = checkKeys(node, field, kKeys);
    FileRule rule;
    rule.where = ruleRef(node, field);
    rule.severity = policy_.severity;
    rule.settle = policy_.settle;
    if (!keys.contains("path")) fail(node, field, "missing `path`");
    {
      const YAML::Node p = node["path"];
      auto normalized = normalizeAbsolutePath(scalar(p, field + ".path"));
      if (!normalized.ok()) fail(p, field + ".path", normalized.error().message);
      rule.path = std::move(normalized).value();
    }
    const auto sub = [&](std::string_view key) { return field + "." + std::string(key); };
    if (keys.contains("severity")) rule.severity = severity(node["severity"], sub("severity"));
    if (keys.contains("settle")) rule.settle = settle(node["settle"], sub("settle"));
    if (keys.contains("ensure")) rule.absent = ensure(node["ensure"], sub("ensure"));
    if (keys.contains("recursive")) rule.recursive = boolean(node["recursive"], sub("recursive"));
    if (keys.contains("type")) {
      const YAML::Node n = node["type"];
      const std::string text = scalar(n, sub("type"));
      const auto t = model::parseFileType(text);
      if (!t) {
        fail(n, sub("type"),
             "'" + escapeBytes(text) +
                 "' is not a file type (file, dir, symlink, fifo, socket, device)");
      }
      rule.type = *t;
    }
    if (keys.contains("mode")) {
      const YAML::Node n = node["mode"];
      const std::string text = scalar(n, sub("mode"));
      const auto m = model::parseMode(text);
      if (!m)
        fail(n, sub("mode"),
             "'" + escapeBytes(text) + "' is not an octal mode; write it like \"0644\"");
      rule.mode = *m;
    }
    if (keys.contains("owner")) rule.owner = principal(node["owner"], sub("owner"), "user");
    if (keys.contains("group")) rule.group = principal(node["group"], sub("group"), "group");
    if (keys.contains("sha256")) {
      const YAML::Node n = node["sha256"];
      const std::string text = scalar(n, sub("sha256"));
      const auto digest = sha256FromHex(text);
      if (!digest)
        fail(n, sub("sha256"), "must be 64 hexadecimal digits (the output of sha256sum)");
      rule.sha256 = *digest;
    }
    if (keys.contains("content")) {
      const YAML::Node n = node["content"];
      // An empty string is a valid desired content; only null is refused.
      if (!n.IsScalar()) fail(n, sub("content"), "must be a string (use \"\" for an empty file)");
      rule.content = n.Scalar();
      if (rule.content->size() > kMaxContentBytes) {
        fail(n, sub("content"), "is over 1 MiB; give a sha256 for large files instead");
      }
    }
    if (keys.contains("target")) {
      const YAML::Node n = node["target"];
      rule.target = scalar(n, sub("target"));
      if (rule.target->empty()) fail(n, sub("target"), "a symlink target cannot be empty");
    }
    AttrMask listed = 0;
    if (keys.contains("attributes")) {
      const YAML::Node n = node["attributes"];
      if (!n.IsSequence() || n.size() == 0) {
        fail(n, sub("attributes"), "must be a non-empty list, like [sha256, mode, owner, group]");
      }
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string itemField = sub("attributes") + "[" + std::to_string(i) + "]";
        const std::string name = scalar(n[i], itemField);
        const auto attr = model::parseAttrName(model::ResourceKind::kFile, name);
        if (!attr || *attr == Attr::kContent) {
          fail(n[i], itemField,
               "'" + escapeBytes(name) +
                   "' is not a file attribute a baseline can hold (type, mode, owner, group, "
                   "size, sha256, target)");
        }
        if (model::has(listed, *attr)) fail(n[i], itemField, "'" + name + "' is listed twice");
        listed |= bit(*attr);
      }
    }
    if (keys.contains("ignore")) {
      const YAML::Node n = node["ignore"];
      if (!n.IsSequence()) fail(n, sub("ignore"), "must be a list of patterns, like [\"*.swp\"]");
      std::vector<Glob> globs;
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string itemField = sub("ignore") + "[" + std::to_string(i) + "]";
        auto glob = Glob::compile(scalar(n[i], itemField));
        if (!glob.ok()) fail(n[i], itemField, glob.error().message);
        globs.push_back(std::move(glob).value());
      }
      rule.ignore = IgnoreSet(std::move(globs));
    }

    // ---- consistency between keys ----
    const AttrMask explicitMask = rule.explicitAttrs();
    if (rule.absent) {
      if (explicitMask != 0 || listed != 0 || rule.recursive || !rule.ignore.empty()) {
        fail(node, field,
             "`ensure: absent` takes no other attributes (only path, severity and settle)");
      }
      return rule;
    }
    if (rule.recursive) {
      const AttrMask perEntry = bit(Attr::kOwner) | bit(Attr::kGroup);
      if ((explicitMask & ~perEntry) != 0) {
        fail(node, field,
             "a recursive rule takes its values from the baseline; only owner and group can be "
             "set for every entry (list a single file separately to pin its mode or content)");
      }
    } else if (!rule.ignore.empty()) {
      fail(node["ignore"], sub("ignore"), "`ignore` only applies to a rule with `recursive: true`");
    }
    if (rule.content && rule.sha256) {
      fail(node, field, "give `content` or `sha256`, not both (content implies the sha256)");
    }
    if (rule.target && (rule.content || rule.sha256)) {
      fail(node, field,
           "`target` is for symlinks and `content`/`sha256` for regular files; keep one");
    }
    if (rule.target && rule.type && *rule.type != model::FileType::kSymlink) {
      fail(node, field,
           "`target` is only for symlinks, but `type` is " +
               std::string(model::fileTypeName(*rule.type)));
    }
    if ((rule.content || rule.sha256) && rule.type && *rule.type != model::FileType::kFile) {
      fail(node, field,
           "`content` and `sha256` are only for regular files, but `type` is " +
               std::string(model::fileTypeName(*rule.type)));
    }
    if (const AttrMask both = listed & explicitMask; both != 0) {
      for (const Attr a : model::attrsOf(model::ResourceKind::kFile)) {
        if (model::has(both, a)) {
          fail(node, field,
               "'" + std::string(model::attrName(a)) +
                   "' is both set here and listed in `attributes`; keep one");
        }
      }
    }
    if (listed != 0) {
      rule.baselineAttrs = listed;
    } else if (explicitMask == 0 || rule.recursive) {
      // Nothing explicit (or a tree): the baseline supplies the usual attributes.
      rule.baselineAttrs = kDefaultBaselineAttrs & ~explicitMask;
    }
    return rule;
  }

  // ---- sysctl ------------------------------------------------------------------------------

  // selector: {role: web, dc: fra}: the host labels a fleet policy applies to.
  void parseSelector(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "selector", "{role: web}");
    checkKeys(node, "selector", {});
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string field = "selector." + key;
      if (!model::isLabelKey(key))
        fail(it->first, field, "a label key is 1 to 63 letters, digits or . _ - /");
      const std::string value = scalar(it->second, field);
      if (!model::isLabelValue(value))
        fail(it->second, field, "a label value is up to 253 printable characters, without commas");
      policy_.selector.emplace(key, value);
    }
  }

  void parseSysctl(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "sysctl", "{net.ipv4.ip_forward: \"0\"}");
    checkKeys(node, "sysctl", {});
    for (auto it = node.begin(); it != node.end(); ++it) {
      SysctlRule rule;
      rule.key = it->first.Scalar();
      const std::string field = "sysctl." + rule.key;
      const bool validKey =
          !rule.key.empty() && rule.key.size() <= 256 && rule.key.front() != '.' &&
          rule.key.front() != '/' && rule.key.find("..") == std::string::npos &&
          std::all_of(rule.key.begin(), rule.key.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.' || c == '-' || c == '/' || c == '@' || c == ':' || c == '+';
          });
      if (!validKey) fail(it->first, field, "is not a sysctl key (like net.ipv4.ip_forward)");
      rule.where = ruleRef(it->first, field);
      rule.severity = policy_.severity;
      rule.settle = policy_.settle;
      const YAML::Node v = it->second;
      if (v.IsMap()) {
        const auto keys = checkKeys(v, field, {"value", "severity", "settle"});
        if (!keys.contains("value")) fail(v, field, "missing `value`");
        rule.value = scalar(v["value"], field + ".value");
        if (keys.contains("severity")) rule.severity = severity(v["severity"], field + ".severity");
        if (keys.contains("settle")) rule.settle = settle(v["settle"], field + ".settle");
      } else {
        rule.value = scalar(v, field);
      }
      policy_.sysctl.push_back(std::move(rule));
    }
  }

  // ---- packages ----------------------------------------------------------------------------

  static bool validPackageName(std::string_view name) {
    const size_t colon = name.find(':');
    const std::string_view pkg = name.substr(0, colon);
    if (pkg.size() < 2 || pkg.size() > 256) return false;
    const auto pkgChar = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    };
    if (!((pkg[0] >= 'a' && pkg[0] <= 'z') || (pkg[0] >= '0' && pkg[0] <= '9'))) return false;
    if (!std::all_of(pkg.begin(), pkg.end(), pkgChar)) return false;
    if (colon == std::string_view::npos) return true;
    const std::string_view arch = name.substr(colon + 1);
    return !arch.empty() && std::all_of(arch.begin(), arch.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  }

  void packageWant(PackageRule& rule, const YAML::Node& node, const std::string& field) {
    const std::string text = scalar(node, field);
    if (text == "present") {
      rule.want = PackageRule::Want::kPresent;
    } else if (text == "absent") {
      rule.want = PackageRule::Want::kAbsent;
    } else {
      auto constraint = model::parseVersionConstraint(text);
      if (!constraint.ok()) {
        fail(node, field,
             constraint.error().message +
                 " (write present, absent, a version, or a relation like \">= 1:9.2p1\")");
      }
      rule.want = PackageRule::Want::kVersion;
      rule.version = std::move(constraint).value();
    }
  }

  void parsePackages(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "packages", "{openssh-server: present, telnetd: absent}");
    checkKeys(node, "packages", {});
    for (auto it = node.begin(); it != node.end(); ++it) {
      PackageRule rule;
      rule.name = it->first.Scalar();
      const std::string field = "packages." + rule.name;
      if (!validPackageName(rule.name)) {
        fail(it->first, field,
             "is not a Debian package name (lower case letters, digits, + - . ; optionally :ARCH)");
      }
      rule.where = ruleRef(it->first, field);
      rule.severity = policy_.severity;
      rule.settle = policy_.settle;
      const YAML::Node v = it->second;
      if (v.IsMap()) {
        const auto keys = checkKeys(v, field, {"ensure", "version", "severity", "settle"});
        if (keys.contains("severity")) rule.severity = severity(v["severity"], field + ".severity");
        if (keys.contains("settle")) rule.settle = settle(v["settle"], field + ".settle");
        if (keys.contains("ensure") && keys.contains("version")) {
          if (ensure(v["ensure"], field + ".ensure")) {
            fail(v, field, "an absent package cannot have a version");
          }
        }
        if (keys.contains("version")) {
          packageWant(rule, v["version"], field + ".version");
          if (rule.want != PackageRule::Want::kVersion) {
            fail(v["version"], field + ".version",
                 "must be a version or a relation like \">= 1.2\"");
          }
        } else if (keys.contains("ensure")) {
          rule.want = ensure(v["ensure"], field + ".ensure") ? PackageRule::Want::kAbsent
                                                             : PackageRule::Want::kPresent;
        }
      } else {
        packageWant(rule, v, field);
      }
      policy_.packages.push_back(std::move(rule));
    }
  }

  // ---- services ----------------------------------------------------------------------------

  void parseServices(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "services", "{ssh.service: {enabled: true}}");
    checkKeys(node, "services", {});
    static const std::vector<std::string_view> kSuffixes = {".service",   ".socket", ".timer",
                                                            ".target",    ".path",   ".mount",
                                                            ".automount", ".swap",   ".slice"};
    for (auto it = node.begin(); it != node.end(); ++it) {
      ServiceRule rule;
      rule.unit = it->first.Scalar();
      const std::string field = "services." + rule.unit;
      const bool hasSuffix = std::any_of(kSuffixes.begin(), kSuffixes.end(), [&](auto s) {
        return rule.unit.size() > s.size() && rule.unit.ends_with(s);
      });
      const bool cleanName =
          rule.unit.size() <= 256 && std::none_of(rule.unit.begin(), rule.unit.end(), [](char c) {
            return c == '/' || static_cast<unsigned char>(c) <= ' ';
          });
      if (!hasSuffix || !cleanName) {
        fail(it->first, field,
             "is not a systemd unit name; give the full name with its type, like ssh.service");
      }
      rule.where = ruleRef(it->first, field);
      rule.severity = policy_.severity;
      rule.settle = policy_.settle;
      const YAML::Node v = it->second;
      requireMap(v, field, "{enabled: true}");
      const auto keys = checkKeys(v, field, {"enabled", "masked", "severity", "settle"});
      if (keys.contains("enabled")) rule.enabled = boolean(v["enabled"], field + ".enabled");
      if (keys.contains("masked")) rule.masked = boolean(v["masked"], field + ".masked");
      if (keys.contains("severity")) rule.severity = severity(v["severity"], field + ".severity");
      if (keys.contains("settle")) rule.settle = settle(v["settle"], field + ".settle");
      if (!rule.enabled && !rule.masked)
        fail(v, field, "say what to check: `enabled` and/or `masked`");
      if (rule.enabled.value_or(false) && rule.masked.value_or(false)) {
        fail(v, field, "a masked unit cannot be enabled");
      }
      policy_.services.push_back(std::move(rule));
    }
  }

  // ---- users and groups --------------------------------------------------------------------

  void checkAccountName(const YAML::Node& key, const std::string& name, const std::string& field) {
    const bool valid = !name.empty() && name.size() <= 256 && name.front() != '-' &&
                       std::none_of(name.begin(), name.end(), [](char c) {
                         return c == ':' || c == ',' || static_cast<unsigned char>(c) <= ' ';
                       });
    if (!valid) fail(key, field, "is not a valid account name");
  }

  void parseUsers(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "users", "{root: {uid: 0, shell: /bin/bash}, games: absent}");
    checkKeys(node, "users", {});
    for (auto it = node.begin(); it != node.end(); ++it) {
      UserRule rule;
      rule.name = it->first.Scalar();
      const std::string field = "users." + rule.name;
      checkAccountName(it->first, rule.name, field);
      rule.where = ruleRef(it->first, field);
      rule.severity = policy_.severity;
      rule.settle = policy_.settle;
      const YAML::Node v = it->second;
      if (!v.IsMap()) {
        rule.absent = ensure(v, field);
      } else {
        const auto keys = checkKeys(
            v, field, {"ensure", "uid", "gid", "home", "shell", "comment", "severity", "settle"});
        if (keys.contains("ensure")) rule.absent = ensure(v["ensure"], field + ".ensure");
        if (keys.contains("uid")) rule.uid = id(v["uid"], field + ".uid");
        if (keys.contains("gid")) rule.gid = id(v["gid"], field + ".gid");
        if (keys.contains("home")) rule.home = fieldText(v["home"], field + ".home");
        if (keys.contains("shell")) rule.shell = fieldText(v["shell"], field + ".shell");
        if (keys.contains("comment")) rule.comment = fieldText(v["comment"], field + ".comment");
        if (keys.contains("severity")) rule.severity = severity(v["severity"], field + ".severity");
        if (keys.contains("settle")) rule.settle = settle(v["settle"], field + ".settle");
        if (rule.absent && keys.size() > 1 + keys.count("severity") + keys.count("settle")) {
          fail(v, field, "an absent user takes no other attributes");
        }
      }
      policy_.users.push_back(std::move(rule));
    }
  }

  // A passwd/group field: no ':' or newline, which would break the file's format.
  std::string fieldText(const YAML::Node& node, const std::string& field) {
    std::string text = scalar(node, field);
    if (text.find_first_of(":\n") != std::string::npos) {
      fail(node, field, "cannot contain ':' or a newline");
    }
    return text;
  }

  void parseGroups(const YAML::Node& node) {
    if (node.IsNull()) return;
    requireMap(node, "groups", "{sudo: {members: [admin]}}");
    checkKeys(node, "groups", {});
    for (auto it = node.begin(); it != node.end(); ++it) {
      GroupRule rule;
      rule.name = it->first.Scalar();
      const std::string field = "groups." + rule.name;
      checkAccountName(it->first, rule.name, field);
      rule.where = ruleRef(it->first, field);
      rule.severity = policy_.severity;
      rule.settle = policy_.settle;
      const YAML::Node v = it->second;
      if (!v.IsMap()) {
        rule.absent = ensure(v, field);
      } else {
        const auto keys = checkKeys(v, field, {"ensure", "gid", "members", "severity", "settle"});
        if (keys.contains("ensure")) rule.absent = ensure(v["ensure"], field + ".ensure");
        if (keys.contains("gid")) rule.gid = id(v["gid"], field + ".gid");
        if (keys.contains("severity")) rule.severity = severity(v["severity"], field + ".severity");
        if (keys.contains("settle")) rule.settle = settle(v["settle"], field + ".settle");
        if (keys.contains("members")) {
          const YAML::Node m = v["members"];
          if (!m.IsSequence())
            fail(m, field + ".members", "must be a list of user names ([] for none)");
          std::vector<std::string> members;
          for (size_t i = 0; i < m.size(); ++i) {
            const std::string itemField = field + ".members[" + std::to_string(i) + "]";
            const std::string member = scalar(m[i], itemField);
            checkAccountName(m[i], member, itemField);
            members.push_back(member);
          }
          std::sort(members.begin(), members.end());
          if (const auto dup = std::adjacent_find(members.begin(), members.end());
              dup != members.end()) {
            fail(m, field + ".members", "'" + *dup + "' is listed twice");
          }
          rule.members = std::move(members);
        }
        if (rule.absent && keys.size() > 1 + keys.count("severity") + keys.count("settle")) {
          fail(v, field, "an absent group takes no other attributes");
        }
      }
      policy_.groups.push_back(std::move(rule));
    }
  }

  std::string file_;
  Policy policy_;
  long budget_ = kNodeBudget;
};

}  // namespace

Result<Policy> parsePolicy(std::string_view text, std::string_view fileName) {
  try {
    PolicyParser parser(fileName);
    return parser.parse(text);
  } catch (const ParseFailure& failure) {
    return failure.error;
  } catch (const YAML::Exception& e) {
    // Any other yaml-cpp complaint (bad conversion, deep recursion) still names the spot.
    std::string where(fileName);
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return makeError(ErrorCode::kInvalidInput, "invalid YAML: " + e.msg, where);
  }
}

Result<Policy> loadPolicy(const std::string& path) {
  auto content = readRegularFile(path, kMaxPolicyBytes, "policy");
  if (!content.ok()) return content.error();
  return parsePolicy(*content, path);
}

}  // namespace driftwatch::policy
