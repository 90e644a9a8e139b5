#include "common/base/time.h"

#include <charconv>
#include <ctime>

namespace driftwatch {

std::string formatUtc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

namespace {

// Reads exactly `width` digits at `at`.
bool digits(std::string_view text, size_t at, size_t width, int& out) {
  if (at + width > text.size()) return false;
  const char* first = text.data() + at;
  for (size_t i = 0; i < width; ++i) {
    if (first[i] < '0' || first[i] > '9') return false;
  }
  return std::from_chars(first, first + width, out).ec == std::errc();
}

}  // namespace

std::optional<int64_t> parseUtc(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(text, 0, 4, y) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, mo) ||
      text[7] != '-' || !digits(text, 8, 2, d))
    return std::nullopt;
  if (text.size() != 10) {
    if (text.size() != 20 || text[10] != 'T' || !digits(text, 11, 2, h) || text[13] != ':' ||
        !digits(text, 14, 2, mi) || text[16] != ':' || !digits(text, 17, 2, s) || text[19] != 'Z')
      return std::nullopt;
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo),
                                         std::chrono::day(d)};
  if (!date.ok()) return std::nullopt;
  const auto at = std::chrono::sys_days(date) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                  std::chrono::seconds(s);
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

}  // namespace driftwatch
