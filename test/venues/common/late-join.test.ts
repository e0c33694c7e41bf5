/**
 * A symbol left out at start is never lost by a join that did not happen (src/venues/common/late-instruments.ts,
 * joinLate): a join that throws (the sink refused the book) or that could not run (the adapter stopping, an
 * instrument already there) keeps the symbol pending, named with the error, retried and counted only once it
 * really joined; a partial join is rolled back (no instrument, topic not subscribed). The adapter case runs the
 * real Bybit adapter against the real simulator over WebSocket on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, type Instrument } from "../../../src/core/types.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter, type BybitAdapter } from "../../../src/venues/bybit/index.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { SUB_REJECTED, TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { instrumentCacheWritesSettled } from "../../../src/venues/common/instrument-cache.ts";
import type { InstrumentSource, InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { joinLate, LateInstruments } from "../../../src/venues/common/late-instruments.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { RecordingSink, subsOf, tempCachePath, venueConfig, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SUBS: Subscription[] = [{ market: "spot", symbol: "NEWUSDT", depth: 50 }];
const SPEC: InstrumentSpec = { tickSize: "0.01", lotSize: "0.001" };
const SINK: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };

describe("a late symbol whose join fails stays pending", () => {
  test("the join throws: pending as join_failed naming the error, not counted, asked again; joins and counts once later", async () => {
    const clock = { ms: 1_000_000 };
    const config = validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      // A cache of its own: the default (var/instruments-bybit.json) is the checkout's (until s-leftops it was written there).
      venues: { bybit: { instrument_cache: tempCachePath(), spot: { depth: 50, symbols: ["NEWUSDT"] } } },
    }).venues[0]!;
    let refuse = true;
    const joined: number[] = [];
    // The event each step waits for: the retrier's answer reached the join (onResolved). The rest of that answer up to
    // what is asserted (pending, its reason and retry time; or the join counted) runs in the same turn, before an
    // await of the join's promise resumes; bounded, named, never a sleep.
    let attempted = () => {};
    const nextJoin = (what: string) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
        attempted = () => (clearTimeout(t), resolve());
      });
    const late = new LateInstruments({
      ...{ venue: "bybit", log: silentLogger, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS },
      ...{ listingMs: 300_000, checkEveryMs: 1_000_000_000 },
      onResolved: (i) => {
        attempted();
        if (refuse) throw new Error("publisher refused the definition");
        joined.push(i);
      },
    });
    cleanups.push(() => late.stop());
    const answers: ((specs: Map<string, InstrumentSpec>) => void)[] = [];
    const source: InstrumentSource = { notListed: () => "not listed", fetchSpecs: () => new Promise((r) => answers.push(r)) };
    late.track(source, [{ index: 0, kind: "not_listed", detail: "not listed" }]);
    late.start(SINK);
    clock.ms += 300_000;
    const refused = nextJoin("the first join (refused)");
    late.check();
    answers.at(-1)!(new Map([["NEWUSDT", SPEC]]));
    await refused;
    expect(late.list()).toEqual([
      { index: 0, market: "spot", symbol: "NEWUSDT", kind: "join_failed", detail: expect.stringContaining("publisher refused the definition"), nextAttemptMs: clock.ms + 300_000 },
    ]);
    expect(late.resolvedLate).toBe(0);
    const gauge = late.metrics().find((m) => m.name === "instruments_unresolved" && m.labels?.reason === "join_failed");
    expect(gauge?.value).toBe(1);
    // Asked again on the listing cadence; this time the join goes through and is counted once.
    refuse = false;
    clock.ms += 300_000;
    const second = nextJoin("the second join");
    late.check();
    expect(answers.length).toBe(2);
    answers.at(-1)!(new Map([["NEWUSDT", SPEC]]));
    await second;
    expect(joined).toEqual([0]);
    expect(late.list()).toEqual([]);
    expect(late.resolvedLate).toBe(1);
    await instrumentCacheWritesSettled(); // the joined spec's merge into the cache ends within the test
  });
});

describe("joinLate", () => {
  const inst: Instrument = { instrumentId: 1, venue: "bybit", market: "spot", symbol: "NEWUSDT", priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" };
  function rig(o: { stopping?: boolean; sinkThrows?: boolean; activateThrows?: boolean } = {}) {
    const t = new TopicState(0, "spot", "NEWUSDT", 50, "orderbook.50.NEWUSDT", {} as VenueConnection);
    t.sub = SUB_REJECTED;
    const table = new Map<string, number>();
    const books: number[] = [];
    const sink: BookSink = {
      ...SINK,
      onInstrumentResolved: (i) => {
        if (o.sinkThrows) throw new Error("no room for another book");
        books.push(i);
      },
    };
    const lifecycle = fakeLifecycle({
      stopping: o.stopping ?? false,
      onActivate: (x) => {
        x.sub = 0;
        if (o.activateThrows) throw new Error("socket closed under the subscribe");
      },
    });
    const instruments: (Instrument | undefined)[] = [undefined];
    const j = { topics: [t], instruments, sink, lifecycle, addToTable: (x: TopicState) => (table.set(x.topic, 7), 7) };
    return { t, table, books, instruments, j };
  }

  test("joins: the sink's book, the table entry, the instrument, the subscription", () => {
    const { t, table, books, instruments, j } = rig();
    joinLate(j, 0, inst);
    expect([books, [...table.keys()], instruments[0], t.entry, t.sub]).toEqual([[0], ["orderbook.50.NEWUSDT"], inst, 7, 0]);
  });

  test("the adapter stopping: throws saying so, nothing added", () => {
    const { t, table, books, instruments, j } = rig({ stopping: true });
    expect(() => joinLate(j, 0, inst)).toThrow("stopping");
    expect([books, table.size, instruments[0], t.sub]).toEqual([[], 0, undefined, SUB_REJECTED]);
  });

  test("a sink that takes no late books: throws saying so, nothing added", () => {
    const { t, table, instruments, j } = rig();
    expect(() => joinLate({ ...j, sink: { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} } }, 0, inst)).toThrow("takes no books");
    expect([table.size, instruments[0], t.sub]).toEqual([0, undefined, SUB_REJECTED]);
  });

  test("an instrument already there: throws naming it, nothing changed", () => {
    const { table, books, instruments, j } = rig();
    instruments[0] = { ...inst, tickSize: "0.1" };
    expect(() => joinLate(j, 0, inst)).toThrow("already");
    expect([books, table.size, instruments[0]!.tickSize]).toEqual([[], 0, "0.1"]);
  });

  test("the sink refuses the book: throws its error; no table entry, no instrument, not subscribed", () => {
    const { t, table, instruments, j } = rig({ sinkThrows: true });
    expect(() => joinLate(j, 0, inst)).toThrow("no room for another book");
    expect([table.size, instruments[0], t.entry, t.sub]).toEqual([0, undefined, -1, SUB_REJECTED]);
  });

  test("a retry after the sink built the book: the same tick/lot written otherwise is no change, another value is", () => {
    const changed: string[] = [];
    const { j } = rig();
    const sinkBooks = new Map<number, Instrument>([[0, { ...inst, tickSize: "0.010", lotSize: "0.0010" }]]);
    const sink: BookSink = { ...SINK, onInstrumentResolved: () => changed.push("resolved"), onInstrumentChanged: (_i, x) => changed.push(x.tickSize) };
    joinLate({ ...j, sink, sinkBooks }, 0, inst);
    expect(changed).toEqual([]); // "0.010" is "0.01": the sink's book holds it already (compared as texts, it was told of a change)
    const again = rig();
    sinkBooks.set(0, { ...inst, tickSize: "0.1", priceExp: 1 });
    joinLate({ ...again.j, sink, sinkBooks }, 0, inst);
    expect(changed).toEqual(["0.01"]);
  });

  test("the subscribe fails: rolled back to no instrument and not subscribed", () => {
    const { t, instruments, j } = rig({ activateThrows: true });
    expect(() => joinLate(j, 0, inst)).toThrow("socket closed");
    expect([instruments[0], t.sub]).toEqual([undefined, SUB_REJECTED]);
  });
});

describe("Bybit adapter: a late join the sink refuses once", { timeout: 30_000 }, () => {
  test("stays unresolved (join_failed) with no book, then joins on the next retry and its book equals the simulator's", async () => {
    const markets = [{ market: "spot" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const sim = await startBybitSimulator({ markets, unlisted: ["spot:ETHUSDT"], seed: 5, messagesPerSecond: 0 });
    cleanups.push(() => sim.stop());
    const adapter: BybitAdapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), {
      ...{ log: silentLogger, pingIntervalMs: 200, pongTimeoutMs: 5_000 },
      ...{ lateRetryBaseMs: 40, lateRetryMaxMs: 160, listingRetryMs: 100, lateCheckMs: 5 },
    });
    cleanups.push(() => adapter.stop());
    const loaded = await adapter.loadInstruments();
    expect(loaded.map((i) => i === undefined)).toEqual([false, true]);
    let refusals = 0;
    const sink = new (class extends RecordingSink {
      onInstrumentResolved(index: number, instrument: Instrument): void {
        if (refusals++ === 0) throw new Error("publisher refused the definition");
        this.instruments[index] = instrument;
      }
    })([loaded[0]!]);
    adapter.start(sink);
    await waitFor(() => adapter.stats().topicsLive === 1, "BTCUSDT live");
    sim.setListed("spot", "ETHUSDT", true);
    await waitFor(() => refusals === 1, "the first join, refused");
    const u = adapter.unresolvedInstruments();
    expect(u.map((x) => [x.symbol, x.kind])).toEqual([["ETHUSDT", "join_failed"]]);
    expect(u[0]!.detail).toContain("publisher refused the definition");
    expect(adapter.stats().instrumentsResolvedLate).toBe(0);
    expect(adapter.topicInfo(1)).toMatchObject({ subscribed: false });
    await waitFor(() => adapter.stats().topicsLive === 2, "ETHUSDT joined and live", 15_000);
    expect(adapter.unresolvedInstruments()).toEqual([]);
    expect(adapter.stats().instrumentsResolvedLate).toBe(1);
    sim.step(5);
    await waitFor(() => sink.matches(sim, 0) && sink.matches(sim, 1), "both books equal the simulator's");
    expect(sink.invalid.filter((e) => e.index === 0 && e.state !== BookState.LIVE)).toEqual([]);
  });
});
