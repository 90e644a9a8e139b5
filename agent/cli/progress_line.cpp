#include "agent/cli/progress_line.h"

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace driftwatch::agent {
namespace {

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

std::string bytes(uint64_t n) {
  char buf[32];
  if (n >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(n) / (1 << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  }
  return buf;
}

}  // namespace

ProgressLine::ProgressLine(const ScanProgress& progress, bool enabled) : progress_(progress) {
  if (enabled) thread_ = std::thread([this] { loop(); });
}

ProgressLine::~ProgressLine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressLine::loop() {
  using namespace std::chrono_literals;
  std::unique_lock lock(mutex_);
  if (stop_.wait_for(lock, 500ms, [&] { return stopping_; })) return;
  while (true) {
    const std::string line = "\rscanning: " + grouped(progress_.entries.load()) + " entries, " +
                             bytes(progress_.bytesHashed.load()) + " hashed\033[K";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
    if (stop_.wait_for(lock, 200ms, [&] { return stopping_; })) break;
  }
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

}  // namespace driftwatch::agent
