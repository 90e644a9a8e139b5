#pragma once
// The JSON form of a drift item, shared by the check's JSON report, the daemon's event lines
// and its state database: resource, change, attributes (name, desired, actual), severity,
// drift_type, rule, and error when the actual state was not fully observed. Every raw value is
// in escaped form. Includes nlohmann/json: keep it out of widely included headers.

#include <nlohmann/json.hpp>

#include "common/model/drift.h"

namespace driftwatch::agent {

nlohmann::ordered_json driftItemJson(const model::DriftItem& item);

}  // namespace driftwatch::agent
