#include "aggregator/api/request_body.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

// "application/json", with parameters (charset) allowed and case ignored (RFC 9110).
bool isJsonType(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < kJson.size(); ++i) {
    const char c = type[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kJson[i]) return false;
  }
  return true;
}

}  // namespace

Result<RequestBody> RequestBody::parse(std::string_view contentType, std::string_view body,
                                       std::initializer_list<std::string_view> allowed) {
  RequestBody out;
  if (body.empty()) return out;
  if (!isJsonType(contentType))
    return makeError(ErrorCode::kInvalidInput,
                     "send the request body as Content-Type: application/json",
                     "Content-Type " + escapeBytes(contentType.substr(0, 100)));
  // Duplicate keys: the SAX-free parser keeps the last one silently, so count them apart.
  size_t members = 0;
  bool tooDeep = false;
  const nlohmann::json::parser_callback_t count = [&](int depth, nlohmann::json::parse_event_t ev,
                                                      nlohmann::json&) {
    if (depth > 1) tooDeep = true;
    if (depth == 1 && ev == nlohmann::json::parse_event_t::key) ++members;
    return true;
  };
  const auto json = nlohmann::json::parse(body, count, false);
  if (json.is_discarded())
    return makeError(ErrorCode::kInvalidInput, "the request body is not valid JSON");
  if (!json.is_object())
    return makeError(ErrorCode::kInvalidInput,
                     "the request body must be a JSON object of string fields");
  if (json.size() != members)
    return makeError(ErrorCode::kInvalidInput, "the request body repeats a field");
  for (const auto& [name, value] : json.items()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string known;
      for (const auto a : allowed)
        known += (known.empty() ? "" : ", ") + std::string(a);
      return makeError(ErrorCode::kInvalidInput,
                       known.empty() ? "this endpoint takes no fields"
                                     : "not a field of this endpoint (it takes " + known + ")",
                       escapeBytes(name.substr(0, 100)));
    }
    if (!value.is_string() || tooDeep)
      return makeError(ErrorCode::kInvalidInput, "must be a string", name);
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > kMaxFieldBytes)
      return makeError(ErrorCode::kInvalidInput,
                       "longer than " + std::to_string(kMaxFieldBytes) + " bytes", name);
    out.fields_.emplace(name, text);
  }
  return out;
}

std::optional<std::string> RequestBody::get(std::string_view name) const {
  const auto it = fields_.find(name);
  if (it == fields_.end()) return std::nullopt;
  return it->second;
}

std::string RequestBody::value(std::string_view name, std::string_view fallback) const {
  const auto it = fields_.find(name);
  return it == fields_.end() ? std::string(fallback) : it->second;
}

}  // namespace driftwatch::aggregator
