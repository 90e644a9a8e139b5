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
