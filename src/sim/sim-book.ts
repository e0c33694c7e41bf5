/**
 * The simulator's true order book for one symbol: integer price mantissas in sorted arrays around a mean-reverting
 * fair price (fair-value.ts), a spread of a few ticks, depth that refills, bursts of level changes, levels entering
 * and leaving any top-N window. It looks like a market for any run length. Cold code (a test tool), kept simple.
 * @module
 */
import { exponentOf, formatFixed, MAX_MANTISSA, parseFixed, parseFixedCodes } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import { FairValue } from "./fair-value.ts";
import type { Rng } from "./rng.ts";
import { DEFAULT_STEP_S, maxSpreadTicks, type SymbolSpec } from "./sim-spec.ts";

export { DEFAULT_STEP_S, defaultSpec, maxSpreadTicks, type SymbolSpec } from "./sim-spec.ts";

/** Chance per step that a side whose best level is behind its target quote gets a new best (the spread breathes). */
const QUOTE_PROBABILITY = 0.6;

/**
 * Most decimals a simulated tick or lot step may have. Mantissas are safe integers (below 2^53 ≈ 9.007 × 10^15,
 * src/core/fixed.ts) and the wire carries them as i64 with an i8 exponent, so the binding limit is 2^53: with more
 * than 15 decimals not even a size or price of 1.0 has a mantissa (10^16 > 2^53). Below MAX_FIXED_EXP (22).
 */
export const MAX_SIM_STEP_DECIMALS = 15;

/**
 * Largest price or size mantissa a changed book may start with: 2^53 − 1 with room for the book to walk 100×
 * (prices move, sizes are redrawn) before a mantissa could leave the safe range.
 */
export const MAX_SIM_BOOK_MANTISSA = Math.floor(MAX_MANTISSA / 100);

/** A tick or lot size the simulator cannot use; `field` names it (tickSize or lotSize). */
export class SimSpecError extends Error {
  constructor(
    readonly field: "tickSize" | "lotSize",
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/**
 * The exponent of a tick or lot step after checking it: a positive plain decimal ("0.01", "5"; no sign, no
 * exponent form), at most MAX_SIM_STEP_DECIMALS decimals, whose mantissa at that exponent is below 2^53.
 * Throws SimSpecError naming the field.
 */
export function stepExponent(step: string, field: "tickSize" | "lotSize"): number {
  if (typeof step !== "string" || !/^\d+(\.\d+)?$/.test(step)) throw new SimSpecError(field, `must be a positive decimal string like "0.01", got ${JSON.stringify(step)}`);
  let exp: number;
  try {
    exp = exponentOf(step);
  } catch (err) {
    throw new SimSpecError(field, `${JSON.stringify(step)}: ${(err as Error).message}`);
  }
  if (exp > MAX_SIM_STEP_DECIMALS) throw new SimSpecError(field, `${JSON.stringify(step)} has ${exp} decimals (at most ${MAX_SIM_STEP_DECIMALS}: 10^${exp} is above 2^53)`);
  const m = parseFixedCodes(step, 0, step.length, exp);
  if (m < 0) throw new SimSpecError(field, `${JSON.stringify(step)} × 10^${exp} is above 2^53 − 1`);
  return exp;
}

/** Why a candidate book cannot be published (a SimSpecError), or null when every mantissa fits and both sides have levels. */
function checkLevels(next: { bids: number[]; asks: number[]; bidQty: Map<number, number>; askQty: Map<number, number> }, tickM: number, spec: SymbolSpec): SimSpecError | null {
  if (next.bids.length === 0 || next.asks.length === 0) return new SimSpecError("tickSize", `${spec.tickSize} leaves no bid below the price (the tick must be below the mid)`);
  const fits = (m: number) => Number.isSafeInteger(m) && m > 0 && m <= MAX_SIM_BOOK_MANTISSA;
  for (const side of [next.bids, next.asks]) {
    for (const p of side) {
      if (!fits(p) || !fits(tickM)) return new SimSpecError("tickSize", `${spec.tickSize}: the book's prices would need mantissas above ${MAX_SIM_BOOK_MANTISSA} (2^53 / 100)`);
    }
  }
  for (const sizes of [next.bidQty, next.askQty]) {
    for (const q of sizes.values()) {
      if (!fits(q)) return new SimSpecError("lotSize", `${spec.lotSize}: the book's sizes would need mantissas above ${MAX_SIM_BOOK_MANTISSA} (2^53 / 100)`);
    }
  }
  return null;
}

/** One side of a window, best first. */
export interface Levels {
  px: number[];
  qty: number[];
}

/**
 * The changes from `prev` to `next` (both best first), best first: changed or new levels with their size, and
 * levels that left with size 0 (Bybit's explicit "0" when a level drops out of the top N, docs/venues/bybit.md §4.4).
 * A merge of two sorted lists: no maps, O(n).
 */
export function diffLevels(prev: Levels, next: Levels, bid: boolean): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < prev.px.length || j < next.px.length) {
    const a = i < prev.px.length ? prev.px[i]! : NaN;
    const b = j < next.px.length ? next.px[j]! : NaN;
    if (a === b) {
      if (prev.qty[i] !== next.qty[j]) out.push([b, next.qty[j]!]);
      i++;
      j++;
    } else if (j >= next.px.length || (i < prev.px.length && (bid ? a > b : a < b))) {
      out.push([a, 0]);
      i++;
    } else {
      out.push([b, next.qty[j]!]);
      j++;
    }
  }
  return out;
}

/**
 * The best bid and ask (mantissas) liquidity providers quote around a fair price `fairM` (mantissa units, any
 * real): `spreadTicks` apart, the fair price between them (or on the bid).
 */
export function targetQuotes(fairM: number, tickM: number, spreadTicks: number): [number, number] {
  const s = Math.max(1, Math.round(spreadTicks));
  // May be 0 or below for a tick above the price: then there is no bid (changeSpec refuses such a tick).
  const bid = Math.floor(fairM / tickM - (s - 1) / 2) * tickM;
  return [bid, bid + s * tickM];
}

export class SimBook {
  priceExp: number;
  qtyExp: number;
  /** Tick in price-mantissa units. */
  tickM: number;
  /** Bid prices, best (highest) first. */
  bids: number[] = [];
  /** Ask prices, best (lowest) first. */
  asks: number[] = [];
  readonly bidQty = new Map<number, number>();
  readonly askQty = new Map<number, number>();
  /** The price the book's quotes follow. */
  readonly fair = new FairValue();
  /** How far from its best price a side's levels reach, in ticks: 2.5 ticks per level on average. */
  get depthTicks(): number {
    return Math.ceil(this.levels * 2.5);
  }

  constructor(
    public spec: SymbolSpec,
    private readonly rng: Rng,
    /** Levels kept per side: more than the deepest topic so windows have something to pull in. */
    readonly levels: number,
  ) {
    this.priceExp = stepExponent(spec.tickSize, "tickSize");
    this.qtyExp = stepExponent(spec.lotSize, "lotSize");
    this.tickM = parseFixed(spec.tickSize, this.priceExp);
    this.rebuild(spec.mid);
  }

  /** Fills both sides around `mid` (best levels at the target quotes) with random gaps of 1–3 ticks. */
  rebuild(mid: number): void {
    // Filled in place: each map is written once (a copy doubled the start-up of simulators of deep books).
    this.bidQty.clear();
    this.askQty.clear();
    const built = this.build(mid, this.priceExp, this.tickM, this.bidQty, this.askQty);
    this.bids = built.bids;
    this.asks = built.asks;
  }

  /**
   * The levels `rebuild` would make at the given exponent and tick, their sizes set into `bidQty` and `askQty`
   * (empty; the book's own maps only when the result is taken as it is).
   */
  private build(
    mid: number,
    priceExp: number,
    tickM: number,
    bidQty = new Map<number, number>(),
    askQty = new Map<number, number>(),
  ): { bids: number[]; asks: number[]; bidQty: Map<number, number>; askQty: Map<number, number> } {
    const bids: number[] = [];
    const asks: number[] = [];
    const [bestBid, bestAsk] = targetQuotes(mid * 10 ** priceExp, tickM, this.spec.spreadTicks);
    let px = bestBid;
    for (let i = 0; i < this.levels && px > 0; i++) {
      bids.push(px);
      bidQty.set(px, this.qty());
      px -= tickM * this.rng.int(1, 3);
    }
    px = bestAsk;
    for (let i = 0; i < this.levels; i++) {
      asks.push(px);
      askQty.set(px, this.qty());
      px += tickM * this.rng.int(1, 3);
    }
    return { bids, asks, bidQty, askQty };
  }

  /**
   * Swaps the tick/lot; existing levels are re-expressed at the new exponents, or rebuilt when that is not exact.
   * Everything is computed first and checked (steps that parse, every price and size a mantissa with room to move
   * below 2^53, a book with both sides); only then is anything assigned. On a SimSpecError the book, its spec and
   * the random stream are exactly as they were.
   */
  changeSpec(spec: SymbolSpec): void {
    const priceExp = stepExponent(spec.tickSize, "tickSize");
    const qtyExp = stepExponent(spec.lotSize, "lotSize");
    const tickM = parseFixed(spec.tickSize, priceExp); // cannot throw: stepExponent parsed it at this exponent
    const oldPriceExp = this.priceExp;
    const oldQtyExp = this.qtyExp;
    const mid = this.fair.price(this.spec);
    const pScale = 10 ** (priceExp - oldPriceExp);
    const qScale = 10 ** (qtyExp - oldQtyExp);
    const exact = (v: number, scale: number) => Number.isInteger(v * scale);
    const ok =
      this.bids.every((p) => exact(p, pScale) && (p * pScale) % tickM === 0 && exact(this.bidQty.get(p)!, qScale)) &&
      this.asks.every((p) => exact(p, pScale) && (p * pScale) % tickM === 0 && exact(this.askQty.get(p)!, qScale));
    let next: { bids: number[]; asks: number[]; bidQty: Map<number, number>; askQty: Map<number, number> };
    const rngState = this.rng.save();
    if (ok) {
      const rescale = (side: number[], q: Map<number, number>) => {
        const sizes = new Map<number, number>();
        for (const p of side) sizes.set(p * pScale, Math.max(1, q.get(p)! * qScale));
        return { px: side.map((p) => p * pScale), sizes };
      };
      const b = rescale(this.bids, this.bidQty);
      const a = rescale(this.asks, this.askQty);
      next = { bids: b.px, asks: a.px, bidQty: b.sizes, askQty: a.sizes };
    } else {
      const oldSpec = this.spec;
      this.spec = spec; // qty() reads typicalLots; restored below unless everything checks out
      try {
        next = this.build(mid, priceExp, tickM);
      } finally {
        this.spec = oldSpec;
      }
    }
    const problem = checkLevels(next, tickM, spec);
    if (problem !== null) {
      this.rng.restore(rngState);
      throw problem;
    }
    this.spec = spec;
    this.priceExp = priceExp;
    this.qtyExp = qtyExp;
    this.tickM = tickM;
    this.bids = next.bids;
    this.asks = next.asks;
    this.bidQty.clear();
    this.askQty.clear();
    for (const [p, q] of next.bidQty) this.bidQty.set(p, q);
    for (const [p, q] of next.askQty) this.askQty.set(p, q);
  }

  /**
   * The whole book moved by `ticks` ticks (negative: down), its shape and sizes kept, and the fair price with it (the
   * quotes keep following it from there): a price move as far as a test wants, in one step. Throws (nothing
   * changed) when a bid would reach price 0.
   */
  shift(ticks: number): void {
    const d = Math.round(ticks) * this.tickM;
    if (this.bids.some((p) => p + d <= 0)) throw new SimSpecError("tickSize", `a move of ${ticks} ticks takes a bid to price 0 or below`);
    const fairM = this.fairM();
    const move = (side: number[], sizes: Map<number, number>) => {
      const moved = side.map((p) => [p + d, sizes.get(p)!] as const);
      sizes.clear();
      for (const [p, q] of moved) sizes.set(p, q);
      return moved.map(([p]) => p);
    };
    this.bids = move(this.bids, this.bidQty);
    this.asks = move(this.asks, this.askQty);
    if (fairM + d > 0) this.fair.x += Math.log((fairM + d) / fairM);
  }

  qty(): number {
    const m = Math.round(Math.exp(this.rng.normal() * 1.2) * this.spec.typicalLots);
    return Math.max(1, Math.min(m, 1e12));
  }

  /**
   * One step: the fair price moves by `dtS` seconds of market time, then a burst of `events` changes, then the
   * quotes follow the fair price and the depth is refilled. The first change always touches a best level, so every
   * topic of the symbol (down to level 1) has something to publish; the rest mix size changes, new and cancelled
   * levels and trades through a best level.
   */
  mutate(events: number, dtS = DEFAULT_STEP_S): void {
    const rng = this.rng;
    this.fair.advance(this.spec, dtS, rng);
    const bestBid = rng.next() < 0.5;
    const best = bestBid ? this.bids[0] : this.asks[0];
    if (best !== undefined) {
      const old = (bestBid ? this.bidQty : this.askQty).get(best)!;
      const q = this.qty();
      this.setSize(bestBid, 0, q === old ? old + 1 : q);
    }
    for (let e = 1; e < events; e++) {
      const r = rng.next();
      const bid = rng.next() < 0.5;
      const side = bid ? this.bids : this.asks;
      const rank = rng.next() < 0.8 ? rng.rank(6, side.length) : rng.int(0, side.length - 1);
      if (r < 0.45) this.setSize(bid, rank, this.qty());
      else if (r < 0.65) this.addNear(bid, rank);
      else if (r < 0.85) this.removeAt(bid, rank);
      else this.trade(bid);
    }
    this.follow();
    this.refill();
  }

  private setSize(bid: boolean, rank: number, q: number): void {
    const side = bid ? this.bids : this.asks;
    if (rank >= side.length) return;
    (bid ? this.bidQty : this.askQty).set(side[rank]!, q);
  }

  /** The fair price in price-mantissa units (not rounded to a tick). */
  private fairM(): number {
    return this.fair.price(this.spec) * 10 ** this.priceExp;
  }

  /**
   * A new level next to the level at `rank`: on the inside at rank 0 when that stays within the spread and on its
   * side of the fair price, otherwise 1–3 ticks behind it when the gap to the next level has room (none in a dense
   * stretch). Drawn at the same ranks as cancellations, so new levels fill the gaps they leave and the depth
   * stays 1–3 ticks apart however long the run.
   */
  private addNear(bid: boolean, rank: number): void {
    const side = bid ? this.bids : this.asks;
    const other = bid ? this.asks : this.bids;
    if (side.length === 0) return;
    const dir = bid ? 1 : -1;
    const t = this.tickM;
    if (rank === 0) {
      const px = side[0]! + dir * t;
      const fair = this.fairM();
      const crosses = other.length > 0 && (bid ? px >= other[0]! : px <= other[0]!);
      if (!crosses && (bid ? px <= fair : px >= fair)) {
        this.insert(bid, px, this.qty());
        return;
      }
    }
    const room = rank + 1 < side.length ? Math.abs(side[rank]! - side[rank + 1]!) / t - 1 : 3;
    if (room < 1) return;
    const px = side[rank]! - dir * t * this.rng.int(1, Math.min(3, room));
    if (px > 0) this.insert(bid, px, this.qty());
  }

  private removeAt(bid: boolean, rank: number): void {
    const side = bid ? this.bids : this.asks;
    if (side.length <= 2 || rank >= side.length) return;
    const [px] = side.splice(rank, 1);
    (bid ? this.bidQty : this.askQty).delete(px!);
  }

  /** A market order against one side's best level: takes all of it, or part of its size. */
  private trade(bid: boolean): void {
    const side = bid ? this.bids : this.asks;
    const sizes = bid ? this.bidQty : this.askQty;
    if (side.length === 0) return;
    const q = sizes.get(side[0]!)!;
    if (this.rng.next() < 0.5 || q <= 1) this.removeAt(bid, 0);
    else sizes.set(side[0]!, Math.max(1, Math.floor(q * this.rng.next())));
  }

  /**
   * The quotes follow the fair price: levels it moved through are taken (bids above it, asks below it), and a side
   * whose best is behind its target quote gets a new best there, with levels filled in between so the depth moves
   * along. That happens on most steps (the spread breathes) and always when the spread is wider than maxSpreadTicks.
   */
  private follow(): void {
    const fair = this.fairM();
    this.takeThrough(true, fair);
    this.takeThrough(false, fair);
    const [tb, ta] = targetQuotes(fair, this.tickM, this.spec.spreadTicks);
    const wide = this.asks[0]! - this.bids[0]! > maxSpreadTicks(this.spec) * this.tickM;
    if (this.bids[0]! < tb && tb < this.asks[0]! && (wide || this.rng.next() < QUOTE_PROBABILITY)) this.quoteTo(true, tb);
    if (this.asks[0]! > ta && ta > this.bids[0]! && (wide || this.rng.next() < QUOTE_PROBABILITY)) this.quoteTo(false, ta);
  }

  /** Removes the best levels on the wrong side of `fair` (bids above it, asks below it), keeping at least two. */
  private takeThrough(bid: boolean, fair: number): void {
    const side = bid ? this.bids : this.asks;
    const sizes = bid ? this.bidQty : this.askQty;
    let n = 0;
    while (n < side.length - 2 && (bid ? side[n]! > fair : side[n]! < fair)) sizes.delete(side[n++]!);
    if (n > 0) side.splice(0, n); // one splice: a fast move can take dozens of levels
  }

  /** New levels from the current best up to `target` (1–3 ticks apart), `target` the new best. */
  private quoteTo(bid: boolean, target: number): void {
    const side = bid ? this.bids : this.asks;
    const sizes = bid ? this.bidQty : this.askQty;
    const dir = bid ? 1 : -1;
    const t = this.tickM;
    // All of them are better than the current best: they go in front, best first, with one splice.
    const added: number[] = [];
    let px = side[0]! + dir * t * this.rng.int(1, 3);
    while (bid ? px < target : px > target) {
      added.push(px);
      px += dir * t * this.rng.int(1, 3);
    }
    added.push(target);
    for (const p of added) sizes.set(p, this.qty());
    added.reverse();
    side.splice(0, 0, ...added);
  }

  insert(bid: boolean, px: number, q: number): void {
    const side = bid ? this.bids : this.asks;
    const sizes = bid ? this.bidQty : this.askQty;
    if (sizes.has(px)) {
      sizes.set(px, q);
      return;
    }
    // Binary search for the insertion point (bids descending, asks ascending).
    let lo = 0;
    let hi = side.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bid ? side[mid]! > px : side[mid]! < px) lo = mid + 1;
      else hi = mid;
    }
    side.splice(lo, 0, px);
    sizes.set(px, q);
  }

  /**
   * Keeps each side between `levels` and 1.25 × `levels` deep and within depthTicks of its best price: levels
   * beyond that range go, and missing ones come back at random free ticks inside it (the depth refills where it
   * thinned instead of the book stretching out). So the average gap stays at most depthTicks / levels ticks.
   */
  private refill(): void {
    const rng = this.rng;
    const t = this.tickM;
    const range = this.depthTicks;
    for (const bid of [true, false]) {
      const side = bid ? this.bids : this.asks;
      const sizes = bid ? this.bidQty : this.askQty;
      const best = side[0]!;
      const limit = bid ? best - range * t : best + range * t;
      while (side.length > 2 && (bid ? side[side.length - 1]! < limit : side[side.length - 1]! > limit)) sizes.delete(side.pop()!);
      // Bounded tries: a bid side near price 0 may not have room for all its levels.
      for (let tries = 4 * (this.levels - side.length) + 8; side.length < this.levels && tries > 0; tries--) {
        const px = bid ? best - t * rng.int(1, range) : best + t * rng.int(1, range);
        if (px > 0 && !sizes.has(px)) this.insert(bid, px, this.qty());
      }
      while (side.length > this.levels * 1.25) sizes.delete(side.pop()!);
    }
  }

  /** Top `n` levels of a side, best first, as parallel arrays (what a depth-n topic publishes). */
  windowLevels(bid: boolean, n: number): Levels {
    const side = bid ? this.bids : this.asks;
    const sizes = bid ? this.bidQty : this.askQty;
    const count = Math.min(n, side.length);
    const px = side.slice(0, count);
    const qty = new Array<number>(count);
    for (let i = 0; i < count; i++) qty[i] = sizes.get(px[i]!)!;
    return { px, qty };
  }

  formatPrice(m: number, market: MarketName): string {
    return formatNumber(m, this.priceExp, Math.max(this.priceExp, this.spec.priceDecimals), market);
  }

  formatQty(m: number, market: MarketName): string {
    return formatNumber(m, this.qtyExp, this.qtyExp, market);
  }
}

/** Spot and option trim trailing zeros ("43724.1", "0.5"); linear/inverse print fixed decimals ("16493.50", "0.100"). */
export function formatNumber(m: number, exp: number, decimals: number, market: MarketName): string {
  let s = formatFixed(m, exp);
  if (market === "spot" || market === "option") {
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s;
  }
  if (decimals > exp) s = (exp === 0 ? s + "." : s) + "0".repeat(decimals - exp);
  return s;
}
