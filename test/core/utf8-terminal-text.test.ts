/**
 * Symbols beyond ASCII in text for a terminal or a line-based reader (listen ndjson, JSON and pretty logs). JSON
 * leaves U+2028 / U+2029 as they are, and Python's splitlines (and editors) end a line there, so one ndjson record
 * became two; a bidi override (U+202E) showed the rest of the line reversed and a zero-width joiner hid inside a
 * name. Those are now escaped as the controls were (\\uNNNN in JSON, \\u{N} in text); letters beyond ASCII are kept.
 */
import { describe, expect, test } from "vitest";
import { escapeControls, hasJsonRawControl, jsonForTerminal } from "../../src/core/terminal-text.ts";

/** What Python's str.splitlines() breaks a line at. */
const LINE_BREAKS = /[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;
const ODD = "币安\u202eUSDT\u2028x\u2029y\u200dz\ufeff\u{e0001}";

describe("separators and format characters", () => {
  test("JSON text: escaped, one line, parses to the same value; letters beyond ASCII kept", () => {
    const line = jsonForTerminal(JSON.stringify({ symbol: ODD }));
    expect(line).not.toMatch(LINE_BREAKS);
    expect(line).not.toMatch(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/);
    expect(line).toBe('{"symbol":"币安\\u202eUSDT\\u2028x\\u2029y\\u200dz\\ufeff\\udb40\\udc01"}');
    expect(JSON.parse(line).symbol).toBe(ODD);
    expect(hasJsonRawControl(ODD)).toBe(true);
    expect(hasJsonRawControl("币安人生USDT")).toBe(false);
  });

  test("plain text (pretty logs): escaped as \\u{N}", () => {
    expect(escapeControls(ODD)).toBe("币安\\u{202e}USDT\\u{2028}x\\u{2029}y\\u{200d}z\\u{feff}\\u{e0001}");
    expect(escapeControls("币安人生USDT µ→")).toBe("币安人生USDT µ→");
  });
});
