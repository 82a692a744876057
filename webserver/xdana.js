// The main app (xdana.html, served at /): what happens to a product a person asks for.
//
// Checks the two matrices in the browser (shape, numbers, A's columns = B's rows)
// before anything is sent, submits `{"A":"<Dana text>","B":"<Dana text>"}` with
// `POST task` (a Blob built from the matrices' Blobs: matrices of tens of megabytes
// never become one string), follows the task (result-watch.js: long polls on `GET result/N`) through
// pending, processing by which worker (or by parts, each with its worker, for a
// product the coordinator split) to completed, failed or cancelled (`POST
// task/N/cancel`), and has the view (main-view.js) show it and the product. Random
// matrices up to MAX_GENERATED a side are made off the page thread
// (generate-worker.js). Computing is left to the workers; HTTP to
// coordinator-client.js.

import { CoordinatorClient, CoordinatorError } from './coordinator-client.js';
import { formatElapsed, formatSize } from './format.js';
import { MainView } from './main-view.js';
import { Generator, MAX_GENERATED } from './matrix-generator.js';
import { watchResult } from './result-watch.js';
import { MatrixTextError, readMatrix } from './task-reader.js';

/** Coordinator statistics refresh. */
const STATS_EVERY_MS = 3000;
/** Redraw of a running task's status line (its elapsed time). */
const STATUS_EVERY_MS = 250;
/** The error of a task its client cancelled, as the coordinator writes it. */
const CANCELLED = 'Task cancelled';

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
function submitProblem(err, bytes) {
  if (err.unreachable) return `Could not reach the coordinator (${err.message}). Nothing was submitted.`;
  if (err.malformed) return 'The coordinator answered without a task id.';
  if (err.status === 413) {
    return `The matrices (${formatSize(bytes)} of text) are larger than the coordinator accepts ` +
      '(its --max-body-bytes, 64 MiB unless set).';
  }
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
    this.generator = new Generator();
    /**
     * The task shown: {status, lastStep, startedAt, finishedAt, taskId, bytes, workerId,
     * attempts, parts, partList, cancelled, cancelling}.
     */
    this.job = null;
    /** Ends the watch of the task shown before. */
    this.watch = null;
    /** Generated matrices standing in for a field's text: {blob, size, rows, cols}, by field. */
    this.generated = {};
  }

  /** One operand as a Blob and its shape, from its generated matrix or its checked text; null after showing why not. */
  readOperand(field, name) {
    const generated = this.generated[field];
    if (generated) return generated;
    try {
      const matrix = readMatrix(this.view.matrixText(field), name);
      return { blob: new Blob([compact(matrix)]), rows: matrix.rows, cols: matrix.cols };
    } catch (err) {
      if (!(err instanceof MatrixTextError)) throw err;
      this.view.showInputError(err.message, field);
      return null;
    }
  }

  /** Both matrices checked, as the task's body; null after showing why not. */
  readInput() {
    const a = this.readOperand('matrix-a', 'Matrix A');
    const b = a && this.readOperand('matrix-b', 'Matrix B');
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
    // The body's pieces side by side: the matrices are not copied into a string.
    const body = new Blob(['{"A":"', a.blob, '","B":"', b.blob, '"}'], { type: 'application/json' });
    return { body, bytes: body.size };
  }

  showShape(field) {
    if (this.generated[field]) return;
    this.view.showShape(field, shapeText(this.view.matrixText(field)));
  }

  /** The person typed into a matrix field: a generated matrix there is replaced. */
  typed(field) {
    if (!this.generated[field]) return;
    delete this.generated[field];
    this.view.clearGenerated(field);
  }

  /** Makes random matrices of the sizes asked, off the page thread, into (or in place of) the text fields. */
  async generate() {
    const sizes = this.view.readSizes(MAX_GENERATED);
    if (!sizes) {
      this.view.showInputError(`Sizes must be whole numbers from 1 to ${MAX_GENERATED}.`, null);
      return;
    }
    const { m, k, n } = sizes;
    this.view.showInputError('', null);
    this.view.showGenerating(true, `Generating ${m}×${k} and ${k}×${n}…`);
    let made;
    try {
      made = await this.generator.generate(m, k, n);
    } catch (err) {
      this.view.showGenerating(false, '');
      this.view.showInputError(`The matrices could not be generated: ${err.message}`, null);
      return;
    }
    const operands = { 'matrix-a': { ...made.a, rows: m, cols: k }, 'matrix-b': { ...made.b, rows: k, cols: n } };
    for (const [field, matrix] of Object.entries(operands)) {
      if (matrix.text !== null) {
        delete this.generated[field];
        this.view.clearGenerated(field);
        this.view.setMatrix(field, matrix.text);
        this.showShape(field);
      } else {
        this.generated[field] = matrix;
        this.view.showGenerated(field, matrix);
      }
    }
    const size = formatSize(made.a.size + made.b.size);
    this.view.showGenerating(false, `Generated ${size} of text in ${formatElapsed(made.ms)}.`);
  }

  /** Sends the checked matrices as a new task and follows it. */
  async submit() {
    const input = this.readInput();
    if (!input) return;
    this.watch?.abort();
    const job = { status: 'submitting', lastStep: 'submitted', startedAt: performance.now(), taskId: null, bytes: input.bytes };
    this.job = job;
    this.view.taskStarted(job);
    try {
      job.taskId = await this.client.submitTask(input.body);
    } catch (err) {
      if (!(err instanceof CoordinatorError)) throw err;
      if (this.job === job) {
        this.job = null;
        this.view.taskNotSubmitted(submitProblem(err, input.bytes));
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

  /** Cancels the task shown; the watch then sees it failed with "Task cancelled". */
  async cancel() {
    const { job } = this;
    if (!job?.taskId || job.cancelling || (job.status !== 'pending' && job.status !== 'processing')) return;
    job.cancelling = true;
    this.view.renderStatus(job);
    try {
      await this.client.cancelTask(job.taskId);
    } catch (err) {
      if (!(err instanceof CoordinatorError)) throw err;
      job.cancelling = false;
      if (this.job !== job) return;
      this.view.renderStatus(job);
      if (err.status === 409) this.view.showWarning('The task was completed before it could be cancelled.');
      else this.view.showWarning(`The task could not be cancelled (${err.message}).`);
    }
  }

  /** Shows `job`'s answers until it ends or another task is submitted. */
  async follow(job) {
    const watch = new AbortController();
    this.watch = watch;
    const final = await watchResult(this.client, job.taskId, {
      signal: watch.signal,
      startedAt: job.startedAt,
      parts: true,
      onAnswer: (answer) => this.update(job, answer),
      onTrouble: (trouble) => this.trouble(trouble),
    });
    if (!final) return;
    job.finishedAt = performance.now();
    job.status = final.status;
    job.cancelled = final.status === 'failed' && final.error === CANCELLED;
    job.cancelling = false;
    this.view.renderStatus(job);
    if (final.status === 'completed') {
      this.view.showProduct(job, final.resultBytes ?? new Uint8Array());
    } else if (job.cancelled) {
      this.view.showCancelled(job);
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
    if (Array.isArray(answer.parts)) job.partList = answer.parts;
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
    cancel: () => app.cancel(),
    typed: (field) => app.typed(field),
    edited: (field) => app.showShape(field),
  });
  app.showShape('matrix-a');
  app.showShape('matrix-b');
  setInterval(() => app.tick(), STATUS_EVERY_MS);
  app.refreshStats();
  setInterval(() => app.refreshStats(), STATS_EVERY_MS);
}

init();
