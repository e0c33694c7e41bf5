/**
 * The genuine OKX recording (test/fixtures/cryptofeed/OKX.ws.1.0: 3 instruments, 3 snapshots + 287 updates, 2022,
 * with checksums, before seqId existed) through the adapter's replay path into real BookBuilders, the way the app
 * applies and verifies: after every one of the 290 `books` messages each book must equal an independent reference
 * built here from JSON.parse and the raw strings, and every message's checksum is verified (by the adapter's
 * verify() on the builder, and independently from the reference's strings). One altered frame resyncs that book
 * alone. Tick and lot sizes are given as overrides (the recording has none).
 */
import { describe, expect, test } from "vitest";
import { ApplyResult, BookBuilder } from "../../../src/book/index.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { checksumOfStrings } from "../../../src/venues/okx/checksum.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { tempCachePath } from "./helpers.ts";
import { OKX_RECORDING_INSTRUMENTS, okxRecordingFrames } from "./recording.ts";

function setup(): { adapter: OkxAdapter; subs: Subscription[]; config: VenueConfig } {
  const subs: Subscription[] = OKX_RECORDING_INSTRUMENTS.map((i) => ({ market: i.market, symbol: i.symbol, depth: 400 }));
  const config: VenueConfig = {
    venue: "okx",
    wsUrl: "ws://127.0.0.1:9/ws/v5/public",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: tempCachePath(),
    markets: [
      { market: "inverse", depth: 400, symbols: ["BTC-USD-220527", "UNI-USD-SWAP"] },
      { market: "spot", depth: 400, symbols: ["BTC-USDT"] },
    ],
    overrides: new Map(OKX_RECORDING_INSTRUMENTS.map((i) => [`${i.market}:${i.symbol}`, { tickSize: i.tickSize, lotSize: i.lotSize }])),
  };
  return { adapter: new OkxAdapter(config, subs, { log: silentLogger }), subs, config };
}

/** The app's part: apply to BookBuilders, verify, mark invalid and ask for a resync on a mismatch. */
class BuilderSink implements BookSink {
  builders: BookBuilder[] = [];
  invalid: { index: number; reason: StatusReason }[] = [];
  verified = 0;
  constructor(
    instruments: Instrument[],
    private readonly adapter: OkxAdapter,
  ) {
    this.builders = instruments.map((i) => new BookBuilder(i));
  }
  onBookUpdate(index: number, u: BookUpdate): void {
    const b = this.builders[index]!;
    const r = u.isSnapshot ? b.applySnapshot(u) : b.applyDelta(u);
    if (r !== ApplyResult.APPLIED) return;
    this.verified++;
    if (this.adapter.verify(index, b) !== StatusReason.NONE) {
      b.markInvalid(BookState.RESYNCING, StatusReason.CHECKSUM_MISMATCH);
      this.invalid.push({ index, reason: StatusReason.CHECKSUM_MISMATCH });
      this.adapter.requestResync(index, StatusReason.CHECKSUM_MISMATCH);
    }
  }
  onBookInvalid(index: number, _state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, reason });
  }
  onInstrumentChanged(): void {}
}

/** Reference books from the frames alone: price string → size string. */
class Reference {
  readonly bids = new Map<string, Map<string, string>>();
  readonly asks = new Map<string, Map<string, string>>();
  apply(frame: string): { instId: string; checksum: number } {
    const msg = JSON.parse(frame) as { arg: { instId: string }; action: string; data: { bids: string[][]; asks: string[][]; checksum: number }[] };
    const id = msg.arg.instId;
    if (msg.action === "snapshot" || !this.bids.has(id)) {
      this.bids.set(id, new Map());
      this.asks.set(id, new Map());
    }
    for (const [side, levels] of [[this.bids.get(id)!, msg.data[0]!.bids], [this.asks.get(id)!, msg.data[0]!.asks]] as const) {
      for (const l of levels) if (/^0(\.0*)?$/.test(l[1]!)) side.delete(l[0]!); else side.set(l[0]!, l[1]!);
    }
    return { instId: id, checksum: msg.data[0]!.checksum };
  }
  sorted(instId: string, bid: boolean): string[][] {
    return [...(bid ? this.bids : this.asks).get(instId)!].sort((a, b) => (bid ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  }
}

function sameAsReference(b: BookBuilder, ref: Reference, instId: string, inst: Instrument): boolean {
  for (const bid of [true, false]) {
    const levels = ref.sorted(instId, bid);
    const count = bid ? b.bidCount : b.askCount;
    if (count !== levels.length) return false;
    for (let r = 0; r < count; r++) {
      const px = bid ? b.bidPriceAt(r) : b.askPriceAt(r);
      const qty = bid ? b.bidQtyAt(r) : b.askQtyAt(r);
      if (px !== parseFixed(levels[r]![0]!, inst.priceExp) || qty !== parseFixed(levels[r]![1]!, inst.qtyExp)) return false;
    }
  }
  return true;
}

describe("okx: the genuine recording through the adapter", () => {
  test("290 books messages: every book equals the reference after every message, every checksum verified", async () => {
    const { books } = okxRecordingFrames();
    expect(books.length).toBe(290);
    expect(books.filter((b) => b.frame.includes('"action":"snapshot"')).length).toBe(3);
    const { adapter, subs } = setup();
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new BuilderSink(instruments, adapter);
    adapter.startReplay(sink);
    const ref = new Reference();
    let independentChecksums = 0;
    for (const rec of books) {
      expect(adapter.ingestFrame(rec.instId === "BTC-USDT" ? "spot" : "inverse", "recorded", rec.frame, rec.tsRecvUs)).toBe(true);
      const { instId, checksum } = ref.apply(rec.frame);
      // The reference's own checksum, from the received strings: the algorithm, independently of the adapter.
      expect(checksumOfStrings(ref.sorted(instId, true), ref.sorted(instId, false))).toBe(checksum);
      independentChecksums++;
      const index = subs.findIndex((s) => s.symbol === instId);
      expect(sameAsReference(sink.builders[index]!, ref, instId, instruments[index]!)).toBe(true);
      expect(sink.builders[index]!.state).toBe(BookState.LIVE);
    }
    expect(independentChecksums).toBe(290);
    expect(sink.verified).toBe(290);
    expect(adapter.stats().checksumsVerified).toBe(290);
    expect(adapter.stats().checksumMismatches).toBe(0);
    expect(sink.invalid).toEqual([]);
  });

  test("the frames arrive on one connection with tickers and trades beside them: those are ignored in replay", async () => {
    const { all } = okxRecordingFrames();
    const { adapter } = setup();
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new BuilderSink(instruments, adapter);
    adapter.startReplay(sink);
    for (const r of all) adapter.ingestFrame("inverse", "recorded", r.frame, r.tsRecvUs);
    // The spot instrument is on the spot connection: its frames land on the inverse one here and are unknown there.
    expect(sink.builders[0]!.state).toBe(BookState.LIVE);
    expect(sink.builders[1]!.state).toBe(BookState.LIVE);
    expect(adapter.stats().parseErrors).toBe(0);
    expect(sink.invalid).toEqual([]);
  });

  test("one altered frame (a size changed, still valid JSON) fails its checksum: that book alone resyncs", async () => {
    const { books } = okxRecordingFrames();
    const { adapter, subs } = setup();
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new BuilderSink(instruments, adapter);
    adapter.startReplay(sink);
    // The 40th BTC-USDT update: its first level's size gains a digit.
    const target = books.filter((b) => b.instId === "BTC-USDT")[40]!;
    const altered = target.frame.replace(/(\["[\d.]+",")(\d)/, "$11$2");
    expect(altered).not.toBe(target.frame);
    const ref = new Reference();
    for (const rec of books) {
      const frame = rec === target ? altered : rec.frame;
      adapter.ingestFrame(rec.instId === "BTC-USDT" ? "spot" : "inverse", "recorded", frame, rec.tsRecvUs);
      ref.apply(rec.frame);
    }
    const spot = subs.findIndex((s) => s.symbol === "BTC-USDT");
    expect(sink.invalid).toEqual([{ index: spot, reason: StatusReason.CHECKSUM_MISMATCH }]);
    expect(sink.builders[spot]!.state).toBe(BookState.RESYNCING);
    for (let i = 0; i < subs.length; i++) {
      if (i === spot) continue;
      expect(sink.builders[i]!.state).toBe(BookState.LIVE);
      expect(sameAsReference(sink.builders[i]!, ref, subs[i]!.symbol, instruments[i]!)).toBe(true);
    }
    expect(adapter.stats().checksumMismatches).toBe(1);
  });
});
