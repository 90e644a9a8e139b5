#include "agent/collectors/file_scanner.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
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

int64_t nanos(const struct timespec& ts) {
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
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
  obs.stamp.mtime_ns = nanos(st.st_mtim);
  obs.stamp.ctime_ns = nanos(st.st_ctim);
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
    constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    // O_NOATIME keeps the scan from dirtying inodes; the kernel allows it only to the owner.
    UniqueFd fd(::openat(dirFd, name.c_str(), kFlags | O_NOATIME));
    if (!fd.valid() && errno == EPERM) fd.reset(::openat(dirFd, name.c_str(), kFlags));
    if (!fd.valid()) {
      const int err = errno;
      if (err == ENOENT) {
        // Deleted between the directory listing and now: it is gone.
        FileObservation gone;
        gone.path = std::move(obs.path);
        gone.presence = Presence::kAbsent;
        obs = std::move(gone);
        return;
      }
      obs.failed |= bit(Attr::kSha256);
      if (err == ELOOP) {
        addError(obs, "replaced by a symlink during the scan: not read");
      } else {
        addError(obs, osError(err, "cannot open", "").message);
      }
      return;
    }
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0 || !S_ISREG(before.st_mode) ||
        before.st_ino != obs.stamp.ino || before.st_dev != obs.stamp.dev) {
      // Never read something that is not the regular file we stat'ed (FIFO, device, or a
      // different file renamed into place).
      obs.failed |= bit(Attr::kSha256);
      addError(obs, "replaced during the scan: not read; run the check again");
      return;
    }
    if (before.st_size >= 1 << 20) ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    const bool capture = rule.content.has_value() &&
                         static_cast<uint64_t>(before.st_size) <= options.contentCaptureBytes;
    std::string captured;
    sha_.reset();
    uint64_t total = 0;
    while (true) {
      const ssize_t n = ::read(fd.get(), buffer_.get(), kReadBufferBytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        obs.failed |= bit(Attr::kSha256);
        addError(obs, osError(errno, "cannot read", "").message);
        return;
      }
      if (n == 0) break;
      sha_.update(buffer_.get(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
      if (capture && captured.size() <= options.contentCaptureBytes) {
        captured.append(buffer_.get(), static_cast<size_t>(n));
      }
    }
    const Sha256Digest digest = sha_.finish();
    if (options.progress != nullptr)
      options.progress->bytesHashed.fetch_add(total, std::memory_order_relaxed);
    struct stat after {};
    if (::fstat(fd.get(), &after) != 0 || after.st_size != before.st_size ||
        nanos(after.st_mtim) != nanos(before.st_mtim) ||
        total != static_cast<uint64_t>(after.st_size)) {
      obs.failed |= bit(Attr::kSha256);
      addError(obs, "changed while being read; run the check again");
      return;
    }
    // The open file is the truth: take its stat data (it may differ from the listing's).
    fillFromStat(after, obs);
    obs.attrs.sha256 = digest;
    obs.attrs.mask |= bit(Attr::kSha256);
    if (capture && captured.size() <= options.contentCaptureBytes)
      obs.content = std::move(captured);
  }

 private:
  Sha256 sha_;
  std::unique_ptr<char[]> buffer_;
};

void readTarget(int dirFd, std::string_view name, FileObservation& obs) {
  // st_size of a symlink is its target length; loop in case it changes under us.
  std::string buffer(std::max<size_t>(256, static_cast<size_t>(obs.attrs.size) + 1), '\0');
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

// Observes one path: lstat through a directory opened without following symlinks, then the
// target or the content as the rule asks.
FileObservation observePath(const RootFs& root, const ScanOptions& options, std::string_view path,
                            const FileRule& rule, ContentReader& reader) {
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
  if (obs.attrs.type == FileType::kSymlink) readTarget(parent->get(), name, obs);
  if (obs.attrs.type == FileType::kFile && rule.needsHash())
    reader.hash(parent->get(), rule, obs, options);
  return obs;
}

}  // namespace

// ---- one scan: job queue and workers ----------------------------------------------------

class FileScanner::Run {
 public:
  Run(const FileScanner& scanner, FileObservationSink& sink) : scanner_(scanner), sink_(sink) {}

  void start(const std::vector<const FileRule*>& rules) {
    for (const FileRule* rule : rules)
      otherJobs_.push_back(RootJob{rule});
  }

  void work() {
    ContentReader reader;
    while (true) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !hashJobs_.empty() || !otherJobs_.empty() || active_ == 0; });
        if (hashJobs_.empty() && otherJobs_.empty()) {
          wake_.notify_all();
          return;  // nothing queued and nobody working: the scan is complete
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
      std::visit([&](auto& j) { run(j, reader); }, job);
      {
        std::lock_guard lock(mutex_);
        --active_;
      }
      wake_.notify_all();
    }
  }

 private:
  struct RootJob {
    const FileRule* rule;
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
    FileObservation obs = observePath(scanner_.root_, scanner_.options_, rule.path, rule, reader);
    const bool descend =
        rule.recursive && obs.presence == Presence::kPresent && obs.attrs.type == FileType::kDir;
    emit(rule, std::move(obs));
    if (descend) push(DirJob{&rule, rule.path}, false);
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
        if (const FileRule* other = scanner_.index_.ruleAt(obs.path);
            other != nullptr && other != &rule) {
          // Another rule owns this path: a recursive one walks it itself; below a
          // single-path rule the entries are still ours.
          if (!other->recursive && isDir) push(DirJob{&rule, std::move(obs.path)}, false);
          continue;
        }
        if (isDir) push(DirJob{&rule, obs.path}, false);
        if (obs.attrs.type == FileType::kSymlink) readTarget(dir->get(), name, obs);
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
  std::deque<Job> hashJobs_;   // guarded by mutex_
  std::deque<Job> otherJobs_;  // guarded by mutex_
  int active_ = 0;             // guarded by mutex_
};

FileScanner::FileScanner(const RootFs& root, const policy::FileRuleIndex& index,
                         ScanOptions options)
    : root_(root), index_(index), options_(options) {}

void FileScanner::scan(const std::vector<const FileRule*>& rules, FileObservationSink& sink) {
  Run run(*this, sink);
  run.start(rules);
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

FileObservation FileScanner::observe(std::string_view path, const FileRule& rule) const {
  ContentReader reader;
  return observePath(root_, options_, path, rule, reader);
}

}  // namespace driftwatch::agent
