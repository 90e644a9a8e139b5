#include "agent/check/digest_cache.h"

#include <chrono>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/check/check_runner.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {

policy::Policy policyOf(const std::string& yaml) {
  auto p = policy::parsePolicy(yaml, "p.yaml");
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

constexpr const char* kTreePolicy = "name: web\nfiles:\n  - {path: /etc/app, recursive: true}\n";

int64_t nowSec() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A scan of `host` under kTreePolicy through a cache at `cachePath`; `later` moves the cache's
// clock so that files written just now are old enough to be remembered.
struct CachedRun {
  uint64_t bytesRead = 0;
  size_t hits = 0;
  CheckReport report;
};

CachedRun runWithCache(const testing::TempDir& host, const std::string& cachePath,
                       const baseline::Baseline* base, int64_t later = 10,
                       DigestCache::Use use = DigestCache::Use::kReadWrite) {
  const auto policy = policyOf(kTreePolicy);
  auto root = RootFs::open(host.path());
  REQUIRE(root.ok());
  auto cache = DigestCache::open(cachePath, host.path(), use, nowSec() + later);
  REQUIRE_MESSAGE(cache.ok(), cache.error().describe());
  ScanProgress progress;
  ScanOptions options;
  options.cache = cache->get();
  options.progress = &progress;
  auto report = runCheck(policy, base, *root, options);
  REQUIRE(report.ok());
  REQUIRE((*cache)->save({"/etc/app"}).ok());
  return CachedRun{progress.bytesHashed.load(), (*cache)->hits(), std::move(report).value()};
}

baseline::Baseline recordOf(const testing::TempDir& host) {
  auto root = RootFs::open(host.path());
  REQUIRE(root.ok());
  auto recorded = recordBaseline(policyOf(kTreePolicy), *root, {});
  REQUIRE(recorded.ok());
  return std::move(recorded->baseline);
}

}  // namespace

TEST_CASE("digest cache: unchanged files are not read again, and the check stays exact") {
  testing::TempDir host;
  testing::TempDir state;
  host.write("etc/app/a.conf", "a=1\n");
  host.write("etc/app/b.conf", std::string(100000, 'b'));
  const auto base = recordOf(host);
  const std::string cachePath = state.at("cache/check.db");

  const auto first = runWithCache(host, cachePath, &base);
  CHECK(first.report.drift.empty());
  CHECK(first.bytesRead == 100004);
  CHECK(first.hits == 0);

  const auto second = runWithCache(host, cachePath, &base);
  CHECK(second.report.drift.empty());
  CHECK(second.bytesRead == 0);
  CHECK(second.hits == 2);

  SUBCASE("content edited with size and mtime put back is read again (ctime moved)") {
    struct stat before {};
    REQUIRE(::stat(host.at("etc/app/a.conf").c_str(), &before) == 0);
    host.write("etc/app/a.conf", "a=2\n");
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, host.at("etc/app/a.conf").c_str(), times, 0) == 0);
    const auto third = runWithCache(host, cachePath, &base);
    CHECK(third.bytesRead == 4);
    CHECK(third.hits == 1);
    REQUIRE(third.report.drift.size() == 1);
    CHECK(third.report.drift[0].id.str() == "file:/etc/app/a.conf");
  }
  SUBCASE("the cache's own entries are per root: another root shares none of them") {
    testing::TempDir other;
    other.write("etc/app/a.conf", "a=1\n");
    auto root = RootFs::open(other.path());
    REQUIRE(root.ok());
    auto cache = DigestCache::open(cachePath, other.path(), DigestCache::Use::kReadWrite);
    REQUIRE(cache.ok());
    CHECK((*cache)->entries() == 0);
  }
  SUBCASE("a baseline reads every file even when the cache knows them") {
    const auto rerecord = runWithCache(host, cachePath, &base, 10, DigestCache::Use::kWriteOnly);
    CHECK(rerecord.bytesRead == 100004);
    CHECK(rerecord.hits == 0);
  }
}

TEST_CASE("digest cache: a file changed in the last two seconds is not remembered") {
  testing::TempDir host;
  testing::TempDir state;
  host.write("etc/app/a.conf", "a=1\n");
  const auto base = recordOf(host);
  const std::string cachePath = state.at("check.db");
  // The cache's clock is now: the file was written within the racy window.
  runWithCache(host, cachePath, &base, 0);
  const auto second = runWithCache(host, cachePath, &base, 0);
  CHECK(second.bytesRead == 4);
  CHECK(second.hits == 0);
}

TEST_CASE("digest cache: deleted files are forgotten, other trees' entries kept") {
  testing::TempDir host;
  testing::TempDir state;
  host.write("etc/app/a.conf", "a=1\n");
  host.write("etc/app/b.conf", "b=1\n");
  const auto base = recordOf(host);
  const std::string cachePath = state.at("check.db");
  runWithCache(host, cachePath, &base);
  {
    auto cache = DigestCache::open(cachePath, host.path(), DigestCache::Use::kReadWrite);
    REQUIRE(cache.ok());
    CHECK((*cache)->entries() == 2);
  }
  host.remove("etc/app/b.conf");
  runWithCache(host, cachePath, &base);
  auto cache = DigestCache::open(cachePath, host.path(), DigestCache::Use::kReadWrite);
  REQUIRE(cache.ok());
  CHECK((*cache)->entries() == 1);
  // Saving with no scanned trees in common (another policy's check) forgets nothing.
  REQUIRE((*cache)->save({"/srv"}).ok());
  auto again = DigestCache::open(cachePath, host.path(), DigestCache::Use::kReadWrite);
  REQUIRE(again.ok());
  CHECK((*again)->entries() == 1);
}

TEST_CASE("digest cache: a cache others could write is refused, naming the file") {
  testing::TempDir state;
  const std::string cachePath = state.at("check.db");
  { REQUIRE(DigestCache::open(cachePath, "/", DigestCache::Use::kReadWrite).ok()); }
  struct stat st {};
  REQUIRE(::stat(cachePath.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);

  REQUIRE(::chmod(cachePath.c_str(), 0666) == 0);
  auto refused = DigestCache::open(cachePath, "/", DigestCache::Use::kReadWrite);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().where == cachePath);
  CHECK(refused.error().message.find("other users") != std::string::npos);

  REQUIRE(::chmod(cachePath.c_str(), 0600) == 0);
  REQUIRE(::chmod(state.path().c_str(), 0777) == 0);
  auto openDir = DigestCache::open(cachePath, "/", DigestCache::Use::kReadWrite);
  REQUIRE_FALSE(openDir.ok());
  CHECK(openDir.error().where == state.path());
  REQUIRE(::chmod(state.path().c_str(), 0700) == 0);

  REQUIRE(::unlink(cachePath.c_str()) == 0);
  REQUIRE(::symlink("/etc/passwd", cachePath.c_str()) == 0);
  auto link = DigestCache::open(cachePath, "/", DigestCache::Use::kReadWrite);
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().message.find("regular file") != std::string::npos);
}

TEST_CASE("digest cache: a file that is not a SQLite database is an error, not a crash") {
  testing::TempDir state;
  state.write("check.db", "this is not a database, but it is long enough to look like one\n", 0600);
  ::chmod(state.path().c_str(), 0700);
  auto cache = DigestCache::open(state.at("check.db"), "/", DigestCache::Use::kReadWrite);
  REQUIRE_FALSE(cache.ok());
  CHECK(cache.error().describe().find(state.at("check.db")) != std::string::npos);
}
