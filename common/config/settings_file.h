#pragma once
// Flat YAML settings files (the agent's and the aggregator's configs): a mapping of known keys
// to a scalar or a list of scalars. Unknown keys (with the closest known one as a hint),
// repeated keys and values of the wrong shape are errors that name file:line:column, so a typo
// never quietly changes how driftwatch runs. Pure functions.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::config {

struct Setting {
  std::string key;
  std::string value;               // the scalar; empty for a list
  std::vector<std::string> items;  // the list's scalars
  bool isList = false;
  // A mapping, for a key listed as a section: its caller parses the section itself.
  bool isSection = false;
  std::string where;  // "file:line:column: key"

  // "'VALUE' is not SHAPE", located at the value.
  Error bad(std::string_view shape) const;
};

// Calls `fn` for every key of the mapping in `text`, in file order, and stops at its first
// error. An empty file is no settings. Keys in `sectionKeys` may hold a mapping (or nothing).
Status forEachSetting(std::string_view text, std::string_view fileName,
                      std::span<const std::string_view> knownKeys,
                      const std::function<Status(const Setting&)>& fn,
                      std::span<const std::string_view> sectionKeys = {});

// Reads `path` (at most 1 MiB). A missing file is an empty one unless `required`.
Result<std::string> readSettingsFile(const std::string& path, bool required);

}  // namespace driftwatch::config
