// How the pages write durations and sizes for people.

/** `ms` as "420 ms", "3.4 s" or "12 s". */
export function formatSecs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

/** `ms` as "420 ms" or "3.40 s" (the main app's task times). */
export function formatElapsed(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A length of text as "512 bytes", "3.5 KB" or "140 KB". */
export function formatSize(chars) {
  if (chars < 1024) return `${chars} bytes`;
  return `${(chars / 1024).toFixed(chars < 10240 ? 1 : 0)} KB`;
}
