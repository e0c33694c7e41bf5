/**
 * Quiet codes. Upbit sends a book only when it changes (the repository's recording: 5 of its 10 BTC-market codes sent
 * nothing in 30 s), so a code silent past its stale time on a healthy connection may be a book that did not move. It
 * is asked again (the whole list resent; every code answers with its SNAPSHOT) and stays LIVE when its answer comes.
 * Before, it went STALE every stale time, resent the list and re-checked REST, and was LIVE again with the answer. A
 * code that does not answer (a subscription the venue dropped) still goes STALE.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { until } from "../planned-fallback-harness.ts";
import { recorder, replayRecorded, startProxiedUpbit } from "./proxied.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const OPTIONS = { log: silentLogger, staleAfterMs: () => 300, housekeepingMs: 20, resendMinMs: 50 };
const STEP_MS = 50;
/** KRW-BTC's book moves every this many steps (200 ms, under the 300 ms stale time: it is never asked again). */
const BTC_EVERY = 4;

type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
type Control = { flush(): void; write(...a: unknown[]): void };

/**
 * The proxied venue with the adapter on the test's clock and a still simulator (no books of its own): its
 * housekeeping rounds run by hand, each after the clock moves STEP_MS (KRW-BTC's book moved by sim.step every
 * BTC_EVERY) and the requests the pacing then allows are written. `step()` waits (real time, the clock still) for
 * that book and, when a request went, for KRW-XRP's answer: the venue answers at once on the adapter's clock and the
 * capture holds each frame at that time, so no load on this machine moves a verdict (before, on the wall clock, a
 * loaded machine's answer came past the 150 ms window, live's or replay's). A step with nothing sent waits for
 * nothing. Before, the simulator ran in real time (100 books/s) and each of ~200 10 ms steps waited for a generated
 * KRW-BTC book: under CPU load past the test's timeout.
 */
async function onTestClock(venue: "upbit" | "bithumb") {
  let clockMs = 1_000_000;
  const rec = recorder(() => clockMs * 1000);
  const run = await startProxiedUpbit(venue, { seed: 3, messagesPerSecond: 0, quiet: ["KRW-XRP"] }, () => {}, { ...OPTIONS, now: () => clockMs, ...rec.taps }, cleanups);
  const { lifecycle: lc, control } = run.adapter as unknown as { lifecycle: Lifecycle; control: Control };
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  lc.rounds = { judge: () => true };
  let written = 0;
  const write = control.write.bind(control);
  control.write = (...a) => {
    written++;
    write(...a);
  };
  const link = run.proxy.links[0]!;
  const base = link.fromClient.length; // the subscribe: answered before the books were equal
  const frames = (code: string) => rec.records.filter((r) => r.frame?.includes(`"${code}"`)).length;
  let steps = 0;
  const step = async () => {
    const [sent, btc, xrp] = [link.fromClient.length, frames("KRW-BTC"), frames("KRW-XRP")];
    const btcMoves = steps++ % BTC_EVERY === 0;
    clockMs += STEP_MS;
    if (btcMoves) run.sim.step(1, "KRW-BTC");
    control.flush();
    lc.onHousekeeping();
    await until(() => {
      if (link.fromClient.length < base + written || (btcMoves && frames("KRW-BTC") <= btc)) return false;
      return !link.fromClient.slice(sent).some((f) => f.includes('"orderbook"')) || frames("KRW-XRP") > xrp;
    }, "the proxy has what the adapter wrote, KRW-BTC's book, KRW-XRP's answer to a request");
  };
  return { ...run, rec, step };
}

/** Requests the pacing queued (SubscriptionControl.paced). */
const pacedRequests = (adapter: object) => (adapter as unknown as { control: { paced: number } }).control.paced;

describe.each(["upbit", "bithumb"] as const)("%s: a code whose book does not move (KRW-XRP, quiet)", { timeout: 30_000 }, (venue) => {
  test("stays LIVE: asked again past its stale time, its SNAPSHOT answers; KRW-BTC untouched", async () => {
    const { adapter, sink, equal, sim, rec, step } = await onTestClock(venue);
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
    const rec = recorder();
    const liveInvalidAt: number[] = []; // records tapped before each live invalidation
    const { adapter, sink, sim } = await startProxiedUpbit(venue, { seed: 3, messagesPerSecond: 100, quiet: ["KRW-XRP"] }, (p) => {
      p.byIndex.set(0, { rewriteDown: (f) => (drop && f.includes('"KRW-XRP"') ? null : f) });
    }, { ...OPTIONS, ...rec.taps }, cleanups);
    const onInvalid = sink.onBookInvalid.bind(sink);
    sink.onBookInvalid = (index, state, reason) => {
      liveInvalidAt.push(rec.records.length);
      onInvalid(index, state, reason);
    };
    drop = true;
    await until(() => sink.invalid.some((e) => e.index === 1), "KRW-XRP invalidated");
    expect(sink.invalid.find((e) => e.index === 1)).toEqual({ index: 1, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    // It was asked first, and went stale for want of an answer.
    expect(adapter.stats().quietAsks).toBeGreaterThanOrEqual(1);
    expect(adapter.stats().quietUnanswered).toBeGreaterThanOrEqual(1);
    expect(sink.invalid.filter((e) => e.index === 0)).toEqual([]);
    // Replayed: STALE too, its last book's receive time + 300 ms (the ask) + 150 ms (the answer awaited) past, at the
    // latest where live was (live's rounds judge up to one later; live asked at its round, replay at the stale time).
    // The capture must reach past live's verdict (so past replay's): taken as soon as the verdict was seen, it could
    // end before any frame past the stale time + 450 ms, and replay had no verdict at all (seen once under load).
    await until(() => rec.records.length >= liveInvalidAt[0]! + 20, "frames past live's verdict");
    const records = rec.records.slice(0, liveInvalidAt[0]! + 200);
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
