#pragma once
// Whole-file reads and durable writes for the files people hand to driftwatch (policies,
// baselines, configs). Reads refuse anything but a regular file (a FIFO would block, a device
// could have side effects) and anything over a size limit; writes go to a temporary file in the
// same directory, are fsynced and renamed over the target, so a crash leaves the old or the
// new file, never a torn one. Safe from any thread.

#include <cstddef>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "common/base/result.h"

namespace driftwatch {

Result<std::string> readRegularFile(const std::string& path, size_t maxBytes,
                                    std::string_view what = "file");

// Reads an open file to its end; fails once more than maxBytes arrive (files grow).
// `sizeHint` (from fstat) avoids re-allocation; `path` is only for messages.
Result<std::string> readToEnd(int fd, size_t sizeHint, size_t maxBytes, const std::string& path);

Status writeFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0644);

}  // namespace driftwatch
