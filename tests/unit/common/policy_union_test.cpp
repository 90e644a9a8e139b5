#include "common/policy/policy_union.h"

#include <doctest/doctest.h>

#include "common/policy/file_rule_index.h"

using namespace driftwatch;
using namespace driftwatch::policy;

namespace {

Policy parse(const std::string& text, const std::string& file) {
  auto p = parsePolicy(text, file);
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

baseline::Baseline base(const std::string& text) {
  auto b = baseline::parseBaseline(text, "b.txt");
  if (!b.ok()) FAIL(b.error().describe());
  return std::move(b).value();
}

}  // namespace

TEST_CASE("the union holds every rule once, each from the policy that wrote it") {
  std::vector<PolicySource> sources;
  sources.push_back(
      {parse("name: local\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n", "local.yaml"),
       std::nullopt});
  sources.push_back(
      {parse("name: web\nselector: {role: web}\nfiles:\n  - path: /srv/www\n"
             "    recursive: true\n    owner: root\nsysctl:\n  vm.swappiness: \"10\"\n",
             "fleet:web@v2"),
       std::nullopt});
  auto u = unitePolicies(std::move(sources), "local+fleet");
  REQUIRE(u.ok());
  CHECK(u->policy.name == "local+fleet");
  REQUIRE(u->policy.files.size() == 2);
  CHECK(u->policy.files[0].path == "/etc/motd");
  CHECK(u->policy.files[0].where.file == "local.yaml");
  CHECK(u->policy.files[1].path == "/srv/www");
  CHECK(u->policy.files[1].where.file == "fleet:web@v2");
  CHECK(u->policy.files[1].where.policy == "web");
  REQUIRE(u->policy.sysctl.size() == 1);
  CHECK_FALSE(u->baseline.has_value());
  // The index over the union finds each owner.
  const FileRuleIndex index(u->policy.files);
  CHECK(index.ownerOf("/srv/www/index.html", false) == &u->policy.files[1]);
}

TEST_CASE("rules of several policies on one resource are judged on every attribute they declare") {
  std::vector<PolicySource> sources;
  sources.push_back(
      {parse("name: a\nseverity: low\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n", "a.yaml"),
       std::nullopt});
  sources.push_back(
      {parse("name: b\nseverity: high\nfiles:\n  - path: /etc/motd\n    owner: root\n",
             "fleet:b@v1"),
       std::nullopt});
  auto u = unitePolicies(std::move(sources), "u");
  REQUIRE(u.ok());
  REQUIRE(u->policy.files.size() == 1);
  const FileRule& r = u->policy.files[0];
  CHECK(r.mode == 0644u);
  CHECK(r.owner == "root");
  CHECK(r.severity == model::Severity::kHigh);  // the highest, as the drift engine merges
  CHECK(r.where.file == "a.yaml");              // the first policy names the rule
}

TEST_CASE("policies that want different values on one host are refused, naming both rules") {
  std::vector<PolicySource> sources;
  // Different selectors do not matter here: both are in force on this host.
  sources.push_back({parse("name: a\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n", "a.yaml"),
                     std::nullopt});
  sources.push_back({parse("name: b\nselector: {role: db}\nfiles:\n  - path: /etc/motd\n"
                           "    mode: \"0600\"\n",
                           "fleet:b@v4"),
                     std::nullopt});
  auto u = unitePolicies(std::move(sources), "u");
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().message.find("a.yaml") != std::string::npos);
  CHECK(u.error().message.find("fleet:b@v4") != std::string::npos);
  CHECK(u.error().message.find("mode") != std::string::npos);
}

TEST_CASE("recursive rules on one tree keep only the ignores both share") {
  std::vector<PolicySource> sources;
  sources.push_back({parse("name: a\nfiles:\n  - path: /srv\n    recursive: true\n"
                           "    ignore: [\"*.log\", \"cache/\"]\n",
                           "a.yaml"),
                     std::nullopt});
  sources.push_back({parse("name: b\nfiles:\n  - path: /srv\n    recursive: true\n"
                           "    ignore: [\"*.log\"]\n",
                           "b.yaml"),
                     std::nullopt});
  auto u = unitePolicies(std::move(sources), "u");
  REQUIRE(u.ok());
  REQUIRE(u->policy.files.size() == 1);
  const FileRuleIndex index(u->policy.files);
  CHECK(index.ownerOf("/srv/app.log", false) == nullptr);  // both ignore it
  CHECK(index.ownerOf("/srv/cache/x", false) != nullptr);  // b observes it
}

TEST_CASE("baselines unite by path, the first policy's entry winning") {
  std::vector<PolicySource> sources;
  sources.push_back({parse("name: a\nfiles:\n  - path: /etc/motd\n", "a.yaml"),
                     base("@format\t1\n@policy\ta\nfile:/etc/motd\ttype=file\tmode=0644\n")});
  sources.push_back({parse("name: b\nfiles:\n  - path: /etc/issue\n", "b.yaml"),
                     base("@format\t1\n@policy\tb\nfile:/etc/issue\ttype=file\tmode=0600\n"
                          "file:/etc/motd\ttype=file\tmode=0600\n")});
  auto u = unitePolicies(std::move(sources), "u");
  REQUIRE(u.ok());
  REQUIRE(u->baseline.has_value());
  REQUIRE(u->baseline->entries.size() == 2);
  CHECK(u->baseline->find("/etc/issue")->attrs.mode == 0600u);
  CHECK(u->baseline->find("/etc/motd")->attrs.mode == 0644u);
  CHECK(u->baseline->policy.empty());
}
