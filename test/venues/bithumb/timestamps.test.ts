/**
 * Bithumb's book timestamps are ms in its documented v1 WebSocket sample (`"tms":1732796700425`, recorded 2024-11-28)
 * and its REST book was unified to ms in 2025-11, but µs were also seen. Both must give the right exchange time
 * (tsExchangeUs), on the scanner and on the JSON path, and a book in one unit must order right against the last in
 * the other (the timestamp is the only ordering key: a newer ms book taken as older than a µs one is ignored).
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath, waitFor } from "../bybit/helpers.ts";
import { exponentOf } from "../../../src/core/fixed.ts";
import { BITHUMB_DIALECT, UPBIT_DIALECT } from "../../../src/venues/upbit/protocol.ts";
import { parseBookObject, parseRawJson, type RawJson } from "../../../src/venues/upbit/parse-json.ts";
import { CodeTable, UpbitScanner } from "../../../src/venues/upbit/scanner.ts";
import { Rng } from "../../../src/sim/rng.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";

const table = new CodeTable();
table.add("KRW-BTC", 0, exponentOf("1000"), 8, 30);
/** Bithumb's documented sample (SIMPLE names, one unit; its code anonymised there as USD-ABC). */
const frame = (tms: string) => `{"ty":"orderbook","cd":"KRW-BTC","tas":0.6545,"tbs":1.1161,"obu":[{"ap":133314000,"bp":133289000,"as":0.0,"bs":0.1052}],"lv":1,"tms":${tms},"st":"REALTIME"}`;

/** The sample as `venue` sends it: Upbit echoes the level subscribed (0: ungrouped) and refuses another; Bithumb's is not checked. */
const frameOf = (venue: "upbit" | "bithumb", tms: string) => (venue === "upbit" ? frame(tms).replace('"lv":1', '"lv":0') : frame(tms));

function viaScanner(text: string, tsUnitUs: number): BookUpdate {
  const u = new BookUpdate();
  const b = new TextEncoder().encode(text);
  expect(new UpbitScanner(tsUnitUs).scan(b, b.length, table, u)).toBe(0);
  return u;
}
function viaJson(text: string, tsUnitUs: number): BookUpdate {
  const u = new BookUpdate();
  expect(parseBookObject(parseRawJson(text) as { [k: string]: RawJson }, table, u, tsUnitUs, { entry: -1 })).toBe(0);
  return u;
}

describe.each([["scanner", viaScanner], ["JSON path", viaJson]] as const)("Bithumb timestamps (%s)", (_name, read) => {
  test("a ms timestamp (the documented sample) is the exchange time in µs", () => {
    const u = read(frame("1732796700425"), BITHUMB_DIALECT.tsUnitUs);
    // Old: taken for µs, 1,732,796,700 µs: 20 days into 1970.
    expect(u.tsExchangeUs).toBe(1_732_796_700_425_000);
    expect(u.bidCount).toBe(1);
    expect(u.askCount).toBe(0); // "as":0.0 skipped
  });

  test("a µs timestamp is still read as µs", () => {
    expect(read(frame("1732796700425123"), BITHUMB_DIALECT.tsUnitUs).tsExchangeUs).toBe(1_732_796_700_425_123);
  });

  test("a later book in ms orders after one in µs, and the other way round", () => {
    const us = read(frame("1732796700425123"), BITHUMB_DIALECT.tsUnitUs).venueSeq;
    const msLater = read(frame("1732796700426"), BITHUMB_DIALECT.tsUnitUs).venueSeq;
    const msEarlier = read(frame("1732796700424"), BITHUMB_DIALECT.tsUnitUs).venueSeq;
    expect(msLater).toBeGreaterThan(us); // old: 1.7e12 < 1.7e15, so every ms book after a µs one was ignored as older
    expect(msEarlier).toBeLessThan(us);
    expect(us).toBe(1_732_796_700_425); // keyed by its ms, as a ms book of that ms
  });

  test("Upbit's ms timestamps are unchanged: the key is the venue's value", () => {
    const u = read(frame("1786613105466"), UPBIT_DIALECT.tsUnitUs);
    expect(u.venueSeq).toBe(1_786_613_105_466);
    expect(u.tsExchangeUs).toBe(1_786_613_105_466_000);
  });
});

/** Keeps each book's key and exchange time (the books are replaces: their levels are not kept). */
class TimedSink extends RecordingSink {
  readonly tsExchangeUs: number[] = [];
  readonly key: number[] = [];
  override onBookUpdate(index: number, u: BookUpdate): void {
    this.updates[index] = (this.updates[index] ?? 0) + 1;
    this.tsExchangeUs[index] = u.tsExchangeUs;
    this.key[index] = u.venueSeq;
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe.each([false, true])("Bithumb adapter against the simulator, timestamps in µs: %s", { timeout: 20_000 }, (us) => {
  test("every book is applied, with its exchange time exact and its key in ms", async () => {
    const sim = await startUpbitSimulator({ venue: "bithumb", codes: ["KRW-BTC"], seed: 5, timestampsUs: us });
    const config = { venue: "bithumb" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map() };
    const adapter = BITHUMB_VENUE.create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger }) as VenueAdapter;
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const sink = new TimedSink(allResolved(await adapter.loadInstruments()));
    adapter.start(sink);
    await waitFor(() => sink.updates[0]! >= 1, "the first book");
    sim.step(3);
    const ts = () => sim.book("KRW-BTC", 15).ts;
    await waitFor(() => sink.tsExchangeUs[0] === (us ? ts() : ts() * 1000), "the simulator's latest book, at its time");
    expect(sink.key[0]).toBe(us ? Math.floor(ts() / 1000) : ts());
    expect(ts()).toBeGreaterThan(us ? 1e15 : 1e12);
    expect(adapter.stats().olderTimestamps ?? 0).toBe(0);
  });
});

describe("Bithumb: a book older than the newest applied within the same ms", () => {
  /**
   * Books of one code fed in order through the adapter (replay: no socket), in µs or ms, against a reference that
   * knows what each unit can tell: a µs book is older than the newest when its µs are below the newest µs seen
   * (both exact), or its ms below the newest ms; a ms book only when its ms is below (within its ms it may be the
   * newer). Before, every book in the newest's ms was applied: a stray older µs book within that ms went LIVE.
   */
  test("a µs book older than the newest µs one is ignored even in the same ms; a ms book of that ms is applied; random runs against the reference", async () => {
    const config = { venue: "bithumb" as const, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map([["spot:KRW-BTC", { tickSize: "1000", lotSize: "0.00000001" }]]) };
    const rng = new Rng(11);
    for (let run = 0; run < 40; run++) {
      const adapter = BITHUMB_VENUE.create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger }) as VenueAdapter;
      const sink = new TimedSink(allResolved(await adapter.loadInstruments()));
      adapter.startReplay!(sink);
      const baseMs = 1_732_796_700_000;
      let newestMs = 0;
      let newestUs = 0; // the newest µs seen on a µs book (0: none in newestMs)
      let applied = 0;
      for (let k = 0; k < 60; k++) {
        const ms = baseMs + rng.int(0, 3); // a few ms: most books share one with the newest
        const isUs = rng.next() < 0.7;
        // One in five µs stamps on the ms boundary: a µs value (by magnitude) all the same, as exact as any other.
        const us = ms * 1000 + (rng.next() < 0.2 ? 0 : rng.int(1, 999));
        const older = ms < newestMs || (isUs && ms === newestMs && us < newestUs);
        // One in three through the JSON path (an escape in the code: the scanner hands the frame over).
        const text = frame(isUs ? String(us) : String(ms));
        const viaJsonPath = rng.next() < 1 / 3;
        expect(adapter.ingestFrame!("spot", "conn0.spot", viaJsonPath ? text.replace('"cd":"KRW-BTC"', '"cd":"KRW\\u002dBTC"') : text, 0)).toBe(true);
        if (!older) {
          applied++;
          if (ms > newestMs) newestUs = 0;
          newestMs = ms;
          if (isUs) newestUs = Math.max(newestUs, us);
        }
        expect(sink.updates[0] ?? 0, `run ${run}, book ${k} (${isUs ? `${us} µs` : `${ms} ms`}), newest ${newestMs} ms / ${newestUs} µs`).toBe(applied);
      }
      expect(adapter.stats().fallbacks ?? 0, "books read on the JSON path").toBeGreaterThan(0);
      await adapter.stop();
    }
  });
});

describe("Upbit and Bithumb: a timestamp of 0 or whose µs do not fit the wire is refused, naming the code and the field", () => {
  /**
   * A ms value is × 1000 for its µs (and the wire's ns × 1000 again): at 2^53 µs the µs stop being exact and the ns
   * leave the wire's i64. Before, such a book was applied and written wrong, silently. Now the frame is malformed:
   * the book resyncs (RESYNCING / PARSE_ERROR, the next book restores it), counted under `parseErrors.timestamp`,
   * and the log names the code and `timestamp`.
   */
  const LIMIT_US = 2 ** 53;
  const cases = [
    // [dialect, timestamp text, fits]
    ["upbit", String(Math.floor(LIMIT_US / 1000)), true], // 9007199254740 ms → 9007199254740000 µs
    ["upbit", String(Math.floor(LIMIT_US / 1000) + 1), false],
    ["upbit", String(Number.MAX_SAFE_INTEGER), false], // the largest integer the scanner reads: ×1000 is 9e18
    ["bithumb", String(Math.floor(LIMIT_US / 1000) + 1), false], // below 10^14: ms
    ["bithumb", "99999999999999", false], // the largest ms by magnitude
    ["bithumb", String(Number.MAX_SAFE_INTEGER), true], // µs, exact
    // 0 is no time (the adapter's "none applied yet"): before s-venuesmall taken, here ignored as older, unsaid.
    ["upbit", "0", false],
    ["bithumb", "0", false],
  ] as const;
  test.each(cases)("%s, timestamp %s: applied %s (scanner and JSON path, through the adapter)", async (venue, tms, fits) => {
    const config = { venue, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map([["spot:KRW-BTC", { tickSize: "1000", lotSize: "0.00000001" }]]) };
    const lines: string[] = [];
    const log = { ...silentLogger, warn: (msg: string, f?: Record<string, unknown>) => lines.push(`${msg} ${JSON.stringify(f ?? {})}`) };
    const create = venue === "upbit" ? UPBIT_VENUE.create : BITHUMB_VENUE.create;
    const adapter = create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log }) as VenueAdapter;
    const sink = new TimedSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay!(sink);
    adapter.ingestFrame!("spot", "conn0.spot", frameOf(venue, "1732796700425"), 0); // LIVE first
    expect(sink.updates[0]).toBe(1);
    for (const viaJsonPath of [false, true]) {
      const text = frameOf(venue, tms);
      adapter.ingestFrame!("spot", "conn0.spot", viaJsonPath ? text.replace('"cd":"KRW-BTC"', '"cd":"KRW\\u002dBTC"') : text, 0);
    }
    if (fits) {
      expect(sink.updates[0]).toBe(3);
      expect(sink.tsExchangeUs[0]).toBeLessThan(LIMIT_US);
      expect(sink.invalid).toEqual([]);
    } else {
      expect(sink.updates[0], "no book applied with a timestamp out of range").toBe(1);
      expect(sink.tsExchangeUs[0]).toBe(1_732_796_700_425_000);
      expect(sink.invalid.map((e) => [e.state, e.reason])).toEqual([[BookState.RESYNCING, StatusReason.PARSE_ERROR]]);
      expect(adapter.stats()["parseErrors.timestamp"]).toBe(2);
      expect(lines.join("\n")).toMatch(/timestamp \(\\"tms\\": \d+\) at \d+ \(spot KRW-BTC\)/); // the field named, with its value
      // The next good book restores it.
      adapter.ingestFrame!("spot", "conn0.spot", frameOf(venue, "1732796700426"), 0);
      expect(sink.updates[0]).toBe(2);
    }
    await adapter.stop();
  });

  test.each(["upbit", "bithumb"] as const)("%s: a first book stamped 0 is refused, not applied (scanner and JSON path)", async (venue) => {
    // Before s-venuesmall: 0 equals the newest stamp of a code none applied yet, so it went to the equal-stamp rule,
    // was applied and made the book LIVE with an exchange time of 0 (any later book then counted as newer).
    const config = { venue, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map([["spot:KRW-BTC", { tickSize: "1000", lotSize: "0.00000001" }]]) };
    const create = venue === "upbit" ? UPBIT_VENUE.create : BITHUMB_VENUE.create;
    const adapter = create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger }) as VenueAdapter;
    const sink = new TimedSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay!(sink);
    for (const viaJsonPath of [false, true]) {
      const text = frameOf(venue, "0");
      adapter.ingestFrame!("spot", "conn0.spot", viaJsonPath ? text.replace('"cd":"KRW-BTC"', '"cd":"KRW\\u002dBTC"') : text, 0);
    }
    expect({ applied: sink.updates[0] ?? 0, refused: adapter.stats()["parseErrors.timestamp"] }).toEqual({ applied: 0, refused: 2 });
    adapter.ingestFrame!("spot", "conn0.spot", frameOf(venue, "1732796700425"), 0);
    expect(sink.updates[0]).toBe(1); // the next good book is applied
    await adapter.stop();
  });
});
