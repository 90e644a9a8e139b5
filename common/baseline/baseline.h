#pragma once
// The baseline: an approved snapshot of actual file state, kept next to the policy in version
// control, from which rules without explicit values take their desired values. The text format
// (docs/baseline.md) diffs well: a few '@' header lines, then one entry per line, sorted,
// fields separated by tabs, every value escaped so that any file name fits on one line:
//
//   @format	1
//   @policy	web-baseline
//   @recorded	2026-11-27T17:40:00Z	root	web-01
//   @accept	2026-11-28T09:12:03Z	alice	web-01	new TLS cert	file:/etc/nginx/cert.pem
//   file:/etc/nginx	type=dir	mode=0755	owner=0	group=0
//   file:/etc/nginx/nginx.conf	type=file	mode=0644	owner=0	group=0	size=1490
//   sha256=3a7b...
//
// Plain values; safe to share read-only between threads.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/model/observation.h"
#include "common/model/resource.h"

namespace driftwatch::baseline {

struct BaselineEntry {
  std::string path;        // raw bytes
  model::FileAttrs attrs;  // attrs.mask says which values were recorded
  int line = 0;            // where it was read from (0 when made in memory)
};

// Who took which observed values into the baseline, when and why.
struct AcceptRecord {
  std::string time;  // RFC 3339 UTC
  std::string user;
  std::string host;
  std::string reason;
  std::vector<model::ResourceId> resources;
};

struct Baseline {
  std::string policy;  // the policy name it was recorded for
  std::string recordedAt;
  std::string recordedBy;
  std::string recordedOn;
  std::vector<AcceptRecord> accepts;   // oldest first
  std::vector<BaselineEntry> entries;  // sorted by path, unique

  const BaselineEntry* find(std::string_view path) const;
  BaselineEntry* find(std::string_view path);
  // Entries strictly below `root`, in order (root itself: find(root)).
  std::span<const BaselineEntry> below(std::string_view root) const;
  // Inserts or replaces the entry for entry.path, keeping the order.
  void upsert(BaselineEntry entry);
  bool erase(std::string_view path);
  void sortEntries();
};

// Errors name "FILE:LINE:COLUMN" and say what the field should look like.
Result<Baseline> parseBaseline(std::string_view text, std::string_view fileName);
Result<Baseline> loadBaseline(const std::string& path);
std::string serializeBaseline(const Baseline& baseline);
// Writes durably: a crash leaves the old file or the new one.
Status saveBaseline(const std::string& path, const Baseline& baseline);

}  // namespace driftwatch::baseline
