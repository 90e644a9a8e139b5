#include "common/base/paths.h"

#include "common/base/escape.h"
#include "common/base/strings.h"

namespace driftwatch {

Result<std::string> normalizeAbsolutePath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return makeError(ErrorCode::kInvalidInput,
                     "'" + escapeBytes(path) + "' is not an absolute path (start it with '/')");
  }
  if (path.find('\0') != std::string_view::npos) {
    return makeError(ErrorCode::kInvalidInput, "a path cannot contain a NUL byte");
  }
  std::string out;
  for (const auto part : split(path, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return makeError(
          ErrorCode::kInvalidInput,
          "'" + escapeBytes(path) + "' has a '.' or '..' component; write the path plainly");
    }
    out += '/';
    out += part;
  }
  if (out.empty()) out = "/";
  if (out.size() > 4096) {
    return makeError(ErrorCode::kInvalidInput, "path is longer than PATH_MAX (4096 bytes)");
  }
  return out;
}

bool isNormalAbsolutePath(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 4096) return false;
  if (path == "/") return true;
  if (path.back() == '/' || path.find('\0') != std::string_view::npos) return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool isAtOrBelow(std::string_view dir, std::string_view path) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  return path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

}  // namespace driftwatch
