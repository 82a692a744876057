// Reads the coordinator's task JSON without turning numbers into JavaScript numbers.
//
// `JSON.parse` rounds integers beyond 2^53, so a matrix sent as JSON arrays of 64-bit
// integers would be multiplied wrongly. These helpers only find where each field's
// value starts and ends, so the raw text of a matrix reaches the wasm kernel untouched
// (the kernel checks it fully). Strings are decoded with `JSON.parse`, which is exact.

/** Thrown when task JSON does not have the expected shape. */
export class TaskJsonError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TaskJsonError';
  }
}

function skipSpace(text, i) {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i += 1;
  }
  return i;
}

/** Brackets and quotes: the only characters that matter when skipping a value. */
const STRUCTURAL = /[[\]{}"]/g;

/**
 * Index just past the JSON value that starts at `i`. Jumps between quotes and
 * brackets with native searches, so megabytes of matrix text are skipped quickly.
 */
function valueEnd(text, i) {
  const first = text[i];
  if (first === '"') {
    let from = i + 1;
    for (;;) {
      const quote = text.indexOf('"', from);
      if (quote < 0) throw new TaskJsonError('unterminated string');
      let slashes = 0;
      while (text.charCodeAt(quote - 1 - slashes) === 92) slashes += 1; // '\\'
      if (slashes % 2 === 0) return quote + 1;
      from = quote + 1;
    }
  }
  if (first === '{' || first === '[') {
    let depth = 0;
    STRUCTURAL.lastIndex = i;
    for (;;) {
      const match = STRUCTURAL.exec(text);
      if (match === null) throw new TaskJsonError('unbalanced brackets');
      const c = match[0];
      if (c === '"') {
        // Brackets inside a string do not count.
        STRUCTURAL.lastIndex = valueEnd(text, match.index);
      } else if (c === '{' || c === '[') {
        depth += 1;
      } else {
        depth -= 1;
        if (depth === 0) return match.index + 1;
      }
    }
  }
  let j = i;
  while (j < text.length && !',}] \t\n\r'.includes(text[j])) j += 1;
  if (j === i) throw new TaskJsonError(`unexpected "${text[i] ?? 'end of text'}"`);
  return j;
}

/**
 * The fields of a JSON object as raw value texts.
 *
 * @param {string} text a JSON object, e.g. `{"taskId":3,"data":{"A":[[1]],"B":"[[2]]"}}`
 * @returns {Map<string, string>} field name -> the value exactly as written
 * @throws {TaskJsonError} when `text` is not a JSON object
 */
export function rawFields(text) {
  const fields = new Map();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw new TaskJsonError('expected a JSON object');
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return fields;
  for (;;) {
    if (text[i] !== '"') throw new TaskJsonError('expected a field name');
    const keyEnd = valueEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd));
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw new TaskJsonError(`expected ":" after "${key}"`);
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    fields.set(key, text.slice(i, end));
    i = skipSpace(text, end);
    if (text[i] === ',') {
      i = skipSpace(text, i + 1);
    } else if (text[i] === '}') {
      return fields;
    } else {
      throw new TaskJsonError('expected "," or "}"');
    }
  }
}

/**
 * The task id of a `GET task/next` answer (cheap: looks at the start first).
 *
 * @param {string} text the answer body
 * @returns {number} the id, or NaN when there is none
 */
export function taskIdOf(text) {
  const head = /^\s*\{\s*"taskId"\s*:\s*(\d+)\s*[,}]/.exec(text.slice(0, 64));
  if (head) return Number(head[1]);
  try {
    return Number(rawFields(text).get('taskId'));
  } catch {
    return Number.NaN;
  }
}

/**
 * The two operands of a task as matrix text for the kernel: Dana strings decoded,
 * JSON arrays passed on as written.
 *
 * @param {string} data raw JSON of the task's `data` field
 * @returns {{a: string, b: string}}
 * @throws {TaskJsonError} when the data has no matrices A and B
 */
export function taskOperands(data) {
  let text = data.trim();
  if (text.startsWith('"')) {
    // The body was not JSON when submitted; it may still hold the object as text.
    text = String(JSON.parse(text)).trim();
  }
  if (!text.startsWith('{')) throw new TaskJsonError('task data is not an object with matrices "A" and "B"');
  const fields = rawFields(text);
  const operand = (name) => {
    const raw = fields.get(name) ?? fields.get(name.toLowerCase());
    if (raw === undefined) throw new TaskJsonError(`task data lacks matrix "${name}"`);
    if (raw.startsWith('"')) return JSON.parse(raw);
    if (raw.startsWith('[')) return raw;
    throw new TaskJsonError(`matrix "${name}" is neither Dana text nor a JSON array`);
  };
  return { a: operand('A'), b: operand('B') };
}
