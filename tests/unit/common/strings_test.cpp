#include "common/base/strings.h"

#include <doctest/doctest.h>

using namespace driftwatch;

TEST_CASE("split keeps empty fields, as passwd and tab-separated lines need") {
  const auto parts = split("a::b:", ':');
  REQUIRE(parts.size() == 4);
  CHECK(parts[0] == "a");
  CHECK(parts[1] == "");
  CHECK(parts[2] == "b");
  CHECK(parts[3] == "");
}

TEST_CASE("closestMatch suggests near misses only") {
  const std::vector<std::string_view> keys = {"path", "sha256", "mode", "owner", "recursive"};
  CHECK(closestMatch("sah256", keys) == "sha256");
  CHECK(closestMatch("recursve", keys) == "recursive");
  CHECK(closestMatch("colour", keys).empty());
}

TEST_CASE("parseUnsigned accepts only a whole decimal number") {
  unsigned long long v = 0;
  CHECK(parseUnsigned("1234", v));
  CHECK(v == 1234);
  CHECK_FALSE(parseUnsigned("-1", v));
  CHECK_FALSE(parseUnsigned(" 1", v));
  CHECK_FALSE(parseUnsigned("12a", v));
  CHECK_FALSE(parseUnsigned("", v));
  CHECK_FALSE(parseUnsigned("99999999999999999999999", v));
}
