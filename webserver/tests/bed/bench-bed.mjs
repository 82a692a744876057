// The benchmark on the test bed (bed.sh sets the bed up and runs this in the main
// app's client namespace, xbed-client): n x n integer products submitted by the
// client (a Chromium page there, through the pages' own coordinator-client.js, as
// the main app does), computed by headless Chromium worker pages on 1 to 3 worker
// hosts, with
// the wire as the pages used it before ("plain": the coordinator runs with
// --plain-wire, the pages with wire=plain) and with the byte savings ("lean":
// compressed answers and uploads, a split task's B fetched once by its content
// address; "down": the same with uploads left uncompressed; "workers": the same
// with only the worker pages' uploads compressed, the client's not). Every product is
// checked against the native kernel's, exactly.
//
//   bed.sh bench [--profiles home,office,...] [--sizes 512,1024,2048] [--hosts 1,2,3]
//                [--modes plain,lean,down,workers] [--pages 2] [--cap-secs 300] [--check-only]
//
// Each worker host is one Chromium (one browser profile, so one HTTP cache) with
// --pages worker pages of one compute slot each: a two-core volunteer's tabs. The
// coordinator splits each product into one part per page seen (--split-min-flops
// 1e8 splits every size here). Each run has a coordinator of its own and fresh pages
// with an empty browser cache.
//
// Figures of a run:
//   total      the client's POST task sent -> the product read in full
//   upload     the client's POST task round trip (compressing, upload, reading and
//              splitting)
//   parts      worker pages: downloading their parts' data (and B once by address)
//   compute    worker pages: time in the wasm kernel
//   products   worker pages: posting the products (upload + the coordinator's check)
//   check      coordinator: the longest check of one part (verify_ms in its log)
//   product    client: downloading the product once the answer's head arrived (and
//              reading it back into text when it came packed)
// Page figures are the busiest page's sum over its parts (pages work at once).
// Bytes are the switch ports' counters over the run (headers, ACKs and the pages'
// polls included): client up/down, all worker hosts up/down; "wire" is every byte
// through the coordinator's link (the sum of the others).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { ROOT, danaText, nativeProducts, randomIntMatrix, seededRandom, waitFor } from '../helpers.mjs';

const BED = path.join(ROOT, 'webserver', 'tests', 'bed', 'bed.sh');
const COORDINATOR_BIN = process.env.COORDINATOR_BIN || path.join(ROOT, 'target', 'release', 'coordinator');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const COORD_ADDR = '10.231.0.1';
const PORT = 8080;
const BASE = `http://${COORD_ADDR}:${PORT}/`;
/** Round-trip time each profile adds to every request of a worker page (Chromium's emulation). */
const LATENCY_MS = { loopback: 0, datacenter: 0, office: 10, home: 30 };

function args() {
  const argv = process.argv.slice(2);
  const get = (name, fallback) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : fallback;
  };
  const list = (name, fallback) => get(name, fallback).split(',').filter(Boolean);
  return {
    profiles: list('profiles', 'loopback,datacenter,office,home'),
    sizes: list('sizes', '512,1024,2048').map(Number),
    hosts: list('hosts', '1,2,3').map(Number).filter((h) => h >= 1 && h <= 3),
    modes: list('modes', 'plain,lean'),
    pages: Math.max(1, Math.min(4, Number(get('pages', '2')))),
    capSecs: Number(get('cap-secs', '300')),
    checkOnly: argv.includes('--check-only'),
  };
}

const opts = args();
const bed = (...a) => execFileSync(BED, a, { encoding: 'utf8' });
const counters = () => JSON.parse(bed('counters'));
const MB = (bytes) => (bytes / 1e6).toFixed(1);
const ms = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x >= 10000 ? `${(x / 1000).toFixed(1)}s` : `${Math.round(x)}ms`);

/** Starts the coordinator in its namespace; resolves once it listens. */
async function startCoordinator(mode) {
  const flags = ['--bind', COORD_ADDR, '--in-memory', '--static-dir', path.join(ROOT, 'webserver'), '--split-min-flops', '100000000'];
  if (mode === 'plain') flags.push('--plain-wire');
  const child = spawn('ip', ['netns', 'exec', 'xbed-coord', COORDINATOR_BIN, String(PORT), ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info' },
  });
  let output = '';
  const exited = once(child, 'exit');
  const listening = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (output.includes('listening on http://')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(([code]) => reject(new Error(`coordinator exited (${code}):\n${output}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  await listening.finally(() => clearTimeout(timer));
  return {
    output: () => output.replace(/\x1b\[[0-9;]*m/g, ''),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited.catch(() => {});
      clearTimeout(killer);
    },
  };
}

/** One Chromium per host named, each in the host's namespace (through a wrapper). */
async function launchHosts(names, scratch) {
  const hosts = [];
  for (const name of names) {
    const wrapper = path.join(scratch, `chromium-${name}`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec xbed-${name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const context = await chromium.launchPersistentContext(path.join(scratch, `profile-${name}`), {
      executablePath: wrapper,
      headless: true,
      timeout: 60000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
        '--disable-component-update', '--disable-sync', '--disk-cache-size=536870912'],
    });
    hosts.push({ name, context });
  }
  return hosts;
}

/** Opens the worker pages of `hosts`, each with the profile's added latency. */
async function openPages(hosts, profile, mode) {
  const pages = [];
  for (const host of hosts) {
    for (let p = 1; p <= opts.pages; p += 1) {
      const page = await host.context.newPage();
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      if (p === 1) await cdp.send('Network.clearBrowserCache');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: LATENCY_MS[profile],
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      const wire = { plain: '&wire=plain', lean: '&upload=gzip', workers: '&upload=gzip' }[mode] ?? '';
      await page.goto(`${BASE}worker.html?start=1&slots=1&workerId=${host.name}-p${p}${wire}`, { timeout: 60000 });
      pages.push({ host: host.name, page });
    }
  }
  return pages;
}

async function stats() {
  const res = await fetch(`${BASE}stats`, { headers: { 'accept-encoding': 'identity' } });
  return res.json();
}

/** Median time of a small request from a page: shows the emulated latency at work. */
async function pageRoundTripMs(page) {
  return page.evaluate(async () => {
    const times = [];
    for (let i = 0; i < 5; i += 1) {
      const t = performance.now();
      await (await fetch('health', { cache: 'no-store' })).text();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[2];
  });
}

async function pageTimings(pages) {
  const rows = [];
  for (const [i, p] of pages.entries()) {
    const logged = await p.page.$$eval('#log li[data-kernel-ms]', (lis) => lis.map((li) => ({ ...li.dataset })));
    for (const r of logged) {
      rows.push({ page: i, kernel: Number(r.kernelMs), receive: Number(r.receiveMs), deliver: Number(r.deliverMs) });
    }
  }
  return rows;
}

/** The longest check of a part, from the coordinator's "task completed" lines. */
function longestCheckMs(output) {
  const checks = output
    .split('\n')
    .filter((l) => /task completed task=\d+ /.test(l) && /\bverify_ms=/.test(l))
    .map((l) => Number(l.match(/\bverify_ms=([0-9.]+)/)[1]));
  return checks.length ? Math.max(...checks) : null;
}

/**
 * The main app's side of one product, in a page of the client host: submits `data`
 * through coordinator-client.js (gzip-compressed unless `plain`), long-polls the
 * result and reads the product. Times in milliseconds; the product as text.
 */
async function clientRun(page, data, mode, capSecs) {
  return page.evaluate(
    async ({ data, mode, capSecs }) => {
      const { CoordinatorClient } = await import('/coordinator-client.js');
      const { PACKED_TYPE, packedToText } = await import('/packed-product.js');
      const client = new CoordinatorClient('', { wire: mode === 'plain' ? 'plain' : 'lean', compressUploads: mode === 'lean' });
      const blob = new Blob([data]);
      const started = performance.now();
      const taskId = await client.submitTask(blob);
      const uploadMs = performance.now() - started;
      // As the client's report() asks: a completed product packed, except plain.
      const headers = mode === 'plain' ? {} : { Accept: `${PACKED_TYPE}, application/json` };
      for (;;) {
        if (performance.now() - started > capSecs * 1000) return { error: `no product within ${capSecs} s` };
        const res = await fetch(`result/${taskId}?wait=10`, { cache: 'no-store', headers });
        const headAt = performance.now();
        const packed = res.headers.get('content-type') === PACKED_TYPE;
        // The product's text: read packed, or the JSON answer's text (parsed below).
        const text = packed ? new TextDecoder().decode(packedToText(new Uint8Array(await res.arrayBuffer()))) : await res.text();
        const productMs = performance.now() - headAt;
        const report = packed ? { ...JSON.parse(res.headers.get('x-task-report')), result: text } : JSON.parse(text);
        if (report.status === 'completed' || report.status === 'failed') {
          const totalMs = performance.now() - started;
          return { taskId, uploadMs, productMs, totalMs, status: report.status, error: report.error, parts: report.partsTotal ?? 1, result: report.result };
        }
      }
    },
    { data, mode, capSecs },
  );
}

async function runOnce({ profile, n, hosts, mode, data, expected, browsers, client }) {
  const coordinator = await startCoordinator(mode);
  let pages = [];
  let clientPage = null;
  try {
    clientPage = await client.context.newPage();
    await clientPage.goto(`${BASE}health`, { timeout: 60000 });
    pages = await openPages(browsers.slice(0, hosts), profile, mode);
    const workers = hosts * opts.pages;
    await waitFor(async () => (await stats()).workersSeen >= workers, { timeoutMs: 60000, what: 'the worker pages to be seen' });
    const rttMs = await pageRoundTripMs(pages[0].page);
    const before = counters();
    const run = await clientRun(clientPage, data, mode, opts.capSecs);
    const after = counters();
    if (run.error || run.status !== 'completed') throw new Error(`task failed: ${run.error}`);
    const { uploadMs, productMs, totalMs, parts } = run;
    const exact = run.result === expected;
    const timings = await waitFor(
      async () => {
        const t = await pageTimings(pages);
        return t.length >= parts ? t : null;
      },
      { timeoutMs: 20000, what: 'the pages to log every part' },
    );
    if (process.env.BED_VERBOSE) {
      for (const p of pages) {
        const lines = await p.page.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
        console.log(`${p.host}: ${lines.join(' | ')}`);
      }
    }
    const busiest = (key) => Math.max(...pages.map((_, i) => timings.filter((x) => x.page === i).reduce((s, x) => s + x[key], 0)));
    const delta = (host, way) => after[host][way] - before[host][way];
    const workerHosts = ['w1', 'w2', 'w3'];
    return {
      profile, n, hosts, mode, parts, exact, rttMs, totalMs, uploadMs, productMs,
      partsMs: busiest('receive'),
      computeMs: busiest('kernel'),
      productsMs: busiest('deliver'),
      checkMs: longestCheckMs(coordinator.output()),
      clientUp: delta('client', 'sent'),
      clientDown: delta('client', 'received'),
      workersUp: workerHosts.reduce((s, h) => s + delta(h, 'sent'), 0),
      workersDown: workerHosts.reduce((s, h) => s + delta(h, 'received'), 0),
      wire: delta('coord', 'sent') + delta('coord', 'received'),
      byPage: pages.map((_, i) => timings.filter((x) => x.page === i).length),
    };
  } finally {
    for (const p of pages) await p.page.close().catch(() => {});
    await clientPage?.close().catch(() => {});
    await coordinator.stop();
  }
}

function printTable(rows) {
  const header = ['profile', 'n', 'hosts', 'wire', 'parts', 'total', 'upload', 'parts↓', 'compute', 'products↑', 'check', 'product↓',
    'client↑MB', 'client↓MB', 'workers↑MB', 'workers↓MB', 'wire MB', 'rtt'];
  const table = rows.map((r) => [r.profile, r.n, r.hosts, r.mode, r.parts, ms(r.totalMs), ms(r.uploadMs), ms(r.partsMs), ms(r.computeMs),
    ms(r.productsMs), ms(r.checkMs), ms(r.productMs), MB(r.clientUp), MB(r.clientDown), MB(r.workersUp), MB(r.workersDown), MB(r.wire), ms(r.rttMs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
  console.log(line(header));
  for (const row of table) console.log(line(row));
}

/** The targets, from the rows of this run that measure them, for each wire mode. */
function printTargets(rows) {
  const find = (profile, n, hosts, mode) => rows.find((r) => r.profile === profile && r.n === n && r.hosts === hosts && r.mode === mode);
  const say = (text, ok) => console.log(`${ok === null ? '  n/a ' : ok ? '  met ' : '  MISSED'}  ${text}`);
  const saving = opts.modes.filter((m) => m !== 'plain');
  for (const profile of opts.profiles) {
    for (const n of opts.sizes) {
      const plain = find(profile, n, 2, 'plain');
      for (const mode of saving) {
        const run = find(profile, n, 2, mode);
        if (!plain || !run) continue;
        const ratio = run.wire / plain.wire;
        say(`${profile}, n = ${n}, 2 hosts: ${mode} wire bytes ${MB(run.wire)} MB = ${(100 * ratio).toFixed(1)}% of plain ${MB(plain.wire)} MB (target <= 35% at n = 2048)`, n === 2048 ? ratio <= 0.35 : null);
      }
    }
  }
  const n = Math.max(...opts.sizes);
  for (const mode of opts.modes) {
    const one = find('home', n, 1, mode);
    const two = find('home', n, 2, mode);
    const plain2 = find('home', n, 2, 'plain');
    if (one && two) say(`home, n = ${n}, ${mode}: 2 hosts ${(one.totalMs / two.totalMs).toFixed(2)}x faster than 1 (target >= 1.5x)`, one.totalMs / two.totalMs >= 1.5);
    if (mode !== 'plain' && plain2 && two) say(`home, n = ${n}, 2 hosts: ${mode} ${(plain2.totalMs / two.totalMs).toFixed(2)}x faster than plain (target >= 2x)`, plain2.totalMs / two.totalMs >= 2);
    const office2 = find('office', n, 2, mode);
    const loop2 = find('loopback', n, 2, mode);
    if (office2 && loop2) say(`office, n = ${n}, 2 hosts, ${mode}: ${(office2.totalMs / loop2.totalMs).toFixed(2)}x the loopback time in the same mode (target <= 1.5x)`, office2.totalMs / loop2.totalMs <= 1.5);
  }
}

const scratch = mkdtempSync(path.join(tmpdir(), 'xbed-'));
const rows = [];
let failed = false;
const load = loadavg()[0];
const browsers = await launchHosts(['w1', 'w2', 'w3'].slice(0, Math.max(...opts.hosts)), scratch);
const [client] = await launchHosts(['client'], scratch);
try {
  for (const profile of opts.profiles) {
    bed('shape', profile);
    for (const n of opts.sizes) {
      const rand = seededRandom(n);
      const data = JSON.stringify({ A: danaText(randomIntMatrix(rand, n, n, -99, 99)), B: danaText(randomIntMatrix(rand, n, n, -99, 99)) });
      const [expected] = await nativeProducts([data]);
      for (const hosts of opts.hosts) {
        for (const mode of opts.modes) {
          const row = await runOnce({ profile, n, hosts, mode, data, expected, browsers, client });
          rows.push(row);
          if (!row.exact) failed = true;
          console.log(`${profile} n=${n} hosts=${hosts} ${mode}: ${ms(row.totalMs)}, ${MB(row.wire)} MB on the wire, ` +
            `parts per page ${row.byPage.join('/')}, product ${row.exact ? 'exact' : 'DIFFERS from the native kernel'}`);
        }
      }
    }
  }
} finally {
  for (const host of [...browsers, client]) await host.context.close().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
}

console.log('');
console.log(`${opts.pages} worker page(s) of one slot per host; 1-minute load average ${load.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
printTable(rows);
if (!opts.checkOnly) printTargets(rows);
console.log(`${rows.filter((r) => r.exact).length} passed, ${rows.filter((r) => !r.exact).length} failed`);
process.exit(failed ? 1 : 0);
