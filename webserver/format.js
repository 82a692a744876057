// How the pages write durations and sizes for people.

/** `ms` as "420 ms", "3.4 s" or "12 s". */
export function formatSecs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

/** `ms` as "420 ms" or "3.40 s" (the main app's task times). */
export function formatElapsed(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A length of text in bytes as "512 bytes", "3.5 KB", "140 KB" or "10.4 MB". */
export function formatSize(bytes) {
  if (bytes < 1024) return `${Math.round(bytes)} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * A task as the worker page names it: "task 7", or for a part of a split task
 * "task 2147483646 (part 2/4 of task 14)".
 *
 * @param {{taskId: number, part?: {of: number, number: number, total: number} | null}} task
 */
export function formatTask({ taskId, part }) {
  return part ? `task ${taskId} (part ${part.number}/${part.total} of task ${part.of})` : `task ${taskId}`;
}
