#include "agent/collectors/root_fs.h"

#include <cerrno>
#include <cstddef>

#include <doctest/doctest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/open_watch.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

TEST_CASE("paths resolve inside the root and never through a symlink") {
  testing::TempDir outside;
  outside.write("secret", "host secret");
  testing::TempDir dir;
  dir.write("etc/real/file", "inside");
  dir.symlink("etc/link", "real");
  dir.symlink("etc/escape", outside.path());
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  CHECK(*root->readFile("/etc/real/file", 100) == "inside");

  auto viaLink = root->readFile("/etc/link/file", 100);
  REQUIRE_FALSE(viaLink.ok());
  CHECK(viaLink.error().message.find("/etc/link is a symlink (to real)") != std::string::npos);
  CHECK(viaLink.error().message.find("write the real path") != std::string::npos);

  auto escape = root->readFile("/etc/escape/secret", 100);
  REQUIRE_FALSE(escape.ok());
  CHECK(escape.error().message.find("is a symlink") != std::string::npos);

  auto finalLink = root->readFile("/etc/link", 100);
  CHECK_FALSE(finalLink.ok());
}

TEST_CASE("readFile refuses FIFOs and devices without opening them") {
  testing::TempDir dir;
  dir.mkdir("etc");
  REQUIRE(::mkfifo(dir.at("etc/passwd").c_str(), 0644) == 0);
  const bool device = testing::runningAsRoot() &&
                      ::mknod(dir.at("etc/group").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  testing::OpenWatch watch;
  watch.watch(dir.at("etc/passwd"));
  if (device) watch.watch(dir.at("etc/group"));
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto fifo = root->readFile("/etc/passwd", 100);
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().message.find("not a regular file") != std::string::npos);
  if (device) CHECK_FALSE(root->readFile("/etc/group", 100).ok());
  CHECK(watch.opened().empty());
}

TEST_CASE("readFile refuses files over the limit") {
  testing::TempDir dir;
  dir.write("big", std::string(1000, 'x'));
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto big = root->readFile("/big", 100);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message.find("larger than") != std::string::npos);
}

TEST_CASE("listDir lists entries and names the host path in errors") {
  testing::TempDir dir;
  dir.write("d/a", "");
  dir.mkdir("d/b");
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto entries = root->listDir("/d");
  REQUIRE(entries.ok());
  CHECK(entries->size() == 2);
  auto missing = root->listDir("/nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().where == dir.path() + "/nope");
}

TEST_CASE("opening a root that does not exist is a clear error") {
  auto root = RootFs::open("/definitely/not/here");
  REQUIRE_FALSE(root.ok());
  CHECK(root.error().describe().find("/definitely/not/here") != std::string::npos);
}

TEST_CASE("path helpers") {
  CHECK(baseName("/etc/motd") == "motd");
  CHECK(dirName("/etc/motd") == "/etc");
  CHECK(dirName("/etc") == "/");
}

namespace {

// Makes openat2 fail with EPERM in this process, as seccomp filters written before openat2
// existed do (older container runtimes, systemd SystemCallFilter=).
bool denyOpenat2() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                               filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

}  // namespace

TEST_CASE("without openat2 the component walk gives the same answers") {
  testing::TempDir outside;
  outside.write("secret", "host secret");
  testing::TempDir dir;
  dir.write("etc/real/file", "inside");
  dir.symlink("etc/link", "real");
  dir.symlink("etc/escape", outside.path());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // In the child: no doctest macros, the exit code says which expectation failed.
    if (!denyOpenat2()) ::_exit(10);
    auto root = RootFs::open(dir.path());
    if (!root.ok()) ::_exit(11);
    auto inside = root->readFile("/etc/real/file", 100);
    if (!inside.ok() || *inside != "inside") ::_exit(12);
    auto viaLink = root->readFile("/etc/link/file", 100);
    if (viaLink.ok() || viaLink.error().message.find("/etc/link is a symlink") == std::string::npos)
      ::_exit(13);
    if (root->readFile("/etc/escape/secret", 100).ok()) ::_exit(14);
    if (root->readFile("/etc/../etc/real/file", 100).ok()) ::_exit(15);
    if (!root->listDir("/etc").ok()) ::_exit(16);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
