#pragma once
// The agent reaches the aggregator with the shared HTTPS client (common/net/https_client.h),
// under the names it has always used.

#include "common/net/https_client.h"

namespace driftwatch::agent {

using net::HttpReply;
using net::HttpsClient;
using net::HttpsClientOptions;

}  // namespace driftwatch::agent
