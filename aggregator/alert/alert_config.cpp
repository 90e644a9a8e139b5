#include "aggregator/alert/alert_config.h"

#include <algorithm>
#include <set>

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/base/units.h"

namespace driftwatch::aggregator {
namespace {

constexpr std::string_view kFacilities[] = {"auth",   "authpriv", "cron",   "daemon", "local0",
                                            "local1", "local2",   "local3", "local4", "local5",
                                            "local6", "local7",   "user"};

// Parses the section, failing at the first problem with its position in the file.
class SectionParser {
 public:
  explicit SectionParser(std::string_view fileName) : file_(fileName) {}

  Result<AlertsConfig> parse(const YAML::Node& section) {
    AlertsConfig out;
    if (section.IsNull()) return out;
    if (!section.IsMap())
      return at(section, "alerts", "must be a mapping (settle, receivers, ...)");
    static const std::vector<std::string_view> kKeys = {
        "settle",    "min_severity", "group_wait", "retry_base",
        "retry_max", "max_attempts", "receivers",  "host_silent_after"};
    for (auto it = section.begin(); it != section.end(); ++it) {
      const YAML::Node keyNode = it->first;  // copies: the iterator yields temporaries
      const YAML::Node value = it->second;
      const std::string key = keyNode.Scalar();
      const std::string field = "alerts." + key;
      if (auto s = known(keyNode, "alerts", kKeys); !s.ok()) return s.error();
      if (key == "receivers") {
        if (auto s = receivers(value, out); !s.ok()) return s.error();
        continue;
      }
      auto text = scalar(value, field);
      if (!text.ok()) return text.error();
      if (key == "settle") {
        auto d = duration(value, field, *text, 0, std::chrono::hours(24), "up to 1d, like 30s");
        if (!d.ok()) return d.error();
        out.settle = *d;
      } else if (key == "host_silent_after") {
        auto d = duration(value, field, *text, 0, std::chrono::hours(24 * 7),
                          "up to 7d, like 15m (0: never)");
        if (!d.ok()) return d.error();
        if (d->count() != 0 && d->count() < 60'000)
          return at(value, field, "must be at least 1m (or 0: never), like 15m");
        out.hostSilentAfter = *d;
      } else if (key == "group_wait") {
        auto d = duration(value, field, *text, 0, std::chrono::hours(1), "up to 1h, like 10s");
        if (!d.ok()) return d.error();
        out.groupWait = *d;
      } else if (key == "retry_base") {
        auto d =
            duration(value, field, *text, 10, std::chrono::hours(1), "from 10ms to 1h, like 5s");
        if (!d.ok()) return d.error();
        out.retryBase = *d;
      } else if (key == "retry_max") {
        auto d =
            duration(value, field, *text, 10, std::chrono::hours(24), "from 10ms to 1d, like 10m");
        if (!d.ok()) return d.error();
        out.retryMax = *d;
      } else if (key == "min_severity") {
        const auto sev = model::parseSeverity(*text);
        if (!sev) return at(value, field, quoted(*text) + " is not low, medium, high or critical");
        out.minSeverity = *sev;
      } else if (key == "max_attempts") {
        auto n = number(value, field, *text, 1, 1000);
        if (!n.ok()) return n.error();
        out.maxAttempts = *n;
      }
    }
    if (out.retryMax < out.retryBase)
      return at(section, "alerts.retry_max", "must not be shorter than alerts.retry_base");
    return out;
  }

 private:
  std::string where(const YAML::Node& node) const {
    const auto mark = node.Mark();
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  Error at(const YAML::Node& node, std::string_view field, std::string message) const {
    return makeError(ErrorCode::kInvalidInput, std::move(message),
                     where(node) + ": " + std::string(field));
  }

  static std::string quoted(std::string_view text) { return "'" + escapeBytes(text) + "'"; }

  Status known(const YAML::Node& keyNode, std::string_view field,
               const std::vector<std::string_view>& keys) const {
    const std::string key = keyNode.IsScalar() ? keyNode.Scalar() : std::string();
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return {};
    std::string message = "unknown key " + quoted(key);
    if (const auto hint = closestMatch(key, keys); !hint.empty())
      message += " (did you mean '" + hint + "'?)";
    return at(keyNode, field, message);
  }

  Result<std::string> scalar(const YAML::Node& node, std::string_view field) const {
    if (!node.IsScalar()) return at(node, field, "needs a single value");
    return node.Scalar();
  }

  Result<std::chrono::milliseconds> duration(const YAML::Node& node, std::string_view field,
                                             const std::string& text, int64_t minMs,
                                             std::chrono::milliseconds max,
                                             std::string_view shape) const {
    const auto d = parseDuration(text);
    if (!d || d->count() < minMs || *d > max)
      return at(node, field, quoted(text) + " is not a duration " + std::string(shape));
    return *d;
  }

  Result<unsigned> number(const YAML::Node& node, std::string_view field, const std::string& text,
                          unsigned long long min, unsigned long long max) const {
    unsigned long long n = 0;
    if (!parseUnsigned(text, n) || n < min || n > max)
      return at(node, field,
                quoted(text) + " is not a number from " + std::to_string(min) + " to " +
                    std::to_string(max));
    return static_cast<unsigned>(n);
  }

  Status receivers(const YAML::Node& node, AlertsConfig& out) {
    if (!node.IsSequence())
      return at(node, "alerts.receivers", "must be a list of receivers ({name, type, ...})");
    std::set<std::string> names;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string field = "alerts.receivers[" + std::to_string(i) + "]";
      auto r = receiver(item, field);
      if (!r.ok()) return r.error();
      if (!names.insert(r->name).second)
        return at(item, field + ".name", "another receiver has the name " + quoted(r->name));
      out.receivers.push_back(std::move(r).value());
    }
    return {};
  }

  Result<ReceiverConfig> receiver(const YAML::Node& node, const std::string& field) {
    if (!node.IsMap()) return at(node, field, "must be a mapping ({name, type, url, ...})");
    static const std::vector<std::string_view> kKeys = {"name",           "type",     "url",
                                                        "headers",        "ca_file",  "timeout",
                                                        "max_per_minute", "facility", "ident"};
    ReceiverConfig r;
    std::set<std::string> given;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node keyNode = it->first;
      const YAML::Node value = it->second;
      if (auto s = known(keyNode, field, kKeys); !s.ok()) return s.error();
      const std::string key = keyNode.Scalar();
      const std::string sub = field + "." + key;
      given.insert(key);
      if (key == "headers") {
        if (!value.IsMap()) return at(value, sub, "must be a mapping of header names to values");
        for (auto h = value.begin(); h != value.end(); ++h) {
          const YAML::Node hn = h->first;
          const YAML::Node hv = h->second;
          const std::string name = hn.IsScalar() ? hn.Scalar() : std::string();
          const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
          });
          if (!token) return at(hn, sub, quoted(name) + " is not a header name");
          // The value may be a secret (a bearer token): checked, never shown.
          if (!hv.IsScalar() || hv.Scalar().find_first_of("\r\n") != std::string::npos)
            return at(hv, sub + "." + name, "the value must be one line of text");
          r.headers.emplace_back(name, hv.Scalar());
        }
        continue;
      }
      auto text = scalar(value, sub);
      if (!text.ok()) return text.error();
      if (key == "name") {
        const bool ok =
            !text->empty() && text->size() <= 64 &&
            std::all_of(text->begin(), text->end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            });
        if (!ok)
          return at(value, sub,
                    quoted(*text) + " is not a receiver name (1-64 of a-z, 0-9, '-' and '_')");
        r.name = *text;
      } else if (key == "type") {
        if (*text == "webhook") {
          r.type = ReceiverType::kWebhook;
        } else if (*text == "alertmanager") {
          r.type = ReceiverType::kAlertmanager;
        } else if (*text == "syslog") {
          r.type = ReceiverType::kSyslog;
        } else {
          return at(value, sub, quoted(*text) + " is not webhook, alertmanager or syslog");
        }
      } else if (key == "url") {
        auto url = parseHttpUrl(*text, where(value) + ": " + sub);
        if (!url.ok()) return url.error();
        r.url = std::move(url).value();
      } else if (key == "ca_file") {
        if (text->empty() || text->front() != '/')
          return at(value, sub, quoted(*text) + " is not an absolute path to a PEM file");
        r.caFile = *text;
      } else if (key == "timeout") {
        auto d =
            duration(value, sub, *text, 100, std::chrono::minutes(5), "from 100ms to 5m, like 10s");
        if (!d.ok()) return d.error();
        r.timeout = *d;
      } else if (key == "max_per_minute") {
        auto n = number(value, sub, *text, 1, 100000);
        if (!n.ok()) return n.error();
        r.maxPerMinute = *n;
      } else if (key == "facility") {
        if (std::find(std::begin(kFacilities), std::end(kFacilities), *text) ==
            std::end(kFacilities))
          return at(value, sub,
                    quoted(*text) + " is not a syslog facility (daemon, local0-7, ...)");
        r.facility = *text;
      } else if (key == "ident") {
        if (text->empty() || text->size() > 32 ||
            text->find_first_of(" \t\r\n:[]") != std::string::npos)
          return at(value, sub, quoted(*text) + " is not a syslog ident (one word, 1-32 bytes)");
        r.ident = *text;
      }
    }
    if (!given.contains("name")) return at(node, field, "missing `name`");
    if (!given.contains("type"))
      return at(node, field, "missing `type` (webhook, alertmanager or syslog)");
    const bool http = r.type != ReceiverType::kSyslog;
    if (http && !given.contains("url")) return at(node, field, "missing `url`");
    for (const char* k : {"url", "headers", "ca_file", "timeout"}) {
      if (!http && given.contains(k))
        return at(node, field + "." + k, "a syslog receiver takes no " + std::string(k));
    }
    for (const char* k : {"facility", "ident"}) {
      if (http && given.contains(k))
        return at(node, field + "." + k, "only a syslog receiver takes " + std::string(k));
    }
    if (!r.caFile.empty() && !r.url.tls)
      return at(node, field + ".ca_file", "is for https:// addresses only");
    return r;
  }

  std::string file_;
};

}  // namespace

std::string_view receiverTypeName(ReceiverType t) {
  switch (t) {
    case ReceiverType::kWebhook:
      return "webhook";
    case ReceiverType::kAlertmanager:
      return "alertmanager";
    case ReceiverType::kSyslog:
      return "syslog";
  }
  return "webhook";
}

const ReceiverConfig* AlertsConfig::receiver(std::string_view name) const {
  for (const auto& r : receivers) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Result<HttpUrl> parseHttpUrl(std::string_view text, std::string_view where) {
  const auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidInput,
                     "'" + escapeBytes(text) + "' " + std::string(why) +
                         " (expected http://HOST[:PORT]/PATH or https://...)",
                     std::string(where));
  };
  HttpUrl url;
  url.text = std::string(text);
  std::string_view rest;
  if (text.starts_with("https://")) {
    url.tls = true;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return bad("is not an http:// or https:// address");
  }
  if (text.find_first_of(" \t\r\n#") != std::string_view::npos)
    return bad("has spaces, line breaks or a fragment");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos)
    return bad("has credentials in it: put them in `headers` (Authorization)");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("has text after ]");
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return bad("has no host");
  if (port.empty()) {
    url.port = url.tls ? "443" : "80";
  } else {
    unsigned long long n = 0;
    if (!parseUnsigned(port, n) || n < 1 || n > 65535) return bad("has a bad port");
    url.port = std::string(port);
  }
  return url;
}

Result<AlertsConfig> parseAlertsConfig(std::string_view text, std::string_view fileName) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return makeError(ErrorCode::kInvalidInput, "invalid YAML: " + e.msg,
                     std::string(fileName) + ":" + std::to_string(e.mark.line + 1) + ":" +
                         std::to_string(e.mark.column + 1));
  }
  if (!root.IsMap() || !root["alerts"]) return AlertsConfig{};
  return SectionParser(fileName).parse(root["alerts"]);
}

}  // namespace driftwatch::aggregator
