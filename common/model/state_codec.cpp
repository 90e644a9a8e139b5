#include "common/model/state_codec.h"

#include <vector>

#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/model/file_attrs_text.h"

namespace driftwatch::model {
namespace {

std::string_view presenceName(Presence p) {
  switch (p) {
    case Presence::kPresent:
      return "present";
    case Presence::kAbsent:
      return "absent";
    case Presence::kUnknown:
      return "unknown";
  }
  return "unknown";
}

class Writer {
 public:
  explicit Writer(Presence presence) : out_(presenceName(presence)) {}
  Writer& field(std::string_view name, std::string_view rawValue) {
    out_ += '\t';
    out_ += name;
    out_ += '=';
    out_ += escapeBytes(rawValue);
    return *this;
  }
  Writer& number(std::string_view name, uint64_t value) {
    return field(name, std::to_string(value));
  }
  Writer& error(const std::string& error) {
    if (!error.empty()) field("error", error);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string failedList(AttrMask failed) {
  std::string out;
  for (const Attr a : attrsOf(ResourceKind::kFile)) {
    if (!has(failed, a)) continue;
    if (!out.empty()) out += ',';
    out += attrName(a);
  }
  return out;
}

struct Field {
  std::string_view name;
  std::string value;  // unescaped
};

// Splits "presence\tname=value..." into the presence and unescaped fields.
struct Parsed {
  Presence presence = Presence::kUnknown;
  std::vector<Field> fields;
  std::vector<std::string_view> rawFields;  // as written, for the file attribute parser
};

Result<Parsed> parse(std::string_view text) {
  const auto parts = split(text, '\t');
  Parsed parsed;
  if (parts[0] == "present") {
    parsed.presence = Presence::kPresent;
  } else if (parts[0] == "absent") {
    parsed.presence = Presence::kAbsent;
  } else if (parts[0] == "unknown") {
    parsed.presence = Presence::kUnknown;
  } else {
    return makeError(ErrorCode::kInvalidInput, "state starts with '" + escapeBytes(parts[0]) +
                                                   "', not present, absent or unknown");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos) {
      return makeError(ErrorCode::kInvalidInput,
                       "state field '" + escapeBytes(parts[i]) + "' is not NAME=VALUE");
    }
    auto value = unescapeBytes(parts[i].substr(eq + 1));
    if (!value.ok()) return value.error();
    parsed.fields.push_back({parts[i].substr(0, eq), std::move(value).value()});
    parsed.rawFields.push_back(parts[i]);
  }
  return parsed;
}

Error badField(std::string_view name, std::string_view value) {
  return makeError(ErrorCode::kInvalidInput, "state field " + std::string(name) + "='" +
                                                 escapeBytes(value) + "' is malformed");
}

bool toBool(std::string_view v, bool& out) {
  if (v == "true") {
    out = true;
    return true;
  }
  if (v == "false") {
    out = false;
    return true;
  }
  return false;
}

bool toId(std::string_view v, uint32_t& out) {
  unsigned long long n = 0;
  if (!parseUnsigned(v, n) || n >= 0xffffffffULL) return false;
  out = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

std::string encodeState(const FileObservation& obs) {
  std::string out(presenceName(obs.presence));
  if (obs.presence == Presence::kPresent) {
    const std::string attrs = formatFileAttrs(obs.attrs);
    if (!attrs.empty()) out += "\t" + attrs;
  }
  if (obs.failed != 0) out += "\tfailed=" + failedList(obs.failed);
  if (!obs.error.empty()) out += "\terror=" + escapeBytes(obs.error);
  return out;
}

std::string encodeState(const SysctlObservation& obs) {
  Writer w(obs.presence);
  if (obs.presence == Presence::kPresent) w.field("value", obs.value);
  return w.error(obs.error).take();
}

std::string encodeState(const PackageObservation& obs) {
  Writer w(!obs.error.empty() ? Presence::kUnknown
                              : (obs.instances.empty() ? Presence::kAbsent : Presence::kPresent));
  for (const auto& inst : obs.instances) {
    w.field("arch", inst.arch).field("version", inst.version).field("state", inst.state);
  }
  return w.error(obs.error).take();
}

std::string encodeState(const ServiceObservation& obs) {
  Writer w(obs.error.empty() ? Presence::kPresent : Presence::kUnknown);
  if (obs.error.empty())
    w.field("enabled", obs.enabled ? "true" : "false")
        .field("masked", obs.masked ? "true" : "false");
  return w.error(obs.error).take();
}

std::string encodeState(const UserObservation& obs) {
  Writer w(obs.presence);
  if (obs.presence == Presence::kPresent) {
    w.number("uid", obs.uid)
        .number("gid", obs.gid)
        .field("comment", obs.comment)
        .field("home", obs.home)
        .field("shell", obs.shell);
  }
  return w.error(obs.error).take();
}

std::string encodeState(const GroupObservation& obs) {
  Writer w(obs.presence);
  if (obs.presence == Presence::kPresent)
    w.number("gid", obs.gid).field("members", join(obs.members, ","));
  return w.error(obs.error).take();
}

Result<FileObservation> decodeFileState(std::string_view path, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  FileObservation obs;
  obs.path = std::string(path);
  obs.presence = parsed->presence;
  for (size_t i = 0; i < parsed->fields.size(); ++i) {
    const Field& f = parsed->fields[i];
    if (f.name == "error") {
      obs.error = f.value;
    } else if (f.name == "failed") {
      for (const auto name : split(f.value, ',')) {
        const auto a = parseAttrName(ResourceKind::kFile, name);
        if (!a) return badField(f.name, f.value);
        obs.failed |= bit(*a);
      }
    } else if (auto e = parseFileAttrField(parsed->rawFields[i], obs.attrs)) {
      return makeError(ErrorCode::kInvalidInput, e->message);
    }
  }
  return obs;
}

Result<SysctlObservation> decodeSysctlState(std::string_view key, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  SysctlObservation obs;
  obs.key = std::string(key);
  obs.presence = parsed->presence;
  for (const Field& f : parsed->fields) {
    if (f.name == "value") {
      obs.value = f.value;
    } else if (f.name == "error") {
      obs.error = f.value;
    } else {
      return badField(f.name, f.value);
    }
  }
  return obs;
}

Result<PackageObservation> decodePackageState(std::string_view name, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  PackageObservation obs;
  obs.name = std::string(name);
  for (const Field& f : parsed->fields) {
    if (f.name == "arch") {
      obs.instances.push_back({f.value, "", ""});
    } else if (f.name == "version" && !obs.instances.empty()) {
      obs.instances.back().version = f.value;
    } else if (f.name == "state" && !obs.instances.empty()) {
      obs.instances.back().state = f.value;
    } else if (f.name == "error") {
      obs.error = f.value;
    } else {
      return badField(f.name, f.value);
    }
  }
  return obs;
}

Result<ServiceObservation> decodeServiceState(std::string_view unit, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  ServiceObservation obs;
  obs.unit = std::string(unit);
  for (const Field& f : parsed->fields) {
    if ((f.name == "enabled" && toBool(f.value, obs.enabled)) ||
        (f.name == "masked" && toBool(f.value, obs.masked))) {
      continue;
    }
    if (f.name == "error") {
      obs.error = f.value;
      continue;
    }
    return badField(f.name, f.value);
  }
  return obs;
}

Result<UserObservation> decodeUserState(std::string_view name, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  UserObservation obs;
  obs.name = std::string(name);
  obs.presence = parsed->presence;
  for (const Field& f : parsed->fields) {
    if ((f.name == "uid" && toId(f.value, obs.uid)) || (f.name == "gid" && toId(f.value, obs.gid)))
      continue;
    if (f.name == "comment") {
      obs.comment = f.value;
    } else if (f.name == "home") {
      obs.home = f.value;
    } else if (f.name == "shell") {
      obs.shell = f.value;
    } else if (f.name == "error") {
      obs.error = f.value;
    } else {
      return badField(f.name, f.value);
    }
  }
  return obs;
}

Result<GroupObservation> decodeGroupState(std::string_view name, std::string_view text) {
  auto parsed = parse(text);
  if (!parsed.ok()) return parsed.error();
  GroupObservation obs;
  obs.name = std::string(name);
  obs.presence = parsed->presence;
  for (const Field& f : parsed->fields) {
    if (f.name == "gid" && toId(f.value, obs.gid)) continue;
    if (f.name == "members") {
      if (!f.value.empty()) {
        for (const auto m : split(f.value, ','))
          obs.members.emplace_back(m);
      }
    } else if (f.name == "error") {
      obs.error = f.value;
    } else {
      return badField(f.name, f.value);
    }
  }
  return obs;
}

}  // namespace driftwatch::model
