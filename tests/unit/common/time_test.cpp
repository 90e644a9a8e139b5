#include "common/base/time.h"

#include <doctest/doctest.h>

using driftwatch::parseUtc;

TEST_CASE("parseUtc reads a date as midnight UTC and a time with seconds") {
  CHECK(parseUtc("1970-01-01") == 0);
  CHECK(parseUtc("2026-12-31") == int64_t{1798675200} * 1000);
  CHECK(parseUtc("2026-12-31T18:00:05Z") == (int64_t{1798675200} + 18 * 3600 + 5) * 1000);
  CHECK(parseUtc("2028-02-29").has_value());
}

TEST_CASE("parseUtc refuses what is not a UTC date or time") {
  for (const char* bad : {"", "2026-1-31", "2026-02-30", "2027-02-29", "2026-13-01",
                          "2026-12-31T24:00:00Z", "2026-12-31T18:00:00", "2026-12-31 18:00:00Z",
                          "2026-12-31T18:00:00+01:00", "tomorrow", "2026-12-31x"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseUtc(bad).has_value());
  }
}
