#include "common/base/escape.h"

#include <cstdint>

namespace driftwatch {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendHexByte(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0f];
}

// Length of the valid UTF-8 sequence at raw[i] (1-4), or 0 when it is not valid (overlong
// forms, surrogates and code points past U+10FFFF are invalid). Sets `cp` to the code point.
size_t utf8SequenceAt(std::string_view raw, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(raw[i]);
  size_t len = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > raw.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(raw[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

bool isControl(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

// Code points that reorder or hide text on a terminal (Trojan Source, CVE-2021-42574).
bool isBidiControl(uint32_t cp) {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
         cp == 0x200f || cp == 0x061c;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string escapeBytes(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    uint32_t cp = 0;
    const size_t len = utf8SequenceAt(raw, i, cp);
    if (len == 0 || isControl(cp) || isBidiControl(cp)) {
      // Escape every byte of the offending sequence (or the single invalid byte).
      const size_t n = len == 0 ? 1 : len;
      for (size_t k = 0; k < n; ++k)
        appendHexByte(out, static_cast<unsigned char>(raw[i + k]));
      i += n;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else {
      out.append(raw.substr(i, len));
    }
    i += len;
  }
  return out;
}

bool isValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t len = utf8SequenceAt(text, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

bool isDisplaySafe(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    const size_t len = utf8SequenceAt(text, i, cp);
    if (len == 0 || isControl(cp) || isBidiControl(cp)) return false;
    i += len;
  }
  return true;
}

std::string displaySafe(std::string_view text) {
  return isDisplaySafe(text) ? std::string(text) : escapeBytes(text);
}

Result<std::string> unescapeBytes(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 1 < escaped.size() && escaped[i + 1] == '\\') {
      out += '\\';
      ++i;
      continue;
    }
    if (i + 3 < escaped.size() && escaped[i + 1] == 'x') {
      const int hi = hexValue(escaped[i + 2]);
      const int lo = hexValue(escaped[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>((hi << 4) | lo);
        i += 3;
        continue;
      }
    }
    return makeError(ErrorCode::kInvalidInput,
                     "bad escape at offset " + std::to_string(i) +
                         ": write a backslash as \\\\ and a raw byte as \\xHH");
  }
  return out;
}

}  // namespace driftwatch
