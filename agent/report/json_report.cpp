#include <nlohmann/json.hpp>

#include "agent/report/drift_json.h"
#include "agent/report/report_format.h"
#include "common/base/escape.h"

namespace driftwatch::agent {

namespace {

nlohmann::ordered_json optionalValue(const std::optional<std::string>& v) {
  if (!v) return nullptr;
  return escapeBytes(*v);
}

}  // namespace

nlohmann::ordered_json driftItemJson(const model::DriftItem& item) {
  using json = nlohmann::ordered_json;
  json attributes = json::array();
  for (const auto& a : item.attributes) {
    attributes.push_back({{"name", std::string(model::attrName(a.attr))},
                          {"desired", optionalValue(a.desired)},
                          {"actual", optionalValue(a.actual)}});
  }
  json entry = {{"resource", item.id.str()},
                {"change", std::string(model::changeName(item.change))},
                {"attributes", attributes},
                {"severity", std::string(model::severityName(item.severity))},
                {"drift_type", std::string(model::driftTypeName(item.type))},
                {"rule",
                 {{"policy", item.rule.policy},
                  {"file", escapeBytes(item.rule.file)},
                  {"line", item.rule.line},
                  {"column", item.rule.column},
                  {"field", escapeBytes(item.rule.field)}}}};
  if (!item.error.empty()) entry["error"] = displaySafe(item.error);
  return entry;
}

std::string renderJson(const CheckReport& report) {
  using json = nlohmann::ordered_json;
  json out = json::object();
  out["policy"] = report.policy;
  out["policy_file"] = escapeBytes(report.policyFile);
  out["host"] = report.host ? json(escapeBytes(*report.host)) : json(nullptr);
  out["root"] = escapeBytes(report.root);

  const auto counts = report.countBySeverity();
  json bySeverity = json::object();
  for (int s = 0; s < model::kSeverityCount; ++s) {
    bySeverity[std::string(model::severityName(static_cast<model::Severity>(s)))] =
        counts[static_cast<size_t>(s)];
  }
  out["summary"] = {{"checked", report.checked},
                    {"drifted", report.drift.size()},
                    {"errors", report.errorCount()},
                    {"by_severity", bySeverity}};

  json drift = json::array();
  for (const auto& item : report.drift)
    drift.push_back(driftItemJson(item));
  out["drift"] = std::move(drift);
  json warnings = json::array();
  for (const auto& w : report.warnings)
    warnings.push_back(displaySafe(w));
  out["warnings"] = std::move(warnings);
  return out.dump(2) + "\n";
}

}  // namespace driftwatch::agent
