/**
 * Helpers for a venue descriptor's `rawTopic` (registry.ts): the book a raw frame names, read from the frame's head
 * by a regular expression, for `feeder export` raw rows (cold: one call per exported frame).
 * @module
 */

/**
 * Reads the first capture group of `re` in a frame's head, or null when the frame has none. Not a /g or /y
 * expression: its exec would start where the previous frame's match ended (lastIndex), missing this frame's field.
 */
export function fieldOf(re: RegExp): (head: string) => string | null {
  if (re.global || re.sticky) throw new Error(`fieldOf: ${re} keeps lastIndex between frames (drop its g or y flag)`);
  return (head) => re.exec(head)?.[1] ?? null;
}

/** A `"topic"` field (Bybit's; also what export reads for a venue it does not know). */
export const TOPIC_FIELD = fieldOf(/"topic"\s*:\s*"([^"\\]{1,200})"/);
