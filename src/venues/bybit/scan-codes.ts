/**
 * Result codes of the Bybit scanner (scanner.ts, its readers json-cursor.ts and level-reader.ts) and of the JSON path
 * (parse-json.ts): a subscription index ≥ 0, or one of these.
 * @module
 */

/** Not an order-book frame the scanner handles (first key is not `topic`, or not an `orderbook.` topic): use JSON.parse. */
export const SCAN_NOT_BOOK = -1;
/** An order-book frame for a topic that is not in the table (e.g. one just unsubscribed). */
export const SCAN_UNKNOWN_TOPIC = -2;
/** Legal JSON the scanner does not read itself (escapes, duplicate keys, exponent numbers, deep nesting): use the JSON path. */
export const SCAN_FALLBACK = -3;
/** Not valid JSON where the scanner looked. */
export const SCAN_ERR_SYNTAX = -4;
/**
 * A price string that is not an exact decimal at the instrument's price exponent; from the JSON path (which decides a
 * rejected frame's code) only a decimal that does not fit (finer than the tick, or past 2^53): the adapter re-checks
 * the instrument for it.
 */
export const SCAN_ERR_PRICE = -5;
/** A quantity string that is not an exact decimal at the instrument's quantity exponent (from the JSON path: as PRICE). */
export const SCAN_ERR_QTY = -6;
/**
 * ts / cts / u / seq not a non-negative integer below 2^53 (ts × 1000 too), or u below 1 (0, -0): Bybit's u starts at
 * 1, and 0 is how the adapter marks a topic without a sequence (TopicState.lastSeq).
 */
export const SCAN_ERR_NUMBER = -7;
/** `type` is neither "snapshot" nor "delta". */
export const SCAN_ERR_TYPE = -8;
/** A required field (type, data, data.b, data.a, data.u) is missing or has the wrong JSON type. */
export const SCAN_ERR_MISSING = -9;
/** data.s differs from the topic's symbol. */
export const SCAN_ERR_SYMBOL = -10;
/**
 * A level is not exactly [price string, qty string]; from the JSON path, also one whose price or qty is no decimal
 * (`"abc"`, `"-1"`, `"1e3"`, `""`: says nothing of the tick / lot, so no instrument re-check; the scanner says PRICE / QTY).
 */
export const SCAN_ERR_LEVEL = -11;
/**
 * A snapshot with more levels on a side than its topic's depth (`orderbook.50.…` with 51 bids): Bybit deletes only
 * levels it sent, so the extra ones would stay in the book for good.
 */
export const SCAN_ERR_DEPTH = -12;

/** Names by -code, for counters and logs. */
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
  "over_depth",
];
