/**
 * A venue's REST error text (Deribit's error.message, OKX's msg, Bybit's retMsg, Binance's msg) went into the thrown
 * error whole, and from there into a symbol's `detail` (/readyz, /status, the status page, the exit-2 message) and
 * every log line about it: a megabyte error body made each of them a megabyte, its control characters raw. Now a
 * server's text is cut to its first OUTSIDE_TEXT_MAX_CHARS characters with "… (N more)", control characters escaped
 * (core/terminal-text.ts boundedText), and every detail and logged REST error is bounded by DETAIL_MAX_CHARS
 * whatever a venue put in it. Stub fetches answer a 1 MiB error body.
 */
import { describe, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { boundedText, DETAIL_MAX_CHARS, OUTSIDE_TEXT_MAX_CHARS } from "../../../src/core/terminal-text.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { parseDepthSnapshot } from "../../../src/venues/binance/parse-json.ts";
import { fetchInstrumentSpecs as fetchBybitSpecs } from "../../../src/venues/bybit/instruments.ts";
import { resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { LateInstruments } from "../../../src/venues/common/late-instruments.ts";
import { deribitInstrumentSource, fetchInstrumentSpecs as fetchDeribitSpecs } from "../../../src/venues/deribit/instruments.ts";
import { fetchOkxSpecs } from "../../../src/venues/okx/instruments.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { captureLog } from "../../support/capture-log.ts";
import { rng } from "../../support/mulberry32.ts";

/** 1 MiB of a server's error text, an ESC sequence (clear screen) first and a C1 CSI and a line break last. */
const HUGE = "\x1b[2J" + "x".repeat(1024 * 1024) + "\u009b\n";
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/u;

const stub = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch;

function expectBounded(text: string, maxChars: number): void {
  expect(text.length).toBeLessThanOrEqual(maxChars);
  expect(text).not.toMatch(CONTROL);
  expect(text).toContain("\\x1b[2J"); // the text's start, shown escaped
  expect(text).toMatch(/… \(\d+ more\)/);
}

async function thrownBy(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "resolved",
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

describe("a venue's 1 MiB REST error text", () => {
  // The URL and the words around the server's text, plus its escapes: well under DETAIL_MAX_CHARS.
  const ERROR_MAX_CHARS = 600;
  test.each([
    ["deribit get_instruments, HTTP 400 error.message", () => fetchDeribitSpecs(stub(400, { error: { code: 10001, message: HUGE } }), "http://127.0.0.1:9", "inverse", ["BTC-PERPETUAL"])],
    ["okx instruments, code and msg", () => fetchOkxSpecs(stub(200, { code: "50001", msg: HUGE, data: [] }), "http://127.0.0.1:9", "linear", ["BTC-USDT-SWAP"])],
    ["bybit instruments-info, retMsg", () => fetchBybitSpecs(stub(200, { retCode: 10001, retMsg: HUGE }), "http://127.0.0.1:9", "linear", ["BTCUSDT"])],
    ["binance depth snapshot, msg", async () => parseDepthSnapshot(JSON.stringify({ code: -1121, msg: HUGE }), -2, -3, new BookUpdate())],
  ] as const)("%s: the thrown error holds its start, escaped, and how much more", async (_name, call) => {
    expectBounded(await thrownBy(call()), ERROR_MAX_CHARS);
  });

  test("deribit at start: the symbol's detail and the warning are bounded", async () => {
    const config = { ...validateConfig({ publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] }, venues: { deribit: { inverse: { symbols: ["BTC-PERPETUAL"] } } } }).venues[0]!, instrumentCachePath: "" };
    const { log, lines } = captureLog();
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 10 }];
    const { unresolved, problems } = await resolveInstruments(config, subs, deribitInstrumentSource(config, stub(400, { error: { code: 10001, message: HUGE } })), log);
    expect(unresolved.map((u) => u.kind)).toEqual(["rest_unreachable"]);
    expectBounded(unresolved[0]!.detail, ERROR_MAX_CHARS);
    expectBounded(problems[0]!, ERROR_MAX_CHARS);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(JSON.stringify(l).length).toBeLessThan(ERROR_MAX_CHARS * 2);
  });
});

describe("a detail whatever a venue put in it (a source that does not bound its server's text)", () => {
  const config = { ...validateConfig({ publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] }, venues: { bybit: { linear: { symbols: ["BTCUSDT"] } } } }).venues[0]!, instrumentCachePath: "" };
  const subs: Subscription[] = [{ market: "linear", symbol: "BTCUSDT", depth: 50 }];

  test("at start (resolveInstruments) and while retried (LateInstruments): at most DETAIL_MAX_CHARS, escaped", async () => {
    const { log, lines } = captureLog();
    const source: InstrumentSource = { notListed: () => "not listed", fetchSpecs: async () => Promise.reject(new Error(`REST http://127.0.0.1:9: ${HUGE}`)) };
    const { unresolved } = await resolveInstruments(config, subs, source, log);
    expectBounded(unresolved[0]!.detail, DETAIL_MAX_CHARS);
    for (const l of lines) expect(JSON.stringify(l).length).toBeLessThan(DETAIL_MAX_CHARS + 500);
    // What /readyz and /status show: the retrier's list, from a detail given to it whole, and after a failed retry.
    const late = new LateInstruments({ venue: "bybit", log, now: () => 0, random: () => 1, config, subscriptions: subs, checkEveryMs: 1_000_000_000, onResolved: () => undefined });
    late.track(source, [{ index: 0, kind: "rest_unreachable", detail: HUGE }]);
    expectBounded(late.list()[0]!.detail, DETAIL_MAX_CHARS);
    late.start({ onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} }, false);
    late.failed({ market: "linear" as MarketName, symbols: ["BTCUSDT"], indexes: [0] }, new Error(HUGE));
    late.stop();
    expectBounded(late.list()[0]!.detail, DETAIL_MAX_CHARS);
  });
});

describe("boundedText", () => {
  test("within the bound: as it is, control characters escaped", () => {
    expect(boundedText("Invalid params")).toBe("Invalid params");
    expect(boundedText("a\x1bb\u009bc\n")).toBe("a\\x1bb\\x9bc\\x0a");
    expect(boundedText("x".repeat(OUTSIDE_TEXT_MAX_CHARS))).toBe("x".repeat(OUTSIDE_TEXT_MAX_CHARS));
  });

  test("beyond it: at most maxChars characters, saying how many of the text's were left out; a surrogate pair never cut in two", () => {
    expect(boundedText("abcdefghijklmnopqrstuvwxyz", 20)).toBe("abcdefghi… (17 more)");
    expect(boundedText("abcdefgh😀ijklmnopqrstuvwx", 20)).toBe("abcdefgh… (18 more)"); // 😀 is two UTF-16 units
    expect(boundedText("a\x07cdefghijklmnopqrstuvwxyz", 20)).toBe("a\\x07cdef… (20 more)");
    // Within maxChars raw, but not once escaped: cut too.
    expect(boundedText("\x07".repeat(10), 20)).toBe("\\x07\\x07… (8 more)");
  });

  test("random texts: never beyond maxChars, no control character, and the kept start plus the count is the text", () => {
    const random = rng(7);
    const rand = (n: number) => Math.floor(random() * n);
    // Beyond C0/C1: a line separator, a bidi override and a zero-width space (\u{N}, 8 wide), an astral tag character
    // (\u{e0041}, 9 wide: both halves of its pair one character); until s-rdcli8 each counted 4 and the bound was passed.
    const alphabet = ["a", "b", "\x00", "\x1b", "\n", "\x7f", "\u0085", "\u009b", "µ", "😀", "\u2028", "\u202e", "\u200b", "\u{e0041}"];
    for (let i = 0; i < 500; i++) {
      const s = Array.from({ length: rand(60) }, () => alphabet[rand(alphabet.length)]).join("");
      const maxChars = 16 + rand(40);
      const out = boundedText(s, maxChars);
      expect(out).not.toMatch(CONTROL);
      // Reference: escaped whole if that fits; else some prefix of s, escaped, then "… (rest more)".
      const whole = s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/gu, (c) => (c.codePointAt(0)! <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}` : `\\u{${c.codePointAt(0)!.toString(16)}}`));
      if (whole.length <= maxChars) {
        expect(out).toBe(whole);
        continue;
      }
      expect(out.length).toBeLessThanOrEqual(maxChars);
      const m = /^(.*)… \((\d+) more\)$/su.exec(out)!;
      const kept = s.length - Number(m[2]);
      expect(boundedText(s.slice(0, kept), kept * 9)).toBe(m[1]);
      expect(m[1]).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/); // no half of a pair
    }
  });
});
