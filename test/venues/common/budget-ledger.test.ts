/**
 * The budget ledger between a worker slot's workers (src/venues/common/budget-ledger.ts): what one worker spent of
 * a per-IP budget, and the holds it was given, still count for the next. Before, a restarted worker's budgets started
 * full: with a connect budget of 3 per window it could connect 3 more times right after its predecessor had.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { monoEpochMs } from "../../../src/core/clock.ts";
import { BudgetAccounts, budgetLink, workerLedger, type SentBudgetEvent } from "../../../src/venues/common/budget-ledger.ts";
import { RestWeightBudget, SlidingWindowBudget } from "../../../src/venues/common/budgets.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { rng } from "../../support/mulberry32.ts";

/**
 * One worker after another in a slot: the events the first reports go through the accounts into the second's start.
 * `clock.monoMs` is the supervisor's monotonic clock, `clock.wallMs` the clock the worker's budgets read here (a
 * test's wall clock); without a step they move together (at()).
 */
function slot(): {
  accounts: BudgetAccounts;
  clock: { monoMs: number; wallMs: number };
  at: (ms: number) => number;
  nextWorker: (nowMs: number) => { events: SentBudgetEvent[]; ledger: ReturnType<typeof workerLedger> };
} {
  const clock = { monoMs: 0, wallMs: 0 };
  const accounts = new BudgetAccounts(() => clock.monoMs);
  const at = (ms: number) => ((clock.monoMs = ms), (clock.wallMs = ms));
  return {
    accounts,
    clock,
    at,
    nextWorker(nowMs) {
      const events: SentBudgetEvent[] = [];
      const ledger = workerLedger(
        accounts.carry(),
        (e) => {
          events.push(e);
          accounts.record(e);
        },
        nowMs,
        () => clock.wallMs, // the budgets' clock is the test's wall clock here
      );
      return { events, ledger };
    },
  };
}

describe("budget ledger", () => {
  test("connects of the previous worker still inside the window count for the next one", () => {
    const s = slot();
    const first = new SlidingWindowBudget(3, 60_000).track(budgetLink(s.nextWorker(s.at(1_000)).ledger, "bybit:connect"));
    for (const at of [1_000, 2_000, 3_000]) {
      expect(first.waitMs(s.at(at))).toBe(0);
      first.take(at);
    }
    // The worker dies at 4 s and is restarted: the venue still counts its three connects until 61 s.
    const second = new SlidingWindowBudget(3, 60_000).track(budgetLink(s.nextWorker(s.at(4_000)).ledger, "bybit:connect"));
    expect(second.waitMs(4_000)).toBe(57_000);
    expect(second.waitMs(61_000)).toBe(0);
    // A third worker after the window: nothing carried.
    s.at(70_000);
    expect(s.accounts.carry()).toEqual({});
  });

  test("a 429 hold and the spent REST weight carry over; other keys are not mixed in", () => {
    const s = slot();
    const w1 = s.nextWorker(s.at(0));
    const rest = new RestWeightBudget(10, 60_000).track(budgetLink(w1.ledger, "binance:rest:spot"));
    rest.take(0, 8);
    expect(rest.onResponse(s.at(100), 429, "30")).toBe(30_000);
    expect(w1.events).toEqual([
      { key: "binance:rest:spot", windowMs: 60_000, ageMs: 0, weight: 8 }, // reported as it is spent
      { key: "binance:rest:spot", holdMs: 30_000 },
    ]);
    const again = new RestWeightBudget(10, 60_000).track(budgetLink(s.nextWorker(s.at(500)).ledger, "binance:rest:spot"));
    expect(again.waitMs(500, 1)).toBe(29_600); // the hold
    expect(again.waitMs(30_100, 2)).toBe(0); // 8 + 2 fit
    expect(again.waitMs(30_100, 3)).toBe(29_900); // 8 + 3 do not, until the 8 leave the window at 60 s
    const other = new RestWeightBudget(10, 60_000).track(budgetLink(s.nextWorker(500).ledger, "binance:rest:linear"));
    expect(other.waitMs(500, 10)).toBe(0);
  });

  test("the accounts ignore a malformed event and keep only what one window holds", () => {
    let monoMs = 0;
    const accounts = new BudgetAccounts(() => monoMs);
    accounts.record(null as unknown as SentBudgetEvent);
    accounts.record({ key: "x", windowMs: 0, ageMs: 0, weight: 1 });
    accounts.record({ key: "x", windowMs: 1_000, ageMs: Number.NaN, weight: 1 });
    accounts.record({ key: "x", holdMs: Number.POSITIVE_INFINITY });
    expect(accounts.carry()).toEqual({});
    for (let at = 0; at < 10_000; at += 100) {
      monoMs = at;
      accounts.record({ key: "x", windowMs: 1_000, ageMs: 0, weight: 1 });
    }
    monoMs = 9_950;
    expect(accounts.carry().x!.uses.length).toBe(10);
  });

  test("a wall-clock step back while the worker is down does not date the carried connects in the future", () => {
    const s = slot();
    const first = new SlidingWindowBudget(3, 60_000).track(budgetLink(s.nextWorker(s.at(1_000_000)).ledger, "bybit:connect"));
    for (const at of [1_000_000, 1_001_000, 1_002_000]) {
      s.at(at);
      first.take(at);
    }
    // The worker dies; 1 s later the wall clock is stepped back an hour (NTP, a VM resumed) and the next one starts.
    s.clock.monoMs = 1_003_000;
    s.clock.wallMs = 1_003_000 - 3_600_000;
    const second = new SlidingWindowBudget(3, 60_000).track(budgetLink(s.nextWorker(s.clock.wallMs).ledger, "bybit:connect"));
    // The venue counts them a window from when they were made (59 s from now), not for an hour and a window more.
    expect(second.waitMs(s.clock.wallMs)).toBe(57_000);
    expect(second.waitMs(s.clock.wallMs + 57_000)).toBe(0);
  });

  test("a wall-clock step forward while the worker is down does not end the carried hold", () => {
    const s = slot();
    const w1 = s.nextWorker(s.at(5_000_000));
    const rest = new RestWeightBudget(10, 60_000).track(budgetLink(w1.ledger, "bybit:rest"));
    rest.take(5_000_000, 1);
    expect(rest.onResponse(s.at(5_000_100), 429, "600")).toBe(600_000);
    // 1 s later the wall clock jumps an hour ahead; the venue's 10-minute hold has 599.1 s left.
    s.clock.monoMs = 5_001_000;
    s.clock.wallMs = 5_001_000 + 3_600_000;
    const again = new RestWeightBudget(10, 60_000).track(budgetLink(s.nextWorker(s.clock.wallMs).ledger, "bybit:rest"));
    expect(again.waitMs(s.clock.wallMs, 1)).toBe(599_100);
  });

  test("a wall-clock step back after a restarted worker started does not stretch the carried hold (rev43)", () => {
    const s = slot();
    const w1 = s.nextWorker(s.at(5_000_000));
    const rest = new RestWeightBudget(10, 60_000).track(budgetLink(w1.ledger, "bybit:rest"));
    expect(rest.onResponse(s.at(5_000_000), 429, "600")).toBe(600_000);
    // The next worker starts 1 s later with the 599 s left; another second on, the wall clock is stepped back an hour.
    const again = new RestWeightBudget(10, 60_000).track(budgetLink(s.nextWorker(s.at(5_001_000)).ledger, "bybit:rest"));
    const steppedMs = 5_002_000 - 3_600_000;
    // At most the hold's own length from now, as its predecessor's budget would wait (before: 599 s and the hour).
    expect(again.waitMs(steppedMs, 1)).toBeLessThanOrEqual(599_000);
    expect(again.heldUntilMs(steppedMs)).toBeLessThanOrEqual(steppedMs + 599_000);
    expect(again.waitMs(steppedMs, 1)).toBeGreaterThan(0); // still held: the venue's hold has not ended
  });

  test("without a ledger (one process) a budget reports nothing and starts empty", () => {
    const b = new SlidingWindowBudget(1, 1_000).track(budgetLink(undefined, "k"));
    expect(b.waitMs(0)).toBe(0);
    b.take(0);
    expect(b.waitMs(0)).toBe(1_000);
  });

  test("a hold relayed from another worker holds this worker's budget under that key only, and is not reported back", () => {
    const events: SentBudgetEvent[] = [];
    const ledger = workerLedger({}, (e) => events.push(e));
    const now = Date.now();
    const held = new RestWeightBudget(100, 60_000).track(budgetLink(ledger, "bybit:rest"));
    const other = new RestWeightBudget(100, 60_000).track(budgetLink(ledger, "okx:rest"));
    ledger.hold("bybit:rest", 30_000, now);
    expect(held.waitMs(now, 1)).toBe(30_000);
    expect(other.waitMs(now, 1)).toBe(0);
    expect(events).toEqual([]);
    // A malformed relay (not from our supervisor) is ignored; a shorter hold does not shorten the longer one.
    ledger.hold("okx:rest", Number.NaN, now);
    ledger.hold("okx:rest", -5, now);
    ledger.hold("bybit:rest", 1_000, now);
    expect(other.waitMs(now, 1)).toBe(0);
    expect(held.waitMs(now, 1)).toBe(30_000);
  });
});

describe("the worker's clocks", () => {
  test("uses and holds are sent as lengths though the budgets read the monotonic clock, an hour off the wall clock", () => {
    // The worker's budgets read the adapters' deadline clock (monotonic); the wall clock was stepped an hour ahead
    // since the thread started. Before s-mono, the budgets' times were sent as they were and read against the wall
    // clock: a use made now looked an hour old (left out of what the next worker is handed) and a 60 s hold looked
    // over already (the next worker sent into the venue's hold).
    const clock = { monoMs: 5_000 };
    const accounts = new BudgetAccounts(() => clock.monoMs);
    const ledger = workerLedger({}, (e) => accounts.record(e), clock.monoMs, () => clock.monoMs);
    const rest = new RestWeightBudget(10, 60_000).track(budgetLink(ledger, "bybit:rest"));
    rest.take(clock.monoMs, 4);
    expect(rest.onResponse(clock.monoMs, 429, "60")).toBe(60_000);
    clock.monoMs += 1_000;
    expect(accounts.carry()).toEqual({ "bybit:rest": { windowMs: 60_000, uses: [{ ageMs: 1_000, weight: 4 }], holdMs: 59_000 } });
  });
});

describe("a step of the wall clock while a report is on its way to the supervisor", () => {
  afterEach(() => vi.restoreAllMocks());

  // The worker dated its reports in the wall clock and the supervisor read them against its own on arrival: a step
  // between the two (a busy main thread widens it) went into every length. Back an hour: the 60 s hold was carried
  // and relayed to every worker as an hour and a minute. Forward: the hold looked over and the use an hour old, both
  // dropped, so the next worker started with a full budget into the venue's hold. Now lengths cross the threads.
  test.each([
    ["back", -3_600_000],
    ["forward", 3_600_000],
  ])("a step %s an hour neither stretches nor drops the hold and the use", (_, stepMs) => {
    const inFlight: Parameters<BudgetAccounts["record"]>[0][] = [];
    const ledger = workerLedger({}, (e) => void inFlight.push(e)); // the process's clocks, as in a worker
    const rest = new RestWeightBudget(10, 60_000).track(budgetLink(ledger, "bybit:rest"));
    rest.take(monoEpochMs(), 4);
    expect(rest.onResponse(monoEpochMs(), 429, "60")).toBe(60_000);
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + stepMs);
    const accounts = new BudgetAccounts(); // the supervisor's, reading the messages after the step
    for (const e of inFlight) accounts.record(e);
    const carried = accounts.carry()["bybit:rest"];
    expect(carried?.holdMs).toBeGreaterThan(50_000);
    expect(carried?.holdMs).toBeLessThanOrEqual(60_000);
    expect(carried?.uses).toHaveLength(1);
    expect(carried!.uses[0]!.ageMs).toBeLessThan(10_000);
  });
});

/**
 * Per-IP message budgets (RequestProtocol.pacing.perIp) through SubscriptionControl, one worker after another in a
 * slot. Each worker's budgets read a clock of their own (a thread's monotonic clock: its own origin), the supervisor
 * another. Until 2026-12-07 they were not carried: the next worker started with its whole share while the venue
 * still counted the messages its predecessor had just sent.
 */
describe("per-IP message budgets carry over to the slot's next worker", () => {
  function rig(pacing: RequestProtocol["pacing"]) {
    let monoMs = 0; // the supervisor's clock
    const accounts = new BudgetAccounts(() => monoMs);
    const sentAtMs: number[] = []; // every worker's messages, on the supervisor's clock
    let worker: { control: SubscriptionControl; conn: SendRecordingConnection; offsetMs: number } | undefined;
    const protocol: RequestProtocol = {
      venue: "fake",
      pacing,
      maxArgsPerRequest: () => 1,
      encodeRequest: (_op, _topics, reqId) => reqId,
      classifyControl: () => ({ kind: "other" }),
      parseAckError: () => ({ kind: "other" }),
      rejectHint: () => "",
    };
    return {
      sentAtMs,
      at: (ms: number) => void (monoMs = ms),
      /** The slot's worker ends (its control stopped) and the next one starts now, its clock `offsetMs` off the supervisor's. */
      restart(offsetMs: number) {
        worker?.control.stop();
        const now = () => monoMs + offsetMs;
        const ledger = workerLedger(accounts.carry(), (e) => accounts.record(e), now(), now);
        const control = new SubscriptionControl(protocol, silentLogger, now, undefined, () => undefined, 1, 0, ledger);
        const conn = new SendRecordingConnection();
        conn.ws = { send: () => void sentAtMs.push(monoMs) } as unknown as WebSocket;
        worker = { control, conn, offsetMs };
      },
      send: (n: number) => {
        for (let i = 0; i < n; i++) worker!.control.send(worker!.conn, "m");
      },
      flush: () => worker!.control.flush(),
      queued: () => worker!.conn.outbox.length,
      stop: () => worker?.control.stop(),
    };
  }

  test("Coinbase's 8 a second: the next worker waits for its predecessor's messages to leave the window", () => {
    const r = rig({ perIp: { count: 8, windowMs: 1_000 } });
    r.restart(5_000_000);
    r.at(1_000);
    r.send(8);
    expect(r.sentAtMs).toEqual(Array(8).fill(1_000));
    // The worker dies at 1.2 s; the next starts at 1.3 s (its thread's clock another origin): the venue counts the 8 until 2 s.
    r.at(1_300);
    r.restart(-7_000);
    r.send(3);
    expect(r.sentAtMs).toHaveLength(8);
    r.at(1_999);
    r.flush();
    expect(r.sentAtMs).toHaveLength(8);
    r.at(2_000);
    r.flush();
    expect(r.sentAtMs).toHaveLength(11);
    r.stop();
  });

  /** The venue's count: at most `count` in any `windowMs` (a window), or a bucket full at the start that never goes below 0. */
  function overVenueLimit(spec: NonNullable<NonNullable<RequestProtocol["pacing"]>["perIp"]>, times: number[]): string | undefined {
    if ("windowMs" in spec) {
      for (let i = spec.count; i < times.length; i++) if (times[i]! - times[i - spec.count]! < spec.windowMs) return `${spec.count + 1} messages within ${times[i]! - times[i - spec.count]!} ms ending at ${times[i]}`;
      return undefined;
    }
    let tokens = spec.capacity;
    let lastMs = times[0] ?? 0;
    for (const t of times) {
      tokens = Math.min(spec.capacity, tokens + ((t - lastMs) * spec.perSecond) / 1000);
      lastMs = t;
      if ((tokens -= 1) < -1e-9) return `the bucket at ${tokens} at ${t}`;
    }
    return undefined;
  }

  test.each([
    ["a window (Coinbase: 8 a second)", { count: 8, windowMs: 1_000 }],
    ["a bucket (Deribit: 8, 3 a second)", { capacity: 8, perSecond: 3 }],
  ] as const)("randomized restarts: the workers together never pass the venue's limit, %s", (_, spec) => {
    const random = rng(20261207);
    let restarts = 0;
    for (let round = 0; round < 60; round++) {
      const r = rig({ perIp: spec });
      let nowMs = 10_000;
      r.at(nowMs);
      r.restart(Math.floor(random() * 1e7) - 5e6);
      for (let step = 0; step < 60; step++) {
        nowMs += Math.floor(random() * 400);
        r.at(nowMs);
        if (random() < 0.15) {
          r.restart(Math.floor(random() * 1e7) - 5e6);
          restarts++;
        }
        if (random() < 0.5) r.send(1 + Math.floor(random() * 9));
        r.flush();
      }
      // Whatever the last worker queued goes in the end: carrying never stops the messages.
      for (let i = 0; i < 3_000 && r.queued() > 0; i++) {
        nowMs += 100;
        r.at(nowMs);
        r.flush();
      }
      expect(r.queued()).toBe(0);
      r.stop();
      expect(overVenueLimit(spec, r.sentAtMs)).toBeUndefined();
    }
    expect(restarts).toBeGreaterThan(100);
  });
});
