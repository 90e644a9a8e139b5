#pragma once
// The offline check's memory of file digests between runs: a regular file whose stat data
// (device, inode, size, mtime, ctime) is exactly as when it was last hashed is not read again.
// This is what makes the daily check of an unchanged host about as fast as a stat walk.
//
// Why stat data is enough: ctime cannot be set by programs (a write, chmod, chown, rename or
// link count change updates it, and restoring mtime with touch updates it too), so content
// edited with its mtime put back is read again. A file changed less than two seconds before it
// was hashed is not remembered: a second write within the same tick of the file system's clock
// could leave every stat field equal (git calls this "racily clean").
//
// Only for the live host: ctime is the running kernel's clock there, but in an image mounted at
// --root every stat field is data that whoever built or edited the image chose (two images
// built with fixed timestamps look identical), so checks of another root read every file.
//
// Trust: whoever can write the cache can hide a change from the check, like whoever can write
// the baseline. The cache is created 0600 in a directory created 0700; a cache file that is not
// the user's own private regular file, or a directory others may write (sticky ones included),
// is refused.
//
// Threading: open() and save() on one thread; lookup() and remember() from scanner threads.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/collectors/file_scanner.h"
#include "common/base/result.h"

namespace driftwatch::agent {

class DigestCache final : public HashCache {
 public:
  enum class Use {
    kReadWrite,  // reuse digests of unchanged files and remember new ones (check, accept)
    kWriteOnly,  // read every file, remember what was read (baseline: trust nothing old)
  };

  // Opens the cache at `path` (creating it and its directory) for the host mounted at `root`
  // (an absolute, canonical path: "/" for the live host). Refuses a cache others could write.
  // `nowSec` is the scan's start on the wall clock (tests move it; default: now).
  static Result<std::unique_ptr<DigestCache>> open(const std::string& path, const std::string& root,
                                                   Use use,
                                                   std::optional<int64_t> nowSec = std::nullopt);

  std::optional<Sha256Digest> lookup(const std::string& path, const model::StatStamp& stamp,
                                     uint64_t size) override;
  void remember(const std::string& path, const model::StatStamp& stamp, uint64_t size,
                const Sha256Digest& digest) override;

  // Stores what this scan hashed, and forgets entries at or below `scannedPaths` (the file
  // rules' paths) that the scan did not meet: deleted files, or files now ignored. Entries of
  // other trees (another policy's) are kept.
  Status save(const std::vector<std::string>& scannedPaths);

  size_t hits() const { return hits_.load(); }
  size_t entries() const { return known_.size(); }

  ~DigestCache() override;

 private:
  // Kept in memory by inode, not by path: no path strings (100,000 entries fit in 9 MB), and
  // an inode with the same stat data, ctime included, is the same unchanged file under any name.
  struct Known {
    model::StatStamp stamp;
    uint64_t size = 0;
    Sha256Digest digest{};
  };
  struct Fresh {
    std::string path;
    model::StatStamp stamp;
    uint64_t size = 0;
    Sha256Digest digest{};
  };
  struct Store;  // the SQLite connection, kept out of this header

  DigestCache(std::unique_ptr<Store> store, std::string root, Use use, int64_t openedAtSec);
  static bool byInode(const Known& a, const Known& b) {
    return a.stamp.dev != b.stamp.dev ? a.stamp.dev < b.stamp.dev : a.stamp.ino < b.stamp.ino;
  }
  const Known* find(uint64_t dev, uint64_t ino) const;

  std::unique_ptr<Store> store_;
  std::string root_;
  Use use_;
  int64_t openedAtSec_;                        // wall clock when the scan began
  std::vector<Known> known_;                   // sorted by (dev, ino); read-only after open()
  std::unique_ptr<std::atomic<bool>[]> seen_;  // per known_ entry: met by this scan
  std::atomic<size_t> hits_{0};
  std::mutex mutex_;
  std::vector<Fresh> fresh_;  // guarded by mutex_: hashed by this scan, to be stored
};

// Where the cache lives by default: $DRIFTWATCH_CHECK_CACHE when set, else
// /var/cache/driftwatch/check.db for root, else $XDG_CACHE_HOME/driftwatch/check.db or
// ~/.cache/driftwatch/check.db; empty when none applies.
std::string defaultDigestCachePath();

}  // namespace driftwatch::agent
