#include "aggregator/config/aggregator_config.h"

#include <doctest/doctest.h>

#include "tests/support/config_example.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace std::chrono_literals;

namespace {

std::string errorOf(const std::string& text) {
  auto c = parseAggregatorConfig(text, "agg.yaml");
  if (c.ok()) FAIL("expected an error for " << text);
  return c.error().describe();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the shipped aggregator.yaml parses with every setting switched on") {
  const std::string text = testing::uncommentedExample("aggregator.yaml");
  CHECK(text.find("\nlisten: 0.0.0.0:8443") != std::string::npos);
  auto c = parseAggregatorConfig(text, "aggregator.yaml");
  INFO(text);
  REQUIRE(c.ok());
  const AggregatorConfig defaults;
  CHECK(c->dataDir == defaults.dataDir);
  CHECK(c->listen == defaults.listen);
  CHECK(c->tlsMinVersion == defaults.tlsMinVersion);
  CHECK(c->clientCertDays == defaults.clientCertDays);
  CHECK(c->threads == defaults.threads);
  CHECK(c->maxConnections == defaults.maxConnections);
  CHECK(c->maxConnectionsPerAddress == defaults.maxConnectionsPerAddress);
  CHECK(c->policyDir == "/srv/driftwatch/policies");
  CHECK(c->policyPollInterval == defaults.policyPollInterval);
  CHECK(c->requestTimeout == defaults.requestTimeout);
  CHECK(c->serverNames == std::vector<std::string>{"fleet.example.net"});
  CHECK(c->caCert == "/etc/driftwatch/pki/ca.crt");
  CHECK(c->creepAfter == defaults.creepAfter);
  CHECK(c->recurringAfter == defaults.recurringAfter);
  const AlertsConfig alertDefaults;
  CHECK(c->alerts.settle == alertDefaults.settle);
  CHECK(c->alerts.minSeverity == alertDefaults.minSeverity);
  CHECK(c->alerts.groupWait == alertDefaults.groupWait);
  CHECK(c->alerts.retryBase == alertDefaults.retryBase);
  CHECK(c->alerts.retryMax == alertDefaults.retryMax);
  CHECK(c->alerts.maxAttempts == alertDefaults.maxAttempts);
  REQUIRE(c->alerts.receivers.size() == 1);
  CHECK(c->alerts.receivers[0].name == "ops");
  CHECK(c->alerts.receivers[0].maxPerMinute == 30u);
}

TEST_CASE("an empty aggregator config is all defaults") {
  auto c = parseAggregatorConfig("", "agg.yaml");
  REQUIRE(c.ok());
  CHECK(c->dataDir == "/var/lib/driftwatch/aggregator");
  CHECK(c->listen == "0.0.0.0:8443");
  CHECK(c->serverNames.empty());
  CHECK(c->tlsMinVersion == "1.3");
  CHECK(c->caCert.empty());
  CHECK(c->caKey.empty());
  CHECK(c->serverCert.empty());
  CHECK(c->serverKey.empty());
  CHECK(c->clientCertDays == 825);
  CHECK(c->auditLog.empty());
  CHECK(c->threads == 2u);
  CHECK(c->maxConnections == 4096u);
  CHECK(c->requestTimeout == 30s);
}

TEST_CASE("every aggregator key is read") {
  auto c = parseAggregatorConfig(R"(data_dir: /srv/dw
listen: "[::]:9443"
server_names:
  - agg.example.org
  - 10.0.0.5
tls_min_version: "1.2"
ca_cert: /etc/dw/ca.pem
ca_key: /etc/dw/ca.key
server_cert: /etc/dw/server.pem
server_key: /etc/dw/server.key
client_cert_days: 90
audit_log: /var/log/dw-audit.jsonl
threads: 8
max_connections: 100
request_timeout: 2m
policy_dir: /srv/policies
policy_poll_interval: 30s
)",
                                 "agg.yaml");
  REQUIRE(c.ok());
  CHECK(c->dataDir == "/srv/dw");
  CHECK(c->listen == "[::]:9443");
  CHECK(c->serverNames == std::vector<std::string>{"agg.example.org", "10.0.0.5"});
  CHECK(c->tlsMinVersion == "1.2");
  CHECK(c->caCert == "/etc/dw/ca.pem");
  CHECK(c->caKey == "/etc/dw/ca.key");
  CHECK(c->serverCert == "/etc/dw/server.pem");
  CHECK(c->serverKey == "/etc/dw/server.key");
  CHECK(c->clientCertDays == 90);
  CHECK(c->auditLog == "/var/log/dw-audit.jsonl");
  CHECK(c->threads == 8u);
  CHECK(c->maxConnections == 100u);
  CHECK(c->requestTimeout == 2min);
  CHECK(c->policyDir == "/srv/policies");
  CHECK(c->policyPollInterval == 30s);

  // One server name may be given without a list.
  auto one = parseAggregatorConfig("server_names: agg.example.org\n", "agg.yaml");
  REQUIRE(one.ok());
  CHECK(one->serverNames == std::vector<std::string>{"agg.example.org"});
}

TEST_CASE("an unknown aggregator key names file:line and the likely key") {
  CHECK(errorOf("threads: 2\nlistn: ':1'\n") ==
        "agg.yaml:2:1: unknown key 'listn' (did you mean 'listen'?)");
  CHECK(errorOf("bind_address: ':1'\n") == "agg.yaml:1:1: unknown key 'bind_address'");
  CHECK(contains(errorOf("data-dir: /srv\n"),
                 "agg.yaml:1:1: unknown key 'data-dir' (did you mean 'data_dir'?)"));
  CHECK(contains(errorOf("threads: 1\nthreads: 2\n"), "agg.yaml:2:1: threads: repeated key"));
}

TEST_CASE("a bad listen address is an error at its line") {
  for (const char* bad : {"nowhere:80", "8443", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536",
                          "1.2.3.4:-1", "[::1:80", "localhost:8443", "1.2.3.4:http"}) {
    const std::string text = std::string("listen: \"") + bad + "\"\n";
    CAPTURE(text);
    const std::string e = errorOf(text);
    CHECK(contains(e, "agg.yaml:1:9: listen: "));
    CHECK(contains(e, "expected ADDR:PORT"));
  }
  CHECK(contains(errorOf("listen: \"nowhere:80\"\n"), "'nowhere' is not an IP address"));
  CHECK(contains(errorOf("listen: \"8443\"\n"), "no port"));
  CHECK(contains(errorOf("listen: \"1.2.3.4:65536\"\n"), "from 0 to 65535"));
  CHECK(contains(errorOf("listen: [a, b]\n"), "a list is not a single value"));
}

TEST_CASE("listen addresses: v4, bracketed v6, and a bare port for every address") {
  auto a = parseListenAddress("127.0.0.1:8443", "--listen");
  REQUIRE(a.ok());
  CHECK(a->address == "127.0.0.1");
  CHECK(a->port == 8443);
  a = parseListenAddress("[::1]:443", "--listen");
  REQUIRE(a.ok());
  CHECK(a->address == "::1");
  CHECK(a->port == 443);
  a = parseListenAddress(":9000", "--listen");
  REQUIRE(a.ok());
  CHECK(a->address == "0.0.0.0");
  CHECK(a->port == 9000);
  a = parseListenAddress("0.0.0.0:0", "--listen");
  REQUIRE(a.ok());
  CHECK(a->port == 0);
  auto bad = parseListenAddress("example.org:443", "--listen");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().where == "--listen");
  CHECK(bad.error().code == ErrorCode::kInvalidInput);
}

TEST_CASE("aggregator values out of range are errors naming the key") {
  CHECK(contains(errorOf("tls_min_version: \"1.1\"\n"), "agg.yaml:1:18: tls_min_version: '1.1'"));
  CHECK(
      contains(errorOf("client_cert_days: 0\n"), "client_cert_days: '0' is not a number of days"));
  CHECK(contains(errorOf("client_cert_days: 3651\n"), "(1-3650)"));
  CHECK(parseAggregatorConfig("client_cert_days: 3650\n", "agg.yaml").ok());
  CHECK(contains(errorOf("threads: 0\n"), "threads: '0' is not a number of threads (1-64)"));
  CHECK(contains(errorOf("threads: 65\n"), "(1-64)"));
  CHECK(contains(errorOf("threads: two\n"), "threads"));
  CHECK(contains(errorOf("max_connections: 0\n"), "max_connections"));
  CHECK(contains(errorOf("max_connections_per_address: 0\n"), "max_connections_per_address"));
  CHECK(contains(errorOf("max_connections: 1000001\n"), "max_connections"));
  CHECK(contains(errorOf("request_timeout: 500ms\n"), "at least 1s"));
  CHECK(contains(errorOf("request_timeout: soon\n"), "request_timeout"));
  CHECK(contains(errorOf("policy_dir: policies\n"), "an absolute directory path"));
  CHECK(contains(errorOf("policy_poll_interval: 10ms\n"), "at least 100ms"));
  CHECK(contains(errorOf("creep_after: 30s\n"),
                 "creep_after: '30s' is not a duration of at least 1m"));
  CHECK(contains(errorOf("recurring_after: 0\n"), "recurring_after"));
  CHECK(contains(errorOf("server_names: [\"a b\"]\n"), "server_names"));
  CHECK(contains(errorOf("server_names: [\"a,b\"]\n"), "DNS names or IP addresses"));
  CHECK(contains(errorOf("server_names: [\"\"]\n"), "server_names"));
  CHECK(contains(errorOf("data_dir: [a]\n"), "data_dir: a list is not a single value"));
}

TEST_CASE("certificates from elsewhere come as all four files or none") {
  const std::string e = errorOf("ca_cert: /a\nserver_cert: /b\n");
  CHECK(contains(e, "agg.yaml: "));
  CHECK(contains(e, "go together"));
  CHECK(contains(errorOf("server_key: /k\n"), "go together"));
}

TEST_CASE("the aggregator config file may be absent unless it was named") {
  testing::TempDir dir;
  auto absent = loadAggregatorConfig(dir.at("none.yaml"), false);
  REQUIRE(absent.ok());
  CHECK(absent->listen == "0.0.0.0:8443");
  auto named = loadAggregatorConfig(dir.at("none.yaml"), true);
  REQUIRE_FALSE(named.ok());
  CHECK(contains(named.error().describe(), dir.at("none.yaml")));

  dir.write("agg.yaml", "threads: 4\nlisen: ':1'\n");
  auto typo = loadAggregatorConfig(dir.at("agg.yaml"), true);
  REQUIRE_FALSE(typo.ok());
  CHECK(contains(typo.error().describe(), dir.at("agg.yaml") + ":2:1: unknown key 'lisen'"));

  dir.write("good.yaml", "threads: 4\n");
  auto good = loadAggregatorConfig(dir.at("good.yaml"), true);
  REQUIRE(good.ok());
  CHECK(good->threads == 4u);
}

TEST_CASE("the alerts section: defaults, every key, and receivers of each type") {
  auto empty = parseAggregatorConfig("", "agg.yaml");
  REQUIRE(empty.ok());
  CHECK(empty->alerts.settle == 30s);
  CHECK(empty->alerts.minSeverity == model::Severity::kMedium);
  CHECK(empty->alerts.groupWait == 10s);
  CHECK(empty->alerts.receivers.empty());

  auto c = parseAggregatorConfig(R"(threads: 2
alerts:
  settle: 1m
  min_severity: high
  group_wait: 2s
  retry_base: 500ms
  retry_max: 5m
  max_attempts: 7
  receivers:
    - name: ops
      type: webhook
      url: https://hooks.example.net:8443/drift?team=ops
      headers: {Authorization: Bearer s3cret, X-Team: ops}
      ca_file: /etc/driftwatch/hooks-ca.pem
      timeout: 3s
      max_per_minute: 20
    - name: am
      type: alertmanager
      url: http://[::1]:9093
    - name: local
      type: syslog
      facility: local3
      ident: dw
)",
                                 "agg.yaml");
  INFO((c.ok() ? std::string() : c.error().describe()));
  REQUIRE(c.ok());
  const AlertsConfig& a = c->alerts;
  CHECK(a.settle == 60s);
  CHECK(a.minSeverity == model::Severity::kHigh);
  CHECK(a.groupWait == 2s);
  CHECK(a.retryBase == 500ms);
  CHECK(a.retryMax == 5min);
  CHECK(a.maxAttempts == 7u);
  REQUIRE(a.receivers.size() == 3);
  const ReceiverConfig& ops = a.receivers[0];
  CHECK(ops.type == ReceiverType::kWebhook);
  CHECK(ops.url.tls);
  CHECK(ops.url.host == "hooks.example.net");
  CHECK(ops.url.port == "8443");
  CHECK(ops.url.target == "/drift?team=ops");
  CHECK(ops.headers == std::vector<std::pair<std::string, std::string>>{
                           {"Authorization", "Bearer s3cret"}, {"X-Team", "ops"}});
  CHECK(ops.caFile == "/etc/driftwatch/hooks-ca.pem");
  CHECK(ops.timeout == 3s);
  CHECK(ops.maxPerMinute == 20u);
  CHECK(a.receivers[1].type == ReceiverType::kAlertmanager);
  CHECK(a.receivers[1].url.host == "::1");
  CHECK(a.receivers[1].url.port == "9093");
  CHECK(a.receivers[1].url.target == "/");
  CHECK(a.receivers[2].type == ReceiverType::kSyslog);
  CHECK(a.receivers[2].facility == "local3");
  CHECK(a.receivers[2].ident == "dw");
  CHECK(a.receiver("am") == &a.receivers[1]);
  CHECK(a.receiver("nope") == nullptr);
}

TEST_CASE("bad alerts settings are errors naming file:line:column and the key") {
  CHECK(errorOf("alerts:\n  setle: 1s\n") ==
        "agg.yaml:2:3: alerts: unknown key 'setle' (did you mean 'settle'?)");
  CHECK(errorOf("alerts:\n  settle: soon\n") ==
        "agg.yaml:2:11: alerts.settle: 'soon' is not a duration up to 1d, like 30s");
  CHECK(errorOf("alerts:\n  min_severity: urgent\n") ==
        "agg.yaml:2:17: alerts.min_severity: 'urgent' is not low, medium, high or critical");
  CHECK(errorOf("alerts: 5\n") == "agg.yaml:1:9: alerts: needs a mapping of keys");
  CHECK(errorOf("alerts:\n  retry_base: 1m\n  retry_max: 1s\n")
            .find("alerts.retry_max: must not be shorter than alerts.retry_base") !=
        std::string::npos);
  const auto receiver = [](const std::string& body) {
    return errorOf("alerts:\n  receivers:\n    - " + body + "\n");
  };
  CHECK(receiver("{name: a, type: pager}") ==
        "agg.yaml:3:23: alerts.receivers[0].type: 'pager' is not webhook, alertmanager or syslog");
  CHECK(receiver("{name: a, type: webhook}") == "agg.yaml:3:7: alerts.receivers[0]: missing `url`");
  CHECK(receiver("{type: syslog}") == "agg.yaml:3:7: alerts.receivers[0]: missing `name`");
  CHECK(contains(receiver("{name: a, type: webhook, url: ftp://x/}"),
                 "alerts.receivers[0].url: 'ftp://x/' is not an http:// or https:// address"));
  CHECK(contains(receiver("{name: a, type: webhook, url: 'https://u:p@x/'}"),
                 "has credentials in it"));
  CHECK(contains(receiver("{name: a, type: webhook, url: 'http://x:99999/'}"), "has a bad port"));
  CHECK(contains(receiver("{name: a, type: webhook, url: 'http://x/', ca_file: /ca.pem}"),
                 "alerts.receivers[0].ca_file: is for https:// addresses only"));
  CHECK(contains(receiver("{name: a, type: syslog, url: 'http://x/'}"),
                 "a syslog receiver takes no url"));
  CHECK(contains(receiver("{name: a, type: syslog, facility: kern}"),
                 "'kern' is not a syslog facility"));
  CHECK(contains(receiver("{name: a, type: webhook, url: 'http://x/', max_per_minute: 0}"),
                 "'0' is not a number from 1 to 100000"));
  CHECK(contains(receiver("{name: a, type: webhook, url: 'http://x/', headers: {'a b': c}}"),
                 "'a b' is not a header name"));
  // A header's value may be a secret: the error never shows it.
  const auto secret =
      receiver("{name: a, type: webhook, url: 'http://x/', headers: {A: [s3cret]}}");
  CHECK(contains(secret, "alerts.receivers[0].headers.A: the value must be one line of text"));
  CHECK_FALSE(contains(secret, "s3cret"));
  CHECK(contains(errorOf("alerts:\n  receivers:\n    - {name: a, type: syslog}\n"
                         "    - {name: a, type: syslog}\n"),
                 "alerts.receivers[1].name: another receiver has the name 'a'"));
}
