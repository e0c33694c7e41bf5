/** The per-IP budgets every venue shares (src/venues/common/budgets.ts), on a fake clock. */
import { describe, expect, test } from "vitest";
import { monoEpochMs } from "../../../src/core/clock.ts";
import { equalJitterMs } from "../../../src/venues/common/backoff.ts";
import type { BudgetLedger } from "../../../src/venues/common/budget-ledger.ts";
import { BAN_DEFAULT_MS, budgetedFetch, connectSplit, RestWeightBudget, retryAfterMs, shareOf, SlidingWindowBudget, splitBudget, TokenBucket, type BudgetSplit } from "../../../src/venues/common/budgets.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { limitOf } from "../../../src/venues/common/subscription-control.ts";
import { venueSpec } from "../../../src/venues/registry.ts";
import { CONNECT_WINDOW_MS as BINANCE_CONNECT_WINDOW_MS, CONNECTS_PER_WINDOW as BINANCE_CONNECTS } from "../../../src/venues/binance/protocol.ts";
import {
  CONNECT_WINDOW_MS as BYBIT_CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW as BYBIT_CONNECTS,
  REST_REQUESTS_PER_WINDOW as BYBIT_REST,
  REST_WINDOW_MS as BYBIT_REST_WINDOW_MS,
} from "../../../src/venues/bybit/protocol.ts";
import {
  connectBudget,
  CONNECTS_PER_SECOND as COINBASE_CONNECTS,
  MESSAGES_PER_CONNECT,
  MESSAGES_PER_SECOND as COINBASE_MESSAGES,
  REST_REQUESTS_PER_SECOND as COINBASE_REST,
  SUBSCRIBE_DEADLINE_MS as COINBASE_SUBSCRIBE_DEADLINE_MS,
} from "../../../src/venues/coinbase/protocol.ts";
import {
  CONNECT_WINDOW_MS as DERIBIT_CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW as DERIBIT_CONNECTS,
  REST_REQUESTS_PER_SECOND as DERIBIT_REST,
  SUBSCRIBE_BURST,
  SUBSCRIBE_PER_SECOND,
} from "../../../src/venues/deribit/protocol.ts";
import { INSTRUMENT_REQUESTS_PER_WINDOW, INSTRUMENT_WINDOW_MS } from "../../../src/venues/okx/instruments.ts";
import {
  CONNECT_WINDOW_MS as OKX_CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW as OKX_CONNECTS,
  REST_REQUESTS_PER_WINDOW as OKX_REST,
  REST_WINDOW_MS as OKX_REST_WINDOW_MS,
} from "../../../src/venues/okx/protocol.ts";
import { REST_REQUESTS_PER_WINDOW as UPBIT_REST, REST_WINDOW_MS as UPBIT_REST_WINDOW_MS } from "../../../src/venues/upbit/adapter.ts";
import { BITHUMB_DIALECT, UPBIT_DIALECT } from "../../../src/venues/upbit/protocol.ts";
import { rng } from "../../support/mulberry32.ts";

describe("budgets", () => {
  test("SlidingWindowBudget (messages) against a model that counts the sends of every window: never more than count, never a refusal it did not need", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const count = 1 + Math.floor(r() * 10);
      const windowMs = [1, 7, 100, 1000][Math.floor(r() * 4)]!;
      const w = new SlidingWindowBudget(count, windowMs);
      const sent: number[] = [];
      let now = 0;
      for (let k = 0; k < 400; k++) {
        // Bursts (several at one instant), short gaps and long idles.
        const x = r();
        now += x < 0.4 ? 0 : x < 0.8 ? Math.floor(r() * windowMs * 0.3) : Math.floor(r() * windowMs * 2);
        const inWindow = sent.filter((t) => t > now - windowMs).length; // the model: sends in (now - W, now]
        const wait = w.waitMs(now);
        const took = w.tryTake(now);
        expect(took, `seed ${seed} at ${now}`).toBe(inWindow < count);
        expect(wait === 0, `seed ${seed} at ${now}`).toBe(took);
        if (!took) expect(now + wait - sent[sent.length - count]!, `seed ${seed}: the wait ends as the count-th last send leaves the window`).toBe(windowMs);
        if (took) sent.push(now);
      }
      for (let i = 0; i + count < sent.length; i++) expect(sent[i + count]! - sent[i]!, `seed ${seed}`).toBeGreaterThanOrEqual(windowMs);
    }
  });

  test("SlidingWindowBudget (messages): a clock stepped back holds a send at most one window; splitBudget splits a count between workers", () => {
    const w = new SlidingWindowBudget(2, 1000);
    expect(w.tryTake(10_000) && w.tryTake(10_000)).toBe(true);
    expect(w.waitMs(5_000)).toBe(1000); // stepped back 5 s: a window, not 6 s
    expect(w.tryTake(6_000)).toBe(true);
    for (const workers of [1, 2, 3, 5, 8, 9, 16, 100]) {
      const s = splitBudget(8, 1000, 1 / workers);
      expect((s.count * workers * 1000) / s.windowMs).toBeLessThanOrEqual(8); // together within 8 a second
      expect(s.count).toBeGreaterThanOrEqual(1);
    }
    expect(splitBudget(8, 1000, 1)).toEqual({ count: 8, windowMs: 1000, phaseMs: 0, periodMs: 0, toleranceMs: 0 });
    // 16 workers on 8 a second: one each per 16 slots of 125 ms + 31 ms tolerance, worker 3 in the fourth slot.
    expect(splitBudget(8, 1000, 1 / 16, 3)).toEqual({ count: 1, windowMs: 2496, phaseMs: 468, periodMs: 2496, toleranceMs: 31 });
  });

  test("shareOf splits a per-IP limit between workers, never below 1", () => {
    expect(shareOf(400, 1)).toBe(400);
    expect(shareOf(400, 1 / 3)).toBe(133);
    expect(shareOf(3, 1 / 4)).toBe(1);
    expect(shareOf(300, undefined)).toBe(300);
    // Workers together stay within the limit.
    for (const workers of [1, 2, 3, 5, 7, 64]) expect(shareOf(300, 1 / workers) * workers).toBeLessThanOrEqual(Math.max(300, workers));
  });

  test("a clock stepped back an hour holds no budget for the hour: each waits at most its own length from then", () => {
    const T = 10_000_000;
    const back = T - 3_600_000;
    const window = new SlidingWindowBudget(2, 1000);
    window.take(T);
    window.take(T);
    expect(window.waitMs(back)).toBe(1000); // the full window, counted from the step
    const bucket = new TokenBucket(1, 1, T);
    expect(bucket.tryTake(T)).toBe(true);
    expect(bucket.waitMs(back)).toBe(1000);
    expect(bucket.waitMs(back + 1000)).toBe(0); // refilled a second after the step
    const rest = new RestWeightBudget(10, 60_000);
    rest.take(T, 10);
    expect(rest.waitMs(back, 1)).toBe(60_000); // the spending leaves the window a window after the step
    rest.onResponse(T, 429, "5");
    expect(rest.waitMs(back, 1)).toBe(5_000); // the hold: at most its own length from the step
  });

  test("sliding window: the (max+1)-th event waits until the oldest leaves the window", () => {
    const b = new SlidingWindowBudget(2, 1000);
    expect(b.waitMs(0)).toBe(0);
    b.take(0);
    b.take(400);
    expect(b.waitMs(500)).toBe(500);
    expect(b.waitMs(1000)).toBe(0);
    b.take(1000);
    expect(b.waitMs(1100)).toBe(300); // 400 + 1000 - 1100
  });

  test("sliding window: a clock stepped back holds the window shut no longer than one window", () => {
    // The connect budget runs on the adapters' clock, the wall clock by default. Stepped back by an hour after the
    // window filled, the events lay an hour ahead: the next connect (a reconnect of a dropped connection) waited the
    // hour plus the window. Now such events count from the clock's new now.
    const b = new SlidingWindowBudget(1, 1000);
    b.take(3_600_000);
    expect(b.waitMs(0)).toBe(1000);
    expect(b.waitMs(1000)).toBe(0);
  });

  test("token bucket: a burst up to capacity, then the refill rate", () => {
    const t = new TokenBucket(5, 10, 0); // 5 tokens, 10 per second
    for (let i = 0; i < 5; i++) expect(t.tryTake(0)).toBe(true);
    expect(t.tryTake(0)).toBe(false);
    expect(t.waitMs(0)).toBe(100);
    expect(t.tryTake(99)).toBe(false);
    expect(t.tryTake(100)).toBe(true);
    expect(t.waitMs(100, 3)).toBe(300);
    expect(t.tryTake(10_000, 6)).toBe(false); // never more than capacity
    expect(t.tryTake(10_000, 5)).toBe(true);
  });

  test("REST weight: requests wait while the window's weight is spent", () => {
    const r = new RestWeightBudget(100, 60_000);
    expect(r.waitMs(0, 50)).toBe(0);
    r.take(0, 50);
    r.take(1000, 40);
    expect(r.waitMs(2000, 10)).toBe(0);
    expect(r.waitMs(2000, 20)).toBe(58_000); // the first request (50) leaves the window at 60 s
    expect(r.waitMs(60_000, 20)).toBe(0);
  });

  test("REST weight: 429 and 418 block every request until Retry-After (seconds or a date), else a default", () => {
    const r = new RestWeightBudget(1000, 60_000, 30_000);
    expect(r.onResponse(0, 200, null)).toBe(0);
    expect(r.onResponse(0, 429, "7")).toBe(7000);
    expect(r.waitMs(1000, 1)).toBe(6000);
    expect(r.waitMs(7000, 1)).toBe(0);
    expect(r.onResponse(10_000, 418, null)).toBe(120_000); // a ban without Retry-After: at least Binance's shortest (2 min)
    expect(r.waitMs(20_000, 1)).toBe(110_000);
    expect(r.rateLimited).toBe(1);
    expect(r.banned).toBe(1);
    const at = Date.parse("2026-12-04T12:00:00Z");
    expect(retryAfterMs("Fri, 04 Dec 2026 12:00:05 GMT", at)).toBe(5000);
    expect(retryAfterMs("soon", at)).toBeUndefined();
  });

  test("equal jitter: half fixed, half random, doubling to the cap", () => {
    expect([0, 1, 2, 3, 4].map((a) => equalJitterMs(a, 100, 1000, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect(equalJitterMs(2, 100, 1000, () => 0.5)).toBe(300);
  });
});

describe("budgetedFetch", () => {
  test("spends weight per request, reads 429 + Retry-After into the budget, and a blocked request with an aborted signal fails", async () => {
    const nowMs = 1_000;
    const budget = new RestWeightBudget(10, 60_000, 30_000, new Map([[403, 600_000]]));
    const statuses = [200, 429, 403];
    const calls: string[] = [];
    const fake = (async (input: string | URL | Request) => {
      calls.push(String(input));
      const status = statuses.shift()!;
      return new Response("{}", { status, headers: status === 429 ? { "retry-after": "7" } : {} });
    }) as typeof fetch;
    const f = budgetedFetch(fake, budget, () => nowMs, (url) => (url.includes("depth") ? 5 : 1));
    expect((await f("http://127.0.0.1/depth")).status).toBe(200);
    expect(budget.waitMs(nowMs, 6)).toBe(60_000); // 5 of 10 spent
    expect((await f("http://127.0.0.1/x")).status).toBe(429);
    expect(budget.waitMs(nowMs, 1)).toBe(7_000);
    const aborted = AbortSignal.abort();
    await expect(f("http://127.0.0.1/y", { signal: aborted })).rejects.toThrow(/budget wait aborted/);
    expect(calls).toHaveLength(2);
  });

  test("a request aborted while it waits for weight is dropped unspent, even if the weight frees as it is aborted", async () => {
    let nowMs = 1_000;
    const budget = new RestWeightBudget(10, 60_000);
    const calls: string[] = [];
    const fake = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response("{}");
    }) as typeof fetch;
    const f = budgetedFetch(fake, budget, () => nowMs, () => 10);
    await f("http://127.0.0.1/a"); // the window's weight, spent
    const abort = new AbortController();
    const queued = f("http://127.0.0.1/b", { signal: abort.signal }); // waits for the minute
    expect(budget.waiting).toBe(1);
    // Its bridge restarts just as the minute passes: it must neither go out nor take the freed weight.
    nowMs += 60_000;
    abort.abort();
    await expect(queued).rejects.toThrow(/budget wait aborted/);
    expect(calls).toEqual(["http://127.0.0.1/a"]);
    expect(budget.waiting).toBe(0);
    expect(budget.waitMs(nowMs, 10)).toBe(0); // the next book's request may have it
    // A signal aborted before the call spends nothing either, with weight free.
    await expect(f("http://127.0.0.1/c", { signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
    expect(budget.waitMs(nowMs, 10)).toBe(0);
  });

  test("a venue's own over-limit status (Bybit 403) blocks for its wait", () => {
    const budget = new RestWeightBudget(600, 5_000, 60_000, new Map([[403, 600_000]]));
    expect(budget.onResponse(0, 403, null)).toBe(600_000);
    expect(budget.onResponse(0, 404, null)).toBe(0);
  });
});

describe("holds (s-rev47)", () => {
  test("a clock stepped back bounds a hold by its own length, not by the longest hold the budget was ever given", () => {
    // An hour's 418, long over; then a 60 s 429. Bounded by the longest hold ever, a step back of 30 min held REST
    // for 30 min more; by its own length, 60 s from the step.
    const T = 100_000_000;
    const r = new RestWeightBudget(1000, 60_000);
    r.onResponse(T, 418, "3600");
    const later = T + 4_000_000;
    expect(r.waitMs(later, 1)).toBe(0);
    r.onResponse(later, 429, "60");
    const back = later - 1_800_000;
    expect(r.waitMs(back, 1)).toBe(60_000);
    expect(r.heldUntilMs(back)).toBe(back + 60_000);
    // Relayed holds: the one that ends last is the budget's, bounded by its own length.
    const s = new RestWeightBudget(1000, 60_000);
    s.heldElsewhere(T + 600_000, 600_000);
    s.heldElsewhere(T + 30_000, 30_000); // overlapping, shorter: the longer one stays
    expect(s.waitMs(T, 1)).toBe(600_000);
    expect(s.waitMs(T - 3_600_000, 1)).toBe(600_000);
  });

  test("s-rev52: the connect budget's holds (its own, relayed, carried): a later one ending sooner never shortens the running one; a step back bounds it by its own length", () => {
    const T = 100_000_000;
    const reported: number[] = [];
    const ledger: BudgetLedger = {
      carried: () => ({ windowMs: 300_000, uses: [], blockedUntilMs: T + 60_000, holdMs: 60_000 }), // the slot's previous worker's
      report: (e) => void ("blockedUntilMs" in e && reported.push(e.blockedUntilMs)),
    };
    const b = new SlidingWindowBudget(500, 300_000).track({ key: "bybit:connect", ledger });
    expect(b.waitMs(T)).toBe(60_000);
    b.hold(T + 1_000, 10_000); // this worker's 429 (10 s), ending before the carried hold: it stays, and is reported
    expect(b.waitMs(T + 1_000)).toBe(59_000);
    expect(reported).toEqual([T + 60_000]);
    b.heldElsewhere(T + 20_000, 18_000); // relayed from another worker, shorter still
    expect(b.heldUntilMs(T + 2_000)).toBe(T + 60_000);
    b.heldElsewhere(T + 2_000 + 600_000, 600_000); // a 10 min hold relayed: it ends last, so it is the budget's
    const back = T + 3_000 - 3_600_000; // the wall clock stepped back an hour
    expect(b.waitMs(back)).toBe(600_000); // its own length from the step, not the hour more
    b.hold(back, 10_000); // a refusal after the step, ending sooner: the 10 min hold runs on
    expect(b.waitMs(back + 5_000)).toBe(595_000);
  });

  test("a Retry-After date without a Date header is read against the wall clock, not the budget's monotonic one", async () => {
    // The budget runs on the deadline clock (monotonic: not the time of day after a wall-clock step, here far from
    // any date). Before, the date was read against it: a 60 s Retry-After held requests for ~56 years.
    const wallMs = Date.parse("2026-12-06T02:00:00Z");
    const budget = new RestWeightBudget(100, 60_000);
    const fake = (async () => new Response("{}", { status: 429, headers: { "retry-after": "Sun, 06 Dec 2026 02:01:00 GMT" } })) as unknown as typeof fetch;
    const f = budgetedFetch(fake, budget, () => 5_000, undefined, undefined, () => wallMs);
    expect((await f("http://127.0.0.1/x")).status).toBe(429);
    expect(budget.waitMs(5_000, 1)).toBe(60_000);
  });

  test("a Retry-After date is read against the response's Date (the server's clock), not ours", async () => {
    // Our clock 2 min ahead of the server's: the date, 60 s after the server's now, is in our past. Read against our
    // clock the 429 held nothing, and the next request went into the venue's hold (the way to a 418 ban).
    const serverNow = Date.parse("2026-12-06T02:00:00Z");
    const ours = serverNow + 120_000;
    expect(retryAfterMs("Sun, 06 Dec 2026 02:01:00 GMT", ours, "Sun, 06 Dec 2026 02:00:00 GMT")).toBe(60_000);
    expect(retryAfterMs("Sun, 06 Dec 2026 02:01:00 GMT", ours, "garbage")).toBe(1_000); // no readable Date: our clock (past: the 1 s floor)
    const budget = new RestWeightBudget(100, 60_000);
    const fake = (async () => new Response("{}", { status: 429, headers: { "retry-after": "Sun, 06 Dec 2026 02:01:00 GMT", date: "Sun, 06 Dec 2026 02:00:00 GMT" } })) as unknown as typeof fetch;
    const f = budgetedFetch(fake, budget, () => ours);
    expect((await f("http://127.0.0.1/x")).status).toBe(429);
    expect(budget.waitMs(ours, 1)).toBe(60_000);
  });

  test("a 418 without Retry-After holds at least 2 min, doubling while 418s follow; an answer that is not an error starts over", () => {
    const r = new RestWeightBudget(1000, 60_000); // default 60 s: below the shortest ban
    expect(r.onResponse(0, 418, null)).toBe(BAN_DEFAULT_MS);
    expect(r.onResponse(BAN_DEFAULT_MS, 418, null)).toBe(2 * BAN_DEFAULT_MS);
    expect(r.onResponse(3 * BAN_DEFAULT_MS, 200, null)).toBe(0);
    expect(r.onResponse(3 * BAN_DEFAULT_MS, 418, null)).toBe(BAN_DEFAULT_MS);
    expect(r.onResponse(10 * BAN_DEFAULT_MS, 418, "30")).toBe(30_000); // the venue's own length wins
    expect(r.onResponse(20 * BAN_DEFAULT_MS, 429, null)).toBe(60_000); // a 429 keeps the default
  });

  test("a 418 with Retry-After below the 1 s floor (0, a fraction, a date past) holds the ban default, not the floor; a 429 keeps the floor", () => {
    // Until s-raoor a ban answered "0" held 1 s: the next request went into a ban of 2 min at least, lengthening it.
    const r = new RestWeightBudget(1000, 60_000);
    expect(r.onResponse(0, 418, "0")).toBe(BAN_DEFAULT_MS);
    expect(r.onResponse(BAN_DEFAULT_MS, 418, "0.5")).toBe(2 * BAN_DEFAULT_MS); // in a row: doubling, as without one
    const at = Date.parse("2026-12-04T12:00:00Z");
    expect(r.onResponse(10 * BAN_DEFAULT_MS, 200, null)).toBe(0);
    expect(r.onResponse(10 * BAN_DEFAULT_MS, 418, "Fri, 04 Dec 2026 11:59:00 GMT", null, at)).toBe(BAN_DEFAULT_MS);
    expect(r.retryAfterOutOfRange).toBe(3);
    expect(r.onResponse(20 * BAN_DEFAULT_MS, 418, "1")).toBe(1_000); // at the floor: the venue's own length
    expect(r.onResponse(30 * BAN_DEFAULT_MS, 429, "0")).toBe(1_000); // a 429 "0": the floor, as before
    expect(r.retryAfterOutOfRange).toBe(4);
  });
});

/**
 * Per-IP budgets split between workers (splitBudget, connectSplit, the message limits): the workers' events together
 * never exceed the venue's limit in any window. Before, shareOf's floor of 1 gave 4 workers on OKX's 3 connects/s 4 a
 * second, and every worker's window started empty, so 9 workers on Coinbase made 9 connects at t = 0.
 */
describe("per-IP budgets split between workers", () => {
  type Kind = "connect" | "rest" | "messages" | "bucket";
  interface Limit {
    name: string;
    kind: Kind;
    limit: number;
    windowMs: number;
    /** A bucket's burst (kind "bucket": `limit` per second refills it). */
    capacity?: number;
  }
  const LIMITS: Limit[] = [
    { name: "okx connects", kind: "connect", limit: OKX_CONNECTS, windowMs: OKX_CONNECT_WINDOW_MS },
    { name: "okx rest", kind: "rest", limit: OKX_REST, windowMs: OKX_REST_WINDOW_MS },
    { name: "okx instruments", kind: "rest", limit: INSTRUMENT_REQUESTS_PER_WINDOW, windowMs: INSTRUMENT_WINDOW_MS },
    { name: "bybit connects", kind: "connect", limit: BYBIT_CONNECTS, windowMs: BYBIT_CONNECT_WINDOW_MS },
    { name: "bybit rest", kind: "rest", limit: BYBIT_REST, windowMs: BYBIT_REST_WINDOW_MS },
    { name: "binance connects", kind: "connect", limit: BINANCE_CONNECTS, windowMs: BINANCE_CONNECT_WINDOW_MS },
    { name: "deribit connects", kind: "connect", limit: DERIBIT_CONNECTS, windowMs: DERIBIT_CONNECT_WINDOW_MS },
    { name: "deribit rest", kind: "rest", limit: DERIBIT_REST, windowMs: 1_000 },
    { name: "deribit subscribes", kind: "bucket", limit: SUBSCRIBE_PER_SECOND, windowMs: 1_000, capacity: SUBSCRIBE_BURST },
    // Paced at 4 a second (their subscribes' share of 8 messages); split past 4 workers, the connects keep to the
    // venue's own 8 a second (placed before each worker's message slots: protocol.ts connectBudget).
    { name: "coinbase connects", kind: "connect", limit: COINBASE_CONNECTS, windowMs: 1_000 },
    { name: "coinbase messages", kind: "messages", limit: COINBASE_MESSAGES, windowMs: 1_000 },
    { name: "coinbase rest", kind: "rest", limit: COINBASE_REST, windowMs: 1_000 },
    { name: "upbit connects", kind: "connect", limit: UPBIT_DIALECT.connectsPerWindow, windowMs: UPBIT_DIALECT.connectWindowMs },
    { name: "bithumb connects", kind: "connect", limit: BITHUMB_DIALECT.connectsPerWindow, windowMs: BITHUMB_DIALECT.connectWindowMs },
    { name: "upbit rest", kind: "rest", limit: UPBIT_REST, windowMs: UPBIT_REST_WINDOW_MS },
  ];
  const T0 = 1_765_000_000_123; // the deadline clock reads like epoch ms, on every worker alike

  /** Worker `index` of `workers`'s budget for `l`, as the adapters build it. */
  function budgetOf(l: Limit, workers: number, index: number): { waitMs(nowMs: number): number; take(nowMs: number): void } {
    const share = 1 / workers;
    if (l.kind === "connect") {
      const opts = l.name === "coinbase connects" ? connectBudget(share, index) : connectSplit(l.limit, l.windowMs, { budgetShare: share, budgetIndex: index });
      const b = new SlidingWindowBudget(opts.maxConnectsPerWindow, opts.connectWindowMs, opts.connectSlot);
      return { waitMs: (t) => b.waitMs(t), take: (t) => b.take(t) };
    }
    if (l.kind === "rest") {
      const b = RestWeightBudget.split(splitBudget(l.limit, l.windowMs, share, index));
      return { waitMs: (t) => b.waitMs(t, 1), take: (t) => b.take(t, 1) };
    }
    const spec = l.kind === "bucket" ? { capacity: l.capacity!, perSecond: l.limit } : { count: l.limit, windowMs: l.windowMs };
    const m = limitOf(spec, share, index, () => T0);
    return {
      waitMs: (t) => m.waitMs(t),
      take: (t) => {
        expect(m.tryTake(t)).toBe(true);
      },
    };
  }

  /** A worker's period for `l` (the window, when it has no slot). */
  function periodOf(l: Limit, workers: number): number {
    const split = l.name === "coinbase connects" ? connectBudget(1 / workers).connectSlot : splitBudget(l.limit, l.windowMs, 1 / workers);
    return Math.max(l.windowMs, split.periodMs);
  }

  /**
   * Every worker wants events from T0 on, in bursts and after idles, its timers sometimes late (past a slot's
   * tolerance too); returns all events, sorted.
   */
  function simulate(l: Limit, workers: number, r: () => number): number[] {
    const periodMs = periodOf(l, workers);
    const endMs = T0 + 3 * periodMs;
    const events: number[] = [];
    for (let i = 0; i < workers; i++) {
      const b = budgetOf(l, workers, i);
      let t = T0;
      while (t < endMs) {
        const wait = b.waitMs(t);
        if (wait > 0) {
          t += wait + (r() < 0.7 ? 0 : Math.floor(r() * 60)); // a timer on time, or late
          continue;
        }
        b.take(t);
        events.push(t);
        t += r() < 0.6 ? 0 : Math.floor(r() * 2 * periodMs);
      }
    }
    return events.sort((a, b) => a - b);
  }

  test("for 1..64 workers on each venue's limits, all workers' events in any window stay within the limit (a model)", () => {
    const r = rng(20261206);
    for (const l of LIMITS) {
      const counts = new Set([1, 2, l.limit, l.limit + 1, 64].filter((n) => n <= 64));
      while (counts.size < 10) counts.add(1 + Math.floor(r() * 64));
      for (const workers of counts) {
        const events = simulate(l, workers, r);
        const what = `${l.name}, ${workers} workers`;
        expect(events.length, what).toBeGreaterThan(0); // every worker can still go (checked per worker below)
        if (l.kind === "bucket") {
          // The venue's bucket (capacity, limit a second), full at T0: every event finds a credit.
          let credits = l.capacity!;
          let lastMs = T0;
          for (const t of events) {
            credits = Math.min(l.capacity!, credits + ((t - lastMs) * l.limit) / 1000);
            lastMs = t;
            expect(credits, `${what} at +${t - T0} ms`).toBeGreaterThanOrEqual(1 - 1e-9);
            credits -= 1;
          }
          continue;
        }
        // No limit + 1 events within one window (half-open: [t, t + windowMs)).
        for (let k = 0; k + l.limit < events.length; k++) {
          expect(events[k + l.limit]! - events[k]!, `${what}: events ${k}..${k + l.limit} at +${events[k]! - T0} ms`).toBeGreaterThanOrEqual(l.windowMs);
        }
      }
    }
  });

  test("each worker can still go: one process keeps the whole limit at once, and a worker's first event comes within one period", () => {
    for (const l of LIMITS) {
      expect(budgetOf(l, 1, 0).waitMs(T0), `${l.name}: one process is not slowed`).toBe(0);
      for (const workers of [2, 9, 64]) {
        const periodMs = periodOf(l, workers);
        for (let i = 0; i < workers; i++) expect(budgetOf(l, workers, i).waitMs(T0), `${l.name}: worker ${i} of ${workers}`).toBeLessThan(periodMs);
      }
    }
  });

  test("on the production clock the slots are read on the wall clock, which every thread shares (each thread's monoEpochMs starts apart)", () => {
    expect(splitBudget(3, 1000, 1 / 4, 1, monoEpochMs).gridOffsetMs).toBeTypeOf("function");
    expect(splitBudget(3, 1000, 1 / 4, 1, () => 0).gridOffsetMs).toBeUndefined(); // an injected clock: its own grid
    expect(splitBudget(3, 1000, 1, 0, monoEpochMs).gridOffsetMs).toBeUndefined(); // one process: no slot at all
    // A thread whose deadline clock reads 250 ms behind the wall clock: its slot at wall 1000 is at 750 on its clock.
    const b = new SlidingWindowBudget(1, 1000, { count: 1, windowMs: 1000, phaseMs: 0, periodMs: 1000, toleranceMs: 10, gridOffsetMs: () => 250 });
    expect(b.waitMs(0)).toBe(750);
    expect(b.waitMs(750)).toBe(0);
  });

  test("N workers' first connects are spread at the venue's spacing, not all at t = 0 (9 on Coinbase, 4 on OKX, 64 on Upbit)", () => {
    for (const [name, workers] of [["coinbase connects", 9], ["okx connects", 4], ["upbit connects", 64]] as const) {
      const l = LIMITS.find((x) => x.name === name)!;
      const first = Array.from({ length: workers }, (_, i) => T0 + budgetOf(l, workers, i).waitMs(T0)).sort((a, b) => a - b);
      expect(new Set(first).size, name).toBe(workers);
      for (let k = 1; k < workers; k++) expect(first[k]! - first[k - 1]!, `${name}: connects ${k - 1} and ${k}`).toBeGreaterThanOrEqual(l.windowMs / l.limit);
      for (let k = 0; k + l.limit < workers; k++) expect(first[k + l.limit]! - first[k]!, name).toBeGreaterThanOrEqual(l.windowMs);
    }
  });
});

/**
 * The adapters build their connect budget from the worker's index as well as its share (VenueOptions.budgetIndex,
 * which the app passes as the worker's index): 64 workers each get a slot of their own, worker 5 the sixth. No
 * connection is opened (the adapters are only constructed).
 */
test("each venue's adapter gives worker budgetIndex its own connect slot", () => {
  const url = { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9" };
  const config = validateConfig({
    venues: {
      okx: { ...url, spot: { symbols: ["BTC-USDT"] } },
      coinbase: { ...url, spot: { symbols: ["BTC-USD"] } },
      deribit: { ...url, inverse: { symbols: ["BTC-PERPETUAL"] } },
      upbit: { ...url, spot: { symbols: ["KRW-BTC"] } },
      bithumb: { ...url, spot: { symbols: ["KRW-BTC"] } },
    },
  });
  for (const vc of config.venues) {
    const subs = vc.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
    const adapter = venueSpec(vc.venue)!.create(vc, subs, { log: silentLogger, budgetShare: 1 / 64, budgetIndex: 5 });
    const a = adapter as unknown as { lifecycle: { connectGate(c: unknown): { budget: SlidingWindowBudget } }; conns: unknown[] };
    const slot = a.lifecycle.connectGate(a.conns[0]).budget.slot;
    expect(slot?.periodMs, vc.venue).toBeGreaterThan(0);
    // Coinbase: its connect slot comes before one of its message slots (protocol.ts connectBudget).
    const phaseMs = vc.venue === "coinbase" ? connectBudget(1 / 64, 5).connectSlot.phaseMs : (5 * slot!.periodMs) / 64;
    expect(slot!.phaseMs, vc.venue).toBe(phaseMs);
  }
});

/**
 * One process (no workers: FeederOptions.connectBudgetShare and budgetIndex absent, or share 1) is exactly as before
 * the split: the venue's whole connect count in its own window and no slot, on every budget the adapter builds from
 * the share (connects; REST and per-IP messages where the adapter has them), whatever index it is given.
 */
test("one process: each venue's adapter keeps the whole limit with no slot (as before the split)", () => {
  const url = { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9" };
  const config = validateConfig({
    venues: {
      okx: { ...url, spot: { symbols: ["BTC-USDT"] } },
      coinbase: { ...url, spot: { symbols: ["BTC-USD"] } },
      deribit: { ...url, inverse: { symbols: ["BTC-PERPETUAL"] } },
      upbit: { ...url, spot: { symbols: ["KRW-BTC"] } },
      bithumb: { ...url, spot: { symbols: ["KRW-BTC"] } },
    },
  });
  const whole: Record<string, [count: number, windowMs: number]> = {
    okx: [OKX_CONNECTS, OKX_CONNECT_WINDOW_MS],
    coinbase: [Math.min(COINBASE_CONNECTS, COINBASE_MESSAGES / MESSAGES_PER_CONNECT), 1_000],
    deribit: [DERIBIT_CONNECTS, DERIBIT_CONNECT_WINDOW_MS],
    upbit: [UPBIT_DIALECT.connectsPerWindow, UPBIT_DIALECT.connectWindowMs],
    bithumb: [BITHUMB_DIALECT.connectsPerWindow, BITHUMB_DIALECT.connectWindowMs],
  };
  for (const vc of config.venues) {
    const subs = vc.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
    for (const share of [{}, { budgetShare: 1, budgetIndex: 3 }]) {
      const what = `${vc.venue} ${JSON.stringify(share)}`;
      const adapter = venueSpec(vc.venue)!.create(vc, subs, { log: silentLogger, ...share }) as unknown as {
        lifecycle: { connectGate(c: unknown): { budget: SlidingWindowBudget } };
        conns: unknown[];
        restBudget?: RestWeightBudget;
        control?: { ipBucket: { slot?: BudgetSplit } | null };
      };
      const connects = adapter.lifecycle.connectGate(adapter.conns[0]).budget;
      expect([connects.max, connects.windowMs], what).toEqual(whole[vc.venue]);
      expect(connects.slot?.periodMs ?? 0, what).toBe(0);
      expect(adapter.restBudget?.slot?.periodMs ?? 0, what).toBe(0);
      expect(adapter.control?.ipBucket?.slot?.periodMs ?? 0, what).toBe(0);
    }
  }
});

/**
 * Coinbase closes a socket that has not subscribed within SUBSCRIBE_DEADLINE_MS of opening. Past 32 workers, a
 * worker's message slot comes once in more than 5 s (64 workers: once in ~10 s); its connect slot must be placed so
 * that the socket, open after a handshake of up to a couple of seconds, finds its first subscribe's slot within the
 * deadline. Before, the connect grid ignored the message grid: with 64 workers, 31 of them waited up to 9.8 s after
 * every open (closed by Coinbase, reconnected in the same slot: never subscribed).
 */
test("coinbase: however many workers, a connection's first subscribe slot comes within the 5 s subscribe deadline of its open", () => {
  const T0 = 1_765_000_000_123;
  for (const workers of [5, 9, 32, 33, 40, 64, 100]) {
    for (let i = 0; i < workers; i++) {
      const c = connectBudget(1 / workers, i);
      const connects = new SlidingWindowBudget(c.maxConnectsPerWindow, c.connectWindowMs, c.connectSlot);
      const messages = limitOf({ count: COINBASE_MESSAGES, windowMs: 1_000 }, 1 / workers, i, () => T0);
      let t = T0;
      for (let round = 0; round < 3; round++) {
        t += connects.waitMs(t);
        connects.take(t);
        for (const handshakeMs of [0, 150, 1_000, 2_400]) {
          const openMs = t + handshakeMs;
          expect(messages.waitMs(openMs), `${workers} workers, worker ${i}, round ${round}, handshake ${handshakeMs} ms`).toBeLessThan(COINBASE_SUBSCRIBE_DEADLINE_MS - 100);
        }
        // Its two subscribes go in its next two message slots; its next connect waits for its own slot again.
        for (let k = 0; k < MESSAGES_PER_CONNECT; k++) {
          t += 150 + messages.waitMs(t + 150);
          expect(messages.tryTake(t)).toBe(true);
        }
      }
    }
  }
});
