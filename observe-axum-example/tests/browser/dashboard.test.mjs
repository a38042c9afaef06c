// The dashboard in Debian's chromium, driven by playwright-core. Started by main.rs,
// which runs the servers: OPEN_BASE (open dashboard, PostgreSQL through a proxy) and
// GUARDED_BASE (dashboard behind TOKEN). Faults are asked for on stdout ("cut",
// "restore", "stop", "start"); main.rs answers "ok" on stdin. Exits non-zero on the
// first failed check. Screenshots go to ARTIFACTS.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const OPEN = process.env.OPEN_BASE;
const GUARDED = process.env.GUARDED_BASE;
const TOKEN = process.env.TOKEN;
const ARTIFACTS = process.env.ARTIFACTS || 'artifacts';
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  console.log(what);
  const { value } = await answers.next();
  if (value !== 'ok') throw new Error(`main.rs did not do "${what}": ${value}`);
}
const log = (msg) => console.log('# ' + msg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let checks = 0;
function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
  checks++;
  log('ok - ' + what);
}
async function until(what, limitMs, probe) {
  const started = Date.now();
  let last;
  while (Date.now() - started < limitMs) {
    try { last = await probe(); if (last) { check(true, `${what} (${Date.now() - started} ms)`); return last; } } catch (e) { last = e; }
    await sleep(250);
  }
  throw new Error(`check failed: ${what} within ${limitMs} ms (last: ${last})`);
}

async function launch(options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'observe-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 1280, height: 900 }, ...options,
  });
  return { context, dir };
}

// Every request the page makes, and every console error or page error.
function watch(page, origin) {
  const seen = { requests: [], foreign: [], errors: [] };
  page.on('request', (r) => {
    seen.requests.push({ url: r.url(), at: Date.now() });
    const u = new URL(r.url());
    if (u.origin !== origin) seen.foreign.push(r.url());
  });
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  return seen;
}
const dataRequests = (seen, since) => seen.requests.filter((r) => r.at >= since && r.url.includes('/dashboard/data')).length;
const shot = (page, name, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage });

async function traffic(base, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(base + '/api/expenses', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'browser ' + i, amount_cents: 100 + i }),
    });
    if (r.status === 201) ids.push((await r.json()).id);
    await fetch(base + '/api/expenses/' + (ids[ids.length - 1] || 1));
    if (i % 5 === 0) await fetch(base + '/api/expenses/999999999'); // a 404
  }
  return ids.length;
}
const points = (page, id) => page.$eval('#' + id, (e) => Number(e.dataset.points || 0));
const noOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
const bodyBg = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
function dark(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  return (r + g + b) / 3 < 80;
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const origin = new URL(OPEN).origin;
  const { context } = await launch();
  const page = context.pages()[0] || (await context.newPage());
  const seen = watch(page, origin);

  // Loads with no console error and no request elsewhere.
  const res = await page.goto(OPEN + '/monitoring/dashboard');
  check(res.status() === 200, 'the page answers 200');
  check((res.headers()['content-security-policy'] || '').includes("connect-src 'self'"), 'the page carries its CSP');
  await until('the page goes live', 10000, () => page.$eval('#conn', (e) => e.dataset.state === 'live'));

  // Traffic: the operations and routes show with plausible figures.
  const created = await traffic(OPEN, 40);
  check(created === 40, '40 expenses created');
  await until('create_expense and its route in the table', 10000, async () =>
    (await page.$('#ops tr[data-name="create_expense"]')) && (await page.$('#ops tr[data-name="POST /api/expenses"]')));
  const cells = () => page.$$eval('#ops tr[data-name="create_expense"] td', (tds) => tds.map((t) => t.textContent));
  await until('the count of create_expense reaches 40', 10000, async () => (await cells())[7] === '40');
  const row = await cells();
  log('create_expense row: ' + row.join(' | '));
  check(/\/s$/.test(row[2]) && parseFloat(row[2]) > 0, 'the rate is positive, in /s');
  check(/(ms|µs|s)$/.test(row[5]), 'p95 carries its unit');
  const before = await points(page, 'c-rate');
  await traffic(OPEN, 10);
  await until('the rate chart gains points', 15000, async () => (await points(page, 'c-rate')) > before);
  await until('the latency chart has points', 15000, async () => (await points(page, 'c-lat')) > 0);
  await until('the memory chart has points', 15000, async () => (await points(page, 'c-mem')) > 1);
  await shot(page, 'dashboard-light-1280');

  // Sorting the table by name.
  await page.click('#ops th[data-key="name"]');
  const names = await page.$$eval('#ops tbody tr', (trs) => trs.map((t) => t.dataset.name));
  check(names.join() === names.slice().sort((a, b) => a.localeCompare(b)).join(), 'sorting by name orders the rows');

  // The database goes away: its check turns red within the refresh time, then back.
  await ask('cut');
  await until('the database check turns unhealthy', 15000, () =>
    page.$eval('.check[data-name="database"]', (e) => e.dataset.status === 'unhealthy'));
  const error = await page.$eval('.check[data-name="database"]', (e) => e.textContent);
  check(/unhealthy/i.test(error), 'the check shows its status: ' + error);
  check(await page.$eval('#overall', (e) => e.dataset.status === 'unhealthy'), 'the overall status is unhealthy');
  for (let i = 0; i < 5; i++) await fetch(OPEN + '/api/expenses/1');
  await until('get_expense shows its failures as a recent error rate', 6000, async () => {
    const cells = await page.$$eval('#ops tr[data-name="get_expense"] td', (tds) => tds.map((t) => t.textContent));
    return cells.length && /%$/.test(cells[3]) && parseFloat(cells[3]) > 0 && cells[3];
  });
  await shot(page, 'dashboard-database-down');
  await ask('restore');
  await until('the database check turns healthy again', 20000, () =>
    page.$eval('.check[data-name="database"]', (e) => e.dataset.status === 'healthy'));

  // A reload keeps the history.
  const kept = await points(page, 'c-rate');
  await page.reload();
  await until('after a reload the history is back', 10000, async () => (await points(page, 'c-rate')) >= kept && kept > 1);

  // A hidden tab stops polling. Headless chromium keeps every tab visible, so the
  // page's visibility is overridden and the event sent, as the browser would.
  await until('polling runs while visible', 6000, async () => dataRequests(seen, Date.now() - 4500) >= 1);
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await sleep(500);
  const hiddenAt = Date.now();
  await sleep(6500);
  check(dataRequests(seen, hiddenAt) === 0, 'no poll in 6.5 s while hidden');
  check(await page.$eval('#conn', (e) => e.dataset.state === 'paused'), 'the page says it is paused');
  const shownAt = Date.now();
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until('polling resumes when shown', 3000, async () => dataRequests(seen, shownAt) >= 1);

  // Light and dark schemes, 375 px and 1920 px, without horizontal overflow.
  await traffic(OPEN, 5);
  await sleep(2500);
  await page.emulateMedia({ colorScheme: 'light' });
  check(!dark(await bodyBg(page)), 'light scheme: light background');
  await page.emulateMedia({ colorScheme: 'dark' });
  check(dark(await bodyBg(page)), 'dark scheme: dark background');
  await shot(page, 'dashboard-dark-1280');
  for (const [w, scheme] of [[375, 'light'], [375, 'dark'], [1920, 'light']]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width: w, height: 900 });
    await sleep(400);
    check(await noOverflow(page), `${w} px ${scheme}: no horizontal overflow`);
    await shot(page, `dashboard-${scheme}-${w}`);
  }

  // The server goes away: "disconnected", backoff, recovery.
  await ask('stop');
  await until('the page says disconnected', 10000, () =>
    page.$eval('#conn', (e) => e.dataset.state === 'down' && /disconnected/.test(e.textContent)));
  await shot(page, 'dashboard-disconnected', false);
  const downAt = Date.now();
  await sleep(6000);
  const retries = dataRequests(seen, downAt);
  check(retries >= 1 && retries <= 2, `retries back off (${retries} in 6 s, where a 2 s poll would make 3)`);
  await ask('start');
  await until('the page recovers', 40000, () => page.$eval('#conn', (e) => e.dataset.state === 'live'));

  check(seen.foreign.length === 0, 'no request left the origin: ' + seen.foreign.join(', '));
  // The server going away on purpose logs failed fetches; nothing else may.
  const errors = seen.errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(e));
  check(errors.length === 0, 'no console error: ' + errors.join(' | '));
  log(`${seen.requests.length} requests, all to ${origin}`);
  await context.close();

  // Behind the token: 401 and nothing of the data without it; the page with it.
  const guardedOrigin = new URL(GUARDED).origin;
  const anon = await launch();
  const p2 = anon.context.pages()[0] || (await anon.context.newPage());
  for (const p of ['/monitoring/dashboard', '/monitoring/dashboard/data', '/monitoring/dashboard/app.js']) {
    const r = await anon.context.request.get(GUARDED + p);
    const body = await r.text();
    check(r.status() === 401 && !body.includes('create_expense') && !body.includes('"points"'), `${p} without the token: 401, no data`);
  }
  // Chromium, asked for credentials it does not have, cancels the navigation.
  const refused = await p2.goto(GUARDED + '/monitoring/dashboard').then(
    (r) => r.status() === 401, (e) => /ERR_INVALID_AUTH_CREDENTIALS/.test(String(e)));
  check(refused, 'the browser without the token is refused');
  await p2.waitForLoadState('domcontentloaded').catch(() => {});
  const shown = await p2.content().catch(async () => { await sleep(1000); return p2.content(); });
  check(!shown.includes('create_expense') && !shown.includes('"points"'), 'and shows nothing of the data');
  await anon.context.close();
  const authed = await launch({ httpCredentials: { username: 'me', password: TOKEN, origin: guardedOrigin } });
  const p3 = authed.context.pages()[0] || (await authed.context.newPage());
  const seen3 = watch(p3, guardedOrigin);
  const r3 = await p3.goto(GUARDED + '/monitoring/dashboard');
  check(r3.status() === 200, 'with the token as the password: 200');
  await until('the guarded page goes live', 10000, () => p3.$eval('#conn', (e) => e.dataset.state === 'live'));
  check(seen3.errors.length === 0 && seen3.foreign.length === 0, 'no error and nothing foreign on the guarded page');
  await authed.context.close();
  log(`${checks} checks passed`);
}

main().then(() => process.exit(0), (e) => {
  console.log('# FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
