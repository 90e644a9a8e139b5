// The fleet view (GET /) in a real browser, used as a person would: Debian's chromium, driven by
// playwright-core, against a running aggregator whose fleet tests/e2e/fleet_view_test.cpp set
// up: one reporting host on which /etc/motd and /etc/issue drifted open, an alert firing for
// each. The browser trusts the fleet's CA the way an operator's would (an NSS database holding
// ca.crt), so TLS is checked, not waved through.
//
// Prints one line per check ("ok" or "FAIL") and exits 1 when any failed, 2 when something it
// needs is missing. It leaves screenshots and the page's HTML at each step in --artifacts.
//
// node fleet_view.mjs --url https://127.0.0.1:PORT/ --ca DATA_DIR/ca.crt --host HOST_ID
//   --read-token FILE --write-token FILE --writer WRITE_TOKEN_NAME [--artifacts DIR]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    ca: { type: 'string' },
    host: { type: 'string' },
    'read-token': { type: 'string' },
    'write-token': { type: 'string' },
    writer: { type: 'string' },
    artifacts: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
for (const name of ['url', 'ca', 'host', 'read-token', 'write-token', 'writer']) {
  if (!opt[name]) {
    console.error(`fleet_view.mjs: --${name} is required`);
    process.exit(2);
  }
}

function missing(what) {
  console.log(`FAIL ${what} is missing: run scripts/install-deps`);
  process.exit(2);
}

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  missing(`playwright-core (tests/browser/node_modules; ${e.code || e.message})`);
}
if (!existsSync(opt.chromium)) missing(`chromium (${opt.chromium})`);
if (spawnSync('certutil', ['-H']).error) missing('certutil (package libnss3-tools)');

const readToken = readFileSync(opt['read-token'], 'utf8').trim();
const writeToken = readFileSync(opt['write-token'], 'utf8').trim();
const host = opt.host;
const accepted = '/etc/motd'; // accepted through the page
const waived = '/etc/issue'; // waived through the page

// ---- checks and waiting ------------------------------------------------------------------

const failures = [];

function check(ok, what, seen) {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    console.log(`FAIL ${what}${seen === undefined ? '' : `\n     saw: ${JSON.stringify(seen)}`}`);
    failures.push(what);
  }
  return ok;
}

// Polls `probe` (which returns what it saw) until `holds(seen)` or the deadline: the page
// updates after its fetches answer, so a check waits for a condition, never a fixed time.
async function eventually(what, probe, holds, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await probe();
    if (holds(seen)) return check(true, what);
    if (Date.now() > deadline) return check(false, what, seen);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---- the browser ---------------------------------------------------------------------------

// A HOME of its own whose NSS database trusts the fleet CA, as `certutil -A` does for a person.
const home = mkdtempSync(join(tmpdir(), 'driftwatch-browser-'));
const nssdb = `sql:${join(home, '.pki', 'nssdb')}`;
mkdirSync(join(home, '.pki', 'nssdb'), { recursive: true });
for (const args of [
  ['-N', '--empty-password', '-d', nssdb],
  ['-A', '-t', 'C,,', '-n', 'driftwatch fleet CA', '-i', opt.ca, '-d', nssdb],
]) {
  const r = spawnSync('certutil', args, { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`FAIL certutil ${args[0]}: ${r.stderr}`);
    process.exit(2);
  }
}
if (opt.artifacts) {
  rmSync(opt.artifacts, { recursive: true, force: true });
  mkdirSync(opt.artifacts, { recursive: true });
}

const started = Date.now();
const browser = await chromium.launch({
  executablePath: opt.chromium,
  // The host resolver rule keeps Chromium off the network but for the aggregator: even with
  // background networking off it looks up its update, sign-in and autofill servers.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  env: { ...process.env, HOME: home },
  timeout: 60000,
});
const context = await browser.newContext();
// CSP violations also reach the console as errors; this names the directive and the source.
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} refused ${e.blockedURI || 'inline'}` +
      ` (${e.sourceFile || 'page'}:${e.lineNumber})`);
  });
});
const page = await context.newPage();

// Whatever goes wrong in the page is a failure, except the one refusal a step provokes
// (Chromium logs a 401 or 403 answer to fetch() as a console error).
const problems = [];
let expectedStatus = 0;
let expectCsp = false;
const cspSeen = [];
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const text = m.text();
  if (expectCsp && /Content Security Policy|CSP violation/.test(text)) {
    cspSeen.push(text);
    return;
  }
  const status = /status of (\d{3})/.exec(text);
  if (status && Number(status[1]) === expectedStatus) return;
  problems.push(`console error: ${text} (${m.location().url})`);
});
page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
page.on('requestfailed', (r) =>
  problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
page.on('response', (r) => {
  if (r.status() >= 400 && r.status() !== expectedStatus) {
    problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  }
});
// Accept and Waive ask with window.prompt(): the answers a step queues, in order.
const answers = [];
const prompts = [];
page.on('dialog', async (d) => {
  prompts.push(d.message());
  if (answers.length === 0) {
    problems.push(`unexpected ${d.type()}: ${d.message()}`);
    await d.dismiss();
  } else {
    await d.accept(answers.shift());
  }
});

// A table as rows of {header: cell text}; the actions column is "actions".
function table(id) {
  return page.$$eval(`#${id} tr`, (trs) => {
    const [head, ...rows] = trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim()));
    return rows.map((cells) => Object.fromEntries((head || []).map((h, i) => [h || 'actions', cells[i]])));
  });
}
const text = (selector) => page.textContent(selector).then((t) => (t || '').trim());
const visible = (selector) => page.isVisible(selector);
const storedToken = () => page.evaluate(() => sessionStorage.getItem('driftwatch-token'));
const rowOf = (rows, path) => rows.find((r) => r.Resource === `file:${path}` && (r.Host ?? host) === host);
// The alert that fired for `path` (its summary: "file:/etc/motd modified: mode 0644->0600").
const alertOf = (rows, path) =>
  rows.find((r) => r.Host === host && r.Summary?.startsWith(`file:${path} modified:`));
const button = (tableId, path, name) =>
  page.locator(`#${tableId} tr`, { hasText: `file:${path}` }).getByRole('button', { name, exact: true });

async function signIn(token) {
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
}

async function shot(name) {
  if (!opt.artifacts) return;
  await page.screenshot({ path: join(opt.artifacts, `${name}.png`), fullPage: true }).catch(() => {});
  writeFileSync(join(opt.artifacts, `${name}.html`), await page.content().catch(() => ''));
}

// ---- the checks ----------------------------------------------------------------------------

try {
  const response = await page.goto(opt.url, { waitUntil: 'domcontentloaded' });
  check(response?.status() === 200, 'GET / answers 200 over TLS that the fleet CA vouches for',
    response?.status());
  const csp = (await response?.allHeaders())?.['content-security-policy'] || '';
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'sha256-"),
    'the page comes with its Content-Security-Policy', csp);
  check(await visible('#login') && !(await visible('#fleet')), 'the login form shows, the fleet does not');

  // A wrong token: the API refuses it, the page says so and asks again.
  expectedStatus = 401;
  await signIn('dwa_wrong');
  await eventually('a wrong token is refused with the server\'s reason',
    async () => ({ login: await visible('#login'), message: await text('#login-error') }),
    (s) => s.login && s.message.startsWith('The token was refused: ') && s.message.length > 23);
  check(!(await visible('#fleet')), 'after the refusal the fleet stays hidden');
  check(await storedToken() === null, 'a refused token is not kept in sessionStorage');
  await shot('1-refused');
  expectedStatus = 0;

  // A read token shows the fleet.
  await signIn(readToken);
  await eventually(`the hosts table lists ${host} as reporting, with 2 open drift items`,
    () => table('hosts'),
    (rows) => rows.some((r) => r.Host === host && r.Status === 'reporting' && r['Open drift'] === '2'));
  check(!(await visible('#login')) && await visible('#fleet'), 'the login form gives way to the fleet');
  check(await storedToken() === readToken, 'the token is kept in sessionStorage');
  const skew = (await table('hosts'))[0]?.['Clock skew'];
  check(/^([+-]?\d+\.\d)s$/.test(skew) && !/^[+-]0\.0s$/.test(skew),
    'the clock skew reads as seconds, with no sign on zero', skew);
  await eventually('the alerts table shows both alerts firing, each with an Ack button',
    () => table('alerts'),
    (rows) => rows.length === 2 && [accepted, waived].every((p) => alertOf(rows, p)?.Status === 'firing' &&
      alertOf(rows, p)['Acked by'] === '-' && alertOf(rows, p).actions === 'Ack'));
  await eventually(`the drift table shows ${accepted} and ${waived} open on ${host}`, () => table('drift'),
    (rows) => rows.length === 2 && [accepted, waived].every((p) => rowOf(rows, p)?.Status === 'open' &&
      rowOf(rows, p).actions === 'AcceptWaive'));
  check(await text('#alert-count') === '2 alerts' && await text('#drift-count') === '2 items',
    'the counts say two alerts and two drift items', [await text('#alert-count'), await text('#drift-count')]);

  // Clicking the host shows its drift and coverage gaps.
  await page.locator('#hosts tr', { hasText: host }).click();
  await eventually('clicking the host shows its drift items', async () => ({
    title: await text('#host-title'), drift: await table('host-drift'), shown: await visible('#host') }),
  (s) => s.shown && s.title === `Host ${host}` && s.drift.length === 2);
  await shot('2-read');

  // A read token may not act: Ack answers the 403 message and nothing changes.
  expectedStatus = 403;
  await button('alerts', accepted, 'Ack').click();
  await eventually('Ack with a read token shows the 403 message', () => text('#error'),
    (t) => t.includes('may only read') && t.includes('--scope write'));
  check(await text('#notice') === '', 'no success notice after the refusal', await text('#notice'));
  await shot('3-read-refused');
  expectedStatus = 0;
  await page.click('#refresh');
  await eventually('after Refresh both alerts are still firing and unacknowledged', () => table('alerts'),
    (rows) => rows.length === 2 && rows.every((r) => r.Status === 'firing' && r['Acked by'] === '-'));

  // Sign out forgets the token and what it read.
  await page.click('#sign-out');
  check(await visible('#login') && !(await visible('#fleet')), 'Sign out shows the login form again');
  check(await storedToken() === null, 'Sign out forgets the token');
  const left = await page.$$eval('#fleet td, #f-host option:not([value=""])',
    (found) => found.map((e) => e.textContent));
  check(!(await page.content()).includes(host) && left.length === 0,
    'Sign out leaves none of the fleet in the page', left);

  // A write token acts.
  await signIn(writeToken);
  await eventually('the write token shows the fleet', () => table('alerts'), (rows) => rows.length === 2);
  await page.locator('#hosts tr', { hasText: host }).click();
  await eventually('the host\'s details show again', () => table('host-drift'), (rows) => rows.length === 2);
  await button('alerts', accepted, 'Ack').click();
  await eventually(`Ack acknowledges the alert, by ${opt.writer}`, () => table('alerts'),
    (rows) => alertOf(rows, accepted)?.Status === 'acknowledged' &&
      alertOf(rows, accepted)['Acked by'].startsWith(`${opt.writer} (`) &&
      alertOf(rows, accepted).actions === '' && alertOf(rows, waived)?.Status === 'firing');
  check(/^Alert \d+ acknowledged$/.test(await text('#notice')), 'a notice says it was acknowledged',
    await text('#notice'));
  check(await text('#error') === '', 'no error after Ack', await text('#error'));

  answers.push('0600 is right');
  await button('drift', accepted, 'Accept').click();
  await eventually(`Accept, with a reason, takes ${accepted} out of the open drift`,
    () => table('drift'), (rows) => rows.length === 1 && rowOf(rows, waived));
  check(prompts.length === 1 && prompts[0].includes(accepted) && prompts[0].includes(host),
    'the prompt names the resource and the host', prompts);
  check(await text('#notice') === `Accepted file:${accepted} on ${host}` && await text('#error') === '',
    'a notice says it was accepted', [await text('#notice'), await text('#error')]);
  await eventually('the host\'s details show it accepted', () => table('host-drift'),
    (rows) => rowOf(rows, accepted)?.Status === 'accepted' && rowOf(rows, waived)?.Status === 'open');

  answers.push('until the vendor fix', '7d');
  await button('drift', waived, 'Waive').click();
  await eventually(`Waive, with a reason and a duration, takes ${waived} out of the open drift`,
    () => table('drift'), (rows) => rows.length === 0);
  check(prompts.length === 3 && prompts[1].includes(waived) && prompts[2].includes('how long'),
    'Waive asks why, then for how long', prompts.slice(1));
  check(await text('#notice') === `Waived file:${waived} on ${host}` && await text('#error') === '',
    'a notice says it was waived', [await text('#notice'), await text('#error')]);

  await page.selectOption('#f-status', 'all');
  await eventually('the drift filter "all" shows one accepted and one waived until a date',
    () => table('drift'),
    (rows) => rowOf(rows, accepted)?.Status === 'accepted' && rowOf(rows, accepted).actions === 'Waive' &&
      /^waived until \d{4}-\d\d-\d\dT/.test(rowOf(rows, waived)?.Status) &&
      rowOf(rows, waived).actions === 'Accept');
  await eventually('the hosts table counts no open drift', () => table('hosts'),
    (rows) => rows.some((r) => r.Host === host && r['Open drift'] === '0'));
  await eventually('deciding resolves the alerts: none is left unresolved', () => table('alerts'),
    (rows) => rows.length === 0);
  await page.selectOption('#f-alert-status', 'resolved');
  // (The filter also lists the alerts that never fired: pending before the host's first report.)
  await eventually('the alert filter "resolved" shows both, the acknowledged one by whom',
    () => table('alerts'),
    (rows) => alertOf(rows, accepted)?.Status === 'resolved' && alertOf(rows, waived)?.Status === 'resolved' &&
      alertOf(rows, accepted)['Acked by'].startsWith(`${opt.writer} (`));
  await shot('4-write');

  // The page's own CSP is in force: an inline style injected now is refused, and seen here
  // (this proves the checks above would have caught a violation).
  expectCsp = true;
  await page.evaluate(() => {
    const s = document.createElement('style');
    s.textContent = 'body { background: red; }';
    document.head.appendChild(s);
  });
  await eventually('the Content-Security-Policy refuses an injected inline style',
    () => Promise.resolve(cspSeen.length), (n) => n > 0, 5000);
  expectCsp = false;
} catch (e) {
  check(false, `the run stopped: ${e.message.split('\n')[0]}`);
}

check(problems.length === 0, 'no console error, page error, CSP violation or failed request', problems);
if (failures.length > 0) await shot('failure');
await browser.close();
rmSync(home, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`${failures.length === 0 ? 'ok  ' : 'FAIL'} fleet view: ${failures.length} of the checks failed` +
  ` (${seconds} s in the browser)`);
process.exit(failures.length === 0 ? 0 : 1);
