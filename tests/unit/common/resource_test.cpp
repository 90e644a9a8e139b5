#include "common/model/resource.h"

#include <doctest/doctest.h>

using namespace driftwatch::model;

TEST_CASE("resource ids print as kind:escaped-name and parse back") {
  const ResourceId id{ResourceKind::kFile, std::string("/tmp/a\nb\xff", 9)};
  CHECK(id.str() == "file:/tmp/a\\x0ab\\xff");
  auto back = ResourceId::parse(id.str());
  REQUIRE(back.ok());
  CHECK(*back == id);
  CHECK(ResourceId::parse("sysctl:net.ipv4.ip_forward")->kind == ResourceKind::kSysctl);
}

TEST_CASE("bad resource ids are refused with the expected shape") {
  auto noKind = ResourceId::parse("/etc/motd");
  REQUIRE_FALSE(noKind.ok());
  CHECK(noKind.error().message.find("KIND:NAME") != std::string::npos);
  CHECK_FALSE(ResourceId::parse("disk:/dev/sda").ok());
  CHECK_FALSE(ResourceId::parse("file:").ok());
  CHECK_FALSE(ResourceId::parse("file:/bad\\").ok());
}

TEST_CASE("modes print as four octal digits and parse from one to four") {
  CHECK(formatMode(0644) == "0644");
  CHECK(formatMode(04755) == "4755");
  CHECK(parseMode("644") == 0644u);
  CHECK(parseMode("0600") == 0600u);
  CHECK(parseMode("1777") == 01777u);
  CHECK_FALSE(parseMode("0999").has_value());
  CHECK_FALSE(parseMode("17777").has_value());
  CHECK_FALSE(parseMode("").has_value());
  CHECK_FALSE(parseMode("rw-r--r--").has_value());
}

TEST_CASE("attribute names are valid per kind only") {
  CHECK(parseAttrName(ResourceKind::kFile, "sha256") == Attr::kSha256);
  CHECK_FALSE(parseAttrName(ResourceKind::kFile, "shell").has_value());
  CHECK(parseAttrName(ResourceKind::kUser, "shell") == Attr::kShell);
  CHECK(parseSeverity("critical") == Severity::kCritical);
  CHECK_FALSE(parseSeverity("urgent").has_value());
}
