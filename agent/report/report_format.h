#pragma once
// Renders a check report for people (a table, colored only on a terminal) and for programs
// (one JSON object, documented in docs/agent-cli.md). Every raw value (paths, symlink
// targets, content) is written in driftwatch's escaped form, so names with newlines or
// invalid UTF-8 survive and can be pasted back (e.g. into `accept`).
// Pure functions of their inputs.

#include <string>

#include "agent/check/check_runner.h"

namespace driftwatch::agent {

struct TextStyle {
  bool color = false;
  size_t maxValueWidth = 48;  // longer values are cut with an ellipsis (JSON has them whole)
};

std::string renderText(const CheckReport& report, const TextStyle& style);
std::string renderJson(const CheckReport& report);

}  // namespace driftwatch::agent
