#include <doctest/doctest.h>

#include "common/base/paths.h"
#include "common/policy/policy.h"

using namespace driftwatch;
using namespace driftwatch::policy;
using model::Attr;

namespace {

Policy parseOk(const std::string& text) {
  auto p = parsePolicy(text, "p.yaml");
  if (!p.ok()) FAIL("unexpected error: " << p.error().describe());
  return std::move(p).value();
}

// The one-line error for `text`.
std::string parseError(const std::string& text) {
  auto p = parsePolicy(text, "p.yaml");
  if (p.ok()) FAIL("expected an error for:\n" << text);
  return p.error().describe();
}

}  // namespace

TEST_CASE("the example policy from the documentation parses into typed rules") {
  const Policy p = parseOk(R"(name: web-baseline
severity: medium
files:
  - path: /etc/ssh/sshd_config
    sha256: 9f2c8e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6
    mode: "0600"
    owner: root
    group: root
    severity: critical
  - path: /etc/motd
    content: "Authorized use only\n"
  - path: /etc/nginx
    recursive: true
    attributes: [sha256, mode, owner, group, type, target]
    ignore: ["*.swp", "cache/**"]
  - path: /etc/old.conf
    ensure: absent
sysctl:
  net.ipv4.ip_forward: "0"
packages:
  openssh-server: present
  telnetd: absent
  libc6: ">= 2.36"
services:
  ssh.service: {enabled: true}
users:
  root: {uid: 0, shell: /bin/bash}
  games: absent
groups:
  sudo: {members: [admin]}
)");
  CHECK(p.name == "web-baseline");
  REQUIRE(p.files.size() == 4);
  const FileRule& sshd = p.files[0];
  CHECK(sshd.severity == model::Severity::kCritical);
  CHECK(sshd.mode == 0600u);
  CHECK(sshd.owner == "root");
  CHECK_FALSE(sshd.usesBaseline());
  CHECK(sshd.where.line == 4);
  CHECK(sshd.where.column == 5);
  CHECK(sshd.where.field == "files[0]");
  CHECK(p.files[1].content == "Authorized use only\n");
  CHECK(p.files[1].severity == model::Severity::kMedium);
  const FileRule& nginx = p.files[2];
  CHECK(nginx.recursive);
  CHECK(nginx.usesBaseline());
  CHECK(model::has(nginx.baselineAttrs, Attr::kSha256));
  CHECK_FALSE(model::has(nginx.baselineAttrs, Attr::kSize));
  CHECK(nginx.ignore.ignores("x.swp", false));
  CHECK(p.files[3].absent);
  REQUIRE(p.sysctl.size() == 1);
  CHECK(p.sysctl[0].value == "0");
  REQUIRE(p.packages.size() == 3);
  CHECK(p.packages[1].want == PackageRule::Want::kAbsent);
  CHECK(p.packages[2].want == PackageRule::Want::kVersion);
  CHECK(p.services[0].enabled == true);
  CHECK(p.users[0].uid == 0u);
  CHECK(p.users[1].absent);
  REQUIRE(p.groups[0].members.has_value());
  CHECK(p.groups[0].members->front() == "admin");
}

TEST_CASE("a file rule with only a path takes the default attributes from the baseline") {
  const Policy p = parseOk("name: a\nfiles:\n  - path: /etc/hosts\n");
  CHECK(p.files[0].baselineAttrs == kDefaultBaselineAttrs);
  CHECK(p.files[0].usesBaseline());
  const Policy explicitOnly = parseOk("name: a\nfiles:\n  - {path: /etc/hosts, mode: \"0644\"}\n");
  CHECK_FALSE(explicitOnly.files[0].usesBaseline());
}

TEST_CASE("unknown keys are errors with position and a suggestion") {
  const std::string e = parseError("name: a\nfiles:\n  - path: /etc/x\n    sah256: abc\n");
  CHECK(e.find("p.yaml:4:5") != std::string::npos);
  CHECK(e.find("files[0].sah256") != std::string::npos);
  CHECK(e.find("did you mean 'sha256'") != std::string::npos);
  const std::string top = parseError("name: a\nfile:\n  - path: /x\n");
  CHECK(top.find("p.yaml:2:1") != std::string::npos);
  CHECK(top.find("did you mean 'files'") != std::string::npos);
}

TEST_CASE("repeated keys are errors, not silent overrides") {
  const std::string e =
      parseError("name: a\nfiles:\n  - path: /x\n    mode: \"0644\"\n    mode: \"0600\"\n");
  CHECK(e.find("p.yaml:5:5") != std::string::npos);
  CHECK(e.find("first given on line 4") != std::string::npos);
  CHECK(parseError("name: a\nsysctl:\n  kernel.x: 1\n  kernel.x: 2\n").find("repeated") !=
        std::string::npos);
}

TEST_CASE("each invalid value names its field and what to write") {
  CHECK(parseError("files: []\n").find("every policy needs a `name`") != std::string::npos);
  CHECK(parseError("name: Web_Base\n").find("a-z, 0-9") != std::string::npos);
  CHECK(parseError("name: a\nseverity: urgent\n").find("p.yaml:2:11: severity") !=
        std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, mode: \"0999\"}\n").find("not an octal mode") !=
        std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: etc/x}\n").find("not an absolute path") !=
        std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /etc/../x}\n").find("'..'") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, sha256: xyz}\n").find("64 hexadecimal") !=
        std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, type: folder}\n").find("not a file type") !=
        std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, recursive: yes please}\n")
            .find("not true or false") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, attributes: [sha256, colour]}\n")
            .find("attributes[1]") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, recursive: true, ignore: [\"[a\"]}\n")
            .find("unclosed") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  path: /x\n").find("must be a list") != std::string::npos);
}

TEST_CASE("inconsistent file rules are refused") {
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, ensure: absent, mode: \"0644\"}\n")
            .find("takes no other") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, recursive: true, mode: \"0644\"}\n")
            .find("recursive rule") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, ignore: [\"*.swp\"]}\n")
            .find("recursive: true") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, content: a, sha256: "
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855}\n")
            .find("not both") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, type: dir, target: /y}\n")
            .find("only for symlinks") != std::string::npos);
  CHECK(parseError("name: a\nfiles:\n  - {path: /x, mode: \"0644\", attributes: [mode]}\n")
            .find("keep one") != std::string::npos);
  const std::string dup = parseError("name: a\nfiles:\n  - path: /x\n  - path: //x/\n");
  CHECK(dup.find("p.yaml:4:5") != std::string::npos);
  CHECK(dup.find("p.yaml:3:5") != std::string::npos);
}

TEST_CASE("settings sections validate their entries") {
  CHECK(parseError("name: a\npackages:\n  OpenSSH: present\n").find("not a Debian package name") !=
        std::string::npos);
  CHECK(parseError("name: a\npackages:\n  bash: \"> 5\"\n").find("ambiguous") != std::string::npos);
  CHECK(parseError("name: a\npackages:\n  bash: {ensure: absent, version: \"1.0\"}\n")
            .find("cannot have a version") != std::string::npos);
  CHECK(parseError("name: a\nservices:\n  ssh: {enabled: true}\n").find("ssh.service") !=
        std::string::npos);
  CHECK(parseError("name: a\nservices:\n  ssh.service: {}\n").find("enabled") != std::string::npos);
  CHECK(parseError("name: a\nservices:\n  ssh.service: {enabled: true, masked: true}\n")
            .find("masked unit") != std::string::npos);
  CHECK(parseError("name: a\nusers:\n  root: {uid: -1}\n").find("numeric id") != std::string::npos);
  CHECK(parseError("name: a\nusers:\n  bob: gone\n").find("present or absent") !=
        std::string::npos);
  CHECK(parseError("name: a\ngroups:\n  sudo: {members: [a, a]}\n").find("listed twice") !=
        std::string::npos);
  CHECK(parseError("name: a\nsysctl:\n  \"../../etc/shadow\": 1\n").find("not a sysctl key") !=
        std::string::npos);
  CHECK(parseError("name: a\nusers:\n  bob: {shell: \"/bin/sh:x\"}\n").find("':'") !=
        std::string::npos);
}

TEST_CASE("settings accept both the short and the long form") {
  const Policy p = parseOk(R"(name: a
severity: high
sysctl:
  net.ipv4.ip_forward: 0
  kernel.kptr_restrict: {value: 2, severity: low}
packages:
  nginx: {version: ">= 1.22", severity: critical}
  ntp: {ensure: absent}
services:
  cups.service: {masked: true}
)");
  CHECK(p.sysctl[0].value == "0");
  CHECK(p.sysctl[0].severity == model::Severity::kHigh);
  CHECK(p.sysctl[1].severity == model::Severity::kLow);
  CHECK(p.packages[0].version.text == ">= 1.22");
  CHECK(p.packages[0].severity == model::Severity::kCritical);
  CHECK(p.packages[1].want == PackageRule::Want::kAbsent);
  CHECK(p.services[0].masked == true);
  CHECK_FALSE(p.services[0].enabled.has_value());
}

TEST_CASE("broken YAML and hostile documents give one positioned error, never a crash") {
  CHECK(parseError("name: a\nfiles: [\n").find("p.yaml:") != std::string::npos);
  CHECK(parseError("").find("empty") != std::string::npos);
  CHECK(parseError("- just\n- a list\n").find("mapping") != std::string::npos);
  // A billion-laughs style alias bomb must be refused within the node budget.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k)
      bomb += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    bomb += "]\n";
  }
  bomb += "name: a\ngroups:\n  g: {members: *a8}\n";
  CHECK_FALSE(parsePolicy(bomb, "bomb.yaml").ok());
  CHECK_FALSE(parsePolicy(std::string(100000, '['), "deep.yaml").ok());
}

TEST_CASE("paths are normalised") {
  CHECK(*normalizeAbsolutePath("//etc///nginx/") == "/etc/nginx");
  CHECK(*normalizeAbsolutePath("/") == "/");
  CHECK_FALSE(normalizeAbsolutePath("relative").ok());
  CHECK_FALSE(normalizeAbsolutePath("/a/./b").ok());
}

TEST_CASE("isNormalAbsolutePath agrees with normalizeAbsolutePath returning its input") {
  for (const std::string& path : std::vector<std::string>{
           "/", "/etc", "/etc/nginx", "//etc", "/etc/", "/etc//x", "/a/./b", "/a/../b", "/.", "/..",
           "relative", "", "/a/.b", "/a/..b", "/a/b.", std::string("/a\0b", 4),
           "/" + std::string(4096, 'x'), "/" + std::string(4094, 'x')}) {
    auto normal = normalizeAbsolutePath(path);
    CAPTURE(path);
    CHECK(isNormalAbsolutePath(path) == (normal.ok() && *normal == path));
  }
}

TEST_CASE("a selector names the host labels a fleet policy applies to") {
  const Policy p = parseOk("name: web\nselector: {role: web, dc: fra}\n");
  CHECK(p.selector == model::Labels{{"dc", "fra"}, {"role", "web"}});
  CHECK(parseOk("name: all\n").selector.empty());
  CHECK(parseError("name: x\nselector: [role]\n").find("p.yaml:2:11: selector") !=
        std::string::npos);
  CHECK(parseError("name: x\nselector: {\"ro le\": web}\n").find("selector.ro le: a label key") !=
        std::string::npos);
  CHECK(parseError("name: x\nselector: {role: \"a,b\"}\n").find("without commas") !=
        std::string::npos);
  CHECK(parseError("name: x\nselector: {role: [a]}\n").find("selector.role") != std::string::npos);
}

TEST_CASE("settle: a duration per rule, or for the whole policy, up to a day") {
  using std::chrono::milliseconds;
  const Policy p = parseOk(R"(name: web
settle: 2m
files:
  - path: /etc/motd
    mode: "0644"
  - path: /etc/shadow
    mode: "0640"
    settle: 0s
  - path: /etc/gone
    ensure: absent
    settle: 5s
sysctl:
  vm.swappiness: {value: "1", settle: 10s}
packages:
  openssh-server: {ensure: present, settle: 1h}
services:
  ssh.service: {enabled: true, settle: 500ms}
users:
  bob: {ensure: absent, settle: 1d}
groups:
  ops: {gid: 1200, settle: 30s}
)");
  CHECK(p.settle == milliseconds(120'000));
  CHECK(p.files[0].settle == milliseconds(120'000));
  CHECK(p.files[1].settle == milliseconds(0));
  CHECK(p.files[2].settle == milliseconds(5'000));
  CHECK(p.sysctl[0].settle == milliseconds(10'000));
  CHECK(p.packages[0].settle == milliseconds(3'600'000));
  CHECK(p.services[0].settle == milliseconds(500));
  CHECK(p.users[0].settle == milliseconds(86'400'000));
  CHECK(p.groups[0].settle == milliseconds(30'000));
  // Without it, the aggregator's alerts.settle decides.
  CHECK_FALSE(parseOk("name: a\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n").files[0].settle);
}

TEST_CASE("a bad settle time is an error at its place") {
  CHECK(parseError("name: a\nsettle: soon\n") ==
        "p.yaml:2:9: settle: 'soon' is not a settle time (a duration up to 1d, like 30s or 5m)");
  CHECK(parseError("name: a\nfiles:\n  - {path: /etc/motd, mode: \"0644\", settle: 2d}\n")
            .find("p.yaml:3:45: files[0].settle: '2d' is not a settle time") != std::string::npos);
  CHECK(parseError("name: a\nsysctl:\n  vm.swappiness: {value: \"1\", settle: -1s}\n")
            .find("sysctl.vm.swappiness.settle") != std::string::npos);
}
