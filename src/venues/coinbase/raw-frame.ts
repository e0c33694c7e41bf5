/**
 * What a frame's raw text says when it could not be handled (cold: frame faults only, adapter.ts frameLost): the one
 * product its `product_id` fields name, escapes read, and whether it carries a `sequence_num`.
 * @module
 */

/** Every `"product_id": "…"` of a frame, its value as written (escapes and all). */
const PRODUCT_ID = /"product_id"\s*:\s*"((?:[^"\\]|\\.){1,200})"/g;
/** The `sequence_num` key, written plainly or with its `_` escaped. */
const SEQUENCE_KEY = /"sequence(?:_|\\u005[fF])num"/;

/**
 * The one name every `product_id` of `frame` gives, JSON escapes read (`BTC\u002DUSD` is BTC-USD); undefined when it
 * has none; null when it gives two different ones or one whose escapes cannot be read. The frame need not be JSON.
 */
export function productIdOf(frame: string): string | undefined | null {
  let name: string | undefined;
  for (const m of frame.matchAll(PRODUCT_ID)) {
    let id: unknown;
    try {
      id = JSON.parse(`"${m[1]}"`);
    } catch {
      return null;
    }
    if (typeof id !== "string" || (name !== undefined && name !== id)) return null;
    name = id;
  }
  return name;
}

/** Whether `frame` has a `sequence_num` key (its number counts in the socket's sequence, read or not). */
export function carriesSequence(frame: string): boolean {
  return SEQUENCE_KEY.test(frame);
}
