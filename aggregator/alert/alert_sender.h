#pragma once
// Sending one notification to one receiver. AlertSender is the dispatcher's view of it;
// ReceiverSender sends for real (webhook and Alertmanager over HTTP(S), syslog(3) locally).
// What a reply means is decided here: 2xx delivered; 408, 429, 5xx and transport failures are
// worth retrying; any other status will not get better by itself (dead at once). Called from
// the dispatcher's thread only.

#include <string>
#include <string_view>

#include "aggregator/alert/alert_config.h"
#include "aggregator/alert/alert_store.h"

namespace driftwatch::aggregator {

enum class SendOutcome : uint8_t { kDelivered, kRetry, kPermanent };

struct SendResult {
  SendOutcome outcome = SendOutcome::kDelivered;
  std::string error;  // why it failed; for the CLI and the log (no secrets, bounded)
};

// The outcome of an HTTP reply; the error quotes the status and the start of the body.
SendResult classifyReply(int status, std::string_view body);

class AlertSender {
 public:
  virtual ~AlertSender() = default;
  virtual SendResult send(const ReceiverConfig& receiver, const NotificationRecord& notification,
                          const DeliveryRecord& delivery) = 0;
};

class ReceiverSender : public AlertSender {
 public:
  SendResult send(const ReceiverConfig& receiver, const NotificationRecord& notification,
                  const DeliveryRecord& delivery) override;
};

}  // namespace driftwatch::aggregator
