#include "common/base/escape.h"

#include <random>

#include <doctest/doctest.h>

using driftwatch::escapeBytes;
using driftwatch::unescapeBytes;

TEST_CASE("escape leaves ordinary text, spaces and non-ASCII UTF-8 alone") {
  CHECK(escapeBytes("/etc/nginx/sites enabled/café.conf") == "/etc/nginx/sites enabled/café.conf");
  CHECK(driftwatch::isDisplaySafe("plain, with a \\x0a escape"));
}

TEST_CASE("escape turns control bytes, backslashes and invalid UTF-8 into visible escapes") {
  CHECK(escapeBytes(std::string("a\nb\tc")) == "a\\x0ab\\x09c");
  CHECK(escapeBytes("back\\slash") == "back\\\\slash");
  CHECK(escapeBytes(std::string("\xff\xfe", 2)) == "\\xff\\xfe");
  CHECK(escapeBytes(std::string("\x7f", 1)) == "\\x7f");
  CHECK(escapeBytes(std::string("nul\0byte", 8)) == "nul\\x00byte");
  // An overlong encoding of '/' is invalid UTF-8, not a slash.
  CHECK(escapeBytes(std::string("\xc0\xaf", 2)) == "\\xc0\\xaf");
  // A truncated multi-byte sequence at the end.
  CHECK(escapeBytes(std::string("ok\xe2\x82", 4)) == "ok\\xe2\\x82");
}

TEST_CASE("escape hides terminal tricks: C1 controls and bidirectional overrides") {
  // U+202E RIGHT-TO-LEFT OVERRIDE would make "exe.txt" display reversed.
  CHECK(escapeBytes("evil\xe2\x80\xaetxt.exe") == "evil\\xe2\\x80\\xaetxt.exe");
  CHECK(escapeBytes("\xc2\x9b") == "\\xc2\\x9b");  // C1 CSI
}

TEST_CASE("unescape inverts escape for arbitrary bytes") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 64);
  for (int i = 0; i < 2000; ++i) {
    std::string raw;
    const int n = len(rng);
    for (int k = 0; k < n; ++k)
      raw += static_cast<char>(byte(rng));
    const std::string escaped = escapeBytes(raw);
    CHECK(escaped.find('\n') == std::string::npos);
    CHECK(escaped.find('\t') == std::string::npos);
    auto back = unescapeBytes(escaped);
    REQUIRE(back.ok());
    CHECK(*back == raw);
  }
}

TEST_CASE("unescape rejects malformed escapes with the offset") {
  auto lone = unescapeBytes("abc\\");
  REQUIRE_FALSE(lone.ok());
  CHECK(lone.error().message.find("offset 3") != std::string::npos);
  CHECK_FALSE(unescapeBytes("\\xZZ").ok());
  CHECK_FALSE(unescapeBytes("\\n").ok());
  CHECK(*unescapeBytes("\\x41\\\\") == "A\\");
}

TEST_CASE("displaySafe passes escaped messages through and escapes raw ones") {
  using driftwatch::displaySafe;
  CHECK(displaySafe("file:/a\\x0ab: cannot open") == "file:/a\\x0ab: cannot open");
  CHECK(displaySafe("raw\x1b[31mred") == "raw\\x1b[31mred");
  CHECK(displaySafe(std::string("bad\xff", 4)) == "bad\\xff");
}
