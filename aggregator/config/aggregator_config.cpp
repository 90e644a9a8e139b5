#include "aggregator/config/aggregator_config.h"

#include <arpa/inet.h>

#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/base/units.h"
#include "common/config/settings_file.h"

namespace driftwatch::aggregator {

Result<AggregatorConfig> parseAggregatorConfig(std::string_view text, std::string_view fileName) {
  AggregatorConfig config;
  static constexpr std::string_view kKeys[] = {"data_dir",
                                               "listen",
                                               "server_names",
                                               "tls_min_version",
                                               "ca_cert",
                                               "ca_key",
                                               "server_cert",
                                               "server_key",
                                               "client_cert_days",
                                               "audit_log",
                                               "threads",
                                               "max_connections",
                                               "request_timeout",
                                               "max_connections_per_address",
                                               "policy_dir",
                                               "policy_poll_interval",
                                               "creep_after",
                                               "recurring_after",
                                               "alerts"};
  static constexpr std::string_view kSections[] = {"alerts"};
  auto s = config::forEachSetting(
      text, fileName, kKeys,
      [&](const config::Setting& setting) -> Status {
        const std::string& key = setting.key;
        const std::string& v = setting.value;
        if (key == "alerts") {
          auto alerts = parseAlertsConfig(text, fileName);
          if (!alerts.ok()) return alerts.error();
          config.alerts = std::move(alerts).value();
          return {};
        }
        if (key == "server_names") {
          const std::vector<std::string> names =
              setting.isList ? setting.items : std::vector<std::string>{v};
          for (const auto& n : names) {
            if (n.empty() || n.size() > 253 || n.find_first_of(" ,/") != std::string::npos)
              return setting.bad("a list of DNS names or IP addresses");
            config.serverNames.push_back(n);
          }
          return {};
        }
        if (setting.isList) return setting.bad("a single value");
        if (key == "data_dir") {
          config.dataDir = v;
        } else if (key == "listen") {
          if (auto l = parseListenAddress(v, setting.where); !l.ok()) return l.error();
          config.listen = v;
        } else if (key == "tls_min_version") {
          if (v != "1.2" && v != "1.3") return setting.bad("a TLS version: 1.3 (default) or 1.2");
          config.tlsMinVersion = v;
        } else if (key == "ca_cert") {
          config.caCert = v;
        } else if (key == "ca_key") {
          config.caKey = v;
        } else if (key == "server_cert") {
          config.serverCert = v;
        } else if (key == "server_key") {
          config.serverKey = v;
        } else if (key == "audit_log") {
          config.auditLog = v;
        } else if (key == "client_cert_days") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 3650)
            return setting.bad("a number of days (1-3650)");
          config.clientCertDays = static_cast<int>(n);
        } else if (key == "threads") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 64)
            return setting.bad("a number of threads (1-64)");
          config.threads = static_cast<unsigned>(n);
        } else if (key == "max_connections") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 1'000'000)
            return setting.bad("a number of connections");
          config.maxConnections = static_cast<unsigned>(n);
        } else if (key == "max_connections_per_address") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 1'000'000)
            return setting.bad("a number of connections");
          config.maxConnectionsPerAddress = static_cast<unsigned>(n);
        } else if (key == "request_timeout") {
          const auto d = parseDuration(v);
          if (!d || d->count() < 1000) return setting.bad("a duration of at least 1s (like 30s)");
          config.requestTimeout = *d;
        } else if (key == "policy_dir") {
          if (v.empty() || v.front() != '/')
            return setting.bad("an absolute directory path (the checkout of the fleet's policies)");
          config.policyDir = v;
        } else if (key == "policy_poll_interval") {
          const auto d = parseDuration(v);
          if (!d || d->count() < 100) return setting.bad("a duration of at least 100ms (like 10s)");
          config.policyPollInterval = *d;
        } else if (key == "creep_after") {
          const auto d = parseDuration(v);
          if (!d || d->count() < 60'000) return setting.bad("a duration of at least 1m (like 7d)");
          config.creepAfter = *d;
        } else if (key == "recurring_after") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 1000)
            return setting.bad("a number of times drift came back after it resolved (1-1000)");
          config.recurringAfter = static_cast<int>(n);
        }
        return {};
      },
      kSections);
  if (!s.ok()) return s.error();
  const int given = !config.caCert.empty() + !config.caKey.empty() + !config.serverCert.empty() +
                    !config.serverKey.empty();
  if (given != 0 && given != 4) {
    return makeError(ErrorCode::kInvalidInput,
                     "ca_cert, ca_key, server_cert and server_key go together: name all four, or "
                     "none to let the aggregator create its own",
                     std::string(fileName));
  }
  return config;
}

Result<AggregatorConfig> loadAggregatorConfig(const std::string& path, bool required) {
  auto text = config::readSettingsFile(path, required);
  if (!text.ok()) return text.error();
  return parseAggregatorConfig(*text, path);
}

Result<ListenAddress> parseListenAddress(std::string_view text, std::string_view where) {
  const auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidInput,
                     std::string(why) + " (expected ADDR:PORT, like 0.0.0.0:8443 or [::]:8443)",
                     std::string(where));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view addr = text.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  ListenAddress out;
  out.address = addr.empty() ? "0.0.0.0" : std::string(addr);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, out.address.c_str(), buf) != 1 &&
      ::inet_pton(AF_INET6, out.address.c_str(), buf) != 1)
    return bad("'" + escapeBytes(addr) + "' is not an IP address");
  unsigned long long port = 0;
  if (!parseUnsigned(text.substr(colon + 1), port) || port > 65535)
    return bad("the port must be a number from 0 to 65535");
  out.port = static_cast<unsigned short>(port);
  return out;
}

}  // namespace driftwatch::aggregator
