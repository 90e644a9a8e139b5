// End-to-end: the check command's contract (exit codes, output formats, errors) through the
// real binary.

#include <sys/stat.h>

#include "tests/e2e/agent_harness.h"

using namespace driftwatch::testing;

namespace {

constexpr const char* kPolicy = R"(name: demo
severity: medium
files:
  - path: /etc/app
    recursive: true
    ignore: ["*.swp"]
  - path: /etc/motd
    content: "Authorized use only\n"
    severity: high
)";

struct Fixture {
  TempDir work;
  TempDir host;
  Fixture() {
    work.write("p.yaml", kPolicy);
    host.write("etc/app/app.conf", "port=80\n");
    host.write("etc/motd", "Authorized use only\n");
  }
};

}  // namespace

TEST_CASE("exit code 0 without drift, 2 with drift") {
  Fixture f;
  recordBaseline(f.work, f.host.path());
  const auto clean = agent({"check", "--policy", f.work.at("p.yaml"), "--baseline",
                            f.work.at("b.txt"), "--root", f.host.path()});
  CHECK(clean.exitCode == 0);
  CHECK(clean.out.find("No drift") != std::string::npos);

  f.host.write("etc/app/app.conf", "port=81\n");
  const auto drift = agent({"check", "--policy", f.work.at("p.yaml"), "--baseline",
                            f.work.at("b.txt"), "--root", f.host.path()});
  CHECK(drift.exitCode == 2);
  CHECK(drift.out.find("file:/etc/app/app.conf") != std::string::npos);
  CHECK(drift.out.find("sha256") != std::string::npos);
}

TEST_CASE("exit code 1 with one clear message for every kind of bad input") {
  Fixture f;
  recordBaseline(f.work, f.host.path());
  const auto run = [&](std::vector<std::string> args) {
    auto r = agent(args);
    CHECK(r.exitCode == 1);
    CHECK(r.out.empty());
    return r.err;
  };
  // Malformed policy: file, line and column.
  f.work.write("bad.yaml", "name: demo\nfiles:\n  - path: /etc/app\n    recursiv: true\n");
  const std::string policyErr =
      run({"check", "--policy", f.work.at("bad.yaml"), "--root", f.host.path()});
  CHECK(policyErr.find(f.work.at("bad.yaml") +
                       ":4:5: files[0].recursiv: unknown key 'recursiv' (did you mean "
                       "'recursive'?)") != std::string::npos);
  // Malformed baseline: file, line and column.
  f.work.write("bad.txt", "@format\t1\nfile:/etc/app\ttype=dir\tmode=07777x\n");
  const std::string baselineErr = run({"check", "--policy", f.work.at("p.yaml"), "--baseline",
                                       f.work.at("bad.txt"), "--root", f.host.path()});
  CHECK(baselineErr.find(f.work.at("bad.txt") + ":2:29") != std::string::npos);
  // Missing files and directories name themselves.
  CHECK(run({"check", "--policy", f.work.at("nope.yaml")}).find("nope.yaml") != std::string::npos);
  CHECK(run({"check", "--policy", f.work.at("p.yaml"), "--root", f.work.at("no-root")})
            .find("no-root") != std::string::npos);
  // A baseline rule without --baseline says what to do.
  CHECK(run({"check", "--policy", f.work.at("p.yaml"), "--root", f.host.path()})
            .find("pass --baseline FILE") != std::string::npos);
  // Usage errors.
  CHECK(run({"check"}).find("--policy") != std::string::npos);
  CHECK(run({"check", "--policy", f.work.at("p.yaml"), "--format", "xml"}).find("format") !=
        std::string::npos);
  CHECK(run({"frobnicate"}).find("frobnicate") != std::string::npos);
  // A policy that is not a regular file (a FIFO) is refused without hanging.
  REQUIRE(::mkfifo(f.work.at("fifo.yaml").c_str(), 0644) == 0);
  CHECK(run({"check", "--policy", f.work.at("fifo.yaml")}).find("not a regular file") !=
        std::string::npos);
}

TEST_CASE("help and version exit 0") {
  CHECK(agent({"--help"}).exitCode == 0);
  const auto version = agent({"--version"});
  CHECK(version.exitCode == 0);
  CHECK(version.out.find("driftwatch-agent") != std::string::npos);
  CHECK(agent({"check", "--help"}).out.find("--baseline") != std::string::npos);
}

TEST_CASE("JSON output carries policy, host, root, summary and drift items") {
  Fixture f;
  f.host.write("etc/hostname", "web-07\n");
  recordBaseline(f.work, f.host.path());
  f.host.write("etc/motd", "Welcome!\n");
  f.host.write("etc/app/extra.conf", "");
  f.host.write("etc/app/.x.swp", "");  // ignored
  const auto report = checkJson(f.work, f.host.path(), 2);
  CHECK(report["policy"] == "demo");
  CHECK(report["host"] == "web-07");
  CHECK(report["root"] == f.host.path());
  CHECK(report["summary"]["drifted"] == 2);
  CHECK(report["summary"]["by_severity"]["high"] == 1);
  CHECK(report["summary"]["by_severity"]["medium"] == 1);
  const auto motd = item(report, "file:/etc/motd");
  REQUIRE_FALSE(motd.is_null());
  CHECK(motd["change"] == "modified");
  CHECK(motd["severity"] == "high");
  CHECK(motd["drift_type"] == "configuration");
  CHECK(motd["rule"]["field"] == "files[1]");
  CHECK(motd["rule"]["line"] == 7);
  CHECK(motd["attributes"][0]["name"] == "content");
  CHECK(motd["attributes"][0]["desired"] == "Authorized use only\\x0a");
  CHECK(motd["attributes"][0]["actual"] == "Welcome!\\x0a");
  CHECK(item(report, "file:/etc/app/extra.conf")["change"] == "added");
  CHECK(item(report, "file:/etc/app/.x.swp").is_null());
}

TEST_CASE("text output is colored on a terminal only, and NO_COLOR turns it off") {
  Fixture f;
  recordBaseline(f.work, f.host.path());
  f.host.write("etc/motd", "changed\n");
  const std::vector<std::string> args = {"check",      "--policy",         f.work.at("p.yaml"),
                                         "--baseline", f.work.at("b.txt"), "--root",
                                         f.host.path()};
  const auto piped = agent(args);
  CHECK(piped.exitCode == 2);
  CHECK(piped.out.find('\033') == std::string::npos);

  ProcessOptions tty;
  tty.stdoutIsTerminal = true;
  tty.env = {"TERM=xterm"};
  const auto colored = agent(args, tty);
  CHECK(colored.exitCode == 2);
  CHECK(colored.out.find("\033[") != std::string::npos);

  tty.env.push_back("NO_COLOR=1");
  const auto plain = agent(args, tty);
  CHECK(plain.exitCode == 2);
  CHECK(plain.out.find('\033') == std::string::npos);
  CHECK(plain.out.find("file:/etc/motd") != std::string::npos);
}

TEST_CASE("sysctl, packages, services, users and groups are read from the root") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", R"(name: settings
sysctl:
  net.ipv4.ip_forward: "0"
  net.ipv4.ip_local_port_range: "32768 60999"
packages:
  openssh-server: ">= 1:9.2p1"
  telnetd: absent
services:
  ssh.service: {enabled: true}
  cups.service: {masked: true}
users:
  root: {uid: 0, shell: /bin/bash}
  games: absent
groups:
  sudo: {members: [admin]}
)");
  host.write("proc/sys/net/ipv4/ip_forward", "1\n");
  host.write("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
  host.write(
      "var/lib/dpkg/status",
      "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\nVersion: "
      "1:9.2p1-2\n\n"
      "Package: telnetd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.17-1\n");
  host.write("usr/lib/systemd/system/ssh.service", "");
  host.symlink("etc/systemd/system/multi-user.target.wants/ssh.service",
               "/usr/lib/systemd/system/ssh.service");
  host.symlink("etc/systemd/system/cups.service", "/dev/null");
  host.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  host.write("etc/group", "sudo:x:27:admin,eve\n");
  const auto report = checkJson(work, host.path(), 2, "");
  CHECK(report["summary"]["checked"] == 9);
  CHECK(report["drift"].size() == 4);
  CHECK(item(report, "sysctl:net.ipv4.ip_forward")["attributes"][0]["actual"] == "1");
  CHECK(item(report, "package:telnetd")["change"] == "added");
  CHECK(item(report, "user:root")["attributes"][0]["name"] == "shell");
  CHECK(item(report, "group:sudo")["attributes"][0]["actual"] == "admin,eve");
  CHECK(item(report, "service:ssh.service").is_null());
  CHECK(item(report, "service:cups.service").is_null());
  CHECK(item(report, "user:games").is_null());
  CHECK(item(report, "package:openssh-server").is_null());
}

TEST_CASE("a check of the live host runs without --root") {
  TempDir work;
  work.write("p.yaml",
             "name: live\nsysctl:\n  kernel.ostype: Linux\nfiles:\n  - {path: /proc, type: dir}\n");
  const auto r = agent({"check", "--policy", work.at("p.yaml")});
  INFO(r.err);
  CHECK(r.exitCode == 0);
  CHECK(r.out.find("root /") != std::string::npos);
}

TEST_CASE(
    "the digest cache: --cache creates it private, --no-cache leaves it alone, an open "
    "one is refused with a warning and the check still runs") {
  // The cache serves checks of the live host only: this policy names the fixture's absolute
  // paths and runs without --root.
  TempDir work;
  TempDir host;
  host.write("etc/app/app.conf", "port=80\n");
  work.write("p.yaml",
             "name: live\nfiles:\n  - {path: " + host.at("etc/app") + ", recursive: true}\n");
  const std::string cache = work.at("cache/check.db");
  const auto run = [&](std::vector<std::string> args) {
    auto r = agent(args);
    INFO("stderr: " << r.err);
    return r;
  };
  REQUIRE(
      run({"baseline", "--policy", work.at("p.yaml"), "--out", work.at("b.txt"), "--cache", cache})
          .exitCode == 0);
  const auto check = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"check", "--policy", work.at("p.yaml"), "--baseline",
                                     work.at("b.txt")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  struct stat st {};
  REQUIRE(::stat(cache.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::stat(work.at("cache").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);

  const auto none = check({"--no-cache"});
  CHECK(none.exitCode == 0);
  CHECK(none.err.empty());
  const auto cached = check({"--cache", cache});
  CHECK(cached.exitCode == 0);
  CHECK(cached.err.empty());

  // Anyone who could read or write the cache could learn digests or hide a change: not used.
  REQUIRE(::chmod(cache.c_str(), 0644) == 0);
  host.write("etc/app/app.conf", "port=81\n");
  const auto refused = check({"--cache", cache});
  CHECK(refused.exitCode == 2);
  CHECK(refused.out.find("app.conf") != std::string::npos);
  CHECK(refused.err.find("warning: digest cache not used") != std::string::npos);
  CHECK(refused.err.find(cache) != std::string::npos);

  const auto both = check({"--cache", cache, "--no-cache"});
  CHECK(both.exitCode == 1);
  CHECK(both.err.find("excludes") != std::string::npos);
}

TEST_CASE("a check of a mounted root never uses the digest cache") {
  Fixture f;
  const std::string cache = f.work.at("cache/check.db");
  const auto r = agent({"baseline", "--policy", f.work.at("p.yaml"), "--out", f.work.at("b.txt"),
                        "--root", f.host.path(), "--cache", cache});
  REQUIRE(r.exitCode == 0);
  struct stat st {};
  CHECK(::stat(cache.c_str(), &st) != 0);
}
