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

void generateTree(const std::string& dir, size_t files, unsigned seed, bool largeFiles) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> small(100, 8192);
  std::uniform_int_distribution<size_t> large(100 * 1024, 10 * 1024 * 1024);
  std::string block(10 * 1024 * 1024, '\0');
  for (auto& c : block)
    c = static_cast<char>('a' + rng() % 26);
  constexpr size_t kPerDir = 20;
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
    const size_t size = largeFiles && i % 100 == 7 ? large(rng) : small(rng);
    const size_t offset = rng() % (block.size() - size);
    std::ofstream out(path, std::ios::binary);
    out.write(block.data() + offset, static_cast<std::streamsize>(size));
  }
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
