#include "tests/support/temp_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace driftwatch::testing {
namespace {

[[noreturn]] void die(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

void makeParents(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir", dir);
  }
}

}  // namespace

bool runningAsRoot() {
  return ::geteuid() == 0;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/driftwatch-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) die("mkdtemp", pattern);
  path_ = buffer.data();
  // World-readable so that tests may run the agent as another user.
  (void)!::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  removeTree(path_);
}

std::string TempDir::at(std::string_view relative) const {
  if (relative.empty()) return path_;
  std::string out = path_;
  if (relative.front() != '/') out += '/';
  out += relative;
  return out;
}

void TempDir::write(std::string_view relative, std::string_view content, mode_t mode) const {
  const std::string p = at(relative);
  makeParents(p);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) die("open", p);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      ::close(fd);
      die("write", p);
    }
    done += static_cast<size_t>(n);
  }
  (void)!::fchmod(fd, mode);
  ::close(fd);
}

void TempDir::mkdir(std::string_view relative, mode_t mode) const {
  const std::string p = at(relative);
  makeParents(p);
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) die("mkdir", p);
  (void)!::chmod(p.c_str(), mode);
}

void TempDir::symlink(std::string_view relative, std::string_view target) const {
  const std::string p = at(relative);
  makeParents(p);
  if (::symlink(std::string(target).c_str(), p.c_str()) != 0) die("symlink", p);
}

void TempDir::remove(std::string_view relative) const {
  removeTree(at(relative));
}

std::string TempDir::read(std::string_view relative) const {
  std::ifstream in(at(relative), std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// Removes `name` in `dirFd` and everything below it, never following symlinks; directories a
// test made unreadable are opened up first.
void removeAt(int dirFd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlinkat(dirFd, name.c_str(), 0);
    return;
  }
  (void)!::fchmodat(dirFd, name.c_str(), 0700, 0);  // best effort: removal reports nothing
  const int fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    std::vector<std::string> children;
    if (DIR* dir = ::fdopendir(fd)) {
      while (const dirent* e = ::readdir(dir)) {
        const std::string child = e->d_name;
        if (child != "." && child != "..") children.push_back(child);
      }
      for (const auto& child : children)
        removeAt(::dirfd(dir), child);
      ::closedir(dir);
    } else {
      ::close(fd);
    }
  }
  ::unlinkat(dirFd, name.c_str(), AT_REMOVEDIR);
}

}  // namespace

void removeTree(const std::string& path) {
  removeAt(AT_FDCWD, path);
}

}  // namespace driftwatch::testing
