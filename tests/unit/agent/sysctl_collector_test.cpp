#include "agent/collectors/sysctl_collector.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

TEST_CASE("sysctl keys map to /proc/sys paths like sysctl(8)") {
  CHECK(sysctlPath("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward");
  CHECK(sysctlPath("net/ipv4/conf/eth0.1/rp_filter") == "/proc/sys/net/ipv4/conf/eth0.1/rp_filter");
  // As `sysctl -a` prints a VLAN interface: the slash stands for a dot in the name.
  CHECK(sysctlPath("net.ipv4.conf.eth0/1.rp_filter") == "/proc/sys/net/ipv4/conf/eth0.1/rp_filter");
}

TEST_CASE("values are read from ROOT/proc/sys, missing keys are absent") {
  testing::TempDir dir;
  dir.write("proc/sys/net/ipv4/ip_forward", "1\n");
  dir.write("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto fwd = observeSysctl(*root, "net.ipv4.ip_forward");
  CHECK(fwd.presence == model::Presence::kPresent);
  CHECK(fwd.value == "1");
  CHECK(observeSysctl(*root, "net.ipv4.ip_local_port_range").value == "32768\t60999");
  auto missing = observeSysctl(*root, "kernel.nope");
  CHECK(missing.presence == model::Presence::kAbsent);
  CHECK(missing.error.find("no such sysctl key") != std::string::npos);
}

TEST_CASE("the live host's /proc/sys is read when the root is /") {
  auto root = RootFs::open("/");
  REQUIRE(root.ok());
  auto ostype = observeSysctl(*root, "kernel.ostype");
  CHECK(ostype.presence == model::Presence::kPresent);
  CHECK(ostype.value == "Linux");
}
