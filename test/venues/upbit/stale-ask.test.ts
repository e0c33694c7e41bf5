/**
 * Live, a quiet code's STALE path and the stamp it keeps (docs/venues/upbit.md, staleness): an older book is an
 * answer only to an ask really written before it. (1) A STALE book's resend (restart) the pacing held: a stray older
 * book before it is written answers nothing, so the newest timestamp is kept and the next stray ignored. Before, the
 * restart took itself for asked at once (askedAtMs = now, nothing written), the stray for its older answer, forgot
 * the timestamp at the next stale time and went LIVE at the next stray's levels. (2) A quiet ask the pacing held
 * (askedAtMs Infinity), then a book applied stamped ahead, then only older books: forgotten at the first stale
 * verdict by the older books lately (olderLately), the only term that can (no written ask counts).
 * (3) A book applied answers any ask: RESYNCING (a refused frame) right after it, a stray older book, then silence:
 * the timestamp kept at the verdict. Before, the ask an applied book had answered (or 0, none) stayed counted.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { until } from "../planned-fallback-harness.ts";
import { onTestClock, pacedRequests } from "./quiet-rig.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const XRP = 1;
const FORGOT = "only books older";

function logged() {
  const errors: string[] = [];
  const log = { ...silentLogger, error: (msg: string) => void errors.push(msg), child: () => log };
  return { errors, log };
}

describe("upbit: a quiet code's older books and the asks written", { timeout: 30_000 }, () => {
  test("a STALE book's resend held by the pacing: a stray older book before its write answers nothing (kept)", async () => {
    const { errors, log } = logged();
    let answers = true; // KRW-XRP's SNAPSHOTs (answers) reach the adapter; its REALTIME strays always do
    const rig = await onTestClock("upbit", cleanups, { xrpDown: (f) => (answers || !f.includes("SNAPSHOT") ? f : null), options: { log } });
    const { sink, sim, step } = rig;
    const adapter = rig.adapter as UpbitAdapter;
    const stats = () => adapter.stats();
    answers = false;
    const olderRead = async (what: string) => {
      const older = stats().olderTimestamps!;
      sim.inject("older", "KRW-XRP");
      await until(() => stats().olderTimestamps! > older, what);
    };
    // Unanswered, KRW-XRP goes STALE and each stale time resends the list, faster than the pacing refills: until one
    // resend waits for a token.
    let held = false;
    for (let i = 0; i < 60 && !held; i++) {
      const [stale, paced] = [stats().staleResyncs!, pacedRequests(adapter)];
      await step();
      held = stats().staleResyncs! > stale && pacedRequests(adapter) > paced && adapter.topicInfo(XRP).state === "stale";
    }
    expect(held).toBe(true);
    const seq = sink.seq[XRP];
    await olderRead("a stray older book read while the resend waits"); // before the resend is written
    const stale = stats().staleResyncs!;
    for (let i = 0; i < 20 && stats().staleResyncs! === stale; i++) await step(); // its next stale time
    expect(stats().staleResyncs).toBeGreaterThan(stale);
    // Before: forgotten here ("only books older than the newest applied"), the stray answering no ask taken for one.
    expect(errors.filter((e) => e.includes(FORGOT))).toEqual([]);
    await olderRead("another stray older book");
    expect([adapter.topicInfo(XRP).state, sink.seq[XRP]]).toEqual(["stale", seq]); // before: LIVE at its levels
    answers = true;
    for (let i = 0; i < 20 && adapter.topicInfo(XRP).state !== "live"; i++) await step(); // a resend's answer
    await until(() => rig.equal(XRP), "KRW-XRP the venue's again");
  });

  test("RESYNCING, not LIVE, then silent: a stray older book after an applied book answers no ask (kept at the verdict)", async () => {
    const { errors, log } = logged();
    let answers = true; // KRW-XRP's SNAPSHOTs (answers) reach the adapter; its REALTIME books always do
    const rig = await onTestClock("upbit", cleanups, { xrpDown: (f) => (answers || !f.includes("SNAPSHOT") ? f : null), options: { log } });
    const { sink, sim, step } = rig;
    const adapter = rig.adapter as UpbitAdapter;
    const stats = () => adapter.stats();
    answers = false;
    // A book applied now (its code's last quiet ask, if any, answered), then a refused frame: RESYNCING, so no quiet
    // ask comes before the verdict; then a stray older book at the same time, over half the stale time before it.
    const applied = stats().replaces!;
    sim.step(1, "KRW-XRP");
    await until(() => stats().replaces! > applied && adapter.topicInfo(XRP).state === "live", "KRW-XRP's book applied");
    sim.inject("malformed", "KRW-XRP");
    await until(() => adapter.topicInfo(XRP).state === "resyncing", "KRW-XRP refused: RESYNCING");
    const seq = sink.seq[XRP];
    const older = stats().olderTimestamps!;
    sim.inject("older", "KRW-XRP");
    await until(() => stats().olderTimestamps! > older, "a stray older book read");
    for (let i = 0; i < 20 && adapter.topicInfo(XRP).state !== "stale"; i++) await step();
    expect(adapter.topicInfo(XRP).state).toBe("stale");
    // Before: forgotten here (askedAtMs an ask an applied book had answered, or 0 for none), the stray its answer.
    expect(errors.filter((e) => e.includes(FORGOT))).toEqual([]);
    const again = stats().olderTimestamps!;
    sim.inject("older", "KRW-XRP");
    await until(() => stats().olderTimestamps! > again, "another stray older book read");
    expect([adapter.topicInfo(XRP).state, sink.seq[XRP]]).toEqual(["stale", seq]); // before: LIVE at its levels
    answers = true;
    for (let i = 0; i < 20 && adapter.topicInfo(XRP).state !== "live"; i++) await step(); // a resend's answer
    await until(() => rig.equal(XRP), "KRW-XRP the venue's again");
  });

  test("a quiet ask held by the pacing, a book stamped ahead applied, then only older books: forgotten at the stale verdict", async () => {
    const { errors, log } = logged();
    let aheadMs = 0; // > 0: KRW-XRP's next book is rewritten to this timestamp, once
    const ahead = (f: string) => {
      if (aheadMs <= 0) return f;
      const out = f.replace(/"timestamp":\d+/, `"timestamp":${aheadMs}`);
      aheadMs = -aheadMs;
      return out;
    };
    const rig = await onTestClock("upbit", cleanups, { xrpDown: ahead, options: { log } });
    const { sink, sim, step } = rig;
    const adapter = rig.adapter as UpbitAdapter;
    const stats = () => adapter.stats();
    // LIVE and quiet, asked every stale time faster than the pacing refills: until a quiet ask waits for a token.
    let held = false;
    for (let i = 0; i < 80 && !held; i++) {
      const [asks, paced] = [stats().quietAsks!, pacedRequests(adapter)];
      await step();
      held = pacedRequests(adapter) > paced && stats().quietAsks! > asks && adapter.topicInfo(XRP).state === "live";
    }
    expect(held).toBe(true);
    // Its answer, once written, stamped far ahead: applied (the held ask counts as none, even once written).
    aheadMs = 2 * sink.seq[XRP]!;
    for (let i = 0; i < 20 && aheadMs > 0; i++) await step();
    await until(() => sink.seq[XRP] === -aheadMs, "the book stamped ahead applied");
    // Then only the venue's books, older than it, every step until the stale verdict.
    for (let i = 0; i < 20 && adapter.topicInfo(XRP).state === "live"; i++) {
      const older = stats().olderTimestamps!;
      sim.inject("older", "KRW-XRP");
      await until(() => stats().olderTimestamps! > older, "an older book read");
      await step();
    }
    expect(sink.invalid.filter((e) => e.index === XRP)).toEqual([{ index: XRP, state: BookState.STALE, reason: StatusReason.STALE_FEED }]);
    // Forgotten at this verdict (older books lately); with that term gone, not (no written ask precedes them).
    expect(errors.filter((e) => e.includes(FORGOT))).toHaveLength(1);
    for (let i = 0; i < 20 && adapter.topicInfo(XRP).state !== "live"; i++) await step(); // the resend's answer
    await until(() => rig.equal(XRP), "KRW-XRP the venue's again");
  });
});
