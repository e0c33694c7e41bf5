/**
 * Text from outside (a datagram's symbol, a server's error text) made safe for a terminal: its control characters
 * (C0, DEL, C1) are what an ESC or CSI sequence is made of (a retitled window, a cleared screen) and what forges a
 * line. Cold, but cheap when there is none (one test of a precompiled pattern, no allocation).
 * @module
 */

/** C0 controls, DEL and the C1 controls (U+0080–U+009F: a UTF-8 terminal takes U+009B as CSI). */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
/** What JSON.stringify leaves as it is of those: it escapes C0 itself. */
const JSON_RAW_CONTROL = /[\x7f-\x9f]/;
const JSON_RAW_CONTROLS = /[\x7f-\x9f]/g;

const hex2 = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, "0");

/** `s` with each control character shown as \xNN (a human reads it; other text, µ or →, is kept). */
export function escapeControls(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, (c) => `\\x${hex2(c)}`) : s;
}

/** JSON text with DEL and C1 controls as \u00NN escapes: it parses to the same value. */
export function jsonForTerminal(json: string): string {
  return JSON_RAW_CONTROL.test(json) ? json.replace(JSON_RAW_CONTROLS, (c) => `\\u00${hex2(c)}`) : json;
}

/** True when `s` holds a DEL or C1 control that JSON.stringify would write as it is. */
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
 * Text from outside made fit for an error, a `detail` or a log: at most `maxChars` characters as shown, control
 * characters escaped (escapeControls: 4 characters each), cut where the bound comes with `… (N more)` saying how
 * many characters of `s` were left out. A string within the bound without a control character is returned as it is.
 */
export function boundedText(s: string, maxChars = OUTSIDE_TEXT_MAX_CHARS): string {
  if (s.length <= maxChars) {
    const whole = escapeControls(s);
    if (whole.length <= maxChars) return whole;
  }
  const room = maxChars - `… (${s.length} more)`.length; // the note at its longest
  let shown = 0;
  let keep = 0;
  for (; keep < s.length; keep++) {
    const width = CONTROL.test(s[keep]!) ? 4 : 1;
    if (shown + width > room) break;
    shown += width;
  }
  const last = s.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep--; // not half a surrogate pair
  return `${escapeControls(s.slice(0, keep))}… (${s.length - keep} more)`;
}
