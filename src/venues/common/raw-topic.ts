/**
 * Helpers for a venue descriptor's `rawTopic` (registry.ts): the book a raw frame names, read from the frame's head
 * by a regular expression, for `feeder export` raw rows (cold: one call per exported frame).
 * @module
 */

/** Reads the first capture group of `re` in a frame's head, or null when the frame has none. */
export function fieldOf(re: RegExp): (head: string) => string | null {
  return (head) => re.exec(head)?.[1] ?? null;
}

/** A `"topic"` field (Bybit's; also what export reads for a venue it does not know). */
export const TOPIC_FIELD = fieldOf(/"topic"\s*:\s*"([^"\\]{1,200})"/);
