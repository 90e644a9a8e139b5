#include "aggregator/api/metrics.h"

#include <map>
#include <set>
#include <sstream>

#include <doctest/doctest.h>

#include "aggregator/alert/alert_store.h"
#include "tests/unit/aggregator/api_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

// A strict reader of the text exposition format 0.0.4, as a scraper parses it: every sample
// belongs to the family announced by the HELP and TYPE lines before it.
struct Exposition {
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> help;
  std::map<std::string, double> samples;  // "name{a="x",b="y"}" -> value
};

Exposition parseExposition(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line;
  std::string family;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    INFO("line: " << line);
    REQUIRE(!line.empty());
    if (line.starts_with("# HELP ")) {
      const std::string rest = line.substr(7);
      family = rest.substr(0, rest.find(' '));
      REQUIRE(out.help.count(family) == 0);
      out.help[family] = rest.substr(family.size() + 1);
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      REQUIRE(name == family);
      const std::string type = rest.substr(name.size() + 1);
      REQUIRE((type == "counter" || type == "gauge"));
      out.types[name] = type;
      continue;
    }
    const size_t space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string key = line.substr(0, space);
    const std::string name = key.substr(0, key.find('{'));
    REQUIRE(name == family);
    REQUIRE(out.types.count(name) == 1);
    for (const char c : name)
      REQUIRE(((c >= 'a' && c <= 'z') || c == '_'));
    size_t used = 0;
    const double value = std::stod(line.substr(space + 1), &used);
    REQUIRE(used == line.size() - space - 1);
    REQUIRE(out.samples.count(key) == 0);
    out.samples[key] = value;
  }
  return out;
}

}  // namespace

TEST_CASE("metrics: hosts by status, open drift, and ingest, in the exposition format") {
  ApiFleet f;
  // Two accepted reports, one within the rate window.
  REQUIRE(f.store->addBatch("web1", 1, std::string(32, 'd'), "b", "s", kNowMs - 3'600'000, 4).ok());
  REQUIRE(f.store->addBatch("web1", 2, std::string(32, 'e'), "b", "s", kNowMs - 60'000, 6).ok());

  const auto r = f.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.contentType == "text/plain; version=0.0.4; charset=utf-8");
  const Exposition e = parseExposition(r.body);

  CHECK(e.types.at("driftwatch_hosts") == "gauge");
  CHECK(e.samples.at(R"(driftwatch_hosts{status="reporting"})") == 1);
  CHECK(e.samples.at(R"(driftwatch_hosts{status="silent"})") == 1);
  CHECK(e.samples.at(R"(driftwatch_hosts{status="never_reported"})") == 1);
  CHECK(e.samples.at(R"(driftwatch_hosts{status="revoked"})") == 1);

  CHECK(e.samples.at(R"(driftwatch_drift_open{severity="high",direction="managed"})") == 1);
  CHECK(e.samples.at(R"(driftwatch_drift_open{severity="critical",direction="definition"})") == 1);
  // The resolved item is not counted; every other combination is there, at zero.
  CHECK(e.samples.at(R"(driftwatch_drift_open{severity="low",direction="managed"})") == 0);
  size_t driftSeries = 0;
  for (const auto& [key, value] : e.samples)
    driftSeries += key.starts_with("driftwatch_drift_open{") ? 1 : 0;
  CHECK(driftSeries == 8);

  CHECK(e.types.at("driftwatch_reports_ingested_total") == "counter");
  CHECK(e.samples.at("driftwatch_reports_ingested_total") == 2);
  CHECK(e.samples.at("driftwatch_deltas_ingested_total") == 10);
  CHECK(e.samples.at("driftwatch_ingest_reports_per_second") == doctest::Approx(1.0 / 300));
  CHECK(e.samples.at("driftwatch_ingest_deltas_per_second") == doctest::Approx(6.0 / 300));
  CHECK(e.help.at("driftwatch_hosts").find("silent") != std::string::npos);

  // The alert queue: every status is a series, at zero with no alert yet.
  CHECK(e.types.at("driftwatch_alerts") == "gauge");
  CHECK(e.samples.at(R"(driftwatch_alerts{status="firing"})") == 0);
  CHECK(e.samples.at(R"(driftwatch_alert_deliveries{status="dead"})") == 0);
  CHECK(e.samples.at("driftwatch_alert_queue_depth") == 0);
}

TEST_CASE("metrics: alerts and deliveries by status, and the queue depth") {
  ApiFleet f;
  const AlertStore alerts(f.store->database());
  AlertRecord a;
  a.host = "web1";
  a.resource = "file:/etc/motd";
  a.severity = "high";
  a.status = "firing";
  a.createdAt = a.firesAt = kNowMs;
  auto id = alerts.addAlert(a);
  REQUIRE(id.ok());
  NotificationRecord n;
  n.host = "web1";
  n.event = "firing";
  n.createdAt = kNowMs;
  n.body = "{}";
  auto notification = alerts.addNotification(n);
  REQUIRE(notification.ok());
  DeliveryRecord d;
  d.notification = *notification;
  d.receiver = "ops";
  d.idempotencyKey = "k1";
  d.status = "pending";
  d.nextAttemptAt = d.createdAt = kNowMs;
  REQUIRE(alerts.addDelivery(d).ok());

  const Exposition e = parseExposition(f.get("/metrics").body);
  CHECK(e.samples.at(R"(driftwatch_alerts{status="firing"})") == 1);
  CHECK(e.samples.at(R"(driftwatch_alerts{status="pending"})") == 0);
  CHECK(e.samples.at(R"(driftwatch_alert_deliveries{status="pending"})") == 1);
  CHECK(e.samples.at("driftwatch_alert_queue_depth") == 1);
}

TEST_CASE("metrics: label values and help text are escaped") {
  CHECK(escapeLabelValue(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(escapeLabelValue("line\nbreak") == "line\\nbreak");
  MetricsWriter w;
  w.family("x_total", "counter", "a \\ and a\nbreak");
  w.sample("x_total", {{"k", "v\"1"}, {"j", "2"}}, int64_t{3});
  w.sample("x_total", {}, 0.5);
  CHECK(
      w.text() ==
      "# HELP x_total a \\\\ and a\\nbreak\n# TYPE x_total counter\nx_total{k=\"v\\\"1\",j=\"2\"} "
      "3\nx_total 0.5\n");
}

// A source that fails fails the scrape, rather than serving a partial picture as whole.
TEST_CASE("metrics: a failing source is an error") {
  class Broken : public MetricSource {
   public:
    Status collect(MetricsWriter&, int64_t) override {
      return makeError(ErrorCode::kIo, "disk on fire", "fleet.db");
    }
  };
  Metrics m;
  m.add(std::make_unique<Broken>());
  const auto r = m.render(0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().describe() == "fleet.db: disk on fire");
}
