/**
 * The `skippedBy` count of replay and export: frames no configured venue and market takes, by "venue/market" as
 * recorded. A real capture names a few dozen; a crafted one can name a new pair in every record (millions), each a
 * key held to the end and printed in the summary: past SKIPPED_BY_MAX_KEYS pairs the rest are counted together.
 * @module
 */
export const SKIPPED_BY_MAX_KEYS = 1000;
/** The key the frames of pairs past the first SKIPPED_BY_MAX_KEYS are counted under. */
export const SKIPPED_BY_OTHERS = "(others)";

/**
 * The pairs each count names so far, kept aside: Object.keys on every frame of a new pair went through all 1,000 keys
 * once full (27 µs a frame: minutes a block for a crafted capture naming a new pair in every record).
 */
const pairsNamed = new WeakMap<Record<string, number>, number>();

export function countSkipped(by: Record<string, number>, venue: string, market: string): void {
  let key = `${venue}/${market}`;
  if (by[key] === undefined) {
    const named = pairsNamed.get(by) ?? Object.keys(by).length;
    if (named >= SKIPPED_BY_MAX_KEYS) key = SKIPPED_BY_OTHERS;
    else pairsNamed.set(by, named + 1);
  }
  by[key] = (by[key] ?? 0) + 1;
}
