#include "agent/daemon/agent_config.h"

#include <doctest/doctest.h>

#include "common/base/units.h"
#include "tests/support/config_example.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using namespace std::chrono_literals;

TEST_CASE("the shipped agent.yaml parses with every setting switched on, as the defaults") {
  const std::string text = testing::uncommentedExample("agent.yaml");
  CHECK(text.find("\nretry_max: 5m") != std::string::npos);
  auto c = parseAgentConfig(text, "agent.yaml");
  INFO(text);
  REQUIRE(c.ok());
  const AgentConfig defaults;
  CHECK(c->settle == defaults.settle);
  CHECK(c->pollInterval == defaults.pollInterval);
  CHECK(c->ioBudgetBytesPerSecond == defaults.ioBudgetBytesPerSecond);
  CHECK(c->outboxQuotaBytes == defaults.outboxQuotaBytes);
  CHECK(c->batchDelay == defaults.batchDelay);
  CHECK(c->heartbeatInterval == defaults.heartbeatInterval);
  CHECK(c->retryMax == defaults.retryMax);
}

TEST_CASE("durations and sizes read like people write them") {
  CHECK(parseDuration("200ms") == 200ms);
  CHECK(parseDuration("5s") == 5000ms);
  CHECK(parseDuration("30") == 30000ms);
  CHECK(parseDuration("1.5m") == 90000ms);
  CHECK(parseDuration("1d") == std::chrono::milliseconds(86'400'000));
  CHECK_FALSE(parseDuration("soon").has_value());
  CHECK_FALSE(parseDuration("5 weeks").has_value());
  CHECK(parseSize("1GiB") == (1ull << 30));
  CHECK(parseSize("512MiB") == (512ull << 20));
  CHECK(parseSize("10MB") == 10'000'000ull);
  CHECK(parseSize("4096") == 4096ull);
  CHECK_FALSE(parseSize("lots").has_value());
}

TEST_CASE("every key is read, and defaults hold for the rest") {
  auto c = parseAgentConfig(R"(policy: /etc/driftwatch/web.yaml
baseline: /etc/driftwatch/web.baseline
state_dir: /var/lib/dw
events_file: /var/log/dw.jsonl
settle: 100ms
poll_interval: 30s
io_budget: 16MiB
cpu_share: 0.25
threads: 3
max_hash_size: 2GiB
)",
                            "agent.yaml");
  REQUIRE(c.ok());
  CHECK(c->policy == "/etc/driftwatch/web.yaml");
  CHECK(c->settle == 100ms);
  CHECK(c->pollInterval == 30000ms);
  CHECK(c->ioBudgetBytesPerSecond == (16ull << 20));
  CHECK(c->cpuShare == doctest::Approx(0.25));
  CHECK(c->threads == 3);
  CHECK(c->maxHashBytes == (2ull << 30));
  CHECK(c->root == "/");
  CHECK(c->rescanInterval == std::chrono::hours(1));
  CHECK(parseAgentConfig("", "agent.yaml").ok());
}

TEST_CASE("config mistakes name file, line and column") {
  const auto err = [](const std::string& text) {
    auto c = parseAgentConfig(text, "agent.yaml");
    if (c.ok()) FAIL("expected an error for " << text);
    return c.error().describe();
  };
  CHECK(err("polcy: /x\n").find("agent.yaml:1:1: unknown key 'polcy' (did you mean 'policy'?)") !=
        std::string::npos);
  CHECK(err("settle: fast\n").find("agent.yaml:1:9: settle") != std::string::npos);
  CHECK(err("cpu_share: 2\n").find("between 0 and 1") != std::string::npos);
  CHECK(err("threads: 0\n").find("1 to 64") != std::string::npos);
  CHECK(err("settle: 1s\nsettle: 2s\n").find("repeated") != std::string::npos);
  CHECK(err("poll_interval: 10ms\n").find("at least 1s") != std::string::npos);
  CHECK(err("- a list\n").find("mapping") != std::string::npos);
}

TEST_CASE("the default config file may be absent, a named one may not") {
  testing::TempDir dir;
  CHECK(loadAgentConfig(dir.at("none.yaml"), false).ok());
  auto named = loadAgentConfig(dir.at("none.yaml"), true);
  REQUIRE_FALSE(named.ok());
  CHECK(named.error().describe().find("none.yaml") != std::string::npos);
}
