#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "agent/report/report_format.h"
#include "common/base/escape.h"

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {

CheckReport sampleReport() {
  CheckReport r;
  r.policy = "web";
  r.policyFile = "web.yaml";
  r.host = "web-01";
  r.root = "/";
  r.checked = 10;
  model::DriftItem a;
  a.id = {model::ResourceKind::kFile, std::string("/etc/odd\nname\xff", 14)};
  a.change = model::Change::kModified;
  a.severity = model::Severity::kCritical;
  a.rule = {"web", "web.yaml", 4, 5, "files[0]"};
  a.attributes.push_back({model::Attr::kMode, std::string("0600"), std::string("0644")});
  a.attributes.push_back({model::Attr::kSha256, std::string(64, 'a'), std::nullopt});
  a.error = "cannot open: Permission denied";
  r.drift.push_back(a);
  model::DriftItem b;
  b.id = {model::ResourceKind::kPackage, "telnetd"};
  b.change = model::Change::kAdded;
  b.severity = model::Severity::kLow;
  b.attributes.push_back({model::Attr::kEnsure, std::string("absent"), std::string("present")});
  r.drift.push_back(b);
  return r;
}

}  // namespace

TEST_CASE("JSON output has the documented shape and escaped values") {
  const auto j = nlohmann::json::parse(renderJson(sampleReport()));
  CHECK(j["policy"] == "web");
  CHECK(j["host"] == "web-01");
  CHECK(j["root"] == "/");
  CHECK(j["summary"]["checked"] == 10);
  CHECK(j["summary"]["drifted"] == 2);
  CHECK(j["summary"]["errors"] == 1);
  CHECK(j["summary"]["by_severity"]["critical"] == 1);
  CHECK(j["summary"]["by_severity"]["low"] == 1);
  const auto& first = j["drift"][0];
  CHECK(first["resource"] == "file:/etc/odd\\x0aname\\xff");
  CHECK(first["change"] == "modified");
  CHECK(first["severity"] == "critical");
  CHECK(first["drift_type"] == "configuration");
  CHECK(first["rule"]["line"] == 4);
  CHECK(first["attributes"][0]["name"] == "mode");
  CHECK(first["attributes"][1]["actual"].is_null());
  CHECK(first["error"] == "cannot open: Permission denied");
  // The escaped id parses back to the raw name.
  auto id = model::ResourceId::parse(first["resource"].get<std::string>());
  REQUIRE(id.ok());
  CHECK(id->name == std::string("/etc/odd\nname\xff", 14));
}

TEST_CASE("text output is a table, colored only when asked") {
  const std::string plain = renderText(sampleReport(), TextStyle{false});
  CHECK(plain.find('\033') == std::string::npos);
  CHECK(plain.find("SEVERITY") != std::string::npos);
  CHECK(plain.find("file:/etc/odd\\x0aname\\xff") != std::string::npos);
  CHECK(plain.find("error: cannot open: Permission denied") != std::string::npos);
  CHECK(plain.find("Drift in 2 of 10 checked resources: 1 critical, 0 high, 0 medium, 1 low.") !=
        std::string::npos);
  CHECK(plain.find(std::string(64, 'a')) == std::string::npos);  // long values are cut in text
  const std::string colored = renderText(sampleReport(), TextStyle{true});
  CHECK(colored.find("\033[") != std::string::npos);
}

TEST_CASE("no drift reads as a clear all-good line") {
  CheckReport r;
  r.policy = "web";
  r.checked = 3;
  CHECK(
      renderText(r, TextStyle{false}).find("No drift: all 3 checked resources match the policy.") !=
      std::string::npos);
}

TEST_CASE("text output lists the most severe drift first") {
  CheckReport r = sampleReport();
  std::swap(r.drift[0], r.drift[1]);  // low first, as sorted by resource
  const std::string text = renderText(r, TextStyle{false});
  CHECK(text.find("critical") < text.find("low "));
}
