#pragma once
// Observes files: stat data, SHA-256 of content and symlink targets, for the paths of a
// policy's file rules and every entry below its recursive rules.
//
// How it stays safe: every lookup is relative to an open directory inside the root, symlinks
// are read (readlinkat), never followed, and only entries that lstat calls regular files are
// opened, with O_NOFOLLOW | O_NONBLOCK, then checked again with fstat, so a FIFO or device
// swapped in mid-scan is never read. Content is streamed through a fixed buffer (constant
// memory for any file size).
//
// What it will not enter: pseudo file systems (proc, sysfs, cgroup, debugfs, ...) met while
// walking a tree are observed as directories but not descended into, and the sink is told.
//
// How it stays fast: the walk and the hashing are shared by a small pool of threads (one per
// core by default). Directories are jobs; the regular files of a directory are cut into
// hashing batches that any thread can take, so a single directory of large files still uses
// every core. Hash batches go first, which bounds the directories held open.
//
// Threading: scan() blocks its caller, which works as one of the threads; the sink is called
// concurrently from all of them. observe() is synchronous and may run on any thread.

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collectors/budget.h"
#include "agent/collectors/root_fs.h"
#include "common/crypto/sha256.h"
#include "common/model/observation.h"
#include "common/policy/file_rule_index.h"
#include "common/policy/policy.h"

namespace driftwatch::agent {

struct ScanProgress {
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> bytesHashed{0};
};

// Digests already known for unchanged files: a file whose stat data (device, inode, size,
// mtime, ctime) is exactly as recorded is not read again. Called from scanner threads.
class HashCache {
 public:
  virtual ~HashCache() = default;
  virtual std::optional<Sha256Digest> lookup(const std::string& path, const model::StatStamp& stamp,
                                             uint64_t size) = 0;
  // A file the scan read and hashed, with the stat data of the open file after the read.
  virtual void remember(const std::string& /*path*/, const model::StatStamp& /*stamp*/,
                        uint64_t /*size*/, const Sha256Digest& /*digest*/) {}
};

struct ScanOptions {
  unsigned threads = 0;  // 0: one per core
  // Regular files larger than this are reported as too large, not hashed (never skipped
  // silently: the sha256 attribute is marked failed with the reason).
  uint64_t maxHashBytes = std::numeric_limits<uint64_t>::max();
  size_t contentCaptureBytes = 64 * 1024;  // for rules with `content`, shown in the drift
  ScanProgress* progress = nullptr;
  HashCache* cache = nullptr;  // nullptr: hash everything (a deep scan)
  IoBudget* io = nullptr;      // nullptr: read as fast as the disk goes
  CpuBudget* cpu = nullptr;
  // Set from another thread to abandon a scan quickly (shutdown); observations stop arriving.
  const std::atomic<bool>* cancel = nullptr;
};

class FileObservationSink {
 public:
  virtual ~FileObservationSink() = default;
  // One observed entry, owned by `rule`. Called concurrently from scanner threads.
  virtual void onFile(const policy::FileRule& rule, model::FileObservation&& observation) = 0;
  // A directory of `rule` whose entries could not all be listed: entries expected below it
  // are unknown, not removed.
  virtual void onListingError(const policy::FileRule& rule, std::string_view path,
                              const std::string& error) = 0;
  // A directory the scan did not enter on purpose (a pseudo file system such as /proc, whose
  // files can block or change the kernel's state when read). The directory itself was observed.
  virtual void onNotDescended(const policy::FileRule& rule, std::string_view path,
                              const std::string& reason) = 0;
  // A directory about to be listed, open as `dirFd` (the daemon watches it before listing, so
  // that nothing created meanwhile is missed).
  virtual void onEnterDirectory(const policy::FileRule& rule, std::string_view path, int dirFd) {
    (void)rule;
    (void)path;
    (void)dirFd;
  }
};

class FileScanner {
 public:
  FileScanner(const RootFs& root, const policy::FileRuleIndex& index, ScanOptions options);

  // Observes each rule's own path and, for recursive rules, every entry below it that the
  // rule owns (see FileRuleIndex), skipping ignored entries and other rules' subtrees.
  void scan(const std::vector<const policy::FileRule*>& rules, FileObservationSink& sink);

  // Observes `path` (owned by `rule`, possibly deep below its root) and, for a directory of a
  // recursive rule, everything below it, as scan() does.
  void scanFrom(const std::string& path, const policy::FileRule& rule, FileObservationSink& sink);

  // Observes exactly one path, as `rule` asks (hash, content). The options' cache is used.
  model::FileObservation observe(std::string_view path, const policy::FileRule& rule) const;

 private:
  class Run;
  void runJobs(Run& run);

  const RootFs& root_;
  const policy::FileRuleIndex& index_;
  ScanOptions options_;
};

// Stat data, type and symlink target of one path, without reading any content: what the daemon
// uses to check that an earlier observation still holds.
model::FileObservation statPath(const RootFs& root, std::string_view path);

}  // namespace driftwatch::agent
