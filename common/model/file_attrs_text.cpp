#include "common/model/file_attrs_text.h"

#include "common/base/escape.h"
#include "common/base/strings.h"

namespace driftwatch::model {

std::string formatFileAttrs(const FileAttrs& attrs) {
  std::string out;
  const auto add = [&](Attr a, const std::string& value) {
    if (!has(attrs.mask, a)) return;
    if (!out.empty()) out += '\t';
    out += attrName(a);
    out += '=';
    out += value;
  };
  add(Attr::kType, std::string(fileTypeName(attrs.type)));
  add(Attr::kMode, formatMode(attrs.mode));
  add(Attr::kOwner, std::to_string(attrs.uid));
  add(Attr::kGroup, std::to_string(attrs.gid));
  add(Attr::kSize, std::to_string(attrs.size));
  if (has(attrs.mask, Attr::kSha256)) add(Attr::kSha256, toHex(attrs.sha256));
  if (has(attrs.mask, Attr::kTarget)) add(Attr::kTarget, escapeBytes(attrs.target));
  return out;
}

std::optional<FieldError> parseFileAttrField(std::string_view field, FileAttrs& attrs) {
  const size_t eq = field.find('=');
  if (eq == std::string_view::npos) {
    return FieldError{0, "expected NAME=VALUE, found '" + escapeBytes(field) + "'"};
  }
  const std::string_view name = field.substr(0, eq);
  const std::string_view value = field.substr(eq + 1);
  const auto attr = parseAttrName(ResourceKind::kFile, name);
  if (!attr || *attr == Attr::kContent) {
    return FieldError{0, "unknown attribute '" + escapeBytes(name) +
                             "' (known: type, mode, owner, group, size, sha256, target)"};
  }
  if (has(attrs.mask, *attr)) return FieldError{0, "'" + std::string(name) + "' is given twice"};
  const auto bad = [&](std::string_view shape) {
    return FieldError{eq + 1, std::string(name) + " '" + escapeBytes(value) +
                                  "' is not valid: expected " + std::string(shape)};
  };
  unsigned long long number = 0;
  switch (*attr) {
    case Attr::kType: {
      const auto t = parseFileType(value);
      if (!t) return bad("file, dir, symlink, fifo, socket or device");
      attrs.type = *t;
      break;
    }
    case Attr::kMode: {
      const auto m = parseMode(value);
      if (!m || value.size() != 4) return bad("four octal digits like 0644");
      attrs.mode = *m;
      break;
    }
    case Attr::kOwner:
    case Attr::kGroup:
      if (!parseUnsigned(value, number) || number >= 0xffffffffULL) return bad("a numeric id");
      (*attr == Attr::kOwner ? attrs.uid : attrs.gid) = static_cast<uint32_t>(number);
      break;
    case Attr::kSize:
      if (!parseUnsigned(value, number)) return bad("a size in bytes");
      attrs.size = number;
      break;
    case Attr::kSha256: {
      const auto d = sha256FromHex(value);
      if (!d) return bad("64 hexadecimal digits");
      attrs.sha256 = *d;
      break;
    }
    case Attr::kTarget: {
      auto raw = unescapeBytes(value);
      if (!raw.ok()) return FieldError{eq + 1, raw.error().message};
      if (raw->empty()) return bad("a non-empty symlink target");
      attrs.target = std::move(raw).value();
      break;
    }
    default:
      return bad("a file attribute");
  }
  attrs.mask |= bit(*attr);
  return std::nullopt;
}

}  // namespace driftwatch::model
