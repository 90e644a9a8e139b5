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

Result<RootFs> RootFs::open(const std::string& rootPath) {
  UniqueFd fd(::open(rootPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return osError(errno, "cannot open the root directory", rootPath);
  std::string normalized = rootPath;
  while (normalized.size() > 1 && normalized.back() == '/')
    normalized.pop_back();
  return RootFs(std::move(normalized), std::move(fd));
}

std::string RootFs::hostPath(std::string_view path) const {
  if (isLiveHost()) return escapeBytes(path);
  return escapeBytes(rootPath_) + escapeBytes(path);
}

int RootFs::openBeneath(std::string_view path, int flags) const {
  std::string relative(path.starts_with('/') ? path.substr(1) : path);
  if (relative.empty()) relative = ".";
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, fd_.get(), relative.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);

  // Kernels before 5.6: walk component by component, refusing symlinks at every step.
  UniqueFd dir(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return -1;
  const auto parts = split(relative, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string part(parts[i]);
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
  if (errnum == ELOOP || errnum == EXDEV) {
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
    return makeError(
        ErrorCode::kInvalidInput,
        std::string(what) + ": the path runs through a symlink, which driftwatch does not follow",
        hostPath(path));
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
  std::vector<DirEntry> entries;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::getdents64(dir->get(), buffer, sizeof buffer);
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

Result<std::string> RootFs::readFile(std::string_view path, size_t maxBytes) const {
  UniqueFd fd(openBeneath(path, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return resolveError(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return osError(errno, "cannot stat", hostPath(path));
  if (!S_ISREG(st.st_mode)) {
    return makeError(ErrorCode::kInvalidInput, "not a regular file", hostPath(path));
  }
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    return makeError(ErrorCode::kInvalidInput, "larger than " + std::to_string(maxBytes) + " bytes",
                     hostPath(path));
  }
  return readToEnd(fd.get(), static_cast<size_t>(st.st_size), maxBytes, hostPath(path));
}

}  // namespace driftwatch::agent
