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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const keyDecoder = new TextDecoder();

function skipSpaceBytes(bytes, i) {
  while (i < bytes.length) {
    const c = bytes[i];
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i += 1;
  }
  return i;
}

/** Index just past the string opening at `i`, or -1 when it has escapes or no end. */
function plainStringEnd(bytes, i) {
  const close = bytes.indexOf(QUOTE, i + 1);
  if (close < 0 || bytes.subarray(i + 1, close).includes(BACKSLASH)) return -1;
  return close + 1;
}

/** Index just past the array opening at `i` (no strings inside), or -1. */
function plainArrayEnd(bytes, i) {
  let depth = 0;
  for (let j = i; j < bytes.length; j += 1) {
    const c = bytes[j];
    if (c === OPEN_BRACKET) depth += 1;
    else if (c === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return j + 1;
    } else if (c === QUOTE || c === OPEN_BRACE) return -1;
  }
  return -1;
}

/**
 * The fields of the JSON object opening at `i` as byte ranges of their values,
 * for objects whose values are plain strings, numbers, literals, arrays without
 * strings, or (for `nested`) such an object; null for anything else.
 */
function plainFields(bytes, i, nested) {
  const fields = new Map();
  if (bytes[i] !== OPEN_BRACE) return null;
  i = skipSpaceBytes(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return { fields, end: i + 1 };
  for (;;) {
    if (bytes[i] !== QUOTE) return null;
    const keyEnd = plainStringEnd(bytes, i);
    if (keyEnd < 0) return null;
    const key = keyDecoder.decode(bytes.subarray(i + 1, keyEnd - 1));
    i = skipSpaceBytes(bytes, keyEnd);
    if (bytes[i] !== COLON) return null;
    i = skipSpaceBytes(bytes, i + 1);
    let end;
    const first = bytes[i];
    if (first === QUOTE) end = plainStringEnd(bytes, i);
    else if (first === OPEN_BRACKET) end = plainArrayEnd(bytes, i);
    else if (first === OPEN_BRACE) {
      const inner = nested ? plainFields(bytes, i, false) : null;
      if (!inner) return null;
      fields.set(key, { start: i, end: inner.end, fields: inner.fields });
      end = inner.end;
    } else {
      end = i;
      while (end < bytes.length && ![COMMA, CLOSE_BRACE, 32, 9, 10, 13].includes(bytes[end])) end += 1;
      if (end === i) end = -1;
    }
    if (end < 0) return null;
    if (!fields.has(key)) fields.set(key, { start: i, end });
    i = skipSpaceBytes(bytes, end);
    if (bytes[i] === COMMA) {
      i = skipSpaceBytes(bytes, i + 1);
    } else if (bytes[i] === CLOSE_BRACE) {
      return { fields, end: i + 1 };
    } else {
      return null;
    }
  }
}

/**
 * The two operands of a `GET task/next` answer as views into its UTF-8 bytes, for the
 * usual form `{"taskId":N,"data":{"A":"<Dana text>","B":...}}` (each operand a string
 * without escapes, or a JSON array), so that megabytes of matrix text reach the kernel
 * without being decoded and encoded again. Null for any other form: the caller then
 * decodes the text and uses {@link taskOperands}, which reads every form.
 *
 * @param {Uint8Array} bytes the answer body
 * @returns {{a: Uint8Array, b: Uint8Array} | null}
 */
export function operandBytes(bytes) {
  const top = plainFields(bytes, skipSpaceBytes(bytes, 0), true);
  const data = top?.fields.get('data')?.fields;
  if (!data) return null;
  const operand = (name) => {
    const field = data.get(name) ?? data.get(name.toLowerCase());
    if (!field) return null;
    if (bytes[field.start] === QUOTE) return bytes.subarray(field.start + 1, field.end - 1);
    if (bytes[field.start] === OPEN_BRACKET) return bytes.subarray(field.start, field.end);
    return null;
  };
  const a = operand('A');
  const b = operand('B');
  return a && b ? { a, b } : null;
}

/**
 * The task id of a `GET task/next` answer given as UTF-8 bytes (cheap: decodes only
 * the start when the id comes first, as the coordinator writes it).
 *
 * @param {Uint8Array} bytes the answer body
 * @returns {number} the id, or NaN when there is none
 */
export function taskIdOfBytes(bytes) {
  const id = taskIdOf(keyDecoder.decode(bytes.subarray(0, 64)));
  return Number.isNaN(id) ? taskIdOf(keyDecoder.decode(bytes)) : id;
}
