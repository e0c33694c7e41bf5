/**
 * Quiet codes. Upbit sends a book only when it changes (the repository's recording: 5 of its 10 BTC-market codes sent
 * nothing in 30 s), so a code silent past its stale time on a healthy connection may be a book that did not move. It
 * is asked again (the whole list resent; every code answers with its SNAPSHOT) and stays LIVE when its answer comes.
 * Before, it went STALE every stale time, resent the list and re-checked REST, and was LIVE again with the answer. A
 * code that does not answer (a subscription the venue dropped) still goes STALE.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { until } from "../planned-fallback-harness.ts";
import { replayRecorded } from "./proxied.ts";
import { BTC_EVERY_STEP, onTestClock, pacedRequests } from "./quiet-rig.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe.each(["upbit", "bithumb"] as const)("%s: a code whose book does not move (KRW-XRP, quiet)", { timeout: 30_000 }, (venue) => {
  test("stays LIVE: asked again past its stale time, its SNAPSHOT answers; KRW-BTC untouched", async () => {
    const { adapter, sink, equal, sim, rec, step } = await onTestClock(venue, cleanups);
    const requests = adapter.stats().requests!;
    while (adapter.stats().requests! < requests + 4) await step(); // the list asked again four times (KRW-XRP silent)
    // Old: KRW-XRP went STALE every 300 ms (and LIVE again with the resent request's SNAPSHOT).
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().quietAsks).toBeGreaterThanOrEqual(4);
    expect(adapter.stats().quietUnanswered).toBe(0);
    expect(adapter.stats().staleResyncs).toBe(0);
    await until(() => equal(1), "KRW-XRP equal");
    // Replayed, the capture holds each answer where live got it: taken as asked at the stale time (nothing is sent),
    // KRW-XRP stays LIVE as live kept it.
    const liveSeq = sink.seq.slice();
    const replay = await replayRecorded(venue, sim.restUrl, rec.records.slice(), { staleAfterMs: () => 300 }, cleanups);
    expect(replay.sink.invalid.filter((e) => e.index === 1)).toEqual([]);
    expect(replay.adapter.stats().quietAsks).toBeGreaterThanOrEqual(3);
    expect(replay.adapter.stats().requestResends).toBe(0);
    expect(replay.sink.seq).toEqual(liveSeq);
    // Asked faster than the pacing refills (1.5 requests/s per connection): the next resends wait for a token, one
    // longer than the 150 ms window. Its answer's time starts when it goes; before, from its queueing: KRW-XRP went
    // STALE (quiet_unanswered) while its request waited, the venue not yet asked.
    const paced = pacedRequests(adapter);
    while (adapter.stats().requests! < requests + 6) await step();
    await step();
    expect(pacedRequests(adapter)).toBeGreaterThan(paced);
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().quietUnanswered).toBe(0);
  });

  test("goes STALE when it does not answer (its frames dropped: a subscription the venue no longer serves)", async () => {
    let drop = false;
    const { adapter, sink, sim, rec, step, droppedXrp } = await onTestClock(venue, cleanups, { btcEvery: BTC_EVERY_STEP, dropXrp: () => drop });
    const liveInvalidAt: number[] = []; // records tapped before each live invalidation
    const onInvalid = sink.onBookInvalid.bind(sink);
    sink.onBookInvalid = (index, state, reason) => {
      liveInvalidAt.push(rec.records.length);
      onInvalid(index, state, reason);
    };
    drop = true;
    // Its last book at the start: asked at the first round past 300 ms, STALE at the first one at its 150 ms answer
    // time. 20 steps (1 s) is twice that: a rule that never calls it STALE fails below, not at a timeout.
    for (let i = 0; i < 20 && !sink.invalid.some((e) => e.index === 1); i++) await step();
    expect(sink.invalid.find((e) => e.index === 1)).toEqual({ index: 1, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    // It was asked first (the venue answered: the proxy dropped it), and went stale for want of an answer.
    expect(adapter.stats().quietAsks).toBeGreaterThanOrEqual(1);
    expect(droppedXrp()).toBeGreaterThanOrEqual(1);
    expect(adapter.stats().quietUnanswered).toBeGreaterThanOrEqual(1);
    expect(sink.invalid.filter((e) => e.index === 0)).toEqual([]);
    // Replayed: STALE too, its last book's receive time + 300 ms (the ask) + 150 ms (the answer awaited) past, at the
    // latest where live was (live's rounds judge up to one later; live asked at its round, replay at the stale time).
    // The capture reaches past live's verdict (so past replay's): 4 more steps. Before, on the wall clock, a loaded
    // machine's capture could hold no KRW-XRP frame before replay's verdict.
    for (let i = 0; i < 4; i++) await step();
    const records = rec.records.slice();
    const replay = await replayRecorded(venue, sim.restUrl, records, { staleAfterMs: () => 300 }, cleanups);
    const k = replay.sink.invalid.findIndex((e) => e.index === 1);
    expect(replay.sink.invalid[k]).toEqual({ index: 1, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    const at = replay.invalidAt[k]!; // records fed before it: the next one is the first past its time
    expect(at).toBeLessThanOrEqual(liveInvalidAt[sink.invalid.findIndex((e) => e.index === 1)]!);
    const lastXrpUs = records.slice(0, at).findLast((r) => r.frame?.includes('"KRW-XRP"'))!.tsUs;
    expect(records[at]!.tsUs).toBeGreaterThan(lastXrpUs + 450_000);
    expect(records[at - 1]!.tsUs).toBeLessThanOrEqual(lastXrpUs + 450_000 + 1);
  });
});
