/**
 * keepBest (a side over a cap of 65,535 or more keeps its best `cap` levels, known down to the last of them) checked
 * against a reference model through random deltas, after b0cd734 changed how the extra levels are dropped (the worst
 * one while over the cap, instead of a list of them). The publisher's book is deeper than the wire's 65,535, so the
 * subscriber's sides start at the cut and every level added above the floor goes over the cap. Deltas land near the
 * best and near each side's floor: levels added (several in one delta, so more than one is dropped), removed (at the
 * cap too), changed, and below the floor (ignored). The model: each side is the publisher's levels at or better than
 * its floor; over the cap, its best `cap` are kept and the floor becomes the last of them. After every delta the
 * subscriber's sides, counts and floors equal the model's; a final refresh finds nothing to repair. The model is kept
 * from delta to delta (updateModel), checked against one built from scratch (modelLevels) every 15 steps.
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
/** How often the kept model is checked against the one built from scratch (and at the last step). */
const CROSS_CHECK_EVERY = 15;

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

/**
 * The same model kept from one delta to the next (modelLevels sorts 65,000 levels a side: ~25 ms of CPU a side and
 * a step, most of this file's time): `prices` holds the publisher's prices at or better than the floor, best first.
 * A delta changes that set only at the prices it names (the floor moves only by the trim), so each is put in or taken
 * out by a binary search; then the same trim to `cap`. A level's qty is the publisher's at that price. Checked
 * against modelLevels every CROSS_CHECK_EVERY steps.
 */
function updateModel(prices: number[], levels: Map<number, number>, side: ModelSide, changed: Iterable<number>, cap: number): void {
  for (const px of changed) {
    if (px !== side.floor && !side.better(px, side.floor)) continue; // below the floor: ignored
    let lo = 0;
    let hi = prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (side.better(prices[mid]!, px)) lo = mid + 1;
      else hi = mid;
    }
    const present = prices[lo] === px;
    if (levels.has(px) && !present) prices.splice(lo, 0, px);
    else if (!levels.has(px) && present) prices.splice(lo, 1);
  }
  if (prices.length > cap) {
    prices.length = cap;
    side.floor = prices[cap - 1]!;
  }
}

/** Where the kept model's prices (qtys the publisher's) first differ from `full`'s levels ("none": equal), fast for 65,000. */
function firstDifference(prices: number[], levels: Map<number, number>, full: [number, number][]): string {
  for (let i = 0; i < Math.max(prices.length, full.length); i++) {
    if (prices[i] !== full[i]?.[0] || levels.get(prices[i]!) !== full[i]?.[1]) return `rank ${i}: ${prices[i]} × ${levels.get(prices[i]!)} against ${full[i]?.join(" × ")}`;
  }
  return "none";
}

/** The prices a change set names on one side. */
function changedPrices(px: ArrayLike<number>, count: number): number[] {
  return Array.from({ length: count }, (_, i) => px[i]!);
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

    const bidPrices = modelLevels(pub.bids, { ...bids }, cap).map(([px]) => px);
    const askPrices = modelLevels(pub.asks, { ...asks }, cap).map(([px]) => px);
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
      const crossCheck = step % CROSS_CHECK_EVERY === 0 || step === STEPS - 1;
      const fullBidSide = { ...bids };
      const fullAskSide = { ...asks };
      const fullBids = crossCheck ? modelLevels(pub.bids, fullBidSide, cap) : undefined;
      const fullAsks = crossCheck ? modelLevels(pub.asks, fullAskSide, cap) : undefined;
      updateModel(bidPrices, pub.bids, bids, changedPrices(cs.bidPx, cs.bidCount), cap);
      updateModel(askPrices, pub.asks, asks, changedPrices(cs.askPx, cs.askCount), cap);
      if (crossCheck) {
        expect([`step ${step}`, firstDifference(bidPrices, pub.bids, fullBids!), firstDifference(askPrices, pub.asks, fullAsks!)]).toEqual([`step ${step}`, "none", "none"]);
        expect([bids.floor, asks.floor]).toEqual([fullBidSide.floor, fullAskSide.floor]);
      }
      if (atCap && (sb.bidCount < cap || sb.askCount < cap)) removedAtCap++;
      const where = `step ${step}`;
      expect([where, sb.valid, sb.usable]).toEqual([where, true, true]);
      expect([where, sb.bidCount, sb.askCount]).toEqual([where, bidPrices.length, askPrices.length]);
      expect([where, sb.bidFloorPx, sb.askCeilPx]).toEqual([where, bids.floor, asks.floor]);
      for (let i = 0; i < bidPrices.length; i++) {
        const px = bidPrices[i]!;
        if (sb.bidPriceAt(i) !== px || sb.bidQtyAt(i) !== pub.bids.get(px)) expect(`${where} bid rank ${i}: ${sb.bidPriceAt(i)} × ${sb.bidQtyAt(i)}`).toBe(`${where} bid rank ${i}: ${px} × ${pub.bids.get(px)}`);
      }
      for (let i = 0; i < askPrices.length; i++) {
        const px = askPrices[i]!;
        if (sb.askPriceAt(i) !== px || sb.askQtyAt(i) !== pub.asks.get(px)) expect(`${where} ask rank ${i}: ${sb.askPriceAt(i)} × ${sb.askQtyAt(i)}`).toBe(`${where} ask rank ${i}: ${px} × ${pub.asks.get(px)}`);
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
