#include "common/model/resource.h"

#include <array>

#include "common/base/escape.h"

namespace driftwatch::model {
namespace {

constexpr std::array<std::string_view, 6> kKindNames = {"file",    "sysctl", "package",
                                                        "service", "user",   "group"};

constexpr std::array<std::string_view, 20> kAttrNames = {
    "type",    "mode",   "owner", "group",   "size",    "sha256",  "target",
    "content", "ensure", "value", "version", "state",   "enabled", "masked",
    "uid",     "gid",    "home",  "shell",   "comment", "members"};

constexpr Attr kFileAttrs[] = {Attr::kType, Attr::kMode,   Attr::kOwner,  Attr::kGroup,
                               Attr::kSize, Attr::kSha256, Attr::kTarget, Attr::kContent};
constexpr Attr kSysctlAttrs[] = {Attr::kValue};
constexpr Attr kPackageAttrs[] = {Attr::kVersion, Attr::kState};
constexpr Attr kServiceAttrs[] = {Attr::kEnabled, Attr::kMasked};
constexpr Attr kUserAttrs[] = {Attr::kUid, Attr::kGid, Attr::kHome, Attr::kShell, Attr::kComment};
constexpr Attr kGroupAttrs[] = {Attr::kGid, Attr::kMembers};

constexpr std::array<std::string_view, 4> kSeverityNames = {"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 6> kFileTypeNames = {"file", "dir",    "symlink",
                                                            "fifo", "socket", "device"};

}  // namespace

std::string_view kindName(ResourceKind kind) {
  return kKindNames[static_cast<size_t>(kind)];
}

std::optional<ResourceKind> parseKindName(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<ResourceKind>(i);
  }
  return std::nullopt;
}

std::string ResourceId::str() const {
  std::string out(kindName(kind));
  out += ':';
  out += escapeBytes(name);
  return out;
}

Result<ResourceId> ResourceId::parse(std::string_view text) {
  const size_t colon = text.find(':');
  const auto shapeError = [&](std::string why) {
    return makeError(ErrorCode::kInvalidInput,
                     why +
                         " (expected KIND:NAME, e.g. file:/etc/motd or package:openssh-server;"
                         " KIND is file, sysctl, package, service, user or group)",
                     "resource '" + escapeBytes(text) + "'");
  };
  if (colon == std::string_view::npos) return shapeError("no kind");
  const auto kind = parseKindName(text.substr(0, colon));
  if (!kind) return shapeError("unknown kind '" + escapeBytes(text.substr(0, colon)) + "'");
  auto name = unescapeBytes(text.substr(colon + 1));
  if (!name.ok()) return shapeError(name.error().message);
  if (name->empty()) return shapeError("empty name");
  return ResourceId{*kind, std::move(name).value()};
}

std::string_view attrName(Attr attr) {
  return kAttrNames[static_cast<size_t>(attr)];
}

std::span<const Attr> attrsOf(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kFile:
      return kFileAttrs;
    case ResourceKind::kSysctl:
      return kSysctlAttrs;
    case ResourceKind::kPackage:
      return kPackageAttrs;
    case ResourceKind::kService:
      return kServiceAttrs;
    case ResourceKind::kUser:
      return kUserAttrs;
    case ResourceKind::kGroup:
      return kGroupAttrs;
  }
  return {};
}

std::optional<Attr> parseAttrName(ResourceKind kind, std::string_view name) {
  for (const Attr a : attrsOf(kind)) {
    if (attrName(a) == name) return a;
  }
  return std::nullopt;
}

std::string_view severityName(Severity s) {
  return kSeverityNames[static_cast<size_t>(s)];
}

std::optional<Severity> parseSeverity(std::string_view name) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (kSeverityNames[i] == name) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

std::string_view fileTypeName(FileType t) {
  return kFileTypeNames[static_cast<size_t>(t)];
}

std::optional<FileType> parseFileType(std::string_view name) {
  for (size_t i = 0; i < kFileTypeNames.size(); ++i) {
    if (kFileTypeNames[i] == name) return static_cast<FileType>(i);
  }
  return std::nullopt;
}

std::string formatMode(uint32_t mode) {
  std::string out(4, '0');
  for (int i = 3; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>('0' + (mode & 7));
    mode >>= 3;
  }
  return out;
}

std::optional<uint32_t> parseMode(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  if (text.size() == 5 && text[0] != '0') return std::nullopt;
  uint32_t mode = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = (mode << 3) | static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return std::nullopt;
  return mode;
}

}  // namespace driftwatch::model
