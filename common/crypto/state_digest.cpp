#include "common/crypto/state_digest.h"

#include "common/crypto/sha256.h"

namespace driftwatch::crypto {

StateDigest StateDigest::fromBytes(std::string_view bytes) {
  StateDigest d;
  if (bytes.size() != 32) return d;
  for (size_t i = 0; i < 32; ++i)
    d.value_[i] = static_cast<uint8_t>(bytes[i]);
  return d;
}

std::array<uint8_t, 32> StateDigest::term(std::string_view resource, std::string_view state) {
  Sha256 h;
  h.update(resource);
  h.update("\t");
  h.update(state);
  return h.finish();
}

void StateDigest::addTerm(const std::array<uint8_t, 32>& t) {
  unsigned carry = 0;
  for (int i = 31; i >= 0; --i) {
    const unsigned sum =
        unsigned{value_[static_cast<size_t>(i)]} + t[static_cast<size_t>(i)] + carry;
    value_[static_cast<size_t>(i)] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
  }
}

void StateDigest::subtractTerm(const std::array<uint8_t, 32>& t) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int diff = int{value_[static_cast<size_t>(i)]} - t[static_cast<size_t>(i)] - borrow;
    borrow = diff < 0 ? 1 : 0;
    if (diff < 0) diff += 256;
    value_[static_cast<size_t>(i)] = static_cast<uint8_t>(diff);
  }
}

void StateDigest::add(std::string_view resource, std::string_view state) {
  addTerm(term(resource, state));
}

void StateDigest::remove(std::string_view resource, std::string_view state) {
  subtractTerm(term(resource, state));
}

std::string StateDigest::bytes() const {
  return std::string(value_.begin(), value_.end());
}

std::string StateDigest::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : value_) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace driftwatch::crypto
