#include "agent/collectors/file_scanner.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/base/escape.h"
#include "common/base/unique_fd.h"
#include "common/crypto/sha256.h"

namespace driftwatch::agent {

using model::Attr;
using model::bit;
using model::FileObservation;
using model::FileType;
using model::Presence;
using policy::FileRule;

namespace {

constexpr size_t kReadBufferBytes = 256 * 1024;
constexpr size_t kBatchFiles = 64;
constexpr uint64_t kBatchBytes = 8u << 20;
constexpr size_t kDirentBufferBytes = 64 * 1024;

FileType fileTypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kFile;
  if (S_ISDIR(mode)) return FileType::kDir;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  if (S_ISFIFO(mode)) return FileType::kFifo;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  return FileType::kDevice;
}

bool sameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

void fillFromStat(const struct stat& st, FileObservation& obs) {
  obs.presence = Presence::kPresent;
  auto& a = obs.attrs;
  a.type = fileTypeOf(st.st_mode);
  a.mode = st.st_mode & 07777;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup);
  if (a.type == FileType::kFile) {
    a.size = static_cast<uint64_t>(st.st_size);
    a.mask |= bit(Attr::kSize);
  }
  obs.stamp.dev = st.st_dev;
  obs.stamp.ino = st.st_ino;
  obs.stamp.nlink = static_cast<uint32_t>(st.st_nlink);
  obs.stamp.mtime = {st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  obs.stamp.ctime = {st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
}

void addError(FileObservation& obs, const std::string& message) {
  if (!obs.error.empty()) obs.error += "; ";
  obs.error += message;
}

std::string joinPath(std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out += dir;
  if (dir != "/") out += '/';
  out += name;
  return out;
}

// Per-thread reading state: one digest context and one buffer, reused for every file.
class ContentReader {
 public:
  ContentReader() : buffer_(std::make_unique<char[]>(kReadBufferBytes)) {}

  // Hashes the regular file `obs` describes, opened relative to `dirFd`. Marks the sha256
  // attribute as failed (with the reason) rather than guessing when anything is off.
  void hash(int dirFd, const FileRule& rule, FileObservation& obs, const ScanOptions& options) {
    const std::string name(baseName(obs.path));
    if (obs.attrs.size > options.maxHashBytes) {
      obs.failed |= bit(Attr::kSha256);
      addError(obs, "larger than the hashing limit of " + std::to_string(options.maxHashBytes) +
                        " bytes: not hashed");
      return;
    }
    // Unchanged stat data: the recorded digest still holds (content rules read anyway, to show
    // the content in their drift).
    if (options.cache != nullptr && !rule.content) {
      if (const auto known = options.cache->lookup(obs.path, obs.stamp, obs.attrs.size)) {
        obs.attrs.sha256 = *known;
        obs.attrs.mask |= bit(Attr::kSha256);
        return;
      }
    }
    // O_NOATIME keeps the scan from dirtying inodes (the kernel allows it only to the owner;
    // openRegularAt retries without it).
    RegularFile file = openRegularAt(dirFd, name.c_str(), O_NOATIME);
    if (!file.fd.valid()) {
      if (file.error == ENOENT) {
        // Deleted between the directory listing and now: it is gone.
        FileObservation gone;
        gone.path = std::move(obs.path);
        gone.presence = Presence::kAbsent;
        obs = std::move(gone);
        return;
      }
      obs.failed |= bit(Attr::kSha256);
      if (file.notRegular) {
        addError(obs, "replaced by a " +
                          std::string(model::fileTypeName(fileTypeOf(file.st.st_mode))) +
                          " during the scan: not read; run the check again");
      } else {
        addError(obs, osError(file.error, "cannot open", "").message);
      }
      return;
    }
    const int fd = file.fd.get();
    const struct stat& before = file.st;
    if (before.st_ino != obs.stamp.ino || before.st_dev != obs.stamp.dev) {
      // A different file was renamed into place since the listing.
      obs.failed |= bit(Attr::kSha256);
      addError(obs, "replaced during the scan: not read; run the check again");
      return;
    }
    if (before.st_size >= 1 << 20) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const bool capture = rule.content.has_value() &&
                         static_cast<uint64_t>(before.st_size) <= options.contentCaptureBytes;
    std::string captured;
    sha_.reset();
    uint64_t total = 0;
    while (true) {
      const ssize_t n = ::read(fd, buffer_.get(), kReadBufferBytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        obs.failed |= bit(Attr::kSha256);
        addError(obs, osError(errno, "cannot read", "").message);
        return;
      }
      if (n == 0) break;
      if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
        obs.failed |= bit(Attr::kSha256);
        addError(obs, "not hashed: the scan was cancelled");
        return;
      }
      if (options.io != nullptr) options.io->consume(static_cast<uint64_t>(n));
      if (options.cpu != nullptr) options.cpu->checkpoint();
      sha_.update(buffer_.get(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
      if (capture && captured.size() <= options.contentCaptureBytes) {
        captured.append(buffer_.get(), static_cast<size_t>(n));
      }
    }
    const Sha256Digest digest = sha_.finish();
    if (options.progress != nullptr)
      options.progress->bytesHashed.fetch_add(total, std::memory_order_relaxed);
    // ctime cannot be set from user space: a write during the read shows there even when the
    // writer restores size and mtime.
    struct stat after {};
    if (::fstat(fd, &after) != 0 || after.st_size != before.st_size ||
        !sameTime(after.st_mtim, before.st_mtim) || !sameTime(after.st_ctim, before.st_ctim) ||
        total != static_cast<uint64_t>(after.st_size)) {
      obs.failed |= bit(Attr::kSha256);
      addError(obs, "changed while being read; run the check again");
      return;
    }
    // The open file is the truth: take its stat data (it may differ from the listing's).
    fillFromStat(after, obs);
    obs.attrs.sha256 = digest;
    obs.attrs.mask |= bit(Attr::kSha256);
    if (options.cache != nullptr)
      options.cache->remember(obs.path, obs.stamp, obs.attrs.size, digest);
    if (capture && captured.size() <= options.contentCaptureBytes)
      obs.content = std::move(captured);
  }

 private:
  Sha256 sha_;
  std::unique_ptr<char[]> buffer_;
};

// `expectedLength` is the link's st_size (its target's length); the loop covers a link that
// grows in between.
void readTarget(int dirFd, std::string_view name, off_t expectedLength, FileObservation& obs) {
  std::string buffer(std::max<size_t>(64, static_cast<size_t>(expectedLength) + 1), '\0');
  const std::string cname(name);
  while (true) {
    const ssize_t n = ::readlinkat(dirFd, cname.c_str(), buffer.data(), buffer.size());
    if (n < 0) {
      obs.failed |= bit(Attr::kTarget);
      addError(obs, osError(errno, "cannot read the link", "").message);
      return;
    }
    if (static_cast<size_t>(n) < buffer.size()) {
      buffer.resize(static_cast<size_t>(n));
      break;
    }
    buffer.resize(buffer.size() * 2);
  }
  obs.attrs.target = std::move(buffer);
  obs.attrs.mask |= bit(Attr::kTarget);
}

// lstat of `name` in `dirFd`; fills obs (presence absent on ENOENT, unknown on other errors).
// Returns true when the entry exists and was stat'ed.
bool statAt(int dirFd, const char* name, FileObservation& obs, struct stat& st) {
  if (::fstatat(dirFd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    fillFromStat(st, obs);
    return true;
  }
  const int err = errno;
  if (err == ENOENT) {
    obs.presence = Presence::kAbsent;
  } else {
    obs.presence = Presence::kUnknown;
    addError(obs, osError(err, "cannot stat", "").message);
  }
  return false;
}

// The name of the pseudo file system the directory `name` in `dirFd` is on, or "" for an
// ordinary one. Reading pseudo files can block (/proc/kmsg) or consume kernel state.
std::string pseudoFileSystem(int dirFd, const char* name) {
  // No O_DIRECTORY: with it, opening an autofs mount point would trigger the mount.
  UniqueFd fd(::openat(dirFd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct statfs fs {};
  if (!fd.valid() || ::fstatfs(fd.get(), &fs) != 0) return {};
  switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC:
      return "proc";
    case SYSFS_MAGIC:
      return "sysfs";
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
      return "cgroup";
    case DEBUGFS_MAGIC:
      return "debugfs";
    case TRACEFS_MAGIC:
      return "tracefs";
    case SECURITYFS_MAGIC:
      return "securityfs";
    case DEVPTS_SUPER_MAGIC:
      return "devpts";
    case BPF_FS_MAGIC:
      return "bpf";
    case PSTOREFS_MAGIC:
      return "pstore";
    case EFIVARFS_MAGIC:
      return "efivarfs";
    case BINFMTFS_MAGIC:
      return "binfmt_misc";
    case NSFS_MAGIC:
      return "nsfs";
    case SELINUX_MAGIC:
      return "selinuxfs";
    case AUTOFS_SUPER_MAGIC:
      return "autofs";  // entering it would trigger a mount
    default:
      return {};
  }
}

std::string notDescendedReason(const std::string& fsType) {
  return "a " + fsType +
         " file system: its entries are not configuration, and reading them can block or "
         "change kernel state; not descended into";
}

// Observes one path: lstat through a directory opened without following symlinks, then the
// target or the content as the rule asks.
FileObservation observePath(const RootFs& root, const ScanOptions& options, std::string_view path,
                            const FileRule& rule, ContentReader* reader) {
  FileObservation obs;
  obs.path = std::string(path);
  struct stat st {};
  if (path == "/") {
    if (::fstatat(root.fd(), "", &st, AT_EMPTY_PATH) != 0) {
      obs.presence = Presence::kUnknown;
      addError(obs, osError(errno, "cannot stat", "").message);
    } else {
      fillFromStat(st, obs);
    }
    return obs;
  }
  auto parent = root.openDir(dirName(path));
  if (!parent.ok()) {
    if (parent.error().code == ErrorCode::kNotFound) {
      obs.presence = Presence::kAbsent;
    } else {
      obs.presence = Presence::kUnknown;
      addError(obs, parent.error().message);
    }
    return obs;
  }
  const std::string name(baseName(path));
  if (!statAt(parent->get(), name.c_str(), obs, st)) return obs;
  if (obs.attrs.type == FileType::kSymlink) readTarget(parent->get(), name, st.st_size, obs);
  if (obs.attrs.type == FileType::kFile && rule.needsHash() && reader != nullptr) {
    reader->hash(parent->get(), rule, obs, options);
  }
  return obs;
}

}  // namespace

// ---- one scan: job queue and workers ----------------------------------------------------

class FileScanner::Run {
 public:
  Run(const FileScanner& scanner, FileObservationSink& sink) : scanner_(scanner), sink_(sink) {}

  void start(const std::vector<const FileRule*>& rules) {
    for (const FileRule* rule : rules)
      otherJobs_.push_back(RootJob{rule, rule->path});
  }

  void startFrom(const std::string& path, const FileRule& rule) {
    otherJobs_.push_back(RootJob{&rule, path});
  }

  void work() {
    std::optional<ContentReader> reader;
    try {
      reader.emplace();
    } catch (...) {
      abandon(std::current_exception());
      return;
    }
    while (true) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !hashJobs_.empty() || !otherJobs_.empty() || active_ == 0; });
        if (hashJobs_.empty() && otherJobs_.empty()) {
          wake_.notify_all();
          return;  // nothing queued and nobody working: the scan is complete
        }
        if (cancelled()) {
          hashJobs_.clear();
          otherJobs_.clear();
          wake_.notify_all();
          continue;  // drops the queue; the loop ends once no job is running
        }
        if (!hashJobs_.empty()) {
          job = std::move(hashJobs_.front());
          hashJobs_.pop_front();
        } else {
          job = std::move(otherJobs_.back());
          otherJobs_.pop_back();
        }
        ++active_;
      }
      // Nothing here throws but allocation failure; it must not escape the thread. The scan
      // stops and scan() rethrows it on the caller's thread.
      try {
        std::visit([&](auto& j) { run(j, *reader); }, job);
      } catch (...) {
        abandon(std::current_exception());
      }
      {
        std::lock_guard lock(mutex_);
        --active_;
      }
      wake_.notify_all();
    }
  }

  // Stops the scan after a failure: queued work is dropped, the first failure is kept.
  void abandon(std::exception_ptr failure) {
    {
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = std::move(failure);
      hashJobs_.clear();
      otherJobs_.clear();
    }
    wake_.notify_all();
  }

  bool cancelled() const {
    const auto* flag = scanner_.options_.cancel;
    return flag != nullptr && flag->load(std::memory_order_relaxed);
  }

  std::exception_ptr failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  // Observes `path` (a rule's root, or any path inside a recursive rule) and walks below it.
  struct RootJob {
    const FileRule* rule;
    std::string path;
  };
  struct DirJob {
    const FileRule* rule;
    std::string path;
  };
  struct HashJob {
    const FileRule* rule;
    std::shared_ptr<UniqueFd> dir;
    std::vector<FileObservation> files;
  };
  using Job = std::variant<RootJob, DirJob, HashJob>;

  void push(Job job, bool priority) {
    {
      std::lock_guard lock(mutex_);
      (priority ? hashJobs_ : otherJobs_).push_back(std::move(job));
    }
    wake_.notify_one();
  }

  void emit(const FileRule& rule, FileObservation&& obs) {
    if (auto* p = scanner_.options_.progress) p->entries.fetch_add(1, std::memory_order_relaxed);
    sink_.onFile(rule, std::move(obs));
  }

  void run(RootJob& job, ContentReader& reader) {
    const FileRule& rule = *job.rule;
    FileObservation obs = observePath(scanner_.root_, scanner_.options_, job.path, rule, &reader);
    bool descend =
        rule.recursive && obs.presence == Presence::kPresent && obs.attrs.type == FileType::kDir;
    if (descend) {
      // The directory may be a pseudo file system mount (a rule on /proc).
      auto parent = scanner_.root_.openDir(dirName(job.path));
      const std::string fsType =
          parent.ok()
              ? pseudoFileSystem(parent->get(),
                                 std::string(job.path == "/" ? "." : baseName(job.path)).c_str())
              : std::string();
      if (!fsType.empty()) {
        sink_.onNotDescended(rule, job.path, notDescendedReason(fsType));
        descend = false;
      }
    }
    emit(rule, std::move(obs));
    if (descend) push(DirJob{&rule, std::move(job.path)}, false);
  }

  void run(DirJob& job, ContentReader& reader) {
    const FileRule& rule = *job.rule;
    auto opened = scanner_.root_.openDir(job.path);
    if (!opened.ok()) {
      // ENOENT: the directory went away after it was listed; its entries are gone too.
      if (opened.error().code != ErrorCode::kNotFound) {
        sink_.onListingError(rule, job.path, opened.error().message);
      }
      return;
    }
    auto dir = std::make_shared<UniqueFd>(std::move(opened).value());
    // Walking (stat calls) counts against the CPU share too, not only hashing.
    if (scanner_.options_.cpu != nullptr) scanner_.options_.cpu->checkpoint();
    sink_.onEnterDirectory(rule, job.path, dir->get());
    struct stat self {};
    const bool haveSelf = ::fstat(dir->get(), &self) == 0;
    HashJob batch{&rule, dir, {}};
    uint64_t batchBytes = 0;
    auto buffer = std::make_unique<char[]>(kDirentBufferBytes);
    while (true) {
      const ssize_t n = ::getdents64(dir->get(), buffer.get(), kDirentBufferBytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        sink_.onListingError(rule, job.path,
                             osError(errno, "cannot list the directory", "").message);
        break;
      }
      if (n == 0) break;
      for (ssize_t offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const struct dirent64*>(buffer.get() + offset);
        offset += entry->d_reclen;
        const std::string_view name(entry->d_name);
        if (name == "." || name == "..") continue;
        FileObservation obs;
        obs.path = joinPath(job.path, name);
        struct stat st {};
        if (!statAt(dir->get(), entry->d_name, obs, st)) {
          if (obs.presence == Presence::kAbsent) continue;  // vanished since the listing
          emit(rule, std::move(obs));
          continue;
        }
        const bool isDir = S_ISDIR(st.st_mode);
        if (rule.ignore.ignores(policy::relativeTo(rule.path, obs.path), isDir)) continue;
        const FileRule* other = scanner_.index_.ruleAt(obs.path);
        // Another rule owns this path: a recursive one walks it itself; below a single-path
        // rule the entries are still ours.
        const bool ours = other == nullptr || other == &rule;
        if (isDir && (ours || !other->recursive)) {
          // A mount point: make sure it is not a pseudo file system before walking into it.
          const std::string fsType = haveSelf && st.st_dev != self.st_dev
                                         ? pseudoFileSystem(dir->get(), entry->d_name)
                                         : std::string();
          if (fsType.empty()) {
            push(DirJob{&rule, obs.path}, false);
          } else {
            sink_.onNotDescended(rule, obs.path, notDescendedReason(fsType));
          }
        }
        if (!ours) continue;
        if (obs.attrs.type == FileType::kSymlink) readTarget(dir->get(), name, st.st_size, obs);
        if (obs.attrs.type == FileType::kFile && rule.needsHash()) {
          batchBytes += obs.attrs.size;
          batch.files.push_back(std::move(obs));
          if (batch.files.size() >= kBatchFiles || batchBytes >= kBatchBytes) {
            push(std::move(batch), true);
            batch = HashJob{&rule, dir, {}};
            batchBytes = 0;
          }
          continue;
        }
        emit(rule, std::move(obs));
      }
    }
    // The last batch is hashed right here: it is usually small, and this thread is free.
    if (!batch.files.empty()) run(batch, reader);
  }

  void run(HashJob& job, ContentReader& reader) {
    for (FileObservation& obs : job.files) {
      reader.hash(job.dir->get(), *job.rule, obs, scanner_.options_);
      emit(*job.rule, std::move(obs));
    }
  }

  const FileScanner& scanner_;
  FileObservationSink& sink_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> hashJobs_;    // guarded by mutex_
  std::deque<Job> otherJobs_;   // guarded by mutex_
  int active_ = 0;              // guarded by mutex_
  std::exception_ptr failure_;  // guarded by mutex_
};

FileScanner::FileScanner(const RootFs& root, const policy::FileRuleIndex& index,
                         ScanOptions options)
    : root_(root), index_(index), options_(options) {}

void FileScanner::scan(const std::vector<const FileRule*>& rules, FileObservationSink& sink) {
  Run run(*this, sink);
  run.start(rules);
  runJobs(run);
}

void FileScanner::scanFrom(const std::string& path, const FileRule& rule,
                           FileObservationSink& sink) {
  Run run(*this, sink);
  run.startFrom(path, rule);
  runJobs(run);
}

void FileScanner::runJobs(Run& run) {
  unsigned threads = options_.threads != 0 ? options_.threads : std::thread::hardware_concurrency();
  threads = std::clamp(threads, 1u, 64u);
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i)
    helpers.emplace_back([&run] { run.work(); });
  run.work();
  for (auto& t : helpers)
    t.join();
}

FileObservation statPath(const RootFs& root, std::string_view path) {
  static const FileRule kStatOnly{};  // no sha256, no content: nothing is read
  return observePath(root, ScanOptions{}, path, kStatOnly, nullptr);
}

FileObservation FileScanner::observe(std::string_view path, const FileRule& rule) const {
  // One reader (digest context and 256 KiB buffer) per thread, not one per call: the daemon
  // observes single paths all day long.
  thread_local ContentReader reader;
  return observePath(root_, options_, path, rule, &reader);
}

}  // namespace driftwatch::agent
