#include "common/policy/file_rule_index.h"

#include <doctest/doctest.h>

using namespace driftwatch::policy;

TEST_CASE("the most specific rule owns a path, and an ignore is final") {
  auto p = parsePolicy(R"(name: a
files:
  - {path: /etc, recursive: true, ignore: [ssh, "*.bak"]}
  - {path: /etc/nginx, recursive: true}
  - {path: /etc/ssh/sshd_config, mode: "0600"}
  - {path: /etc/hosts, mode: "0644"}
  - {path: /srv/app, mode: "0755"}
)",
                       "p.yaml");
  REQUIRE(p.ok());
  const FileRuleIndex index(p->files);
  const auto& rules = p->files;
  CHECK(index.ownerOf("/etc", true) == &rules[0]);
  CHECK(index.ownerOf("/etc/passwd", false) == &rules[0]);
  CHECK(index.ownerOf("/etc/nginx", true) == &rules[1]);
  CHECK(index.ownerOf("/etc/nginx/sites/a", false) == &rules[1]);
  CHECK(index.ownerOf("/etc/nginx-old/a", false) == &rules[0]);
  CHECK(index.ownerOf("/etc/ssh", true) == nullptr);          // ignored by /etc
  CHECK(index.ownerOf("/etc/ssh/moduli", false) == nullptr);  // below an ignored directory
  CHECK(index.ownerOf("/etc/ssh/sshd_config", false) ==
        &rules[2]);  // an explicit rule still counts
  CHECK(index.ownerOf("/etc/x.bak", false) == nullptr);
  CHECK(index.ownerOf("/etc/hosts", false) == &rules[3]);
  CHECK(index.ownerOf("/srv/app/x", false) == nullptr);  // a single-path rule owns no children
  CHECK(index.ownerOf("/usr/bin/ls", false) == nullptr);
}

TEST_CASE("relative paths") {
  CHECK(relativeTo("/etc/nginx", "/etc/nginx/a/b") == "a/b");
  CHECK(relativeTo("/", "/etc") == "etc");
}
