/**
 * Whether a price or quantity string a venue sent is a decimal at all (core/fixed.ts's syntax: digits with an optional
 * fraction). Cold: asked only once core/fixed.ts refused the string, to tell a misfit (a decimal finer than the tick or
 * lot, or past 2^53 at it: the listing may have changed, so its instruments are re-checked) from a shape error
 * ("abc", "-1", "1e3", "": says nothing of the listing; the book resyncs, the venue is asked nothing).
 * @module
 */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

export function isDecimalText(v: string): boolean {
  return DECIMAL.test(v);
}
