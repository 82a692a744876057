// The coordinator's HTTP API as the pages use it, one method a route (coordinator/CONTRACT.md
// and the README's extensions): submitting a task, claiming one (long poll
// `wait=`, a part's place with `describe=1`, the lease token), posting a result
// (`return=minimal`, the lease token), giving a task back (the lease token),
// cancelling one, reading a result (long poll `wait=`, `status=`, `partsDone=`; a
// split task's parts with `parts=1`; the product kept as bytes, and read packed when
// the coordinator answers it so) and the statistics.
//
// Every answer that is not a success, and every request that does not reach the
// coordinator, becomes one error type, CoordinatorError: the HTTP status (0 when
// unreachable), the coordinator's own `{"error":"..."}` text, and `Retry-After`.
// What to do about it (retry, back off, tell the person) is left to the callers.

import { PACKED_TYPE, isPacked, packTask, packedToText } from './packed-product.js';
import { TaskJsonError, leaseTokenOf, operandRefOf, partOf, readReport, taskIdOf } from './task-reader.js';

/** A request the coordinator did not answer with success, or that did not reach it. */
export class CoordinatorError extends Error {
  /**
   * @param {number} status the HTTP status, 0 when the coordinator was not reached
   * @param {string} reason the coordinator's `error` text (or the start of its body), or
   *   what went wrong on the way
   * @param {{retryAfterSecs?: number | null, cause?: unknown}} more
   */
  constructor(status, reason, { retryAfterSecs = null, cause } = {}) {
    super(status === 0 ? reason : `HTTP ${status}${reason ? `: ${reason}` : ''}`, { cause });
    this.name = 'CoordinatorError';
    this.status = status;
    this.reason = reason;
    /** Seconds the coordinator asked to wait before trying again (`Retry-After`), or null. */
    this.retryAfterSecs = retryAfterSecs;
  }

  /** The request did not reach the coordinator, or its answer did not arrive. */
  get unreachable() {
    return this.status === 0;
  }

  /** A success status whose answer is not what the contract says. */
  get malformed() {
    return this.status >= 200 && this.status < 300;
  }
}

/** Longest `error` text kept from an answer. */
const REASON_CHARS = 200;

/** The error of an answer that is not a success, with the coordinator's reason. */
async function answerError(response) {
  const text = await response.text().catch(() => '');
  let reason = text.slice(0, REASON_CHARS);
  try {
    const body = JSON.parse(text);
    if (typeof body?.error === 'string') reason = body.error.slice(0, REASON_CHARS);
  } catch {
    // Not JSON: the start of the body says what it can.
  }
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  return new CoordinatorError(response.status, reason, { retryAfterSecs: Number.isFinite(retryAfter) ? retryAfter : null });
}

/** A request that got no (whole) answer. */
const unreachable = (err) => new CoordinatorError(0, err?.message || 'network error', { cause: err });

/** An answer that arrived but cannot be read as the contract says. */
const badAnswer = (response, what) => new CoordinatorError(response.status, `the answer ${what}`);

/**
 * The JSON body of a result as a Blob, which Chromium uploads about 20% faster than
 * the same text as a string (20 MB: ~360 ms against ~450 ms). A product given as
 * UTF-8 bytes goes in as it is, between `{"result":"` and `"}`, when it holds no
 * quote or backslash (the kernel writes only digits, signs, dots, exponents, commas
 * and brackets), so it never becomes a string.
 */
function resultBlob(body) {
  const bytes = body.result;
  if (bytes instanceof Uint8Array) {
    // Native searches: a quote or a backslash would need escaping (the kernel
    // writes no control characters).
    const plain = bytes.indexOf(0x22) < 0 && bytes.indexOf(0x5c) < 0;
    if (plain) return new Blob(['{"result":"', bytes, '"}']);
    return new Blob([JSON.stringify({ result: new TextDecoder().decode(bytes) })]);
  }
  return new Blob([JSON.stringify(body)]);
}

/** `Accept` of a `GET result/N` that takes a completed integer product packed. */
const ACCEPT_PACKED = `${PACKED_TYPE}, application/json`;

/** Whether an answer's body is a packed product. */
function isPackedAnswer(response) {
  return (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase() === PACKED_TYPE;
}

/**
 * The report of a packed `GET result/N` answer: the header `X-Task-Report` (the report
 * without its result) with the product's text as `resultBytes`.
 *
 * @throws {CoordinatorError} a header or body that is not what a packed answer holds
 */
function packedReport(response, bytes) {
  let report;
  try {
    report = JSON.parse(response.headers.get('x-task-report') ?? '');
  } catch {
    throw badAnswer(response, 'is packed without a JSON X-Task-Report header');
  }
  if (report === null || typeof report !== 'object' || Array.isArray(report)) {
    throw badAnswer(response, 'is packed without a JSON X-Task-Report header');
  }
  try {
    return { ...report, resultBytes: packedToText(bytes) };
  } catch (err) {
    throw badAnswer(response, `is not a packed product (${err.message})`);
  }
}

/** The query of `GET result/N`: a long poll for a change from what the caller saw, a split task's parts. */
function resultQuery({ waitSecs = 0, status, partsDone, parts = false }) {
  const query = [];
  if (waitSecs > 0) {
    query.push(`wait=${waitSecs}`);
    if (status) query.push(`status=${encodeURIComponent(status)}`);
    if (Number.isInteger(partsDone)) query.push(`partsDone=${partsDone}`);
  }
  if (parts) query.push('parts=1');
  return query.length ? `?${query.join('&')}` : '';
}

/** The `&leaseToken=T` query parameter of a lease's token, or nothing without one. */
const tokenParam = (leaseToken) => (leaseToken ? `&leaseToken=${encodeURIComponent(leaseToken)}` : '');

/** Talks to one coordinator; holds nothing but where it is. */
/** Bodies larger than this are compressed before they are posted (when the client compresses). */
const COMPRESS_MIN_BYTES = 4096;

/** A Blob compressed with gzip by the browser's CompressionStream. */
function gzipBlob(blob) {
  return new Response(blob.stream().pipeThrough(new CompressionStream('gzip'))).blob();
}

export class CoordinatorClient {
  /**
   * @param {string} base the coordinator's URL ending in `/`, or '' for the page's own
   * @param {{wire?: 'lean' | 'plain', compressUploads?: boolean}} options `lean` (the
   *   default) asks for fewer bytes: a part's B by content address (fetched once, then
   *   from the browser's cache), answers compressed (the browser's own
   *   `Accept-Encoding`), and, with `compressUploads`, bodies posted with
   *   `Content-Encoding: gzip` (off by default: the browser's gzip runs at a few MB/s,
   *   slower than any uplink above about 20 Mbit/s, as the test bed measured), and
   *   integer operands and products posted packed (`packed-product.js`, about 3 bytes
   *   a value against 7 in text, at no cost to compress); `plain` asks for none of it,
   *   as the pages did before
   */
  constructor(base = '', { wire = 'lean', compressUploads = false } = {}) {
    this.base = base;
    this.lean = wire !== 'plain';
    /** Whether bodies go out compressed; off after the coordinator refuses it (415). */
    this.gzipUploads = this.lean && compressUploads && typeof CompressionStream === 'function';
    /** Whether bodies may go out packed; off after the coordinator refuses one (400, 415). */
    this.packedBodies = this.lean;
  }

  /** `fetch` of a path under the base; every failure to get an answer is a CoordinatorError. */
  async request(path, init = {}) {
    try {
      return await fetch(`${this.base}${path}`, init);
    } catch (err) {
      throw unreachable(err);
    }
  }

  /** The answer when it is a success (2xx); its CoordinatorError otherwise. */
  async ok(path, init) {
    const response = await this.request(path, init);
    if (!response.ok) throw await answerError(response);
    return response;
  }

  /** The parsed JSON body of a success, or null for 204 No Content. */
  async json(path, init) {
    const response = await this.ok(path, init);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch (err) {
      throw err instanceof SyntaxError ? badAnswer(response, 'is not JSON') : unreachable(err);
    }
  }

  /**
   * `POST task`: queues task data (uploaded as a Blob).
   *
   * @param {string | Blob} data the task data, normally `{"A":"<Dana text>","B":"<Dana text>"}`
   * @returns {Promise<number>} the task id
   * @throws {CoordinatorError} 400, 413 (too large), 503 (queue full, with `Retry-After`), unreachable
   */
  async submitTask(data) {
    const blob = data instanceof Blob ? data : new Blob([data]);
    let response = null;
    if (this.packedBodies) {
      const packed = packTask(new Uint8Array(await blob.arrayBuffer()));
      if (packed) response = await this.postPacked('task', packed);
    }
    response ??= await this.postJson('task', blob);
    if (!response.ok) throw await answerError(response);
    let body;
    try {
      body = await response.json();
    } catch (err) {
      throw err instanceof SyntaxError ? badAnswer(response, 'is not JSON') : unreachable(err);
    }
    if (!Number.isInteger(body?.taskId)) throw new CoordinatorError(200, 'the answer has no task id');
    return body.taskId;
  }

  /**
   * `POST` of a JSON body, compressed with gzip when this client compresses and the body
   * is not small; a coordinator that refuses compressed bodies (415) gets it again plain,
   * and every body after it plain too.
   *
   * @param {string} path
   * @param {Blob} plain the body
   * @param {{bytes?: number}} [sent] filled with the bytes of the body as sent
   * @returns {Promise<Response>} the answer, whatever its status
   */
  postJson(path, plain, sent = {}) {
    return this.postBody(path, plain, 'application/json', sent);
  }

  /**
   * `POST` of a packed body: the answer, or null when the coordinator refused the packed
   * form (400, 415), after which this client sends nothing packed.
   */
  async postPacked(path, bytes, sent = {}) {
    const response = await this.postBody(path, new Blob([bytes]), PACKED_TYPE, sent);
    if (response.status !== 400 && response.status !== 415) return response;
    this.packedBodies = false;
    return null;
  }

  /** {@link postJson} for a body of media type `type`. */
  async postBody(path, plain, type, sent = {}) {
    if (this.gzipUploads && plain.size >= COMPRESS_MIN_BYTES) {
      const compressed = await gzipBlob(plain);
      sent.bytes = compressed.size;
      const headers = { 'Content-Type': type, 'Content-Encoding': 'gzip' };
      const response = await this.request(path, { method: 'POST', headers, body: compressed });
      if (response.status !== 415) return response;
      this.gzipUploads = false;
    }
    sent.bytes = plain.size;
    return this.request(path, { method: 'POST', headers: { 'Content-Type': type }, body: plain });
  }

  /**
   * `GET task/next?workerId=W&wait=S&token=1[&describe=1]`: claims the next task,
   * waiting up to S seconds for one on a coordinator with the long-poll extension (one
   * without answers at once), with the lease token that proves this page holds it (null
   * from a coordinator without tokens). The answer is kept as bytes: reading it is left
   * to the compute worker, which gets them transferred. With `describe`, a part of a
   * split task says which task it belongs to.
   *
   * @param {string} workerId
   * @param {{waitSecs?: number, signal?: AbortSignal, describe?: boolean}} options
   * @returns {Promise<{taskId: number, leaseToken: string | null, answer: Uint8Array, receiveMs: number,
   *   part: {of: number, number: number, total: number} | null} | null>} the task
   *   (`receiveMs`: time to download its body; `part`: part `number` of `total` of task
   *   `of`), or null when there was none (204)
   * @throws {CoordinatorError} an error answer, an answer without a valid task id, unreachable
   *   (an aborted request too)
   */
  async nextTask(workerId, { waitSecs = 0, signal, describe = false } = {}) {
    const query =
      `workerId=${encodeURIComponent(workerId)}&wait=${waitSecs}&token=1` +
      `${describe ? '&describe=1' : ''}${this.lean ? '&operands=ref' : ''}`;
    const response = await this.ok(`task/next?${query}`, { signal, cache: 'no-store' });
    if (response.status === 204) return null;
    const headersAt = performance.now();
    let answer;
    try {
      answer = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw unreachable(err);
    }
    const receiveMs = performance.now() - headersAt;
    const taskId = taskIdOf(answer);
    if (!Number.isSafeInteger(taskId) || taskId <= 0) throw badAnswer(response, 'has no valid taskId');
    let operandRef = null;
    try {
      operandRef = operandRefOf(answer);
    } catch (err) {
      if (err instanceof TaskJsonError) throw badAnswer(response, err.message);
      throw err;
    }
    return { taskId, leaseToken: leaseTokenOf(answer), answer, receiveMs, operandRef, part: describe ? partOf(answer) : null };
  }

  /**
   * A shared operand by its content address (`GET operand/HASH`): immutable, so the
   * browser's HTTP cache serves it again to every page of this origin.
   *
   * @param {string} address 64 hex digits, from a lease's `"B":{"operand":...}`
   * @returns {Promise<Uint8Array>} the operand's JSON value as submitted
   */
  async operand(address) {
    const response = await this.ok(`operand/${address}`);
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw unreachable(err);
    }
  }

  /**
   * `POST task/N/result?workerId=W&leaseToken=T&return=minimal`: a product, or an error
   * report for data the kernel refuses. `return=minimal`: the (large) result is not
   * echoed.
   *
   * @param {number} taskId
   * @param {{result: Uint8Array | string} | {error: string}} body; a packed product
   *   (`packed-product.js`) goes out as it is, or as its text to a coordinator that
   *   refuses it
   * @param {string} workerId credited with the result (and with its rejection)
   * @param {string | null} [leaseToken] the lease's token, when the claim had one
   * @param {{bytes?: number}} [sent] filled with the bytes of the body as sent (after
   *   compression, when the result went out compressed)
   * @returns {Promise<object | null>} the task's report as the coordinator answered it
   *   (`status` `failed` when the task was cancelled or failed before), null when the
   *   answer is not JSON
   * @throws {CoordinatorError} 422 (the coordinator's check rejected it), 404, 409 (not
   *   this page's lease, or another state that forbids it), 413, 5xx, unreachable
   */
  async postResult(taskId, body, workerId, leaseToken = null, sent = {}) {
    const path = `task/${taskId}/result?workerId=${encodeURIComponent(workerId)}${tokenParam(leaseToken)}&return=minimal`;
    let response = null;
    const packed = body.result instanceof Uint8Array && isPacked(body.result);
    if (packed && this.packedBodies) response = await this.postPacked(path, body.result, sent);
    if (!response) {
      const plain = packed ? { result: packedToText(body.result) } : body;
      response = await this.postJson(path, resultBlob(plain), sent);
    }
    if (!response.ok) throw await answerError(response);
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  /**
   * `POST task/N/cancel`: cancels a task (and the parts of a split task); no worker is
   * handed it any more.
   *
   * @returns {Promise<object>} the task's report, now `failed` with "Task cancelled"
   * @throws {CoordinatorError} 409 (completed already), 404, 405 (a coordinator without
   *   cancel), unreachable
   */
  cancelTask(taskId) {
    return this.json(`task/${taskId}/cancel`, { method: 'POST' });
  }

  /**
   * `POST task/N/release?workerId=W&leaseToken=T`: gives a held task back at once. Sent
   * with `keepalive`, so it outlives a closing page. Never throws: without the extension
   * (404/405) or the coordinator, the task comes back through its lease.
   *
   * @param {number} taskId
   * @param {string} workerId
   * @param {string | null} [leaseToken] the lease's token, when the claim had one
   * @returns {Promise<boolean>} whether the coordinator took it back
   */
  releaseTask(taskId, workerId, leaseToken = null) {
    const path = `task/${taskId}/release?workerId=${encodeURIComponent(workerId)}${tokenParam(leaseToken)}`;
    return this.request(path, { method: 'POST', keepalive: true }).then(
      (response) => response.ok,
      () => false,
    );
  }

  /**
   * `GET result/N`, or with `waitSecs` the long poll `GET result/N?wait=S&status=T&partsDone=D`,
   * answered when the task is no longer in status T with D parts done (what the caller
   * last saw) or after S seconds.
   *
   * @param {number} taskId
   * @param {{waitSecs?: number, status?: string, partsDone?: number, signal?: AbortSignal}} options
   * @returns {Promise<object | null>} `{taskId, status, result, ...}`, or null for 204
   * @throws {CoordinatorError} 404 (unknown or expired), 400, unreachable
   */
  async result(taskId, { waitSecs = 0, status, partsDone, signal } = {}) {
    return this.json(`result/${taskId}${resultQuery({ waitSecs, status, partsDone })}`, { signal, cache: 'no-store' });
  }

  /**
   * `GET result/N` as {@link result} asks it (`parts` adds `parts=1`: a split task's
   * parts, each `{taskId, status, workerId}`), read from bytes: the product stays
   * UTF-8 bytes, `resultBytes`, and never becomes a string.
   *
   * @param {number} taskId
   * @param {{waitSecs?: number, status?: string, partsDone?: number, parts?: boolean,
   *   signal?: AbortSignal}} options
   * @returns {Promise<object | null>} `{taskId, status, resultBytes, ...}`, or null for 204
   * @throws {CoordinatorError} 404 (unknown or expired), 400, unreachable, an answer that
   *   is not a JSON object
   */
  async report(taskId, { waitSecs = 0, status, partsDone, parts = false, signal } = {}) {
    const query = resultQuery({ waitSecs, status, partsDone, parts });
    // A completed integer product may come packed (about 40% of its text's bytes).
    const headers = this.lean ? { Accept: ACCEPT_PACKED } : {};
    const response = await this.ok(`result/${taskId}${query}`, { signal, cache: 'no-store', headers });
    if (response.status === 204) return null;
    let bytes;
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw unreachable(err);
    }
    if (isPackedAnswer(response)) return packedReport(response, bytes);
    try {
      return readReport(bytes);
    } catch (err) {
      if (err instanceof TaskJsonError) throw badAnswer(response, 'is not a JSON object');
      throw err;
    }
  }

  /**
   * `GET stats`: `{totalTasks, completedTasks, activeTasks, queueSize, ...}`, with
   * `workers[]` on a coordinator with that extension.
   *
   * @throws {CoordinatorError}
   */
  stats() {
    return this.json('stats', { cache: 'no-store' });
  }
}
