#pragma once
// The resource model shared by the agent and the aggregator: what kinds of things driftwatch
// observes, how a resource is named, which attributes each kind has, and how severe a drift is.
// Pure values and functions, safe from any thread.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::model {

enum class ResourceKind : uint8_t { kFile, kSysctl, kPackage, kService, kUser, kGroup };

std::string_view kindName(ResourceKind kind);  // "file", "sysctl", ...
std::optional<ResourceKind> parseKindName(std::string_view name);

// A resource is named by its kind and a key: a path for files (raw bytes, may hold anything
// a Linux file name can), a sysctl key, a package, unit, user or group name. Its text form is
// "kind:" followed by the escaped key ("file:/etc/motd", "file:/tmp/a\x0ab").
struct ResourceId {
  ResourceKind kind = ResourceKind::kFile;
  std::string name;

  auto operator<=>(const ResourceId&) const = default;
  std::string str() const;
  // Parses the text form; the error names what is wrong and shows the expected shape.
  static Result<ResourceId> parse(std::string_view text);
};

// Every attribute name any kind uses. The file attributes come first so that a bit mask
// (AttrMask) can describe a subset of them cheaply.
enum class Attr : uint8_t {
  kType,
  kMode,
  kOwner,
  kGroup,
  kSize,
  kSha256,
  kTarget,
  kContent,
  kEnsure,  // presence: "present" or "absent" (all kinds)
  kValue,   // sysctl
  kVersion,
  kState,  // package: dpkg's installation state
  kEnabled,
  kMasked,
  kUid,
  kGid,
  kHome,
  kShell,
  kComment,
  kMembers,
};

using AttrMask = uint32_t;
constexpr AttrMask bit(Attr a) {
  return AttrMask{1} << static_cast<unsigned>(a);
}
constexpr bool has(AttrMask mask, Attr a) {
  return (mask & bit(a)) != 0;
}

std::string_view attrName(Attr attr);
// The attributes a kind may declare (excluding kEnsure), in display order.
std::span<const Attr> attrsOf(ResourceKind kind);
std::optional<Attr> parseAttrName(ResourceKind kind, std::string_view name);

enum class Severity : uint8_t { kLow, kMedium, kHigh, kCritical };
inline constexpr int kSeverityCount = 4;
std::string_view severityName(Severity s);
std::optional<Severity> parseSeverity(std::string_view name);

enum class FileType : uint8_t { kFile, kDir, kSymlink, kFifo, kSocket, kDevice };
std::string_view fileTypeName(FileType t);  // "file", "dir", "symlink", "fifo", "socket", "device"
std::optional<FileType> parseFileType(std::string_view name);

// "0644"-style rendering of permission bits (including setuid, setgid and sticky).
std::string formatMode(uint32_t mode);
// Accepts 1-4 octal digits ("644", "0644", "4755"); nullopt otherwise.
std::optional<uint32_t> parseMode(std::string_view text);

}  // namespace driftwatch::model
