#pragma once
// The aggregator's settings: /etc/driftwatch/aggregator.yaml by default (every key is in
// docs/aggregator.md), with command-line flags taking precedence. Unknown keys and malformed
// values are errors naming file, line and column.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/alert/alert_config.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

inline constexpr std::string_view kDefaultConfigPath = "/etc/driftwatch/aggregator.yaml";
inline constexpr std::string_view kDefaultDataDir = "/var/lib/driftwatch/aggregator";

struct AggregatorConfig {
  std::string dataDir = std::string(kDefaultDataDir);
  std::string listen = "0.0.0.0:8443";
  // Names and addresses agents use to reach the aggregator, put in the server certificate it
  // issues itself (the host name, localhost and the loopback addresses are always in it).
  std::vector<std::string> serverNames;
  std::string tlsMinVersion = "1.3";  // or "1.2"
  // Certificates from elsewhere instead of the generated ones (all four, or none).
  std::string caCert;
  std::string caKey;
  std::string serverCert;
  std::string serverKey;
  int clientCertDays = 825;
  std::string auditLog;  // empty: DATA_DIR/audit.log
  unsigned threads = 2;  // network threads; the fleet store has one more
  unsigned maxConnections = 4096;
  // From one address: one host cannot take every connection (agents behind one NAT address
  // share it, so it is generous).
  unsigned maxConnectionsPerAddress = 512;
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
  // GitOps: the policies in this directory are applied whenever its files change (a git pull
  // there); empty: only `policy apply` changes them.
  std::string policyDir;
  std::chrono::milliseconds policyPollInterval{std::chrono::seconds(10)};
  // Drift open longer than this is flagged as configuration creep (nobody fixes or decides it).
  std::chrono::milliseconds creepAfter{std::chrono::hours(24 * 7)};
  // A resource whose drift came back this many times after it resolved is flagged recurring:
  // a fix that did not remove the cause.
  int recurringAfter = 2;
  AlertsConfig alerts;  // the `alerts:` section
};

Result<AggregatorConfig> loadAggregatorConfig(const std::string& path, bool required);
Result<AggregatorConfig> parseAggregatorConfig(std::string_view text, std::string_view fileName);

// "ADDR:PORT", "[V6]:PORT" or ":PORT" (every address); the error names the flag or key.
struct ListenAddress {
  std::string address;
  unsigned short port = 0;
};
Result<ListenAddress> parseListenAddress(std::string_view text, std::string_view where);

}  // namespace driftwatch::aggregator
