/**
 * Text from outside (a datagram's symbol, a server's error text) made safe for a terminal: its control characters
 * (C0, DEL, C1) are what an ESC or CSI sequence is made of (a retitled window, a cleared screen) and what forges a
 * line; the line and paragraph separators (U+2028, U+2029) end a line for many readers (Python's splitlines, editors)
 * though JSON leaves them as they are; and format characters (\p{Cf}: a bidi override U+202E that shows the rest of
 * the line reversed, a zero-width joiner that hides between letters) make a text read as another. Letters beyond
 * ASCII (币安人生USDT), µ or → are kept. Cold, but cheap when there is none (one test of a precompiled pattern, no
 * allocation).
 * @module
 */

/** C0 controls, DEL, the C1 controls (U+0080–U+009F: a UTF-8 terminal takes U+009B as CSI), separators and format characters. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/u;
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/gu;
/** What JSON.stringify leaves as it is of those: it escapes C0 itself. */
const JSON_RAW_CONTROL = /[\x7f-\x9f\u2028\u2029\p{Cf}]/u;
const JSON_RAW_CONTROLS = /[\x7f-\x9f\u2028\u2029\p{Cf}]/gu;

const hex2 = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, "0");

/** \xNN up to U+00FF, \u{N} beyond. */
const shownChar = (c: string): string => {
  const n = c.codePointAt(0)!;
  return n <= 0xff ? `\\x${hex2(c)}` : `\\u{${n.toString(16)}}`;
};

/** `s` with each control, separator or format character shown as \xNN or \u{N} (a human reads it; other text, µ or →, is kept). */
export function escapeControls(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, shownChar) : s;
}

/** JSON text with those JSON.stringify leaves as they are as \uNNNN escapes (both halves of an astral one): it parses to the same value. */
export function jsonForTerminal(json: string): string {
  return JSON_RAW_CONTROL.test(json) ? json.replace(JSON_RAW_CONTROLS, (c) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")) : json;
}

/** True when `s` holds a character JSON.stringify would write as it is and jsonForTerminal escapes. */
export function hasJsonRawControl(s: string): boolean {
  return JSON_RAW_CONTROL.test(s);
}

/** How much of a server's own text (an error message, a body) goes into an error, a `detail` or a log line. */
export const OUTSIDE_TEXT_MAX_CHARS = 300;
/**
 * How long a whole `detail` or logged error may be: a URL, a server's text (OUTSIDE_TEXT_MAX_CHARS, its control
 * characters escaped) and a path fit; a megabyte error body no longer reaches /readyz, /status and every log line.
 */
export const DETAIL_MAX_CHARS = 2000;

/**
 * Text from outside made fit for an error, a `detail` or a log: at most `maxChars` characters (UTF-16 units) as shown,
 * control characters escaped (escapeControls: \xNN or \u{N}), cut at a code point where the bound comes with `… (N more)` saying how
 * many characters of `s` were left out. A string within the bound without a control character is returned as it is.
 */
export function boundedText(s: string, maxChars = OUTSIDE_TEXT_MAX_CHARS): string {
  if (s.length <= maxChars) {
    const whole = escapeControls(s);
    if (whole.length <= maxChars) return whole;
  }
  const room = maxChars - `… (${s.length} more)`.length; // the note at its longest
  let width = 0;
  let keep = 0;
  // By code point, each as wide as it is shown: \xNN is 4, \u{202e} 8, an astral format character (\u{e0041}) 9, a
  // surrogate pair 2. Until 2026-12-06 every control counted 4 and each half of a pair alone (an astral one was not
  // seen as a control): 300 bidi overrides (U+202E) came out as 588 characters, 300 tag characters as 1,308.
  while (keep < s.length) {
    const code = s.codePointAt(keep)!;
    const units = code > 0xffff ? 2 : 1;
    const ch = s.slice(keep, keep + units);
    const w = CONTROL.test(ch) ? shownChar(ch).length : units;
    if (width + w > room) break;
    width += w;
    keep += units;
  }
  return `${escapeControls(s.slice(0, keep))}… (${s.length - keep} more)`;
}
