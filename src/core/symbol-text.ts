/**
 * Venue symbols beyond ASCII. Binance lists spot and USD-M symbols named in Chinese (`币安人生USDT`, `龙虾USDT`): their
 * letters have no case, so the upper-case rule of the configuration cannot be asked of them, and the stream name's
 * lower-casing leaves them as they are (`币安人生usdt@depth@100ms`, as Binance names the stream). A letter with case
 * outside ASCII (Ä, Σ, fullwidth Ａ) is not taken: no venue lists one, and how its stream would be spelled is unknown.
 * @module
 */

/**
 * One character outside ASCII that a symbol may hold (regex source, for patterns with the `u` flag): a letter without
 * case (CJK, kana, Hangul, Thai: \p{Lo}; 々 and ー: \p{Lm}), a combining mark (Thai, Devanagari vowels) or a decimal
 * digit. Never a control, a space, a format character (a zero-width joiner, a bidi override), punctuation or a
 * symbol: nothing that changes how a file name, a NATS subject, a URL, a log line or a terminal reads it.
 */
export const SYMBOL_NON_ASCII = String.raw`(?:(?![\x00-\x7f])[\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}])`;

/** Most UTF-8 bytes of a configured symbol without its `@depth`: 64, as many as the ASCII rule's 64 characters. */
export const MAX_SYMBOL_BYTES = 64;

const UTF8 = new TextEncoder();

/** Bytes of `s` in UTF-8 (cold). */
export function utf8Bytes(s: string): number {
  return UTF8.encode(s).length;
}

