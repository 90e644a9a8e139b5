#pragma once
// A read-only connection to the state database shared by the work pool (WAL lets it read beside
// the loop thread's writer): the digests of unchanged files (it is the scanner's HashCache), the
// stored state a scan compares its walk with, and the baseline. Safe from any thread (one mutex).

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/collectors/file_scanner.h"
#include "agent/store/state_db.h"

namespace driftwatch::agent {

// Stat data of a regular file as stored for quick rescans.
std::string encodeStamp(const model::StatStamp& stamp, uint64_t size);
// The file resource id of a path ("file:" and the escaped path).
std::string fileId(std::string_view path);

class StateReader final : public HashCache {
 public:
  explicit StateReader(StateDb db) : db_(std::move(db)) {}

  std::optional<Sha256Digest> lookup(const std::string& path, const model::StatStamp& stamp,
                                     uint64_t size) override;
  std::optional<StoredResource> resource(const std::string& id);
  // Streams ids under `prefix` while holding the connection: `fn` must not block.
  void forEachIdUnder(std::string_view prefix, const std::function<void(const std::string&)>& fn);
  void forEachBaselineBelow(std::string_view root,
                            const std::function<void(const baseline::BaselineEntry&)>& fn);

 private:
  std::optional<StoredResource> rowLocked(const std::string& id);

  std::mutex mutex_;
  StateDb db_;                             // guarded by mutex_
  std::string lastId_;                     // guarded by mutex_: a scan asks the digest, then
  std::optional<StoredResource> lastRow_;  // the row, of the same file, one after the other
};

}  // namespace driftwatch::agent
