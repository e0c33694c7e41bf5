/**
 * A grouped channel (`book.X.none.N.100ms`, whole books) whose venue rebuilt the book with lower ids (rev34): before,
 * every whole book below the live one was ignored as a duplicate and, since rev28, no sign of life, so the book stayed
 * LIVE with its old levels until its channel went stale (120 s; 600 s for options). Now a whole book below the live
 * one that no subscribe asked for is a venue reset, as a snapshot is: the book resyncs at once and is resubscribed.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { applyToMaps } from "../contract.ts";
import { until } from "../planned-fallback-harness.ts";
import { mantissa } from "./helpers.ts";

class Sink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  onBookUpdate(i: number, u: BookUpdate): void {
    if (u.isSnapshot || u.replace) {
      this.bids[i] = new Map();
      this.asks[i] = new Map();
    }
    if (!this.bids[i]) throw new Error("delta before snapshot");
    applyToMaps(u, this.bids[i]!, this.asks[i]!);
    this.seq[i] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
  }
  onInstrumentChanged(): void {}
}

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

describe("deribit: a grouped channel's venue reset", { timeout: 20_000 }, () => {
  test("a whole book below the live one that no subscribe asked for resyncs the book at once (venue_reset); the venue's book again after", async () => {
    const subs: Subscription[] = [
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 10 },
      { market: "inverse", symbol: "ETH-PERPETUAL", depth: 10 },
    ];
    const symbols = subs.map((s) => s.symbol);
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols }], seed: 9 });
    const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: `${makeTempDir("deribit-rev34-")}/i.json`, markets: [{ market: "inverse" as const, depth: 10, symbols }], overrides: new Map() };
    // Stale only long after the test (the default 120 s): before, the frozen book stayed LIVE that long.
    const adapter = new DeribitAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    running.push({ stop: async () => (await adapter.stop(), await sim.stop()) });
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new Sink();
    const equal = (i: number) => {
      const b = sim.book("inverse", symbols[i]!, 10);
      const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [mantissa(p, instruments[i]!.priceExp), mantissa(q, instruments[i]!.qtyExp)]));
      const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
      return sink.seq[i] === b.changeId && same(sink.bids[i], conv(b.bids)) && same(sink.asks[i], conv(b.asks));
    };
    adapter.start(sink);
    sim.step(2);
    await until(() => equal(0) && equal(1), "both grouped books live");
    const before = adapter.stats();
    sim.inject("reset_low", { market: "inverse", symbol: "BTC-PERPETUAL" });
    // The rebuilt book (ids far below) has come when it is counted, as a duplicate (before) or a venue reset.
    await until(() => adapter.stats().duplicates! + adapter.stats().venueResets! > before.duplicates! + before.venueResets!, "the rebuilt book received");
    // Before: a duplicate, the book LIVE with the levels of before the reset (and every later book ignored too).
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    expect(adapter.stats().venueResets).toBe(1);
    expect(adapter.topicInfo(1).state).toBe("live");
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed: the venue's rebuilt book; ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });
});
