/**
 * A late symbol's join that failed after the sink had built its book, retried once the venue changed its tick
 * (src/venues/common/late-instruments.ts joinLate): the retry's instrument reaches the sink as a change, so the
 * definition on the wire, the book and the venue's hot-path table all use the retry's exponents. Before, the sink kept
 * the first attempt's book and definition (its onInstrumentResolved ignores a book it has) while the table took the
 * second's: every price went out scaled by the difference (tick 0.01 → 0.1: ten times too small at the subscriber).
 * Real runtime, the real Bybit simulator over WebSocket, a real subscriber on loopback multicast (TTL 1); the first
 * join's subscribe is made to fail (the socket "closed under it"), the only fault injected.
 */
import { afterAll, describe, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../../src/app/runtime.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../../src/subscriber/index.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { SUB_REJECTED, TopicState, type VenueConnection } from "../../../src/venues/common/connection.ts";
import { joinLate } from "../../../src/venues/common/late-instruments.ts";
import { venueSpec, type VenueSpec } from "../../../src/venues/registry.ts";
import type { BookSink, VenueAdapter } from "../../../src/venues/venue.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../../e2e/harness.ts";

const MARKETS: Markets = [
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
  { market: "linear", depth: 50, symbols: ["SOLUSDT"] },
];
const SOL = { market: "linear" as const, symbol: "SOLUSDT", id: instrumentIdOf("bybit", "linear", "SOLUSDT") };

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("a late join retried after the sink built its book", { timeout: 60_000 }, () => {
  test("the venue's tick changed in between: the subscriber gets the new definition and a book equal to the venue's", async () => {
    // Linear's instrument REST down at start: SOLUSDT (tick 0.01 in the simulator) is left out, retried fast.
    const sim: BybitSim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 93, messagesPerSecond: 0 });
    stops.push(() => sim.stop());
    sim.setRestAvailable(false, "linear");
    const { group, port } = uniqueDestination(89);
    const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    stops.push(() => subscriber.stop());
    await subscriber.start();
    let adapter: VenueAdapter | undefined;
    const bybit = venueSpec("bybit")!;
    const spec: VenueSpec = { ...bybit, create: (...args) => (adapter = bybit.create(...args)) };
    const adapterOptions = { lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 200, lateCheckMs: 10 };
    const runtime: Runtime = await startRuntime(validateConfig(rawConfig({ sim, markets: MARKETS, group, port })), silentLogger, { feederOptions: { adapterOptions, venues: { bybit: spec } } });
    stops.push(() => runtime.stop());
    // The first join's subscribe fails after the sink built the book (tick 0.01); by its retry the venue lists 0.1.
    const lifecycle = (adapter as unknown as { lifecycle: { activate(t: TopicState): void } }).lifecycle;
    const activate = lifecycle.activate.bind(lifecycle);
    let failed = 0;
    lifecycle.activate = (t: TopicState) => {
      if (t.symbol === "SOLUSDT" && failed++ === 0) {
        sim.changeInstrument("linear", "SOLUSDT", { tickSize: "0.1" });
        throw new Error("socket closed under the subscribe (test)");
      }
      activate(t);
    };
    sim.setRestAvailable(true, "linear");
    await waitFor(() => failed === 1, "the first join, failed after the sink's book", 20_000);
    // The sink built SOLUSDT's book at the first attempt's tick.
    expect(runtime.feeder!.books().filter((b) => b?.instrument.symbol === "SOLUSDT").map((b) => b.instrument.tickSize)).toEqual(["0.01"]);
    await waitFor(() => runtime.feeder!.stats().venues.bybit!.instrumentsResolvedLate === 1, "SOLUSDT joined on the retry", 20_000);
    await waitFor(() => subscriber.books.get(SOL.id)?.usable === true, "SOLUSDT usable at the subscriber", 20_000, () => sim.step(1));
    // The definition the subscriber holds is the venue's tick now, and its book is the venue's at that tick.
    expect([subscriber.books.get(SOL.id)!.instrument.tickSize, subscriber.books.get(SOL.id)!.instrument.priceExp]).toEqual(["0.1", 1]);
    await waitFor(() => allBooksEqual(subscriber, sim, [SOL]), "SOLUSDT's book at the subscriber equal to the simulator's", 20_000, () => sim.step(1));
  });
});

describe("joinLate after an attempt whose subscribe failed", () => {
  const inst = (tickSize: string): Instrument => ({ instrumentId: 1, venue: "bybit", market: "spot", symbol: "NEWUSDT", priceExp: tickSize.length - 2, qtyExp: 3, tickSize, lotSize: "0.001" });
  function rig() {
    const t = new TopicState(0, "spot", "NEWUSDT", 50, "orderbook.50.NEWUSDT", {} as VenueConnection);
    t.sub = SUB_REJECTED;
    const calls: string[] = [];
    const sink: BookSink = {
      onBookUpdate() {},
      onBookInvalid() {},
      onInstrumentChanged: (_i, x) => void calls.push(`changed ${x.tickSize}`),
      onInstrumentResolved: (_i, x) => void calls.push(`resolved ${x.tickSize}`),
    };
    let fail = true;
    const lifecycle = fakeLifecycle({
      onActivate: (x) => {
        x.sub = 0;
        if (fail) throw new Error("socket closed");
      },
    });
    const exps: number[] = [];
    const j = { topics: [t], instruments: [undefined] as (Instrument | undefined)[], sink, lifecycle, sinkBooks: new Map<number, Instrument>(), addToTable: (_x: TopicState, i: Instrument) => (exps.push(i.priceExp), 0) };
    return { j, calls, exps, succeed: () => void (fail = false) };
  }

  test("the same tick/lot: the sink's book is kept, not built again", () => {
    const { j, calls, succeed } = rig();
    expect(() => joinLate(j, 0, inst("0.01"))).toThrow("socket closed");
    succeed();
    joinLate(j, 0, inst("0.01"));
    expect(calls).toEqual(["resolved 0.01"]);
    expect(j.sinkBooks.size).toBe(0);
  });

  test("another tick: the sink is told of a change (a new definition), and the table takes the same exponents", () => {
    const { j, calls, exps, succeed } = rig();
    expect(() => joinLate(j, 0, inst("0.01"))).toThrow("socket closed");
    expect(() => joinLate(j, 0, inst("0.1"))).toThrow("socket closed");
    succeed();
    joinLate(j, 0, inst("0.1"));
    expect(calls).toEqual(["resolved 0.01", "changed 0.1"]);
    expect(exps).toEqual([2, 1, 1]);
    expect(j.instruments[0]?.tickSize).toBe("0.1");
  });
});
