#include "bench/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <dirent.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace driftwatch::bench {
namespace {

void makeDirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    ::mkdir(path.substr(0, pos).c_str(), 0755);
  }
  ::mkdir(path.c_str(), 0755);
}

long statusField(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

void collect(const std::string& dir, size_t limit, std::vector<std::string>& out) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (out.size() >= limit) return;
    const std::string p = dir + "/" + n;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      collect(p, limit, out);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(p);
    }
  }
}

}  // namespace

uint64_t generateTree(const std::string& dir, size_t files, unsigned seed, uint64_t totalBytes) {
  std::mt19937_64 rng(seed);
  constexpr size_t kSmallMin = 100, kSmallMax = 8192;
  constexpr size_t kLargeMin = 100 * 1024, kLargeMax = 10 * 1024 * 1024;
  std::uniform_int_distribution<size_t> small(kSmallMin, kSmallMax);
  std::uniform_int_distribution<size_t> large(kLargeMin, kLargeMax);
  std::string block(kLargeMax + kSmallMax, '\0');
  for (auto& c : block)
    c = static_cast<char>('a' + rng() % 26);
  // Bytes the small files will take on average; the rest of `totalBytes` goes to large files,
  // one every `largeEvery` entries.
  const uint64_t smallBytes = files * 49 / 50 * (kSmallMin + kSmallMax) / 2;
  uint64_t largeBudget = totalBytes > smallBytes ? totalBytes - smallBytes : 0;
  // More slots than the average size needs: draws below the average would otherwise leave the
  // tree short of its size; slots after the budget is spent get small files.
  const uint64_t largeCount = largeBudget / ((kLargeMin + kLargeMax) / 2) * 3 / 2;
  const size_t largeEvery = largeCount == 0 ? 0 : std::max<size_t>(2, files / largeCount);
  constexpr size_t kPerDir = 20;
  uint64_t written = 0;
  for (size_t i = 0; i < files; ++i) {
    // Two levels of directories, about kPerDir entries in each.
    const size_t d = i / kPerDir;
    const std::string sub =
        dir + "/d" + std::to_string(d / kPerDir) + "/e" + std::to_string(d % kPerDir);
    if (i % kPerDir == 0) makeDirs(sub);
    const std::string path = sub + "/f" + std::to_string(i % kPerDir) + ".conf";
    if (i % 50 == 49) {
      (void)!::symlink(("f" + std::to_string((i - 1) % kPerDir) + ".conf").c_str(), path.c_str());
      continue;
    }
    size_t size = small(rng);
    if (largeEvery != 0 && i % largeEvery == 1 && largeBudget > 0) {
      size = std::max<size_t>(kLargeMin, std::min<uint64_t>(large(rng), largeBudget));
      largeBudget -= std::min<uint64_t>(size, largeBudget);
    }
    const size_t offset = rng() % (block.size() - size);
    std::ofstream out(path, std::ios::binary);
    out.write(block.data() + offset, static_cast<std::streamsize>(size));
    written += size;
  }
  return written;
}

std::vector<std::string> listFiles(const std::string& dir, size_t limit) {
  std::vector<std::string> out;
  collect(dir, limit, out);
  return out;
}

long residentKib(int pid) {
  return statusField(pid, "VmRSS");
}
long peakResidentKib(int pid) {
  return statusField(pid, "VmHWM");
}

double cpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double median(std::vector<double> values) {
  return percentile(std::move(values), 50);
}

double spread(const std::vector<double>& values) {
  if (values.empty()) return 0;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return *hi - *lo;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

void Results::add(std::string name, double value, std::string unit, double spreadValue,
                  std::string reference, double referenceValue) {
  rows_.push_back(
      {std::move(name), value, std::move(unit), spreadValue, std::move(reference), referenceValue});
}

bool Results::write(const std::string& jsonPath) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Row& r : rows_) {
    std::printf("%-44s %12.3f %-4s", r.name.c_str(), r.value, r.unit.c_str());
    if (r.spread > 0) std::printf(" (spread %.3f)", r.spread);
    nlohmann::ordered_json j = {
        {"name", r.name}, {"value", r.value}, {"unit", r.unit}, {"spread", r.spread}};
    if (!r.reference.empty()) {
      const double ratio = r.referenceValue != 0 ? r.value / r.referenceValue : 0;
      std::printf("   vs %s %.3f: ratio %.3f", r.reference.c_str(), r.referenceValue, ratio);
      j["reference"] = r.reference;
      j["reference_value"] = r.referenceValue;
      j["ratio"] = ratio;
    }
    std::printf("\n");
    list.push_back(std::move(j));
  }
  if (jsonPath.empty()) return true;
  std::ofstream out(jsonPath);
  out << list.dump(2) << "\n";
  return static_cast<bool>(out);
}

}  // namespace driftwatch::bench
