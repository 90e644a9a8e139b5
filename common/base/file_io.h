#pragma once
// Whole-file reads and durable writes for the files people hand to driftwatch (policies,
// baselines, configs). Reads refuse anything but a regular file (a FIFO would block, a device
// could have side effects) and anything over a size limit; writes go to a temporary file in the
// same directory, are fsynced and renamed over the target, so a crash leaves the old or the
// new file, never a torn one. Safe from any thread.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "common/base/result.h"

namespace driftwatch {

Result<std::string> readRegularFile(const std::string& path, size_t maxBytes,
                                    std::string_view what = "file");

// Calls `onLine` for each line of a regular file (without its '\n'; a last line without one
// too), reading through a fixed buffer so that a large file is never held whole in memory.
// Stops at the first error `onLine` returns. Lines longer than `maxLineBytes` are an error.
Status forEachLineOfRegularFile(const std::string& path, size_t maxBytes, std::string_view what,
                                const std::function<Status(std::string_view line)>& onLine,
                                size_t maxLineBytes = size_t{1} << 20);

// Reads an open file to its end; fails once more than maxBytes arrive (files grow).
// `sizeHint` (from fstat) avoids re-allocation; `path` is only for messages.
Result<std::string> readToEnd(int fd, size_t sizeHint, size_t maxBytes, const std::string& path);

Status writeFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0644);

}  // namespace driftwatch
