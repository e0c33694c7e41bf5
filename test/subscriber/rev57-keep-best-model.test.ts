/**
 * keepBest (a side over a cap of 65,535 or more keeps its best `cap` levels, known down to the last of them) checked
 * against a reference model through random deltas, after b0cd734 changed how the extra levels are dropped (the worst
 * one while over the cap, instead of a list of them). The publisher's book is deeper than the wire's 65,535, so the
 * subscriber's sides start at the cut and every level added above the floor goes over the cap. Deltas land near the
 * best and near each side's floor: levels added (several in one delta, so more than one is dropped), removed (at the
 * cap too), changed, and below the floor (ignored). The model: each side is the publisher's levels at or better than
 * its floor; over the cap, its best `cap` are kept and the floor becomes the last of them. After every delta the
 * subscriber's sides, counts and floors equal the model's; a final refresh finds nothing to repair.
 * Caps: 65,535 (the default) and 65,542 (a larger one, configurable: the snapshot still cut at 65,535).
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE } from "../../src/wire/layout.ts";
import { randInt, rng, type TestBook } from "../wire/helpers.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

const MAX = MAX_SNAPSHOT_LEVELS_PER_SIDE;
const BEST_BID = 999_999;
const STEPS = 120;

/** One side of the model: `better(a, b)` when a is the better price; the floor is the worst price known. */
interface ModelSide {
  floor: number;
  readonly better: (a: number, b: number) => boolean;
}

/** The publisher's levels of one side at or better than the model's floor, best first, trimmed to `cap`. */
function modelLevels(levels: Map<number, number>, side: ModelSide, cap: number): [number, number][] {
  const known = [...levels].filter(([px]) => px === side.floor || side.better(px, side.floor));
  known.sort(([a], [b]) => (side.better(a, b) ? -1 : 1));
  if (known.length > cap) {
    known.length = cap;
    side.floor = known[cap - 1]![0];
  }
  return known;
}

/** Random changes around the best and around each side's floor: adds between levels, removals, changes, some below the floor. */
function randomDelta(cs: ChangeSet, r: () => number, pub: TestBook, bidFloor: number, askCeil: number): void {
  cs.clear();
  const used = new Set<string>();
  for (let n = randInt(r, 1, 24); n > 0; n--) {
    const bid = r() < 0.5;
    const nearFloor = r() < 0.5;
    const px = bid
      ? nearFloor ? bidFloor + randInt(r, -6, 12) : BEST_BID - randInt(r, 0, 40)
      : nearFloor ? askCeil - randInt(r, -6, 12) : BEST_BID + 2 + randInt(r, 0, 40);
    const key = `${bid}:${px}`;
    if (px <= 0 || used.has(key)) continue;
    used.add(key);
    const exists = (bid ? pub.bids : pub.asks).has(px);
    const qty = exists && r() < 0.4 ? 0 : randInt(r, 1, 1000);
    if (bid) cs.addBid(px, qty);
    else cs.addAsk(px, qty);
  }
}

for (const cap of [MAX, MAX + 7]) {
  it(`cap ${cap}: random deltas near the best and the floors, both sides equal the model after each`, () => {
    const r = rng(57 + cap);
    const pub = deepBook(MAX + 30, 2, BEST_BID); // 2 ticks apart: room for levels added in between
    const p = packer();
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 0, false); // cut at the wire's 65,535
    sub = newSubscriber({ maxLevelsPerSide: cap });
    for (const d of take(p)) sub.ingest(d, T0);
    const sb = sub.book(pub.instrument.instrumentId)!;
    expect([sb.bidCount, sb.askCount, sb.usable]).toEqual([MAX, MAX, true]);
    const bids: ModelSide = { floor: pub.bidPriceAt(MAX - 1), better: (a, b) => a > b };
    const asks: ModelSide = { floor: pub.askPriceAt(MAX - 1), better: (a, b) => a < b };
    expect([sb.bidFloorPx, sb.askCeilPx]).toEqual([bids.floor, asks.floor]);

    const cs = new ChangeSet();
    let trimmed = 0;
    let removedAtCap = 0;
    for (let step = 0; step < STEPS; step++) {
      const atCap = sb.bidCount === cap || sb.askCount === cap;
      randomDelta(cs, r, pub, bids.floor, asks.floor);
      pub.apply(cs, step + 2, T0 + step + 1);
      packBookDelta(p, pub, cs);
      const before = sub.counters.levelsOverCap;
      for (const d of take(p, T0 + step + 1)) sub.ingest(d, T0 + step + 1);
      if (sub.counters.levelsOverCap > before) trimmed++;
      const wantBids = modelLevels(pub.bids, bids, cap);
      const wantAsks = modelLevels(pub.asks, asks, cap);
      if (atCap && (sb.bidCount < cap || sb.askCount < cap)) removedAtCap++;
      const where = `step ${step}`;
      expect([where, sb.valid, sb.usable]).toEqual([where, true, true]);
      expect([where, sb.bidCount, sb.askCount]).toEqual([where, wantBids.length, wantAsks.length]);
      expect([where, sb.bidFloorPx, sb.askCeilPx]).toEqual([where, bids.floor, asks.floor]);
      for (let i = 0; i < wantBids.length; i++) {
        if (sb.bidPriceAt(i) !== wantBids[i]![0] || sb.bidQtyAt(i) !== wantBids[i]![1]) expect(`${where} bid rank ${i}: ${sb.bidPriceAt(i)} × ${sb.bidQtyAt(i)}`).toBe(`${where} bid rank ${i}: ${wantBids[i]![0]} × ${wantBids[i]![1]}`);
      }
      for (let i = 0; i < wantAsks.length; i++) {
        if (sb.askPriceAt(i) !== wantAsks[i]![0] || sb.askQtyAt(i) !== wantAsks[i]![1]) expect(`${where} ask rank ${i}: ${sb.askPriceAt(i)} × ${sb.askQtyAt(i)}`).toBe(`${where} ask rank ${i}: ${wantAsks[i]![0]} × ${wantAsks[i]![1]}`);
      }
    }
    // The run went where it was meant to: over the cap many times, and a removal with a side at the cap.
    expect(trimmed).toBeGreaterThan(STEPS / 10);
    expect(removedAtCap).toBeGreaterThan(0);

    packBookSnapshot(p, pub, 0, true);
    for (const d of take(p, T0 + STEPS + 1)) sub.ingest(d, T0 + STEPS + 1);
    expect([sb.usable, sb.repairs]).toEqual([true, 0]);
  }, 180_000);
}
