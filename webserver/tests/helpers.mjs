// Shared helpers of the browser end-to-end tests: start the real coordinator on a
// free port, launch Debian's headless Chromium through playwright-core, run the
// native kernel example as the reference, small HTTP and waiting helpers.
//
// Every wait is bounded; everything started here is stopped by the caller's `after`.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** Repository root (webserver/tests/../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where screenshots of the pages are written (override with SCREENSHOT_DIR). */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || path.join(ROOT, 'target', 'screenshots');

/** Where the coordinator's output of each test file is kept (override with E2E_LOG_DIR). */
export const LOG_DIR = process.env.E2E_LOG_DIR || path.join(ROOT, 'target', 'e2e-logs');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const COORDINATOR_BIN = process.env.COORDINATOR_BIN || path.join(ROOT, 'target', 'release', 'coordinator');
const MULTIPLY_BIN = process.env.MULTIPLY_BIN || path.join(ROOT, 'target', 'release', 'examples', 'multiply');

/** Chromium flags: no sandbox (root in CI), no GPU, no traffic of its own. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Runs `fn` until it returns a truthy value, at most `timeoutMs`.
 *
 * @template T
 * @param {() => Promise<T> | T} fn
 * @param {{timeoutMs?: number, intervalMs?: number, what?: string}} options
 * @returns {Promise<T>}
 */
export async function waitFor(fn, { timeoutMs = 30000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves once at least `count` long polls for tasks are open at the coordinator
 * (`coordinator_long_polls_open{long_poll="task"}` in `GET metrics`): that many worker
 * pages are waiting, so a task submitted now is offered to each of them, not only to
 * a page that happened to ask first (a page in the background, or just reloaded, asks
 * late).
 *
 * @param {string} url the coordinator's base URL
 * @param {number} count long polls to wait for
 */
export async function waitForTaskPolls(url, count) {
  await waitFor(
    async () => {
      const text = await (await fetch(new URL('metrics', url))).text();
      const line = text.split('\n').find((l) => l.startsWith('coordinator_long_polls_open{long_poll="task"}'));
      return line && Number(line.split(' ').pop()) >= count;
    },
    { timeoutMs: 30000, intervalMs: 50, what: `${count} open long polls for tasks` },
  );
}

/**
 * Starts the release coordinator binary on a free port (`0`) from the repository
 * root and resolves once it logs `listening on http://ADDR:PORT`.
 *
 * @param {string} name label for the log file
 * @param {string[]} extraArgs flags after the port, e.g. `['--lease-secs', '2']`
 * @param {{port?: number}} options a fixed port instead of a free one (to restart on it)
 * @returns {Promise<{url: string, port: number, stop: () => Promise<void>, kill: () => Promise<void>, output: () => string}>}
 */
export async function startCoordinator(name, extraArgs = [], { port: fixedPort = 0 } = {}) {
  if (!existsSync(COORDINATOR_BIN)) {
    throw new Error(`${COORDINATOR_BIN} is missing: run cargo build --release -p coordinator`);
  }
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = createWriteStream(path.join(LOG_DIR, `${name}.log`), { flags: 'a' });
  const args = [String(fixedPort), '--bind', '127.0.0.1', '--static-dir', path.join(ROOT, 'webserver'),
    ...(extraArgs.includes('--data-dir') ? [] : ['--in-memory']), ...extraArgs];
  const child = spawn(COORDINATOR_BIN, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  let output = '';
  const exited = once(child, 'exit');
  const port = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      logFile.write(text);
      // Strip ANSI colours before matching.
      const match = output.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on http:\/\/(?:\[[^\]]+\]|[^\s:/]+):(\d+)/);
      if (match) resolve(Number(match[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    exited.then(([code]) => reject(new Error(`coordinator exited early (code ${code}):\n${output}`)));
  });
  const timer = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`coordinator did not report its port within 20 s:\n${output}`)), 20000).unref(),
  );
  let portNumber;
  try {
    portNumber = await Promise.race([port, timer]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const end = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited.catch(() => {});
      clearTimeout(killer);
    }
    logFile.end();
  };
  return {
    url: `http://127.0.0.1:${portNumber}/`,
    port: portNumber,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    output: () => output,
  };
}

/** Launches headless Chromium (Debian's package) through playwright-core. */
export function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/**
 * Products computed by the native kernel (`kernel` example `multiply`): one line per
 * task, the product text or `error: <message>`.
 *
 * @param {({A: unknown, B: unknown} | string)[]} tasks task data, or its raw JSON text
 * @returns {Promise<string[]>}
 */
export async function nativeProducts(tasks) {
  if (!existsSync(MULTIPLY_BIN)) {
    throw new Error(`${MULTIPLY_BIN} is missing: run cargo build --release -p kernel --example multiply`);
  }
  const child = spawn(MULTIPLY_BIN, [], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    err += c;
  });
  const exited = once(child, 'exit');
  child.stdin.end(tasks.map((t) => (typeof t === 'string' ? t : JSON.stringify({ A: t.A, B: t.B }))).join('\n') + '\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const [code] = await exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`native multiply exited with ${code}: ${err}`);
  const lines = out.split('\n').filter((line) => line.length > 0);
  if (lines.length !== tasks.length) {
    throw new Error(`native multiply printed ${lines.length} lines for ${tasks.length} tasks: ${err}`);
  }
  return lines;
}

/** `POST task` with a JSON body; resolves with the task id. */
export async function submitTask(base, data) {
  const res = await fetch(new URL('task', base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof data === 'string' ? data : JSON.stringify(data),
    signal: AbortSignal.timeout(30000),
  });
  if (res.status !== 200) throw new Error(`POST task answered ${res.status}: ${await res.text()}`);
  const body = await res.json();
  return body.taskId;
}

/** `GET result/N` as parsed JSON (status 200 expected); `waitSecs` > 0 long-polls for a change. */
export async function getResult(base, taskId, { waitSecs = 0 } = {}) {
  const query = waitSecs > 0 ? `?wait=${waitSecs}` : '';
  const res = await fetch(new URL(`result/${taskId}${query}`, base), { signal: AbortSignal.timeout(10000 + waitSecs * 1000) });
  if (res.status !== 200) throw new Error(`GET result/${taskId} answered ${res.status}`);
  return res.json();
}

/** `GET stats` as parsed JSON. */
export async function getStats(base) {
  const res = await fetch(new URL('stats', base), { signal: AbortSignal.timeout(10000) });
  if (res.status !== 200) throw new Error(`GET stats answered ${res.status}`);
  return res.json();
}

/** Waits until task `taskId` is completed or failed; resolves with its result JSON. */
export function waitForFinished(base, taskId, timeoutMs = 60000) {
  return waitFor(
    async () => {
      const r = await getResult(base, taskId);
      return r.status === 'completed' || r.status === 'failed' ? r : null;
    },
    { timeoutMs, intervalMs: 100, what: `task ${taskId} to finish` },
  );
}

/**
 * Opens worker.html in its own browser context (own storage, own renderer process),
 * or as another tab of `context` when given, and waits until its kernel is loaded
 * and it is waiting for tasks (or, with `start: false`, stopped with its slots
 * ready). A null `workerId` leaves the id to the page (its tab's own).
 *
 * @returns {Promise<{context: import('playwright-core').BrowserContext, page: import('playwright-core').Page, errors: string[]}>}
 */
export async function openWorker(browser, base, workerId, { slots = 1, viewport, start = true, context: shared = null, contextOptions = {} } = {}) {
  const context = shared ?? (await browser.newContext({ ...(viewport ? { viewport } : {}), ...contextOptions }));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  const id = workerId === null ? '' : `workerId=${encodeURIComponent(workerId)}&`;
  const url = new URL(`worker.html?${id}slots=${slots}${start ? '&start=1' : ''}`, base);
  await page.goto(url.href, { timeout: 30000 });
  await page.waitForFunction(
    (status) =>
      document.getElementById('status')?.textContent === status &&
      [...document.querySelectorAll('#slot-rows td:nth-child(2)')].every((td) => td.textContent === 'idle'),
    start ? 'waiting for tasks' : 'stopped',
    { timeout: 30000 },
  );
  return { context, page, errors };
}

/**
 * On the main app: fills in the generator's sizes (A is m x k, B is k x n), clicks
 * Generate and waits until the page says the matrices are made (off its thread).
 */
export async function generateOnPage(page, m, k, n) {
  await page.fill('#rows-a', String(m));
  await page.fill('#inner', String(k));
  await page.fill('#cols-b', String(n));
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => /^Generated /.test(document.getElementById('generate-note').textContent), null, {
    timeout: 120000,
  });
}

/** Clicks the download link `selector` of `page`; resolves with the file's text. */
export async function downloadText(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click(selector)]);
  return readFile(await file.path(), 'utf8');
}

/** Writes a full-page screenshot to SCREENSHOT_DIR/name.png; returns its path. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 20000 });
  return file;
}

/** Deterministic pseudo-random numbers (mulberry32), so failures can be replayed. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rows x cols array of integers in [lo, hi] drawn from `rand`. */
export function randomIntMatrix(rand, rows, cols, lo = -50, hi = 50) {
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => lo + Math.floor(rand() * (hi - lo + 1))),
  );
}

/** Dana text of a matrix given as an array of rows. */
export function danaText(matrix) {
  return `[${matrix.map((row) => `[${row.join(',')}]`).join(',')}]`;
}

/**
 * A Chromium of its own whose pages run `rate` times slower than they would:
 * its renderer processes (the pages, and the Web Workers that compute for
 * them) are stopped (SIGSTOP) for `1 - 1/rate` of every 40 ms and run the
 * rest (SIGCONT). Chromium's own CPU throttling (DevTools
 * `Emulation.setCPUThrottlingRate`) is applied to its pages too
 * ({@link throttlePage}), but it slows only a page's main thread: a
 * dedicated worker, where the wasm kernel runs, refuses it ("only supported
 * for pages, not workers"). Linux only (reads /proc).
 *
 * @param {number} rate slow-down factor (4: a quarter of the CPU time)
 * @returns {Promise<{browser: import('playwright-core').Browser, close: () => Promise<void>}>}
 */
export async function launchSlowBrowser(rate) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const server = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
  const browser = await chromium.connect(server.wsEndpoint(), { timeout: 30000 });
  const root = server.process().pid;
  const periodMs = 40;
  const runMs = periodMs / rate;
  let stopped = [];
  let closing = false;
  let pids = [];
  let cycles = 0;
  const signal = (pids, sig) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // the process ended
      }
    }
  };
  const cycle = async () => {
    while (!closing) {
      // Renderers come and go with pages: look for them every second.
      if (cycles % 25 === 0) pids = rendererPids(root);
      cycles += 1;
      stopped = pids;
      signal(stopped, 'SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, periodMs - runMs));
      signal(stopped, 'SIGCONT');
      stopped = [];
      await new Promise((resolve) => setTimeout(resolve, runMs));
    }
  };
  const running = cycle();
  return {
    browser,
    close: async () => {
      closing = true;
      await running;
      signal(stopped, 'SIGCONT');
      await browser.close().catch(() => {});
      await server.close().catch(() => {});
    },
  };
}

/** The renderer processes under process `root` (its descendants started with `--type=renderer`). */
function rendererPids(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // the process ended
    }
  }
  const found = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    for (const child of children.get(pid) ?? []) {
      stack.push(child);
      try {
        if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('--type=renderer')) found.push(child);
      } catch {
        // the process ended
      }
    }
  }
  return found;
}

/** Chromium's own CPU throttling of `page`'s main thread (DevTools `Emulation.setCPUThrottlingRate`). */
export async function throttlePage(page, rate) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  return cdp;
}
