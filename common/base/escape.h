#pragma once
// A reversible escape for byte strings that may hold anything (file names with newlines, tabs,
// invalid UTF-8, terminal control codes). The escaped form is valid UTF-8, single-line, holds
// no tab or control character, and shows ordinary text (including non-ASCII) as it is, so it
// can go into a tab-separated baseline line, a JSON string and a terminal table alike.
//
// Rules: '\' becomes "\\"; each byte of a C0/C1 control, DEL, an invalid UTF-8 sequence or a
// bidirectional-override code point (which can disguise names on a terminal) becomes "\xHH".
// Everything else is copied. unescapeBytes() inverts it exactly.
// Pure functions, safe from any thread.

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch {

std::string escapeBytes(std::string_view raw);

// Fails on a lone '\' or a malformed "\x" escape, naming the offset.
Result<std::string> unescapeBytes(std::string_view escaped);

// True when `text` can go to a terminal or a JSON string as it is: valid UTF-8 without control
// or bidirectional-override characters. (Backslashes are fine: messages hold escaped names.)
bool isDisplaySafe(std::string_view text);

// True when `text` is valid UTF-8 (control characters allowed).
bool isValidUtf8(std::string_view text);

// For messages, which are composed from escaped names: `text` itself when display-safe, else
// its escaped form, so that nothing a host supplies can reach a terminal raw.
std::string displaySafe(std::string_view text);

}  // namespace driftwatch
