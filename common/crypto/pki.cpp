#include "common/crypto/pki.h"

#include <memory>

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/crypto/signing.h"

namespace driftwatch::crypto {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

Error sslFailure(std::string_view what) {
  return makeError(ErrorCode::kInternal, std::string(what) + ": " + opensslError());
}

BioPtr memBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bioText(bio.get());
}

std::string keyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bioText(bio.get());
}

X509Ptr readCert(std::string_view pem) {
  auto bio = memBio(pem);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr readKey(std::string_view pem) {
  auto bio = memBio(pem);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

bool randomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  const bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

bool addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate skeleton: version 3, random serial, validity, subject CN, public key.
X509Ptr newCert(std::string_view commonName, EVP_PKEY* publicKey, int days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 || !randomSerial(cert.get())) return nullptr;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);  // five minutes of clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("driftwatch"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(commonName.data()),
                             static_cast<int>(commonName.size()), -1, 0);
  if (X509_set_pubkey(cert.get(), publicKey) != 1) return nullptr;
  return cert;
}

PkeyPtr newEcKey() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

}  // namespace

Result<KeyAndCert> createCa(std::string_view commonName, int days) {
  auto key = newEcKey();
  if (!key) return sslFailure("cannot create the CA key");
  auto cert = newCert(commonName, key.get(), days);
  if (!cert) return sslFailure("cannot create the CA certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (!addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return sslFailure("cannot sign the CA certificate");
  }
  return KeyAndCert{keyPem(key.get()), certPem(cert.get())};
}

Result<KeyAndCert> issueServerCert(const KeyAndCert& ca, const std::vector<std::string>& names,
                                   int days) {
  auto caKey = readKey(ca.keyPem);
  auto caCert = readCert(ca.certPem);
  if (!caKey || !caCert) return sslFailure("cannot read the CA");
  auto key = newEcKey();
  if (!key) return sslFailure("cannot create the server key");
  auto cert = newCert(names.empty() ? "driftwatch-aggregator" : names.front(), key.get(), days);
  if (!cert) return sslFailure("cannot create the server certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  std::string san;
  for (const auto& n : names) {
    unsigned char buf[16];
    const bool ip =
        inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
    if (!san.empty()) san += ",";
    san += (ip ? "IP:" : "DNS:") + n;
  }
  if (san.empty()) san = "DNS:localhost";
  if (!addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), caCert.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(cert.get(), caCert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(cert.get(), caCert.get(), NID_subject_alt_name, san) ||
      !addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid") ||
      X509_sign(cert.get(), caKey.get(), EVP_sha256()) == 0) {
    return sslFailure("cannot sign the server certificate");
  }
  return KeyAndCert{keyPem(key.get()), certPem(cert.get())};
}

Result<std::string> issueClientCert(const KeyAndCert& ca, std::string_view ed25519PublicKey,
                                    std::string_view hostId, int days) {
  auto caKey = readKey(ca.keyPem);
  auto caCert = readCert(ca.certPem);
  if (!caKey || !caCert) return sslFailure("cannot read the CA");
  PkeyPtr pub(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(ed25519PublicKey.data()),
      ed25519PublicKey.size()));
  if (!pub) return makeError(ErrorCode::kInvalidInput, "the public key is not a valid Ed25519 key");
  auto cert = newCert(hostId, pub.get(), days);
  if (!cert) return sslFailure("cannot create the client certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  if (!addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), caCert.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(cert.get(), caCert.get(), NID_ext_key_usage, "clientAuth") ||
      !addExtension(cert.get(), caCert.get(), NID_subject_alt_name,
                    "URI:driftwatch:host:" + std::string(hostId)) ||
      !addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid") ||
      X509_sign(cert.get(), caKey.get(), EVP_sha256()) == 0) {
    return sslFailure("cannot sign the client certificate");
  }
  return certPem(cert.get());
}

Result<std::string> certFingerprint(std::string_view pem) {
  auto cert = readCert(pem);
  if (!cert) return makeError(ErrorCode::kInvalidInput, "not a PEM certificate");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1)
    return sslFailure("cannot digest the certificate");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Result<CertInfo> inspectCert(std::string_view pem) {
  auto cert = readCert(pem);
  if (!cert) return makeError(ErrorCode::kInvalidInput, "not a PEM certificate");
  CertInfo info;
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) >
      0) {
    info.commonName = cn;
  }
  if (EVP_PKEY* pub = X509_get0_pubkey(cert.get());
      pub != nullptr && EVP_PKEY_get_id(pub) == EVP_PKEY_ED25519) {
    info.publicKeyRaw.resize(32);
    size_t len = 32;
    EVP_PKEY_get_raw_public_key(pub, reinterpret_cast<unsigned char*>(info.publicKeyRaw.data()),
                                &len);
  }
  int days = 0;
  int secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get())) == 1) {
    info.notAfter = static_cast<int64_t>(time(nullptr)) + int64_t{days} * 86400 + secs;
  }
  return info;
}

bool signedBy(std::string_view pem, std::string_view caPem) {
  auto cert = readCert(pem);
  auto ca = readCert(caPem);
  if (!cert || !ca) return false;
  EVP_PKEY* caKey = X509_get0_pubkey(ca.get());
  if (caKey == nullptr || X509_verify(cert.get(), caKey) != 1) return false;
  return X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0 &&
         X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0;
}

Status verifyServerCert(std::string_view leafPem, std::string_view caPem, std::string_view host) {
  auto leaf = readCert(leafPem);
  if (!leaf) return makeError(ErrorCode::kInvalidInput, "the server sent no usable certificate");
  if (!signedBy(leafPem, caPem)) {
    return makeError(ErrorCode::kInvalidInput,
                     "the server's certificate is not signed by the pinned CA, or has expired");
  }
  const std::string name(host);
  unsigned char addr[16];
  const bool isIp = ::inet_pton(AF_INET, name.c_str(), addr) == 1 ||
                    ::inet_pton(AF_INET6, name.c_str(), addr) == 1;
  // A server certificate proper: a host's client certificate (signed by the same CA, its host
  // id as CN) must not pass for the aggregator, so no fallback to the subject CN.
  if (X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0) != 1) {
    return makeError(ErrorCode::kInvalidInput,
                     "the server's certificate is not a TLS server certificate");
  }
  const int match = isIp ? X509_check_ip_asc(leaf.get(), name.c_str(), 0)
                         : X509_check_host(leaf.get(), name.data(), name.size(),
                                           X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
  if (match != 1) {
    return makeError(ErrorCode::kInvalidInput,
                     "the server's certificate is not issued for " + name +
                         " (add the name to server_names in the aggregator's config)");
  }
  return {};
}

}  // namespace driftwatch::crypto
