#include "common/model/dpkg_version.h"

#include <array>

#include "common/base/strings.h"

namespace driftwatch::model {
namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// dpkg's character weight: '~' sorts before everything (even the end of the string), letters
// before other symbols.
int order(char c) {
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c == '~') return -1;
  if (c != '\0') return static_cast<unsigned char>(c) + 256;
  return 0;
}

int verrevcmp(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  const auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    int firstDiff = 0;
    while ((i < a.size() && !isDigit(a[i])) || (j < b.size() && !isDigit(b[j]))) {
      const int ac = order(at(a, i));
      const int bc = order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (at(a, i) == '0')
      ++i;
    while (at(b, j) == '0')
      ++j;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (firstDiff == 0) firstDiff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff != 0) return firstDiff;
  }
  return 0;
}

bool allowedUpstreamChar(char c) {
  return isDigit(c) || isAlpha(c) || c == '.' || c == '+' || c == '-' || c == '~' || c == ':';
}

}  // namespace

Result<DpkgVersion> parseDpkgVersion(std::string_view text) {
  const auto fail = [&](std::string why) {
    return makeError(ErrorCode::kInvalidInput,
                     "'" + std::string(text) + "' is not a Debian version: " + why);
  };
  if (text.empty()) return fail("it is empty");
  DpkgVersion v;
  std::string_view rest = text;
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    unsigned long long epoch = 0;
    if (!parseUnsigned(rest.substr(0, colon), epoch) || epoch > 0x7fffffffULL) {
      return fail("the epoch before ':' must be a number");
    }
    v.epoch = static_cast<unsigned long>(epoch);
    rest.remove_prefix(colon + 1);
  }
  if (const size_t dash = rest.rfind('-'); dash != std::string_view::npos) {
    v.revision = std::string(rest.substr(dash + 1));
    rest = rest.substr(0, dash);
    if (v.revision.empty()) return fail("the revision after '-' is empty");
  }
  if (rest.empty()) return fail("the upstream version is empty");
  if (!isDigit(rest.front())) return fail("the upstream version must start with a digit");
  for (const char c : rest) {
    if (!allowedUpstreamChar(c)) return fail(std::string("invalid character '") + c + "'");
  }
  for (const char c : v.revision) {
    if (!(isDigit(c) || isAlpha(c) || c == '.' || c == '+' || c == '~')) {
      return fail(std::string("invalid character '") + c + "' in the revision");
    }
  }
  v.upstream = std::string(rest);
  return v;
}

int compareDpkgVersions(const DpkgVersion& a, const DpkgVersion& b) {
  if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (const int r = verrevcmp(a.upstream, b.upstream); r != 0) return r;
  return verrevcmp(a.revision, b.revision);
}

std::string_view relationSymbol(VersionRelation r) {
  static constexpr std::array<std::string_view, 5> kSymbols = {"<<", "<=", "=", ">=", ">>"};
  return kSymbols[static_cast<size_t>(r)];
}

bool VersionConstraint::satisfiedBy(const DpkgVersion& actual) const {
  const int c = compareDpkgVersions(actual, version);
  switch (relation) {
    case VersionRelation::kEarlier:
      return c < 0;
    case VersionRelation::kEarlierOrEqual:
      return c <= 0;
    case VersionRelation::kEqual:
      return c == 0;
    case VersionRelation::kLaterOrEqual:
      return c >= 0;
    case VersionRelation::kLater:
      return c > 0;
  }
  return false;
}

Result<VersionConstraint> parseVersionConstraint(std::string_view text) {
  VersionConstraint constraint;
  constraint.text = std::string(trim(text));
  std::string_view rest = trim(text);
  struct Op {
    std::string_view symbol;
    VersionRelation relation;
  };
  static constexpr Op kOps[] = {{"<<", VersionRelation::kEarlier},
                                {"<=", VersionRelation::kEarlierOrEqual},
                                {">>", VersionRelation::kLater},
                                {">=", VersionRelation::kLaterOrEqual},
                                {"=", VersionRelation::kEqual}};
  bool matched = false;
  for (const Op& op : kOps) {
    if (rest.starts_with(op.symbol)) {
      constraint.relation = op.relation;
      rest = trim(rest.substr(op.symbol.size()));
      matched = true;
      break;
    }
  }
  if (!matched && (rest.starts_with('<') || rest.starts_with('>'))) {
    return makeError(ErrorCode::kInvalidInput,
                     "'" + constraint.text +
                         "': a single < or > is ambiguous in dpkg; write << or <= (>> or >=)");
  }
  auto version = parseDpkgVersion(rest);
  if (!version.ok()) return version.error();
  constraint.version = std::move(version).value();
  return constraint;
}

}  // namespace driftwatch::model
