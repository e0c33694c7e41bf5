/**
 * The simulators' control surfaces (Bybit, Coinbase, Deribit) read an integer parameter one way.
 * @module
 */

/**
 * A control's integer parameter `v` (a JSON body's number, or a query string's text) when it is an integer in
 * min..max, else the refusal's text naming what was given (the control answers 400 naming the field). Empty or
 * blank text is no number (Number() would read it as 0).
 */
export function controlInt(v: unknown, min: number, max: number): number | string {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`;
}
