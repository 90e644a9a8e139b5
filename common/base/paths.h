#pragma once
// Absolute paths as driftwatch names resources: one spelling per entry, so that a policy, a
// baseline and an observation always agree on the key. Pure functions.

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch {

// Normalises an absolute path ("/etc//x/" -> "/etc/x"); refuses relative paths, NUL bytes and
// "." or ".." components, which would make rule ownership ambiguous.
Result<std::string> normalizeAbsolutePath(std::string_view path);

// True when normalizeAbsolutePath(path) would return `path` unchanged (checked without
// building a copy: a baseline checks every one of its 100,000 paths).
bool isNormalAbsolutePath(std::string_view path);

// True when `path` is `dir` or lies below it ("/etc" covers "/etc/x", not "/etcetera").
bool isAtOrBelow(std::string_view dir, std::string_view path);

}  // namespace driftwatch
