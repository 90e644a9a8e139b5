#pragma once
// Reads kernel settings the way sysctl(8) names them, from ROOT/proc/sys. Stateless; safe
// from any thread.

#include <string_view>

#include "agent/collectors/root_fs.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward". A key written with '/' is taken as
// a path (sysctl's way to name interfaces with dots, "net/ipv4/conf/eth0.1/rp_filter").
std::string sysctlPath(std::string_view key);

model::SysctlObservation observeSysctl(const RootFs& root, std::string_view key);

}  // namespace driftwatch::agent
