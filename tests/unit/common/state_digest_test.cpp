#include "common/crypto/state_digest.h"

#include <doctest/doctest.h>

#include "common/crypto/sha256.h"

using namespace driftwatch;
using namespace driftwatch::crypto;

TEST_CASE("an empty state digest is all zeros") {
  const StateDigest d;
  CHECK(d.bytes() == std::string(32, '\0'));
  CHECK(d.hex() == std::string(64, '0'));
}

TEST_CASE("one resource's digest is the SHA-256 of resource, tab, state") {
  StateDigest d;
  d.add("file:/etc/motd", "present\ttype=file");
  const auto expected = Sha256::of("file:/etc/motd\tpresent\ttype=file");
  CHECK(d.hex() == toHex(expected));
  CHECK(d.bytes() == std::string(expected.begin(), expected.end()));
  CHECK(StateDigest::term("file:/etc/motd", "present\ttype=file") == expected);
}

TEST_CASE("adding is order-independent and removing undoes adding") {
  const std::pair<std::string, std::string> resources[] = {
      {"file:/etc/motd", "present\ttype=file\tmode=0644"},
      {"sysctl:net.ipv4.ip_forward", "present\tvalue=0"},
      {"package:openssh-server", "present\tversion=1:9.6p1-3"},
      {"user:root", "present\tuid=0"},
  };
  StateDigest forward;
  for (const auto& [r, s] : resources)
    forward.add(r, s);
  StateDigest backward;
  for (size_t i = std::size(resources); i-- > 0;)
    backward.add(resources[i].first, resources[i].second);
  CHECK(forward == backward);
  CHECK(forward.hex() == backward.hex());

  // Removing in yet another order leaves exactly what was there before.
  StateDigest d = forward;
  d.remove(resources[2].first, resources[2].second);
  CHECK(d != forward);
  StateDigest without2;
  for (size_t i : {0u, 1u, 3u})
    without2.add(resources[i].first, resources[i].second);
  CHECK(d == without2);
  for (size_t i : {3u, 0u, 1u})
    d.remove(resources[i].first, resources[i].second);
  CHECK(d == StateDigest());

  // A change of one state is remove(old) + add(new), whatever order they come in.
  StateDigest changed = forward;
  changed.add("sysctl:net.ipv4.ip_forward", "present\tvalue=1");
  changed.remove("sysctl:net.ipv4.ip_forward", "present\tvalue=0");
  StateDigest rebuilt;
  for (const auto& [r, s] : resources)
    rebuilt.add(r, r == "sysctl:net.ipv4.ip_forward" ? "present\tvalue=1" : s);
  CHECK(changed == rebuilt);
}

TEST_CASE("the digest depends on both the resource and its state") {
  StateDigest a;
  a.add("file:/a", "present");
  StateDigest b;
  b.add("file:/b", "present");
  StateDigest c;
  c.add("file:/a", "absent");
  CHECK(a != b);
  CHECK(a != c);
}

TEST_CASE("removing from zero wraps around modulo 2^256 and adding back restores it") {
  StateDigest d;
  d.remove("file:/x", "present");
  CHECK(d != StateDigest());
  d.add("file:/x", "present");
  CHECK(d == StateDigest());

  // Terms carry across every byte: 0xff..ff + 1 is 0.
  std::array<uint8_t, 32> ones{};
  ones.fill(0xff);
  std::array<uint8_t, 32> one{};
  one[31] = 1;
  StateDigest wrap;
  wrap.addTerm(ones);
  CHECK(wrap.hex() == std::string(64, 'f'));
  wrap.addTerm(one);
  CHECK(wrap == StateDigest());
  wrap.subtractTerm(one);
  CHECK(wrap.hex() == std::string(64, 'f'));
}

TEST_CASE("bytes and fromBytes round trip, anything but 32 bytes is zero") {
  StateDigest d;
  d.add("file:/etc/hosts", "present\ttype=file");
  d.add("user:root", "present\tuid=0");
  const std::string raw = d.bytes();
  REQUIRE(raw.size() == 32);
  const StateDigest back = StateDigest::fromBytes(raw);
  CHECK(back == d);
  CHECK(back.bytes() == raw);
  CHECK(back.hex() == d.hex());
  CHECK(StateDigest::fromBytes(raw.substr(0, 31)) == StateDigest());
  CHECK(StateDigest::fromBytes(raw + "x") == StateDigest());
  CHECK(StateDigest::fromBytes("") == StateDigest());

  // The bytes are big-endian: the last byte is the least significant.
  std::array<uint8_t, 32> one{};
  one[31] = 1;
  StateDigest small;
  small.addTerm(one);
  CHECK(small.bytes() == std::string(31, '\0') + "\x01");
  CHECK(small.hex() == std::string(63, '0') + "1");
}
