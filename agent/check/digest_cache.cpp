#include "agent/check/digest_cache.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/paths.h"
#include "common/base/unique_fd.h"
#include "common/sqlite/database.h"

namespace driftwatch::agent {
namespace {

constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE digests (
  root BLOB NOT NULL,
  path BLOB NOT NULL,
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_sec INTEGER NOT NULL,
  mtime_nsec INTEGER NOT NULL,
  ctime_sec INTEGER NOT NULL,
  ctime_nsec INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  PRIMARY KEY (root, dev, ino)
) WITHOUT ROWID;
)sql",
};

// A file changed this recently (by the file's own clock) may change again within the same
// clock tick without any stat field moving: its digest is not kept for reuse.
constexpr int64_t kRacySeconds = 2;

int64_t asColumn(uint64_t v) {
  return static_cast<int64_t>(v);
}
uint64_t fromColumn(int64_t v) {
  return static_cast<uint64_t>(v);
}

// Creates `dir` and its missing parents, the ones created private (0700).
Status makePrivateDirs(const std::string& dir) {
  std::string at;
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    at = dir.substr(0, pos);
    if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST)
      return osError(errno, "cannot create the digest cache's directory", at);
  }
  return {};
}

// Whoever can write the cache (or replace it in its directory) can hide changes from the check.
Status checkTrusted(const std::string& path, bool isDir) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return osError(errno, "cannot inspect", path);
  const uid_t me = ::geteuid();
  if (isDir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return makeError(ErrorCode::kPermission,
                     std::string("is not a ") + (isDir ? "directory" : "regular file"), path);
  if (st.st_uid != me && !(isDir && st.st_uid == 0))
    return makeError(ErrorCode::kPermission,
                     "is owned by uid " + std::to_string(st.st_uid) +
                         ", not by the user running "
                         "the check (uid " +
                         std::to_string(me) + ")",
                     path);
  // No exception for sticky directories such as /tmp: others could create the database's
  // -wal file there before it exists, and SQLite would replay it.
  if (isDir && (st.st_mode & 022) != 0)
    return makeError(ErrorCode::kPermission,
                     "may be written by other users; keep the cache in a directory only its "
                     "owner can write (chmod go-w)",
                     path);
  // The digests of files only root may read are not for other users' eyes either.
  if (!isDir && (st.st_mode & 077) != 0)
    return makeError(ErrorCode::kPermission,
                     "may be read or written by other users; make it private (chmod 600)", path);
  return {};
}

}  // namespace

struct DigestCache::Store {
  sqlite::Database db;
};

DigestCache::DigestCache(std::unique_ptr<Store> store, std::string root, Use use,
                         int64_t openedAtSec)
    : store_(std::move(store)), root_(std::move(root)), use_(use), openedAtSec_(openedAtSec) {}

DigestCache::~DigestCache() = default;

Result<std::unique_ptr<DigestCache>> DigestCache::open(const std::string& path,
                                                       const std::string& root, Use use,
                                                       std::optional<int64_t> nowSec) {
  const int64_t now = nowSec.value_or(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  const std::string dir = path.find('/') == std::string::npos ? "." : std::string(dirName(path));
  if (auto s = makePrivateDirs(dir); !s.ok()) return s.error();
  if (auto s = checkTrusted(dir, true); !s.ok()) return s.error();
  // Created here, private, before SQLite opens it (SQLite would create it 0644).
  const UniqueFd created(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!created.valid() && errno != EEXIST)
    return osError(errno, "cannot create the digest cache", path);
  if (auto s = checkTrusted(path, false); !s.ok()) return s.error();

  sqlite::OpenOptions options;
  options.busyTimeoutMs = 2000;
  auto db = sqlite::Database::open(path, options);
  if (!db.ok()) return db.error();
  if (auto s = db->migrate(kMigrations); !s.ok()) return s.error();

  auto store = std::make_unique<Store>(Store{std::move(db).value()});
  std::unique_ptr<DigestCache> cache(new DigestCache(std::move(store), root, use, now));
  auto count = cache->store_->db.prepare("SELECT count(*) FROM digests WHERE root = ?");
  if (!count.ok()) return count.error();
  count->bindBlob(1, root);
  if (count->step()) cache->known_.reserve(static_cast<size_t>(count->columnInt(0)));
  auto select = cache->store_->db.prepare(
      "SELECT dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, sha256 "
      "FROM digests WHERE root = ? ORDER BY dev, ino");
  if (!select.ok()) return select.error();
  select->bindBlob(1, root);
  while (select->step()) {
    Known e;
    e.stamp.dev = fromColumn(select->columnInt(0));
    e.stamp.ino = fromColumn(select->columnInt(1));
    e.size = fromColumn(select->columnInt(2));
    e.stamp.mtime = {select->columnInt(3), select->columnInt(4)};
    e.stamp.ctime = {select->columnInt(5), select->columnInt(6)};
    const std::string digest = select->columnText(7);
    if (digest.size() != e.digest.size()) continue;  // not ours: never trusted
    std::memcpy(e.digest.data(), digest.data(), e.digest.size());
    cache->known_.push_back(e);
  }
  if (!select->status().ok()) return select->status().error();
  // SQLite orders the columns as signed integers; the lookup compares them unsigned.
  std::sort(cache->known_.begin(), cache->known_.end(), byInode);
  cache->seen_ = std::make_unique<std::atomic<bool>[]>(cache->known_.size());
  return cache;
}

const DigestCache::Known* DigestCache::find(uint64_t dev, uint64_t ino) const {
  Known key;
  key.stamp.dev = dev;
  key.stamp.ino = ino;
  const auto it = std::lower_bound(known_.begin(), known_.end(), key, byInode);
  return it != known_.end() && it->stamp.dev == dev && it->stamp.ino == ino ? &*it : nullptr;
}

std::optional<Sha256Digest> DigestCache::lookup(const std::string& /*path*/,
                                                const model::StatStamp& stamp, uint64_t size) {
  const Known* e = find(stamp.dev, stamp.ino);
  if (e == nullptr) return std::nullopt;
  seen_[static_cast<size_t>(e - known_.data())].store(true, std::memory_order_relaxed);
  // The link count is left out: a new hard link changes ctime anyway.
  if (use_ != Use::kReadWrite || e->size != size || e->stamp.mtime != stamp.mtime ||
      e->stamp.ctime != stamp.ctime)
    return std::nullopt;
  hits_.fetch_add(1, std::memory_order_relaxed);
  return e->digest;
}

void DigestCache::remember(const std::string& path, const model::StatStamp& stamp, uint64_t size,
                           const Sha256Digest& digest) {
  if (std::max(stamp.mtime.sec, stamp.ctime.sec) > openedAtSec_ - kRacySeconds) return;
  // Already known exactly so (a baseline reads files the cache knows): nothing to write.
  if (const Known* e = find(stamp.dev, stamp.ino);
      e != nullptr && e->size == size && e->stamp.mtime == stamp.mtime &&
      e->stamp.ctime == stamp.ctime && e->digest == digest)
    return;
  std::lock_guard lock(mutex_);
  fresh_.push_back(Fresh{path, stamp, size, digest});
}

Status DigestCache::save(const std::vector<std::string>& scannedPaths) {
  const sqlite::Database& db = store_->db;
  auto tx = sqlite::Transaction::begin(db);
  if (!tx.ok()) return tx.error();
  auto upsert = db.prepare(
      "INSERT OR REPLACE INTO digests (root, path, dev, ino, size, mtime_sec, mtime_nsec, "
      "ctime_sec, ctime_nsec, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!upsert.ok()) return upsert.error();
  std::lock_guard lock(mutex_);
  // In key order, the inserts append to the table's last pages instead of touching pages all
  // over it (which, beyond the page cache, wrote each page to the WAL many times).
  std::sort(fresh_.begin(), fresh_.end(), [](const Fresh& a, const Fresh& b) {
    return a.stamp.dev != b.stamp.dev ? a.stamp.dev < b.stamp.dev : a.stamp.ino < b.stamp.ino;
  });
  for (const Fresh& e : fresh_) {
    upsert->reset();
    upsert->bindBlob(1, root_)
        .bindBlob(2, e.path)
        .bind(3, asColumn(e.stamp.dev))
        .bind(4, asColumn(e.stamp.ino))
        .bind(5, asColumn(e.size))
        .bind(6, e.stamp.mtime.sec)
        .bind(7, e.stamp.mtime.nsec)
        .bind(8, e.stamp.ctime.sec)
        .bind(9, e.stamp.ctime.nsec)
        .bindBlob(
            10, std::string_view(reinterpret_cast<const char*>(e.digest.data()), e.digest.size()));
    if (auto s = upsert->run(); !s.ok()) return s;
  }
  // Entries this scan did not meet: forgotten when they lie in the scanned trees (the file is
  // gone or ignored now). Usually none, so each is looked up by its key.
  auto pathOf = db.prepare("SELECT path FROM digests WHERE root = ? AND dev = ? AND ino = ?");
  if (!pathOf.ok()) return pathOf.error();
  auto forget = db.prepare("DELETE FROM digests WHERE root = ? AND dev = ? AND ino = ?");
  if (!forget.ok()) return forget.error();
  for (size_t i = 0; i < known_.size(); ++i) {
    if (seen_[i].load(std::memory_order_relaxed)) continue;
    const model::StatStamp& key = known_[i].stamp;
    pathOf->reset();
    pathOf->bindBlob(1, root_).bind(2, asColumn(key.dev)).bind(3, asColumn(key.ino));
    if (!pathOf->step()) {
      if (!pathOf->status().ok()) return pathOf->status();
      continue;  // replaced by this scan's upsert
    }
    const std::string path = pathOf->columnText(0);
    const bool scanned = std::any_of(scannedPaths.begin(), scannedPaths.end(),
                                     [&](const std::string& p) { return isAtOrBelow(p, path); });
    if (!scanned) continue;  // another policy's file: kept for its check
    forget->reset();
    forget->bindBlob(1, root_).bind(2, asColumn(key.dev)).bind(3, asColumn(key.ino));
    if (auto s = forget->run(); !s.ok()) return s;
  }
  fresh_.clear();
  return tx->commit();
}

std::string defaultDigestCachePath() {
  const char* chosen = std::getenv("DRIFTWATCH_CHECK_CACHE");
  if (chosen != nullptr && chosen[0] != '\0') return chosen;
  if (::geteuid() == 0) return "/var/cache/driftwatch/check.db";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/driftwatch/check.db";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/driftwatch/check.db";
  return {};
}

}  // namespace driftwatch::agent
