#pragma once
// A one-line progress display on stderr ("scanning: 12,345 entries, 1.2 GiB hashed") for long
// scans, shown only when stderr is a terminal and only after the first half second, so short
// runs and pipelines see nothing. Owns a thread that redraws every 200 ms; the destructor
// stops it and erases the line.

#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/collectors/file_scanner.h"

namespace driftwatch::agent {

class ProgressLine {
 public:
  ProgressLine(const ScanProgress& progress, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  void loop();

  const ScanProgress& progress_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;  // guarded by mutex_
  bool drawn_ = false;     // only touched by the thread
  std::thread thread_;
};

}  // namespace driftwatch::agent
