// How long the worker page waits between claims: whether the coordinator holds
// an empty claim (long poll) or answers at once (then the page polls, less often
// while nothing comes), back-off while it is unreachable, and sleeps that end at
// once when the worker stops.

/** A 204 faster than this means the coordinator has no long poll. */
const LONG_POLL_DETECT_MS = 1000;
/** Short-poll interval bounds when the coordinator answers at once. */
const SHORT_POLL_MIN_MS = 250;
const SHORT_POLL_MAX_MS = 2000;
/** Longest pause between claims of free slots while other slots hold tasks. */
const HOLDING_POLL_MAX_MS = 500;
/** Back-off bounds after a network error or an error answer. */
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15000;

/** The claim rhythm and what it tells of the coordinator. */
export class Pacer {
  /**
   * @param {{log: (text: string, kind?: string) => void, changed: () => void}} events
   */
  constructor(events) {
    this.events = events;
    /** 'unknown', 'long' (the coordinator holds claims) or 'short' (the page polls). */
    this.pollMode = 'unknown';
    this.shortPollMs = SHORT_POLL_MIN_MS;
    this.backoffMs = 0;
    /** 'idle' until the first answer, then 'online' or 'offline'. */
    this.connection = 'idle';
    this.sleepers = new Set();
  }

  /** Sleeps `ms`, ending early on {@link interrupt}. */
  sleep(ms) {
    return new Promise((resolve) => {
      const sleeper = () => {
        clearTimeout(timer);
        this.sleepers.delete(sleeper);
        resolve();
      };
      const timer = setTimeout(sleeper, ms);
      this.sleepers.add(sleeper);
    });
  }

  /** Ends every sleep now (the worker stops). */
  interrupt() {
    this.sleepers.forEach((wake) => wake());
  }

  /** The coordinator answered. */
  online() {
    if (this.connection === 'offline') this.events.log('coordinator reachable again', 'ok');
    this.connection = 'online';
    this.backoffMs = 0;
  }

  /** A claim brought a task: the next empty answer starts polling fast again. */
  gotTask() {
    this.online();
    this.shortPollMs = SHORT_POLL_MIN_MS;
  }

  /**
   * A claim came back empty (204) after `elapsedMs`. An answer held for a while
   * means long poll, and the next claim goes out at once; an answer at once means
   * short polling, and this waits before the next claim, longer each time.
   *
   * @param {number} waitSecs the `wait=` of the claim (0 while other slots hold tasks)
   */
  async nothingYet(waitSecs, elapsedMs) {
    this.online();
    const fast = elapsedMs < LONG_POLL_DETECT_MS;
    const mode = fast ? 'short' : 'long';
    if (waitSecs > 0 && mode !== this.pollMode) {
      this.events.log(mode === 'long' ? 'coordinator holds requests until a task arrives (long poll)' : 'coordinator answers at once: short polling');
      this.pollMode = mode;
    }
    if (!fast) return;
    this.events.changed();
    // While holding tasks (wait=0) free slots keep asking often, like a long poll would.
    await this.sleep(waitSecs > 0 ? this.shortPollMs : Math.min(this.shortPollMs, HOLDING_POLL_MAX_MS));
    this.shortPollMs = Math.min(SHORT_POLL_MAX_MS, Math.round(this.shortPollMs * 1.5));
  }

  /**
   * The coordinator is unreachable or answered an error: waits longer each time in a
   * row (at least what its `Retry-After` asked, within BACKOFF_MAX_MS).
   *
   * @param {string} reason what went wrong, for the log
   * @param {number | null} retryAfterSecs
   */
  async backOff(reason, retryAfterSecs = null) {
    this.backoffMs = this.backoffMs ? Math.min(this.backoffMs * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    if (this.connection !== 'offline') this.events.log(`coordinator unreachable (${reason}); retrying with back-off`, 'warn');
    this.connection = 'offline';
    this.events.changed();
    await this.sleep(Math.max(this.backoffMs, Math.min((retryAfterSecs ?? 0) * 1000, BACKOFF_MAX_MS)));
  }
}
