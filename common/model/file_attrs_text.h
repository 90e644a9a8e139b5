#pragma once
// The text form of file attributes, shared by the baseline file and the agent's stored state:
// tab-separated NAME=VALUE fields in a fixed order, every value in escaped form
// ("type=file\tmode=0644\towner=0\tgroup=0\tsize=12\tsha256=..."). Pure functions.

#include <optional>
#include <string>
#include <string_view>

#include "common/model/observation.h"

namespace driftwatch::model {

// The attributes in attrs.mask, in canonical order.
std::string formatFileAttrs(const FileAttrs& attrs);

struct FieldError {
  size_t offset = 0;  // where in the field the problem starts (0: the name)
  std::string message;
};

// Parses one NAME=VALUE field into `attrs` (type, mode, owner, group, size, sha256, target),
// refusing unknown names, repeated names and malformed values.
std::optional<FieldError> parseFileAttrField(std::string_view field, FileAttrs& attrs);

}  // namespace driftwatch::model
