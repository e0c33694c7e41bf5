/**
 * How soon a closed instrument (no longer listed as trading, its book HALTED / instrument_closed) is asked for again.
 * Before, its market was asked for it every listing period (5 min), so after a venue-wide break (Binance BREAK in
 * maintenance, a Bybit or OKX suspension) books came back up to 5 minutes after trading resumed. Now the market is
 * asked 15 s after a closure, the wait doubling to 1 min while the symbol is not listed, so a break of any length
 * has its books back within a minute; one query per market carries all its closed symbols, however many; a
 * reopening brings the others' wait back to 15 s; symbols all past their listed expiry stay on the 5 min cadence.
 * The watch on a clock the test moves, its checks called by the test, REST answered by the test.
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/core/log.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { rng } from "../../support/mulberry32.ts";
import type { ClosedKind } from "../../../src/venues/common/closed-schedule.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { PartialAnswer, type InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";

const SPEC: InstrumentSpec = { tickSize: "0.1", lotSize: "0.001" };
const LISTING_MS = 300_000;

/** `perMarket` symbols in each of linear and spot, all listed at start. */
async function rig(perMarket: number, intervalMs = 0, leftOut: readonly string[] = []) {
  const clock = { ms: 1_780_000_000_000 };
  const names = Array.from({ length: perMarket }, (_, i) => `S${i}USDT`);
  const validated = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { bybit: { linear: { depth: 50, symbols: names }, spot: { depth: 50, symbols: names } } },
  }).venues[0]!;
  const config = { ...validated, instrumentCachePath: "" };
  const subs: Subscription[] = (["linear", "spot"] as const).flatMap((market) => names.map((symbol) => ({ market, symbol, depth: 50 })));
  const conn = { used: false } as VenueConnection;
  const topics = subs.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
  const calls: { market: MarketName; symbols: readonly string[]; answer: (specs: Record<string, InstrumentSpec> | Error) => void }[] = [];
  let instruments: (Instrument | undefined)[] | null = null;
  const reads = { instruments: 0 }; // calls of the watch's instruments(): one per pass over the topics
  const retired: number[] = [];
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
  const activated: number[] = [];
  const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };
  const lifecycle = fakeLifecycle({ onActivate: (t) => void activated.push(t.index), onRetire: (t) => void retired.push(t.index) });
  const watch = new InstrumentWatch({
    ...{ venue: "bybit", log, now: () => clock.ms, random: () => 1, config, subscriptions: subs, topics },
    source: {
      notListed: () => "not listed",
      fetchSpecs: (market, symbols) => new Promise((resolve, reject) => calls.push({ market, symbols, answer: (a) => (a instanceof Error ? reject(a) : resolve(new Map(Object.entries(a)))) })),
    },
    ...{ intervalMs, recheck: true, allowNoInstruments: false, instrumentCheckMs: 1_000_000_000, lateCheckMs: 1_000_000_000, listingRetryMs: LISTING_MS },
    ...{ instruments: () => (reads.instruments++, instruments), sink: () => sink, lifecycle: () => lifecycle },
    addToTable: () => 0,
    apply: () => {},
  });
  onTestFinished(() => watch.stop());
  const settle = () => new Promise((r) => setTimeout(r, 1));
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 2_000 && !cond(); i++) await settle();
    expect(cond()).toBe(true);
  };
  const listing = (market: MarketName, without: readonly string[], extra: Partial<InstrumentSpec> = {}) =>
    Object.fromEntries(names.filter((n) => !without.includes(`${market}:${n}`)).map((n) => [n, { ...SPEC, ...extra }]));
  const loading = watch.load();
  await until(() => calls.length === 2); // both markets at once
  for (const c of calls.splice(0)) c.answer(listing(c.market, leftOut)); // those left out: late, retried while running
  instruments = await loading;
  watch.bindTopics(false);
  watch.start(sink);
  /** Moves the clock and checks; returns the markets each new query asked. */
  const at = (ms: number) => {
    clock.ms = ms;
    const before = calls.length;
    watch.reloader.check();
    return calls.slice(before).map((c) => c.market);
  };
  /** Answers the oldest query with its market's listing, less `without`; waits for the answer to be applied. */
  const answer = async (without: readonly string[], extra: Partial<InstrumentSpec> = {}) => {
    const c = calls.shift()!;
    const r = watch.reloader.reloads;
    const before = [retired.length, activated.length];
    c.answer(listing(c.market, without, extra));
    // Applied once the reloader no longer has the market's query in flight (its finally runs after the watch acted);
    // a closed-only query counts no reload, so that, not a count, is what to wait for.
    const inFlight = (watch.reloader as unknown as { inFlight: Set<MarketName> }).inFlight;
    await until(() => !inFlight.has(c.market));
    return { reloaded: watch.reloader.reloads > r, retired: retired.length - before[0]!, activated: activated.length - before[1]! };
  };
  /** Fails the oldest query (REST down, or the market's listing failing for good); waits for the failure to be taken. */
  const fail = async () => {
    const c = calls.shift()!;
    c.answer(new Error("HTTP 503"));
    const inFlight = (watch.reloader as unknown as { inFlight: Set<MarketName> }).inFlight;
    await until(() => !inFlight.has(c.market));
  };
  /** Answers the oldest query in part (another of the market's requests failed): only `listed` (trading) is known. */
  const partly = async (listed: readonly string[]) => {
    const c = calls.shift()!;
    c.answer(new PartialAnswer(new Map(listed.map((n) => [n, SPEC])), new Error("HTTP 503")));
    const inFlight = (watch.reloader as unknown as { inFlight: Set<MarketName> }).inFlight;
    await until(() => !inFlight.has(c.market));
  };
  return { watch, clock, calls, retired, activated, lines, at, answer, fail, partly, until, names, reads };
}

describe("closed instruments asked for again", () => {
  test("15 s after the closure, then 30 s, 60 s, 60 s …; listed again: subscribed at the next query, not minutes later", async () => {
    const { watch, clock, calls, retired, activated, at, answer } = await rig(2);
    watch.requestNow("linear"); // a stale book's question
    await answer(["linear:S0USDT"]); // not listed: closed
    expect(retired).toEqual([0]);
    let t = clock.ms;
    for (const waitMs of [15_000, 30_000, 60_000, 60_000, 60_000]) {
      expect(at(t + waitMs - 1)).toEqual([]); // not before
      expect(at(t + waitMs)).toEqual(["linear"]); // one query of its market
      expect(calls[0]!.symbols).toEqual(["S0USDT"]); // the closed symbol alone (no reload was due)
      t = clock.ms;
      await answer(["linear:S0USDT"]); // still not listed
    }
    expect(activated).toEqual([]);
    // Trading resumes; the next query (within a minute) lists it: subscribed.
    expect(at(t + 60_000)).toEqual(["linear"]);
    await answer([]);
    expect(activated).toEqual([0]);
    expect(watch.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
    expect(at(t + 60_000 + LISTING_MS)).toEqual([]); // nothing closed: no more queries
  });

  test("hundreds closed in two markets: one query per market per wait, each carrying all of them; a failed query backs off too", async () => {
    const { clock, calls, retired, at, answer, names, watch } = await rig(300);
    watch.requestNow("linear");
    await answer(names.map((n) => `linear:${n}`)); // a venue-wide break: nothing listed as trading
    watch.requestNow("spot");
    await answer(names.map((n) => `spot:${n}`));
    expect(retired).toHaveLength(600);
    const t = clock.ms;
    // Checked every second for 15 s: no query until the wait is over, then one per market.
    for (let s = 1; s < 15; s++) expect(at(t + s * 1_000)).toEqual([]);
    expect(at(t + 15_000).sort()).toEqual(["linear", "spot"]);
    expect(calls.map((c) => c.symbols.length)).toEqual([300, 300]);
    calls.shift()!.answer(new Error("HTTP 503")); // linear's failed
    await answer(names.map((n) => `spot:${n}`)); // spot's still closed
    for (let s = 16; s < 45; s++) expect(at(t + s * 1_000)).toEqual([]);
    expect(at(t + 45_000).sort()).toEqual(["linear", "spot"]); // both waited 30 s
    // s-rev47: the re-queries are counted per market (before, no metric showed them): one each per wait, linear's failure too.
    const series = (name: string) => Object.fromEntries(watch.metrics().filter((m) => m.name === name).map((m) => [m.labels!.market, m.value]));
    expect(series("instrument_closed_queries_total")).toEqual({ linear: 2, spot: 2 });
    expect(series("instrument_closed_query_failures_total")).toEqual({ linear: 1, spot: 0 });
  });

  test("a market whose only book is closed, its listing failing for good: the wait grows to 30 min (not every minute for ever), an answer ends the streak", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(1);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]); // linear's only book closed
    expect(retired).toEqual([0]);
    let t = clock.ms;
    // Before: 15 s, 30 s, then 60 s for ever, each a counted failure.
    for (const waitMs of [15_000, 30_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000]) {
      expect(at(t + waitMs - 1)).toEqual([]);
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
      await fail();
    }
    const failures = () => watch.metrics().find((m) => m.name === "instrument_closed_query_failures_total" && m.labels!.market === "linear")!.value;
    expect(failures()).toBe(8);
    // A clock stepped back an hour: the backed-off wait is not cut to the minute (nor stretched by the hour).
    const back = t - 3_600_000;
    expect(at(back)).toEqual([]);
    expect(at(back + 60_000)).toEqual([]);
    expect(at(back + 1_800_000 - 1)).toEqual([]);
    expect(at(back + 1_800_000)).toEqual(["linear"]);
    t = clock.ms;
    await answer(["linear:S0USDT"]); // answered (still closed): the streak is over, back to the minute
    expect(at(t + 60_000)).toEqual(["linear"]);
    t = clock.ms;
    await fail(); // the first failure after an answer waits as an answer would
    expect(at(t + 60_000)).toEqual(["linear"]);
    t = clock.ms;
    await fail();
    expect(at(t + 120_000 - 1)).toEqual([]);
    expect(at(t + 120_000)).toEqual(["linear"]);
    expect(failures()).toBe(10);
  });

  test("an answer in part that reopens one closed symbol but leaves another unanswered does not end the failure streak", async () => {
    const { clock, calls, retired, activated, at, answer, fail, partly, watch } = await rig(2);
    watch.requestNow("linear");
    await answer(["linear:S0USDT", "linear:S1USDT"]); // both closed
    expect(retired).toEqual([0, 1]);
    let t = clock.ms;
    for (const waitMs of [15_000, 30_000]) {
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
      await fail(); // the next after 30 s, then 2 min
    }
    expect(at(t + 120_000)).toEqual(["linear"]);
    expect(calls[0]!.symbols).toEqual(["S0USDT", "S1USDT"]);
    t = clock.ms;
    await partly(["S1USDT"]); // S1's part answered (trading again), S0's failed: a third failure in a row
    expect(activated).toEqual([1]);
    expect(at(t + 15_000)).toEqual(["linear"]); // a reopening: the other asked for 15 s later
    t = clock.ms;
    await fail();
    // The fourth failure in a row: 30 s doubled thrice. Before s-instleft2 the reopening ended the streak (S0's part
    // had answered nothing) and this wait was 30 s.
    expect(at(t + 30_000)).toEqual([]);
    expect(at(t + 240_000 - 1)).toEqual([]);
    expect(at(t + 240_000)).toEqual(["linear"]);
    t = clock.ms;
    await answer(["linear:S0USDT"]); // answered for all it asked (S0 still closed): the streak is over
    expect(at(t + 60_000)).toEqual(["linear"]);
  });

  test("randomized against a walk over the closed books: per market, the kind the schedule reads (none, may reopen, all past expiry), the closed count and quietness", async () => {
    const { watch, clock, calls, retired, activated, at, until, names } = await rig(4);
    const random = rng(0x1e5f2);
    const markets = ["linear", "spot"] as const;
    const indexOf = (market: MarketName, n: string) => (market === "linear" ? 0 : names.length) + names.indexOf(n);
    // The model: which books the watch closed (its retire and activate calls) and the expiry each last listing gave.
    const closed = new Set<number>();
    const expiries = new Map<number, number>();
    let [seenRetired, seenActivated] = [0, 0];
    const inFlight = (watch.reloader as unknown as { inFlight: Set<MarketName> }).inFlight;
    const answerAll = async () => {
      while (calls.length > 0) {
        const c = calls.shift()!;
        if (random() < 0.1) c.answer(new Error("HTTP 503"));
        else {
          const listing: Record<string, InstrumentSpec> = {};
          for (const n of names.filter(() => random() < 0.6)) {
            const r = random();
            const expiresMs = r < 0.4 ? undefined : Math.round(clock.ms + (r < 0.7 ? -1 : 1) * random() * 600_000);
            listing[n] = expiresMs === undefined ? SPEC : { ...SPEC, expiresMs };
            if (expiresMs === undefined) expiries.delete(indexOf(c.market, n));
            else expiries.set(indexOf(c.market, n), expiresMs);
          }
          c.answer(listing);
        }
        await until(() => !inFlight.has(c.market));
      }
    };
    const schedule = (watch as unknown as { closedSchedule: { kindOf(m: MarketName): ClosedKind } }).closedSchedule;
    const onlyClosed = (m: MarketName) => (watch as unknown as { onlyClosed(m: MarketName): boolean }).onlyClosed(m);
    const gauge = (m: MarketName) => watch.metrics().find((x) => x.name === "instruments_closed" && x.labels!.market === m)!.value;
    const kinds = new Set<ClosedKind>();
    for (let step = 0; step < 150; step++) {
      const r = random();
      if (r < 0.35) watch.requestNow(markets[Math.floor(random() * 2)]!);
      else if (r < 0.7) at(clock.ms + Math.floor(random() * 90_000));
      else {
        clock.ms += r < 0.85 ? 0 : Math.floor(random() * 600_000);
        (watch as unknown as { checkExpiries(): void }).checkExpiries(); // (its own timer is off in this rig)
      }
      await answerAll();
      for (const i of retired.slice(seenRetired)) closed.add(i);
      for (const i of activated.slice(seenActivated)) closed.delete(i);
      [seenRetired, seenActivated] = [retired.length, activated.length];
      for (const m of markets) {
        const mine = [...closed].filter((i) => (i < names.length) === (m === "linear"));
        const kind: ClosedKind = mine.length === 0 ? "none" : mine.some((i) => (expiries.get(i) ?? Infinity) > clock.ms) ? "may_reopen" : "expired";
        kinds.add(kind);
        expect({ step, m, kind: schedule.kindOf(m), count: gauge(m), onlyClosed: onlyClosed(m) }).toEqual({ step, m, kind, count: mine.length, onlyClosed: mine.length === names.length });
      }
    }
    expect([...kinds].sort()).toEqual(["expired", "may_reopen", "none"]); // every case met
  });

  test("a clock stepped back during a failure streak: the wait it was set with (2 min) holds, not the longest (30 min)", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(1);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]); // linear's only book closed
    expect(retired).toEqual([0]);
    let t = clock.ms;
    for (const waitMs of [15_000, 30_000]) {
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
      await fail();
    }
    // Two failures in a row: the next in 2 min. The clock stepped back an hour: still 2 min from here (before: 30 min,
    // a break's end unseen for half an hour).
    const back = t - 3_600_000;
    expect(at(back)).toEqual([]);
    expect(at(back + 120_000 - 1)).toEqual([]);
    expect(at(back + 120_000)).toEqual(["linear"]);
  });

  test("with hourly reloads too: a market whose only book is closed, its listing failing for good, is asked ever less often (the reload's retry backs off to 30 min as well)", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(1, 3_600_000);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]); // linear's only book closed; its next reload an hour on
    expect(retired).toEqual([0]);
    const t0 = clock.ms;
    const queriesAt: number[] = [];
    for (let ms = t0 + 10_000; ms <= t0 + 8 * 3_600_000; ms += 10_000) {
      for (const m of at(ms)) {
        if (m === "spot") {
          await answer([]); // spot's book is open: its hourly reload answered
          continue;
        }
        queriesAt.push(ms);
        await fail();
      }
    }
    // Before: from the first hourly reload on, the reload's retry every minute for ever (hundreds of queries).
    const lastHours = queriesAt.filter((ms) => ms > t0 + 5 * 3_600_000);
    expect(lastHours.length).toBeGreaterThan(0);
    expect(lastHours.length).toBeLessThanOrEqual(12); // both schedules at 30 min: at most 2 per 30 min
    const series = (name: string) => watch.metrics().find((m) => m.name === name && m.labels!.market === "linear")!.value;
    expect(series("instrument_closed_query_failures_total")).toBe(queriesAt.length);
    // An answer ends both streaks: the closed symbol asked again within the minute, the reload an hour on.
    const t = clock.ms + 1_800_000;
    expect(at(t)).toEqual(["linear"]);
    await answer(["linear:S0USDT"]);
    expect(at(t + 60_000)).toEqual(["linear"]);
  });

  test("an answer to the closed symbols' own query ends the reload's failure streak too: a quiet market's next failed reload is retried after 2 s, not 30 min at once", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(1);
    const t0 = clock.ms;
    const expiresMs = t0 + 600_000;
    watch.requestNow("linear");
    await answer([], { expiresMs }); // linear's only book listed as trading, with an expiry
    watch.requestNow("linear"); // a re-check; REST down from here on: retried 2 s doubling to 1 min (a book is open)
    await fail();
    for (let ms = clock.ms + 1_000; ms < expiresMs; ms += 1_000) for (const _ of at(ms)) await fail();
    const failed = watch.reloader.failures;
    expect(failed).toBeGreaterThan(10); // a long streak
    clock.ms = expiresMs;
    (watch as unknown as { checkExpiries(): void }).checkExpiries(); // (its own timer is off in this rig)
    expect(retired).toEqual([0]); // nothing open in linear now: its failed reload backs off to 30 min
    let tR = 0;
    for (let ms = expiresMs + 1_000; tR === 0; ms += 1_000) {
      for (const _ of at(ms)) {
        tR = ms;
        await fail(); // the reload's retry: next in 30 min; the closed symbol's own query in 1 min
      }
    }
    expect(watch.reloader.failures).toBe(failed + 1);
    // The closed symbol's own queries fail too (after 1 min, then 2 min): not an answer, the streak goes on.
    expect(at(tR + 60_000)).toEqual(["linear"]);
    await fail();
    expect(at(tR + 180_000)).toEqual(["linear"]);
    await fail();
    expect(watch.reloader.failures).toBe(failed + 1); // (those were not reloads)
    watch.requestNow("linear"); // a re-check: a reload, failing; its retry 30 min on, not 2 s
    await fail();
    const tQ = clock.ms;
    expect(at(tQ + 2_000)).toEqual([]);
    // REST answers the closed schedule's next query (4 min on: no reload), and those after it; then fails at the
    // reload's retry.
    let answered = 0;
    for (let ms = tQ + 3_000; ms < tQ + 1_800_000; ms += 1_000) {
      for (const _ of at(ms)) {
        expect((await answer(["linear:S0USDT"])).reloaded).toBe(false);
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(0);
    expect(at(tQ + 1_800_000)).toEqual(["linear"]);
    await fail();
    expect(watch.reloader.failures).toBe(failed + 3);
    // The answer ended the streak: retried after 2 s (before s-instleft: 30 min at once, the streak never ended).
    expect(at(tQ + 1_802_000 - 1)).toEqual([]);
    expect(at(tQ + 1_802_000)).toEqual(["linear"]);
  });

  test("instrument_reload_ms 0, a market whose only book is closed, its failed reload's retry minutes ahead: the checks each second do not go over every topic", async () => {
    const { clock, retired, activated, at, answer, fail, watch, reads } = await rig(1);
    const onlyClosed = () => (watch as unknown as { onlyClosed(m: MarketName): boolean }).onlyClosed("linear");
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]);
    expect(retired).toEqual([0]);
    expect(onlyClosed()).toBe(true);
    expect(at(clock.ms + 15_000)).toEqual(["linear"]);
    await answer([]); // listed again: reopened, the market's answer kept no longer
    expect(activated).toEqual([0]);
    expect(onlyClosed()).toBe(false);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]); // closed again
    expect(onlyClosed()).toBe(true);
    watch.requestNow("linear"); // a re-check, failing: its retry 2 s doubling to 30 min (nothing open)
    await fail();
    const t = clock.ms;
    let idleReads = 0;
    let queries = 0;
    for (let ms = t + 1_000; ms <= t + 600_000; ms += 1_000) {
      const before = reads.instruments;
      const asked = at(ms);
      if (asked.length === 0) idleReads += reads.instruments - before;
      for (const _ of asked) {
        queries++;
        await fail();
      }
    }
    expect(queries).toBeGreaterThan(3);
    // Before s-instleft: a pass over every topic each second once the retry lay more than a minute ahead (hundreds).
    expect(idleReads).toBe(0);
  });

  test("a market whose only resolved book is closed is quiet no more once a symbol left out at start joins", async () => {
    const { clock, retired, activated, at, answer, watch } = await rig(2, 0, ["linear:S1USDT"]);
    const onlyClosed = () => (watch as unknown as { onlyClosed(m: MarketName): boolean }).onlyClosed("linear");
    watch.requestNow("linear");
    await answer(["linear:S0USDT", "linear:S1USDT"]); // S0 closed; S1 still not listed
    expect(retired).toEqual([0]);
    expect(onlyClosed()).toBe(true);
    const t = clock.ms;
    for (let ms = t + 1_000; activated.length === 0 && ms <= t + 600_000; ms += 1_000) for (const _ of at(ms)) await answer(["linear:S0USDT"]);
    expect(activated).toEqual([1]); // S1 listed: joined, an open book
    expect(onlyClosed()).toBe(false);
  });

  test("a market with an open book beside a closed one: its failing reload is retried within the minute (2 s doubling), never backed off to 30 min", async () => {
    const { clock, retired, at, answer, fail, watch, calls } = await rig(2, 3_600_000);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]); // S0 closed, S1 still open
    expect(retired).toEqual([0]);
    const t0 = clock.ms;
    watch.requestNow("linear"); // a re-check (a price that did not fit): the open book's reload, failing
    expect(calls.map((c) => c.symbols)).toEqual([["S1USDT", "S0USDT"]]); // the closed symbol rides along
    let t = t0;
    await fail();
    for (const waitMs of [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]) {
      expect(at(t + waitMs)).toEqual(["linear"]); // the closed schedule (backed off past 30 s) not what runs it
      t = clock.ms;
      await fail();
    }
  });

  test("closed only by a listed expiry, its listing failing for good: 1 min, then doubling to 30 min", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(1);
    const t0 = clock.ms;
    watch.requestNow("linear");
    await answer([], { expiresMs: t0 + 1_000 });
    clock.ms = t0 + 1_000;
    (watch as unknown as { checkExpiries(): void }).checkExpiries();
    expect(retired).toEqual([0]);
    let t = clock.ms;
    expect(at(t + LISTING_MS)).toEqual(["linear"]);
    t = clock.ms;
    for (const waitMs of [60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000]) {
      await fail();
      expect(at(t + waitMs - 1)).toEqual([]);
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
    }
  });

  test("a book closed by its listed expiry during a failure streak neither shortens the wait nor ends the streak (the clock closed it, not an answer)", async () => {
    const { clock, retired, at, answer, fail, watch } = await rig(2);
    const t = clock.ms;
    watch.requestNow("linear");
    await answer(["linear:S0USDT"], { expiresMs: t + 600_000 }); // S0 closed; S1 trading until its expiry
    expect(retired).toEqual([0]);
    for (const dueMs of [t + 15_000, t + 45_000, t + 165_000, t + 405_000]) {
      expect(at(dueMs)).toEqual(["linear"]);
      await fail(); // the next after 30 s, 2 min, 4 min, 8 min
    }
    clock.ms = t + 600_000;
    (watch as unknown as { checkExpiries(): void }).checkExpiries(); // (its own timer is off in this rig)
    expect(retired).toEqual([0, 1]);
    expect(at(t + 885_000 - 1)).toEqual([]);
    expect(at(t + 885_000)).toEqual(["linear"]);
    await fail();
    // The streak went on through the expiry: 16 min now, not 1 min as after an answer.
    expect(at(t + 885_000 + 960_000 - 1)).toEqual([]);
    expect(at(t + 885_000 + 960_000)).toEqual(["linear"]);
  });

  test("the closure's warning and the instruments_closed help name the 30 min back-off while the listing query fails", async () => {
    const { clock, lines, retired, answer, watch } = await rig(2);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"], { expiresMs: clock.ms + 1_000 }); // S0 closed; S1 listed with an expiry
    clock.ms += 1_000;
    (watch as unknown as { checkExpiries(): void }).checkExpiries(); // S1 closed at its expiry
    expect(retired).toEqual([0, 1]);
    const closures = lines.filter((l) => l.includes("instrument no longer listed as trading"));
    expect(closures).toHaveLength(2);
    // Before s-instleft neither said so: an operator waiting for the minute's query after a break saw none.
    expect(closures[0]).toContain("after 15 s, the wait doubling to 60 s (backing off to 30 min while the listing query fails)");
    expect(closures[1]).toContain("every 300 s (past its listed expiry; backing off to 30 min while the listing query fails)");
    expect(watch.metrics().find((m) => m.name === "instruments_closed")!.help).toContain("to 30 min while the listing query fails");
  });

  test("a reopening brings the others' wait back to 15 s; closed only by a listed expiry: every listing period", async () => {
    const { clock, retired, activated, at, answer, watch } = await rig(3);
    watch.requestNow("linear");
    await answer(["linear:S0USDT", "linear:S1USDT"]);
    expect(retired).toEqual([0, 1]);
    let t = clock.ms;
    for (const waitMs of [15_000, 30_000, 60_000]) {
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
      await answer(["linear:S0USDT", "linear:S1USDT"]);
    }
    // S0 trades again (the market reopening in turns); S1 is asked for again 15 s later, not 60 s.
    expect(at(t + 60_000)).toEqual(["linear"]);
    t = clock.ms;
    await answer(["linear:S1USDT"]);
    expect(activated).toEqual([0]);
    expect(at(t + 14_999)).toEqual([]);
    expect(at(t + 15_000)).toEqual(["linear"]);
    t = clock.ms;
    // Listed again with an expiry that then passes: closed by it (every listing period from then on).
    await answer([], { expiresMs: t + 1_000 });
    expect(activated).toEqual([0, 1]);
    clock.ms = t + 1_000;
    (watch as unknown as { checkExpiries(): void }).checkExpiries(); // (its own timer is off in this rig)
    expect(retired).toEqual([0, 1, 0, 1, 2]);
    t = clock.ms;
    expect(at(t + LISTING_MS - 1)).toEqual([]); // not on the 15 s back-off: they never come back
    expect(at(t + LISTING_MS)).toEqual(["linear"]);
  });

  test("a book closed by its listed expiry does not pull the others' query forward (it never comes back)", async () => {
    const { clock, retired, at, answer, watch } = await rig(3);
    const t = clock.ms;
    const expiresMs = t + 50_000; // S1's and S2's (delivery), as the listing gives it
    watch.requestNow("linear");
    await answer(["linear:S0USDT"], { expiresMs });
    expect(at(t + 15_000)).toEqual(["linear"]);
    await answer(["linear:S0USDT"], { expiresMs });
    expect(at(t + 45_000)).toEqual(["linear"]);
    await answer(["linear:S0USDT"], { expiresMs }); // S0's next query: 60 s on, at t + 105 s
    clock.ms = expiresMs;
    (watch as unknown as { checkExpiries(): void }).checkExpiries();
    expect(retired).toEqual([0, 1, 2]);
    expect(at(expiresMs + 15_000)).toEqual([]); // not 15 s after the expiry
    expect(at(t + 105_000 - 1)).toEqual([]);
    expect(at(t + 105_000)).toEqual(["linear"]);
  });

  test("a clock stepped back an hour delays the closed symbols' query by no more than the longest wait", async () => {
    const { clock, retired, at, answer, watch } = await rig(2);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]);
    expect(retired).toEqual([0]);
    const back = clock.ms - 3_600_000; // the deadline (15 s on) now lies an hour and 15 s ahead
    expect(at(back)).toEqual([]);
    expect(at(back + 60_000 - 1)).toEqual([]);
    expect(at(back + 60_000)).toEqual(["linear"]);
  });

  test("listed again at a tick that cannot be used: halted on, logged once however often it is asked for", async () => {
    const { clock, retired, activated, lines, at, answer, watch } = await rig(1);
    watch.requestNow("linear");
    await answer(["linear:S0USDT"]);
    expect(retired).toEqual([0]);
    let t = clock.ms;
    for (const waitMs of [15_000, 30_000, 60_000, 60_000]) {
      expect(at(t + waitMs)).toEqual(["linear"]);
      t = clock.ms;
      await answer([], { tickSize: "not a number" });
    }
    expect(activated).toEqual([]);
    expect(lines.filter((l) => l.includes("cannot be used; it stays halted"))).toHaveLength(1);
    expect(at(t + 60_000)).toEqual(["linear"]);
    await answer([]); // usable again: subscribed
    expect(activated).toEqual([0]);
  });
});
