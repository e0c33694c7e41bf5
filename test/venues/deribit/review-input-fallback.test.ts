/**
 * The Deribit JSON fallback (parse-json.ts parseJsonRaw, which keeps numbers as their source text) accepts what
 * JSON.parse accepts: before, a string value of some megabytes failed the engine's regular expression and a valid
 * frame was refused as a syntax error (the whole connection's books resynced when the channel was not first); and the
 * parser's reason ("nesting too deep at 70", …) was dropped from the parse-error log.
 */
import { describe, expect, test } from "vitest";
import type { Logger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { parseJsonRaw, RawNumber } from "../../../src/venues/deribit/parse-json.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { captureLog } from "../../support/capture-log.ts";
import { recordedFrames, recordedInstruments } from "./recording.ts";

describe("Deribit JSON fallback", () => {
  test("a string of 10 MB is read as JSON.parse reads it; escapes and bad strings as before", () => {
    const big = "a".repeat(10_000_000);
    const v = parseJsonRaw(`{"zz":"${big}","x":1.50}`) as { zz: string; x: RawNumber };
    expect(v.zz.length).toBe(10_000_000);
    expect(v.x.text).toBe("1.50");
    // The non-ASCII part outside String.raw: Bun's transpiler writes "é😀" in a raw template as \u00E9\u{1f600}.
    const escapes = String.raw`["a\"b\\c\/\u00e9\n", ` + '"é😀"]';
    expect(parseJsonRaw(escapes)).toEqual(JSON.parse(escapes));
    for (const bad of ['["a', '["a\\x"]', '["a\\u12g4"]', '["a\u0001"]', '["a\\', '{"a\\u00":1}']) {
      expect(() => JSON.parse(bad), bad).toThrow(SyntaxError);
      expect(() => parseJsonRaw(bad), bad).toThrow(SyntaxError);
    }
  });

  test("a valid recorded frame with a 10 MB field is applied; a too-deep one is refused naming why", async () => {
    const names = recordedInstruments();
    const { log, lines } = captureLog();
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 0, symbols: names }], overrides: new Map(names.map((n) => [`option:${n}`, { tickSize: "0.0005", lotSize: "0.1" }])) },
      names.map((symbol) => ({ market: "option" as MarketName, symbol, depth: 0 })),
      { log: log as Logger },
    );
    await adapter.loadInstruments();
    const updates: number[] = [];
    const invalid: number[] = [];
    const sink: BookSink = { onBookUpdate: (i) => void updates.push(i), onBookInvalid: (i) => void invalid.push(i), onInstrumentChanged: () => undefined };
    adapter.startReplay(sink);
    const first = recordedFrames().find((f) => f.frame.includes('"type":"snapshot"'))!;
    adapter.ingestFrame("option", "conn0.option", first.frame.replace('{"jsonrpc"', `{"zz":"${"a".repeat(10_000_000)}","jsonrpc"`), first.tsRecvUs);
    expect(invalid).toEqual([]);
    expect(updates.length).toBe(1);
    adapter.ingestFrame("option", "conn0.option", first.frame.replace('{"jsonrpc"', `{"zz":${"[".repeat(100)}${"]".repeat(100)},"jsonrpc"`), first.tsRecvUs);
    expect(invalid.length).toBeGreaterThan(0);
    expect(lines.map((l) => l.msg + " " + JSON.stringify(l.fields)).join("\n")).toContain("nesting too deep");
    await adapter.stop();
  });
});
