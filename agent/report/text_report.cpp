#include <algorithm>
#include <string_view>
#include <vector>

#include "agent/report/report_format.h"
#include "common/base/escape.h"

namespace driftwatch::agent {
namespace {

constexpr std::string_view kReset = "\033[0m";
constexpr std::string_view kBold = "\033[1m";
constexpr std::string_view kDim = "\033[2m";
constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kYellow = "\033[33m";
constexpr std::string_view kCyan = "\033[36m";
constexpr size_t kMaxResourceColumn = 56;

// Width on a terminal, counting code points (escaped text is valid UTF-8).
size_t displayWidth(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string cut(std::string s, size_t width) {
  if (displayWidth(s) <= width) return s;
  size_t kept = 0;
  size_t i = 0;
  while (i < s.size() && kept + 1 < width) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80)
      ++i;
    ++kept;
  }
  s.resize(i);
  s += "\xe2\x80\xa6";  // …
  return s;
}

std::string pad(const std::string& s, size_t width) {
  const size_t w = displayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

class Painter {
 public:
  explicit Painter(bool enabled) : enabled_(enabled) {}
  std::string operator()(std::string_view style, const std::string& text) const {
    if (!enabled_ || style.empty()) return text;
    return std::string(style) + text + std::string(kReset);
  }

 private:
  bool enabled_;
};

std::string_view severityStyle(model::Severity s) {
  switch (s) {
    case model::Severity::kCritical:
      return "\033[1;31m";
    case model::Severity::kHigh:
      return kRed;
    case model::Severity::kMedium:
      return kYellow;
    case model::Severity::kLow:
      return kCyan;
  }
  return {};
}

std::string valueText(const std::optional<std::string>& v, size_t width) {
  if (!v) return "-";
  if (v->empty()) return "\"\"";
  return cut(escapeBytes(*v), width);
}

}  // namespace

std::string renderText(const CheckReport& report, const TextStyle& style) {
  const Painter paint(style.color);
  std::string out;
  out += paint(kBold, "Policy " + report.policy) + " (" + escapeBytes(report.policyFile) + ")";
  out += "  host " + (report.host ? escapeBytes(*report.host) : std::string("unknown"));
  out += "  root " + escapeBytes(report.root) + "\n";

  if (report.drift.empty()) {
    out += paint(kGreen, "No drift: all " + std::to_string(report.checked) +
                             " checked resources match the policy.") +
           "\n";
    return out;
  }

  // Column widths from the content.
  size_t resourceWidth = 8;
  size_t attrWidth = 9;
  size_t desiredWidth = 7;
  for (const auto& item : report.drift) {
    resourceWidth =
        std::max(resourceWidth, std::min(kMaxResourceColumn, displayWidth(item.id.str())));
    for (const auto& a : item.attributes) {
      attrWidth = std::max(attrWidth, model::attrName(a.attr).size());
      desiredWidth =
          std::max(desiredWidth, displayWidth(valueText(a.desired, style.maxValueWidth)));
    }
  }
  constexpr size_t kSeverityWidth = 8;
  constexpr size_t kChangeWidth = 8;
  const std::string gap = "  ";
  const std::string indent(kSeverityWidth + kChangeWidth + resourceWidth + 3 * gap.size(), ' ');

  out += "\n" +
         paint(kDim, pad("SEVERITY", kSeverityWidth) + gap + pad("CHANGE", kChangeWidth) + gap +
                         pad("RESOURCE", resourceWidth) + gap + pad("ATTRIBUTE", attrWidth) + gap +
                         pad("DESIRED", desiredWidth) + gap + "ACTUAL") +
         "\n";
  // People read the worst first; within a severity, in resource order (as in JSON).
  std::vector<const model::DriftItem*> ordered;
  for (const auto& item : report.drift)
    ordered.push_back(&item);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const model::DriftItem* a, const model::DriftItem* b) {
                     return a->severity > b->severity;
                   });
  for (const model::DriftItem* entry : ordered) {
    const model::DriftItem& item = *entry;
    const std::string severity = std::string(model::severityName(item.severity));
    const std::string change = std::string(model::changeName(item.change));
    const std::string resource = item.id.str();
    std::string lead = paint(severityStyle(item.severity), pad(severity, kSeverityWidth)) + gap +
                       pad(change, kChangeWidth) + gap;
    if (displayWidth(resource) > resourceWidth && !item.attributes.empty()) {
      // A long name gets its own line rather than being cut: it must stay copyable.
      out += lead + resource + "\n";
      lead = indent;
    } else {
      lead += pad(resource, resourceWidth) + gap;
    }
    bool first = true;
    for (const auto& a : item.attributes) {
      out += first ? lead : indent;
      out += pad(std::string(model::attrName(a.attr)), attrWidth) + gap +
             pad(valueText(a.desired, style.maxValueWidth), desiredWidth) + gap +
             paint(kBold, valueText(a.actual, style.maxValueWidth)) + "\n";
      first = false;
    }
    if (item.attributes.empty()) out += lead + "\n";
    if (!item.error.empty())
      out += indent + paint(kRed, "error: " + displaySafe(item.error)) + "\n";
  }

  const auto counts = report.countBySeverity();
  std::string bySeverity;
  for (int s = model::kSeverityCount - 1; s >= 0; --s) {
    if (!bySeverity.empty()) bySeverity += ", ";
    bySeverity += std::to_string(counts[static_cast<size_t>(s)]) + " " +
                  std::string(model::severityName(static_cast<model::Severity>(s)));
  }
  out += "\n" +
         paint(kBold, "Drift in " + std::to_string(report.drift.size()) + " of " +
                          std::to_string(report.checked) + " checked resources") +
         ": " + bySeverity + ".\n";
  if (const uint64_t errors = report.errorCount(); errors > 0) {
    out += std::to_string(errors) + " of them could not be fully observed (see the error lines).\n";
  }
  return out;
}

}  // namespace driftwatch::agent
