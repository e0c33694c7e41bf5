/**
 * What a diff held during a Binance planned reconnect's overlap (src/venues/binance/overlap-hold.ts, at most HOLD_MAX
 * per stream) or buffered by a REST bridge (at most MAX_BUFFERED_DIFFS) keeps: copyUpdate sizes the copy to its
 * levels. A fresh BookUpdate has room for 1024 levels per side (32 KB): 100 held diffs of each of 200 streams were
 * 640 MB. Randomized against the source update; a copy still grows when levels are pushed onto it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BookState } from "../../../src/core/types.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import { bytesOfCopy, copyUpdate, DEFAULT_MAX_BUFFERED_BYTES } from "../../../src/venues/common/rest-bridge.ts";
import { splitBufferBudget } from "../../../src/venues/binance/options.ts";
import type { BinanceTopic } from "../../../src/venues/binance/connection.ts";
import { SUB_ACTIVE } from "../../../src/venues/binance/connection.ts";
import { HOLD_MAX, OverlapHold } from "../../../src/venues/binance/overlap-hold.ts";
import { splitByMarket } from "../../../src/venues/binance/market-bridges.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { parseConfigText } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";

function randomUpdate(bids: number, asks: number, seed: number): BookUpdate {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
  const u = new BookUpdate();
  u.venueSeq = next();
  u.tsExchangeUs = next();
  u.tsEventUs = next();
  u.tsRecvUs = next();
  u.isSnapshot = bids > 100;
  for (let i = 0; i < bids; i++) u.pushBid(next(), next());
  for (let i = 0; i < asks; i++) u.pushAsk(next(), next());
  return u;
}

describe("copyUpdate: a copy that outlives its frame is sized to its levels", () => {
  test("same content, arrays no longer than the larger side (at least 1), for diffs and snapshots of random sizes", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const bids = seed % 7 === 0 ? 0 : (seed * 37) % (seed % 10 === 0 ? 5000 : 20);
      const asks = (seed * 53) % (seed % 10 === 0 ? 3000 : 20);
      const u = randomUpdate(bids, asks, seed);
      const c = copyUpdate(u);
      const cap = Math.max(1, bids, asks);
      expect([c.bidPx.length, c.bidQty.length, c.askPx.length, c.askQty.length]).toEqual([cap, cap, cap, cap]);
      expect([c.venueSeq, c.tsExchangeUs, c.tsEventUs, c.tsRecvUs, c.isSnapshot, c.replace]).toEqual([u.venueSeq, u.tsExchangeUs, u.tsEventUs, u.tsRecvUs, u.isSnapshot, u.replace]);
      expect([c.bidCount, c.askCount]).toEqual([bids, asks]);
      expect([...c.bidPx.subarray(0, bids), ...c.bidQty.subarray(0, bids)]).toEqual([...u.bidPx.subarray(0, bids), ...u.bidQty.subarray(0, bids)]);
      expect([...c.askPx.subarray(0, asks), ...c.askQty.subarray(0, asks)]).toEqual([...u.askPx.subarray(0, asks), ...u.askQty.subarray(0, asks)]);
    }
  });

  test("an empty copy still takes levels pushed onto it (its arrays grow)", () => {
    const c = copyUpdate(new BookUpdate());
    for (let i = 0; i < 40; i++) {
      c.pushBid(i, i + 1);
      c.pushAsk(100 + i, i + 2);
    }
    expect([c.bidCount, c.askCount, c.bidPx[39], c.bidQty[39], c.askPx[39], c.askQty[39]]).toEqual([40, 40, 39, 40, 139, 41]);
  });
});

describe("OverlapHold: the held copies of all streams stay within its byte budget", () => {
  // Before, only HOLD_MAX (100) a stream bounded them, uncounted. Now a diff that does not fit is not held: ahead of a
  // live book a break (hold() false), for a bridged book buffered by the bridge (holdForBridge() false). Random holds,
  // drains, drops and overlap ends over 8 streams; after every step heldBytes is what the held copies take.
  test("3 seeds × 1500 random steps: heldBytes ≤ maxBytes and equal to the copies held; a diff that does not fit is never held", () => {
    for (const seed of [1, 2, 3]) {
      let x = seed;
      const int = (n: number) => {
        // mulberry32: the low bits of a plain LCG repeat too soon (ops and streams fell into lockstep)
        x = (x + 0x6d2b79f5) >>> 0;
        let z = Math.imul(x ^ (x >>> 15), x | 1);
        z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
        return (((z ^ (z >>> 14)) >>> 0) / 2 ** 32) * n | 0;
      };
      const conn = { fromRetiring: false, generation: 1, topics: [] as BinanceTopic[] };
      const topics = Array.from({ length: 8 }, (_, i) => ({ index: i, market: "spot", lastSeq: 1000, book: BookState.LIVE, sub: SUB_ACTIVE, onRetiring: true, resyncDelayed: false, conn }) as unknown as BinanceTopic);
      conn.topics.push(...topics);
      const maxBytes = 20_000;
      const o = new OverlapHold(
        {
          apply: (t, u) => void (t.lastSeq = u.venueSeq),
          breakStream: () => {},
          repeat: () => {},
          rebuffer: () => {},
        },
        maxBytes,
      );
      const held = (o as unknown as { held: Map<BinanceTopic, { update: BookUpdate }[]> }).held;
      const copies = () => [...held.values()].reduce((n, l) => n + l.reduce((m, h) => m + bytesOfCopy(h.update), 0), 0);
      let refusedOverBudget = 0;
      for (let step = 0; step < 1500; step++) {
        const t = topics[int(topics.length)]!;
        const op = int(20);
        if (op < 14) {
          const u = new BookUpdate();
          const first = t.lastSeq + 2 + int(5);
          u.venueSeq = first + int(3);
          for (let i = int(200); i > 0; i--) u.pushBid(i, 1);
          conn.fromRetiring = int(10) === 0;
          const before = o.heldBytes;
          const over = before + bytesOfCopy(u) > maxBytes;
          const r = t.book === BookState.LIVE ? o.hold(t, u, first, -1) : o.holdForBridge(t, u, first, -1);
          if (over && o.heldBytes > before) throw new Error(`step ${step}: held a diff over the budget`);
          if (over && !r) refusedOverBudget++;
        } else if (op < 16) {
          t.lastSeq += 1 + int(4); // the book moved on: what it has is dropped, what chains applies
          t.book = BookState.LIVE;
          o.afterDiff(t);
        } else if (op < 17) {
          t.book = BookState.RESYNCING;
          o.drop(t);
        } else if (op < 18) {
          o.overlapOver(conn as unknown as VenueConnection, (["replacement", "old", "none"] as const)[int(3)]!);
        } else {
          t.book = t.book === BookState.LIVE ? BookState.RESYNCING : BookState.LIVE;
        }
        if (o.heldBytes !== copies() || o.heldBytes > maxBytes) throw new Error(`seed ${seed} step ${step}: heldBytes ${o.heldBytes}, copies ${copies()}, budget ${maxBytes}`);
      }
      expect(refusedOverBudget).toBeGreaterThan(0);
      expect(o.overBudget).toBeGreaterThan(0);
      o.overlapOver(conn as unknown as VenueConnection, "none");
      expect([o.heldBytes, o.holding]).toEqual([0, 0]);
    }
  });
});

describe("OverlapHold sizing (docs/venues/binance.md): a quarter of the default budget against the recorded diffs", () => {
  // The documented figure: a full connection of 1,024 streams, each at HOLD_MAX with diffs of the recording's mean
  // copy size, fits in the hold's quarter of the default rest_bridge_buffer_bytes (HOLD_MAX binds first).
  test("1,024 streams × HOLD_MAX × the mean copy of the recorded USD-M diffs ≤ the hold's share of 256 MiB", () => {
    const lines = readFileSync(new URL("../../fixtures/cryptofeed/BINANCE_FUTURES.ws.1.0", import.meta.url), "utf8").split("\n");
    let copies = 0;
    let bytes = 0;
    for (const line of lines) {
      const i = line.indexOf("{");
      if (i < 0 || !line.includes('"depthUpdate"')) continue;
      const d = (JSON.parse(line.slice(i)) as { data: { b: unknown[]; a: unknown[] } }).data;
      const u = new BookUpdate();
      for (let k = 0; k < d.b.length; k++) u.pushBid(1 + k, 1);
      for (let k = 0; k < d.a.length; k++) u.pushAsk(1 + k, 1);
      copies++;
      bytes += bytesOfCopy(u);
    }
    expect(copies).toBeGreaterThan(500);
    const meanCopy = bytes / copies;
    expect(meanCopy).toBeGreaterThan(500); // the docs' 565 B
    expect(meanCopy).toBeLessThan(600);
    expect(1024 * HOLD_MAX * meanCopy).toBeLessThanOrEqual(splitBufferBudget(DEFAULT_MAX_BUFFERED_BYTES).holdBytes);
  });
});

describe("OverlapHold: each market's held copies within its own part of the hold's budget (as the bridges' and the refreshes')", () => {
  // Until s-binmisc one budget served spot and USD-M together: spot's overlaps (its connections reaching their age
  // together) took the room, and USD-M's diffs ahead of their books were breaks (resyncs) for spot's load.
  const host = { apply: () => {}, breakStream: () => {}, repeat: () => {}, rebuffer: () => {} };
  const topicOf = (index: number, market: "spot" | "linear", conn: object) =>
    ({ index, market, lastSeq: 1000, book: BookState.LIVE, sub: SUB_ACTIVE, onRetiring: true, resyncDelayed: false, conn }) as unknown as BinanceTopic;
  const diff = (seq: number, levels: number) => {
    const u = new BookUpdate();
    u.venueSeq = seq;
    for (let i = 0; i < levels; i++) u.pushBid(1 + i, 1);
    return u;
  };

  test("spot's part full: a USD-M diff ahead of its book is still held; USD-M's part full in turn, spot's is untouched", () => {
    const conn = { fromRetiring: false, generation: 1, topics: [] as BinanceTopic[] };
    const spot = topicOf(0, "spot", conn);
    const linear = topicOf(1, "linear", conn);
    conn.topics.push(spot, linear);
    const each = 10 * bytesOfCopy(diff(0, 20));
    const o = new OverlapHold(host, each); // a number: each market's part (the adapter's map: the test below)
    for (let seq = 1002; seq < 1012; seq++) expect(o.hold(spot, diff(seq, 20), seq, -1)).toBe(true);
    expect([o.overBudget, o.heldBytes]).toEqual([0, each]); // spot's part full
    // Before: refused (over the one shared budget: a break, USD-M's book resynced for spot's overlaps).
    for (let seq = 1005; seq < 1015; seq++) expect(o.hold(linear, diff(seq, 20), seq, seq - 1)).toBe(true);
    expect([o.overBudget, o.heldBytesOf("linear"), o.heldBytesOf("spot"), o.heldBytes]).toEqual([0, each, each, 2 * each]);
    // One more of either market passes its own part: not held (the stream's hold ends, a break), the other's kept.
    expect(o.hold(linear, diff(1015, 20), 1015, 1014)).toBe(false);
    expect([o.overBudget, o.heldBytesOf("linear"), o.heldBytesOf("spot"), o.heldBytes]).toEqual([1, 0, each, each]);
  });

  test("the adapter gives each market its part of the hold's quarter (splitByMarket, as the bridges')", () => {
    const config = parseConfigText('[venues.binance]\nrest_bridge_buffer_bytes = 8388608\n[venues.binance.spot]\nsymbols = ["AUSDT", "BUSDT", "CUSDT"]\n[venues.binance.linear]\nsymbols = ["DUSDT"]\n').venues[0]!;
    const subs = config.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
    const adapter = new BinanceAdapter(config, subs, { log: silentLogger });
    const overlap = (adapter as unknown as { overlap: OverlapHold }).overlap;
    const parts = splitByMarket(splitBufferBudget(8388608).holdBytes, new Map([["spot", 3], ["linear", 1]] as const));
    expect([overlap.maxBytesOf("spot"), overlap.maxBytesOf("linear")]).toEqual([parts.get("spot"), parts.get("linear")]);
    expect(parts.get("spot")! + parts.get("linear")!).toBeLessThanOrEqual(splitBufferBudget(8388608).holdBytes);
    expect(parts.get("linear")).toBeLessThan(parts.get("spot")!);
    // A configuration with one market: that market has the whole quarter, the other none.
    const spotOnly = parseConfigText('[venues.binance]\nrest_bridge_buffer_bytes = 8388608\n[venues.binance.spot]\nsymbols = ["AUSDT"]\n').venues[0]!;
    const one = new BinanceAdapter(spotOnly, [{ market: "spot", symbol: "AUSDT", depth: spotOnly.markets[0]!.depth }], { log: silentLogger });
    const hold = (one as unknown as { overlap: OverlapHold }).overlap;
    expect([hold.maxBytesOf("spot"), hold.maxBytesOf("linear")]).toEqual([splitBufferBudget(8388608).holdBytes, 0]);
  });
});
