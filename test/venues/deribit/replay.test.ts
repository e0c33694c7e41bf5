/**
 * The genuine Deribit recording (10 options, `book.<instrument>.raw`) replayed through the adapter and through the
 * feeder's replay path (`feeder replay`'s replayCaptures on a capture file), with the exponents as config overrides
 * and the recording's `raw` channel names mapped onto the configured `100ms` channels. After every message each
 * book equals an independent reference (JSON source text, BigInt decimals); one altered frame resyncs that book alone.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { replayCaptures } from "../../../src/app/replay.ts";
import { Feeder } from "../../../src/app/feeder.ts";
import { validateConfig } from "../../../src/config/load.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { CaptureWriter } from "../../../src/record/capture.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { uniqueDestination } from "../../e2e/harness.ts";
import { applyToMaps } from "../contract.ts";
import { applyReference, canonical, canonicalOf, recordedFrames, recordedInstruments, type RefBook } from "./recording.ts";

const NAMES = recordedInstruments();
const TICK = "0.0005";
const LOT = "0.1";
const SUBS: Subscription[] = NAMES.map((symbol) => ({ market: "option", symbol, depth: 0 }));

function venueConfig(): VenueConfig {
  return {
    venue: "deribit",
    wsUrl: "ws://127.0.0.1:1/ws/api/v2",
    restUrl: "http://127.0.0.1:1",
    instrumentCachePath: "",
    markets: [{ market: "option", depth: 0, symbols: NAMES }],
    overrides: new Map(NAMES.map((n) => [`option:${n}`, { tickSize: TICK, lotSize: LOT }])),
  };
}

class MapSink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  onBookUpdate(i: number, u: BookUpdate): void {
    if (u.isSnapshot || u.replace) {
      this.bids[i] = new Map();
      this.asks[i] = new Map();
    }
    applyToMaps(u, this.bids[i]!, this.asks[i]!);
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
  }
  onInstrumentChanged(): void {}
}

const asText = (m: Map<number, number>, inst: Instrument) => new Map([...m].map(([p, q]) => [canonicalOf(p, inst.priceExp), canonicalOf(q, inst.qtyExp)]));

async function replayAdapter(alter?: (frame: string, n: number) => string) {
  const adapter = new DeribitAdapter(venueConfig(), SUBS, { log: silentLogger });
  const instruments = (await adapter.loadInstruments()) as Instrument[];
  const sink = new MapSink();
  adapter.startReplay(sink);
  const ref = new Map<string, RefBook>();
  const breaks: string[] = [];
  let n = 0;
  let mismatches = 0;
  let compared = 0;
  for (const { frame: original, tsRecvUs } of recordedFrames()) {
    const frame = alter ? alter(original, n) : original;
    n++;
    expect(adapter.ingestFrame("option", "conn0.option", frame, tsRecvUs)).toBe(true);
    const r = applyReference(ref, frame);
    if (!r) continue;
    if (r.kind === "break") {
      breaks.push(r.channel);
      continue;
    }
    // After every book message: every book the adapter holds valid equals the reference.
    for (const [i, name] of NAMES.entries()) {
      const want = ref.get(`book.${name}.raw`);
      if (!want || sink.bids[i] === undefined || breaks.includes(`book.${name}.raw`)) continue;
      compared++;
      const same = JSON.stringify([...asText(sink.bids[i]!, instruments[i]!)].sort()) === JSON.stringify([...want.bids].sort()) && JSON.stringify([...asText(sink.asks[i]!, instruments[i]!)].sort()) === JSON.stringify([...want.asks].sort());
      if (!same) mismatches++;
    }
  }
  return { adapter, sink, ref, breaks, mismatches, compared, instruments };
}

describe("Deribit recording replayed", { timeout: 30_000 }, () => {
  test("through the adapter: 10 snapshots + 36 changes, 0 chain breaks, books equal the reference after every message", async () => {
    const { adapter, sink, breaks, mismatches, compared, ref } = await replayAdapter();
    expect(breaks).toEqual([]);
    expect(ref.size).toBe(10);
    expect(mismatches).toBe(0);
    expect(compared).toBeGreaterThan(200);
    expect(sink.invalid).toEqual([]);
    const s = adapter.stats();
    expect([s.snapshots, s.deltas, s.gaps, s.parseErrors, s.fallbacks]).toEqual([10, 36, 0, 0, 0]);
    expect(s.topicsLive).toBe(10);
  });

  test("one altered frame (its prev_change_id) resyncs that book alone; the others stay equal", async () => {
    const frames = recordedFrames();
    const victim = frames.findIndex((f) => f.frame.includes('"type":"change"') && f.frame.includes("BTC-31DEC21-34000-P"));
    const { sink, breaks, mismatches } = await replayAdapter((f, n) => (n === victim ? f.replace(/"prev_change_id":(\d+)/, (_, d: string) => `"prev_change_id":${Number(d) - 1}`) : f));
    const i = NAMES.indexOf("BTC-31DEC21-34000-P");
    expect([...new Set(breaks)]).toEqual(["book.BTC-31DEC21-34000-P.raw"]); // and every later change of it
    expect(sink.invalid).toEqual([{ index: i, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    expect(mismatches).toBe(0);
    expect(sink.bids.filter((b, k) => k !== i && b !== undefined)).toHaveLength(9);
  });

  test("through feeder replay (a capture file): every book valid and equal to the reference at the end, and after every frame", async () => {
    const dir = makeTempDir("deribit-replay-");
    const writer = new CaptureWriter({ dir, prefix: "deribit" });
    for (const { frame, tsRecvUs } of recordedFrames()) writer.write(tsRecvUs, "deribit", "option", "conn0.option", frame);
    writer.close();
    const overrides: Record<string, unknown> = {};
    for (const n of NAMES) overrides[`option:${n}`] = { tick_size: TICK, lot_size: LOT };
    const config = validateConfig({
      log: { level: "error" },
      http: { enabled: false },
      publish: { startup_listen_ms: 0, destinations: [{ ...uniqueDestination(54), interface: "127.0.0.1", ttl: 1 }] },
      venues: { deribit: { instrument_cache: join(dir, "instruments.json"), option: { depth: 0, symbols: NAMES }, overrides } },
    });
    // Frame by frame through Feeder.ingest (what replayCaptures calls), comparing after each.
    const feeder = new Feeder({ config, log: silentLogger, replay: true });
    await feeder.start();
    const ref = new Map<string, RefBook>();
    let checked = 0;
    for (const { frame, tsRecvUs } of recordedFrames()) {
      feeder.ingest("deribit", "option", "conn0.option", frame, tsRecvUs);
      if (!applyReference(ref, frame)) continue;
      for (const name of NAMES) {
        const want = ref.get(`book.${name}.raw`);
        if (!want) continue;
        const d = feeder.bookDetail("deribit", "option", name, 0)!;
        expect(d.state).toBe("live");
        expect(new Map(d.bids.map(([p, q]) => [canonical(p), canonical(q)]))).toEqual(want.bids);
        expect(new Map(d.asks.map(([p, q]) => [canonical(p), canonical(q)]))).toEqual(want.asks);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
    await feeder.stop();
    // The capture file through replayCaptures (the `feeder replay` command's loop).
    const again = new Feeder({ config, log: silentLogger, replay: true });
    await again.start();
    const files = (await import("node:fs")).readdirSync(dir).filter((f) => f.endsWith(".fcap")).map((f) => join(dir, f));
    const result = await replayCaptures(again, files, { pace: "fast" });
    expect(result.frames).toBe(recordedFrames().length);
    for (const name of NAMES) {
      const want = ref.get(`book.${name}.raw`)!;
      const d = again.bookDetail("deribit", "option", name, 0)!;
      expect(d.state).toBe("live");
      expect(new Map(d.bids.map(([p, q]) => [canonical(p), canonical(q)]))).toEqual(want.bids);
      expect(new Map(d.asks.map(([p, q]) => [canonical(p), canonical(q)]))).toEqual(want.asks);
    }
    expect(again.stats().venues.deribit!.gaps).toBe(0);
    await again.stop();
  });
});
