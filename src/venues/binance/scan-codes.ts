/**
 * Result codes of the Binance scanner (scanner.ts, its readers json-cursor.ts and level-reader.ts) and of the JSON
 * path (parse-json.ts): an index ≥ 0, or one of these.
 * @module
 */

/** Not a diff frame the scanner handles (first key is not `stream`, or not a `@depth` stream): use JSON.parse. */
export const SCAN_NOT_BOOK = -1;
/** A `@depth` stream that is not in the table (e.g. one just unsubscribed). */
export const SCAN_UNKNOWN_TOPIC = -2;
/** Legal JSON the scanner does not read itself: use the JSON path. */
export const SCAN_FALLBACK = -3;
export const SCAN_ERR_SYNTAX = -4;
/** A price (QTY: a quantity) that is no decimal or does not fit the tick / step; from the JSON path (which decides) only a decimal that does not fit. */
export const SCAN_ERR_PRICE = -5;
export const SCAN_ERR_QTY = -6;
/** E / T / U / u / pu not a non-negative integer below 2^53 (E, T × 1000 too). */
export const SCAN_ERR_NUMBER = -7;
/** `e` is not "depthUpdate". */
export const SCAN_ERR_TYPE = -8;
/** A required field (data, e, U, u, b, a; pu on USD-M, checked in connection.ts) is missing or has the wrong JSON type. */
export const SCAN_ERR_MISSING = -9;
/** data.s differs from the stream's symbol. */
export const SCAN_ERR_SYMBOL = -10;
/**
 * A level is not exactly [price string, qty string]; on the JSON path (which decides), also one whose price or qty is
 * no decimal (`"abc"`: says nothing of the tick / step, so no exchangeInfo reload; the scanner says SCAN_ERR_PRICE / QTY).
 */
export const SCAN_ERR_LEVEL = -11;
/** The diff's first id `U` is above its last `u`: no range Binance sends, on either market (diffFirstAfterLast). */
export const SCAN_ERR_FIRST_AFTER_LAST = -12;

/**
 * The one rule of both readers (the scanner's and the JSON path's), spot and USD-M alike: a diff spans `U` to `u`, so
 * `U` > `u` is malformed. Until s-venuesmall no reader refused it: USD-M chains by `pu` alone, so such a diff was
 * applied; spot's `U = previous u + 1` took it for a repeat (dropped) or a break.
 */
export function diffFirstAfterLast(first: number, last: number): boolean {
  return first > last;
}

export const SCAN_RESULT_NAMES: readonly string[] = [
  "ok",
  "not_book",
  "unknown_topic",
  "fallback",
  "syntax",
  "bad_price",
  "bad_qty",
  "bad_number",
  "bad_type",
  "missing_field",
  "symbol_mismatch",
  "bad_level",
  "first_after_last",
];
