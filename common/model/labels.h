#pragma once
// Host labels ("role=web", "dc=fra"): given to a host at enrollment, and matched by the
// selectors of fleet policies. One definition of a valid label for both sides.

#include <map>
#include <string>
#include <string_view>

namespace driftwatch::model {

using Labels = std::map<std::string, std::string>;

// 1 to 63 letters, digits or . _ - /
bool isLabelKey(std::string_view key);
// Up to 253 printable characters, no commas and no backslashes (labels are written KEY=VALUE,
// comma-separated, and shown as they are).
bool isLabelValue(std::string_view value);

// A selector selects the hosts that carry every one of its labels; an empty selector selects
// every host.
bool selects(const Labels& selector, const Labels& hostLabels);
// Whether some host could be selected by both: no key on which they want different values.
bool selectorsOverlap(const Labels& a, const Labels& b);

std::string labelsText(const Labels& labels);  // "dc=fra,role=web"; "-" when empty

}  // namespace driftwatch::model
