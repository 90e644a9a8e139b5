#pragma once
// Test fixtures on the real file system: a temporary directory removed with everything in it
// when the test ends, and helpers to lay out files, links and directories inside it.

#include <string>
#include <string_view>

#include <sys/types.h>

namespace driftwatch::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + relative
  std::string at(std::string_view relative) const;

  // Creates parent directories as needed. Content is written byte for byte.
  void write(std::string_view relative, std::string_view content, mode_t mode = 0644) const;
  void mkdir(std::string_view relative, mode_t mode = 0755) const;
  void symlink(std::string_view relative, std::string_view target) const;
  void remove(std::string_view relative) const;  // file, link or whole directory tree
  std::string read(std::string_view relative) const;

 private:
  std::string path_;
};

// Removes a directory tree without following symlinks (chmods directories it cannot enter).
void removeTree(const std::string& path);

bool runningAsRoot();

}  // namespace driftwatch::testing
