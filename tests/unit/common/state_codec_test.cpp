#include "common/model/state_codec.h"

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace driftwatch::model;

TEST_CASE("file states round-trip, including hostile names and partial observations") {
  FileObservation f;
  f.path = std::string("/srv/odd\nname\xff", 14);
  f.presence = Presence::kPresent;
  f.attrs.type = FileType::kSymlink;
  f.attrs.mode = 0777;
  f.attrs.uid = 1000;
  f.attrs.gid = 1000;
  f.attrs.target = "../x\ty";
  f.attrs.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup) |
                 bit(Attr::kTarget);
  const std::string text = encodeState(f);
  CHECK(text.find('\n') == std::string::npos);
  auto back = decodeFileState(f.path, text);
  REQUIRE(back.ok());
  CHECK(encodeState(*back) == text);
  CHECK(back->attrs.target == "../x\ty");

  FileObservation unreadable;
  unreadable.path = "/etc/shadow";
  unreadable.presence = Presence::kPresent;
  unreadable.attrs.type = FileType::kFile;
  unreadable.attrs.size = 10;
  unreadable.attrs.mask = bit(Attr::kType) | bit(Attr::kSize);
  unreadable.failed = bit(Attr::kSha256);
  unreadable.error = "cannot open: Permission denied";
  auto u = decodeFileState("/etc/shadow", encodeState(unreadable));
  REQUIRE(u.ok());
  CHECK(u->failed == bit(Attr::kSha256));
  CHECK(u->error == "cannot open: Permission denied");

  FileObservation gone;
  gone.path = "/x";
  CHECK(encodeState(gone) == "absent");
}

TEST_CASE("setting states round-trip") {
  SysctlObservation s{"net.ipv4.ip_forward", Presence::kPresent, "1", ""};
  CHECK(encodeState(s) == "present\tvalue=1");
  CHECK(decodeSysctlState(s.key, encodeState(s))->value == "1");

  PackageObservation p{
      "libc6", {{"amd64", "2.36-9", "installed"}, {"i386", "2.36-9", "config-files"}}, ""};
  auto pb = decodePackageState("libc6", encodeState(p));
  REQUIRE(pb.ok());
  REQUIRE(pb->instances.size() == 2);
  CHECK(pb->instances[1].state == "config-files");
  CHECK(encodeState(PackageObservation{"x", {}, ""}) == "absent");

  ServiceObservation svc;
  svc.unit = "ssh.service";
  svc.enabled = true;
  CHECK(decodeServiceState(svc.unit, encodeState(svc))->enabled);

  UserObservation u;
  u.name = "root";
  u.presence = Presence::kPresent;
  u.shell = "/bin/bash";
  CHECK(decodeUserState("root", encodeState(u))->shell == "/bin/bash");

  GroupObservation g;
  g.name = "sudo";
  g.presence = Presence::kPresent;
  g.gid = 27;
  g.members = {"admin", "bob"};
  CHECK(decodeGroupState("sudo", encodeState(g))->members == g.members);
}

TEST_CASE("malformed states are refused, not guessed") {
  CHECK_FALSE(decodeFileState("/x", "maybe").ok());
  CHECK_FALSE(decodeFileState("/x", "present\tmode").ok());
  CHECK_FALSE(decodeFileState("/x", "present\tcolour=red").ok());
  CHECK_FALSE(decodeSysctlState("k", "present\tvalue=\\q").ok());
  CHECK_FALSE(decodeUserState("u", "present\tuid=abc").ok());
}
