#include "aggregator/audit/audit_log.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "common/base/escape.h"
#include "common/base/time.h"

namespace driftwatch::aggregator {
namespace {

constexpr double kBurst = 50;
constexpr double kPerSecond = 10;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<AuditLog> AuditLog::open(FleetStore& store, const std::string& path) {
  UniqueFd fd;
  if (!path.empty()) {
    fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return osError(errno, "cannot open the audit log", path);
  }
  return AuditLog(store, std::move(fd));
}

void AuditLog::record(std::string_view event, std::string_view host, std::string_view peer,
                      std::string_view detail) {
  auto line = stage(event, host, peer, detail);
  if (!line.ok()) {
    // An event of its own (a refusal, an enrollment already committed): say so, and keep the
    // line in the file at least.
    std::fprintf(stderr, "driftwatch-aggregator: cannot write the audit trail: %s\n",
                 line.error().describe().c_str());
    write(Staged{lastLine_});
    return;
  }
  write(*line);
}

Result<AuditLog::Staged> AuditLog::stage(std::string_view event, std::string_view host,
                                         std::string_view peer, std::string_view detail) {
  const int64_t at = nowMs();
  std::string fullDetail = displaySafe(detail);
  if (suppressed_ > 0) {
    fullDetail +=
        " (" + std::to_string(suppressed_) + " earlier refusals were not recorded: rate limit)";
  }
  lastLine_.clear();
  if (file_.valid() || echo_) {
    const nlohmann::ordered_json line = {
        {"time", formatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(at)))},
        {"event", event},
        {"host", host},
        {"peer", peer},
        {"detail", fullDetail}};
    lastLine_ = line.dump() + "\n";
  }
  if (auto s = store_->addAudit(
          {at, std::string(event), std::string(host), std::string(peer), fullDetail});
      !s.ok())
    return s.error();
  suppressed_ = 0;
  return Staged{lastLine_};
}

void AuditLog::write(const Staged& staged) {
  const std::string& text = staged.line;
  if (text.empty()) return;
  if (echo_) std::fputs(text.c_str(), stderr);
  if (!file_.valid()) return;
  if (::write(file_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::fprintf(stderr, "driftwatch-aggregator: cannot append to the audit log: %s\n",
                 std::strerror(errno));
  }
}

void AuditLog::recordUnauthenticated(std::string_view event, std::string_view peer,
                                     std::string_view detail) {
  recordLimited(event, "", peer, detail);
}

void AuditLog::recordLimited(std::string_view event, std::string_view host, std::string_view peer,
                             std::string_view detail) {
  const auto now = std::chrono::steady_clock::now();
  tokens_ = std::min(kBurst,
                     tokens_ + kPerSecond * std::chrono::duration<double>(now - refilled_).count());
  refilled_ = now;
  if (tokens_ < 1) {
    ++suppressed_;
    return;
  }
  tokens_ -= 1;
  record(event, host, peer, detail);
}

}  // namespace driftwatch::aggregator
