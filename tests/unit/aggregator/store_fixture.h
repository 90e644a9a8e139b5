#pragma once
// The real fleet store and audit trail (with its log file) of an aggregator, in a temporary
// data directory: what the aggregator's services are tested against.

#include <optional>

#include <doctest/doctest.h>

#include "aggregator/audit/audit_log.h"
#include "aggregator/store/fleet_store.h"
#include "tests/support/temp_dir.h"

namespace driftwatch::testing {

struct StoreFixture {
  StoreFixture() {
    auto opened = aggregator::FleetStore::open(dir.at("data"));
    REQUIRE(opened.ok());
    store.emplace(std::move(opened).value());
    auto log = aggregator::AuditLog::open(*store, dir.at("audit.log"));
    REQUIRE(log.ok());
    audit.emplace(std::move(log).value());
  }

  TempDir dir;
  std::optional<aggregator::FleetStore> store;
  std::optional<aggregator::AuditLog> audit;  // after the store: it refers to it
};

}  // namespace driftwatch::testing
