#pragma once
// The fleet view: one self-contained HTML page (its script and style inline, nothing from
// elsewhere) served at GET /, that asks for an API token (kept in the tab's sessionStorage)
// and shows the fleet through the admin API only. Its Content-Security-Policy allows exactly
// its own script and style, by their SHA-256, and connections to this origin. Built once, at
// start; immutable afterwards, so any thread may read it.

#include <string>

#include "aggregator/http/messages.h"

namespace driftwatch::aggregator {

class WebPage {
 public:
  WebPage();
  // 200 with the page, or 304 when `ifNoneMatch` is its ETag.
  HttpResponse serve(const std::string& ifNoneMatch) const;
  const std::string& html() const { return html_; }
  const std::string& contentSecurityPolicy() const { return csp_; }

 private:
  std::string html_;
  std::string csp_;
  std::string etag_;
};

}  // namespace driftwatch::aggregator
