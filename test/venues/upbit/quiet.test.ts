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
import type { WsProxy } from "../ws-proxy.ts";
import { recorder, replayRecorded, startProxiedUpbit } from "./proxied.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const OPTIONS = { log: silentLogger, staleAfterMs: () => 300, housekeepingMs: 20, resendMinMs: 50 };
const STEP_MS = 50;
/** KRW-BTC's book moves every this many steps (200 ms, under the 300 ms stale time: it is never asked again). */
const BTC_EVERY = 4;
/** 'goes STALE': every step, so the capture holds a record every 50 ms and pins replay's verdict between two. */
const BTC_EVERY_STEP = 1;

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
 * KRW-BTC book: under CPU load past the test's timeout. `dropXrp()` true: the proxy drops KRW-XRP's frames (a
 * subscription the venue no longer serves) and a step waits for its answer's drop instead.
 */
async function onTestClock(venue: "upbit" | "bithumb", { btcEvery = BTC_EVERY, dropXrp = (): boolean => false } = {}) {
  let clockMs = 1_000_000;
  let droppedXrp = 0;
  const rec = recorder(() => clockMs * 1000);
  const rewriteDown = (f: string) => {
    if (!dropXrp() || !f.includes('"KRW-XRP"')) return f;
    droppedXrp++;
    return null;
  };
  const prepare = (p: WsProxy) => void p.byIndex.set(0, { rewriteDown });
  const run = await startProxiedUpbit(venue, { seed: 3, quiet: ["KRW-XRP"] }, prepare, { ...OPTIONS, now: () => clockMs, ...rec.taps }, cleanups);
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
    const [sent, btc, xrp] = [link.fromClient.length, frames("KRW-BTC"), frames("KRW-XRP") + droppedXrp];
    const btcMoves = steps++ % btcEvery === 0;
    clockMs += STEP_MS;
    if (btcMoves) run.sim.step(1, "KRW-BTC");
    control.flush();
    lc.onHousekeeping();
    // Each request (the whole list) draws both codes' SNAPSHOTs, KRW-BTC's first: a dropped KRW-XRP answer does not
    // say the adapter read KRW-BTC's, so that is waited for too (else read, and recorded, some steps later).
    await until(() => {
      if (link.fromClient.length < base + written) return false;
      const asked = link.fromClient.slice(sent).filter((f) => f.includes('"orderbook"')).length;
      return frames("KRW-BTC") >= btc + (btcMoves ? 1 : 0) + asked && frames("KRW-XRP") + droppedXrp >= xrp + asked;
    }, "the proxy has what the adapter wrote, KRW-BTC's book, both codes' answers to a request");
  };
  return { ...run, rec, step, droppedXrp: () => droppedXrp };
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
    const { adapter, sink, sim, rec, step, droppedXrp } = await onTestClock(venue, { btcEvery: BTC_EVERY_STEP, dropXrp: () => drop });
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
