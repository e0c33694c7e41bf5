/**
 * The common instrument reloader (src/venues/common/instrument-reload.ts) on a clock the test moves, its checks
 * called by the test: periodic deadlines, announced times, a re-check asked for while a reload is in flight, and a
 * failed reload retried after a doubling wait (announced times that passed wait for the retry too).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { captureLog } from "../../support/capture-log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { InstrumentReloader } from "../../../src/venues/common/instrument-reload.ts";

const reloaders: InstrumentReloader[] = [];
afterEach(() => {
  while (reloaders.length > 0) reloaders.pop()!.stop();
});

function rig(intervalMs: number, log: Logger = silentLogger, quietMarket?: (m: MarketName) => boolean) {
  const clock = { ms: 1_000_000 };
  const calls: { market: MarketName; atMs: number; done: (err?: Error) => void }[] = [];
  const r = new InstrumentReloader({
    venue: "test",
    log,
    now: () => clock.ms,
    markets: ["spot", "linear"],
    intervalMs,
    checkEveryMs: 1_000_000_000, // the test calls check()
    retryBaseMs: 2_000,
    retryMs: 60_000,
    reload: (market) => new Promise<boolean>((resolve, reject) => calls.push({ market, atMs: clock.ms, done: (err) => (err ? reject(err) : resolve(true)) })),
    ...(quietMarket ? { quietMarket } : {}),
  });
  reloaders.push(r);
  r.start();
  const settle = () => new Promise((res) => setImmediate(res));
  return { r, clock, calls, settle };
}

describe("instrument reloader", () => {
  test("each market every interval by the clock, not before; 0 = no periodic reload", async () => {
    const { r, clock, calls, settle } = rig(3_600_000);
    clock.ms += 3_600_000 - 1;
    r.check();
    expect(calls).toEqual([]);
    clock.ms += 1;
    r.check();
    expect(calls.map((c) => c.market)).toEqual(["spot", "linear"]);
    for (const c of calls) c.done();
    await settle();
    clock.ms += 3_600_000;
    r.check();
    expect(calls.length).toBe(4);
    expect(r.reloads).toBe(2);
    const off = rig(0);
    off.clock.ms += 365 * 86_400_000;
    off.r.check();
    expect(off.calls).toEqual([]);
  });

  test("a clock stepped back an hour delays neither the periodic reload nor a failed reload's retry by the hour", async () => {
    const { r, clock, calls, settle } = rig(600_000);
    clock.ms -= 3_600_000; // the periodic deadlines were set an hour "ahead" of the clock now
    r.check(); // the check right after the step (every checkEveryMs)
    expect(calls).toEqual([]);
    clock.ms += 600_000;
    r.check();
    expect(calls.map((c) => c.market)).toEqual(["spot", "linear"]); // within one interval of the step
    calls[0]!.done(new Error("venue down"));
    calls[1]!.done();
    await settle();
    clock.ms -= 3_600_000; // the retry (2 s after the failure) now an hour ahead
    r.check();
    clock.ms += 600_000;
    r.check();
    // The failed market's retry and the other's periodic reload: within the longest wait (the interval) of the step.
    expect(calls.slice(2).map((c) => c.market)).toEqual(["spot", "linear"]);
  });

  test("a market whose books are all closed: its failing reload's retry doubles to the interval (10 min), and a clock stepped back keeps it there, not 30 min", async () => {
    const { r, clock, calls, settle } = rig(600_000, silentLogger, (m) => m === "linear");
    let pending: ((err?: Error) => void) | undefined;
    /** Checks at `ms`, spot's periodic reloads (open books) answered; whether linear's reload ran (kept in `pending`). */
    const take = (ms: number) => {
      clock.ms = ms;
      r.check();
      for (const c of calls.filter((c) => c.market === "spot")) c.done();
      const linear = calls.find((c) => c.market === "linear");
      calls.splice(0);
      pending = linear?.done;
      return linear !== undefined;
    };
    expect(take(clock.ms + 600_000)).toBe(true);
    let waitMs = 2_000;
    for (;;) {
      pending!(new Error("venue down"));
      await settle();
      const t = clock.ms;
      expect(take(t + waitMs - 1)).toBe(false);
      expect(take(t + waitMs)).toBe(true);
      await settle();
      if (waitMs === 600_000) break;
      waitMs = Math.min(600_000, waitMs * 2); // never past instrument_reload_ms (QUIET_RETRY_MAX_MS is 30 min)
    }
    pending!(new Error("venue down"));
    await settle();
    const back = clock.ms - 3_600_000; // the retry (10 min after the failure) now 70 min ahead
    expect(take(back)).toBe(false);
    expect(take(back + 600_000 - 1)).toBe(false);
    // Before: held to 30 min (QUIET_RETRY_MAX_MS) from the step, past the interval the docs promise it never passes.
    expect(take(back + 600_000)).toBe(true);
  });

  test("an announced time reloads its market once it has come, far beyond what one timer can wait", async () => {
    const { r, clock, calls, settle } = rig(0);
    const atMs = clock.ms + 40 * 86_400_000;
    r.announce("linear", atMs);
    r.announce("linear", atMs); // the same announcement seen twice: one reload
    clock.ms = atMs - 1;
    r.check();
    expect(calls).toEqual([]);
    clock.ms = atMs;
    r.check();
    expect(calls.map((c) => [c.market, c.atMs])).toEqual([["linear", atMs]]);
    calls[0]!.done();
    await settle();
    expect(r.nextAnnouncedMs("linear")).toBeUndefined();
    r.check();
    expect(calls.length).toBe(1);
  });

  test("a re-check asked for while the market's reload is in flight runs once more after it", async () => {
    const { r, calls, settle } = rig(3_600_000);
    r.requestNow("spot");
    r.requestNow("spot"); // in flight: coalesced
    expect(calls.map((c) => c.market)).toEqual(["spot"]);
    calls[0]!.done();
    await settle();
    expect(calls.map((c) => c.market)).toEqual(["spot", "spot"]);
    calls[1]!.done();
    await settle();
    r.check();
    expect(calls.length).toBe(2); // then the periodic deadline again
  });

  test("a re-check of another market while one's reload is in flight does not run that one again", async () => {
    // Before, the count of re-checks was one for all markets: linear's ask (every market's books going stale in a
    // venue-wide break asks for each) made spot's in-flight reload, asked for before it, run a second, needless time.
    const { r, calls, settle } = rig(3_600_000);
    r.requestNow("spot");
    r.requestNow("linear");
    expect(calls.map((c) => c.market)).toEqual(["spot", "linear"]);
    calls[0]!.done();
    calls[1]!.done();
    await settle();
    r.check();
    expect(calls.map((c) => c.market)).toEqual(["spot", "linear"]); // each once
    expect(r.reloads).toBe(2);
  });

  test("a failed reload is retried after retryBaseMs, doubling per failure in a row up to retryMs; the announced time that passed waits with it", async () => {
    const { r, clock, calls, settle } = rig(3_600_000);
    r.announce("spot", clock.ms);
    r.check();
    expect(calls.length).toBe(1);
    // Waits 2, 4, 8, 16, 32, then 60 (the cap) and 60 s.
    for (const waitMs of [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]) {
      calls.at(-1)!.done(new Error("HTTP 503"));
      await settle();
      const n = calls.length;
      clock.ms += waitMs - 1;
      r.check();
      expect(calls.length).toBe(n); // not before the wait (the announced time, long passed, waits too)
      clock.ms += 1;
      r.check();
      expect(calls.length).toBe(n + 1);
      expect(calls.at(-1)!.market).toBe("spot");
    }
    expect(r.failures).toBe(7);
    // A success ends the streak: the next failure waits retryBaseMs again.
    calls.at(-1)!.done();
    await settle();
    r.requestNow("spot");
    calls.at(-1)!.done(new Error("HTTP 503"));
    await settle();
    const n = calls.length;
    clock.ms += 2_000;
    r.check();
    expect(calls.length).toBe(n + 1);
  });

  test("a reload that fails after the reloader stopped is neither logged as 'retrying' nor counted (no retry runs)", async () => {
    const { log, lines } = captureLog();
    const { r, calls, settle } = rig(3_600_000, log);
    r.requestNow("spot");
    calls.at(-1)!.done(new Error("HTTP 503"));
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(["test: instrument reload failed; retrying"]); // running: logged
    r.requestNow("spot");
    r.stop();
    calls.at(-1)!.done(new Error("the stop ended the answer"));
    await settle();
    // Before: a second "retrying" line after the stop, and the failure counted.
    expect(lines.map((l) => l.msg)).toEqual(["test: instrument reload failed; retrying"]);
    expect(r.failures).toBe(1);
  });
});

describe("instrument reloader: two clocks", () => {
  function twoClocks() {
    const mono = { ms: 5_000 };
    const wall = { ms: 1_800_000_000_000 };
    const calls: { market: MarketName; done: () => void }[] = [];
    const r = new InstrumentReloader({
      ...{ venue: "test", log: silentLogger, markets: ["spot"] as MarketName[], intervalMs: 3_600_000, checkEveryMs: 1_000_000_000 },
      now: () => mono.ms,
      wallNow: () => wall.ms,
      reload: (market) => new Promise<boolean>((resolve) => calls.push({ market, done: () => resolve(true) })),
    });
    reloaders.push(r);
    r.start();
    return { r, mono, wall, calls };
  }

  test("an announced time (the venue's time of day) comes by the wall clock; the interval by the monotonic one", async () => {
    // Before, announced times were compared with the deadline clock: monotonic in production, it is not epoch ms
    // after a wall-clock step, so a change announced for 30 min ahead waited for the monotonic clock to get there.
    const { r, mono, wall, calls } = twoClocks();
    r.announce("spot", wall.ms + 1_800_000);
    mono.ms += 1_800_000 - 1;
    wall.ms += 1_800_000 - 1;
    r.check();
    expect(calls).toEqual([]);
    wall.ms += 3_600_000; // the wall clock stepped an hour ahead: the announced time has come, the interval has not
    r.check();
    expect(calls.map((c) => c.market)).toEqual(["spot"]);
    calls[0]!.done();
    await new Promise((res) => setImmediate(res));
    expect(r.nextAnnouncedMs("spot")).toBeUndefined(); // done by that reload
    // The periodic deadline counts from that reload on the monotonic clock: an hour of it, whatever the wall says.
    wall.ms += 10 * 3_600_000;
    r.check();
    expect(calls.length).toBe(1);
    mono.ms += 3_600_000;
    r.check();
    expect(calls.length).toBe(2);
  });
});
