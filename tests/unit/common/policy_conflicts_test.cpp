#include "common/policy/policy_conflicts.h"

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace driftwatch::policy;

namespace {

Policy parse(const std::string& text, const std::string& file) {
  auto p = parsePolicy(text, file);
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

}  // namespace

TEST_CASE("two policies that can select one host and want different values conflict") {
  const Policy web = parse(R"(name: web
selector: {role: web}
files:
  - path: /etc/motd
    mode: "0644"
    owner: root
sysctl:
  net.ipv4.ip_forward: "0"
packages:
  telnetd: absent
services:
  ssh.service: {enabled: true}
)",
                           "web.yaml");
  const Policy base = parse(R"(name: base
files:
  - path: /etc/motd
    mode: "0600"
    owner: root
sysctl:
  net.ipv4.ip_forward: "1"
  vm.swappiness: "10"
packages:
  telnetd: present
services:
  ssh.service: {enabled: true, masked: false}
)",
                            "base.yaml");
  const auto conflicts = findConflicts(web, base);
  REQUIRE(conflicts.size() == 3);
  CHECK(conflicts[0].resource == "file:/etc/motd");
  CHECK(conflicts[0].attribute == "mode");
  CHECK(conflicts[0].describe() ==
        "file:/etc/motd mode: web.yaml:4:5 (files[0]) wants 0644, base.yaml:3:5 (files[0]) wants "
        "0600");
  CHECK(conflicts[1].resource == "package:telnetd");
  CHECK(conflicts[1].attribute == "ensure");
  CHECK(conflicts[2].resource == "sysctl:net.ipv4.ip_forward");
  CHECK(conflicts[2].firstWants == "0");
  CHECK(conflicts[2].secondWants == "1");
  // The same order the other way round, with the roles swapped.
  CHECK(findConflicts(base, web).size() == 3);
}

TEST_CASE("selectors that cannot pick the same host never conflict") {
  const Policy web =
      parse("name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n", "web.yaml");
  const Policy db =
      parse("name: db\nselector: {role: db}\nsysctl: {vm.swappiness: \"1\"}\n", "db.yaml");
  CHECK(findConflicts(web, db).empty());
  const Policy fra =
      parse("name: fra\nselector: {dc: fra}\nsysctl: {vm.swappiness: \"1\"}\n", "fra.yaml");
  CHECK(findConflicts(web, fra).size() == 1);  // a web host in fra gets both
}

TEST_CASE("absent against present, and values only one side states, and recursive trees") {
  const Policy a = parse(R"(name: a
files:
  - path: /etc/cron.d/backup
    ensure: absent
  - path: /srv
    recursive: true
    owner: www-data
users:
  bob: {uid: 1001}
)",
                         "a.yaml");
  const Policy b = parse(R"(name: b
files:
  - path: /etc/cron.d/backup
    mode: "0644"
  - path: /srv
    recursive: true
    owner: root
  - path: /srv/index.html
    owner: nobody
users:
  bob: {shell: /bin/bash}
)",
                         "b.yaml");
  const auto conflicts = findConflicts(a, b);
  REQUIRE(conflicts.size() == 2);
  CHECK(conflicts[0].resource == "file:/etc/cron.d/backup");
  CHECK(conflicts[0].attribute == "ensure");
  CHECK(conflicts[0].firstWants == "absent");
  CHECK(conflicts[1].resource == "file:/srv/**");
  CHECK(conflicts[1].attribute == "owner");
  // uid in one and shell in the other: both can hold.
}
