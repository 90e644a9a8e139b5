#include "aggregator/api/query_string.h"

#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parameter names are plain words: anything else is shown escaped in the error.
std::string shown(std::string_view text) {
  return escapeBytes(text.substr(0, 64)) + (text.size() > 64 ? "..." : "");
}

}  // namespace

Result<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return makeError(ErrorCode::kInvalidInput, "a '%' escape needs two hex digits",
                         shown(text));
      const int h = hexValue(text[i + 1]);
      const int l = hexValue(text[i + 2]);
      if (h < 0 || l < 0)
        return makeError(ErrorCode::kInvalidInput, "a '%' escape needs two hex digits",
                         shown(text));
      c = static_cast<char>(h * 16 + l);
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      c = ' ';
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f)
      return makeError(ErrorCode::kInvalidInput, "control characters are not allowed", shown(text));
    out += c;
  }
  return out;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                       b == '-' || b == '.' || b == '_' || b == '~';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kDigits[b >> 4];
      out += kDigits[b & 0xf];
    }
  }
  return out;
}

Result<RequestTarget> parseTarget(std::string_view target) {
  RequestTarget out;
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  if (path.empty() || path.front() != '/')
    return makeError(ErrorCode::kInvalidInput, "the path must start with '/'", shown(path));
  if (path == "/") return out;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end == start)
      return makeError(ErrorCode::kNotFound, "no such endpoint (an empty path segment)",
                       shown(path));
    auto segment = percentDecode(path.substr(start, end - start), false);
    if (!segment.ok()) return segment.error();
    out.segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

Result<QueryParameters> QueryParameters::parse(std::string_view query,
                                               std::initializer_list<std::string_view> allowed) {
  QueryParameters out;
  if (query.empty()) return out;
  size_t start = 0;
  while (start <= query.size()) {
    const size_t amp = query.find('&', start);
    const size_t end = amp == std::string_view::npos ? query.size() : amp;
    const std::string_view pair = query.substr(start, end - start);
    if (pair.empty())
      return makeError(ErrorCode::kInvalidInput, "an empty query parameter", shown(query));
    const size_t eq = pair.find('=');
    auto name = percentDecode(pair.substr(0, eq), true);
    if (!name.ok()) return name.error();
    bool known = false;
    for (const auto a : allowed)
      known = known || a == *name;
    if (!known) {
      std::string list;
      for (const auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
      return makeError(
          ErrorCode::kInvalidInput,
          "unknown query parameter" + (list.empty() ? std::string(": this endpoint takes none")
                                                    : " (this endpoint takes " + list + ")"),
          shown(*name));
    }
    auto value = percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!value.ok()) return makeError(value.error().code, value.error().message, *name);
    if (!out.values_.emplace(*name, std::move(*value)).second)
      return makeError(ErrorCode::kInvalidInput, "the query parameter is given twice", *name);
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

std::optional<std::string> QueryParameters::get(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Result<int64_t> QueryParameters::number(std::string_view name, int64_t fallback, int64_t min,
                                        int64_t max) const {
  const auto text = get(name);
  if (!text) return fallback;
  const auto bad = [&] {
    return makeError(
        ErrorCode::kInvalidInput,
        "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max),
        std::string(name) + "=" + shown(*text));
  };
  if (text->empty() || text->size() > 18) return bad();
  int64_t v = 0;
  for (const char c : *text) {
    if (c < '0' || c > '9') return bad();
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return bad();
  return v;
}

}  // namespace driftwatch::aggregator
