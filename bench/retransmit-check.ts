/**
 * bench/retransmit.bench.ts's check that a book the subscriber calls usable again holds the publisher's levels: a
 * recovery time is only a result if what was recovered is right.
 * @module
 */
import type { BookView } from "../src/core/book-view.ts";

type Levels = Pick<BookView, "instrSeq" | "bidCount" | "askCount" | "bidPriceAt" | "bidQtyAt" | "askPriceAt" | "askQtyAt">;

const SEED1 = 0x811c9dc5;
const SEED2 = 0x9747b28c;

/** One level's share of a book's fingerprint: a 32-bit hash of (side, price, qty), integers up to 2^53. */
function levelTerm(seed: number, side: number, px: number, qty: number): number {
  let h = Math.imul(seed ^ side, 0x01000193);
  h = Math.imul(h ^ (px >>> 0), 0x01000193);
  h = Math.imul(h ^ Math.floor(px / 4294967296), 0x01000193);
  h = Math.imul(h ^ (qty >>> 0), 0x01000193);
  h = Math.imul(h ^ Math.floor(qty / 4294967296), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b); // murmur3's finaliser: every input bit moves every output bit
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The two 32-bit sums as one 53-bit number. */
const fingerprint = (s1: number, s2: number) => (s1 >>> 0) * 2097152 + ((s2 >>> 0) >>> 11);

/**
 * A fingerprint of a book's levels: the sum of a hash per level, twice with independent seeds. A sum, so the
 * publisher's side is kept up to date per change (O(levels changed)) instead of hashed whole per event (~0.1 ms at
 * 400 levels, more than the bench's whole budget per datagram). A sum does not see the levels' order:
 * levelsOrderError checks that apart.
 */
export function levelsHash(b: Levels): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < b.bidCount; i++) {
    s1 = (s1 + levelTerm(SEED1, 0, b.bidPriceAt(i), b.bidQtyAt(i))) | 0;
    s2 = (s2 + levelTerm(SEED2, 0, b.bidPriceAt(i), b.bidQtyAt(i))) | 0;
  }
  for (let i = 0; i < b.askCount; i++) {
    s1 = (s1 + levelTerm(SEED1, 1, b.askPriceAt(i), b.askQtyAt(i))) | 0;
    s2 = (s2 + levelTerm(SEED2, 1, b.askPriceAt(i), b.askQtyAt(i))) | 0;
  }
  return fingerprint(s1, s2);
}

/**
 * What is out of order in a book's levels (bids strictly falling, asks strictly rising: a price twice is out of order
 * too), or undefined. With it, equal fingerprints mean the same book, not only the same levels.
 */
export function levelsOrderError(b: Levels): string | undefined {
  for (let i = 1; i < b.bidCount; i++) {
    if (!(b.bidPriceAt(i) < b.bidPriceAt(i - 1))) return `bid ${i} (${b.bidPriceAt(i)}) not below bid ${i - 1} (${b.bidPriceAt(i - 1)})`;
  }
  for (let i = 1; i < b.askCount; i++) {
    if (!(b.askPriceAt(i) > b.askPriceAt(i - 1))) return `ask ${i} (${b.askPriceAt(i)}) not above ask ${i - 1} (${b.askPriceAt(i - 1)})`;
  }
  return undefined;
}

/** A change set's levels (as src/core/change-set.ts holds them; qty 0 removes). */
interface Changes {
  readonly bidCount: number;
  readonly askCount: number;
  readonly bidPx: ArrayLike<number>;
  readonly bidQty: ArrayLike<number>;
  readonly askPx: ArrayLike<number>;
  readonly askQty: ArrayLike<number>;
}

/**
 * The publisher's levels of each book at its recent instrSeqs (as fingerprints), to compare a subscriber's book with
 * at whatever event it has reached (it may be some datagrams behind the publisher when it is checked).
 */
export class PublishedLevels {
  private readonly history: Map<number, number>[];
  private readonly sum1: number[];
  private readonly sum2: number[];
  /** Each book's last instrSeq recorded: a subscriber's book past it is wrong, not too old to compare. */
  private readonly newest: number[];
  /** Subscriber books compared (and found equal or not). */
  compared = 0;
  /** Subscriber books at an instrSeq older than the history kept: not compared. */
  unchecked = 0;
  /** What differed: "SYM at instrSeq N (when)". */
  readonly differ: string[] = [];

  /** keepEvents: how many instrSeqs back per book a subscriber's book can still be compared. */
  constructor(books: readonly Levels[], private readonly keepEvents: number) {
    this.sum1 = books.map(() => 0);
    this.sum2 = books.map(() => 0);
    books.forEach((b, i) => {
      for (let r = 0; r < b.bidCount; r++) this.level(i, 0, b.bidPriceAt(r), b.bidQtyAt(r), 1);
      for (let r = 0; r < b.askCount; r++) this.level(i, 1, b.askPriceAt(r), b.askQtyAt(r), 1);
    });
    this.history = books.map((b, i) => new Map([[b.instrSeq, fingerprint(this.sum1[i]!, this.sum2[i]!)]]));
    this.newest = books.map((b) => b.instrSeq);
  }

  private level(i: number, side: number, px: number, qty: number, sign: 1 | -1): void {
    if (qty === 0) return;
    this.sum1[i] = (this.sum1[i]! + sign * levelTerm(SEED1, side, px, qty)) | 0;
    this.sum2[i] = (this.sum2[i]! + sign * levelTerm(SEED2, side, px, qty)) | 0;
  }

  /**
   * Before book i takes `cs`: qtyBefore gives each changed level's quantity until then (0 or undefined: absent). A
   * price given again on a side replaces what its earlier entry set (the book applies them in order): that quantity
   * is the one taken off, not the book's (taken off twice until 2026-12-07, the book then said to differ).
   */
  changes(i: number, cs: Changes, bidQtyBefore: (px: number) => number | undefined, askQtyBefore: (px: number) => number | undefined): void {
    this.side(i, 0, cs.bidPx, cs.bidQty, cs.bidCount, bidQtyBefore);
    this.side(i, 1, cs.askPx, cs.askQty, cs.askCount, askQtyBefore);
  }

  private side(i: number, side: number, px: ArrayLike<number>, qty: ArrayLike<number>, count: number, qtyBefore: (px: number) => number | undefined): void {
    for (let j = 0; j < count; j++) {
      const p = px[j]!;
      let k = j - 1; // the last earlier entry at p, if any: a scan, not a map (change sets are short; nothing allocated)
      while (k >= 0 && px[k] !== p) k--;
      this.level(i, side, p, k >= 0 ? qty[k]! : (qtyBefore(p) ?? 0), -1);
      this.level(i, side, p, qty[j]!, 1);
    }
  }

  /** After book i reached instrSeq (its changes given to `changes` first). */
  record(i: number, instrSeq: number): void {
    const h = this.history[i]!;
    h.set(instrSeq, fingerprint(this.sum1[i]!, this.sum2[i]!));
    h.delete(instrSeq - this.keepEvents);
    this.newest[i] = instrSeq;
  }

  /** Compares the subscriber's book `sub` with the publisher's book i at the same instrSeq. */
  compare(i: number, name: string, sub: Levels | undefined, when: string): void {
    if (sub === undefined) {
      this.differ.push(`${name}: no book at the subscriber (${when})`);
      return;
    }
    const disorder = levelsOrderError(sub);
    if (disorder !== undefined) {
      this.differ.push(`${name} at instrSeq ${sub.instrSeq}: ${disorder} (${when})`);
      return;
    }
    if (sub.instrSeq > this.newest[i]!) {
      this.differ.push(`${name} at instrSeq ${sub.instrSeq}: ahead of the publisher's ${this.newest[i]} (${when})`);
      return;
    }
    const want = this.history[i]!.get(sub.instrSeq);
    if (want === undefined) {
      this.unchecked++;
      return;
    }
    this.compared++;
    if (levelsHash(sub) !== want) this.differ.push(`${name} at instrSeq ${sub.instrSeq} (${when})`);
  }

  /** The row's verdict cell. */
  verdict(): string {
    if (this.differ.length > 0) return `NO (${this.differ.length} differ)`;
    return this.compared > 0 ? "yes" : "NO (none compared)";
  }
}

/**
 * The recovery figures of a run, or "withheld" in their place when a recovered book was not the publisher's (or none
 * was compared): a time to a wrong book is not a recovery.
 */
export function recoveryCells(sortedMs: readonly number[], check: PublishedLevels): { p50Ms: number | string; p99Ms: number | string; maxMs: number | string } {
  if (check.verdict() !== "yes") return { p50Ms: "withheld", p99Ms: "withheld", maxMs: "withheld" };
  const at = (p: number) => (sortedMs.length === 0 ? "–" : sortedMs[Math.min(sortedMs.length - 1, Math.floor(p * sortedMs.length))]!);
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sortedMs.at(-1) ?? "–" };
}
