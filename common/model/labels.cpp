#include "common/model/labels.h"

#include "common/base/escape.h"

namespace driftwatch::model {

bool isLabelKey(std::string_view key) {
  if (key.empty() || key.size() > 63) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) return false;
  }
  return true;
}

bool isLabelValue(std::string_view value) {
  return value.size() <= 253 && isDisplaySafe(value) &&
         value.find('\\') == std::string_view::npos && value.find(',') == std::string_view::npos;
}

bool selects(const Labels& selector, const Labels& hostLabels) {
  for (const auto& [key, value] : selector) {
    const auto it = hostLabels.find(key);
    if (it == hostLabels.end() || it->second != value) return false;
  }
  return true;
}

bool selectorsOverlap(const Labels& a, const Labels& b) {
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it != b.end() && it->second != value) return false;
  }
  return true;
}

std::string labelsText(const Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels)
    out += (out.empty() ? "" : ",") + key + "=" + value;
  return out.empty() ? "-" : out;
}

}  // namespace driftwatch::model
