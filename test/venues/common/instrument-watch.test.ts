/**
 * The one schedule of a venue's instrument REST (src/venues/common/instrument-watch.ts) on a clock the test moves, its
 * checks called by the test and REST answered by the test: a reload and the late retrier due together make one
 * query (resolved and pending symbols), a run only the late retrier is due for asks for the pending symbols alone and
 * is not counted as a reload (nor its failure as a reload failure), a re-check carries the pending symbols, and a
 * changed tick goes to the venue's apply; a tick or lot written with other trailing zeros is no change.
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { sameCachedSpec, sameTickLot, type InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";

const SUBS: Subscription[] = ["BTCUSDT", "NEWUSDT"].map((symbol) => ({ market: "linear", symbol, depth: 50 }));
const SPEC: InstrumentSpec = { tickSize: "0.1", lotSize: "0.001" };
const RELOAD_MS = 3_600_000;
const LISTING_MS = 300_000;

async function rig() {
  const clock = { ms: 1_000_000 };
  const validated = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { bybit: { linear: { depth: 50, symbols: ["BTCUSDT", "NEWUSDT"] } } },
  }).venues[0]!;
  const config = { ...validated, instrumentCachePath: "" }; // no disk cache: every step below is the test's
  const conn = { used: false } as VenueConnection;
  const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
  const calls: { market: MarketName; symbols: readonly string[]; answer: (specs: Record<string, InstrumentSpec> | Error) => void }[] = [];
  let instruments: (Instrument | undefined)[] | null = null;
  const applied: [number, string][] = [];
  const joined: number[] = [];
  const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved: (i) => void joined.push(i) };
  const lifecycle = fakeLifecycle();
  const watch = new InstrumentWatch({
    ...{ venue: "bybit", log: silentLogger, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS, topics },
    source: {
      notListed: () => "not listed",
      fetchSpecs: (market, symbols) => new Promise((resolve, reject) => calls.push({ market, symbols, answer: (a) => (a instanceof Error ? reject(a) : resolve(new Map(Object.entries(a)))) })),
    },
    ...{ intervalMs: RELOAD_MS, recheck: true, allowNoInstruments: false, instrumentCheckMs: 1_000_000_000, lateCheckMs: 1_000_000_000 },
    ...{ lateRetryBaseMs: 5_000, lateRetryMaxMs: 40_000, listingRetryMs: LISTING_MS },
    ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
    addToTable: () => 0,
    apply: (t, inst) => void applied.push([t.index, inst.tickSize]),
  });
  onTestFinished(() => watch.stop());
  // At start: BTCUSDT listed, NEWUSDT not yet.
  const settle = () => new Promise((r) => setTimeout(r, 1));
  const loading = watch.load();
  await settle();
  calls.shift()!.answer({ BTCUSDT: SPEC });
  instruments = await loading;
  watch.bindTopics(false);
  watch.start(sink);
  /** Moves the clock and checks; returns the symbols each new query asked for. */
  const at = (ms: number) => {
    clock.ms = ms;
    const before = calls.length;
    watch.reloader.check();
    return calls.slice(before).map((c) => c.symbols.join());
  };
  /** Waits (bounded) for what an answer leads to. */
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 2_000 && !cond(); i++) await settle();
    expect(cond()).toBe(true);
  };
  return { watch, clock, calls, applied, joined, settle, until, at, t0: clock.ms };
}

describe("one instrument schedule", () => {
  test("a reload and the late retrier due together: one query for both; a changed tick applied, the late symbol joined", async () => {
    const { watch, calls, applied, joined, until, at, t0 } = await rig();
    expect(watch.unresolved().map((u) => [u.symbol, u.kind, u.nextAttemptMs - t0])).toEqual([["NEWUSDT", "not_listed", LISTING_MS]]);
    // Make both deadlines coincide: the late retrier's listing cadence and a reload asked for now.
    expect(at(t0 + LISTING_MS - 1)).toEqual([]);
    watch.requestNow("linear");
    expect(calls.map((c) => c.symbols.join())).toEqual(["BTCUSDT,NEWUSDT"]);
    calls[0]!.answer({ BTCUSDT: { tickSize: "0.01", lotSize: "0.001" }, NEWUSDT: SPEC });
    await until(() => watch.reloader.reloads === 1);
    expect(applied).toEqual([[0, "0.01"]]);
    expect(joined).toEqual([1]);
    expect([watch.reloader.reloads, watch.late.attempts, watch.late.resolvedLate]).toEqual([1, 1, 1]);
    expect(at(t0 + LISTING_MS)).toEqual([]); // the late retrier has nothing left; the next reload is an hour away
  });

  test("only the late retrier due: its symbols alone, not counted as a reload; its failure backs it off, not the reloader", async () => {
    const { watch, calls, joined, settle, until, at, t0 } = await rig();
    expect(at(t0 + LISTING_MS)).toEqual(["NEWUSDT"]);
    calls.at(-1)!.answer(new Error("HTTP 503"));
    await settle();
    expect([watch.reloader.reloads, watch.reloader.failures, watch.late.failures]).toEqual([0, 0, 1]);
    const due = watch.unresolved()[0]!.nextAttemptMs;
    expect(due - (t0 + LISTING_MS)).toBe(5_000); // the late backoff's first step
    expect(at(due - 1)).toEqual([]);
    expect(at(due)).toEqual(["NEWUSDT"]);
    calls.at(-1)!.answer({ NEWUSDT: SPEC });
    await until(() => watch.late.count === 0);
    expect(joined).toEqual([1]);
    expect(watch.reloader.reloads).toBe(0);
    // The periodic reload comes at its own time, for the resolved symbols (now both).
    expect(at(t0 + RELOAD_MS)).toEqual(["BTCUSDT,NEWUSDT"]);
  });

  test("a periodic reload that fails: both back off on their own cadence, one query each time", async () => {
    const { watch, calls, settle, at, t0 } = await rig();
    // The late symbol's listing retry and the reload fall due together at t0 + 1 h (the late one waited since t0 + 5 min).
    expect(at(t0 + LISTING_MS)).toEqual(["NEWUSDT"]);
    calls.at(-1)!.answer({});
    await settle();
    expect(watch.unresolved()[0]!.nextAttemptMs).toBe(t0 + 2 * LISTING_MS);
    expect(at(t0 + RELOAD_MS)).toEqual(["BTCUSDT,NEWUSDT"]);
    calls.at(-1)!.answer(new Error("HTTP 503"));
    await settle();
    expect([watch.reloader.failures, watch.late.failures]).toEqual([1, 1]);
    // The reload's first retry (2 s) comes before the late one's backoff (5 s): one query carries both again.
    expect(at(t0 + RELOAD_MS + 1_999)).toEqual([]);
    expect(at(t0 + RELOAD_MS + 2_000)).toEqual(["BTCUSDT,NEWUSDT"]);
    calls.at(-1)!.answer(new Error("HTTP 503"));
    await settle();
    expect([watch.reloader.failures, watch.late.failures]).toEqual([2, 2]);
    // The reload's next retry doubles (4 s); the late one's backoff is its own, and a query in flight is never doubled.
    expect(at(t0 + RELOAD_MS + 5_999)).toEqual([]);
    expect(at(t0 + RELOAD_MS + 6_000)).toEqual(["BTCUSDT,NEWUSDT"]);
  });

  test("a tick or lot the reload writes with other trailing zeros is the same value: not applied, no change counted", async () => {
    const { watch, calls, applied, until } = await rig();
    watch.requestNow("linear");
    calls.at(-1)!.answer({ BTCUSDT: { tickSize: "0.10000000", lotSize: "0.0010" }, NEWUSDT: SPEC });
    await until(() => watch.reloader.reloads === 1);
    expect(applied).toEqual([]);
    expect(watch.stats().instrumentChanges).toBe(0);
    // A value that did change still is one (the comparison is of values, not of "any two decimals").
    watch.requestNow("linear");
    calls.at(-1)!.answer({ BTCUSDT: { tickSize: "0.1", lotSize: "0.00100001" }, NEWUSDT: SPEC });
    await until(() => watch.reloader.reloads === 2);
    expect(applied).toEqual([[0, "0.1"]]);
    expect(watch.stats().instrumentChanges).toBe(1);
    // Another value at the same decimals (0.1 → 0.5: the exponents alone do not tell it), and the exponent's change.
    for (const [tick, n] of [["0.5", 3], ["0.05", 4]] as const) {
      watch.requestNow("linear");
      calls.at(-1)!.answer({ BTCUSDT: { tickSize: tick, lotSize: "0.00100001" }, NEWUSDT: SPEC });
      await until(() => watch.reloader.reloads === n);
    }
    expect(applied).toEqual([[0, "0.1"], [0, "0.5"], [0, "0.05"]]);
    expect(watch.stats().instrumentChanges).toBe(3);
  });

  test("sameTickLot: one value however written is the same, another value or a text that is no decimal never (and never throws)", () => {
    const same = (a: string, b: string) => sameTickLot({ tickSize: a, lotSize: "1" }, { tickSize: b, lotSize: "1" });
    for (const [a, b] of [["0.010", "0.01"], ["1e-2", "0.01"], ["1E-2", "0.0100"], ["10e-1", "1"]]) expect(same(a, b), `${a} ${b}`).toBe(true);
    for (const [a, b] of [["0.01", "0.001"], ["0.01", "0.02"], ["", "0.01"], ["abc", "0.01"], ["-0.01", "0.01"], ["0.01 ", "0.01"], ["0", "0.0"]]) {
      expect(same(a, b), `${a} ${b}`).toBe(false);
    }
    expect(sameTickLot({ tickSize: "0.5", lotSize: "0.001" }, { tickSize: "0.5", lotSize: "0.01" })).toBe(false);
  });

  test("sameCachedSpec: the cache entry is the listing's when its tick and lot are the same values, whatever trailing zeros", () => {
    // Compared as texts until 2026-12-07: a cache holding "0.10" was rewritten for every listing saying "0.1".
    expect(sameCachedSpec({ tickSize: "0.10", lotSize: "1.000" }, { tickSize: "0.1", lotSize: "1" })).toBe(true);
    expect(sameCachedSpec({ tickSize: "0.10", lotSize: "1" }, { tickSize: "0.01", lotSize: "1" })).toBe(false);
    expect(sameCachedSpec({ tickSize: "0.1", lotSize: "1" }, { tickSize: "0.1", lotSize: "0.1" })).toBe(false);
    expect(sameCachedSpec({ tickSize: "0.1", lotSize: "1", expiresMs: 5 }, { tickSize: "0.10", lotSize: "1" })).toBe(false);
    expect(sameCachedSpec(undefined, { tickSize: "0.1", lotSize: "1" })).toBe(false);
  });
});
