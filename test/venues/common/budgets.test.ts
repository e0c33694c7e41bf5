/** The per-IP budgets every venue shares (src/venues/common/budgets.ts), on a fake clock. */
import { describe, expect, test } from "vitest";
import { equalJitterMs } from "../../../src/venues/common/backoff.ts";
import type { BudgetLedger } from "../../../src/venues/common/budget-ledger.ts";
import { BAN_DEFAULT_MS, budgetedFetch, MessageWindow, RestWeightBudget, retryAfterMs, shareOf, SlidingWindowBudget, TokenBucket, windowShareOf } from "../../../src/venues/common/budgets.ts";
import { rng } from "../../support/mulberry32.ts";

describe("budgets", () => {
  test("MessageWindow against a model that counts the sends of every window: never more than count, never a refusal it did not need", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const count = 1 + Math.floor(r() * 10);
      const windowMs = [1, 7, 100, 1000][Math.floor(r() * 4)]!;
      const w = new MessageWindow(count, windowMs);
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

  test("MessageWindow: a clock stepped back holds a send at most one window; windowShareOf splits a count between workers", () => {
    const w = new MessageWindow(2, 1000);
    expect(w.tryTake(10_000) && w.tryTake(10_000)).toBe(true);
    expect(w.waitMs(5_000)).toBe(1000); // stepped back 5 s: a window, not 6 s
    expect(w.tryTake(6_000)).toBe(true);
    for (const workers of [1, 2, 3, 5, 8, 9, 16, 100]) {
      const s = windowShareOf(8, 1000, 1 / workers);
      expect((s.count * workers * 1000) / s.windowMs).toBeLessThanOrEqual(8); // together within 8 a second
      expect(s.count).toBeGreaterThanOrEqual(1);
    }
    expect(windowShareOf(8, 1000, 1)).toEqual({ count: 8, windowMs: 1000 });
    expect(windowShareOf(8, 1000, 1 / 16)).toEqual({ count: 1, windowMs: 2000 });
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
    expect(retryAfterMs("Sun, 06 Dec 2026 02:01:00 GMT", ours, "garbage")).toBe(0); // no readable Date: our clock
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
});
