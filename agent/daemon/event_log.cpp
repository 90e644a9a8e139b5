#include "agent/daemon/event_log.h"

#include <cerrno>
#include <chrono>
#include <ctime>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "common/base/escape.h"

namespace driftwatch::agent {
namespace {

Status writeAll(int fd, std::string_view data, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError(errno, "cannot write", what);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

std::string eventTime() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf, static_cast<int>(ms));
  return out;
}

Result<EventLog> EventLog::open(const std::string& eventsFile) {
  if (eventsFile.empty()) return EventLog(UniqueFd());
  UniqueFd fd(::open(eventsFile.c_str(),
                     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640));
  if (!fd.valid()) return osError(errno, "cannot open the events file", eventsFile);
  return EventLog(std::move(fd));
}

Status EventLog::write(std::string_view line) {
  std::string text(line);
  text += '\n';
  (void)writeAll(STDERR_FILENO, text, "stderr");  // a closed stderr must not stop the agent
  if (file_.valid()) return writeAll(file_.get(), text, "the events file");
  return {};
}

void EventLog::log(std::string_view level, std::string_view message) {
  nlohmann::ordered_json j = {
      {"time", eventTime()}, {"level", std::string(level)}, {"message", displaySafe(message)}};
  (void)write(j.dump());
}

}  // namespace driftwatch::agent
