#include "common/compare/compare.h"

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace driftwatch::compare;
using model::Attr;
using model::bit;
using model::Change;
using model::FileObservation;
using model::FileType;
using model::Presence;

namespace {

policy::Policy policyOf(const std::string& yaml) {
  auto p = policy::parsePolicy(yaml, "p.yaml");
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

FileObservation regularFile(std::string path, std::string_view content, uint32_t mode = 0644,
                            uint32_t uid = 0) {
  FileObservation o;
  o.path = std::move(path);
  o.presence = Presence::kPresent;
  o.attrs.type = FileType::kFile;
  o.attrs.mode = mode;
  o.attrs.uid = uid;
  o.attrs.size = content.size();
  o.attrs.sha256 = Sha256::of(content);
  o.attrs.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup) |
                 bit(Attr::kSize) | bit(Attr::kSha256);
  return o;
}

baseline::BaselineEntry entryOf(const FileObservation& o, model::AttrMask mask) {
  baseline::BaselineEntry e;
  e.path = o.path;
  e.attrs = o.attrs;
  e.attrs.mask = mask | bit(Attr::kType);
  return e;
}

const model::AttributeDrift* findAttr(const model::DriftItem& item, Attr a) {
  for (const auto& x : item.attributes) {
    if (x.attr == a) return &x;
  }
  return nullptr;
}

class Names final : public IdentityResolver {
 public:
  std::optional<uint32_t> uidOf(std::string_view n) const override {
    if (n == "root") return 0u;
    if (n == "www-data") return 33u;
    return std::nullopt;
  }
  std::optional<uint32_t> gidOf(std::string_view n) const override { return uidOf(n); }
  std::optional<std::string> userName(uint32_t id) const override {
    if (id == 0) return "root";
    if (id == 33) return "www-data";
    return std::nullopt;
  }
  std::optional<std::string> groupName(uint32_t id) const override { return userName(id); }
};

}  // namespace

TEST_CASE("explicit values: only declared attributes are compared") {
  const auto p =
      policyOf("name: a\nfiles:\n  - {path: /etc/motd, mode: \"0600\", owner: www-data}\n");
  const Names names;
  auto same = regularFile("/etc/motd", "anything", 0600, 33);
  CHECK_FALSE(compareFile(p.files[0], nullptr, same, names).has_value());
  auto drifted = regularFile("/etc/motd", "anything", 0644, 0);
  auto item = compareFile(p.files[0], nullptr, drifted, names);
  REQUIRE(item.has_value());
  CHECK(item->change == Change::kModified);
  REQUIRE(item->attributes.size() == 2);
  CHECK(findAttr(*item, Attr::kMode)->desired == "0600");
  CHECK(findAttr(*item, Attr::kMode)->actual == "0644");
  CHECK(findAttr(*item, Attr::kOwner)->desired == "www-data");
  CHECK(findAttr(*item, Attr::kOwner)->actual == "root");
  CHECK(item->rule.line == 3);
}

TEST_CASE("an owner name unknown on the host is drift and says so") {
  const auto p = policyOf("name: a\nfiles:\n  - {path: /x, owner: ghost}\n");
  auto item = compareFile(p.files[0], nullptr, regularFile("/x", ""), Names());
  REQUIRE(item.has_value());
  CHECK(findAttr(*item, Attr::kOwner)->desired == "ghost (no such user on the host)");
}

TEST_CASE("content: same size with the mtime restored is still drift") {
  const auto p =
      policyOf("name: a\nfiles:\n  - path: /etc/motd\n    content: \"Authorized use only\\n\"\n");
  CHECK_FALSE(
      compareFile(p.files[0], nullptr, regularFile("/etc/motd", "Authorized use only\n"), Names()));
  auto obs = regularFile("/etc/motd", "Authorized_use only\n");
  obs.content = "Authorized_use only\n";
  auto item = compareFile(p.files[0], nullptr, obs, Names());
  REQUIRE(item.has_value());
  CHECK(findAttr(*item, Attr::kContent)->actual == "Authorized_use only\n");
}

TEST_CASE("baseline values: sha256, size, mode and a type change") {
  const auto p = policyOf("name: a\nfiles:\n  - {path: /etc/nginx, recursive: true}\n");
  const auto& rule = p.files[0];
  const auto before = regularFile("/etc/nginx/nginx.conf", "worker_processes 1;");
  const auto base = entryOf(before, rule.baselineAttrs & before.attrs.mask);
  CHECK_FALSE(compareFile(rule, &base, before, Names()));

  // Same size, different bytes: the digest tells.
  auto item = compareFile(rule, &base, regularFile("/etc/nginx/nginx.conf", "worker_processes 2;"),
                          Names());
  REQUIRE(item.has_value());
  CHECK(findAttr(*item, Attr::kSha256) != nullptr);
  CHECK(findAttr(*item, Attr::kSize) == nullptr);

  // Replaced by a symlink: the type is reported, not the file-only attributes.
  FileObservation link;
  link.path = "/etc/nginx/nginx.conf";
  link.presence = Presence::kPresent;
  link.attrs.type = FileType::kSymlink;
  link.attrs.mode = 0777;
  link.attrs.target = "/tmp/evil";
  link.attrs.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup) |
                    bit(Attr::kTarget);
  auto swapped = compareFile(rule, &base, link, Names());
  REQUIRE(swapped.has_value());
  CHECK(findAttr(*swapped, Attr::kType)->desired == "file");
  CHECK(findAttr(*swapped, Attr::kType)->actual == "symlink");
  CHECK(findAttr(*swapped, Attr::kSha256) == nullptr);
  CHECK(findAttr(*swapped, Attr::kMode) == nullptr);
}

TEST_CASE("presence: added below a tree, removed, and absent rules") {
  const auto p = policyOf(
      "name: a\nfiles:\n  - {path: /etc/nginx, recursive: true}\n  - {path: /etc/old.conf, ensure: "
      "absent}\n");
  auto added = compareFile(p.files[0], nullptr, regularFile("/etc/nginx/new.conf", "x"), Names());
  REQUIRE(added.has_value());
  CHECK(added->change == Change::kAdded);

  FileObservation gone;
  gone.path = "/etc/nginx/nginx.conf";
  gone.presence = Presence::kAbsent;
  const auto base = entryOf(regularFile(gone.path, "x"), p.files[0].baselineAttrs);
  auto removed = compareFile(p.files[0], &base, gone, Names());
  REQUIRE(removed.has_value());
  CHECK(removed->change == Change::kRemoved);

  auto unwanted = compareFile(p.files[1], nullptr, regularFile("/etc/old.conf", ""), Names());
  REQUIRE(unwanted.has_value());
  CHECK(unwanted->change == Change::kAdded);
  FileObservation none;
  none.path = "/etc/old.conf";
  CHECK_FALSE(compareFile(p.files[1], nullptr, none, Names()));
}

TEST_CASE("what could not be observed is drift with its error, never a match") {
  const auto p = policyOf(
      "name: a\nfiles:\n  - {path: /etc/shadow, sha256: "
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855}\n");
  auto obs = regularFile("/etc/shadow", "");
  obs.attrs.mask &= ~bit(Attr::kSha256);
  obs.failed = bit(Attr::kSha256);
  obs.error = "cannot open: Permission denied";
  auto item = compareFile(p.files[0], nullptr, obs, Names());
  REQUIRE(item.has_value());
  CHECK(item->error == "cannot open: Permission denied");
  CHECK_FALSE(findAttr(*item, Attr::kSha256)->actual.has_value());

  FileObservation unknown;
  unknown.path = "/etc/shadow";
  unknown.presence = Presence::kUnknown;
  unknown.error = "cannot stat: Permission denied";
  auto u = compareFile(p.files[0], nullptr, unknown, Names());
  REQUIRE(u.has_value());
  CHECK(u->change == Change::kModified);
}

TEST_CASE("sysctl values compare with white space folded") {
  const auto p = policyOf("name: a\nsysctl:\n  net.ipv4.ip_local_port_range: \"32768 60999\"\n");
  model::SysctlObservation o{"net.ipv4.ip_local_port_range", Presence::kPresent, "32768\t60999",
                             ""};
  CHECK_FALSE(compareSysctl(p.sysctl[0], o));
  o.value = "1024\t65535";
  auto item = compareSysctl(p.sysctl[0], o);
  REQUIRE(item.has_value());
  CHECK(item->attributes[0].actual == "1024 65535");
  o.presence = Presence::kAbsent;
  CHECK(compareSysctl(p.sysctl[0], o)->change == Change::kRemoved);
}

TEST_CASE("packages: presence, dpkg states, version relations and multiarch") {
  const auto p = policyOf(R"(name: a
packages:
  openssh-server: ">= 1:9.2p1"
  telnetd: absent
  vim: present
)");
  model::PackageObservation ssh{
      "openssh-server", {{"amd64", "1:9.2p1-2+deb12u3", "installed"}}, ""};
  CHECK_FALSE(comparePackage(p.packages[0], ssh));
  ssh.instances[0].version = "1:8.4p1-5";
  auto old = comparePackage(p.packages[0], ssh);
  REQUIRE(old.has_value());
  CHECK(findAttr(*old, Attr::kVersion)->desired == ">= 1:9.2p1");
  ssh.instances[0] = {"amd64", "1:9.2p1-2", "half-configured"};
  auto broken = comparePackage(p.packages[0], ssh);
  REQUIRE(broken.has_value());
  CHECK(findAttr(*broken, Attr::kState)->actual == "half-configured");

  model::PackageObservation telnet{"telnetd", {{"amd64", "0.17+2.4-2", "installed"}}, ""};
  CHECK(comparePackage(p.packages[1], telnet)->change == Change::kAdded);
  telnet.instances[0].state = "config-files";
  CHECK_FALSE(comparePackage(p.packages[1], telnet));  // removed, only its config left

  model::PackageObservation vim{"vim", {}, ""};
  CHECK(comparePackage(p.packages[2], vim)->change == Change::kRemoved);
}

TEST_CASE("services, users and groups") {
  const auto p = policyOf(R"(name: a
services:
  ssh.service: {enabled: true}
users:
  root: {uid: 0, shell: /bin/bash}
  games: absent
groups:
  sudo: {members: [admin]}
)");
  model::ServiceObservation ssh;
  ssh.unit = "ssh.service";
  ssh.enabled = false;
  CHECK(findAttr(*compareService(p.services[0], ssh), Attr::kEnabled)->actual == "false");
  ssh.enabled = true;
  CHECK_FALSE(compareService(p.services[0], ssh));

  model::UserObservation root;
  root.name = "root";
  root.presence = Presence::kPresent;
  root.shell = "/bin/zsh";
  auto shell = compareUser(p.users[0], root);
  REQUIRE(shell.has_value());
  CHECK(findAttr(*shell, Attr::kShell)->actual == "/bin/zsh");
  model::UserObservation games;
  games.name = "games";
  games.presence = Presence::kPresent;
  CHECK(compareUser(p.users[1], games)->change == Change::kAdded);

  model::GroupObservation sudo;
  sudo.name = "sudo";
  sudo.presence = Presence::kPresent;
  sudo.members = {"admin", "mallory"};
  auto extra = compareGroup(p.groups[0], sudo);
  REQUIRE(extra.has_value());
  CHECK(findAttr(*extra, Attr::kMembers)->actual == "admin,mallory");
  sudo.members = {"admin"};
  CHECK_FALSE(compareGroup(p.groups[0], sudo));
}
