#pragma once
// The canonical text of an observed state: what the agent stores as a resource's last observed
// state, what its outbox carries and what state digests will cover. Equal observations give
// equal bytes. One line, tab-separated: the presence first ("present", "absent", "unknown"),
// then NAME=VALUE fields with escaped values:
//
//   file     present\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=12\tsha256=...
//   sysctl   present\tvalue=1
//   package  present\tarch=amd64\tversion=1:9.2p1-2\tstate=installed   (a triple per arch)
//   service  present\tenabled=true\tmasked=false
//   user     present\tuid=0\tgid=0\tcomment=root\thome=/root\tshell=/bin/bash
//   group    present\tgid=27\tmembers=admin,bob
//
// plus "failed=ATTR,..." and "error=TEXT" where an observation was incomplete. Stat stamps and
// captured content are not state. Pure functions.

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/model/observation.h"

namespace driftwatch::model {

std::string encodeState(const FileObservation& obs);
std::string encodeState(const SysctlObservation& obs);
std::string encodeState(const PackageObservation& obs);
std::string encodeState(const ServiceObservation& obs);
std::string encodeState(const UserObservation& obs);
std::string encodeState(const GroupObservation& obs);

// Decoders take the resource's name (path, key, ...) and the encoded text; the error says
// which field is malformed.
Result<FileObservation> decodeFileState(std::string_view path, std::string_view text);
Result<SysctlObservation> decodeSysctlState(std::string_view key, std::string_view text);
Result<PackageObservation> decodePackageState(std::string_view name, std::string_view text);
Result<ServiceObservation> decodeServiceState(std::string_view unit, std::string_view text);
Result<UserObservation> decodeUserState(std::string_view name, std::string_view text);
Result<GroupObservation> decodeGroupState(std::string_view name, std::string_view text);

}  // namespace driftwatch::model
