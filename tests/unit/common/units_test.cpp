#include "common/base/units.h"

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace std::chrono_literals;

TEST_CASE("durations take ms, s, m, h and d, and a bare number is seconds") {
  CHECK(parseDuration("200ms") == 200ms);
  CHECK(parseDuration("5s") == 5s);
  CHECK(parseDuration("30") == 30s);
  CHECK(parseDuration("10m") == 10min);
  CHECK(parseDuration("2h") == 2h);
  CHECK(parseDuration("1d") == 24h);
  CHECK(parseDuration("1.5m") == 90s);
  CHECK(parseDuration("0") == 0ms);
  CHECK(parseDuration("  5 s ") == 5s);  // spaces around the number and the unit
}

TEST_CASE("a duration that is not a number and a known unit is refused") {
  for (const char* bad : {"", " ", "soon", "5 weeks", "5sec", "-5s", "+5s", "s", "ms5", "1e3s", ".",
                          "5S", "0x10s", "1.2.3s", "5s5"}) {
    const std::string shown = bad;
    CAPTURE(shown);
    CHECK_FALSE(parseDuration(bad).has_value());
  }
  // Centuries are a typo, and past what milliseconds in an int64 hold.
  CHECK_FALSE(parseDuration("100000000d").has_value());
  CHECK(parseDuration("10000d").has_value());
}

TEST_CASE("sizes take binary and decimal units, and a bare number is bytes") {
  CHECK(parseSize("4096") == 4096u);
  CHECK(parseSize("4096B") == 4096u);
  CHECK(parseSize("64KiB") == 65536u);
  CHECK(parseSize("512MiB") == (512ull << 20));
  CHECK(parseSize("1GiB") == (1ull << 30));
  CHECK(parseSize("2TiB") == (2ull << 40));
  CHECK(parseSize("10KB") == 10'000u);
  CHECK(parseSize("10MB") == 10'000'000u);
  CHECK(parseSize("3GB") == 3'000'000'000u);
  CHECK(parseSize("1.5KiB") == 1536u);
  CHECK(parseSize("0") == 0u);
  CHECK(parseSize(" 16 MiB ") == (16ull << 20));
}

TEST_CASE("a size that is not a number and a known unit is refused") {
  for (const char* bad :
       {"", "lots", "10 mb", "10mib", "10GIB", "-1", "1e9", "KiB", "1.2.3MiB", "10PB"}) {
    const std::string shown = bad;
    CAPTURE(shown);
    CHECK_FALSE(parseSize(bad).has_value());
  }
  // Past what a uint64 holds.
  CHECK_FALSE(parseSize("10000000TiB").has_value());
}

TEST_CASE("splitNumber separates the number from its unit") {
  double n = -1;
  std::string_view unit;
  REQUIRE(splitNumber(" 1.5m", n, unit));
  CHECK(n == doctest::Approx(1.5));
  CHECK(unit == "m");
  REQUIRE(splitNumber("42", n, unit));
  CHECK(n == doctest::Approx(42));
  CHECK(unit.empty());
  CHECK_FALSE(splitNumber("m", n, unit));
  CHECK_FALSE(splitNumber("-1", n, unit));
}
