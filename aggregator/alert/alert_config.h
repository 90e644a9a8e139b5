#pragma once
// The `alerts:` section of aggregator.yaml: how long drift must last before it alerts, which
// severities notify, how alerts are grouped, paced and retried, and where notifications go
// (receivers). Every key is documented in docs/aggregator.md ("Alerts"); unknown keys and bad
// values are errors naming file:line:column. Plain values, parsed once at start.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {

enum class ReceiverType : uint8_t { kWebhook, kAlertmanager, kSyslog };
std::string_view receiverTypeName(ReceiverType t);

// An http:// or https:// address, split for the client.
struct HttpUrl {
  bool tls = false;
  std::string host;    // a name, or an IP address (IPv6 without brackets)
  std::string port;    // "80", "443" or as given
  std::string target;  // path and query, "/" at least
  std::string text;    // as written
};
// The error names `where` and says what an address looks like.
Result<HttpUrl> parseHttpUrl(std::string_view text, std::string_view where);

struct ReceiverConfig {
  std::string name;  // unique; names the receiver in deliveries and the CLI
  ReceiverType type = ReceiverType::kWebhook;
  HttpUrl url;                                               // webhook, alertmanager
  std::vector<std::pair<std::string, std::string>> headers;  // sent as is; values never logged
  std::string caFile;  // https: trust only this CA (PEM); empty: the system's CAs
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // connect, write and read each
  unsigned maxPerMinute = 0;                                    // 0: no limit
  std::string facility = "daemon";                              // syslog
  std::string ident = "driftwatch-aggregator";                  // syslog
};

struct AlertsConfig {
  // How long drift must last (or be seen again by a later report) before it alerts; a rule's
  // own `settle` takes precedence.
  std::chrono::milliseconds settle{std::chrono::seconds(30)};
  // Alerts below it are recorded but never notified.
  model::Severity minSeverity = model::Severity::kMedium;
  // The alerts of one host that become due within this window go out as one notification.
  std::chrono::milliseconds groupWait{std::chrono::seconds(10)};
  // Retries: base * 2^(attempts-1), at most retryMax; dead after maxAttempts failures.
  std::chrono::milliseconds retryBase{std::chrono::seconds(5)};
  std::chrono::milliseconds retryMax{std::chrono::minutes(10)};
  unsigned maxAttempts = 10;
  // A host that has not reported for this long raises a host_silent alert (agents report at
  // least every heartbeat_interval, 5 minutes by default: three missed heartbeats); 0: never.
  std::chrono::milliseconds hostSilentAfter{std::chrono::minutes(15)};
  std::vector<ReceiverConfig> receivers;

  const ReceiverConfig* receiver(std::string_view name) const;
};

// The `alerts` mapping of the YAML document `text` (defaults when it has none).
Result<AlertsConfig> parseAlertsConfig(std::string_view text, std::string_view fileName);

}  // namespace driftwatch::aggregator
