#pragma once
// The aggregator's audit trail: every enrollment, refusal, revocation and suspicious report,
// as a row in the fleet store and a JSON line in the audit log file (0600), so it can be
// shipped and kept apart from the database. Events anyone on the network can cause (a TLS or
// plaintext connection, an enrollment with a bad token) are rate-limited: a flood costs a
// counter, not the disk; the next line written says how many were suppressed. Never holds a
// secret: tokens appear by their public id only. Used by one thread (the store thread).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregator/store/fleet_store.h"
#include "common/base/unique_fd.h"

namespace driftwatch::aggregator {

class AuditLog {
 public:
  // `path` empty: rows in the store only.
  static Result<AuditLog> open(FleetStore& store, const std::string& path);

  // An event from an authenticated party (an enrolled host, the admin): always written.
  void record(std::string_view event, std::string_view host, std::string_view peer,
              std::string_view detail);
  // An event inside the caller's transaction: its row is added now, so it commits or rolls back
  // with the change; the line for the log file (and echo) is written by write() once the
  // commit succeeded, so the file never claims what did not happen.
  struct Staged {
    std::string line;  // empty: nothing to write
  };
  // The error (the row could not be added) must abort the transaction: a change is never
  // committed without its record.
  Result<Staged> stage(std::string_view event, std::string_view host, std::string_view peer,
                       std::string_view detail);
  void write(const Staged& staged);
  // Also print each record on stderr (the serving aggregator's journal).
  void setEcho(bool echo) { echo_ = echo; }
  // An event anyone can cause: written within the rate limit.
  void recordUnauthenticated(std::string_view event, std::string_view peer,
                             std::string_view detail);
  // A refusal a client can repeat at will (a revoked host, a bad signature): written within
  // the same rate limit, with the host it claimed to be.
  void recordLimited(std::string_view event, std::string_view host, std::string_view peer,
                     std::string_view detail);

 private:
  AuditLog(FleetStore& store, UniqueFd file) : store_(&store), file_(std::move(file)) {}

  FleetStore* store_;
  UniqueFd file_;
  double tokens_ = 50;  // token bucket for unauthenticated events
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  int64_t suppressed_ = 0;
  bool echo_ = false;
  std::string lastLine_;  // the line of the last stage(), for record() when its row failed
};

}  // namespace driftwatch::aggregator
