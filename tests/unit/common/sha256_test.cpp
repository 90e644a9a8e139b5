#include "common/crypto/sha256.h"

#include <cctype>

#include <doctest/doctest.h>

using namespace driftwatch;

TEST_CASE("sha256 matches the standard test vectors") {
  CHECK(toHex(Sha256::of("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(toHex(Sha256::of("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("streaming in pieces gives the same digest, and reset starts over") {
  Sha256 h;
  h.update("a");
  h.update("bc");
  CHECK(toHex(h.finish()) == toHex(Sha256::of("abc")));
  h.reset();
  h.update("abc");
  CHECK(h.finish() == Sha256::of("abc"));
}

TEST_CASE("hex parsing accepts 64 hex digits only") {
  const auto d = Sha256::of("x");
  CHECK(sha256FromHex(toHex(d)) == d);
  CHECK_FALSE(sha256FromHex("abc").has_value());
  CHECK_FALSE(sha256FromHex(std::string(64, 'g')).has_value());
  std::string upper = toHex(d);
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(sha256FromHex(upper) == d);
  // One bad character anywhere, including bytes above 0x7f, refuses the whole digest.
  for (const char bad : {'g', ' ', '\0', '\xff', ':'}) {
    std::string hex = toHex(d);
    hex[37] = bad;
    CHECK_FALSE(sha256FromHex(hex).has_value());
  }
}
