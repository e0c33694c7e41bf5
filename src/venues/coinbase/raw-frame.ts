/**
 * What a frame's raw text says when it could not be handled (cold: frame faults only, adapter.ts frameLost): the one
 * product its `product_id` fields name, escapes read, and whether it carries a `sequence_num`.
 * @module
 */

/**
 * Every `"key": "…"` of a frame whose key could spell `product_id` (its letters, or escapes), key and value as written:
 * the key is then read as JSON reads it, so `"product\u005fid"` counts. Its opening quote is one no backslash escapes,
 * so a key that only ends in one (`"X\"product_id"`) does not. Until 2026-12-07 only a plainly written `"product_id"` was
 * matched: a second product under an escaped key went unseen, the frame taken as naming the first alone
 * (test/venues/coinbase/frame-fault.test.ts). Cold (a faulted frame with escapes): ~0.1 s on a 5 MB snapshot.
 */
const PRODUCT_ID_PAIR = /(?<!(?:^|[^\\])\\(?:\\\\)*)"((?:[productid_]|\\u[0-9a-fA-F]{4}|\\[^u]){1,64})"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
/** The `sequence_num` key, written plainly or with its `_` escaped. */
const SEQUENCE_KEY = /"sequence(?:_|\\u005[fF])num"/;

/**
 * The one name every `product_id` of `frame` gives, JSON escapes read (`BTC\u002DUSD` is BTC-USD); undefined when it
 * has none; null when it gives two different ones or one whose escapes cannot be read. The frame need not be JSON.
 */
export function productIdOf(frame: string): string | undefined | null {
  let name: string | undefined;
  for (const m of frame.matchAll(PRODUCT_ID_PAIR)) {
    let key: unknown;
    let id: unknown;
    try {
      key = m[1]!.includes("\\") ? JSON.parse(`"${m[1]}"`) : m[1];
      if (key !== "product_id") continue;
      id = JSON.parse(`"${m[2]}"`);
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
