#include "agent/collectors/root_fs.h"

#include <cerrno>

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/strings.h"

namespace driftwatch::agent {

std::string_view baseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view dirName(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

namespace {

long openat2(int dirFd, const char* path, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, dirFd, path, &how, sizeof how);
}

}  // namespace

Result<RootFs> RootFs::open(const std::string& rootPath) {
  UniqueFd fd(::open(rootPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return osError(errno, "cannot open the root directory", rootPath);
  std::string normalized = rootPath;
  while (normalized.size() > 1 && normalized.back() == '/')
    normalized.pop_back();
  // Kernels before 5.6 lack openat2 (ENOSYS); seccomp filters written before it (older
  // container runtimes, SystemCallFilter=) refuse it with EPERM. Probe once.
  UniqueFd probe(static_cast<int>(openat2(fd.get(), ".", O_PATH)));
  const bool haveOpenat2 = probe.valid() || (errno != ENOSYS && errno != EPERM);
  return RootFs(std::move(normalized), std::move(fd), haveOpenat2);
}

std::string RootFs::hostPath(std::string_view path) const {
  if (isLiveHost()) return escapeBytes(path);
  return escapeBytes(rootPath_) + escapeBytes(path);
}

int RootFs::openBeneath(std::string_view path, int flags) const {
  std::string relative(path.starts_with('/') ? path.substr(1) : path);
  if (relative.empty()) relative = ".";
  if (haveOpenat2_) return static_cast<int>(openat2(fd_.get(), relative.c_str(), flags));

  // Without openat2: walk component by component, refusing symlinks at every step, and
  // refusing "." and ".." outright so that no path can climb out of the root.
  UniqueFd dir(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return -1;
  const auto parts = split(relative, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string part(parts[i]);
    if (part.empty() || part == ".." || (part == "." && parts.size() > 1)) {
      errno = EXDEV;
      return -1;
    }
    const bool last = i + 1 == parts.size();
    const int f =
        last ? (flags | O_CLOEXEC | O_NOFOLLOW) : (O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    UniqueFd next(::openat(dir.get(), part.c_str(), f));
    if (!next.valid()) {
      // A symlink in the middle shows up as ENOTDIR with O_DIRECTORY|O_NOFOLLOW.
      if (!last && errno == ENOTDIR) {
        struct stat st {};
        if (::fstatat(dir.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          errno = ELOOP;
        }
      }
      return -1;
    }
    dir = std::move(next);
  }
  return dir.release();
}

Error RootFs::resolveError(int errnum, std::string_view what, std::string_view path) const {
  // ENOTDIR: a symlink where a directory was expected, with O_PATH|O_NOFOLLOW.
  if (errnum == ELOOP || errnum == EXDEV || errnum == ENOTDIR) {
    // Find the first component that is a symlink, to name it and its target.
    std::string prefix;
    for (const auto part : split(path.substr(path.starts_with('/') ? 1 : 0), '/')) {
      if (part.empty()) continue;
      prefix += '/';
      prefix += part;
      UniqueFd parent(openBeneath(dirName(prefix), O_RDONLY | O_DIRECTORY));
      if (!parent.valid()) break;
      char target[4096];
      const ssize_t n =
          ::readlinkat(parent.get(), std::string(baseName(prefix)).c_str(), target, sizeof target);
      if (n >= 0) {
        return makeError(
            ErrorCode::kInvalidInput,
            std::string(what) + ": " + escapeBytes(prefix) + " is a symlink (to " +
                escapeBytes(std::string_view(target, static_cast<size_t>(n))) +
                "); driftwatch does not follow symlinks in a path, write the real path",
            hostPath(path));
      }
    }
    if (errnum != ENOTDIR) {
      return makeError(
          ErrorCode::kInvalidInput,
          std::string(what) + ": the path runs through a symlink, which driftwatch does not follow",
          hostPath(path));
    }
  }
  return osError(errnum, what, hostPath(path));
}

Result<UniqueFd> RootFs::openDir(std::string_view path) const {
  UniqueFd fd(openBeneath(path, O_RDONLY | O_DIRECTORY));
  if (!fd.valid()) return resolveError(errno, "cannot open the directory", path);
  return fd;
}

Result<std::vector<RootFs::DirEntry>> RootFs::listDir(std::string_view path) const {
  auto dir = openDir(path);
  if (!dir.ok()) return dir.error();
  return listDirAt(dir->get(), path);
}

Result<std::vector<RootFs::DirEntry>> RootFs::listDirAt(int dirFd, std::string_view path) const {
  std::vector<DirEntry> entries;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::getdents64(dirFd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError(errno, "cannot list the directory", hostPath(path));
    }
    if (n == 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(buffer + offset);
      offset += entry->d_reclen;
      const std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      entries.push_back({std::string(name), entry->d_type});
    }
  }
  return entries;
}

RegularFile openRegularAt(int dirFd, const char* name, int flags) {
  RegularFile out;
  const int readFlags = O_RDONLY | O_NOCTTY | O_CLOEXEC | flags;
  UniqueFd pinned(::openat(dirFd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!pinned.valid() || ::fstat(pinned.get(), &out.st) != 0) {
    out.error = errno;
    return out;
  }
  if (!S_ISREG(out.st.st_mode)) {
    out.notRegular = true;
    out.error = EINVAL;
    return out;
  }
  const std::string viaProc = "/proc/self/fd/" + std::to_string(pinned.get());
  const auto reopen = [&](int f) { return UniqueFd(::open(viaProc.c_str(), f)); };
  UniqueFd fd = reopen(readFlags);
  if (!fd.valid() && errno == EPERM && (flags & O_NOATIME) != 0)
    fd = reopen(readFlags & ~O_NOATIME);
  if (!fd.valid() && errno == ENOENT) {
    // No /proc (a bare chroot): open the name again, without blocking, and make sure it is
    // still the file we checked.
    fd.reset(::openat(dirFd, name, readFlags | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid() && errno == EPERM && (flags & O_NOATIME) != 0) {
      fd.reset(::openat(dirFd, name, (readFlags & ~O_NOATIME) | O_NOFOLLOW | O_NONBLOCK));
    }
    struct stat now {};
    if (fd.valid() && (::fstat(fd.get(), &now) != 0 || now.st_ino != out.st.st_ino ||
                       now.st_dev != out.st.st_dev)) {
      fd.reset();
      errno = ESTALE;
    }
    if (fd.valid()) ::fcntl(fd.get(), F_SETFL, 0);
  }
  if (!fd.valid()) {
    out.error = errno;
    return out;
  }
  out.fd = std::move(fd);
  return out;
}

Result<UniqueFd> RootFs::openRegular(std::string_view path) const {
  UniqueFd parent(openBeneath(dirName(path), O_PATH | O_DIRECTORY));
  if (!parent.valid()) return resolveError(errno, "cannot open", path);
  RegularFile file = openRegularAt(parent.get(), std::string(baseName(path)).c_str(), 0);
  if (file.notRegular)
    return makeError(ErrorCode::kInvalidInput, "not a regular file", hostPath(path));
  if (!file.fd.valid()) return resolveError(file.error, "cannot open", path);
  return std::move(file.fd);
}

Result<std::string> RootFs::readFile(std::string_view path, size_t maxBytes) const {
  auto opened = openRegular(path);
  if (!opened.ok()) return opened.error();
  UniqueFd fd = std::move(opened).value();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return osError(errno, "cannot stat", hostPath(path));
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    return makeError(ErrorCode::kInvalidInput, "larger than " + std::to_string(maxBytes) + " bytes",
                     hostPath(path));
  }
  return readToEnd(fd.get(), static_cast<size_t>(st.st_size), maxBytes, hostPath(path));
}

}  // namespace driftwatch::agent
