// End-to-end: what the check gets right about files, through the real binary on real trees.

#include <algorithm>
#include <cstdio>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/model/resource.h"
#include "tests/e2e/agent_harness.h"

using namespace driftwatch::testing;

namespace {

constexpr const char* kTreePolicy = "name: files\nfiles:\n  - {path: /srv, recursive: true}\n";

void setMtime(const std::string& path, const struct timespec& mtime) {
  struct timespec times[2] = {{0, UTIME_OMIT}, mtime};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

}  // namespace

TEST_CASE("a content edit that keeps the size and restores the mtime is still drift") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kTreePolicy);
  host.write("srv/app.conf", "listen 8080\n");
  recordBaseline(work, host.path());
  struct stat before {};
  REQUIRE(::stat(host.at("srv/app.conf").c_str(), &before) == 0);
  host.write("srv/app.conf", "listen 8081\n");
  setMtime(host.at("srv/app.conf"), before.st_mtim);
  const auto report = checkJson(work, host.path(), 2);
  const auto drift = item(report, "file:/srv/app.conf");
  REQUIRE_FALSE(drift.is_null());
  CHECK(attrNames(drift) == std::vector<std::string>{"sha256"});
}

TEST_CASE("mode, owner, type and symlink target changes are each reported") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", std::string(kTreePolicy) +
                           "  - {path: /etc/owned, owner: \"4242\", group: \"4242\"}\n"
                           "  - {path: /etc/exact, type: file, mode: \"0640\"}\n");
  host.write("srv/mode.conf", "x", 0644);
  host.write("srv/becomes-dir", "x");
  host.write("srv/becomes-link", "x");
  host.symlink("srv/link", "target-a");
  host.write("etc/owned", "");
  host.write("etc/exact", "", 0640);
  recordBaseline(work, host.path());
  CHECK(checkJson(work, host.path(), 2)["drift"].size() == 1);  // only the owner rule drifts

  ::chmod(host.at("srv/mode.conf").c_str(), 0666);
  host.remove("srv/becomes-dir");
  host.mkdir("srv/becomes-dir");
  host.remove("srv/becomes-link");
  host.symlink("srv/becomes-link", "/etc/shadow");
  host.remove("srv/link");
  host.symlink("srv/link", "target-b");
  ::chmod(host.at("etc/exact").c_str(), 0600);
  const auto report = checkJson(work, host.path(), 2);

  const auto mode = item(report, "file:/srv/mode.conf");
  REQUIRE(attrNames(mode) == std::vector<std::string>{"mode"});
  CHECK(mode["attributes"][0]["desired"] == "0644");
  CHECK(mode["attributes"][0]["actual"] == "0666");
  const auto dir = item(report, "file:/srv/becomes-dir");
  CHECK(dir["attributes"][0]["name"] == "type");
  CHECK(dir["attributes"][0]["actual"] == "dir");
  const auto link = item(report, "file:/srv/becomes-link");
  CHECK(link["attributes"][0]["actual"] == "symlink");
  const auto target = item(report, "file:/srv/link");
  REQUIRE(attrNames(target) == std::vector<std::string>{"target"});
  CHECK(target["attributes"][0]["desired"] == "target-a");
  CHECK(target["attributes"][0]["actual"] == "target-b");
  const auto owned = item(report, "file:/etc/owned");
  CHECK(attrNames(owned) == std::vector<std::string>{"owner", "group"});
  CHECK(owned["attributes"][0]["desired"] == "4242");
  const auto exact = item(report, "file:/etc/exact");
  CHECK(exact["attributes"][0]["actual"] == "0600");

  if (runningAsRoot()) {
    REQUIRE(::lchown(host.at("srv/mode.conf").c_str(), 1234, 1234) == 0);
    const auto chowned = item(checkJson(work, host.path(), 2), "file:/srv/mode.conf");
    CHECK(attrNames(chowned) == std::vector<std::string>{"mode", "owner", "group"});
    CHECK(chowned["attributes"][1]["actual"] == "1234");
  }
}

TEST_CASE("added and removed entries under a tree, with ignore globs applied") {
  TempDir work;
  TempDir host;
  work.write(
      "p.yaml",
      "name: files\nfiles:\n  - {path: /srv, recursive: true, ignore: [\"*.log\", \"tmp/**\"]}\n");
  host.write("srv/a/one", "1");
  host.write("srv/a/two", "2");
  host.write("srv/b/three", "3");
  host.write("srv/app.log", "noise");
  host.mkdir("srv/tmp");
  recordBaseline(work, host.path());
  CHECK(work.read("b.txt").find("app.log") == std::string::npos);
  host.remove("srv/b");
  host.write("srv/a/new", "n");
  host.write("srv/more.log", "noise");
  host.write("srv/tmp/scratch/file", "noise");
  const auto report = checkJson(work, host.path(), 2);
  CHECK(report["drift"].size() == 3);
  CHECK(item(report, "file:/srv/a/new")["change"] == "added");
  CHECK(item(report, "file:/srv/b")["change"] == "removed");
  CHECK(item(report, "file:/srv/b/three")["change"] == "removed");
}

TEST_CASE("FIFOs, sockets and devices are observed by type and never opened") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kTreePolicy);
  host.mkdir("srv");
  REQUIRE(::mkfifo(host.at("srv/pipe").c_str(), 0644) == 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sockPath = host.at("srv/sock");
  std::copy(sockPath.begin(), sockPath.end(), addr.sun_path);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const bool device =
      runningAsRoot() && ::mknod(host.at("srv/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0;
  recordBaseline(work, host.path());  // would block forever on the FIFO, or read /dev/zero forever
  const std::string b = work.read("b.txt");
  CHECK(b.find("file:/srv/pipe\ttype=fifo") != std::string::npos);
  CHECK(b.find("file:/srv/sock\ttype=socket") != std::string::npos);
  if (device) CHECK(b.find("file:/srv/zero\ttype=device") != std::string::npos);
  CHECK(checkJson(work, host.path(), 0)["drift"].empty());
  ::close(sock);
}

TEST_CASE("a symlink out of the root is recorded as a link, its target never read") {
  TempDir work;
  TempDir host;
  work.write("p.yaml",
             "name: files\nfiles:\n  - {path: /srv, recursive: true}\n  - {path: "
             "/etc/ssh/sshd_config, mode: \"0600\"}\n");
  host.symlink("srv/escape", "/etc");
  host.symlink("etc", "/etc");  // an image whose /etc points at the machine's own /etc
  recordBaseline(work, host.path());
  const auto report = checkJson(work, host.path(), 2);
  REQUIRE(report["drift"].size() == 1);
  const auto sshd = item(report, "file:/etc/ssh/sshd_config");
  CHECK(sshd["error"].get<std::string>().find("/etc is a symlink (to /etc)") != std::string::npos);
  CHECK(work.read("b.txt").find("file:/srv/escape\ttype=symlink\tmode=0777") != std::string::npos);
}

TEST_CASE("file names with spaces, newlines and invalid UTF-8 survive baseline, JSON and text") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kTreePolicy);
  const std::vector<std::string> names = {
      "with space", "new\nline",   std::string("bytes\xff\xfe", 7),
      "tab\there",  "back\\slash", "caf\xc3\xa9"};
  for (const auto& n : names)
    host.write("srv/" + n, n);
  recordBaseline(work, host.path());
  CHECK(checkJson(work, host.path(), 0)["drift"].empty());  // the baseline read back matches

  for (const auto& n : names)
    host.write("srv/" + n, n + "!");
  const auto report = checkJson(work, host.path(), 2);
  REQUIRE(report["drift"].size() == names.size());
  std::vector<std::string> seen;
  for (const auto& d : report["drift"]) {
    auto id = driftwatch::model::ResourceId::parse(d["resource"].get<std::string>());
    REQUIRE(id.ok());
    seen.push_back(id->name.substr(5));  // strip "/srv/"
  }
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  std::sort(seen.begin(), seen.end());
  CHECK(seen == expected);

  const auto text = agent({"check", "--policy", work.at("p.yaml"), "--baseline", work.at("b.txt"),
                           "--root", host.path()});
  CHECK(text.exitCode == 2);
  CHECK(text.out.find("file:/srv/new\\x0aline") != std::string::npos);
  CHECK(text.out.find("file:/srv/bytes\\xff\\xfe") != std::string::npos);
  CHECK(text.out.find("file:/srv/café") != std::string::npos);
}

TEST_CASE("an unreadable file or directory is reported with its error, not skipped") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kTreePolicy);
  host.write("srv/open.conf", "x");
  host.write("srv/secret.conf", "x");
  host.write("srv/locked/inner", "x");
  // Root reads everything, so it records the baseline and the check runs as nobody; any other
  // user records first, then locks itself out.
  const mode_t fileMode = runningAsRoot() ? 0600 : 0;
  const mode_t dirMode = runningAsRoot() ? 0700 : 0;
  if (runningAsRoot()) {
    ::chmod(host.at("srv/secret.conf").c_str(), fileMode);
    ::chmod(host.at("srv/locked").c_str(), dirMode);
  }
  recordBaseline(work, host.path());
  if (!runningAsRoot()) {
    ::chmod(host.at("srv/secret.conf").c_str(), fileMode);
    ::chmod(host.at("srv/locked").c_str(), dirMode);
  }
  ::chmod(work.path().c_str(), 0755);
  ::chmod(work.at("b.txt").c_str(), 0644);
  std::vector<std::string> args = {
      agentBinary(),    "check",  "--policy",  work.at("p.yaml"), "--baseline",
      work.at("b.txt"), "--root", host.path(), "--format",        "json"};
  if (runningAsRoot()) {
    args.insert(args.begin(),
                {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  }
  ProcessOptions options;
  options.env.push_back("DRIFTWATCH_CHECK_CACHE=" + work.at("nobody-cache/check.db"));
  const auto r = runProcess(args, options);
  INFO(r.err);
  REQUIRE(r.exitCode == 2);
  const auto report = nlohmann::json::parse(r.out);
  const auto secret = item(report, "file:/srv/secret.conf");
  REQUIRE_FALSE(secret.is_null());
  CHECK(secret["error"].get<std::string>().find("Permission denied") != std::string::npos);
  const std::vector<std::string> expected = runningAsRoot()
                                                ? std::vector<std::string>{"sha256"}
                                                : std::vector<std::string>{"mode", "sha256"};
  CHECK(attrNames(secret) == expected);
  const auto inner = item(report, "file:/srv/locked/inner");
  REQUIRE_FALSE(inner.is_null());
  CHECK(inner["change"] == "modified");  // unknown, not "removed"
  CHECK(inner["error"].get<std::string>().find("could not be listed") != std::string::npos);
  CHECK(report["summary"]["errors"].get<int>() >= 2);
}

TEST_CASE("hashing is streamed: a 256 MiB file is checked in constant memory") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kTreePolicy);
  host.mkdir("srv");
  const int fd = ::open(host.at("srv/big.img").c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 256LL << 20) == 0);  // sparse: costs no disk
  ::close(fd);
  recordBaseline(work, host.path());
  const auto r = agent({"check", "--policy", work.at("p.yaml"), "--baseline", work.at("b.txt"),
                        "--root", host.path()});
  CHECK(r.exitCode == 0);
  // The whole process, binary and libraries included, stays far below the file size (the
  // sanitizer build carries its own shadow memory on top).
#if defined(__SANITIZE_ADDRESS__)
  constexpr long kLimitKb = 128 * 1024;
#else
  constexpr long kLimitKb = 48 * 1024;
#endif
  CHECK(r.maxRssKb < kLimitKb);
  CHECK(
      work.read("b.txt").find("size=268435456\tsha256="
                              "a6d72ac7690f53be6ae46ba88506bd97302a093f7108472bd9efc3cefda06484") !=
      std::string::npos);
}
