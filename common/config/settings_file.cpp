#include "common/config/settings_file.h"

#include <algorithm>
#include <map>

#include <yaml-cpp/yaml.h>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/strings.h"

namespace driftwatch::config {
namespace {

std::string where(std::string_view file, const YAML::Mark& mark) {
  return std::string(file) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

}  // namespace

Error Setting::bad(std::string_view shape) const {
  const std::string shown = isList ? std::string("a list") : "'" + escapeBytes(value) + "'";
  return makeError(ErrorCode::kInvalidInput, shown + " is not " + std::string(shape), where);
}

Status forEachSetting(std::string_view text, std::string_view fileName,
                      std::span<const std::string_view> knownKeys,
                      const std::function<Status(const Setting&)>& fn,
                      std::span<const std::string_view> sectionKeys) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return makeError(ErrorCode::kInvalidInput, "invalid YAML: " + e.msg, where(fileName, e.mark));
  }
  if (!root.IsDefined() || root.IsNull()) return {};
  if (!root.IsMap())
    return makeError(ErrorCode::kInvalidInput, "the config must be a mapping of keys",
                     std::string(fileName));
  const std::vector<std::string_view> keys(knownKeys.begin(), knownKeys.end());
  std::map<std::string, int> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node keyNode = it->first;  // copies: the iterator yields temporaries
    const YAML::Node value = it->second;
    const std::string key = keyNode.IsScalar() ? keyNode.Scalar() : std::string();
    const std::string loc = where(fileName, keyNode.Mark());
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string message = "unknown key '" + escapeBytes(key) + "'";
      if (const auto hint = closestMatch(key, keys); !hint.empty())
        message += " (did you mean '" + hint + "'?)";
      return makeError(ErrorCode::kInvalidInput, message, loc);
    }
    if (const auto [pos, inserted] = seen.emplace(key, keyNode.Mark().line + 1); !inserted) {
      return makeError(ErrorCode::kInvalidInput,
                       "repeated key (first on line " + std::to_string(pos->second) + ")",
                       loc + ": " + key);
    }
    Setting setting;
    setting.key = key;
    setting.where = where(fileName, value.Mark()) + ": " + key;
    if (std::find(sectionKeys.begin(), sectionKeys.end(), key) != sectionKeys.end()) {
      if (!value.IsMap() && !value.IsNull())
        return makeError(ErrorCode::kInvalidInput, "needs a mapping of keys", setting.where);
      setting.isSection = true;
    } else if (value.IsScalar()) {
      setting.value = value.Scalar();
    } else if (value.IsSequence()) {
      setting.isList = true;
      for (const auto& item : value) {
        if (!item.IsScalar())
          return makeError(ErrorCode::kInvalidInput, "list items must be single values",
                           setting.where);
        setting.items.push_back(item.Scalar());
      }
    } else {
      return makeError(ErrorCode::kInvalidInput, "needs a single value or a list", setting.where);
    }
    if (auto s = fn(setting); !s.ok()) return s;
  }
  return {};
}

Result<std::string> readSettingsFile(const std::string& path, bool required) {
  auto text = readRegularFile(path, 1 << 20, "config file");
  if (!text.ok()) {
    if (!required && text.error().code == ErrorCode::kNotFound) return std::string();
    return text.error();
  }
  return text;
}

}  // namespace driftwatch::config
