#include "common/base/file_io.h"

#include <cerrno>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/unique_fd.h"

namespace driftwatch {

namespace {

// Opens `path` for reading if it is a regular file within `maxBytes`; its size in `size`.
Result<UniqueFd> openRegularFile(const std::string& path, size_t maxBytes, std::string_view what,
                                 size_t& size) {
  const std::string verb = "cannot open the " + std::string(what);
  // O_NONBLOCK so that a FIFO given by mistake does not hang the open; cleared below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return osError(errno, verb, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return osError(errno, verb, path);
  if (!S_ISREG(st.st_mode)) {
    return makeError(ErrorCode::kInvalidInput,
                     "the " + std::string(what) + " is not a regular file", path);
  }
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    return makeError(
        ErrorCode::kInvalidInput,
        "the " + std::string(what) + " is larger than " + std::to_string(maxBytes >> 20) + " MiB",
        path);
  }
  ::fcntl(fd.get(), F_SETFL, 0);
  size = static_cast<size_t>(st.st_size);
  return fd;
}

}  // namespace

Result<std::string> readRegularFile(const std::string& path, size_t maxBytes,
                                    std::string_view what) {
  size_t size = 0;
  auto fd = openRegularFile(path, maxBytes, what, size);
  if (!fd.ok()) return fd.error();
  return readToEnd(fd->get(), size, maxBytes, path);
}

Status forEachLineOfRegularFile(const std::string& path, size_t maxBytes, std::string_view what,
                                const std::function<Status(std::string_view line)>& onLine,
                                size_t maxLineBytes) {
  size_t size = 0;
  auto fd = openRegularFile(path, maxBytes, what, size);
  if (!fd.ok()) return fd.error();
  constexpr size_t kChunk = 256 * 1024;
  std::string buffer;  // a partial line carried over, then the next chunk
  size_t total = 0;
  int lineNo = 0;
  while (true) {
    const size_t carried = buffer.size();
    buffer.resize(carried + kChunk);
    const ssize_t n = ::read(fd->get(), buffer.data() + carried, kChunk);
    if (n < 0) {
      buffer.resize(carried);
      if (errno == EINTR) continue;
      return osError(errno, "cannot read", path);
    }
    buffer.resize(carried + static_cast<size_t>(n));
    total += static_cast<size_t>(n);
    if (total > maxBytes) {
      return makeError(ErrorCode::kInvalidInput,
                       "larger than the limit of " + std::to_string(maxBytes) + " bytes", path);
    }
    const std::string_view text(buffer);
    size_t start = 0;
    for (size_t end = text.find('\n'); end != std::string_view::npos;
         end = text.find('\n', start)) {
      ++lineNo;
      if (auto s = onLine(text.substr(start, end - start)); !s.ok()) return s;
      start = end + 1;
    }
    buffer.erase(0, start);
    if (n == 0) {
      if (!buffer.empty()) return onLine(buffer);
      return {};
    }
    if (buffer.size() > maxLineBytes) {
      return makeError(ErrorCode::kInvalidInput,
                       "line " + std::to_string(lineNo + 1) + " is longer than " +
                           std::to_string(maxLineBytes) + " bytes",
                       path);
    }
  }
}

Result<std::string> readToEnd(int fd, size_t sizeHint, size_t maxBytes, const std::string& path) {
  std::string content;
  content.resize(std::min(sizeHint, maxBytes));
  size_t used = 0;
  while (true) {
    if (used == content.size()) {
      if (content.size() > maxBytes) break;
      content.resize(std::min(maxBytes + 1, content.size() + 65536));
    }
    const ssize_t n = ::read(fd, content.data() + used, content.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError(errno, "cannot read", path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > maxBytes) {
    return makeError(ErrorCode::kInvalidInput,
                     "larger than the limit of " + std::to_string(maxBytes) + " bytes", path);
  }
  content.resize(used);
  return content;
}

Status writeFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::random_device rd;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return osError(errno, "cannot create a temporary file", tmp);
  const auto failWith = [&](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failWith(osError(errno, "cannot write", tmp));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return failWith(osError(errno, "cannot set the mode of", tmp));
  if (::fsync(fd.get()) != 0) return failWith(osError(errno, "cannot flush", tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return failWith(osError(errno, "cannot replace", path));
  UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirFd.valid()) ::fsync(dirFd.get());  // best effort: the rename itself is already done
  return {};
}

}  // namespace driftwatch
