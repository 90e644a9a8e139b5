#pragma once
// Debian package versions ([epoch:]upstream[-revision]) and their ordering, exactly as dpkg
// orders them (so "1.0~rc1" < "1.0" < "1.0+b1"), plus the relations a policy may ask for.
// Pure functions, safe from any thread.

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::model {

struct DpkgVersion {
  unsigned long epoch = 0;
  std::string upstream;
  std::string revision;
};

// Validates like dpkg: a numeric epoch, an upstream part that starts with a digit, only the
// characters dpkg allows. The error says what is wrong with the text.
Result<DpkgVersion> parseDpkgVersion(std::string_view text);

// <0, 0, >0 like strcmp.
int compareDpkgVersions(const DpkgVersion& a, const DpkgVersion& b);

enum class VersionRelation : uint8_t { kEarlier, kEarlierOrEqual, kEqual, kLaterOrEqual, kLater };
std::string_view relationSymbol(VersionRelation r);  // "<<", "<=", "=", ">=", ">>"

struct VersionConstraint {
  VersionRelation relation = VersionRelation::kEqual;
  DpkgVersion version;
  std::string text;  // as written, for display: ">= 1:9.2p1"

  bool satisfiedBy(const DpkgVersion& actual) const;
};

// Parses "1.2-3" (exact), or "OP VERSION" with OP one of << <= = >= >>. The deprecated
// single "<" and ">" are refused because dpkg reads them as <= and >=, which surprises people.
Result<VersionConstraint> parseVersionConstraint(std::string_view text);

}  // namespace driftwatch::model
