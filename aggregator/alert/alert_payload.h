#pragma once
// What notifications say, as pure functions. A notification stores one JSON snapshot (event,
// host, the alerts it lists) when it is queued; every receiver's message is rendered from that
// snapshot, so a retry after a restart sends the same content under the same idempotency key.
// Values that came from hosts are made safe for display; nothing secret is ever in them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/alert/alert_store.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// The snapshot: `host` may be missing (a host removed since) and then only its id is known.
std::string notificationSnapshot(std::string_view event, std::string_view hostId,
                                 const std::optional<HostRecord>& host,
                                 const std::vector<AlertRecord>& alerts, int64_t now);

// The webhook's JSON body: the snapshot with the notification id, the receiver and the
// idempotency key (also sent as the Idempotency-Key header).
Result<std::string> webhookBody(const NotificationRecord& n, std::string_view receiver,
                                std::string_view idempotencyKey);
// Prometheus Alertmanager's POST /api/v2/alerts body: one alert per listed alert, with labels,
// annotations, startsAt and, for a resolution, endsAt.
Result<std::string> alertmanagerBody(const NotificationRecord& n, std::string_view idempotencyKey);
// One syslog line per listed alert.
Result<std::vector<std::string>> syslogLines(const NotificationRecord& n,
                                             std::string_view idempotencyKey);

}  // namespace driftwatch::aggregator
