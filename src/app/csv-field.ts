/**
 * One CSV field for `feeder export` (raw frames and `--books`), per RFC 4180.
 * @module
 */

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
