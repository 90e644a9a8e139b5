#pragma once
// Shared pieces of the benchmarks: reproducible test trees, process measurements from /proc,
// statistics, and the result table (text on stdout, JSON with --json). Every figure may carry a
// reference measured in the same run, and the ratio between them.

#include <cstdint>
#include <string>
#include <vector>

namespace driftwatch::bench {

// Writes `files` files under `dir` from `seed`: mostly config-sized (100 B to 8 KB), about 20
// entries a directory, a symlink every 50 files; with `largeFiles`, one file in 100 is
// 100 KB to 10 MB. The same seed gives the same tree.
void generateTree(const std::string& dir, size_t files, unsigned seed, bool largeFiles);
// Up to `limit` regular files under `dir`, in a stable order.
std::vector<std::string> listFiles(const std::string& dir, size_t limit);

long residentKib(int pid);      // VmRSS
long peakResidentKib(int pid);  // VmHWM
double cpuSeconds(int pid);     // user + system

double median(std::vector<double> values);
double spread(const std::vector<double>& values);  // max - min
double percentile(std::vector<double> values, double p);

class Results {
 public:
  void add(std::string name, double value, std::string unit, double spread = 0,
           std::string reference = {}, double referenceValue = 0);
  // Prints the table; writes JSON to `jsonPath` when not empty. False on a write error.
  bool write(const std::string& jsonPath) const;

 private:
  struct Row {
    std::string name;
    double value;
    std::string unit;
    double spread;
    std::string reference;
    double referenceValue;
  };
  std::vector<Row> rows_;
};

}  // namespace driftwatch::bench
