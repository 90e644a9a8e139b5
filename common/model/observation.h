#pragma once
// Actual state: what a collector saw of one resource at one moment. One typed struct per kind,
// so that comparing 100,000 files costs no string building; values are raw (a path or target
// may hold any byte) and are escaped only when written out.
// Plain values, safe to move between threads.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/model/resource.h"

namespace driftwatch::model {

enum class Presence : uint8_t {
  kPresent,
  kAbsent,
  kUnknown,  // the observation failed; `error` says why
};

// The comparable attributes of a file system entry. `mask` says which fields hold a value:
// type, mode, owner, group always (when present); size and sha256 for regular files (sha256
// only when hashing was asked for); target for symlinks.
struct FileAttrs {
  AttrMask mask = 0;
  FileType type = FileType::kFile;
  uint32_t mode = 0;  // permission bits, 07777
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  Sha256Digest sha256{};
  std::string target;
};

// A file time as the kernel gives it (seconds and nanoseconds kept apart: times past 2262 do
// not fit in 64-bit nanoseconds).
struct FileTime {
  int64_t sec = 0;
  int64_t nsec = 0;
  bool operator==(const FileTime&) const = default;
};

// Stat data that tells whether an entry changed without reading it (the daemon's quick rescan
// compares it). Not compared as drift.
struct StatStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  FileTime mtime;
  FileTime ctime;
  uint32_t nlink = 0;
  bool operator==(const StatStamp&) const = default;
};

struct FileObservation {
  std::string path;  // absolute, as seen from the observed root ("/etc/motd")
  Presence presence = Presence::kAbsent;
  FileAttrs attrs;
  StatStamp stamp;
  AttrMask failed = 0;  // attributes that could not be read; `error` says why
  std::string error;
  bool listing_failed = false;         // a directory whose entries could not be read
  std::optional<std::string> content;  // captured for rules that declare `content`
};

struct SysctlObservation {
  std::string key;
  Presence presence = Presence::kAbsent;
  std::string value;  // as the kernel prints it (tabs between multiple values)
  std::string error;
};

struct PackageInstance {
  std::string arch;
  std::string version;
  std::string state;  // dpkg's status word: installed, config-files, half-configured, ...
};

struct PackageObservation {
  std::string name;                        // as asked: "libc6" or "libc6:i386"
  std::vector<PackageInstance> instances;  // every architecture dpkg knows the package for
  std::string error;                       // the package database could not be read
};

struct ServiceObservation {
  std::string unit;
  bool enabled = false;
  bool masked = false;
  std::string error;
};

struct UserObservation {
  std::string name;
  Presence presence = Presence::kAbsent;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comment;
  std::string home;
  std::string shell;
  std::string error;
};

struct GroupObservation {
  std::string name;
  Presence presence = Presence::kAbsent;
  uint32_t gid = 0;
  std::vector<std::string> members;  // as listed in /etc/group
  std::string error;
};

}  // namespace driftwatch::model
