/**
 * A Deribit option that expires while the feeder runs: at its `expiration_timestamp` its channel goes silent and
 * get_instruments (`expired=false`) stops listing it. Before, the adapter read no expiry and asked for no listing
 * until the book went stale, 600 s by default for options: for ten minutes the expired book was published LIVE,
 * frozen. Now the expiry the listing gave halts the book when it comes (HALTED / instrument_closed), unsubscribed,
 * the other option untouched; asked for again, it stays closed (no longer listed). Real simulator on 127.0.0.1.
 * The live tests read a fake wall clock stepped to the expiry once both books are LIVE (the simulator's option
 * expired at that step): with a real expiry a second or two ahead, a loaded machine had not both books LIVE by then.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { instrumentCacheWritesSettled } from "../../../src/venues/common/instruments.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { haltRecorder } from "../halt-recorder.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { CLOSED, closeThenReopen, lastStatusSink, recordedLog } from "../common/instrument-closed-scenario.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

const SYMBOLS = ["BTC-27MAR26-70000-C", "BTC-27MAR26-80000-C"];
const SUBS: Subscription[] = SYMBOLS.map((symbol) => ({ market: "option", symbol, depth: 0 }));
type Sim = Awaited<ReturnType<typeof startDeribitSimulator>>;

/** The simulator's two options, the first expiring `expiresInMs` from now; a config with its own instrument cache. */
async function expiringOption(seed: number, expiresInMs: number) {
  const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols: SYMBOLS }], seed });
  const expiresMs = Date.now() + expiresInMs;
  sim.setExpiration("option", SYMBOLS[0]!, expiresMs);
  const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: `${makeTempDir("deribit-expiry-")}/i.json`, markets: [{ market: "option" as const, depth: 0, symbols: SYMBOLS }], overrides: new Map() };
  return { sim, expiresMs, config };
}

/** A wall clock for the adapter, a minute before `expiresMs` until `expire` steps it there. */
type FakeWall = { ms: number };

/**
 * An adapter on `config` started (stopped with `sim` after the test), default staleness, reading `wall`: both books
 * LIVE, neither halted (the first is a minute short of its expiry).
 */
async function bothLive(sim: Sim, config: Awaited<ReturnType<typeof expiringOption>>["config"], what: string, wall: FakeWall) {
  const adapter = new DeribitAdapter(config, SUBS, { log: silentLogger, lateCheckMs: 20, listingRetryMs: 300, wallNow: () => wall.ms });
  running.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const recorder = haltRecorder(2);
  await adapter.loadInstruments();
  adapter.start(recorder.sink);
  await waitFor(() => {
    sim.step(1);
    return adapter.stats().topicsLive === 2;
  }, what, 20_000);
  expect(recorder.halted).toEqual([]); // not before its expiry (start() checked the expiries once already)
  expect(adapter.expiredInstruments().size).toBe(0);
  return { adapter, ...recorder };
}

/**
 * The first option's expiry comes: the adapter's clock reaches it and the simulator expires it then (silent, no
 * longer listed, a subscribe not taken), as Deribit does at its expiration_timestamp.
 */
function expire(sim: Sim, wall: FakeWall, expiresMs: number): void {
  wall.ms = expiresMs;
  sim.setExpiration("option", SYMBOLS[0]!, Date.now());
}

/** The first option HALTED / instrument_closed at its expiry (bothLive saw it not before); the other option untouched. */
async function expectHaltedAtExpiry(sim: Sim, adapter: DeribitAdapter, halted: ReturnType<typeof haltRecorder>["halted"], expiresMs: number): Promise<void> {
  await waitFor(() => {
    sim.step(1);
    return halted.some((h) => h.index === 0);
  }, "the expired option halted", 20_000);
  const h = halted.find((x) => x.index === 0)!;
  expect(h).toMatchObject({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
  expect([...adapter.expiredInstruments()]).toEqual([[0, expiresMs]]); // closed at the expiry the listing gave
  expect(halted.filter((x) => x.index === 1)).toEqual([]); // the other option is untouched
  expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1 });
}

describe("Deribit: an instrument that expires", { timeout: 60_000 }, () => {
  test("HALTED / instrument_closed at its expiration_timestamp, not LIVE and frozen until it goes stale", async () => {
    // An hour on by the simulator's clock: it is expired by hand when the adapter's clock is stepped there.
    const { sim, expiresMs, config } = await expiringOption(9, 3_600_000);
    const wall = { ms: expiresMs - 60_000 };
    // Default staleness (600 s for options): only the expiry can halt the book within this test.
    const { adapter, halted, updatesAfterHalt } = await bothLive(sim, config, "both books live", wall);
    expire(sim, wall, expiresMs);
    await expectHaltedAtExpiry(sim, adapter, halted, expiresMs);
    // Asked for again every listing period: not listed (expired), so it stays closed.
    const asked = sim.stats.restRequests;
    await waitFor(() => {
      sim.step(1);
      return sim.stats.restRequests >= asked + 3;
    }, "a few listing checks", 20_000);
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1, instrumentReopens: 0 });
    expect(updatesAfterHalt[0]).toBe(0);
  });
});

describe("Deribit: an option resolved from the disk cache while get_instruments is down", { timeout: 60_000 }, () => {
  // Before, the cache kept tick and lot only: the option had no known expiry, nothing asked the listing again, and at
  // its expiry its book stayed LIVE and frozen until it went stale (600 s). Now the cache keeps expiration_timestamp.
  test("HALTED / instrument_closed at its expiration_timestamp, REST down throughout", async () => {
    const { sim, expiresMs, config } = await expiringOption(11, 3_600_000);
    const wall = { ms: expiresMs - 60_000 };
    // A first run with REST up writes the cache; then get_instruments answers 503 for good.
    const first = new DeribitAdapter(config, SUBS, { log: silentLogger });
    await first.loadInstruments();
    await instrumentCacheWritesSettled();
    await first.stop();
    sim.setInstrumentsAvailable(false);
    const { adapter, halted, updatesAfterHalt } = await bothLive(sim, config, "both books live from the cache", wall);
    expire(sim, wall, expiresMs);
    await expectHaltedAtExpiry(sim, adapter, halted, expiresMs);
    expect(updatesAfterHalt[0]).toBe(0);
  });
});

describe("Deribit: a running instrument listed with is_active false", { timeout: 60_000 }, () => {
  // Before 2026-12-06 is_active was not read: such a book stayed subscribed, STALE and resubscribed every stale period.
  // Now the stale book asks its listing: HALTED / instrument_closed, unsubscribed, logged once naming is_active (the
  // log said "not listed" before 2026-12-07); active again, it is subscribed and LIVE on its snapshot.
  test("HALTED / instrument_closed once silent, logged once naming is_active; active again: LIVE", async () => {
    const symbols = SYMBOLS;
    const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols }], seed: 10 });
    const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: "", markets: [{ market: "option" as const, depth: 0, symbols }], overrides: new Map() };
    const { log, lines } = recordedLog();
    const adapter = new DeribitAdapter(config, SUBS, { log, staleAfterMs: () => 400, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, last } = lastStatusSink();
    await adapter.loadInstruments();
    adapter.start(sink);
    await closeThenReopen({
      adapter,
      sim,
      lines,
      waitMs: 20_000,
      close: () => sim.setActive("option", symbols[0]!, false),
      reopen: () => sim.setActive("option", symbols[0]!, true),
      halted: () => adapter.topicInfo(0).state === "halted",
      haltedWhat: "the inactive option halted",
      afterHalt: () => {
        expect(last[0]).toEqual(CLOSED);
        expect(adapter.topicInfo(1).state).toBe("live");
        const warned = lines.filter((l) => l.includes("no longer listed as trading"));
        expect(warned.map((l) => JSON.parse(l).detail)).toEqual([expect.stringContaining("is_active false")]);
      },
      listingChecks: () => sim.stats.restRequests,
      afterChecks: () => expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false }),
      reopenedWhat: "active again",
    });
  });
});

describe("Deribit record → replay: an expiry's closure", { timeout: 60_000 }, () => {
  /**
   * A live run recorded as `feeder record` records it, replayed through an adapter of the same config (loaded while
   * the listing still names the option, as a replay started from the same listing): the book events of both, each
   * noted with the records written (live) or fed (replay) by then, are equal. Until s-reprec replay redid no closure
   * (it watches no expiry and asks no listing): the expired option stayed LIVE in replay where live had it halted.
   */
  test("the expired option HALTED / instrument_closed in replay at live's record; the other option's book equal", async () => {
    const { sim, expiresMs, config } = await expiringOption(13, 3_600_000);
    const wall = { ms: expiresMs - 60_000 };
    running.push(() => sim.stop());
    const replay = new DeribitAdapter(config, SUBS, { log: silentLogger });
    running.push(() => replay.stop());
    await replay.loadInstruments();
    const lived = recordingTaps();
    const replayed = replayer(replay, lived.records);
    const live = new DeribitAdapter(config, SUBS, { log: silentLogger, lateCheckMs: 20, listingRetryMs: 300, wallNow: () => wall.ms, ...lived.taps });
    running.push(() => live.stop());
    await live.loadInstruments();
    live.start(lived.sink);
    await waitFor(() => {
      sim.step(1);
      return live.stats().topicsLive === 2;
    }, "both books live", 20_000);
    expire(sim, wall, expiresMs);
    await waitFor(() => {
      sim.step(1);
      return live.topicInfo(0).state === "halted";
    }, "the expired option halted", 20_000);
    sim.step(2);
    const seq = live.topicInfo(1).lastChangeId;
    await waitFor(() => live.topicInfo(1).lastChangeId > seq, "the other option's changes", 20_000);
    await live.stop();
    expect(lived.events.filter((e) => e.endsWith("halted/instrument_closed"))).toHaveLength(1);
    expect(replayed.feed()).toEqual(lived.events);
    expect([0, 1].map((i) => replay.topicInfo(i).state)).toEqual(["halted", "live"]);
  });
});
