import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder, RepeatedPriceError } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { fillUpdate, type RefLevel, testInstrument, viewLevels } from "./reference-book.ts";

const instr = testInstrument(2, 3);
const u = new BookUpdate();

function snap(b: BookBuilder, bids: RefLevel[], asks: RefLevel[], seq = 1) {
  return b.applySnapshot(fillUpdate(u, instr, true, bids, asks, seq));
}
function delta(b: BookBuilder, bids: RefLevel[], asks: RefLevel[], seq = 2) {
  return b.applyDelta(fillUpdate(u, instr, false, bids, asks, seq));
}
function changes(b: BookBuilder): string[] {
  const c = b.changes;
  const out: string[] = [];
  for (let i = 0; i < c.bidCount; i++) out.push(`b${c.bidPx[i]}=${c.bidQty[i]}`);
  for (let i = 0; i < c.askCount; i++) out.push(`a${c.askPx[i]}=${c.askQty[i]}`);
  return out;
}
function live(): BookBuilder {
  const b = new BookBuilder(instr);
  snap(b, [["100.00", "1"], ["99.5", "2"]], [["101", "3"], ["102.50", "4"]]);
  return b;
}

describe("BookBuilder", () => {
  it("TC0: starts awaiting a snapshot and ignores deltas until one arrives", () => {
    const b = new BookBuilder(instr);
    expect(b.state).toBe(BookState.AWAITING_SNAPSHOT);
    expect(b.reason).toBe(StatusReason.STARTUP);
    expect(delta(b, [["1", "1"]], [])).toBe(ApplyResult.IGNORED_NOT_LIVE);
    expect(b.bidCount).toBe(0);
    expect(b.instrSeq).toBe(0);
    expect(b.counters.ignoredNotLive).toBe(1);
  });

  it("TC1: a snapshot replaces the book, goes LIVE and copies sequence and timestamps", () => {
    const b = live();
    u.tsExchangeUs = 11;
    u.tsEventUs = 12;
    u.tsRecvUs = 13;
    u.isSnapshot = true;
    u.venueSeq = 77;
    expect(b.applySnapshot(u)).toBe(ApplyResult.APPLIED); // same levels again, now with timestamps
    expect(b.state).toBe(BookState.LIVE);
    expect(b.reason).toBe(StatusReason.SNAPSHOT_APPLIED);
    expect([b.venueSeq, b.tsExchangeUs, b.tsEventUs, b.tsRecvUs]).toEqual([77, 11, 12, 13]);
    expect(b.instrSeq).toBe(2);
    snap(b, [["98", "5"]], [["103", "0"], ["104", "6"]]);
    expect(viewLevels(b, "bid")).toEqual([["98", "5"]]);
    expect(viewLevels(b, "ask")).toEqual([["104", "6"]]);
    expect(b.changes.count).toBe(0);
    expect(b.counters.snapshots).toBe(3);
  });

  it("TC1r: a snapshot listing a price twice on one side is refused naming it; distinct prices in any order are sorted", () => {
    // Until 2026-12-08 the last entry was kept and the book went LIVE at a guess of the venue's size there.
    const cases: [RefLevel[], RefLevel[], string][] = [
      [[["100.00", "1"], ["99.50", "2"], ["100", "3"]], [["101", "1"]], "bybit linear TEST: bid price 100.00 is listed twice"],
      [[["100", "1"]], [["101.25", "1"], ["102", "2"], ["101.25", "0"]], "bybit linear TEST: ask price 101.25 is listed twice"], // a qty 0 entry too
      [[["100", "1"], ["100", "1"]], [], "bid price 100.00 is listed twice"], // the same size twice too
    ];
    for (const [bids, asks, what] of cases) {
      for (const b of [new BookBuilder(instr), live()]) {
        const before = b.instrSeq;
        expect(() => snap(b, bids, asks), what).toThrow(RepeatedPriceError);
        expect(() => snap(b, bids, asks), what).toThrow(what);
        expect(b.instrSeq).toBe(before); // nothing counted or published: the app marks it (RESYNCING / parse_error)
        expect(b.counters.snapshots).toBe(before === 0 ? 0 : 1);
      }
    }
    const b = new BookBuilder(instr);
    expect(snap(b, [["99", "2"], ["100", "1"], ["98", "0"]], [["103", "3"], ["101", "1"]])).toBe(ApplyResult.APPLIED);
    expect(b.state).toBe(BookState.LIVE);
    expect(viewLevels(b, "bid")).toEqual([["100", "1"], ["99", "2"]]);
    expect(viewLevels(b, "ask")).toEqual([["101", "1"], ["103", "3"]]);
  });

  it("TC2: a delta applies absolute sizes; 0 deletes; the change set lists only real changes", () => {
    const b = live();
    const r = delta(b, [["100", "1"], ["99.50", "0"], ["99.9", "7"], ["50", "0"]], [["101", "3.5"]], 9);
    expect(r).toBe(ApplyResult.APPLIED);
    expect(viewLevels(b, "bid")).toEqual([["100", "1"], ["99.9", "7"]]);
    expect(viewLevels(b, "ask")).toEqual([["101", "3.5"], ["102.5", "4"]]);
    // 100 unchanged (same size) and 50 (absent) are not changes
    expect(changes(b)).toEqual(["b9950=0", "b9990=7000", "a10100=3500"]);
    expect(b.counters.deletesOfAbsent).toBe(1);
    expect(b.counters.deltas).toBe(1);
    expect(b.venueSeq).toBe(9);
    expect(b.instrSeq).toBe(2);
  });

  it("TC3: a crossing delta is applied, then the book goes RESYNCING / CROSSED_BOOK", () => {
    const b = live();
    expect(delta(b, [["101", "1"]], [])).toBe(ApplyResult.CROSSED);
    expect(b.state).toBe(BookState.RESYNCING);
    expect(b.reason).toBe(StatusReason.CROSSED_BOOK);
    expect(b.counters.crossed).toBe(1);
    expect(b.instrSeq).toBe(2);
    expect(changes(b)).toEqual(["b10100=1000"]);
    // later deltas are ignored and leave an empty change set until a snapshot
    expect(delta(b, [["90", "1"]], [])).toBe(ApplyResult.IGNORED_NOT_LIVE);
    expect(b.changes.count).toBe(0);
    expect(snap(b, [["100", "1"]], [["101", "1"]])).toBe(ApplyResult.APPLIED);
    expect(b.state).toBe(BookState.LIVE);
  });

  it("TC4: best bid == best ask counts as crossed; a crossed snapshot does not go LIVE", () => {
    const b = new BookBuilder(instr);
    expect(snap(b, [["100", "1"]], [["100", "1"]])).toBe(ApplyResult.CROSSED);
    expect(b.state).toBe(BookState.RESYNCING);
    expect(b.instrSeq).toBe(1);
    expect(b.isCrossed()).toBe(true);
  });

  it("TC5: one-sided and empty books are not crossed", () => {
    const b = new BookBuilder(instr);
    expect(snap(b, [], [])).toBe(ApplyResult.APPLIED);
    expect(delta(b, [["5", "1"]], [])).toBe(ApplyResult.APPLIED);
    expect(b.askCount).toBe(0);
    expect(b.isCrossed()).toBe(false);
  });

  it("TC6: markInvalid changes state once (instrSeq++), keeps the content, and deltas are then ignored", () => {
    const b = live();
    expect(b.markInvalid(BookState.RESYNCING, StatusReason.SEQUENCE_GAP)).toBe(true);
    expect(b.instrSeq).toBe(2);
    expect(b.markInvalid(BookState.RESYNCING, StatusReason.VENUE_RESET)).toBe(false);
    expect(b.reason).toBe(StatusReason.SEQUENCE_GAP);
    expect(b.instrSeq).toBe(2);
    expect(b.bidCount).toBe(2);
    expect(delta(b, [["1", "1"]], [])).toBe(ApplyResult.IGNORED_NOT_LIVE);
    expect(b.markInvalid(BookState.STALE, StatusReason.STALE_FEED)).toBe(true);
    expect(b.markInvalid(BookState.HALTED, StatusReason.SHUTDOWN)).toBe(true);
    expect(b.instrSeq).toBe(4);
    expect(() => b.markInvalid(BookState.LIVE, StatusReason.NONE)).toThrow(RangeError);
  });

  it("TC6b: resumeStale makes LIVE again only a book that went STALE from LIVE (its levels the venue's), never a crossed or refused one", () => {
    const b = live();
    expect(b.markInvalid(BookState.STALE, StatusReason.STALE_FEED)).toBe(true);
    expect(b.resumeStale()).toBe(true); // its kept levels were the venue's at its last sequence
    expect([b.state, b.reason, b.instrSeq]).toEqual([BookState.LIVE, StatusReason.SNAPSHOT_APPLIED, 3]);
    // Crossed (RESYNCING / crossed_book), then silent: its levels are no usable book, whatever sequence comes next.
    expect(delta(b, [["101", "1"]], [])).toBe(ApplyResult.CROSSED);
    expect(b.markInvalid(BookState.STALE, StatusReason.STALE_FEED)).toBe(true);
    expect(b.resumeStale()).toBe(false);
    expect([b.state, b.isCrossed(), b.instrSeq]).toEqual([BookState.STALE, true, 5]);
    // STALE again by way of a refusal (a gap, a checksum): not resumable either, until a snapshot makes it LIVE.
    const c = live();
    c.markInvalid(BookState.RESYNCING, StatusReason.CHECKSUM_MISMATCH);
    c.markInvalid(BookState.STALE, StatusReason.STALE_FEED);
    expect(c.resumeStale()).toBe(false);
    expect(snap(c, [["100", "1"]], [["101", "1"]])).toBe(ApplyResult.APPLIED);
    c.markInvalid(BookState.STALE, StatusReason.STALE_FEED);
    expect(c.resumeStale()).toBe(true);
    // A snapshot refused while STALE (a bid at price 0, thrown after the load) left levels that are not the venue's.
    c.markInvalid(BookState.STALE, StatusReason.STALE_FEED);
    expect(() => snap(c, [["100", "1"], ["0", "2"]], [["101", "1"]])).toThrow("bid price 0");
    expect(c.state).toBe(BookState.STALE);
    expect(c.resumeStale()).toBe(false);
  });

  it("TC7: deltas with levels in any order, repeated prices in one delta (last wins, each change listed)", () => {
    const b = live();
    delta(b, [["90", "1"], ["99.99", "2"], ["95", "3"], ["99.99", "4"]], [["150", "1"], ["101.01", "2"]]);
    expect(viewLevels(b, "bid")).toEqual([["100", "1"], ["99.99", "4"], ["99.5", "2"], ["95", "3"], ["90", "1"]]);
    expect(viewLevels(b, "ask")).toEqual([["101", "3"], ["101.01", "2"], ["102.5", "4"], ["150", "1"]]);
    expect(changes(b)).toEqual(["b9000=1000", "b9999=2000", "b9500=3000", "b9999=4000", "a15000=1000", "a10101=2000"]);
  });

  it("TC8: builders can share one change set (cleared by every apply)", () => {
    const shared = new ChangeSet();
    const a = new BookBuilder(instr, { changes: shared });
    const b = new BookBuilder(instr, { changes: shared, initialLevels: 4 });
    snap(a, [["1", "1"]], [["2", "1"]]);
    snap(b, [["1", "1"]], [["2", "1"]]);
    delta(a, [["1", "2"]], []);
    expect(shared.count).toBe(1);
    delta(b, [], [["3", "1"], ["4", "1"]]);
    expect(changes(b)).toEqual(["a300=1000", "a400=1000"]);
    expect(b.changes).toBe(a.changes);
  });

  it("TC9: BookView accessors read both sides by rank", () => {
    const b = live();
    expect([b.bidPriceAt(0), b.bidQtyAt(0), b.bidPriceAt(1), b.askPriceAt(1), b.askQtyAt(1)]).toEqual([
      10000, 1000, 9950, 10250, 4000,
    ]);
    expect(b.bytesAllocated()).toBe(b.bids.bytesAllocated() + b.asks.bytesAllocated());
  });
});
