/**
 * The genuine recordings replayed through the Binance adapter (startReplay + ingestFrame / ingestRest in receive
 * order), compared after every message with an independent reference that follows Binance's documented procedure
 * (recordings.ts): spot 4 symbols / 177 diffs and USD-M 4 / 764, each symbol bridging once, no chain break; one
 * altered frame resyncs that book alone.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { applyToMaps } from "../contract.ts";
import { loadRecording, ReferenceBook, stepOf, type Recording } from "./recordings.ts";
import { rng } from "../../support/mulberry32.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";

class MapSink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  snapshots = 0;
  deltas = 0;
  onBookUpdate(index: number, u: BookUpdate): void {
    if (u.isSnapshot) {
      this.snapshots++;
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    } else {
      if (!this.bids[index]) throw new Error(`delta before snapshot on ${index}`);
      this.deltas++;
    }
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
    this.asks[index] = undefined;
  }
  onInstrumentChanged(): void {}
}

function setup(rec: Recording, depth = 1000) {
  const subs: Subscription[] = rec.symbols.map((symbol) => ({ market: rec.market, symbol, depth }));
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:1",
    restUrl: "http://127.0.0.1:1",
    instrumentCachePath: "",
    markets: [{ market: rec.market, depth, symbols: rec.symbols }],
    overrides: new Map(rec.symbols.map((s) => [`${rec.market}:${s}`, { tickSize: stepOf(rec.exps.get(s)!.price), lotSize: stepOf(rec.exps.get(s)!.qty) }])),
  };
  const adapter = new BinanceAdapter(config, subs, { log: silentLogger });
  const refs = rec.symbols.map((s) => new ReferenceBook(rec.market, depth, rec.exps.get(s)!.price, rec.exps.get(s)!.qty));
  return { adapter, refs, subs };
}

async function replay(rec: Recording, alter?: (text: string, i: number) => string, depth = 1000) {
  const { adapter, refs } = setup(rec, depth);
  const instruments = (await adapter.loadInstruments()) as Instrument[];
  expect(instruments.every((i) => i !== undefined)).toBe(true);
  const sink = new MapSink();
  adapter.startReplay(sink);
  let diffs = 0;
  let compared = 0;
  rec.records.forEach((r, i) => {
    const text = alter ? alter(r.text, i) : r.text;
    if (r.url) {
      expect(adapter.ingestRest(rec.market, "conn0." + rec.market, r.url, text, r.tsRecvUs)).toBe(true);
      refs[rec.symbols.indexOf(/symbol=([A-Z0-9]+)/.exec(r.url)![1]!)]!.onSnapshot(JSON.parse(text));
    } else {
      expect(adapter.ingestFrame(rec.market, "conn0." + rec.market, text, r.tsRecvUs)).toBe(true);
      const msg = JSON.parse(text) as { stream: string; data: { e: string; s: string } & Parameters<ReferenceBook["onDiff"]>[0] };
      if (msg.data?.e === "depthUpdate") {
        diffs++;
        refs[rec.symbols.indexOf(msg.data.s)]!.onDiff(msg.data);
      }
    }
    // After every message: a valid book is exactly the reference's, and a book is valid exactly when the reference is live.
    refs.forEach((ref, k) => {
      expect(sink.bids[k] !== undefined, `${rec.symbols[k]} valid after record ${i}`).toBe(ref.live);
      if (ref.live) {
        expect(sink.bids[k]).toEqual(ref.bids);
        expect(sink.asks[k]).toEqual(ref.asks);
        compared++;
      }
    });
  });
  return { adapter, sink, refs, diffs, compared };
}

describe("Binance recordings through the adapter, against an independent reference after every message", () => {
  test("spot: 4 symbols, 177 diffs, each bridging once, no chain break", async () => {
    const rec = loadRecording("BINANCE");
    const { adapter, sink, refs, diffs, compared } = await replay(rec);
    expect(rec.symbols).toHaveLength(4);
    expect(diffs).toBe(177);
    expect(refs.map((r) => r.bridged)).toEqual([1, 1, 1, 1]);
    expect(refs.map((r) => r.breaks)).toEqual([0, 0, 0, 0]);
    const s = adapter.stats();
    expect(s.snapshots).toBe(4);
    expect(s.gaps).toBe(0);
    expect(s.parseErrors).toBe(0);
    expect(s.deltas).toBe(refs.reduce((n, r) => n + r.applied, 0));
    expect(sink.invalid).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  }, 120_000); // wall-clock bounds under load (5 s exceeded at load 12-16), not speed assertions

  test("USD-M: 4 symbols, 764 diffs, each bridging once by U ≤ lastUpdateId ≤ u, no pu break", async () => {
    const rec = loadRecording("BINANCE_FUTURES");
    const { adapter, sink, refs, diffs } = await replay(rec);
    expect(rec.symbols).toHaveLength(4);
    expect(diffs).toBe(764);
    expect(refs.map((r) => r.bridged)).toEqual([1, 1, 1, 1]);
    expect(refs.map((r) => r.breaks)).toEqual([0, 0, 0, 0]);
    const s = adapter.stats();
    expect(s.snapshots).toBe(4);
    expect(s.gaps).toBe(0);
    expect(s.parseErrors).toBe(0);
    expect(s.deltas).toBe(refs.reduce((n, r) => n + r.applied, 0));
    expect(sink.invalid).toEqual([]);
  }, 120_000);

  for (const name of ["BINANCE", "BINANCE_FUTURES"] as const) {
    test(`${name}: one altered frame (a diff lost from the chain) resyncs that book alone`, async () => {
      const rec = loadRecording(name);
      const sym = rec.symbols[0]!;
      // The 6th diff of the first symbol after its snapshot arrived: its U / pu moved one further on.
      const snapAt = rec.records.findIndex((r) => r.url?.includes(`symbol=${sym}&`));
      let seen = 0;
      const target = rec.records.findIndex((r, i) => i > snapAt && !r.url && r.text.includes(`"s":"${sym}"`) && r.text.includes("depthUpdate") && ++seen === 6);
      expect(target).toBeGreaterThan(0);
      const alter = (text: string, i: number) =>
        i !== target ? text : rec.market === "spot" ? text.replace(/"U":(\d+)/, (_, v: string) => `"U":${Number(v) + 1}`) : text.replace(/"pu":(\d+)/, (_, v: string) => `"pu":${Number(v) - 1}`);
      const { adapter, sink, refs } = await replay(rec, alter);
      expect(refs[0]!.breaks).toBe(1);
      expect(refs.slice(1).map((r) => r.breaks)).toEqual([0, 0, 0]);
      expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
      expect(adapter.stats().gaps).toBe(1);
    });
  }

  test("a recorded depth URL whose symbol is not well-formed percent-encoding is skipped, not thrown; the replay goes on", async () => {
    // A damaged or hand-made capture: decodeURIComponent threw a URIError out of ingestRest, ending the whole replay.
    const rec = loadRecording("BINANCE");
    const { adapter } = setup(rec);
    await adapter.loadInstruments();
    const sink = new MapSink();
    adapter.startReplay(sink);
    const snap = rec.records.find((r) => r.url)!;
    for (const bad of ["%E5%B8", "%", "BTC%ZZUSDT"]) {
      expect(adapter.ingestRest(rec.market, "conn0." + rec.market, snap.url!.replace(/symbol=[^&]+/, `symbol=${bad}`), snap.text, snap.tsRecvUs)).toBe(false);
    }
    expect(adapter.ingestRest(rec.market, "conn0." + rec.market, snap.url!, snap.text, snap.tsRecvUs)).toBe(true);
  });

  test("levels beyond the snapshot's depth are not kept: a depth-5 snapshot side bounds the book to its price range", async () => {
    const rec = loadRecording("BINANCE_FUTURES");
    // The recording's snapshots cut to 5 levels a side, as `limit=5` would have answered.
    const cut = (text: string, i: number) => {
      const r = rec.records[i]!;
      if (!r.url) return text;
      const m = JSON.parse(text) as { bids: unknown[]; asks: unknown[] };
      return JSON.stringify({ ...m, bids: m.bids.slice(0, 5), asks: m.asks.slice(0, 5) });
    };
    const rec5: Recording = { ...rec, records: rec.records.map((r) => (r.url ? { ...r, url: r.url.replace("limit=1000", "limit=5") } : r)) };
    const { adapter, refs } = await replay(rec5, cut, 5);
    expect(refs.map((r) => r.bridged)).toEqual([1, 1, 1, 1]);
    // Diffs did touch prices past the 5th level; they were dropped, not added to a book that cannot know them.
    expect(adapter.stats().levelsBeyondDepth).toBeGreaterThan(0);
    const [b] = [...refs[0]!.bids.keys()].sort((x, y) => x - y);
    expect(b).toBeGreaterThan(0);
  });
});

describe("USD-M bridging against a model of the pu chain (randomized): pu = lastUpdateId continues the snapshot", () => {
  // Binance's USD-M rule takes as the first diff the one with U ≤ lastUpdateId ≤ u. A snapshot stamped with the u of
  // the event just before the first buffered diff (a REST book one event behind the stream, or the buffer begun right
  // after that event) is continued exactly by the first buffered diff, whose pu is that u: until s-binleft it was
  // refused (no_bridge), a resync and one more snapshot. A snapshot the buffered chain does not continue (older than
  // the event before it, inside a gap between events) must never bridge: it would skip an update.
  test("150 chains: LIVE exactly when the snapshot is a state the buffered diffs continue, then the model's book", async () => {
    const r = rng(20261207);
    const int = (n: number) => Math.floor(r() * n);
    const cases = 150;
    const symbols = Array.from({ length: cases }, (_, i) => `R${i}USDT`);
    const rec: Recording = { market: "linear", symbols, records: [], exps: new Map(symbols.map((s) => [s, { price: 0, qty: 0 }])) };
    const { adapter } = setup(rec);
    await adapter.loadInstruments();
    const sink = new MapSink();
    adapter.startReplay(sink);
    type Level = [string, string];
    type Event = { U: number; u: number; pu: number; b: Level[]; a: Level[] };
    const apply = (book: { bids: Map<number, number>; asks: Map<number, number> }, side: "b" | "a", [p, q]: Level) => {
      const m = side === "b" ? book.bids : book.asks;
      if (q === "0") m.delete(Number(p));
      else m.set(Number(p), Number(q));
    };
    const copy = (b: { bids: Map<number, number>; asks: Map<number, number> }) => ({ bids: new Map(b.bids), asks: new Map(b.asks) });
    const levels = (lo: number) => Array.from({ length: int(3) }, (): Level => [String(lo + int(8)), String(int(4))]);
    const seen = { puBridges: 0, insideBridges: 0, refused: 0 };
    for (let c = 0; c < cases; c++) {
      const sym = symbols[c]!;
      // The chain: pu = the previous u, U right after it or jumping (ids of other books), u = U or further.
      const events: Event[] = [];
      const pu0 = 1000 + int(5);
      for (let k = 0, prev = pu0; k < 6; k++) {
        const U = prev + 1 + (r() < 0.5 ? 0 : 1 + int(3));
        const e = { U, u: U + int(4), pu: prev, b: levels(1), a: levels(11) };
        events.push(e);
        prev = e.u;
      }
      // The model: the book after each event (states[k]: after events 0..k-1).
      const states = [{ bids: new Map([[1, 1], [2, 2]]), asks: new Map([[11, 1], [12, 2]]) }];
      for (const e of events) {
        const next = copy(states[states.length - 1]!);
        for (const l of e.b) apply(next, "b", l);
        for (const l of e.a) apply(next, "a", l);
        states.push(next);
      }
      const s = int(events.length - 1); // the first buffered diff
      const last = events[events.length - 1]!;
      const L = r() < 0.35 ? events[s]!.pu : pu0 - 2 + int(last.u - pu0 + 3);
      // The snapshot's book at L: before the chain an older one (a level no event touches); inside an event, the
      // book before it with a part of its changes (absolute sizes: applying the whole event again gives the book after).
      const inside = events.findIndex((e) => e.U <= L && L <= e.u);
      let snap: { bids: Map<number, number>; asks: Map<number, number> };
      if (L < pu0) snap = { bids: new Map([...states[0]!.bids, [9, 7]]), asks: new Map(states[0]!.asks) };
      else if (inside >= 0 && L === events[inside]!.u) snap = copy(states[inside + 1]!);
      else if (inside >= 0) {
        snap = copy(states[inside]!);
        const e = events[inside]!;
        const changes = [...e.b.map((l) => ["b", l] as const), ...e.a.map((l) => ["a", l] as const)];
        for (const [side, l] of changes.slice(0, int(changes.length + 1))) apply(snap, side, l);
      } else snap = copy(states[events.filter((e) => e.u < L).length]!);
      // A state the buffered diffs continue: inside (or at the end of) a buffered event, or at the end of the event
      // just before the first buffered one (its pu).
      const continues = events.some((e, k) => k >= s && e.U <= L && L <= e.u) || L === events[s]!.pu;
      const frame = (e: Event) => JSON.stringify({ stream: `${sym.toLowerCase()}@depth@100ms`, data: { e: "depthUpdate", E: 1700000000000, T: 1700000000000, s: sym, ...e } });
      const side = (m: Map<number, number>, desc: boolean) => [...m].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])).map(([p, q]) => [String(p), String(q)]);
      const body = JSON.stringify({ lastUpdateId: L, E: 1700000000000, T: 1700000000000, bids: side(snap.bids, true), asks: side(snap.asks, false) });
      const fed = events.slice(s);
      const snapAfter = 1 + int(fed.length); // the REST answer after this many buffered diffs
      fed.forEach((e, i) => {
        expect(adapter.ingestFrame("linear", "conn0.linear", frame(e), 1)).toBe(true);
        if (i + 1 === snapAfter) expect(adapter.ingestRest("linear", "conn0.linear", `/fapi/v1/depth?symbol=${sym}&limit=1000`, body, 1)).toBe(true);
      });
      const what = `case ${c}: U..u/pu ${events.map((e) => `${e.U}..${e.u}/${e.pu}`).join(" ")}, first buffered ${s}, lastUpdateId ${L}`;
      expect(adapter.topicInfo(c).state === "live", what).toBe(continues);
      if (continues) {
        expect(sink.bids[c], what).toEqual(states[events.length]!.bids);
        expect(sink.asks[c], what).toEqual(states[events.length]!.asks);
        if (L === events[s]!.pu) seen.puBridges++;
        else seen.insideBridges++;
      } else seen.refused++;
    }
    expect(adapter.stats().gaps).toBe(0);
    // Each way taken many times (the seed is fixed: these are what it draws).
    expect(seen.puBridges).toBeGreaterThan(20);
    expect(seen.insideBridges).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });
});
