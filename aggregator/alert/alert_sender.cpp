#include "aggregator/alert/alert_sender.h"

#include <syslog.h>

#include "aggregator/alert/alert_payload.h"
#include "aggregator/alert/http_post.h"
#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

constexpr size_t kExcerpt = 200;

int facilityCode(const std::string& name) {
  static const std::pair<std::string_view, int> kCodes[] = {
      {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
      {"daemon", LOG_DAEMON}, {"local0", LOG_LOCAL0},     {"local1", LOG_LOCAL1},
      {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},     {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},     {"local7", LOG_LOCAL7},
      {"user", LOG_USER}};
  for (const auto& [n, code] : kCodes) {
    if (n == name) return code;
  }
  return LOG_DAEMON;
}

SendResult sendSyslog(const ReceiverConfig& r, const NotificationRecord& n,
                      const DeliveryRecord& d) {
  auto lines = syslogLines(n, d.idempotencyKey);
  if (!lines.ok()) return {SendOutcome::kPermanent, lines.error().describe()};
  // openlog keeps a pointer to the ident: it must outlive the calls (the receiver config does).
  ::openlog(r.ident.c_str(), LOG_PID | LOG_NDELAY, facilityCode(r.facility));
  const int priority = n.event == kEventFiring ? LOG_WARNING : LOG_NOTICE;
  for (const auto& line : *lines)
    ::syslog(priority, "%s", line.c_str());
  ::closelog();
  return {};
}

}  // namespace

SendResult classifyReply(int status, std::string_view body) {
  if (status >= 200 && status < 300) return {};
  std::string excerpt = displaySafe(body.substr(0, std::min(body.size(), kExcerpt)));
  if (body.size() > kExcerpt) excerpt += "...";
  std::string error = "HTTP " + std::to_string(status) + (excerpt.empty() ? "" : ": " + excerpt);
  const bool retry = status == 408 || status == 429 || status >= 500;
  if (status >= 300 && status < 400) error += " (redirects are not followed: give the final url)";
  return {retry ? SendOutcome::kRetry : SendOutcome::kPermanent, std::move(error)};
}

SendResult ReceiverSender::send(const ReceiverConfig& r, const NotificationRecord& n,
                                const DeliveryRecord& d) {
  if (r.type == ReceiverType::kSyslog) return sendSyslog(r, n, d);
  HttpPost post;
  post.url = r.url;
  post.caFile = r.caFile;
  post.timeout = r.timeout;
  post.headers = r.headers;
  Result<std::string> body = std::string();
  if (r.type == ReceiverType::kWebhook) {
    body = webhookBody(n, r.name, d.idempotencyKey);
    post.headers.emplace_back("Idempotency-Key", d.idempotencyKey);
  } else {
    // Alertmanager's own API: its path is fixed below the configured base address.
    std::string target = post.url.target;
    while (!target.empty() && target.back() == '/')
      target.pop_back();
    post.url.target = target + "/api/v2/alerts";
    body = alertmanagerBody(n, d.idempotencyKey);
  }
  if (!body.ok()) return {SendOutcome::kPermanent, body.error().describe()};
  post.body = std::move(body).value();
  auto reply = httpPost(post);
  if (!reply.ok()) {
    // A CA file that cannot be loaded will not load on a retry either.
    const bool config = reply.error().code == ErrorCode::kInvalidInput;
    return {config ? SendOutcome::kPermanent : SendOutcome::kRetry, reply.error().describe()};
  }
  return classifyReply(reply->status, reply->body);
}

}  // namespace driftwatch::aggregator
