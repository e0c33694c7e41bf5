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
