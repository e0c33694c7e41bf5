/**
 * Upbit / Bithumb timestamps, the only ordering key: a book stamped far ahead of the venue's clock (one frame's
 * timestamp rewritten on the way by a proxy) must not leave its book LIVE and frozen behind a timestamp the venue never
 * reaches again. The books after it are all older: they are ignored, and they no longer count as signs of life, so the
 * book goes stale, forgets that timestamp and is the venue's again with the next book; the other code is untouched.
 * The adapter runs on the test's clock with a still simulator (onTestClock): every verdict falls at the same step on
 * any machine. Before, the simulator ran in real time (100 books/s) on the wall clock: under CPU load 'books equal at
 * start' timed out (the books moved while polled), and a stall of this process past the stale time silenced both codes.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { CommonAdapterOptions } from "../../../src/venues/venue.ts";
import type { WsProxy } from "../ws-proxy.ts";
import { until } from "../planned-fallback-harness.ts";
import { recorder, replayRecorded, startProxiedUpbit } from "./proxied.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const STEP_MS = 50;
type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
type Control = { flush(): void; write(...a: unknown[]): void };

/**
 * The proxied venue with the adapter on the test's clock (as quiet.test.ts): `step()` moves the clock STEP_MS, one book
 * of each code (sim.step), writes what the pacing allows, runs a housekeeping round and waits (real time, the clock
 * still) for what it sent: both books, and both codes' answers to any request written. The capture holds each frame
 * at the clock's time, so replay sees the times live judged by.
 */
async function onTestClock(venue: "upbit" | "bithumb", prepare: (p: WsProxy) => void, options: CommonAdapterOptions & Record<string, unknown>) {
  let clockMs = 1_000_000;
  const rec = recorder(() => clockMs * 1000);
  const run = await startProxiedUpbit(venue, { seed: 11 }, prepare, { ...options, now: () => clockMs, ...rec.taps }, cleanups);
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
  const step = async () => {
    const [sent, btc, xrp] = [link.fromClient.length, frames("KRW-BTC"), frames("KRW-XRP")];
    clockMs += STEP_MS;
    run.sim.step(1);
    control.flush();
    lc.onHousekeeping();
    await until(() => {
      if (link.fromClient.length < base + written) return false;
      const asked = link.fromClient.slice(sent).filter((f) => f.includes('"orderbook"')).length;
      return frames("KRW-BTC") >= btc + 1 + asked && frames("KRW-XRP") >= xrp + 1 + asked;
    }, "the proxy has what the adapter wrote, both codes' books and answers");
  };
  return { ...run, rec, step };
}

describe.each(["upbit", "bithumb"] as const)("%s: a book stamped far ahead of the venue's clock", { timeout: 60_000 }, (venue) => {
  test("is not left LIVE behind that timestamp: the book goes stale, forgets it, and follows the venue again", async () => {
    let ahead = 0; // the rewritten timestamp, once sent
    let armed = false;
    const rewrite = (proxy: WsProxy) => proxy.byIndex.set(0, {
      rewriteDown: (f) => {
        if (!armed || !f.includes('"KRW-BTC"')) return f;
        armed = false;
        return f.replace(/"(timestamp|tms)":(\d+)/, (_m, k: string, ts: string) => {
          ahead = Math.floor(Number(ts) * 1.5); // ~2056: ahead of every book the venue sends in this test
          return `"${k}":${ahead}`;
        });
      },
    });
    const errors: { msg: string; topic: unknown }[] = [];
    const log = { ...silentLogger, error: (msg: string, f?: Record<string, unknown>) => void errors.push({ msg, topic: f?.topic }), child: () => log };
    // The codes whose book went stale with only older books arriving (the timestamp ahead forgotten).
    const olderOnlyCodes = () => new Set(errors.filter((e) => e.msg.includes("only books older than the newest applied arrived for the stale time")).map((e) => e.topic));
    // The live run recorded as `feeder record` records it (rec), for the replay below.
    const { adapter, sink, equal, sim, rec, step } = await onTestClock(venue, rewrite, { log, staleAfterMs: () => 400, housekeepingMs: 20, reconnectBaseMs: 5 });
    expect(olderOnlyCodes()).toEqual(new Set());
    const liveInvalidAt: number[] = []; // the records tapped before each live invalidation (replayRecorded's invalidAt)
    const onInvalid = sink.onBookInvalid.bind(sink);
    sink.onBookInvalid = (index, state, reason) => {
      liveInvalidAt.push(rec.records.length);
      onInvalid(index, state, reason);
    };

    const invalidBefore = sink.invalid.length; // none: nothing went stale at the start
    const btcSince = () => sink.invalid.slice(invalidBefore).filter((e) => e.index === 0);
    armed = true;
    await step();
    expect(ahead).toBeGreaterThan(0);
    expect(sink.seq[0]).toBe(ahead); // the book stamped ahead applied
    const olderBefore = adapter.stats().olderTimestamps!;
    for (let i = 0; i < 5; i++) await step();
    expect(adapter.stats().olderTimestamps!).toBeGreaterThanOrEqual(olderBefore + 5); // the venue's next books, older than it
    // Old: those books kept the book from going stale; it stayed LIVE at the timestamp ahead, frozen, for good. 20
    // steps (1 s) is over twice the stale time: a rule that never calls it stale fails here, not at a timeout.
    for (let i = 0; i < 20 && btcSince().length === 0; i++) await step();
    expect(btcSince()[0]).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    for (let i = 0; i < 10 && !equal(0); i++) await step();
    expect(equal(0)).toBe(true); // the book the venue's again
    expect(olderOnlyCodes()).toEqual(new Set(["KRW-BTC"]));
    // The other code was never touched: no "older only" verdict named it (above), and nothing took it out of LIVE.
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
    expect(equal(1)).toBe(true);

    // Replayed (the adapter's replay entry, its clock at each record's receive time and the housekeeping due by then
    // run first, as the Feeder's replay does), the capture goes as live went: STALE once, then LIVE at live's book.
    // Before, replay had no stale time: LIVE at the stamp ahead to the end, every later book ignored as older.
    const recorded = rec.records.slice();
    const liveSeq = sink.seq.slice(); // the tap runs as each frame is handled: live's books after exactly these
    const liveInvalid = sink.invalid.slice(invalidBefore);
    const { sink: replaySink, invalidAt } = await replayRecorded(venue, sim.restUrl, recorded, { staleAfterMs: () => 400 }, cleanups);
    // KRW-BTC's events from the book stamped ahead on.
    const aheadAt = recorded.findIndex((r) => r.frame?.includes(`:${ahead}`));
    expect(aheadAt).toBeGreaterThan(0);
    const btcAfter = (list: typeof liveInvalid, at: number[]) => list.filter((e, k) => e.index === 0 && at[k]! > aheadAt);
    expect(btcAfter(replaySink.invalid, invalidAt)).toEqual(btcAfter(liveInvalid, liveInvalidAt));
    expect(replaySink.seq).toEqual(liveSeq);
  });
});
