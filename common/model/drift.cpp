#include "common/model/drift.h"

#include <array>

namespace driftwatch::model {

std::string_view changeName(Change c) {
  static constexpr std::array<std::string_view, 3> kNames = {"modified", "added", "removed"};
  return kNames[static_cast<size_t>(c)];
}

std::string_view driftTypeName(DriftType) {
  return "configuration";
}

std::string RuleRef::str() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!field.empty()) out += " (" + field + ")";
  return out;
}

}  // namespace driftwatch::model
