#include "agent/daemon/state_reader.h"

#include "common/model/resource.h"

namespace driftwatch::agent {

std::string encodeStamp(const model::StatStamp& st, uint64_t size) {
  return std::to_string(st.dev) + ":" + std::to_string(st.ino) + ":" + std::to_string(size) + ":" +
         std::to_string(st.mtime.sec) + "." + std::to_string(st.mtime.nsec) + ":" +
         std::to_string(st.ctime.sec) + "." + std::to_string(st.ctime.nsec);
}

std::string fileId(std::string_view path) {
  return model::ResourceId{model::ResourceKind::kFile, std::string(path)}.str();
}

std::optional<StoredResource> StateReader::rowLocked(const std::string& id) {
  auto row = db_.resource(id);
  return row.ok() ? *row : std::nullopt;
}

std::optional<Sha256Digest> StateReader::lookup(const std::string& path,
                                                const model::StatStamp& stamp, uint64_t size) {
  std::lock_guard lock(mutex_);
  lastId_ = fileId(path);
  lastRow_ = rowLocked(lastId_);
  const auto& row = lastRow_;
  if (!row || row->stamp.empty() || row->stamp != encodeStamp(stamp, size)) return std::nullopt;
  const size_t at = row->state.find("\tsha256=");
  if (at == std::string::npos) return std::nullopt;
  return sha256FromHex(std::string_view(row->state).substr(at + 8, 64));
}

std::optional<StoredResource> StateReader::resource(const std::string& id) {
  std::lock_guard lock(mutex_);
  // The row a digest lookup just fetched for the same file is used once, then forgotten, so it
  // can never be served stale later.
  if (id == lastId_) {
    lastId_.clear();
    return std::move(lastRow_);
  }
  return rowLocked(id);
}

void StateReader::forEachIdUnder(std::string_view prefix,
                                 const std::function<void(const std::string&)>& fn) {
  std::lock_guard lock(mutex_);
  lastId_.clear();
  (void)db_.forEachResourceId(prefix, fn);
}

void StateReader::forEachBaselineBelow(
    std::string_view root, const std::function<void(const baseline::BaselineEntry&)>& fn) {
  std::lock_guard lock(mutex_);
  (void)db_.forEachBaselineBelow(root, fn);
}

}  // namespace driftwatch::agent
