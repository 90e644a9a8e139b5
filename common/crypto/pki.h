#pragma once
// The fleet's small PKI: the aggregator's own CA (ECDSA P-256, so that browsers accept the
// server certificate it signs), the server certificate, and client certificates for enrolled
// agents (their Ed25519 public key, the host id as subject and as a driftwatch: URI). Keys and
// certificates travel as PEM. Pure functions over their inputs; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::crypto {

struct KeyAndCert {
  std::string keyPem;
  std::string certPem;
};

// A self-signed CA, valid for `days`.
Result<KeyAndCert> createCa(std::string_view commonName, int days);

// A server certificate signed by the CA, for the DNS names and IP addresses in `names`.
Result<KeyAndCert> issueServerCert(const KeyAndCert& ca, const std::vector<std::string>& names,
                                   int days);

// A client certificate for an enrolled host: its Ed25519 public key (32 raw bytes), subject
// CN = hostId, URI SAN "driftwatch:host:<hostId>", extended key usage clientAuth.
Result<std::string> issueClientCert(const KeyAndCert& ca, std::string_view ed25519PublicKey,
                                    std::string_view hostId, int days);

// "sha256:" and the lowercase hex SHA-256 of the certificate's DER encoding.
Result<std::string> certFingerprint(std::string_view certPem);

// Facts of a certificate that callers check.
struct CertInfo {
  std::string commonName;
  std::string publicKeyRaw;  // Ed25519: 32 bytes; other key types: empty
  int64_t notAfter = 0;      // unix seconds
};
Result<CertInfo> inspectCert(std::string_view certPem);

// True when `certPem` is signed by `caCertPem` (and is within its validity period).
bool signedBy(std::string_view certPem, std::string_view caCertPem);

// Checks a TLS server's certificate against a CA the caller pinned: signed by it, within its
// validity period, and issued for `host` (a DNS name or an IP address). The error says which.
Status verifyServerCert(std::string_view leafPem, std::string_view caCertPem,
                        std::string_view host);

}  // namespace driftwatch::crypto
