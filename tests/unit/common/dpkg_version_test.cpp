#include "common/model/dpkg_version.h"

#include <doctest/doctest.h>

using namespace driftwatch::model;

namespace {
int cmp(const char* a, const char* b) {
  auto va = parseDpkgVersion(a);
  auto vb = parseDpkgVersion(b);
  REQUIRE(va.ok());
  REQUIRE(vb.ok());
  const int r = compareDpkgVersions(*va, *vb);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}
}  // namespace

TEST_CASE("dpkg version ordering matches dpkg --compare-versions") {
  CHECK(cmp("1.0", "1.0") == 0);
  CHECK(cmp("1.0~rc1", "1.0") == -1);  // tilde sorts before the end
  CHECK(cmp("1.0", "1.0+b1") == -1);
  CHECK(cmp("1.0-1", "1.0-2") == -1);
  CHECK(cmp("1:0.1", "2.0") == 1);  // epoch wins
  CHECK(cmp("9.2p1-2+deb12u3", "9.2p1") == 1);
  CHECK(cmp("1:9.2p1-2+deb12u3", "1:9.2p1") == 1);
  CHECK(cmp("1.10", "1.9") == 1);
  CHECK(cmp("1.001", "1.1") == 0);
  CHECK(cmp("1.0a", "1.0") == 1);
  CHECK(cmp("1.0a", "1.0+") == -1);  // letters before symbols
  CHECK(cmp("2.36-9+deb12u4", "2.36-9+deb12u10") == -1);
  CHECK(cmp("0~20230101", "0") == -1);
}

TEST_CASE("invalid versions are refused with the reason") {
  CHECK_FALSE(parseDpkgVersion("").ok());
  CHECK_FALSE(parseDpkgVersion("a1.0").ok());
  CHECK_FALSE(parseDpkgVersion("x:1.0").ok());
  CHECK_FALSE(parseDpkgVersion("1.0-").ok());
  CHECK_FALSE(parseDpkgVersion("1.0 beta").ok());
}

TEST_CASE("version constraints use dpkg's relations") {
  auto c = parseVersionConstraint(">= 1:9.2p1");
  REQUIRE(c.ok());
  CHECK(c->satisfiedBy(*parseDpkgVersion("1:9.2p1-2+deb12u3")));
  CHECK_FALSE(c->satisfiedBy(*parseDpkgVersion("1:9.1p1")));
  auto exact = parseVersionConstraint("2.36-9");
  REQUIRE(exact.ok());
  CHECK(exact->relation == VersionRelation::kEqual);
  CHECK(exact->satisfiedBy(*parseDpkgVersion("2.36-9")));
  CHECK(parseVersionConstraint("<< 2.0")->satisfiedBy(*parseDpkgVersion("2.0~beta")));
  CHECK_FALSE(parseVersionConstraint(">> 2.0")->satisfiedBy(*parseDpkgVersion("2.0")));
  auto ambiguous = parseVersionConstraint("> 2.0");
  REQUIRE_FALSE(ambiguous.ok());
  CHECK(ambiguous.error().message.find(">>") != std::string::npos);
}
