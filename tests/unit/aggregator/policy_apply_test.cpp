#include "aggregator/policy/policy_apply.h"

#include <doctest/doctest.h>

#include "aggregator/policy/line_diff.h"
#include "aggregator/policy/policy_source.h"
#include "tests/unit/aggregator/store_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;

namespace {

// A real fleet store and audit trail in a temporary data directory.
struct Fleet : testing::StoreFixture {
  Result<std::vector<ApplyOutcome>> apply(std::vector<std::string> files,
                                          const std::string& message = "") {
    std::vector<std::string> paths;
    for (const auto& f : files)
      paths.push_back(dir.at(f));
    auto sources = readPolicySources(paths);
    REQUIRE(sources.ok());
    return applyPolicies(*store, *audit,
                         {.policies = std::move(*sources),
                          .appliedBy = "alice",
                          .message = message,
                          .now = ++clock});
  }

  std::vector<PolicyVersion> latest() const {
    auto v = store->latestPolicies();
    REQUIRE(v.ok());
    return *v;
  }

  int64_t clock = 1'800'000'000;
};

}  // namespace

TEST_CASE("policy apply stores a version per change and nothing for an unchanged policy") {
  Fleet fleet;
  fleet.dir.write("web.yaml",
                  "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n");
  auto first = fleet.apply({"web.yaml"}, "first");
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].name == "web");
  CHECK((*first)[0].version == 1);
  CHECK((*first)[0].changed);

  auto again = fleet.apply({"web.yaml"});
  REQUIRE(again.ok());
  CHECK_FALSE((*again)[0].changed);
  CHECK((*again)[0].version == 1);

  fleet.dir.write("web.yaml", "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"1\"}\n");
  auto second = fleet.apply({"web.yaml"}, "lower");
  REQUIRE(second.ok());
  CHECK((*second)[0].version == 2);
  auto history = fleet.store->policyHistory("web");
  REQUIRE(history.ok());
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].message == "first");
  CHECK((*history)[1].message == "lower");
  CHECK((*history)[1].appliedBy == "alice");
  CHECK((*history)[1].source == fleet.dir.at("web.yaml"));
  CHECK((*history)[1].text.find("\"1\"") != std::string::npos);
  CHECK((*history)[0].gitCommit.empty());  // not in a git checkout
}

TEST_CASE("a conflicting or invalid policy is refused with every problem, and nothing changes") {
  Fleet fleet;
  fleet.dir.write("web.yaml",
                  "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n");
  REQUIRE(fleet.apply({"web.yaml"}).ok());
  fleet.dir.write("all.yaml", "name: all\nsysctl: {vm.swappiness: \"60\"}\n");
  fleet.dir.write("broken.yaml", "name: broken\nfiles: [{path: relative}]\n");
  fleet.dir.write("db.yaml", "name: db\nselector: {role: db}\nsysctl: {vm.swappiness: \"1\"}\n");
  auto r = fleet.apply({"all.yaml", "broken.yaml", "db.yaml"});
  REQUIRE_FALSE(r.ok());
  const std::string e = r.error().describe();
  INFO(e);
  CHECK(e.find("3 problems, nothing applied") != std::string::npos);
  CHECK(e.find("broken.yaml:2:") != std::string::npos);
  CHECK(e.find("conflict: sysctl:vm.swappiness value: " + fleet.dir.at("all.yaml") +
               ":2:10 (sysctl.vm.swappiness) wants 60, " + fleet.dir.at("web.yaml")) !=
        std::string::npos);  // with the stored policy
  // all selects every host, db's too; db and web select different hosts: no conflict there.
  CHECK(e.find("db.yaml:3:10 (sysctl.vm.swappiness) wants 1\n  conflict") != std::string::npos);
  CHECK(e.find("web.yaml:3:10 (sysctl.vm.swappiness) wants 10, " + fleet.dir.at("db.yaml")) ==
        std::string::npos);
  const auto latest = fleet.latest();
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].name == "web");

  // A new version of web itself replaces it in the set: no conflict with its old self.
  fleet.dir.write("web.yaml",
                  "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"60\"}\n");
  auto both = fleet.apply({"web.yaml", "all.yaml"});
  INFO((both.ok() ? "" : both.error().describe()));
  REQUIRE(both.ok());
  CHECK(fleet.latest().size() == 2);
}

TEST_CASE("a policy that needs a baseline takes NAME.baseline next to it, checked") {
  Fleet fleet;
  fleet.dir.write("etc.yaml", "name: etc\nfiles:\n  - path: /etc\n    recursive: true\n");
  auto missing = fleet.apply({"etc.yaml"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().describe().find("there is no " + fleet.dir.at("etc.baseline")) !=
        std::string::npos);
  fleet.dir.write("etc.baseline", "@format\t1\n@policy\tother\n");
  auto wrong = fleet.apply({"etc.yaml"});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().describe().find("recorded for policy 'other'") != std::string::npos);
}

TEST_CASE("a directory applies every policy file in it, in name order, a name twice is refused") {
  Fleet fleet;
  fleet.dir.write("repo/b.yaml", "name: b\n");
  fleet.dir.write("repo/a.yml", "name: a\n");
  fleet.dir.write("repo/notes.txt", "not a policy\n");
  auto r = fleet.apply({"repo"});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].name == "a");
  CHECK((*r)[1].name == "b");
  fleet.dir.write("again.yaml", "name: a\n");
  auto twice = fleet.apply({"repo", "again.yaml"});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().describe().find("is also given by") != std::string::npos);
}

TEST_CASE("line diff shows removals, additions and their context") {
  CHECK(lineDiff("a\nb\nc\n", "a\nb\nc\n") == std::string());
  CHECK(lineDiff("a\nb\nc\n", "a\nB\nc\n") == "@@ line 1 @@\n  a\n- b\n+ B\n  c\n");
  const std::string many = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  CHECK(lineDiff(many, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", 1) == "@@ line 9 @@\n  9\n+ 10\n");
}

TEST_CASE("policy remove adds a removing version, frees the name and refuses what is not there") {
  Fleet fleet;
  fleet.dir.write("web.yaml",
                  "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n");
  REQUIRE(fleet.apply({"web.yaml"}).ok());

  auto removed =
      removePolicies(*fleet.store, *fleet.audit, {"web"}, "bob", "retired", 1'900'000'000);
  REQUIRE(removed.ok());
  REQUIRE(removed->size() == 1);
  CHECK((*removed)[0].version == 2);
  CHECK((*removed)[0].removed);
  auto heads = fleet.store->policyHeads();
  REQUIRE(heads.ok());
  CHECK(heads->empty());
  auto history = fleet.store->policyHistory("web");
  REQUIRE(history.ok());
  REQUIRE(history->size() == 2);
  CHECK((*history)[1].removed);
  CHECK((*history)[1].appliedBy == "bob");
  CHECK((*history)[1].message == "retired");

  auto again = removePolicies(*fleet.store, *fleet.audit, {"web"}, "bob", "", 1'900'000'001);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().describe().find("removed already in version 2") != std::string::npos);
  auto unknown = removePolicies(*fleet.store, *fleet.audit, {"nope"}, "bob", "", 1'900'000'001);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().describe().find("policy 'nope'") != std::string::npos);

  // The same file applied again is a new version, not "unchanged".
  auto back = fleet.apply({"web.yaml"});
  REQUIRE(back.ok());
  CHECK((*back)[0].version == 3);
  CHECK((*back)[0].changed);
}

TEST_CASE("a removed policy no longer conflicts, and pruning removes only its applier's policies") {
  Fleet fleet;
  fleet.dir.write("dir/web.yaml",
                  "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n");
  fleet.dir.write("dir/db.yaml",
                  "name: db\nselector: {role: db}\nsysctl: {vm.swappiness: \"1\"}\n");
  fleet.dir.write("other.yaml", "name: other\nsysctl: {kernel.panic: \"10\"}\n");
  auto sources = readPolicySources({fleet.dir.at("dir"), fleet.dir.at("other.yaml")});
  REQUIRE(sources.ok());
  // "other" is applied by someone else; web and db by the watched directory.
  REQUIRE(applyPolicies(*fleet.store, *fleet.audit,
                        {.policies = {(*sources)[2]}, .appliedBy = "alice", .now = 10})
              .ok());
  REQUIRE(applyPolicies(*fleet.store, *fleet.audit,
                        {.policies = {(*sources)[0], (*sources)[1]},
                         .appliedBy = "policy_dir",
                         .now = 11,
                         .prune = true,
                         .pruneDirectory = fleet.dir.at("dir")})
              .ok());
  // db.yaml is deleted from the directory.
  auto pruned = applyPolicies(*fleet.store, *fleet.audit,
                              {.policies = {(*sources)[1]},
                               .appliedBy = "policy_dir",
                               .now = 12,
                               .prune = true,
                               .pruneDirectory = fleet.dir.at("dir")});
  REQUIRE(pruned.ok());
  auto heads = fleet.store->policyHeads();
  REQUIRE(heads.ok());
  CHECK(heads->contains("web"));
  CHECK(heads->contains("other"));
  CHECK_FALSE(heads->contains("db"));

  // Another directory's policies are not this one's to remove.
  fleet.dir.write("other-dir/cache.yaml", "name: cache\nsysctl: {kernel.pid_max: \"4194304\"}\n");
  auto cache = readPolicySources({fleet.dir.at("other-dir")});
  REQUIRE(cache.ok());
  REQUIRE(applyPolicies(*fleet.store, *fleet.audit,
                        {.policies = {(*cache)[0]},
                         .appliedBy = "policy_dir",
                         .now = 13,
                         .prune = true,
                         .pruneDirectory = fleet.dir.at("other-dir")})
              .ok());
  REQUIRE(applyPolicies(*fleet.store, *fleet.audit,
                        {.policies = {(*sources)[1]},
                         .appliedBy = "policy_dir",
                         .now = 14,
                         .prune = true,
                         .pruneDirectory = fleet.dir.at("dir")})
              .ok());
  heads = fleet.store->policyHeads();
  REQUIRE(heads.ok());
  CHECK(heads->contains("cache"));
  CHECK(heads->contains("web"));

  // A policy that would have conflicted with the removed one applies now.
  fleet.dir.write("db2.yaml", "name: db2\nselector: {role: db}\nsysctl: {vm.swappiness: \"5\"}\n");
  CHECK(fleet.apply({"db2.yaml"}).ok());
}
