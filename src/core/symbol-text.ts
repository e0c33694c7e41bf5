/**
 * Venue symbols beyond ASCII. Binance lists spot and USD-M symbols named in Chinese (`币安人生USDT`, `龙虾USDT`): their
 * letters have no case, so the upper-case rule of the configuration cannot be asked of them, and the stream name's
 * lower-casing leaves them as they are (`币安人生usdt@depth@100ms`, as Binance names the stream). A letter with case
 * outside ASCII (Ä, Σ, fullwidth Ａ) is not taken: no venue lists one, and how its stream would be spelled is unknown.
 * @module
 */

/**
 * One character outside ASCII that a symbol may hold (regex source, for patterns with the `u` flag): a letter without
 * case (CJK, kana, Hangul, Thai: \p{Lo}; 々 and ー: \p{Lm}) or a combining mark (Thai, Devanagari vowels) after such a
 * letter. Never a control, a space, a format character (a zero-width joiner, a bidi override), punctuation or a
 * symbol: nothing that changes how a file name, a NATS subject, a URL, a log line or a terminal reads it. Nor, since
 * 2026-12-06, what made a symbol look like another one (two books that read the same in `listen`, logs and subjects):
 * a character drawn as nothing (\p{Default_Ignorable_Code_Point}: the Hangul filler U+3164, a variation selector, the
 * combining grapheme joiner, all taken as letters or marks before), a digit beyond ASCII (𝟏000PEPEUSDT, ١, fullwidth
 * １: no venue lists one), a letter of the Latin or Common script (ǀ U+01C0 reads as I, ː U+02D0 as a colon, the
 * Arabic tatweel ـ as nothing; ー U+30FC stays), an Inherited-script mark (U+0301, U+0338 over a letter) or a mark
 * not after a letter beyond ASCII (it would sit on a Latin letter or on what precedes the symbol). Compatibility
 * forms (halfwidth ｱ beside ア) are refused by the loader's NFKC rule.
 */
export const SYMBOL_NON_ASCII = String.raw`(?:(?![\x00-\x7f])(?!\p{Default_Ignorable_Code_Point})(?!(?!\u30fc)[\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}])(?:[\p{Lo}\p{Lm}]|(?<=[^\x00-\x7f])[\p{Mn}\p{Mc}]))`;

/** Most UTF-8 bytes of a configured symbol without its `@depth`: 64, as many as the ASCII rule's 64 characters. */
export const MAX_SYMBOL_BYTES = 64;

/**
 * Longest symbol, tick or lot string an InstrumentDefinition holds (its length is a u8 of bytes, wire-protocol §4.6).
 * The encoder refuses a longer one (RangeError) rather than cut it; makeInstrument and the configuration refuse it first,
 * naming the symbol: a venue's 300-character tick size ("0.1000…") passed every other check and threw in register.
 */
export const MAX_DEF_STRING_BYTES = 255;

/**
 * Smallest publish.max_datagram_bytes: the longest InstrumentDefinition (8-byte message header, 16-byte root block,
 * three strings of MAX_DEF_STRING_BYTES, padded to 8: 792 bytes) fits one datagram with its 48-byte packet header and
 * the 16-byte HMAC trailer: 856. A definition is the one message the wire cannot split; with less room a venue's long
 * strings made the publisher throw at registration and on every refresh after it. Here, not in wire/layout.ts (which
 * re-exports it, checked against its sizes in test/wire/codec.test.ts), because the configuration checks it.
 */
export const MIN_PUBLISH_DATAGRAM_BYTES = 48 + ((8 + 16 + 3 * MAX_DEF_STRING_BYTES + 7) & ~7) + 16;

const UTF8 = new TextEncoder();

/** Bytes of `s` in UTF-8 (cold). */
export function utf8Bytes(s: string): number {
  return UTF8.encode(s).length;
}

