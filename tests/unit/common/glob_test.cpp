#include "common/policy/glob.h"

#include <doctest/doctest.h>

using driftwatch::policy::Glob;
using driftwatch::policy::IgnoreSet;

namespace {
bool m(const char* pattern, const char* path, bool isDir = false) {
  auto g = Glob::compile(pattern);
  REQUIRE(g.ok());
  return g->matches(path, isDir);
}
}  // namespace

TEST_CASE("a pattern without a slash matches names at any depth") {
  CHECK(m("*.swp", "a.swp"));
  CHECK(m("*.swp", "deep/down/.x.swp"));
  CHECK_FALSE(m("*.swp", "a.swpx"));
  CHECK(m("?.conf", "sites/a.conf"));
  CHECK_FALSE(m("?.conf", "ab.conf"));
}

TEST_CASE("a pattern with a slash is anchored at the rule's root") {
  CHECK(m("cache/*.tmp", "cache/x.tmp"));
  CHECK_FALSE(m("cache/*.tmp", "sub/cache/x.tmp"));
  CHECK_FALSE(m("cache/*.tmp", "cache/sub/x.tmp"));  // '*' does not cross '/'
  CHECK(m("/top.conf", "top.conf"));
  CHECK_FALSE(m("/top.conf", "sub/top.conf"));
}

TEST_CASE("double star spans directories") {
  CHECK(m("cache/**", "cache/a"));
  CHECK(m("cache/**", "cache/a/b/c"));
  CHECK_FALSE(m("cache/**", "cache"));
  CHECK(m("a/**/b", "a/b"));
  CHECK(m("a/**/b", "a/x/y/b"));
  CHECK_FALSE(m("a/**/b", "a/x/y/c"));
  CHECK(m("**/logs", "logs"));
  CHECK(m("**/logs", "x/y/logs"));
}

TEST_CASE("classes, escapes and directory-only patterns") {
  CHECK(m("[abc].conf", "b.conf"));
  CHECK_FALSE(m("[!abc].conf", "b.conf"));
  CHECK(m("[a-c]x", "cx"));
  CHECK(m("\\*literal", "*literal"));
  CHECK_FALSE(m("\\*literal", "xliteral"));
  CHECK(m("build/", "build", true));
  CHECK_FALSE(m("build/", "build", false));
}

TEST_CASE("malformed patterns are refused") {
  CHECK_FALSE(Glob::compile("[abc").ok());
  CHECK_FALSE(Glob::compile("").ok());
  CHECK_FALSE(Glob::compile("a**b").ok());
  CHECK_FALSE(Glob::compile("a//b").ok());
  CHECK_FALSE(Glob::compile("trailing\\").ok());
}

TEST_CASE("an ignored directory hides everything below it") {
  std::vector<Glob> globs;
  globs.push_back(*Glob::compile("cache"));
  const IgnoreSet set(std::move(globs));
  CHECK(set.ignoredWithAncestors("cache", true));
  CHECK(set.ignoredWithAncestors("cache/x/y", false));
  CHECK_FALSE(set.ignoredWithAncestors("cached", false));
}

TEST_CASE("matching stays fast on adversarial patterns") {
  // Many stars against a long non-matching name: must not go exponential.
  auto g = Glob::compile("*a*a*a*a*a*a*a*a*a*a*b");
  REQUIRE(g.ok());
  CHECK_FALSE(g->matches(std::string(200, 'a'), false));
  // Many "**" segments against a deep path that does not match.
  auto deep = Glob::compile("**/a/**/a/**/a/**/a/**/a/**/b");
  REQUIRE(deep.ok());
  std::string path;
  for (int i = 0; i < 200; ++i)
    path += "a/";
  path += "c";
  CHECK_FALSE(deep->matches(path, false));
}
