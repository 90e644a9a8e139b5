#pragma once
// Shared pieces of the benchmarks: reproducible test trees, process measurements from /proc,
// statistics, and the result table (text on stdout, JSON with --json). Every figure may carry a
// reference measured in the same run, and the ratio between them.

#include <cstdint>
#include <string>
#include <vector>

namespace driftwatch::bench {

// Writes `files` entries under `dir` from `seed`: mostly config-sized files (100 B to 8 KB),
// about 20 entries a directory, a symlink every 50 entries. With `totalBytes` above what the
// small files take, the rest goes into large files (100 KB to 10 MB) spread evenly through the
// tree. The same arguments give the same tree. Returns the bytes written.
uint64_t generateTree(const std::string& dir, size_t files, unsigned seed, uint64_t totalBytes = 0);
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
