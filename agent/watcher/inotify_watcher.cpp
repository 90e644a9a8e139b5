#include <cerrno>
#include <cstring>

#include <sys/inotify.h>
#include <unistd.h>

#include "agent/watcher/watcher.h"

namespace driftwatch::agent {

uint32_t InotifyWatcher::watchMask() {
  // IN_ONLYDIR: the watch can never land on a file swapped in for the directory.
  // IN_EXCL_UNLINK: no events from files already unlinked but still open.
  return IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
}

Result<std::unique_ptr<InotifyWatcher>> InotifyWatcher::create(EventLoop& loop, Handler handler) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return osError(errno, "cannot create an inotify instance", "inotify");
  std::unique_ptr<InotifyWatcher> watcher(
      new InotifyWatcher(std::move(fd), loop, std::move(handler)));
  if (auto s = watcher->readable_->start(); !s.ok()) return s.error();
  return watcher;
}

InotifyWatcher::InotifyWatcher(UniqueFd fd, EventLoop& loop, Handler handler)
    : fd_(std::move(fd)), handler_(std::move(handler)), buffer_(256 * 1024) {
  readable_ = std::make_unique<FdWatch>(loop, fd_.get(), [this](int) { drain(); });
}

InotifyWatcher::~InotifyWatcher() {
  readable_.reset();
}

Result<int> InotifyWatcher::addWatch(int dirFd) {
  // Through /proc/self/fd: the directory was opened without following symlinks, and the watch
  // must land on exactly that inode, not on whatever a path names now.
  const std::string path = "/proc/self/fd/" + std::to_string(dirFd);
  const int wd = ::inotify_add_watch(fd_.get(), path.c_str(), watchMask());
  if (wd < 0) return osError(errno, "cannot watch the directory", "inotify");
  return wd;
}

void InotifyWatcher::removeWatch(int wd) {
  ::inotify_rm_watch(fd_.get(), wd);
}

void InotifyWatcher::drain() {
  // Read everything there is now: the kernel queue is bounded (max_queued_events) and a slow
  // reader is what makes it overflow.
  std::vector<WatchEvent> events;
  while (true) {
    const ssize_t n = ::read(fd_.get(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: drained
    }
    if (n == 0) break;
    for (ssize_t offset = 0; offset < n;) {
      inotify_event raw{};
      std::memcpy(&raw, buffer_.data() + offset, sizeof raw);
      WatchEvent event;
      event.wd = raw.wd;
      event.mask = raw.mask;
      if (raw.len > 0) {
        const char* name = buffer_.data() + offset + sizeof(inotify_event);
        event.name.assign(name, ::strnlen(name, raw.len));
      }
      events.push_back(std::move(event));
      offset += static_cast<ssize_t>(sizeof(inotify_event) + raw.len);
    }
  }
  if (!events.empty()) handler_(events);
}

}  // namespace driftwatch::agent
