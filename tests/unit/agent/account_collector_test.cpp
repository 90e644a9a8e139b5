#include "agent/collectors/account_collector.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

TEST_CASE("passwd and group files parse, malformed lines are skipped with their line") {
  std::vector<std::string> warnings;
  const auto users = parsePasswd(
      "root:x:0:0:root:/root:/bin/bash\n"
      "# comment\n"
      "broken line\n"
      "+nisuser::::::\n"
      "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
      "bad:x:notanumber:1::/:/bin/sh\n",
      "passwd", warnings);
  REQUIRE(users.size() == 2);
  CHECK(users[1].name == "www-data");
  CHECK(users[1].uid == 33);
  CHECK(users[1].home == "/var/www");
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0] == "passwd:3: malformed passwd entry skipped");
  CHECK(warnings[1] == "passwd:6: malformed passwd entry skipped");

  AccountDatabase db;
  db.groups = parseGroup("sudo:x:27:admin, bob\nempty:x:100:\n", "group", warnings);
  REQUIRE(db.groups.size() == 2);
  CHECK(db.groups[0].gid == 27);
  CHECK(observeGroup(db, "sudo").members == std::vector<std::string>{"admin", "bob"});
  CHECK(observeGroup(db, "empty").members.empty());
  CHECK(observeGroup(db, "empty").presence == model::Presence::kPresent);
}

TEST_CASE("accounts load from ROOT/etc, a missing file makes lookups unknown") {
  testing::TempDir dir;
  dir.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  const auto db = loadAccounts(*root);
  CHECK(observeUser(db, "root").presence == model::Presence::kPresent);
  CHECK(observeUser(db, "games").presence == model::Presence::kAbsent);
  const auto group = observeGroup(db, "sudo");
  CHECK(group.presence == model::Presence::kUnknown);
  CHECK(group.error.find("/etc/group") != std::string::npos);
}

TEST_CASE("a hostile account file yields a bounded number of warnings") {
  std::string junk;
  for (int i = 0; i < 100000; ++i)
    junk += "garbage line\n";
  std::vector<std::string> warnings;
  CHECK(parsePasswd(junk, "passwd", warnings).empty());
  REQUIRE(warnings.size() == 21);
  CHECK(warnings.back() == "... and 99980 more like these");
}
