/**
 * A level at price 0 (or -0) is refused by the builder: every venue's reader parses "0" as a valid mantissa, so
 * before this check a bid at price 0 was published LIVE (and an ask at 0 too when the bid side was empty). The
 * builder throws BookInputError naming the side, level and value before the update is counted (instrSeq unchanged),
 * and never makes the book LIVE with it; the app then marks the book RESYNCING / PARSE_ERROR (test/app/
 * review-input-price.test.ts). Negative, NaN and -0 values never reach it: the readers refuse a sign (the
 * per-venue review-input tests).
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder, BookInputError, RepeatedPriceError } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState } from "../../src/core/types.ts";
import { testInstrument } from "./reference-book.ts";

const instr = testInstrument(2, 3);
type L = [number, number];
type Kind = "snapshot" | "delta" | "replace";

function upd(kind: Kind, bids: L[], asks: L[]): BookUpdate {
  const u = new BookUpdate(4);
  u.isSnapshot = kind === "snapshot";
  u.replace = kind === "replace";
  for (const [p, q] of bids) u.pushBid(p, q);
  for (const [p, q] of asks) u.pushAsk(p, q);
  return u;
}
function apply(b: BookBuilder, u: BookUpdate): ApplyResult {
  return u.replace ? b.applyReplace(u) : u.isSnapshot ? b.applySnapshot(u) : b.applyDelta(u);
}
function live(bids: L[] = [[1000, 1], [990, 2]], asks: L[] = [[1010, 3], [1020, 4]]): BookBuilder {
  const b = new BookBuilder(instr);
  expect(b.applySnapshot(upd("snapshot", bids, asks))).toBe(ApplyResult.APPLIED);
  return b;
}
function levels(b: BookBuilder): string {
  const out: string[] = [];
  for (let i = 0; i < b.bidCount; i++) out.push(`b${b.bidPriceAt(i)}=${b.bidQtyAt(i)}`);
  for (let i = 0; i < b.askCount; i++) out.push(`a${b.askPriceAt(i)}=${b.askQtyAt(i)}`);
  return out.join(" ");
}
function refused(b: BookBuilder, u: BookUpdate): BookInputError {
  try {
    apply(b, u);
  } catch (err) {
    expect(err).toBeInstanceOf(BookInputError);
    return err as BookInputError;
  }
  throw new Error(`accepted: state ${b.state}, levels ${levels(b)}`);
}

describe("BookBuilder refuses a level at price 0", () => {
  it("a snapshot with a bid at price 0 is refused naming the field; the book does not go LIVE", () => {
    const b = new BookBuilder(instr);
    const e = refused(b, upd("snapshot", [[1000, 1], [0, 5]], [[1010, 3]]));
    expect(e.message).toBe("TEST: bid price 0 at level 1 of the message: a price must be > 0");
    expect([e.field, e.level, e.value]).toEqual(["bid price", 1, 0]);
    expect(b.state).toBe(BookState.AWAITING_SNAPSHOT);
    expect(b.instrSeq).toBe(0);
    expect(b.counters.snapshots).toBe(0);
  });

  for (const kind of ["delta", "replace", "snapshot"] as const) {
    it(`${kind} on a LIVE book: bid 0, bid -0, ask 0 (bid side empty or not) are refused, not counted`, () => {
      const cases: [L[], L[], L[], string][] = [
        [[[1000, 1]], [[0, 1]], [], "bid price 0 at level 0"],
        [[[1000, 1]], [[995, 2], [-0, 1]], [], "bid price -0 at level 1"],
        [[], [], [[1015, 1], [0, 1]], "ask price 0 at level 1"],
        [[[1000, 1]], [[995, 1]], [[0, 4]], "ask price 0 at level 0"],
      ];
      for (const [start, bids, asks, what] of cases) {
        const b = live(start);
        const seq = b.instrSeq;
        const counted = b.counters.deltas + b.counters.replaces + b.counters.snapshots;
        const e = refused(b, upd(kind, bids, asks));
        expect(e.message, what).toContain(`: ${what} of the message`);
        expect(b.instrSeq, what).toBe(seq);
        expect(b.counters.deltas + b.counters.replaces + b.counters.snapshots, what).toBe(counted);
      }
    });
  }

  it("names the entry whose qty the level at 0 holds, on the side that holds it: not a delete at 0, not the other side", () => {
    // [kind, bids, asks, what]: before 2026-12-06 each named the first entry with a price ≤ 0, the bids first.
    const cases: [Kind, L[], L[], string][] = [
      ["delta", [[0, 0], [995, 1], [0, 5]], [], "bid price 0 at level 2"], // was level 0: the delete
      ["delta", [[0, 3], [0, 7]], [], "bid price 0 at level 1"], // was level 0: overridden
      ["delta", [[0, 0]], [[0, 4]], "ask price 0 at level 0"], // was "bid price 0": a delete of an absent level
      ["snapshot", [[1000, 1], [0, 0]], [[0, 3]], "ask price 0 at level 0"], // was "bid price 0 at level 1": no level
      ["replace", [[1000, 1], [0, 0]], [[1010, 2], [0, 3]], "ask price 0 at level 1"],
      ["snapshot", [[1000, 1], [500, 0], [0, 5]], [], "bid price 0 at level 2"], // a snapshot's qty 0 entry is no level
    ];
    for (const [kind, bids, asks, what] of cases) {
      const e = refused(live(), upd(kind, bids, asks));
      expect(e.message, `${kind} ${JSON.stringify([bids, asks])}`).toContain(`: ${what} of the message`);
    }
  });

  it("an ask at price 0 on an empty book (no bids: never crossed) was LIVE before; now refused", () => {
    const b = new BookBuilder(instr);
    const e = refused(b, upd("snapshot", [], [[0, 2]]));
    expect(e.field).toBe("ask price");
    expect(b.state).not.toBe(BookState.LIVE);
  });

  it("a delete (qty 0) at price 0 holds no level and is applied as a delete of an absent level", () => {
    const b = live();
    expect(apply(b, upd("delta", [[0, 0]], [[0, 0]]))).toBe(ApplyResult.APPLIED);
    expect(b.counters.deletesOfAbsent).toBe(2);
  });

  it("randomized against a reference map: refused exactly when the result would hold a level at price 0", () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const px = (good: number) => (rnd() < 0.1 ? (rnd() < 0.5 ? 0 : -0) : good);
    let refusedN = 0;
    let appliedN = 0;
    let repeatedN = 0;
    for (let round = 0; round < 3000; round++) {
      // Books of every shape: near 0 (the window holds key 0) and far from it (0 would be in the overflow).
      const far = rnd() < 0.5;
      const base = far ? 1_000_000 : 3;
      const bookBids: L[] = [];
      for (let i = 0; i < 1 + Math.floor(rnd() * 5); i++) bookBids.push([base + 20 - 2 * i, 1 + i]);
      const b = live(bookBids, [[base + 100, 1]]);
      const ref = new Map<number, number>(bookBids.map(([p, q]) => [p, q]));
      const kind: Kind = (["delta", "replace", "snapshot"] as const)[Math.floor(rnd() * 3)]!;
      if (kind !== "delta") ref.clear();
      const bids: L[] = [];
      for (let i = 0, n = Math.floor(rnd() * 5); i < n; i++) bids.push([px(Math.max(1, base + Math.floor(rnd() * 25) - 2)), Math.floor(rnd() * 3)]);
      const asks: L[] = rnd() < 0.2 ? [[px(base + 101), Math.floor(rnd() * 2)]] : [];
      // A delta's qty 0 deletes; a snapshot's or full book's qty 0 entry is no level (a price's last qty is kept).
      for (const [p, q] of bids) q !== 0 ? ref.set(p, q) : kind === "delta" && ref.delete(p);
      const zeroAsk = asks.some(([p, q]) => p === 0 && q !== 0);
      const bad = ref.has(0) || zeroAsk;
      if (kind !== "delta" && new Set(bids.map(([p]) => p)).size !== bids.length) {
        // A full list naming a price twice (0 and −0 are one price) is refused for that first (replace.test.ts).
        expect(() => apply(b, upd(kind, bids, asks))).toThrow(RepeatedPriceError);
        repeatedN++;
      } else if (bad) {
        const e = refused(b, upd(kind, bids, asks));
        // The entry named is on a side that now holds 0, at price 0 with the qty the level holds.
        const list = e.field === "bid price" ? bids : asks;
        const [p, q] = list[e.level] ?? [NaN, NaN];
        const holds = e.field === "bid price" ? b.bidCount > 0 && b.bidPriceAt(b.bidCount - 1) === 0 : b.askCount > 0 && b.askPriceAt(0) === 0;
        const later = list.slice(e.level + 1).filter(([x, y]) => x === 0 && (kind === "delta" || y !== 0));
        expect({ p0: p === 0, q: q !== 0, holds, later }, `${kind} ${JSON.stringify([bids, asks])}: ${e.message}`).toEqual({ p0: true, q: true, holds: true, later: [] });
        refusedN++;
      } else {
        apply(b, upd(kind, bids, asks));
        appliedN++;
      }
    }
    expect(refusedN).toBeGreaterThan(100);
    expect(appliedN).toBeGreaterThan(1000);
    expect(repeatedN).toBeGreaterThan(100);
  });
});

describe("BookBuilder refuses a venueSeq or timestamp the wire cannot carry", () => {
  // Published, a venueSeq outside 0 … 2^53 − 1 (or not an integer) had every subscriber refuse its whole datagram
  // (unsafe_integer), other books' messages included; a fraction was written truncated.
  const bad = [-1, -5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1.5, NaN, Infinity, -Infinity];
  for (const kind of ["delta", "replace", "snapshot"] as const) {
    it(`${kind}: refused naming venueSeq before anything is applied; 0 and 2^53 − 1 are taken`, () => {
      for (const v of bad) {
        const b = live();
        b.applyDelta(Object.assign(upd("delta", [], []), { venueSeq: 9 }));
        const before = levels(b);
        const seq = b.instrSeq;
        const u = upd(kind, [[1005, 7]], [[1008, 1]]);
        u.venueSeq = v;
        const e = refused(b, u);
        expect([e.field, e.level, Object.is(e.value, v)], String(v)).toEqual(["venueSeq", -1, true]);
        expect(e.message).toBe(`TEST: venueSeq ${v} of the message is not an integer in 0 … 2^53 − 1 (subscribers refuse a datagram carrying it)`);
        expect([levels(b), b.instrSeq, b.venueSeq, b.state], String(v)).toEqual([before, seq, 9, BookState.LIVE]);
      }
      const fresh = new BookBuilder(instr);
      const s = upd("snapshot", [[1000, 1]], [[1010, 1]]);
      s.venueSeq = NaN;
      refused(fresh, s);
      expect([fresh.state, fresh.instrSeq]).toEqual([BookState.AWAITING_SNAPSHOT, 0]);
      for (const v of [0, 1, 2 ** 53 - 1]) {
        const b = live();
        const u = upd(kind, [[1005, 7]], [[1008, 1]]);
        u.venueSeq = v;
        expect(apply(b, u), String(v)).toBe(ApplyResult.APPLIED);
        expect(b.venueSeq).toBe(v);
      }
    });
  }

  // The change set is cleared at the start of every apply, refused or not: until 2026-12-07 a snapshot (and a LIVE
  // book's replace) refused for its venueSeq left the previous delta's changes in it (nothing read them then).
  it("a refusal leaves the shared change set empty, as every apply does: no earlier delta's changes in it", () => {
    for (const kind of ["delta", "replace", "snapshot"] as const) {
      const b = live();
      b.applyDelta(upd("delta", [[1000, 5]], []));
      expect(b.changes.count, kind).toBe(1);
      const u = upd(kind, [[1005, 7]], [[1008, 1]]);
      u.venueSeq = -1;
      refused(b, u);
      expect(b.changes.count, kind).toBe(0);
    }
  });

  // A timestamp the same way (until 2026-12-07 taken as given): published, a negative one had every subscriber refuse
  // the whole datagram (unsafe_integer: test/app/review-input-price.test.ts), and each refresh of the book after it.
  const fields = ["tsExchangeUs", "tsEventUs", "tsRecvUs"] as const;
  for (const kind of ["delta", "replace", "snapshot"] as const) {
    it(`${kind}: a timestamp outside 0 … 2^53 − 1 or not an integer is refused naming it; 0 (unknown) and 2^53 − 1 are taken`, () => {
      for (const field of fields) {
        for (const v of bad) {
          const b = live();
          const before = levels(b);
          const seq = b.instrSeq;
          const u = upd(kind, [[1005, 7]], [[1008, 1]]);
          u[field] = v;
          const e = refused(b, u);
          expect([e.field, e.level, Object.is(e.value, v)], `${field} ${v}`).toEqual([field, -1, true]);
          expect(e.message).toBe(`TEST: ${field} ${v} of the message is not an integer in 0 … 2^53 − 1 µs (subscribers refuse a datagram carrying a negative one)`);
          expect([levels(b), b.instrSeq, b[field], b.state], `${field} ${v}`).toEqual([before, seq, 0, BookState.LIVE]);
        }
        for (const v of [0, 1, 2 ** 53 - 1]) {
          const b = live();
          const u = upd(kind, [[1005, 7]], [[1008, 1]]);
          u[field] = v;
          expect(apply(b, u), `${field} ${v}`).toBe(ApplyResult.APPLIED);
          expect(b[field]).toBe(v);
        }
      }
    });
  }

  it("a delta to a book that is not LIVE is ignored as before, whatever its venueSeq (nothing is published)", () => {
    const b = new BookBuilder(instr);
    const u = upd("delta", [[1005, 7]], []);
    u.venueSeq = -1;
    expect(b.applyDelta(u)).toBe(ApplyResult.IGNORED_NOT_LIVE);
  });
});
