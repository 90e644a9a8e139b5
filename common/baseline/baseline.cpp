#include "common/baseline/baseline.h"

#include <algorithm>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/paths.h"
#include "common/base/strings.h"
#include "common/model/file_attrs_text.h"

namespace driftwatch::baseline {

using model::Attr;
using model::bit;

namespace {

constexpr size_t kMaxBaselineBytes = size_t{1} << 30;
constexpr std::string_view kHeaderComment =
    "# driftwatch baseline: the approved actual state of the files that the policy takes from a\n"
    "# baseline. Record it with `driftwatch-agent baseline`, amend it with `driftwatch-agent "
    "accept`.\n"
    "# One entry per line, sorted; fields are separated by tabs; see docs/baseline.md.\n";

bool pathLess(const BaselineEntry& a, std::string_view b) {
  return a.path < b;
}

class BaselineParser {
 public:
  explicit BaselineParser(std::string_view fileName) : file_(fileName) {}

  Result<Baseline> parse(std::string_view text) {
    baseline_.entries.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      if (auto s = feed(text.substr(start, end - start)); !s.ok()) return std::move(s).takeError();
      start = end + 1;
    }
    return finish();
  }

  // One entry a line: reserving up front keeps the vector from holding twice its size while
  // it grows (100,000 entries are about 13 MB).
  void expectLines(size_t lines) { baseline_.entries.reserve(lines); }

  Status feed(std::string_view line) {
    ++lineNo_;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') return {};
    Status s = line.front() == '@' ? header(line, lineNo_, sawFormat_) : entry(line, lineNo_);
    if (!s.ok()) return s;
    if (!sawFormat_) {
      return fail(lineNo_, 1,
                  "the first line must be '@format<TAB>1' (is this a driftwatch baseline?)");
    }
    return {};
  }

  Result<Baseline> finish() {
    if (!sawFormat_)
      return fail(std::max(lineNo_, 1), 1, "not a driftwatch baseline: no '@format' line");
    const auto byPath = [](const BaselineEntry& a, const BaselineEntry& b) {
      return a.path < b.path;
    };
    // Saved baselines are sorted already: checking is linear, sorting is not.
    if (!std::is_sorted(baseline_.entries.begin(), baseline_.entries.end(), byPath))
      std::sort(baseline_.entries.begin(), baseline_.entries.end(), byPath);
    for (size_t i = 1; i < baseline_.entries.size(); ++i) {
      if (baseline_.entries[i].path == baseline_.entries[i - 1].path) {
        const auto& dup = baseline_.entries[i];
        const auto& first = baseline_.entries[i - 1];
        return fail(std::max(dup.line, first.line), 1,
                    "file:" + escapeBytes(dup.path) + " is listed twice (also on line " +
                        std::to_string(std::min(dup.line, first.line)) + ")");
      }
    }
    return std::move(baseline_);
  }

 private:
  Error fail(int line, size_t column, std::string message) const {
    return makeError(ErrorCode::kInvalidInput, std::move(message),
                     file_ + ":" + std::to_string(line) + ":" + std::to_string(column));
  }

  struct Field {
    std::string_view text;
    size_t column;  // 1-based
  };

  // The fields of `line`, in a buffer reused for every line (a baseline has one line per file:
  // an allocation per line was a tenth of the load time).
  const std::vector<Field>& fields(std::string_view line) {
    fields_.clear();
    size_t start = 0;
    while (true) {
      const size_t tab = line.find('\t', start);
      fields_.push_back({line.substr(start, tab - start), start + 1});
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    return fields_;
  }

  Result<std::string> unescapeField(const Field& f, int line) const {
    auto raw = unescapeBytes(f.text);
    if (!raw.ok()) return fail(line, f.column, raw.error().message);
    return raw;
  }

  Status header(std::string_view line, int lineNo, bool& sawFormat) {
    const auto& f = fields(line);
    const std::string_view key = f[0].text;
    const auto need = [&](size_t n, std::string_view shape) -> Status {
      if (f.size() != n) {
        return fail(lineNo, 1,
                    "'" + std::string(key) + "' takes " + std::string(shape) + " (tab-separated)");
      }
      return {};
    };
    if (key == "@format") {
      if (auto s = need(2, "one value: 1"); !s.ok()) return s;
      if (f[1].text != "1") {
        return fail(lineNo, f[1].column,
                    "format '" + escapeBytes(f[1].text) +
                        "' is not supported; this driftwatch reads format 1 (upgrade driftwatch)");
      }
      if (sawFormat) return fail(lineNo, 1, "a second '@format' line");
      sawFormat = true;
      return {};
    }
    if (!sawFormat) return {};  // reported by the caller
    if (key == "@policy") {
      if (auto s = need(2, "the policy name"); !s.ok()) return s;
      auto v = unescapeField(f[1], lineNo);
      if (!v.ok()) return v.error();
      baseline_.policy = std::move(v).value();
      return {};
    }
    if (key == "@recorded") {
      if (auto s = need(4, "TIME, USER and HOST"); !s.ok()) return s;
      std::string* out[] = {&baseline_.recordedAt, &baseline_.recordedBy, &baseline_.recordedOn};
      for (size_t i = 0; i < 3; ++i) {
        auto v = unescapeField(f[i + 1], lineNo);
        if (!v.ok()) return v.error();
        *out[i] = std::move(v).value();
      }
      return {};
    }
    if (key == "@accept") {
      if (f.size() < 6) {
        return fail(lineNo, 1,
                    "'@accept' takes TIME, USER, HOST, REASON and one or more resources");
      }
      AcceptRecord record;
      std::string* out[] = {&record.time, &record.user, &record.host, &record.reason};
      for (size_t i = 0; i < 4; ++i) {
        auto v = unescapeField(f[i + 1], lineNo);
        if (!v.ok()) return v.error();
        *out[i] = std::move(v).value();
      }
      for (size_t i = 5; i < f.size(); ++i) {
        auto id = model::ResourceId::parse(f[i].text);
        if (!id.ok()) return fail(lineNo, f[i].column, id.error().describe());
        record.resources.push_back(std::move(id).value());
      }
      baseline_.accepts.push_back(std::move(record));
      return {};
    }
    return fail(
        lineNo, 1,
        "unknown header '" + escapeBytes(key) + "' (known: @format, @policy, @recorded, @accept)");
  }

  Status entry(std::string_view line, int lineNo) {
    const auto& f = fields(line);
    auto id = model::ResourceId::parse(f[0].text);
    if (!id.ok()) return fail(lineNo, 1, id.error().describe());
    if (id->kind != model::ResourceKind::kFile) {
      return fail(lineNo, 1, "only file entries can be in a baseline (format 1)");
    }
    if (!isNormalAbsolutePath(id->name)) {
      // Another spelling of a path would never match an observation: it would drift forever.
      return fail(lineNo, 1,
                  "a file entry needs a plain absolute path (file:/dir/name, no '//', '.', '..' or "
                  "trailing '/')");
    }
    BaselineEntry e;
    e.path = std::move(id->name);
    e.line = lineNo;
    for (size_t i = 1; i < f.size(); ++i) {
      if (auto s = attribute(e.attrs, f[i], lineNo); !s.ok()) return s;
    }
    if (!model::has(e.attrs.mask, Attr::kType) &&
        (model::has(e.attrs.mask, Attr::kSha256) || model::has(e.attrs.mask, Attr::kTarget))) {
      // Without the type the compare engine cannot tell a missing hash from a changed type.
      return fail(lineNo, 1, "an entry with sha256 or target must also record its type");
    }
    baseline_.entries.push_back(std::move(e));
    return {};
  }

  Status attribute(model::FileAttrs& attrs, const Field& field, int lineNo) {
    if (auto e = model::parseFileAttrField(field.text, attrs)) {
      return fail(lineNo, field.column + e->offset, e->message);
    }
    return {};
  }

  std::string file_;
  Baseline baseline_;
  std::vector<Field> fields_;
  int lineNo_ = 0;
  bool sawFormat_ = false;
};

}  // namespace

const BaselineEntry* Baseline::find(std::string_view path) const {
  const auto it = std::lower_bound(entries.begin(), entries.end(), path, pathLess);
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

BaselineEntry* Baseline::find(std::string_view path) {
  const auto it = std::lower_bound(entries.begin(), entries.end(), path, pathLess);
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

std::span<const BaselineEntry> Baseline::below(std::string_view root) const {
  // Everything below root shares the prefix root + "/", so it is contiguous in byte order.
  std::string prefix(root);
  if (prefix != "/") prefix += '/';
  const auto first =
      std::lower_bound(entries.begin(), entries.end(), std::string_view(prefix), pathLess);
  // The first path past the prefix: the same prefix with its final '/' bumped to '0'.
  std::string limit = prefix;
  limit.back() = static_cast<char>('/' + 1);
  const auto last = std::lower_bound(first, entries.end(), std::string_view(limit), pathLess);
  return {entries.data() + (first - entries.begin()), static_cast<size_t>(last - first)};
}

void Baseline::upsert(BaselineEntry entry) {
  const auto it =
      std::lower_bound(entries.begin(), entries.end(), std::string_view(entry.path), pathLess);
  if (it != entries.end() && it->path == entry.path) {
    *it = std::move(entry);
  } else {
    entries.insert(it, std::move(entry));
  }
}

bool Baseline::erase(std::string_view path) {
  const auto it = std::lower_bound(entries.begin(), entries.end(), path, pathLess);
  if (it == entries.end() || it->path != path) return false;
  entries.erase(it);
  return true;
}

void Baseline::sortEntries() {
  std::sort(entries.begin(), entries.end(),
            [](const BaselineEntry& a, const BaselineEntry& b) { return a.path < b.path; });
}

Result<Baseline> parseBaseline(std::string_view text, std::string_view fileName) {
  BaselineParser parser(fileName);
  return parser.parse(text);
}

Result<Baseline> loadBaseline(const std::string& path) {
  // Read line by line, never whole: at 100,000 files the text alone would be 15 MB of a check
  // whose memory target is 50 MB. A first pass counts the lines for the entries' reservation.
  size_t lines = 0;
  auto count = forEachLineOfRegularFile(path, kMaxBaselineBytes, "baseline",
                                        [&](std::string_view) -> Status {
                                          ++lines;
                                          return {};
                                        });
  if (!count.ok()) return count.error();
  BaselineParser parser(path);
  parser.expectLines(lines);
  auto read = forEachLineOfRegularFile(path, kMaxBaselineBytes, "baseline",
                                       [&](std::string_view line) { return parser.feed(line); });
  if (!read.ok()) return read.error();
  return parser.finish();
}

std::string serializeBaseline(const Baseline& baseline) {
  std::string out(kHeaderComment);
  out += "@format\t1\n";
  out += "@policy\t" + escapeBytes(baseline.policy) + "\n";
  if (!baseline.recordedAt.empty()) {
    out += "@recorded\t" + escapeBytes(baseline.recordedAt) + "\t" +
           escapeBytes(baseline.recordedBy) + "\t" + escapeBytes(baseline.recordedOn) + "\n";
  }
  for (const AcceptRecord& a : baseline.accepts) {
    out += "@accept\t" + escapeBytes(a.time) + "\t" + escapeBytes(a.user) + "\t" +
           escapeBytes(a.host) + "\t" + escapeBytes(a.reason);
    for (const auto& id : a.resources)
      out += "\t" + id.str();
    out += "\n";
  }
  out.reserve(out.size() + baseline.entries.size() * 160);
  for (const BaselineEntry& e : baseline.entries) {
    out += "file:";
    out += escapeBytes(e.path);
    const std::string attrs = model::formatFileAttrs(e.attrs);
    if (!attrs.empty()) {
      out += '\t';
      out += attrs;
    }
    out += '\n';
  }
  return out;
}

Status saveBaseline(const std::string& path, const Baseline& baseline) {
  return writeFileAtomically(path, serializeBaseline(baseline));
}

}  // namespace driftwatch::baseline
