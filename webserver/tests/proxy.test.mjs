// The README's nginx server block, run as it is written in front of the real
// coordinator: only the certificate (a self-signed one made here), the port nginx
// listens on, the coordinator's port and the server name are put in. Through it,
// over HTTPS and HTTP/2, headless Chromium runs a worker page (cross-origin
// isolated, as the contract's headers make it) and the main app, which submits a
// body of several megabytes (over nginx's default limit of 1 MB) that is split and
// computed exactly; a long poll is held until its wait is over instead of being cut.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, downloadText, generateOnPage, launchBrowser, nativeProducts, openWorker, startCoordinator, waitFor } from './helpers.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';
/** The main app's generated product: its body is several MB, its product is split. */
const SIZE = 1100;

let coordinator;
let nginx;
let browser;
let work;
let base;
let certificate;

/** The ```nginx block of the README's "Running behind a reverse proxy" section. */
function readmeServerBlock() {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Running behind a reverse proxy\n')[1];
  assert.ok(section, 'the README has a "Running behind a reverse proxy" section');
  const block = section.match(/```nginx\n([\s\S]*?)```/);
  assert.ok(block, 'with an nginx block');
  return block[1];
}

/** A port nothing listens on now. */
async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

/** Resolves once something accepts connections on `port`. */
function accepting(port) {
  return waitFor(
    () =>
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    { timeoutMs: 10000, intervalMs: 50, what: `nginx on port ${port}` },
  );
}

/** `GET path` over HTTPS through nginx, trusting only the test's certificate. */
function httpsGet(pathname) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(new URL(pathname, base), { ca: certificate }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.setTimeout(60000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

before(async () => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: apt-get install -y nginx`);
  coordinator = await startCoordinator('proxy', ['--max-wait-secs', '3']);
  work = mkdtempSync(path.join(tmpdir(), 'xdana-proxy-'));
  for (const dir of ['logs', 'temp']) mkdirSync(path.join(work, dir));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(work, 'key.pem'), '-out', path.join(work, 'cert.pem'),
  ], { stdio: 'ignore' });
  certificate = readFileSync(path.join(work, 'cert.pem'));

  const port = await freePort();
  const block = readmeServerBlock()
    .replace(/listen 443 ssl http2;/, `listen 127.0.0.1:${port} ssl http2;`)
    .replace(/server_name\s+\S+;/, 'server_name localhost;')
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${path.join(work, 'cert.pem')};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${path.join(work, 'key.pem')};`)
    .replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, `proxy_pass http://127.0.0.1:${coordinator.port};`);
  for (const adapted of [
    `listen 127.0.0.1:${port} ssl http2;`,
    'server_name localhost;',
    `ssl_certificate ${path.join(work, 'cert.pem')};`,
    `ssl_certificate_key ${path.join(work, 'key.pem')};`,
    `proxy_pass http://127.0.0.1:${coordinator.port};`,
  ]) {
    assert.ok(block.includes(adapted), `the README's block has a line to become ${adapted}`);
  }
  // nginx's main context, for a test run: one process in the foreground, files here.
  const temp = (name) => `${name} ${path.join(work, 'temp', name.replace(/_path$/, ''))};`;
  writeFileSync(path.join(work, 'nginx.conf'), [
    'daemon off;',
    'master_process off;',
    `pid ${path.join(work, 'nginx.pid')};`,
    `error_log ${path.join(work, 'logs', 'error.log')} warn;`,
    'events {}',
    'http {',
    `  access_log ${path.join(work, 'logs', 'access.log')};`,
    `  ${temp('client_body_temp_path')} ${temp('proxy_temp_path')} ${temp('fastcgi_temp_path')} ${temp('uwsgi_temp_path')} ${temp('scgi_temp_path')}`,
    block,
    '}',
    '',
  ].join('\n'));
  nginx = spawn(NGINX, ['-p', work, '-c', path.join(work, 'nginx.conf'), '-e', path.join(work, 'logs', 'error.log')], { stdio: 'ignore' });
  const exited = once(nginx, 'exit').then(([code]) => {
    throw new Error(`nginx exited (${code}): ${readFileSync(path.join(work, 'logs', 'error.log'), 'utf8')}`);
  });
  await Promise.race([accepting(port), exited]);
  base = `https://127.0.0.1:${port}/`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGTERM');
    await once(nginx, 'exit');
  }
  await coordinator?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('through the README\'s nginx block: the API, its headers, and a long poll held to its end', { timeout: 60000 }, async () => {
  const health = await httpsGet('health');
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok', service: 'coordinator' });
  assert.equal(health.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(health.headers['cross-origin-embedder-policy'], 'require-corp');
  assert.equal(health.headers['access-control-allow-origin'], '*');
  // The coordinator holds an empty claim for its --max-wait-secs (3 s here); the
  // proxy passes the 204 on when it comes.
  const poll = await httpsGet('task/next?workerId=proxy-test&wait=3');
  assert.equal(poll.status, 204);
  assert.ok(poll.ms >= 2900, `the long poll was held ${poll.ms.toFixed(0)} ms`);
});

test('a worker page and the main app work over HTTPS and HTTP/2 through nginx', { timeout: 180000 }, async (t) => {
  const worker = await openWorker(browser, base, null, { slots: 1, contextOptions: { ignoreHTTPSErrors: true } });
  const seen = await worker.page.evaluate(() => ({
    isolated: window.crossOriginIsolated,
    secure: window.isSecureContext,
    protocol: performance.getEntriesByType('navigation')[0]?.nextHopProtocol,
  }));
  assert.deepEqual(seen, { isolated: true, secure: true, protocol: 'h2' });

  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(base, { timeout: 30000 });
  await generateOnPage(page, SIZE, SIZE, SIZE);
  const a = await downloadText(page, '#download-a');
  const b = await downloadText(page, '#download-b');
  const [expected] = await nativeProducts([{ A: a, B: b }]);
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /completed in \d+ parts/.test(document.getElementById('task-status').textContent), null, { timeout: 120000 });
  const note = await page.textContent('#submit-note');
  t.diagnostic(`${note} ${await page.textContent('#task-status')}`);
  const megabytes = Number(note.match(/\(([\d.]+) MB\)/)[1]);
  assert.ok(megabytes > 1, `a body over nginx's default limit of 1 MB: ${note}`);
  assert.ok((await downloadText(page, '#download')) === expected, 'the product equals the native kernel\'s');
  assert.deepEqual(worker.errors, []);
  await context.close();
  await worker.context.close();
});
