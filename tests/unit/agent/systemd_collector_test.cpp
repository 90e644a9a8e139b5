#include "agent/collectors/systemd_collector.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

TEST_CASE("enablement, aliases and masks come from the unit symlinks") {
  testing::TempDir dir;
  dir.write("usr/lib/systemd/system/ssh.service", "[Unit]\n");
  dir.write("usr/lib/systemd/system/cups.service", "[Unit]\n");
  dir.write("usr/lib/systemd/system/getty@.service", "[Unit]\n");
  dir.write("usr/lib/systemd/system/nginx.service", "[Unit]\n");
  dir.symlink("lib", "usr/lib");  // merged /usr
  dir.symlink("etc/systemd/system/multi-user.target.wants/ssh.service",
              "/lib/systemd/system/ssh.service");
  dir.symlink("etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service");
  dir.symlink("etc/systemd/system/getty.target.wants/getty@tty1.service",
              "/lib/systemd/system/getty@.service");
  dir.symlink("etc/systemd/system/cups.service", "/dev/null");
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  const auto units = SystemdUnitTable::load(*root);

  const auto ssh = units.observe("ssh.service");
  CHECK(ssh.enabled);
  CHECK_FALSE(ssh.masked);
  CHECK(units.observe("sshd.service").enabled);  // alias of an enabled unit
  CHECK(units.observe("getty@tty1.service").enabled);
  const auto cups = units.observe("cups.service");
  CHECK(cups.masked);
  CHECK_FALSE(cups.enabled);
  const auto nginx = units.observe("nginx.service");
  CHECK_FALSE(nginx.enabled);
  CHECK(ssh.error.empty());
}

TEST_CASE("a root without systemd has nothing enabled and no error") {
  testing::TempDir dir;
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  const auto obs = SystemdUnitTable::load(*root).observe("ssh.service");
  CHECK_FALSE(obs.enabled);
  CHECK(obs.error.empty());
}
