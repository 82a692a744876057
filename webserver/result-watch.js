// Follows one task of the main app until it is completed or failed: asks
// `GET result/N` once, then long-polls for a change from what it last saw
// (`wait=S&status=T&partsDone=D`), so that every answer is news: leased, a part
// done, completed, failed. A coordinator that answers at once is asked on a
// schedule instead (fast at first, slower for long-running tasks). Answers are read
// as reports whose product stays bytes (a product of tens of megabytes is never one
// string). What the answers mean to the person is left to the caller (xdana.js).

import { CoordinatorError } from './coordinator-client.js';

/**
 * Result polling without long poll: every `fastMs` for the first `fastForMs` of a
 * task, then every `slowMs`.
 */
const POLLING = { fastMs: 100, fastForMs: 3000, slowMs: 1000 };
/**
 * Seconds the coordinator may hold a result request until the task is no longer as
 * last seen. An answer that took longer than RESULT_HELD_MS was held, and the next
 * request goes out at once.
 */
const RESULT_WAIT_SECS = 20;
const RESULT_HELD_MS = 50;
/** 404 answers in a row after which the task counts as unknown to the coordinator. */
const UNKNOWN_AFTER = 20;

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * Watches task `taskId` until it ends.
 *
 * @param {import('./coordinator-client.js').CoordinatorClient} client
 * @param {number} taskId
 * @param {{signal: AbortSignal, startedAt: number, parts?: boolean, onAnswer: (answer: object) => void,
 *   onTrouble: (trouble: 'unreachable' | 'reachable' | 'unknown' | CoordinatorError) => void}} options
 *   `startedAt` (performance.now()) sets the polling schedule; `parts` asks for a split
 *   task's parts; `onAnswer` gets every `GET result/N` answer as a report (the client's
 *   `report()`: the product as `resultBytes`), the last one included; `onTrouble` hears that the coordinator
 *   became unreachable or reachable again, that it has not known the task for a while
 *   (Dana clients treat 404 and 204 as "not ready yet", so this is only said), or of
 *   another error answer. Every trouble is retried.
 * @returns {Promise<object | null>} the last answer (completed or failed), null when aborted
 */
export async function watchResult(client, taskId, { signal, startedAt, parts = false, onAnswer, onTrouble }) {
  let offline = false;
  let misses = 0;
  let held = false;
  /** The status and parts done of the last answer: the next request waits for a change. */
  let seen = null;
  while (!signal.aborted) {
    const waited = performance.now() - startedAt;
    if (!held) await pause(waited < POLLING.fastForMs ? POLLING.fastMs : POLLING.slowMs, signal);
    held = false;
    if (signal.aborted) break;
    const asked = performance.now();
    let answer = null;
    let error = null;
    try {
      answer = await client.report(taskId, seen ? { ...seen, waitSecs: RESULT_WAIT_SECS, parts, signal } : { parts, signal });
    } catch (err) {
      if (signal.aborted) break;
      if (!(err instanceof CoordinatorError)) throw err;
      if (err.unreachable) {
        if (!offline) onTrouble('unreachable');
        offline = true;
        continue;
      }
      error = err;
    }
    if (offline) onTrouble('reachable');
    offline = false;
    if (error ? error.status === 404 : answer === null) {
      // 404 or 204: not there (yet).
      misses += 1;
      if (error && misses === UNKNOWN_AFTER) onTrouble('unknown');
      continue;
    }
    if (error) {
      onTrouble(error);
      continue;
    }
    held = performance.now() - asked >= RESULT_HELD_MS;
    misses = 0;
    const split = Number.isInteger(answer.partsTotal) && answer.partsTotal > 0;
    seen = { status: answer.status, partsDone: split ? (Number.isInteger(answer.partsDone) ? answer.partsDone : 0) : undefined };
    onAnswer(answer);
    if (answer.status === 'completed' || answer.status === 'failed') return answer;
  }
  return null;
}
