// The main app (xdana.html, served at /): what happens to a product a person asks for.
//
// Checks the two matrices in the browser (shape, numbers, A's columns = B's rows)
// before anything is sent, submits `{"A":"<Dana text>","B":"<Dana text>"}` with
// `POST task`, follows the task (result-watch.js: long polls on `GET result/N`)
// through pending, processing by which worker (or by parts, for a product the
// coordinator split) to completed or failed, and has the view (main-view.js) show
// it and the product. Computing is left to the workers; HTTP to coordinator-client.js.

import { CoordinatorClient, CoordinatorError } from './coordinator-client.js';
import { MainView } from './main-view.js';
import { randomMatrixText } from './random-matrix.js';
import { watchResult } from './result-watch.js';
import { MatrixTextError, readMatrix } from './task-reader.js';

/** Largest generated dimension (the text of a 512x512 matrix is about 1 MB). */
const MAX_GENERATED = 512;
/** Coordinator statistics refresh. */
const STATS_EVERY_MS = 3000;
/** Redraw of a running task's status line (its elapsed time). */
const STATUS_EVERY_MS = 250;

/** A matrix as compact Dana text. */
function compact(matrix) {
  return `[${matrix.cells.map((row) => `[${row.join(',')}]`).join(',')}]`;
}

/** "rows×cols" of matrix text, or '' when it is not (yet) a matrix. */
function shapeText(text) {
  try {
    const m = readMatrix(text);
    return `${m.rows}×${m.cols}`;
  } catch {
    return '';
  }
}

/** What to tell the person when `POST task` failed: nothing was submitted. */
function submitProblem(err) {
  if (err.unreachable) return `Could not reach the coordinator (${err.message}). Nothing was submitted.`;
  if (err.malformed) return 'The coordinator answered without a task id.';
  if (err.status === 413) return 'The matrices are larger than the coordinator accepts.';
  if (err.status === 503) {
    const when = err.retryAfterSecs ? `in ${err.retryAfterSecs} s` : 'shortly';
    return `The coordinator queue is full; try again ${when}.`;
  }
  return `The coordinator refused the task (${err.message}).`;
}

/** The main app: one task at a time, the latest one submitted. */
class MainApp {
  constructor(client, view) {
    this.client = client;
    this.view = view;
    /** The task shown: {status, lastStep, startedAt, finishedAt, taskId, workerId, attempts, parts}. */
    this.job = null;
    /** Ends the watch of the task shown before. */
    this.watch = null;
  }

  /** Both matrices checked, as task data; null after showing why not. */
  readInput() {
    const read = (field, name) => {
      try {
        return readMatrix(this.view.matrixText(field), name);
      } catch (err) {
        if (!(err instanceof MatrixTextError)) throw err;
        this.view.showInputError(err.message, field);
        return null;
      }
    };
    const a = read('matrix-a', 'Matrix A');
    const b = a && read('matrix-b', 'Matrix B');
    if (!b) return null;
    if (a.cols !== b.rows) {
      this.view.showInputError(
        `Shapes do not fit: A is ${a.rows}×${a.cols} and B is ${b.rows}×${b.cols}; ` +
          `A needs as many columns (${a.cols}) as B has rows (${b.rows}).`,
        'matrix-b',
      );
      return null;
    }
    this.view.showInputError('', null);
    return JSON.stringify({ A: compact(a), B: compact(b) });
  }

  showShape(field) {
    this.view.showShape(field, shapeText(this.view.matrixText(field)));
  }

  generate() {
    const sizes = this.view.readSizes(MAX_GENERATED);
    if (!sizes) {
      this.view.showInputError(`Sizes must be whole numbers from 1 to ${MAX_GENERATED}.`, null);
      return;
    }
    const { m, k, n } = sizes;
    this.view.setMatrices(randomMatrixText(m, k), randomMatrixText(k, n));
    this.view.showInputError('', null);
    this.showShape('matrix-a');
    this.showShape('matrix-b');
  }

  async submit() {
    const data = this.readInput();
    if (!data) return;
    this.watch?.abort();
    const job = { status: 'submitting', lastStep: 'submitted', startedAt: performance.now(), taskId: null };
    this.job = job;
    this.view.taskStarted(job);
    try {
      job.taskId = await this.client.submitTask(data);
    } catch (err) {
      if (!(err instanceof CoordinatorError)) throw err;
      if (this.job === job) {
        this.job = null;
        this.view.taskNotSubmitted(submitProblem(err));
      }
      return;
    } finally {
      this.view.submitSettled();
    }
    if (this.job !== job) return;
    job.status = 'pending';
    job.lastStep = 'pending';
    this.view.taskSubmitted(job);
    this.follow(job);
  }

  /** Shows `job`'s answers until it ends or another task is submitted. */
  async follow(job) {
    const watch = new AbortController();
    this.watch = watch;
    const final = await watchResult(this.client, job.taskId, {
      signal: watch.signal,
      startedAt: job.startedAt,
      onAnswer: (answer) => this.update(job, answer),
      onTrouble: (trouble) => this.trouble(trouble),
    });
    if (!final) return;
    job.finishedAt = performance.now();
    job.status = final.status;
    this.view.renderStatus(job);
    if (final.status === 'completed') {
      const text = typeof final.result === 'string' ? final.result : JSON.stringify(final.result);
      let shape = null;
      try {
        shape = readMatrix(text, 'The product');
      } catch {
        shape = null;
      }
      this.view.showProduct(job, text, shape);
    } else {
      this.view.showFailure(final.error);
    }
    this.refreshStats();
  }

  /** An answer of `GET result/N`: who computes the task, its attempts, its parts. */
  update(job, answer) {
    if (answer.workerId) job.workerId = answer.workerId;
    if (Number.isInteger(answer.attempts)) job.attempts = answer.attempts;
    if (Number.isInteger(answer.partsTotal) && answer.partsTotal > 0) {
      job.parts = { done: Number.isInteger(answer.partsDone) ? answer.partsDone : 0, total: answer.partsTotal };
    }
    if (answer.status === 'pending' || answer.status === 'processing') {
      job.status = answer.status;
      job.lastStep = answer.status;
      this.view.renderStatus(job);
    }
  }

  trouble(trouble) {
    if (trouble === 'unreachable') this.view.showWarning('The coordinator is unreachable; still trying…');
    else if (trouble === 'reachable') this.view.showWarning('');
    else if (trouble === 'unknown') this.view.showWarning('The coordinator does not know this task (was it restarted?). Still checking…');
    else this.view.showWarning(`Checking the task failed (HTTP ${trouble.status}); retrying…`);
  }

  async refreshStats() {
    try {
      this.view.showStats(await this.client.stats());
    } catch (err) {
      if (!(err instanceof CoordinatorError)) throw err;
      this.view.showStatsUnreachable(err.message);
    }
  }

  /** Redraws the status line of a running task (its elapsed time). */
  tick() {
    const { job } = this;
    if (job && (job.status === 'pending' || job.status === 'processing')) this.view.renderStatus(job);
  }
}

function init() {
  const view = new MainView(document);
  const app = new MainApp(new CoordinatorClient(), view);
  view.bind({
    submit: () => app.submit(),
    generate: () => app.generate(),
    edited: (field) => app.showShape(field),
  });
  app.showShape('matrix-a');
  app.showShape('matrix-b');
  setInterval(() => app.tick(), STATUS_EVERY_MS);
  app.refreshStats();
  setInterval(() => app.refreshStats(), STATS_EVERY_MS);
}

init();
