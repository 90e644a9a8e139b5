#include "aggregator/policy/policy_lint.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;

namespace {

policy::Policy parse(const std::string& text) {
  auto p = policy::parsePolicy(text, "p.yaml");
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

}  // namespace

TEST_CASE("lint: a pattern that matches every entry, and patterns that hide most of a real tree") {
  testing::TempDir root;
  for (int i = 0; i < 8; ++i)
    root.write("srv/app/cache/c" + std::to_string(i), "x");
  root.write("srv/app/conf/app.conf", "x");
  root.write("srv/web/index.html", "x");
  root.write("srv/web/logs/a.log", "x");

  const policy::Policy p = parse(R"(name: p
files:
  - path: /srv/app
    recursive: true
    ignore: ["cache/"]
  - path: /srv/web
    recursive: true
    ignore: ["*.log"]
  - path: /etc
    recursive: true
    ignore: ["**"]
)");
  // Without a tree: only the pattern that matches everything.
  const auto quick = lintPolicy(p, {});
  REQUIRE(quick.size() == 1);
  CHECK(quick[0].where.line == 9);
  CHECK(quick[0].message.find("'**' matches every entry") != std::string::npos);

  LintOptions measured;
  measured.root = root.path();
  const auto warnings = lintPolicy(p, measured);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].where.line == 3);
  // cache/ and its 8 files of 11 entries below /srv/app; /srv/web hides 1 of 3: no warning.
  CHECK(warnings[0].message.find("hide 82% of /srv/app (9 of 11 entries)") != std::string::npos);
  CHECK(warnings[1].where.line == 9);
  CHECK(warnings[0].str().rfind("p.yaml:3:5 (files[0]): ", 0) == 0);
}
