#include "agent/collectors/root_fs.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

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

TEST_CASE("readFile refuses FIFOs without blocking and files over the limit") {
  testing::TempDir dir;
  REQUIRE(::mkfifo(dir.at("fifo").c_str(), 0644) == 0);
  dir.write("big", std::string(1000, 'x'));
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  auto fifo = root->readFile("/fifo", 100);
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().message.find("not a regular file") != std::string::npos);
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
