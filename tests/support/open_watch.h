#pragma once
// Proof that a file was never opened: every open(2) of a watched path shows up as IN_OPEN on
// an inotify descriptor, so a test can assert "not opened" instead of assuming it.

#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include <sys/inotify.h>
#include <unistd.h>

#include "common/base/unique_fd.h"

namespace driftwatch::testing {

class OpenWatch {
 public:
  OpenWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  void watch(const std::string& path) {
    const int wd =
        ::inotify_add_watch(fd_.get(), path.c_str(), IN_OPEN | IN_ACCESS | IN_DONT_FOLLOW);
    if (wd < 0) throw std::runtime_error("inotify_add_watch " + path);
    names_[wd] = path;
  }
  std::set<std::string> opened() {
    std::set<std::string> out;
    alignas(inotify_event) char buffer[4096];
    while (true) {
      const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buffer + off);
        out.insert(names_[ev->wd]);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    return out;
  }

 private:
  UniqueFd fd_;
  std::map<int, std::string> names_;
};

}  // namespace driftwatch::testing
