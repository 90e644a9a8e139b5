#include "agent/collectors/dpkg_collector.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {
constexpr const char* kStatus = R"(Package: openssh-server
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1:9.2p1-2+deb12u3
Description: secure shell (SSH) server
 A long description
 .
 continues here

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u4

package: telnetd
status: deinstall ok config-files
architecture: amd64
version: 0.17+2.4-2

Package: broken
Architecture: amd64
Version: 1.0

Version: 9
)";
}  // namespace

TEST_CASE("the dpkg status file parses into packages per architecture") {
  const auto db = parseDpkgStatus(kStatus, "status");
  REQUIRE(db.byName.contains("openssh-server"));
  const auto ssh = db.byName.at("openssh-server");
  REQUIRE(ssh.size() == 1);
  CHECK(ssh[0].version == "1:9.2p1-2+deb12u3");
  CHECK(ssh[0].state == "installed");
  CHECK(db.byName.at("libc6").size() == 2);
  CHECK(db.byName.at("telnetd")[0].state == "config-files");  // field names are case-insensitive
  CHECK(db.byName.at("broken")[0].state == "not-installed");
  REQUIRE(db.warnings.size() == 2);
  CHECK(db.warnings[0].find("status:26: package broken") != std::string::npos);
  CHECK(db.warnings[1].find("without a Package field") != std::string::npos);
}

TEST_CASE("package names match every architecture unless qualified") {
  const auto db = parseDpkgStatus(kStatus, "status");
  CHECK(observePackage(db, "libc6").instances.size() == 2);
  auto i386 = observePackage(db, "libc6:i386");
  REQUIRE(i386.instances.size() == 1);
  CHECK(i386.instances[0].arch == "i386");
  CHECK(observePackage(db, "nginx").instances.empty());
}

TEST_CASE("the database is read from ROOT/var/lib/dpkg/status") {
  testing::TempDir dir;
  dir.write("var/lib/dpkg/status", kStatus);
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto db = loadDpkgDatabase(*root);
  REQUIRE(db.ok());
  CHECK(db->byName.size() == 4);
  testing::TempDir empty;
  auto none = loadDpkgDatabase(*RootFs::open(empty.path()));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().describe().find("package database") != std::string::npos);
}
