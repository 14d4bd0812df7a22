// What every browser test of paas shares: Debian's Chromium driven headless by playwright-core,
// in a context where the page can reach the server under test and nothing else, with what went
// wrong on the page (console errors, uncaught errors, blocked requests) collected for the test to
// assert on, screenshots written as test artefacts, and one entry point (`main`) that turns a
// script into an exit code under a hard timeout.
//
// A script reads its inputs from the environment (`env('PAAS_URL')`, `env('PAAS_TOKEN')`, ...),
// runs inside `main(async () => { ... })`, throws to fail, and prints to stdout what the Rust
// side should read back. tests/support/browser.rs runs it (`run_script`).
//
// Environment:
//   PAAS_CHROMIUM             the browser (default /usr/bin/chromium; scripts/setup-browser.sh)
//   PAAS_ARTIFACTS            where screenshots go (default target/browser-artifacts/<script>/)
//   PAAS_BROWSER_TIMEOUT_MS   the whole script's deadline (default 120000)
//   PAAS_BROWSER_HEADED=1     show the window (debugging on a desktop)

import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The running script's name without `.mjs` (`playground` for playground.mjs). */
const SCRIPT = path.basename(process.argv[1] ?? 'browser', '.mjs');

/** The browsers `open` launched (closed by `main`) and the page a timeout screenshots. */
const opened = [];
let currentPage = null;
let lastShot = null;

/** A required environment variable, or an error naming it. */
export function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: the browser scripts take their inputs from the environment`);
  }
  return value;
}

/** Throws `message` unless `condition` holds. */
export function assert(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/** Whether `url` (a string or URL) is on `origin`; `data:`, `blob:` and `about:` are the page's own. */
function sameOrigin(url, origin) {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') {
    return true;
  }
  // A websocket to the server (ws://host:port) is on its http origin.
  const scheme = { 'ws:': 'http:', 'wss:': 'https:' }[u.protocol] ?? u.protocol;
  return `${scheme}//${u.host}` === origin;
}

/**
 * Launches Chromium headless and opens a page in a fresh context where every request to an origin
 * other than `base`'s (HTTP and websockets) is aborted and recorded in `blocked`. Console errors
 * and uncaught page errors land in `errors` (also `page.errorsSeen`).
 *
 * Returns `{ browser, context, page, blocked, errors }`.
 */
export async function open({ base, viewport = { width: 1280, height: 900 } } = {}) {
  const origin = new URL(base ?? env('PAAS_URL')).origin;
  const browser = await chromium.launch({
    executablePath: process.env.PAAS_CHROMIUM || '/usr/bin/chromium',
    headless: process.env.PAAS_BROWSER_HEADED !== '1',
    args: [
      '--no-sandbox',
      // Chromium's own traffic (updates, safe browsing, metrics) stays off too.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-domain-reliability',
      '--no-first-run',
    ],
  });
  opened.push(browser);
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  const blocked = [];
  const errors = [];
  await context.route(
    (url) => !sameOrigin(url, origin),
    (route) => {
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  await context.routeWebSocket(
    (url) => !sameOrigin(url, origin),
    (ws) => {
      blocked.push(ws.url());
      return ws.close({ code: 1008, reason: 'blocked by the test' });
    },
  );
  const watch = (page) => {
    page.errorsSeen = errors;
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        errors.push(`console: ${msg.text()}`);
      }
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.stack ?? err.message}`));
    page.on('crash', () => errors.push('page crashed'));
  };
  context.on('page', (page) => {
    watch(page);
    currentPage = page;
  });
  const page = await context.newPage();
  return { browser, context, page, blocked, errors };
}

/** The artefacts dir (created). */
function artifacts() {
  const dir =
    process.env.PAAS_ARTIFACTS || path.join(HERE, '..', '..', 'target', 'browser-artifacts', SCRIPT);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A full-page PNG of `page` as `<artefacts>/<name>.png`; returns its path. */
export async function shot(page, name, { timeout = 30000 } = {}) {
  const file = path.join(artifacts(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout });
  lastShot = file;
  return file;
}

/**
 * Waits until `locator` (its first match) holds `expected` (a substring or a RegExp) in its
 * text, or fails with the text it held.
 */
export async function waitForText(locator, expected, { timeout = 30000 } = {}) {
  try {
    await locator.filter({ hasText: expected }).first().waitFor({ timeout });
  } catch (err) {
    const seen = await locator
      .first()
      .innerText({ timeout: 1000 })
      .catch(() => '(no such element)');
    throw new Error(`waiting for ${expected} in ${locator}: it holds ${JSON.stringify(seen)}`, {
      cause: err,
    });
  }
}

/** Fails if a request tried to leave the server's origin or the page logged an error. */
export function assertClean({ blocked, errors }) {
  assert(blocked.length === 0, `requests to other origins: ${JSON.stringify(blocked)}`);
  assert(errors.length === 0, `errors on the page:\n${errors.join('\n')}`);
}

/** Closes every browser `open` launched (bounded: a hung browser does not hold the exit). */
async function closeAll() {
  const closing = Promise.allSettled(opened.splice(0).map((b) => b.close()));
  await Promise.race([closing, new Promise((r) => setTimeout(r, 10000).unref())]);
}

/**
 * Runs the script `fn` and exits: 0 when it returned, 1 when it threw or outlived
 * PAAS_BROWSER_TIMEOUT_MS (a screenshot of the page is taken either way, named
 * `failure`), printing the error with its stack and the screenshots' names.
 */
export async function main(fn) {
  // A failure screenshot is of the run that failed, never of an earlier one.
  rmSync(path.join(artifacts(), 'failure.png'), { force: true });
  const ms = Number(process.env.PAAS_BROWSER_TIMEOUT_MS || 120000);
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${SCRIPT}: no result within ${ms} ms`)), ms);
  });
  let code = 0;
  try {
    await Promise.race([fn(), deadline]);
  } catch (err) {
    code = 1;
    const before = lastShot;
    let failure = null;
    if (currentPage && !currentPage.isClosed()) {
      failure = await shot(currentPage, 'failure', { timeout: 10000 }).catch(() => null);
    }
    console.error(err && err.stack ? err.stack : String(err));
    if (err && err.cause && err.cause.stack) {
      console.error(`caused by: ${err.cause.stack}`);
    }
    console.error(`last screenshot: ${before ?? '(none)'}`);
    if (failure) {
      console.error(`failure screenshot: ${failure}`);
    }
  } finally {
    clearTimeout(timer);
    await closeAll();
  }
  process.exit(code);
}
