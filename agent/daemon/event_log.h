#pragma once
// Where the daemon speaks: one JSON object per line on stderr (journald keeps it) and, when
// configured, appended to an events file. Drift and coverage events come from the state
// database's event queue (written in the same transaction as the change); log records (start,
// reload, errors) are written directly. Loop thread only.

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/base/unique_fd.h"

namespace driftwatch::agent {

class EventLog {
 public:
  // `eventsFile` empty: stderr only. The file is created 0640 and appended to.
  static Result<EventLog> open(const std::string& eventsFile);

  // Writes one line (a JSON object, without the newline) to stderr and the events file.
  Status write(std::string_view line);
  // A log record: {"time":..., "level":..., "message":...}.
  void log(std::string_view level, std::string_view message);

 private:
  explicit EventLog(UniqueFd file) : file_(std::move(file)) {}
  UniqueFd file_;
};

// RFC 3339 UTC time with milliseconds, for event lines.
std::string eventTime();

}  // namespace driftwatch::agent
