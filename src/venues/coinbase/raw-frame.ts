/**
 * What a frame's raw text says when it could not be handled (cold: frame faults only, adapter.ts frameLost): the one
 * product its `product_id` fields name, escapes read, and whether it carries a `sequence_num`.
 * @module
 */

/**
 * Every `"key": "…"` of a frame, key and value as written (escapes and all): the key is read as JSON reads it, so a
 * `product_id` written with escapes (`"product\u005fid"`) counts, and a key that only ends in one (`"x\"product_id"`)
 * does not. Until s-sr5 only a plainly written `"product_id"` was matched: a second product named under an escaped key
 * went unseen, the frame taken as naming the first alone (test/venues/coinbase/frame-fault.test.ts).
 */
const STRING_PAIR = /"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
/** The `sequence_num` key, written plainly or with its `_` escaped. */
const SEQUENCE_KEY = /"sequence(?:_|\\u005[fF])num"/;

/**
 * The one name every `product_id` of `frame` gives, JSON escapes read (`BTC\u002DUSD` is BTC-USD); undefined when it
 * has none; null when it gives two different ones or one whose escapes cannot be read. The frame need not be JSON.
 */
export function productIdOf(frame: string): string | undefined | null {
  let name: string | undefined;
  for (const m of frame.matchAll(STRING_PAIR)) {
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
