/**
 * The book at its extremes, against an exact bigint reference (test/book/bigint-book.ts), seeded and reproducible
 * (every failure names its profile, seed and step):
 * - the window re-centring far away: the price jumps many window widths up and down, alternating, so levels cross
 *   between the window and the overflow again and again; snapshots that replace a deep book with a shallow one
 *   and back; a level twice in one delta; deletes of absent levels; crossed results (CROSSED, the book RESYNCING /
 *   crossed_book, the level still applied and in the change set);
 * - every delta's (and LIVE full book's, "replace") change set replayed on a copy of the book (a reference side,
 *   not a ladder) equals the book, and
 *   the best levels and the top N by rank and in bulk equal the reference's after every message;
 * - prices at 1 and at 2^53 − 1, quantities up to 2^53 − 1.
 * The 100k-level overflow and the decimal strings at the exponents' limits are in extremes-deep.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { BigBook, type BigLevel, BigSide, diffSide, sameSide } from "./bigint-book.ts";
import { Rng } from "./rng.ts";
import { testInstrument } from "./reference-book.ts";

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

interface Profile {
  name: string;
  steps: number;
  /** Bounds of the mid price (a level is always in [1, MAX]). */
  lo: bigint;
  hi: bigint;
  /** Ticks between neighbouring levels of a snapshot or an insert beyond the worst. */
  gap: (r: Rng) => bigint;
  /** Levels per side of a snapshot. */
  depth: (r: Rng) => number;
  maxQty: bigint;
}

const deepOrShallow = (r: Rng): number => {
  const k = r.float();
  return k < 0.1 ? 0 : k < 0.25 ? 1 : k < 0.6 ? r.int(2, 50) : k < 0.93 ? r.int(51, 1500) : r.int(4000, 12000);
};

const PROFILES: Profile[] = [
  {
    name: "dense, mid 10^9–10^13",
    steps: 1500,
    lo: 1_000_000_000n,
    hi: 10_000_000_000_000n,
    gap: (r) => BigInt(r.chance(0.7) ? 1 : r.int(2, 6)),
    depth: deepOrShallow,
    maxQty: 10n ** 12n,
  },
  {
    name: "at the top: prices up to 2^53 − 1",
    steps: 1500,
    lo: MAX - 50_000_000n,
    hi: MAX,
    gap: (r) => BigInt(r.chance(0.5) ? 1 : r.logInt(5000)),
    depth: deepOrShallow,
    maxQty: MAX,
  },
  {
    name: "at the bottom: prices down to 1 (options' tiny prices)",
    steps: 1500,
    lo: 1n,
    hi: 2_000_000n,
    gap: (r) => BigInt(r.chance(0.6) ? 1 : r.int(2, 40)),
    depth: deepOrShallow,
    maxQty: MAX,
  },
  {
    name: "sparse, gaps up to 10^12 ticks over the whole range",
    steps: 1500,
    lo: 1n,
    hi: MAX,
    gap: (r) => BigInt(r.logInt(1e12)),
    depth: (r) => (r.chance(0.1) ? 0 : r.int(1, 300)),
    maxQty: MAX,
  },
];

const SEEDS = [11, 12];

/** Clamp into [lo, hi]. */
const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);

class Gen {
  mid: bigint;
  dir = 1n;
  readonly bids: BigLevel[] = [];
  readonly asks: BigLevel[] = [];
  /** A level twice in one delta, deletes of absent levels, jumps: counted to prove they ran. */
  repeats = 0;
  jumps = 0;

  constructor(
    readonly r: Rng,
    readonly p: Profile,
    readonly ref: BigBook,
    readonly b: BookBuilder,
  ) {
    this.mid = clamp(BigInt(Math.floor(r.float() * Number(p.hi - p.lo))) + p.lo, p.lo, p.hi);
  }

  qty(): bigint {
    const r = this.r;
    if (r.chance(0.05)) return this.p.maxQty;
    return BigInt(r.logInt(Number(this.p.maxQty)));
  }

  /** A jump: some window widths of ticks (the window's own size, so the move is always off the window). */
  private jumpTicks(): bigint {
    const w = Math.max(this.b.bids.windowSize, this.b.asks.windowSize, 64);
    return BigInt(w) * BigInt(this.r.int(1, 40)) * (this.r.chance(0.3) ? BigInt(this.r.logInt(1000)) : 1n);
  }

  snapshot(): void {
    const r = this.r;
    const p = this.p;
    this.bids.length = 0;
    this.asks.length = 0;
    const k = r.float();
    if (k < 0.3) this.mid += this.dir * this.jumpTicks();
    else if (k < 0.4) this.mid = r.chance(0.5) ? p.lo : p.hi;
    this.mid = clamp(this.mid, p.lo, p.hi);
    let px = this.mid - BigInt(r.int(0, 2));
    for (let i = this.p.depth(r); i > 0 && px >= 1n; i--) {
      this.bids.push([px, this.qty()]);
      px -= p.gap(r);
    }
    px = this.mid + BigInt(r.int(1, 2));
    for (let i = this.p.depth(r); i > 0 && px <= MAX; i--) {
      this.asks.push([px, this.qty()]);
      px += p.gap(r);
    }
    if (r.chance(0.05) && this.bids.length > 2) {
      // Out of order, each price once (a repeat is refused: book-builder.test.ts), and a qty 0 entry at a price of its
      // own (no level): the ladder's unsorted fallback.
      const i = r.int(0, this.bids.length - 2);
      const [a, b] = [this.bids[i]!, this.bids[i + 1]!];
      this.bids[i] = b;
      this.bids[i + 1] = a;
      if (a[0] - b[0] > 1n) this.bids.splice(i + 2, 0, [b[0] + 1n, 0n]);
    }
    if (r.chance(0.03)) this.asks.reverse(); // worst first: the fallback too
    if (r.chance(0.03) && this.bids.length > 0 && this.asks.length > 0) {
      this.bids.push([this.asks[0]![0] + BigInt(r.int(0, 3)), 1n]); // a crossed snapshot: not LIVE
    }
  }

  /**
   * A delta: a jump (the mid moves many windows, the levels it passes are deleted, new ones appear around it),
   * or updates, inserts and deletes near the top and at the worst end, with repeats and absent deletes.
   */
  delta(cross: boolean): void {
    const r = this.r;
    const p = this.p;
    const ref = this.ref;
    this.bids.length = 0;
    this.asks.length = 0;
    if (r.chance(0.08)) return this.jump();
    let bidLimit = ref.asks.count > 0 ? ref.asks.best()! - 1n : MAX;
    let askLimit = ref.bids.count > 0 ? ref.bids.best()! + 1n : 1n;
    const n = 1 + Math.floor(r.float() * r.float() * 40);
    for (let k = 0; k < n; k++) {
      const isBid = r.chance(0.5);
      const side = isBid ? ref.bids : ref.asks;
      const out = isBid ? this.bids : this.asks;
      const sign = isBid ? 1n : -1n;
      const count = side.count;
      const op = r.float();
      let px: bigint;
      let q: bigint;
      if (count > 0 && op < 0.3) {
        const f = r.float();
        px = side.at(Math.floor(count * f * f * f));
        q = r.chance(0.05) ? side.get(px) : this.qty(); // sometimes unchanged: no change listed
      } else if (count > 0 && op < 0.5) {
        px = side.at(r.chance(0.3) ? 0 : r.int(0, count - 1));
        q = 0n;
      } else if (op < 0.58) {
        // Absent (most likely): beyond the worst, or between levels.
        const worst = count > 0 ? side.at(count - 1) : this.mid;
        px = worst - sign * (p.gap(r) + 1n);
        q = 0n;
      } else if (op < 0.68 && out.length > 0) {
        // The same level again in this delta: another qty, a delete, or the delete undone.
        const j = r.int(0, out.length - 1);
        px = out[j]![0];
        q = r.chance(0.4) ? 0n : r.chance(0.3) ? out[j]![1] : this.qty();
        this.repeats++;
      } else {
        const deep = op > 0.9 && count > 0;
        const at = deep ? side.at(count - 1) : count > 0 ? side.at(0) : this.mid;
        const off = deep ? p.gap(r) : BigInt(r.int(-3, 1)) * p.gap(r);
        px = at - sign * off;
        if (isBid && px > bidLimit) px = bidLimit;
        if (!isBid && px < askLimit) px = askLimit;
        q = this.qty();
      }
      if (px < 1n || px > MAX) continue;
      out.push([px, q]);
      if (q !== 0n && isBid && px + 1n > askLimit) askLimit = px + 1n;
      if (q !== 0n && !isBid && px - 1n < bidLimit) bidLimit = px - 1n;
    }
    if (cross && ref.asks.count > 0) {
      const px = ref.asks.best()! + BigInt(r.int(0, 2));
      if (px <= MAX) this.bids.push([px, 1n]); // a bid at or above the best ask
    }
  }

  /** The mid moves window widths away (mostly against the last jump): crossed levels go, new ones appear. */
  private jump(): void {
    const r = this.r;
    const p = this.p;
    const ref = this.ref;
    if (r.chance(0.75)) this.dir = -this.dir;
    const to = clamp(this.mid + this.dir * this.jumpTicks(), p.lo, p.hi);
    this.jumps++;
    this.mid = to;
    // Levels the move passes (bids ≥ to, asks ≤ to) are deleted, best first, as a sweep would.
    for (const px of ref.bids.bestFirst()) {
      if (px < to) break;
      this.bids.push([px, 0n]);
    }
    for (const px of ref.asks.bestFirst()) {
      if (px > to) break;
      this.asks.push([px, 0n]);
    }
    let px = to - 1n;
    for (let i = r.int(0, 6); i > 0 && px >= 1n; i--) {
      this.bids.push([px, this.qty()]);
      px -= p.gap(r);
    }
    px = to + 1n;
    for (let i = r.int(0, 6); i > 0 && px <= MAX; i--) {
      this.asks.push([px, this.qty()]);
      px += p.gap(r);
    }
    if (r.chance(0.5)) r.shuffle(this.bids); // delta levels come in any order
  }
}

function fill(u: BookUpdate, bids: readonly BigLevel[], asks: readonly BigLevel[], snapshot: boolean, seq: number): BookUpdate {
  u.reset();
  u.isSnapshot = snapshot;
  u.venueSeq = seq;
  for (const [p, q] of bids) u.pushBid(Number(p), Number(q));
  for (const [p, q] of asks) u.pushAsk(Number(p), Number(q));
  return u;
}

/** The builder's whole side, read in bulk, into a reference side (the copy a subscriber starts from). */
function copyInto(b: BookBuilder, side: BigSide): void {
  side.clear();
  const n = side.isBid ? b.bidCount : b.askCount;
  const px = new Float64Array(n);
  const qty = new Float64Array(n);
  if (side.isBid) b.copyBids(0, n, px, qty, 0);
  else b.copyAsks(0, n, px, qty, 0);
  for (let i = 0; i < n; i++) side.set(BigInt(px[i]!), BigInt(qty[i]!));
}

function run(p: Profile, seed: number) {
  const r = new Rng(seed * 7919 + p.name.length);
  const b = new BookBuilder(testInstrument(0, 0), { initialLevels: r.int(1, 16) });
  const ref = new BigBook();
  /** The subscriber's copy: the published book after a snapshot, every change set replayed after a delta. */
  const replica = new BigBook();
  const g = new Gen(r, p, ref, b);
  const u = new BookUpdate();
  let absent = 0;
  let untilFull = 0;
  const stats = { crossed: 0, snapshots: 0, replaces: 0, withOverflow: 0, maxDepth: 0, changes: 0 };
  for (let step = 0; step < p.steps; step++) {
    const at = `${p.name}, seed ${seed}, step ${step}`;
    const fail = (msg: string): never => {
      throw new Error(`${at}: ${msg} (reproduce: this profile and seed)`);
    };
    const live = b.state === BookState.LIVE;
    let res: ApplyResult;
    let want: ApplyResult;
    if (!live || r.chance(0.02)) {
      g.snapshot();
      res = b.applySnapshot(fill(u, g.bids, g.asks, true, step));
      ref.load(g.bids, g.asks);
      want = ref.crossed() ? ApplyResult.CROSSED : ApplyResult.APPLIED;
      if (b.changes.count !== 0) fail(`a snapshot left ${b.changes.count} changes`);
      copyInto(b, replica.bids);
      copyInto(b, replica.asks);
      stats.snapshots++;
      untilFull = 0;
    } else if (r.chance(0.03)) {
      // A full book applied LIVE as "replace" (snapshot-only venues): published as a delta, so the copy follows it
      // by its change set alone. Deep full books are not sent this way (replaceSide compares unsorted input level
      // by level), so a deep one goes as a snapshot.
      g.snapshot();
      const deepBook = g.bids.length > 2000 || g.asks.length > 2000;
      fill(u, g.bids, g.asks, true, step).replace = !deepBook;
      res = deepBook ? b.applySnapshot(u) : b.applyReplace(u);
      ref.load(g.bids, g.asks);
      want = ref.crossed() ? ApplyResult.CROSSED : ApplyResult.APPLIED;
      const cs = b.changes;
      for (let i = 0; i < cs.bidCount; i++) replica.bids.set(BigInt(cs.bidPx[i]!), BigInt(cs.bidQty[i]!));
      for (let i = 0; i < cs.askCount; i++) replica.asks.set(BigInt(cs.askPx[i]!), BigInt(cs.askQty[i]!));
      if (deepBook) {
        copyInto(b, replica.bids);
        copyInto(b, replica.asks);
      } else stats.replaces++;
      untilFull = 0; // the copy is compared whole below
    } else {
      g.delta(r.chance(0.01));
      res = b.applyDelta(fill(u, g.bids, g.asks, false, step));
      const d = ref.apply(g.bids, g.asks);
      absent += d.absent;
      want = ref.crossed() ? ApplyResult.CROSSED : ApplyResult.APPLIED;
      // The change set: exactly the reference's real changes, in message order per side.
      const cs = b.changes;
      const got: string[] = [];
      for (let i = 0; i < cs.bidCount; i++) got.push(`b ${cs.bidPx[i]}@${cs.bidQty[i]}`);
      for (let i = 0; i < cs.askCount; i++) got.push(`a ${cs.askPx[i]}@${cs.askQty[i]}`);
      const exp = d.changes.map((c) => `${c.isBid ? "b" : "a"} ${c.price}@${c.qty}`);
      if (got.join(",") !== exp.join(",")) fail(`changes [${got.join(",")}] != [${exp.join(",")}]`);
      stats.changes += got.length;
      for (let i = 0; i < cs.bidCount; i++) replica.bids.set(BigInt(cs.bidPx[i]!), BigInt(cs.bidQty[i]!));
      for (let i = 0; i < cs.askCount; i++) replica.asks.set(BigInt(cs.askPx[i]!), BigInt(cs.askQty[i]!));
    }
    if (res !== want) fail(`result ${res} != ${want}`);
    if (res === ApplyResult.CROSSED) {
      stats.crossed++;
      if (b.state !== BookState.RESYNCING || b.reason !== StatusReason.CROSSED_BOOK) fail(`crossed: state ${b.state}/${b.reason}`);
    } else if (b.state !== BookState.LIVE) fail(`applied but state ${b.state}`);
    if (b.venueSeq !== step) fail(`venueSeq ${b.venueSeq}`);
    if (b.counters.deletesOfAbsent !== absent) fail(`deletesOfAbsent ${b.counters.deletesOfAbsent} != ${absent}`);
    // Best levels and the top N (bulk and by rank) every message; every level at least every max(16, levels/8).
    const full = --untilFull <= 0;
    const depth = full ? undefined : r.int(1, 64);
    const probes = [r.int(0, 80), r.int(0, 5000)];
    const d =
      diffSide(b, ref.bids, depth, probes) ??
      diffSide(b, ref.asks, depth, probes) ??
      (full ? sameSide(replica.bids, ref.bids) ?? sameSide(replica.asks, ref.asks) : null) ??
      (replica.bids.best() !== ref.bids.best() || replica.asks.best() !== ref.asks.best() ? "replica's best differs" : null);
    if (d !== null) fail(d);
    if (full) untilFull = Math.max(16, Math.ceil((b.bidCount + b.askCount) / 8));
    if (b.bids.windowCount < b.bidCount || b.asks.windowCount < b.askCount) stats.withOverflow++;
    stats.maxDepth = Math.max(stats.maxDepth, b.bidCount, b.askCount);
  }
  return { ...stats, repeats: g.repeats, jumps: g.jumps, absent, moves: b.bids.windowMoves + b.asks.windowMoves };
}

describe("book at its extremes vs an exact bigint reference", () => {
  for (const p of PROFILES) {
    for (const seed of SEEDS) {
      it(`${p.name}, seed ${seed}`, () => {
        const s = run(p, seed);
        // What the run claims to cover, it covered.
        expect(s.jumps).toBeGreaterThan(p.steps / 40);
        expect(s.moves).toBeGreaterThan(p.steps / 20);
        expect(s.withOverflow).toBeGreaterThan(p.steps / 10);
        expect(s.crossed).toBeGreaterThan(3);
        expect(s.repeats).toBeGreaterThan(p.steps / 10);
        expect(s.absent).toBeGreaterThan(p.steps / 20);
        expect(s.snapshots).toBeGreaterThan(20);
        expect(s.replaces).toBeGreaterThan(10);
      }, 60_000);
    }
  }
});
