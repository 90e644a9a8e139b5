#include "aggregator/api/web_page.h"

#include <string_view>

#include <openssl/evp.h>

#include "common/crypto/sha256.h"

namespace driftwatch::aggregator {
namespace {

// Data from the API reaches the page through textContent only, never as markup: host names,
// resources and policy values are whatever a host or a policy author wrote.
constexpr std::string_view kScript = R"js(
'use strict';
const SILENT_MS = 15 * 60 * 1000;
const $ = (id) => document.getElementById(id);
let hosts = [];
let shownHost = null;  // the host whose details are open, refreshed with the rest

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fill(table, header, rows) {
  table.replaceChildren();
  const head = el('tr');
  header.forEach((h) => head.appendChild(el('th', h)));
  table.appendChild(head);
  rows.forEach((r) => table.appendChild(r));
}

// GET path?params, or POST `post` as JSON when it is given.
async function api(path, params, post) {
  const query = new URLSearchParams();
  Object.entries(params || {}).forEach(([k, v]) => { if (v) query.set(k, v); });
  const url = path + (query.toString() ? '?' + query.toString() : '');
  const token = sessionStorage.getItem('driftwatch-token');
  const init = {
    headers: {Authorization: 'Bearer ' + token},
    cache: 'no-store', credentials: 'omit'};
  if (post) {
    init.method = 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(post);
  }
  const res = await fetch(url, init);
  const body = await res.json().catch(() => ({error: 'HTTP ' + res.status}));
  // An answer that arrives after Sign out (or another sign-in) is for nobody on this page now.
  if (sessionStorage.getItem('driftwatch-token') !== token) throw new Error('signed out');
  if (res.status === 401) { signOut('The token was refused: ' + body.error); throw new Error(body.error); }
  if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
  return body;
}

function hostStatus(h) {
  if (h.revoked_at) return 'revoked';
  if (!h.last_report) return 'never reported';
  return Date.now() - Date.parse(h.last_report) > SILENT_MS ? 'silent' : 'reporting';
}

function skew(ms) {
  if (ms === null || ms === undefined) return '-';
  const seconds = (Math.abs(ms) / 1000).toFixed(1);
  return (seconds === '0.0' ? '' : ms < 0 ? '-' : '+') + seconds + 's';
}

function attributes(d) {
  const parts = (d.attributes || []).map((a) => a.name + ' ' + (a.desired ?? '-') + ' \u2192 ' + (a.actual ?? '-'));
  if (d.error) parts.push('error: ' + d.error);
  return parts.join(', ') || '-';
}

function button(text, onClick) {
  const b = el('button', text);
  b.addEventListener('click', (event) => { event.stopPropagation(); onClick(); });
  return b;
}

// An action's outcome: a note on success, the server's reason on failure (a read-only token
// is refused with 403 and says how to get one that may act).
async function act(path, post, done) {
  $('error').textContent = '';
  $('notice').textContent = '';
  try {
    await api(path, null, post);
    $('notice').textContent = done;
    await loadFleet();
  } catch (e) { $('error').textContent = e.message; }
}

function decide(d, verb) {
  const reason = prompt(verb + ' ' + d.resource + ' on ' + d.host + ': why? (kept in the audit trail)');
  if (!reason) return;
  const post = {host: d.host, resource: d.resource, reason: reason};
  if (verb === 'Waive') {
    const duration = prompt('Waive for how long? (like 12h, 7d, 30d)', '7d');
    if (!duration) return;
    post.for = duration;
  }
  act(verb === 'Accept' ? '/api/v1/drift/accept' : '/api/v1/drift/waive', post,
    (verb === 'Accept' ? 'Accepted ' : 'Waived ') + d.resource + ' on ' + d.host);
}

function driftRows(items, withHost) {
  return items.map((d) => {
    const tr = el('tr', null, 'sev-' + d.severity);
    if (withHost) tr.appendChild(el('td', d.host));
    const status = d.status + (d.decision && d.decision.until ? ' until ' + d.decision.until : '');
    [d.resource, status + (d.creep ? ' (creep)' : ''), d.direction, d.severity,
     d.policy + ' v' + d.policy_version, attributes(d), d.first_seen]
      .forEach((v) => tr.appendChild(el('td', v)));
    if (withHost) {
      const cell = el('td', null, 'actions');
      if (d.status === 'open' || d.status === 'waived') cell.appendChild(button('Accept', () => decide(d, 'Accept')));
      if (d.status === 'open' || d.status === 'accepted') cell.appendChild(button('Waive', () => decide(d, 'Waive')));
      tr.appendChild(cell);
    }
    return tr;
  });
}

async function loadAlerts() {
  try {
    const items = await api('/api/v1/alerts', {status: $('f-alert-status').value, host: $('f-host').value});
    fill($('alerts'), ['Id', 'Status', 'Severity', 'Host', 'Summary', 'Fired', 'Acked by', ''],
      items.map((a) => {
        const tr = el('tr', null, 'sev-' + a.severity);
        [a.id, a.status, a.severity, a.host, a.summary, a.fired_at || '-',
         a.acked_by ? a.acked_by + ' (' + a.acked_at + ')' : '-']
          .forEach((v) => tr.appendChild(el('td', v)));
        const cell = el('td', null, 'actions');
        if (a.status === 'firing') {
          cell.appendChild(button('Ack', () => act('/api/v1/alerts/{id}/ack'.replace('{id}', a.id), {}, 'Alert ' + a.id + ' acknowledged')));
        }
        tr.appendChild(cell);
        return tr;
      }));
    $('alert-count').textContent = items.length + ' alert' + (items.length === 1 ? '' : 's');
  } catch (e) { $('error').textContent = e.message; }
}

async function loadFleet() {
  $('error').textContent = '';
  try {
    const [list, open] = await Promise.all([api('/api/v1/hosts'), api('/api/v1/drift', {status: 'open'})]);
    hosts = list;
    const counts = {};
    open.forEach((d) => { counts[d.host] = (counts[d.host] || 0) + 1; });
    const select = $('f-host');
    const chosen = select.value;
    select.replaceChildren(el('option', 'any host'));
    select.firstChild.value = '';
    hosts.forEach((h) => { const o = el('option', h.id); o.value = h.id; select.appendChild(o); });
    select.value = chosen;
    fill($('hosts'), ['Host', 'Name', 'Status', 'Last report', 'Clock skew', 'Open drift'],
      hosts.map((h) => {
        const tr = el('tr', null, 'clickable');
        const status = hostStatus(h);
        [h.id, h.name].forEach((v) => tr.appendChild(el('td', v)));
        tr.appendChild(el('td', status, 'status-' + status.replace(' ', '-')));
        [h.last_report || 'never', skew(h.clock_skew_ms), counts[h.id] || 0]
          .forEach((v) => tr.appendChild(el('td', v)));
        tr.addEventListener('click', () => showHost(h.id, true));
        return tr;
      }));
    await Promise.all([loadAlerts(), loadDrift(), shownHost ? showHost(shownHost, false) : null]);
  } catch (e) { $('error').textContent = e.message; }
}

async function loadDrift() {
  try {
    const items = await api('/api/v1/drift', {
      host: $('f-host').value, severity: $('f-severity').value,
      status: $('f-status').value, direction: $('f-direction').value});
    fill($('drift'), ['Host', 'Resource', 'Status', 'Direction', 'Severity', 'Policy', 'Attributes', 'First seen', ''],
      driftRows(items, true));
    $('drift-count').textContent = items.length + ' item' + (items.length === 1 ? '' : 's');
  } catch (e) { $('error').textContent = e.message; }
}

async function showHost(id, scroll) {
  shownHost = id;
  try {
    const [items, gaps] = await Promise.all([
      api('/api/v1/drift', {host: id, status: 'all'}),
      api('/api/v1/hosts/{id}/gaps'.replace('{id}', encodeURIComponent(id)))]);
    $('host-title').textContent = 'Host ' + id;
    fill($('host-drift'), ['Resource', 'Status', 'Direction', 'Severity', 'Policy', 'Attributes', 'First seen'],
      driftRows(items, false));
    fill($('host-gaps'), ['Gap', 'Kind', 'Scope', 'Started', 'Ended', 'Detail'], gaps.map((g) => {
      const tr = el('tr');
      [g.gap, g.kind, g.scope, g.started_at, g.ended_at || 'open', g.detail]
        .forEach((v) => tr.appendChild(el('td', v)));
      return tr;
    }));
    $('host').hidden = false;
    if (scroll) $('host').scrollIntoView();
  } catch (e) { $('error').textContent = e.message; }
}

// Nothing read with one token stays in the page for the next: hidden is not gone, and the
// fleet section shows again at the next sign-in, before that token's answers arrive.
function clearFleet() {
  ['hosts', 'alerts', 'drift', 'host-drift', 'host-gaps'].forEach((id) => $(id).replaceChildren());
  ['alert-count', 'drift-count', 'host-title', 'notice', 'error'].forEach((id) => { $(id).textContent = ''; });
  $('f-host').replaceChildren(el('option', 'any host'));
  $('f-host').firstChild.value = '';
  $('host').hidden = true;
  hosts = [];
  shownHost = null;
}

function signOut(message) {
  sessionStorage.removeItem('driftwatch-token');
  clearFleet();
  $('fleet').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}

function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  if (!token) return;
  sessionStorage.setItem('driftwatch-token', token);
  $('token').value = '';
  $('login').hidden = true;
  $('fleet').hidden = false;
  loadFleet();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut(''));
  $('refresh').addEventListener('click', () => { $('notice').textContent = ''; loadFleet(); });
  ['f-host', 'f-severity', 'f-status', 'f-direction'].forEach((id) => $(id).addEventListener('change', loadDrift));
  ['f-host', 'f-alert-status'].forEach((id) => $(id).addEventListener('change', loadAlerts));
  if (sessionStorage.getItem('driftwatch-token')) {
    $('login').hidden = true;
    $('fleet').hidden = false;
    loadFleet();
  }
});
)js";

constexpr std::string_view kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin-top: .5em; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #dde1e8; vertical-align: top; }
td { font-family: ui-monospace, monospace; font-size: 13px; word-break: break-all; }
tr.clickable { cursor: pointer; } tr.clickable:hover { background: #f1f4f9; }
.status-reporting { color: #17783c; } .status-silent, .status-never-reported { color: #a35a00; }
.status-revoked { color: #8a8f99; }
.sev-critical td, .sev-high td { color: #a1121b; }
.error { color: #a1121b; } .notice { color: #17783c; }
td.actions { white-space: nowrap; font-family: inherit; } td.actions button { margin-right: .3em; } .bar { display: flex; gap: .6em; align-items: center; flex-wrap: wrap; }
input, select, button { font: inherit; padding: .25em .5em; }
)css";

constexpr std::string_view kBodyHtml = R"html(
<h1>driftwatch fleet</h1>
<section id="login">
  <form id="login-form" class="bar">
    <label for="token">API token (dwa_...)</label>
    <input id="token" type="password" autocomplete="off" size="60">
    <button type="submit">Show the fleet</button>
  </form>
  <p>Create a token on the aggregator: <code>driftwatch-aggregator api-token create --name NAME</code>
     (add <code>--scope write</code> to also acknowledge alerts and accept or waive drift here).
     It is kept in this tab only (sessionStorage).</p>
  <p id="login-error" class="error"></p>
</section>
<section id="fleet" hidden>
  <div class="bar"><button id="refresh">Refresh</button><button id="sign-out">Sign out</button>
    <span id="notice" class="notice"></span><span id="error" class="error"></span></div>
  <h2>Hosts</h2>
  <table id="hosts"></table>
  <h2>Alerts <span id="alert-count"></span></h2>
  <div class="bar">
    <select id="f-alert-status"><option value="unresolved">unresolved</option><option>firing</option>
      <option>acknowledged</option><option>pending</option><option>resolved</option><option>all</option></select>
  </div>
  <table id="alerts"></table>
  <h2>Drift <span id="drift-count"></span></h2>
  <div class="bar">
    <select id="f-host"><option value="">any host</option></select>
    <select id="f-severity"><option value="">any severity</option><option>low</option>
      <option>medium</option><option>high</option><option>critical</option></select>
    <select id="f-status"><option>open</option><option>accepted</option><option>waived</option>
      <option>resolved</option><option>all</option></select>
    <select id="f-direction"><option value="">both directions</option><option>managed</option>
      <option>definition</option></select>
  </div>
  <table id="drift"></table>
  <section id="host" hidden>
    <h2 id="host-title"></h2>
    <h3>Drift</h3><table id="host-drift"></table>
    <h3>Coverage gaps</h3><table id="host-gaps"></table>
  </section>
</section>
)html";

// 'sha256-BASE64' as a Content-Security-Policy source.
std::string cspHash(std::string_view text) {
  const Sha256Digest digest = Sha256::of(text);
  unsigned char out[64];
  const int n = EVP_EncodeBlock(out, digest.data(), static_cast<int>(digest.size()));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n)) + "'";
}

}  // namespace

WebPage::WebPage() {
  html_ =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>driftwatch fleet</title>\n<style>" +
      std::string(kStyle) + "</style>\n<script>" + std::string(kScript) +
      "</script>\n</head>\n<body>" + std::string(kBodyHtml) + "</body>\n</html>\n";
  csp_ = "default-src 'none'; script-src " + cspHash(kScript) + "; style-src " + cspHash(kStyle) +
         "; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  etag_ = "\"" + toHex(Sha256::of(html_)).substr(0, 32) + "\"";
}

HttpResponse WebPage::serve(const std::string& ifNoneMatch) const {
  HttpHeaders headers = {{"Content-Security-Policy", csp_},  {"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "no-referrer"}, {"X-Frame-Options", "DENY"},
                         {"Cache-Control", "no-cache"},      {"ETag", etag_}};
  if (ifNoneMatch == etag_) return HttpResponse(304, "text/html; charset=utf-8", "", headers);
  return HttpResponse(200, "text/html; charset=utf-8", html_, std::move(headers));
}

}  // namespace driftwatch::aggregator
