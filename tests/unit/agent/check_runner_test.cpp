#include "agent/check/check_runner.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using model::Change;

namespace {

policy::Policy policyOf(const std::string& yaml) {
  auto p = policy::parsePolicy(yaml, "p.yaml");
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

const model::DriftItem* find(const CheckReport& r, const std::string& id) {
  for (const auto& d : r.drift) {
    if (d.id.str() == id) return &d;
  }
  return nullptr;
}

constexpr const char* kTreePolicy =
    "name: web\nfiles:\n  - {path: /etc/app, recursive: true, ignore: [\"*.tmp\"]}\n";

}  // namespace

TEST_CASE("baseline then check: no drift, then exactly the changes made") {
  testing::TempDir dir;
  dir.write("etc/app/a.conf", "a=1\n");
  dir.write("etc/app/b.conf", "b=1\n");
  dir.write("etc/app/sub/c.conf", "c=1\n");
  const auto policy = policyOf(kTreePolicy);
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto recorded = recordBaseline(policy, *root, {});
  REQUIRE(recorded.ok());
  auto* base = &recorded->baseline;
  CHECK(base->entries.size() == 5);
  CHECK(base->policy == "web");
  CHECK(recorded->warnings.empty());

  auto clean = runCheck(policy, base, *root, {});
  REQUIRE(clean.ok());
  CHECK(clean->drift.empty());
  CHECK(clean->checked == 5);

  dir.write("etc/app/a.conf", "a=2\n");
  dir.remove("etc/app/sub");
  dir.write("etc/app/new.conf", "");
  dir.write("etc/app/scratch.tmp", "");  // ignored
  auto drifted = runCheck(policy, base, *root, {});
  REQUIRE(drifted.ok());
  REQUIRE(drifted->drift.size() == 4);
  CHECK(find(*drifted, "file:/etc/app/a.conf")->change == Change::kModified);
  CHECK(find(*drifted, "file:/etc/app/new.conf")->change == Change::kAdded);
  CHECK(find(*drifted, "file:/etc/app/sub")->change == Change::kRemoved);
  CHECK(find(*drifted, "file:/etc/app/sub/c.conf")->change == Change::kRemoved);
  // Sorted by resource.
  CHECK(drifted->drift.front().id.str() == "file:/etc/app/a.conf");
}

TEST_CASE("a policy that needs a baseline refuses to run without one, or with another policy's") {
  const auto policy = policyOf(kTreePolicy);
  const auto missing = validateBaselineFor(policy, nullptr, "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("--baseline") != std::string::npos);
  baseline::Baseline other;
  other.policy = "db";
  const auto wrong = validateBaselineFor(policy, &other, "b.txt");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().describe().find("recorded for policy 'db'") != std::string::npos);
}

TEST_CASE("all kinds are checked against a fake root") {
  testing::TempDir dir;
  dir.write("etc/hostname", "web-01\n");
  dir.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\ngames:x:5:60::/:/bin/false\n");
  dir.write("etc/group", "root:x:0:\nsudo:x:27:admin\n");
  dir.write("proc/sys/net/ipv4/ip_forward", "1\n");
  dir.write("var/lib/dpkg/status",
            "Package: telnetd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.17\n");
  dir.write("usr/lib/systemd/system/ssh.service", "");
  const auto policy = policyOf(R"(name: host
sysctl:
  net.ipv4.ip_forward: "0"
packages:
  telnetd: absent
services:
  ssh.service: {enabled: true}
users:
  games: absent
groups:
  sudo: {members: [admin]}
)");
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto report = runCheck(policy, nullptr, *root, {});
  REQUIRE(report.ok());
  CHECK(report->host == "web-01");
  CHECK(report->checked == 5);
  CHECK(report->drift.size() == 4);
  CHECK(find(*report, "sysctl:net.ipv4.ip_forward") != nullptr);
  CHECK(find(*report, "package:telnetd")->change == Change::kAdded);
  CHECK(find(*report, "service:ssh.service") != nullptr);
  CHECK(find(*report, "user:games")->change == Change::kAdded);
  CHECK(find(*report, "group:sudo") == nullptr);
}

TEST_CASE("accept takes observed values into the baseline and records why") {
  testing::TempDir dir;
  dir.write("etc/app/a.conf", "a=1\n");
  const auto policy =
      policyOf(kTreePolicy + std::string("  - {path: /etc/app/pinned, mode: \"0600\"}\n"));
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto recorded = recordBaseline(policy, *root, {});
  REQUIRE(recorded.ok());
  auto* base = &recorded->baseline;
  dir.write("etc/app/a.conf", "a=2\n");
  dir.write("etc/app/extra.conf", "x\n");

  baseline::AcceptRecord record{"2026-11-27T00:00:00Z", "alice", "web-01", "rollout 42", {}};
  const model::ResourceId a{model::ResourceKind::kFile, "/etc/app/a.conf"};
  auto outcome = acceptIntoBaseline(policy, *base, *root, {}, {a}, false, record);
  REQUIRE(outcome.ok());
  CHECK(outcome->changed == std::vector<std::string>{"file:/etc/app/a.conf"});
  REQUIRE(base->accepts.size() == 1);
  CHECK(base->accepts[0].reason == "rollout 42");
  auto after = runCheck(policy, base, *root, {});
  REQUIRE(after.ok());
  REQUIRE(after->drift.size() == 2);  // extra.conf still added; pinned file missing
  CHECK(find(*after, "file:/etc/app/extra.conf") != nullptr);

  // Explicit policy values cannot be accepted into a baseline.
  const model::ResourceId pinned{model::ResourceKind::kFile, "/etc/app/pinned"};
  auto refused = acceptIntoBaseline(policy, *base, *root, {}, {pinned}, false, record);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("edit the policy") != std::string::npos);
  const model::ResourceId outside{model::ResourceKind::kFile, "/usr/bin/ls"};
  auto uncovered = acceptIntoBaseline(policy, *base, *root, {}, {outside}, false, record);
  REQUIRE_FALSE(uncovered.ok());
  CHECK(uncovered.error().message.find("no file rule") != std::string::npos);

  // --all takes everything the baseline rules drift on.
  auto all = acceptIntoBaseline(policy, *base, *root, {}, {}, true, record);
  REQUIRE(all.ok());
  CHECK(all->changed == std::vector<std::string>{"file:/etc/app/extra.conf"});
  auto clean = runCheck(policy, base, *root, {});
  REQUIRE(clean.ok());
  REQUIRE(clean->drift.size() == 1);
  CHECK(clean->drift[0].id.str() == "file:/etc/app/pinned");
}

TEST_CASE("recording refuses to leave holes when entries cannot be read") {
  if (testing::runningAsRoot()) return;  // covered end to end as an unprivileged user
  testing::TempDir dir;
  dir.write("etc/app/secret", "x", 0);
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto recorded = recordBaseline(policyOf(kTreePolicy), *root, {});
  REQUIRE_FALSE(recorded.ok());
  CHECK(recorded.error().message.find("/etc/app/secret") != std::string::npos);
}

TEST_CASE("recording warns about a rule path that does not exist") {
  testing::TempDir dir;
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto recorded = recordBaseline(policyOf(kTreePolicy), *root, {});
  REQUIRE(recorded.ok());
  CHECK(recorded->baseline.entries.empty());
  REQUIRE(recorded->warnings.size() == 1);
  CHECK(recorded->warnings[0].find("/etc/app (p.yaml:3:5 (files[0])) does not exist") !=
        std::string::npos);
}
