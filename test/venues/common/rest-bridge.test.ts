/**
 * Resync kind rest_snapshot (src/venues/common/rest-bridge.ts) with Binance spot's bridging rule
 * (U ≤ lastUpdateId + 1 ≤ u): covered diffs dropped, the snapshot and the rest delivered in order; a snapshot the
 * diffs already start after (kept bridging for the next one), or a refused one, fails the attempt; a snapshot before
 * any diff waits for one.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { MAX_BUFFERED_DIFFS, RestBridge } from "../../../src/venues/common/rest-bridge.ts";

class NoConnection extends VenueConnection {
  bindMessages(): void {}
}

function diff(first: number, last: number, px: number): BookUpdate {
  const u = new BookUpdate();
  u.venueSeq = last;
  u.pushBid(px, first);
  return u;
}

function setup(snapshot: () => Promise<number>) {
  const t = new TopicState(0, "spot", "BTCUSDT", 1000, "btcusdt@depth", new NoConnection(0, "spot", "ws://127.0.0.1:1/"));
  const delivered: string[] = [];
  const failed: string[] = [];
  let resolveFetch: (() => void) | undefined;
  const fetched = new Promise<void>((r) => (resolveFetch = r));
  const bridge = new RestBridge({
    fetchSnapshot: async (_t, into) => {
      into.isSnapshot = true;
      const seq = await snapshot();
      into.venueSeq = seq;
      resolveFetch!();
      return seq;
    },
    bridges: (snapSeq, d) => d.first <= snapSeq + 1 && snapSeq + 1 <= d.last,
    deliver: (_t, u) => void delivered.push(u.isSnapshot ? `snapshot@${u.venueSeq}` : `diff@${u.venueSeq}`),
    fail: (_t, why) => void failed.push(why),
  });
  return { t, bridge, delivered, failed, fetched };
}

describe("RestBridge (rest_snapshot resync)", () => {
  test("diffs covered by the snapshot are dropped; the snapshot and the rest go out in order", async () => {
    let release!: (seq: number) => void;
    const { t, bridge, delivered, failed } = setup(() => new Promise<number>((r) => (release = r)));
    bridge.begin(t);
    expect(bridge.isBridging(t)).toBe(true);
    bridge.buffer(t, diff(1, 5, 100), { first: 1, last: 5 });
    bridge.buffer(t, diff(6, 9, 101), { first: 6, last: 9 });
    bridge.buffer(t, diff(10, 12, 102), { first: 10, last: 12 });
    release(7); // lastUpdateId 7: 1..5 covered, 6..9 bridges (6 ≤ 8 ≤ 9)
    await new Promise((r) => setTimeout(r, 0));
    expect(delivered).toEqual(["snapshot@7", "diff@9", "diff@12"]);
    expect(failed).toEqual([]);
    expect(bridge.isBridging(t)).toBe(false);
  });

  test("a snapshot before any diff that reaches past it waits for one", async () => {
    const { t, bridge, delivered, fetched } = setup(() => Promise.resolve(20));
    bridge.begin(t);
    await fetched;
    await new Promise((r) => setTimeout(r, 0));
    bridge.buffer(t, diff(15, 20, 1), { first: 15, last: 20 }); // covered
    expect(delivered).toEqual([]);
    bridge.buffer(t, diff(21, 23, 2), { first: 21, last: 23 });
    expect(delivered).toEqual(["snapshot@20", "diff@23"]);
  });

  test("a snapshot the diffs already start after does not bridge; a refused one fails; both are counted", async () => {
    const a = setup(() => Promise.resolve(3));
    a.bridge.begin(a.t);
    a.bridge.buffer(a.t, diff(10, 12, 1), { first: 10, last: 12 });
    await a.fetched;
    await new Promise((r) => setTimeout(r, 0));
    expect(a.failed).toEqual(["no_bridge"]);
    expect(a.delivered).toEqual([]);
    expect(a.bridge.noBridge).toBe(1);
    const b = setup(() => Promise.reject(new Error("HTTP 429")));
    b.bridge.begin(b.t);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.failed).toEqual(["refused"]);
    expect(b.bridge.refused).toBe(1);
    expect(b.bridge.isBridging(b.t)).toBe(false);
  });

  test("a snapshot older than the buffered diffs keeps them bridging for the next snapshot (Binance step 4: 'go back to step 3'; before: dropped)", () => {
    const { t, bridge, delivered, failed } = setup(() => new Promise<number>(() => {}));
    bridge.begin(t, false);
    bridge.buffer(t, diff(10, 12, 1), { first: 10, last: 12 });
    const old = new BookUpdate();
    old.isSnapshot = true;
    old.venueSeq = 5;
    expect(bridge.supply(t, old, 5)).toBe(true); // lastUpdateId 5 < U 10 - 1: older than the diffs
    expect(failed).toEqual(["no_bridge"]);
    expect(bridge.isBridging(t)).toBe(true);
    bridge.buffer(t, diff(13, 14, 2), { first: 13, last: 14 });
    expect(delivered).toEqual([]); // no snapshot to bridge until the next one
    const fresh = new BookUpdate();
    fresh.isSnapshot = true;
    fresh.venueSeq = 11;
    expect(bridge.supply(t, fresh, 11)).toBe(true); // 10 ≤ 12 ≤ 12: the kept diff bridges it
    expect(delivered).toEqual(["snapshot@11", "diff@12", "diff@14"]);
    expect(bridge.isBridging(t)).toBe(false);
  });

  // Before, a bridge begun with a fetch that did not bridge stayed bridging with its buffer, though nothing would ever
  // fetch it another snapshot (only supply() could): its diffs kept, its book RESYNCING, until 10,000 diffs or the budget.
  test("begun with a fetch, a snapshot that does not bridge ends the bridge (nothing would fetch the next): its bytes freed", async () => {
    const a = setup(() => Promise.resolve(3));
    a.bridge.begin(a.t);
    a.bridge.buffer(a.t, diff(10, 12, 1), { first: 10, last: 12 });
    await a.fetched;
    await new Promise((r) => setTimeout(r, 0));
    expect(a.failed).toEqual(["no_bridge"]);
    expect(a.bridge.isBridging(a.t)).toBe(false);
    expect(a.bridge.bufferedBytes).toBe(0);
  });

  test("the buffer is bounded: one diff past MAX_BUFFERED_DIFFS without a usable snapshot fails the attempt (overflow)", () => {
    const { t, bridge, failed } = setup(() => new Promise<number>(() => {})); // a snapshot that never comes
    bridge.begin(t);
    const u = diff(1, 1, 100);
    for (let i = 1; i <= MAX_BUFFERED_DIFFS; i++) bridge.buffer(t, u, { first: i, last: i });
    expect(failed).toEqual([]);
    expect(bridge.isBridging(t)).toBe(true);
    bridge.buffer(t, u, { first: MAX_BUFFERED_DIFFS + 1, last: MAX_BUFFERED_DIFFS + 1 });
    expect(failed).toEqual(["overflow"]);
    expect(bridge.isBridging(t)).toBe(false);
  });

  test("cancel drops a late snapshot", async () => {
    const { t, bridge, delivered, fetched } = setup(() => Promise.resolve(1));
    bridge.begin(t);
    bridge.cancel(t);
    await fetched;
    await new Promise((r) => setTimeout(r, 0));
    bridge.buffer(t, diff(2, 3, 1), { first: 2, last: 3 });
    expect(delivered).toEqual([]);
  });

  test("supply: a snapshot handed over synchronously (replay) bridges without a fetch; a venue's covered rule keeps the bridging diff", () => {
    const delivered: string[] = [];
    const failed: string[] = [];
    const t = new TopicState(0, "linear", "BTCUSDT", 1000, "btcusdt@depth@100ms", new NoConnection(0, "linear", "ws://127.0.0.1:1/"));
    // Binance USD-M: drop u < lastUpdateId, bridge with U ≤ lastUpdateId ≤ u.
    const bridge = new RestBridge({
      fetchSnapshot: () => Promise.reject(new Error("replay fetches nothing")),
      bridges: (snapSeq, d) => d.first <= snapSeq && snapSeq <= d.last,
      covered: (snapSeq, d) => d.last < snapSeq,
      deliver: (_t, u) => void delivered.push(u.isSnapshot ? `snapshot@${u.venueSeq}` : `diff@${u.venueSeq}`),
      fail: (_t, why) => void failed.push(why),
    });
    bridge.begin(t, false);
    bridge.buffer(t, diff(1, 4, 1), { first: 1, last: 4 });
    bridge.buffer(t, diff(5, 9, 2), { first: 5, last: 9 });
    const snap = new BookUpdate();
    snap.isSnapshot = true;
    snap.venueSeq = 9;
    expect(bridge.supply(t, snap, 9)).toBe(true);
    // The default rule (last ≤ snapSeq) would have dropped 5..9 and waited for a diff past it.
    expect(delivered).toEqual(["snapshot@9", "diff@9"]);
    expect(failed).toEqual([]);
    expect(bridge.supply(t, snap, 9)).toBe(false);
  });
});
