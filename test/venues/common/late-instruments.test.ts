/**
 * The common retrier of symbols left out at start (src/venues/common/late-instruments.ts) on a clock the test moves,
 * its checks called by the test and REST answered by the test: per-market backoff while REST fails (5 s doubling to
 * the cap, never sooner), the listing cadence once REST answers, one query per market for all its symbols, each
 * reason logged once (never per retry), and a resolved symbol handed over exactly once.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/core/log.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import type { InstrumentSource, InstrumentSpec, UnresolvedEntry } from "../../../src/venues/common/instruments.ts";
import { LateInstruments } from "../../../src/venues/common/late-instruments.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

/** A cache of the test's own: the default (var/instruments-bybit.json) is the checkout's (until s-leftops written there). */
const tempCache = () => join(makeTempDir("feeder-late-instruments-"), "instruments.json");

/** A sink that takes late books (LateInstruments.start retries only for one). */
const SINK: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };

const live: LateInstruments[] = [];
afterEach(() => {
  while (live.length > 0) live.pop()!.stop();
});

const SUBS: Subscription[] = [
  { market: "linear", symbol: "BTCUSDT", depth: 50 },
  { market: "linear", symbol: "ETHUSDT", depth: 50 },
  { market: "spot", symbol: "NEWUSDT", depth: 50 },
  { market: "linear", symbol: "BTCUSDT", depth: 1, extraDepth: true },
];
const SPEC: InstrumentSpec = { tickSize: "0.1", lotSize: "0.001" };

function rig(unresolved: UnresolvedEntry[]) {
  const clock = { ms: 1_000_000 };
  /** How far the wall clock (what nextAttemptMs is shown in) is ahead of the deadline clock: 0 but for a step. */
  const wall = { aheadMs: 0 };
  const calls: { market: MarketName; symbols: readonly string[]; answer: (specs: Record<string, InstrumentSpec> | Error) => void }[] = [];
  const resolved: [number, Instrument][] = [];
  const logs: { level: string; msg: string; symbol?: string; reason?: string }[] = [];
  const config = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { bybit: { instrument_cache: tempCache(), linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "BTCUSDT@1"] }, spot: { depth: 50, symbols: ["NEWUSDT"] } } },
  }).venues[0]!;
  const late = new LateInstruments({
    venue: "bybit",
    log: createLogger({ level: "debug", format: "json", write: (l) => logs.push(JSON.parse(l)) }),
    now: () => clock.ms,
    wallNow: () => clock.ms + wall.aheadMs,
    random: () => 1, // the longest wait of each step: base, 2·base, …
    config,
    subscriptions: SUBS,
    baseMs: 5_000,
    maxMs: 40_000,
    listingMs: 300_000,
    checkEveryMs: 1_000_000_000, // the test calls check()
    onResolved: (i, inst) => resolved.push([i, inst]),
  });
  const source: InstrumentSource = {
    notListed: (market) => `not listed on ${market}`,
    fetchSpecs: (market, symbols) =>
      new Promise((resolve, reject) => calls.push({ market, symbols, answer: (a) => (a instanceof Error ? reject(a) : resolve(new Map(Object.entries(a)))) })),
  };
  late.track(source, unresolved);
  live.push(late);
  const settle = () => new Promise((r) => setTimeout(r, 1));
  /** Moves the clock and checks; returns the markets queried. */
  const at = (ms: number) => {
    clock.ms = ms;
    const before = calls.length;
    late.check();
    return calls.slice(before).map((c) => c.market);
  };
  return { late, clock, wall, calls, resolved, logs, settle, at };
}

describe("symbols left out at start", () => {
  test("nextAttemptMs is shown in the wall clock: the monotonic deadline's distance from now added to it", () => {
    // The deadlines are on the monotonic clock, which after a wall-clock step is an hour off the time of day. Before,
    // the deadline itself was shown: /readyz and the status page, reading it against Date.now, said "retried an
    // hour ago" (or in an hour) for a retry due in 5 s.
    const { late, wall, at } = rig([{ index: 2, kind: "rest_unreachable", detail: "REST unreachable: HTTP 503" }]);
    late.start(SINK);
    wall.aheadMs = 3_600_000;
    expect(late.list()[0]!.nextAttemptMs).toBe(1_000_000 + 3_600_000 + 5_000);
    expect(at(1_000_000 + 5_000 - 1)).toEqual([]); // asked by the deadline clock, the step notwithstanding
    expect(at(1_000_000 + 5_000)).toEqual(["spot"]);
  });

  test("REST down: retried per market after 5 s, doubling to the cap, never sooner; all the market's symbols in one query", async () => {
    const down = "REST unreachable: HTTP 503";
    const { late, calls, settle, at, resolved } = rig([
      { index: 0, kind: "rest_unreachable", detail: down },
      { index: 1, kind: "rest_unreachable", detail: down },
      { index: 3, kind: "rest_unreachable", detail: down },
    ]);
    const t0 = 1_000_000;
    late.start(SINK);
    const waits: number[] = [];
    let last = t0;
    for (let failure = 0; failure < 6; failure++) {
      const due = late.list()[0]!.nextAttemptMs;
      expect(at(due - 1)).toEqual([]);
      expect(at(due)).toEqual(["linear"]);
      waits.push(due - last);
      last = due;
      calls.at(-1)!.answer(new Error("HTTP 503"));
      await settle();
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 40_000, 40_000]);
    expect(calls.every((c) => c.symbols.join() === "BTCUSDT,ETHUSDT")).toBe(true);
    expect(late.attempts).toBe(6);
    expect(late.failures).toBe(6);
    expect(resolved).toEqual([]);
    // REST is back: both depths of BTCUSDT and ETHUSDT resolve, each handed over once, in subscription order.
    at(late.list()[0]!.nextAttemptMs);
    calls.at(-1)!.answer({ BTCUSDT: SPEC, ETHUSDT: SPEC });
    await settle();
    expect(resolved.map(([i, inst]) => [i, inst.symbol, inst.priceExp, inst.qtyExp])).toEqual([
      [0, "BTCUSDT", 1, 3],
      [1, "ETHUSDT", 1, 3],
      [3, "BTCUSDT@1", 1, 3],
    ]);
    expect(late.count).toBe(0);
    expect(at(last + 10_000_000)).toEqual([]); // nothing left to ask for
  });

  test("a clock stepped back an hour: a not-listed symbol is still asked for within the listing interval", async () => {
    const { late, clock, at } = rig([{ index: 2, kind: "not_listed", detail: "not listed on spot" }]);
    late.start(SINK);
    const t0 = clock.ms - 3_600_000; // the clock steps back an hour right after the start
    expect(at(t0)).toEqual([]); // the check right after the step
    expect(late.dueMs("spot")).toBe(t0 + 300_000);
    expect(at(t0 + 300_000)).toEqual(["spot"]);
  });

  test("not listed: asked again every listing interval, logged once; a REST failure meanwhile is logged once and backs off", async () => {
    const { late, calls, settle, at, logs, resolved, clock } = rig([{ index: 2, kind: "not_listed", detail: "not listed on spot" }]);
    late.start(SINK);
    const t0 = clock.ms;
    expect(at(t0 + 299_999)).toEqual([]);
    expect(at(t0 + 300_000)).toEqual(["spot"]);
    calls.at(-1)!.answer({ OTHERUSDT: SPEC });
    await settle();
    expect(at(t0 + 599_999)).toEqual([]);
    expect(at(t0 + 600_000)).toEqual(["spot"]);
    calls.at(-1)!.answer({});
    await settle();
    expect(logs.filter((l) => JSON.stringify(l).includes("NEWUSDT"))).toEqual([]); // still not listed: nothing new to say
    expect(late.list()).toEqual([{ index: 2, market: "spot", symbol: "NEWUSDT", kind: "not_listed", detail: "not listed on spot", nextAttemptMs: t0 + 900_000 }]);
    // REST fails: once at warn, then debug while it keeps failing; the backoff starts at 5 s.
    at(t0 + 900_000);
    calls.at(-1)!.answer(new Error("ECONNREFUSED"));
    await settle();
    expect(late.list()[0]).toMatchObject({ kind: "rest_unreachable", detail: "REST unreachable: ECONNREFUSED", nextAttemptMs: t0 + 905_000 });
    at(t0 + 905_000);
    calls.at(-1)!.answer(new Error("ECONNREFUSED"));
    await settle();
    expect(logs.filter((l) => l.level !== "debug").map((l) => l.msg)).toEqual(["bybit: instrument REST unreachable; symbols left out at start retried"]);
    // Back, still not listed: logged once as such; then listed: resolved.
    at(t0 + 915_000);
    calls.at(-1)!.answer({});
    await settle();
    expect(logs.filter((l) => l.reason === "not_listed").map((l) => l.symbol)).toEqual(["NEWUSDT"]);
    at(t0 + 1_215_000);
    calls.at(-1)!.answer({ NEWUSDT: { tickSize: "0.0001", lotSize: "1" } });
    await settle();
    expect(resolved.map(([i, inst]) => [i, inst.instrumentId, inst.tickSize])).toEqual([[2, resolved[0]![1].instrumentId, "0.0001"]]);
    expect(late.resolvedLate).toBe(1);
    expect(logs.at(-1)).toMatchObject({ level: "info", msg: "bybit: instrument resolved after start; subscribing", symbol: "NEWUSDT" });
  });

  test("a tick/lot that does not parse stays pending as bad_spec; metrics count by market and reason", async () => {
    const { late, calls, settle, at, clock, resolved } = rig([{ index: 2, kind: "not_listed", detail: "not listed on spot" }]);
    late.start(SINK);
    at(clock.ms + 300_000);
    calls.at(-1)!.answer({ NEWUSDT: { tickSize: "abc", lotSize: "1" } });
    await settle();
    expect(resolved).toEqual([]);
    expect(late.list()[0]).toMatchObject({ kind: "bad_spec", detail: expect.stringContaining("bad tick/lot abc/1") });
    const m = late.metrics().filter((s) => s.name === "instruments_unresolved" && s.value > 0);
    expect(m.map((s) => s.labels)).toEqual([{ market: "spot", reason: "bad_spec" }]);
  });

  test("a sink that takes no late books (replay, export): nothing is retried", () => {
    const { late, at, clock } = rig([{ index: 0, kind: "rest_unreachable", detail: "x" }]);
    late.start({ onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} });
    expect(at(clock.ms + 10_000_000)).toEqual([]);
    expect(late.list()[0]!.nextAttemptMs).toBe(0);
  });

  test("list() of 20,000 symbols in two markets asks the clocks and the REST hold once per market, not per symbol", () => {
    // /readyz, /status and /books read the list in one turn of the pipeline's thread: before, each symbol asked both
    // clocks and the hold, 20,000 times (with a sort of [index, entry] pairs: 2.5–10 ms of that turn).
    const n = 20_000;
    const subs: Subscription[] = Array.from({ length: n }, (_, i) => ({ market: i % 3 === 0 ? "spot" : "linear", symbol: `S${i}USDT`, depth: 50 }));
    const asked = { now: 0, wallNow: 0, held: 0 };
    const clock = { ms: 1_000_000 };
    const late = new LateInstruments({
      venue: "bybit",
      log: createLogger({ level: "error", format: "json", write: () => {} }),
      now: () => (asked.now++, clock.ms),
      wallNow: () => (asked.wallNow++, clock.ms + 7),
      random: () => 1,
      config: validateConfig({ publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] }, venues: { bybit: { instrument_cache: tempCache(), linear: { depth: 50, symbols: ["BTCUSDT"] } } } }).venues[0]!,
      subscriptions: subs,
      baseMs: 5_000,
      listingMs: 300_000,
      checkEveryMs: 1_000_000_000,
      restHeldUntilMs: (market) => (asked.held++, market === "spot" ? clock.ms + 60_000 : 0),
      onResolved: () => {},
    });
    live.push(late);
    // Tracked out of order (a reload's answer may list them so): the list is in subscription order.
    const entries: UnresolvedEntry[] = subs.map((_, i) => ({ index: n - 1 - i, kind: "rest_unreachable", detail: `d${n - 1 - i}` }));
    late.track({ notListed: () => "", fetchSpecs: () => new Promise(() => {}) }, entries);
    late.start(SINK, false);
    Object.assign(asked, { now: 0, wallNow: 0, held: 0 });
    const list = late.list();
    expect(asked.held).toBeLessThanOrEqual(2);
    expect(asked.now + asked.wallNow).toBeLessThanOrEqual(4);
    // As before: every symbol in subscription order, its market's next attempt (spot's at the end of its REST hold).
    const nextOf = { spot: clock.ms + 7 + 60_000, linear: clock.ms + 7 + 5_000 };
    expect(list).toEqual(subs.map((sub, i) => ({ index: i, market: sub.market, symbol: sub.symbol, kind: "rest_unreachable", detail: `d${i}`, nextAttemptMs: nextOf[sub.market as "spot" | "linear"] })));
  });

  test("countByMarket (what /metrics counts) agrees with list() per market, random symbols left out and resolved", async () => {
    for (let round = 0; round < 30; round++) {
      const left = SUBS.map((_, i) => i).filter(() => Math.random() < 0.6);
      const { late, at, calls, settle } = rig(left.map((index) => ({ index, kind: "rest_unreachable", detail: "down" })));
      late.start(SINK, false);
      const agree = () => {
        const counted = new Map<string, number>();
        late.countByMarket(counted);
        const listed = new Map<string, number>();
        for (const u of late.list()) listed.set(u.market, (listed.get(u.market) ?? 0) + 1);
        expect(counted).toEqual(listed);
      };
      agree();
      // A market's query answered: its symbols that parse join (leave the list), the others stay.
      at(1_000_000 + 40_000);
      const call = calls[0];
      if (call === undefined) continue;
      call.answer(Object.fromEntries(call.symbols.filter(() => Math.random() < 0.5).map((s) => [s, SPEC])));
      await settle();
      agree();
      late.stop();
    }
  });

  test("stopped: nothing is asked and a late answer is dropped", async () => {
    const { late, calls, settle, at, clock, resolved } = rig([{ index: 0, kind: "rest_unreachable", detail: "x" }]);
    late.start(SINK);
    at(clock.ms + 5_000);
    late.stop();
    calls.at(-1)!.answer({ BTCUSDT: SPEC });
    await settle();
    expect(resolved).toEqual([]);
    expect(at(clock.ms + 1_000_000)).toEqual([]);
  });
});
