#include "aggregator/api/request_body.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

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

namespace {

using nlohmann::json;

// Before any tree is built: how deep a body nests and how many values it holds, so that a
// small body cannot become a huge tree (a value costs tens of bytes in memory, "[]" two on the
// wire).
class ShapeCheck : public nlohmann::json_sax<json> {
 public:
  ShapeCheck(size_t maxDepth, size_t maxValues) : maxDepth_(maxDepth), maxValues_(maxValues) {}
  bool exceeded() const { return exceeded_; }

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool value() {
    if (++values_ <= maxValues_) return true;
    exceeded_ = true;
    return false;
  }
  bool open() {
    if (++depth_ > maxDepth_) {
      exceeded_ = true;
      return false;
    }
    return value();
  }
  bool close() {
    --depth_;
    return true;
  }

  const size_t maxDepth_;
  const size_t maxValues_;
  size_t depth_ = 0;
  size_t values_ = 0;
  bool exceeded_ = false;
};

// The body as JSON when it is JSON of the right type and shape (at most `maxDepth` levels and
// `maxValues` values), with no object repeating a key (the parser would keep the last one
// silently); the error says what is wrong.
Result<json> parseJson(std::string_view contentType, std::string_view body, size_t maxDepth,
                       size_t maxValues) {
  if (!isJsonType(contentType))
    return makeError(ErrorCode::kInvalidInput,
                     "send the request body as Content-Type: application/json",
                     "Content-Type " + escapeBytes(contentType.substr(0, 100)));
  // JSON text holds no NUL byte; the parser would stop at one and take what came before.
  if (body.find('\0') != std::string_view::npos)
    return makeError(ErrorCode::kInvalidInput, "the request body is not valid JSON (a NUL byte)");
  ShapeCheck shape(maxDepth, maxValues);
  if (!json::sax_parse(body, &shape)) {
    if (shape.exceeded())
      return makeError(ErrorCode::kInvalidInput,
                       "the request body nests deeper or holds more values than this endpoint "
                       "takes (see docs/aggregator.md, \"Admin API\")");
    return makeError(ErrorCode::kInvalidInput, "the request body is not valid JSON");
  }
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> repeated;
  const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() && !repeated &&
        !keys.back().insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  auto parsed = json::parse(body, check, false);
  if (parsed.is_discarded())
    return makeError(ErrorCode::kInvalidInput, "the request body is not valid JSON");
  if (repeated)
    return makeError(ErrorCode::kInvalidInput, "given twice in the request body",
                     escapeBytes(repeated->substr(0, 100)));
  if (!parsed.is_object())
    return makeError(ErrorCode::kInvalidInput, "the request body must be a JSON object");
  return parsed;
}

Status onlyKnown(const json& object, std::initializer_list<std::string_view> allowed,
                 std::string_view where) {
  for (const auto& item : object.items()) {
    const std::string& name = item.key();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string known;
    for (const auto a : allowed)
      known += (known.empty() ? "" : ", ") + std::string(a);
    return makeError(ErrorCode::kInvalidInput,
                     known.empty()
                         ? "this endpoint takes no fields"
                         : "not a field of " + std::string(where) + " (it takes " + known + ")",
                     escapeBytes(name.substr(0, 100)));
  }
  return {};
}

// The string at `name` ("" when absent), at most `max` bytes; the error names `field`.
Result<std::string> stringField(const json& object, const char* name, size_t max,
                                const std::string& field, bool required) {
  const auto it = object.find(name);
  if (it == object.end()) {
    if (required) return makeError(ErrorCode::kInvalidInput, "required (a JSON string)", field);
    return std::string();
  }
  if (!it->is_string()) return makeError(ErrorCode::kInvalidInput, "must be a string", field);
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > max)
    return makeError(ErrorCode::kInvalidInput, "longer than " + std::to_string(max) + " bytes",
                     field);
  return text;
}

// The "message" and "by" of a policy change; `by` is `defaultBy` when absent or empty.
Status readRecordFields(const json& body, std::string_view defaultBy, std::string& message,
                        std::string& by) {
  auto m = stringField(body, "message", kMaxFieldBytes, "message", false);
  if (!m.ok()) return m.error();
  message = std::move(*m);
  auto b = stringField(body, "by", kMaxFieldBytes, "by", false);
  if (!b.ok()) return b.error();
  by = b->empty() ? std::string(defaultBy) : std::move(*b);
  return {};
}

// The array at `name`, of 1 to kMaxUploadedPolicies `what`.
Result<const json*> listField(const json& body, const char* name, std::string_view what) {
  const auto it = body.find(name);
  if (it == body.end() || !it->is_array() || it->empty() || it->size() > kMaxUploadedPolicies)
    return makeError(ErrorCode::kInvalidInput,
                     "an array of 1 to " + std::to_string(kMaxUploadedPolicies) + " " +
                         std::string(what) + " is required",
                     name);
  return &*it;
}

// "", or what gitCommitOf() records: a SHA-1 or SHA-256 commit id, with "+dirty".
bool isGitCommit(std::string_view text) {
  if (text.empty()) return true;
  if (text.ends_with("+dirty")) text.remove_suffix(6);
  if (text.size() != 40 && text.size() != 64) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<RequestBody> RequestBody::parse(std::string_view contentType, std::string_view body,
                                       std::initializer_list<std::string_view> allowed) {
  RequestBody out;
  if (body.empty()) return out;
  // An object of strings; one level more so that a nested value is named as the field at fault.
  auto parsed = parseJson(contentType, body, 2, 8 + 4 * allowed.size());
  if (!parsed.ok()) return parsed.error();
  if (auto s = onlyKnown(*parsed, allowed, "this endpoint"); !s.ok()) return s.error();
  for (const auto& item : parsed->items()) {
    const std::string& name = item.key();
    auto text = stringField(*parsed, name.c_str(), kMaxFieldBytes, name, true);
    if (!text.ok()) return text.error();
    out.fields_.emplace(name, std::move(*text));
  }
  return out;
}

Result<PolicyUpload> parsePolicyUpload(std::string_view contentType, std::string_view body,
                                       std::string_view defaultBy) {
  // {"policies": [{5 strings}, ...], 2 strings}: three levels.
  auto parsed = parseJson(contentType, body, 3, 8 + 8 * kMaxUploadedPolicies);
  if (!parsed.ok()) return parsed.error();
  if (auto s = onlyKnown(*parsed, {"policies", "message", "by"}, "this endpoint"); !s.ok())
    return s.error();
  PolicyUpload out;
  if (auto s = readRecordFields(*parsed, defaultBy, out.message, out.by); !s.ok()) return s.error();
  auto policies = listField(*parsed, "policies", "policies");
  if (!policies.ok()) return policies.error();
  for (size_t i = 0; i < (*policies)->size(); ++i) {
    const json& p = (**policies)[i];
    const std::string at = "policies[" + std::to_string(i) + "]";
    if (!p.is_object()) return makeError(ErrorCode::kInvalidInput, "must be an object", at);
    if (auto s = onlyKnown(p, {"path", "text", "baseline_path", "baseline", "git_commit"}, at);
        !s.ok())
      return s.error();
    PolicySource source;
    auto path = stringField(p, "path", 4096, at + ".path", true);
    if (!path.ok()) return path.error();
    // Shown in `policy list` and history: no control or bidirectional-override characters.
    if (path->empty() || !isDisplaySafe(*path))
      return makeError(ErrorCode::kInvalidInput,
                       "must be a path that is safe to show (no control characters)", at + ".path");
    source.path = std::move(*path);
    auto text = stringField(p, "text", kMaxPolicyUploadBytes, at + ".text", true);
    if (!text.ok()) return text.error();
    source.text = std::move(*text);
    auto baselinePath = stringField(p, "baseline_path", 4096, at + ".baseline_path", false);
    if (!baselinePath.ok()) return baselinePath.error();
    if (!isDisplaySafe(*baselinePath))
      return makeError(ErrorCode::kInvalidInput,
                       "must be a path that is safe to show (no control characters)",
                       at + ".baseline_path");
    source.baselinePath = std::move(*baselinePath);
    if (const auto b = p.find("baseline"); b != p.end() && !b->is_null()) {
      auto baseline = stringField(p, "baseline", kMaxPolicyUploadBytes, at + ".baseline", true);
      if (!baseline.ok()) return baseline.error();
      source.baseline = std::move(*baseline);
    }
    auto commit = stringField(p, "git_commit", 128, at + ".git_commit", false);
    if (!commit.ok()) return commit.error();
    if (!isGitCommit(*commit))
      return makeError(ErrorCode::kInvalidInput,
                       "must be a commit id (40 or 64 hex digits, optionally +dirty) or empty",
                       at + ".git_commit");
    source.gitCommit = std::move(*commit);
    out.policies.push_back(std::move(source));
  }
  return out;
}

Result<PolicyRemoval> parsePolicyRemoval(std::string_view contentType, std::string_view body,
                                         std::string_view defaultBy) {
  auto parsed = parseJson(contentType, body, 2, 8 + 2 * kMaxUploadedPolicies);
  if (!parsed.ok()) return parsed.error();
  if (auto s = onlyKnown(*parsed, {"names", "message", "by"}, "this endpoint"); !s.ok())
    return s.error();
  PolicyRemoval out;
  if (auto s = readRecordFields(*parsed, defaultBy, out.message, out.by); !s.ok()) return s.error();
  auto names = listField(*parsed, "names", "policy names");
  if (!names.ok()) return names.error();
  for (size_t i = 0; i < (*names)->size(); ++i) {
    const json& n = (**names)[i];
    if (!n.is_string() || n.get_ref<const std::string&>().empty() ||
        n.get_ref<const std::string&>().size() > 256)
      return makeError(ErrorCode::kInvalidInput, "must be a policy name (a string)",
                       "names[" + std::to_string(i) + "]");
    out.names.push_back(n.get<std::string>());
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
