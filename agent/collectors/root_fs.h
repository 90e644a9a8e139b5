#pragma once
// The observed file system: the live host ("/") or a host mounted somewhere else (--root DIR:
// a chroot, a disk image, a test fixture). Every path a policy names is resolved inside the
// root without following any symlink, in any component: a symlink in an image pointing at
// "/etc" must not make the check read the machine's own /etc, and a policy path that runs
// through a symlink is reported, not silently redirected.
// The root directory is opened once; methods are const and safe from several threads.

#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

#include "common/base/result.h"
#include "common/base/unique_fd.h"

namespace driftwatch::agent {

class RootFs {
 public:
  // Opens the root directory (the user named it, so a symlink there is followed).
  static Result<RootFs> open(const std::string& rootPath);

  // "/" for the live host, else the directory given.
  const std::string& rootPath() const { return rootPath_; }
  bool isLiveHost() const { return rootPath_ == "/"; }
  int fd() const { return fd_.get(); }

  // Opens the directory at `path` (absolute inside the root) for reading. ELOOP-style
  // failures name the component that is a symlink.
  Result<UniqueFd> openDir(std::string_view path) const;

  struct DirEntry {
    std::string name;
    unsigned char type;  // DT_* from the listing (DT_UNKNOWN on some file systems)
  };
  // Lists a directory inside the root (without "." and "..").
  Result<std::vector<DirEntry>> listDir(std::string_view path) const;
  // Lists an already open directory; `path` (inside the root) is for messages.
  Result<std::vector<DirEntry>> listDirAt(int dirFd, std::string_view path) const;

  // Reads a regular file inside the root (not a symlink, FIFO or device), at most maxBytes.
  Result<std::string> readFile(std::string_view path, size_t maxBytes) const;

  // Opens a regular file inside the root for reading; anything else (a device, a FIFO, a
  // symlink) is refused without being opened.
  Result<UniqueFd> openRegular(std::string_view path) const;

  // Where `path` is on the machine running the check, for messages ("/mnt/img/etc/passwd").
  std::string hostPath(std::string_view path) const;

  // Explains an error from resolving `path`: which component is a symlink, and where to.
  Error resolveError(int errnum, std::string_view what, std::string_view path) const;

 private:
  RootFs(std::string rootPath, UniqueFd fd, bool haveOpenat2)
      : rootPath_(std::move(rootPath)), fd_(std::move(fd)), haveOpenat2_(haveOpenat2) {}

  // openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to the root, or a walk that refuses
  // symlinks component by component where openat2 is missing or filtered; -1 and errno.
  int openBeneath(std::string_view path, int flags) const;

  std::string rootPath_;
  UniqueFd fd_;
  bool haveOpenat2_ = true;
};

// The outcome of opening a directory entry that must be a regular file.
struct RegularFile {
  UniqueFd fd;              // valid on success
  struct stat st {};        // of the opened file (on success or when notRegular)
  int error = 0;            // errno of the failure, 0 on success
  bool notRegular = false;  // the entry exists but is not a regular file: nothing was opened
};

// Opens `name` in `dirFd` for reading only if it is a regular file. The entry is pinned with
// O_PATH (which opens nothing), checked with fstat, then reopened through /proc/self/fd, so a
// device or FIFO is never opened, not even one swapped in a moment earlier. Without /proc
// mounted it falls back to a non-blocking open checked with fstat afterwards. `flags` may add
// O_NOATIME (retried without it when the kernel refuses).
RegularFile openRegularAt(int dirFd, const char* name, int flags);

// The final component of an absolute path ("/etc/motd" -> "motd", "/" -> "").
std::string_view baseName(std::string_view path);
// The directory part ("/etc/motd" -> "/etc", "/etc" -> "/", "/" -> "/").
std::string_view dirName(std::string_view path);

}  // namespace driftwatch::agent
