#include "common/model/labels.h"

#include <doctest/doctest.h>

using namespace driftwatch::model;

TEST_CASE("label keys and values") {
  CHECK(isLabelKey("role"));
  CHECK(isLabelKey("example.net/team_a-1"));
  CHECK_FALSE(isLabelKey(""));
  CHECK_FALSE(isLabelKey(std::string(64, 'a')));
  CHECK_FALSE(isLabelKey("ro le"));
  CHECK_FALSE(isLabelKey("role="));
  CHECK(isLabelValue(""));
  CHECK(isLabelValue("web front"));
  CHECK_FALSE(isLabelValue("a,b"));
  CHECK_FALSE(isLabelValue("a\\b"));
  CHECK_FALSE(isLabelValue("a\nb"));
  CHECK_FALSE(isLabelValue(std::string(254, 'x')));
}

TEST_CASE("a selector selects hosts carrying all its labels, overlapping selectors") {
  const Labels host = {{"role", "web"}, {"dc", "fra"}};
  CHECK(selects({}, host));
  CHECK(selects({{"role", "web"}}, host));
  CHECK(selects({{"role", "web"}, {"dc", "fra"}}, host));
  CHECK_FALSE(selects({{"role", "db"}}, host));
  CHECK_FALSE(selects({{"env", "prod"}}, host));

  CHECK(selectorsOverlap({}, {{"role", "web"}}));
  CHECK(selectorsOverlap({{"role", "web"}}, {{"dc", "fra"}}));  // a web host in fra
  CHECK(selectorsOverlap({{"role", "web"}}, {{"role", "web"}, {"dc", "fra"}}));
  CHECK_FALSE(selectorsOverlap({{"role", "web"}}, {{"role", "db"}, {"dc", "fra"}}));
  CHECK(labelsText(host) == "dc=fra,role=web");
  CHECK(labelsText({}) == "-");
}
