/**
 * OKX instruments reloaded while running (src/venues/common/instrument-reload.ts, src/venues/okx/instrument-watch.ts),
 * against the simulator with the adapter's clock (and the simulator's listing clock) driven by the test: an
 * `upcChg` further away than setTimeout's 2^31 ms (~24.8 days) is applied just after its effTime, not before, and a
 * change announced after start is found by the periodic reload (`instrument_reload_ms`, default 1 hour).
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startOkxSimulator, type OkxSim } from "../../../src/sim/okx-sim.ts";
import { INSTRUMENT_RELOAD_MS } from "../../../src/venues/common/instrument-reload.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { AFTER_EFF_TIME_MS } from "../../../src/venues/okx/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { okxConfig, until } from "./helpers.ts";

const DAY_MS = 86_400_000;
const SUBS: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];

class Sink implements BookSink {
  readonly changed: Instrument[] = [];
  readonly invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  onBookUpdate(): void {}
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
  }
  onInstrumentChanged(_index: number, inst: Instrument): void {
    this.changed.push(inst);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(announce?: (sim: OkxSim, t0: number) => void): Promise<{ sim: OkxSim; adapter: OkxAdapter; sink: Sink; clock: { ms: number }; t0: number }> {
  const clock = { ms: Date.now() };
  const t0 = clock.ms;
  const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 9, now: () => clock.ms, specs: { "spot:BTC-USDT": { tickSize: "0.1", lotSize: "0.0001" } } });
  announce?.(sim, t0);
  // Never stale: a clock moved by days made the book STALE, and its re-check asked a reload of its own whenever the
  // real-time housekeeping timer ran, racing the periodic or announced one. A reload started before a move and answered
  // after it then passed for the reload at the new time, or applied the change but kept its announcement (started before it).
  const staleAfterMs = () => 365 * DAY_MS;
  const adapter = new OkxAdapter(okxConfig(sim, SUBS), SUBS, { log: silentLogger, now: () => clock.ms, staleAfterMs, instrumentCheckMs: 5, reconnectBaseMs: 5, reconnectMaxMs: 20 });
  cleanups.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  expect((await adapter.loadInstruments())[0]?.tickSize).toBe("0.1");
  const sink = new Sink();
  adapter.start(sink);
  sim.step(1);
  await until(() => adapter.topicInfo(0).state === "live", "the book live");
  return { sim, adapter, sink, clock, t0 };
}

/** Moves the clock and waits until a reload has run at the new time. */
async function advance(adapter: OkxAdapter, clock: { ms: number }, toMs: number): Promise<void> {
  const before = adapter.stats().instrumentReloads ?? 0;
  clock.ms = toMs;
  await until(() => (adapter.stats().instrumentReloads ?? 0) > before, "an instrument reload at the new time");
}

describe("okx instrument reloads", { timeout: 30_000 }, () => {
  test("an upcChg 30 days ahead (past the 2^31 ms a timer can wait) is applied just after effTime, never before", async () => {
    const effTimeMs = Date.now() + 30 * DAY_MS;
    const { sim, adapter, sink, clock } = await start((s) => s.announceChange("BTC-USDT", { param: "tickSz", newValue: "0.01", effTimeMs }));
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(effTimeMs + AFTER_EFF_TIME_MS);
    // Where a timer capped at 2^31 ms fires, and a minute before effTime: reloads (periodic) find nothing changed yet.
    await advance(adapter, clock, clock.ms + 2 ** 31 + 60_000);
    await advance(adapter, clock, effTimeMs - 60_000);
    expect(sink.changed).toEqual([]);
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(effTimeMs + AFTER_EFF_TIME_MS);
    await advance(adapter, clock, effTimeMs + AFTER_EFF_TIME_MS);
    await until(() => sink.changed.length === 1, "the new tick applied");
    expect(sink.changed.map((i) => [i.tickSize, i.priceExp])).toEqual([["0.01", 2]]);
    expect(adapter.instrumentOf(0).priceExp).toBe(2);
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.INSTRUMENT_CHANGED });
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBeUndefined();
    sim.step(1);
    await until(() => adapter.topicInfo(0).state === "live", "the book live again in the new exponents");
    expect(adapter.stats().instrumentChanges).toBe(1);
  });

  test("a change announced after start is found by the periodic reload and applied at its effTime", async () => {
    const { sim, adapter, sink, clock, t0 } = await start();
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBeUndefined();
    const effTimeMs = t0 + 3 * INSTRUMENT_RELOAD_MS;
    sim.announceChange("BTC-USDT", { param: "lotSz", newValue: "0.00001", effTimeMs });
    // Within the interval nothing asks OKX: the announcement is unknown. Judged after the deadline check's own timer
    // has run at that time (before, asserted at once, before any timer could: it could not fail).
    const checks = vi.spyOn(adapter.reloader, "check");
    const runs = vi.spyOn(adapter.reloader as unknown as { run: (...a: unknown[]) => void }, "run");
    clock.ms = t0 + INSTRUMENT_RELOAD_MS - 1_000;
    await until(() => checks.mock.calls.length >= 2, "the reload deadline checked at the new time");
    expect(runs).not.toHaveBeenCalled();
    expect(adapter.stats().instrumentReloads).toBe(0);
    await advance(adapter, clock, t0 + INSTRUMENT_RELOAD_MS);
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(effTimeMs + AFTER_EFF_TIME_MS);
    expect(sink.changed).toEqual([]);
    await advance(adapter, clock, effTimeMs + AFTER_EFF_TIME_MS);
    await until(() => sink.changed.length === 1, "the new lot applied");
    expect(sink.changed.map((i) => [i.lotSize, i.qtyExp])).toEqual([["0.00001", 5]]);
  });

  test("a symbol that joins late (instruments REST down at start) has the upcChg its late listing showed applied at effTime", async () => {
    const clock = { ms: Date.now() };
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 9, now: () => clock.ms, specs: { "spot:BTC-USDT": { tickSize: "0.1", lotSize: "0.0001" } } });
    const effTimeMs = clock.ms + 2 * DAY_MS;
    sim.announceChange("BTC-USDT", { param: "tickSz", newValue: "0.01", effTimeMs });
    const adapter = new OkxAdapter(okxConfig(sim, SUBS), SUBS, {
      ...{ log: silentLogger, now: () => clock.ms, instrumentCheckMs: 5, reconnectBaseMs: 5, reconnectMaxMs: 20 },
      ...{ allowNoInstruments: true, lateRetryBaseMs: 1_000, lateCheckMs: 5 },
    });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    sim.setInstrumentsAvailable(false);
    expect(await adapter.loadInstruments()).toEqual([undefined]);
    const sink = new Sink();
    const resolved: Instrument[] = [];
    adapter.start(Object.assign(sink, { onInstrumentResolved: (_i: number, inst: Instrument) => void resolved.push(inst) }));
    sim.setInstrumentsAvailable(true);
    clock.ms += 1_000; // the first retry is due (by the adapter's clock)
    await until(() => resolved.length === 1, "the symbol resolved late");
    sim.step(1);
    await until(() => adapter.topicInfo(0).state === "live", "its book live");
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(effTimeMs + AFTER_EFF_TIME_MS);
    await advance(adapter, clock, effTimeMs + AFTER_EFF_TIME_MS);
    await until(() => sink.changed.length === 1, "the new tick applied");
    expect(sink.changed.map((i) => [i.tickSize, i.priceExp])).toEqual([["0.01", 2]]);
  });

  // The start listing's upcChg (instruments.ts collects every listed instId's) was announced whole at start(): a change
  // of an instId not subscribed scheduled a reload of the market for nothing. A reload's listing announced only its
  // symbols' changes (announceUpcoming); so does the start listing now.
  test("at start, only the subscribed instIds' upcChg are announced, not another instId's of the same listing", async () => {
    const clock = { ms: Date.now() };
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 9, now: () => clock.ms });
    sim.announceChange("ETH-USDT", { param: "tickSz", newValue: "0.001", effTimeMs: clock.ms + 2 * DAY_MS }); // not subscribed
    sim.announceChange("BTC-USDT", { param: "lotSz", newValue: "0.00001", effTimeMs: clock.ms + 3 * DAY_MS });
    const adapter = new OkxAdapter(okxConfig(sim, SUBS), SUBS, { log: silentLogger, now: () => clock.ms, instrumentCheckMs: 5, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    await adapter.loadInstruments();
    adapter.start(new Sink());
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(clock.ms + 3 * DAY_MS + AFTER_EFF_TIME_MS);
  });

  // The start listing's upcChg were announced whatever their effTime: one already in effect when that listing was
  // asked for (OKX still listing it: late) reloaded the market at once, for nothing. A reload's listing leaves such a
  // one to the next periodic reload (announceUpcoming); so does the start listing now. One still ahead is announced.
  test("at start, an upcChg already in effect when the start listing was asked for is not announced (as a reload's)", async () => {
    const clock = { ms: Date.now() };
    const listedAtMs = clock.ms - 60_000; // OKX's listing, a minute late: it still shows a change that took effect
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 9, now: () => listedAtMs });
    sim.announceChange("BTC-USDT", { param: "tickSz", newValue: "0.01", effTimeMs: clock.ms - 30_000 });
    sim.announceChange("BTC-USDT", { param: "lotSz", newValue: "0.00001", effTimeMs: clock.ms + DAY_MS });
    const adapter = new OkxAdapter(okxConfig(sim, SUBS), SUBS, { log: silentLogger, now: () => clock.ms, instrumentCheckMs: 5, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    await adapter.loadInstruments();
    adapter.start(new Sink());
    // Before: clock.ms - 30 s + AFTER_EFF_TIME_MS, due at the first check.
    expect(adapter.reloader.nextAnnouncedMs("spot")).toBe(clock.ms + DAY_MS + AFTER_EFF_TIME_MS);
  });
});
