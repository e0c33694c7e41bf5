/**
 * The venue layer as the app uses it: a scripted venue (registered through FeederOptions.venues) drives the real
 * Feeder and publisher; every datagram is decoded. A full book applied as "replace" is published as the delta from
 * the previous book; verify() failing publishes RESYNCING / checksum_mismatch instead of the update and asks the
 * adapter to resync. Then the real Bybit simulator: two depths of one symbol side by side, as two instruments.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { decodeDatagram, type DecodedMessage } from "../../src/wire/decode-objects.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import type { BookSink, VenueAdapter } from "../../src/venues/venue.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A venue whose books the test writes itself; verify() says what `checksumOk` says. */
class ScriptedAdapter implements VenueAdapter {
  readonly venue = "okx" as const;
  sink: BookSink | null = null;
  checksumOk = true;
  readonly resyncs: { index: number; reason: StatusReason }[] = [];
  constructor(readonly instrument: Instrument) {}
  loadInstruments(): Promise<(Instrument | undefined)[]> {
    return Promise.resolve([this.instrument]);
  }
  start(sink: BookSink): void {
    this.sink = sink;
  }
  startReplay(sink: BookSink): void {
    this.sink = sink;
  }
  ingestFrame(): boolean {
    return false;
  }
  requestResync(index: number, reason: StatusReason): void {
    this.resyncs.push({ index, reason });
  }
  verify(_index: number, _book: BookView): StatusReason {
    return this.checksumOk ? StatusReason.NONE : StatusReason.CHECKSUM_MISMATCH;
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  stats(): Record<string, number> {
    return {};
  }
  connections() {
    return [];
  }
  metrics() {
    return [];
  }
}

function fullBook(u: BookUpdate, seq: number, bids: [number, number][], asks: [number, number][]): BookUpdate {
  u.reset();
  u.replace = true;
  u.venueSeq = seq;
  for (const [p, q] of bids) u.pushBid(p, q);
  for (const [p, q] of asks) u.pushAsk(p, q);
  return u;
}

describe("the app on the venue layer", { timeout: 20_000 }, () => {
  test("a venue's dead_connection_ms reaches its adapter; without it the adapter keeps its default", async () => {
    const instrument: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
    const seen: unknown[] = [];
    const spec: VenueSpec = {
      venue: "okx",
      wsUrl: "ws://127.0.0.1:1/",
      restUrl: "http://127.0.0.1:1",
      marketWsUrl: (base) => base,
      markets: { spot: { depths: [5], defaultDepth: 5, staleAfterMs: () => 60_000, staleFloor: () => ({ ms: 1000 }) } },
      keepalive: "client_ping",
      resync: "next_full_book",
      sequenceScope: "topic",
      create: (_config, _subs, opts) => (seen.push(opts.deadConnectionMs), new ScriptedAdapter(instrument)),
    };
    const { group, port } = uniqueDestination(72);
    const base = validateConfig({ publish: { destinations: [{ group, port, interface: "127.0.0.1", ttl: 1, channel: 3 }], snapshot_interval_ms: 0 } }, { requireVenue: false });
    const venue = { venue: "okx" as const, wsUrl: spec.wsUrl, restUrl: spec.restUrl, instrumentCachePath: "", markets: [{ market: "spot" as const, depth: 5, symbols: ["BTC-USDT"] }], overrides: new Map() };
    for (const v of [{ ...venue, deadConnectionMs: 3_000 }, venue]) {
      const feeder = new Feeder({ config: { ...base, venues: [v] }, log: silentLogger, venues: { okx: spec }, dropFilter: () => true });
      await feeder.start();
      await feeder.stop();
    }
    expect(seen).toEqual([3_000, undefined]);
  });

  test("replace is published as a delta of the difference; a failed verify() publishes checksum_mismatch, not the update", async () => {
    const instrument: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
    const adapter = new ScriptedAdapter(instrument);
    const spec: VenueSpec = {
      venue: "okx",
      wsUrl: "ws://127.0.0.1:1/",
      restUrl: "http://127.0.0.1:1",
      marketWsUrl: (base) => base,
      markets: { spot: { depths: [5], defaultDepth: 5, staleAfterMs: () => 60_000, staleFloor: () => ({ ms: 1000 }) } },
      keepalive: "client_ping",
      resync: "next_full_book",
      sequenceScope: "topic",
      create: () => adapter,
    };
    const { group, port } = uniqueDestination(71);
    const base = validateConfig({ publish: { destinations: [{ group, port, interface: "127.0.0.1", ttl: 1, channel: 3 }], snapshot_interval_ms: 0 } }, { requireVenue: false });
    const config: FeederConfig = {
      ...base,
      venues: [{ venue: "okx", wsUrl: spec.wsUrl, restUrl: spec.restUrl, instrumentCachePath: "", markets: [{ market: "spot", depth: 5, symbols: ["BTC-USDT"] }], overrides: new Map() }],
    };
    const messages: DecodedMessage[] = [];
    const feeder = new Feeder({
      config,
      log: silentLogger,
      venues: { okx: spec },
      dropFilter: (_c, _s, bytes) => {
        const r = decodeDatagram(bytes);
        if (r.ok) messages.push(...r.packet.messages.filter((m) => m.type !== "definition"));
        return true; // nothing needs to reach the network
      },
    });
    cleanups.push(() => feeder.stop());
    await feeder.start();
    const u = new BookUpdate();
    const book = () => messages.filter((m) => m.type !== "definition" && "instrumentId" in m && m.instrumentId === instrument.instrumentId);

    // The first full book makes the book LIVE and goes out as a snapshot.
    adapter.sink!.onBookUpdate(0, fullBook(u, 1, [[1000, 5], [999, 7]], [[1001, 3], [1003, 1]]));
    feeder.publisher.flush();
    await waitFor(() => book().some((m) => m.type === "snapshot"), "the snapshot");
    // The next one goes out as the delta of the difference: 999 gone, 998 new, 1001 changed, 1000 and 1003 unchanged.
    adapter.sink!.onBookUpdate(0, fullBook(u, 2, [[1000, 5], [998, 2]], [[1001, 4], [1003, 1]]));
    feeder.publisher.flush();
    await waitFor(() => book().some((m) => m.type === "delta"), "the delta");
    const delta = book().find((m) => m.type === "delta") as Extract<DecodedMessage, { type: "delta" }>;
    expect(delta.bids.sort((a, b) => a[0] - b[0])).toEqual([
      [998, 2],
      [999, 0],
    ]);
    expect(delta.asks).toEqual([[1001, 4]]);
    expect(delta.venueSeq).toBe(2);
    expect(feeder.books()[0]!.state).toBe(BookState.LIVE);

    // verify() fails: the update is not published; the status is RESYNCING / checksum_mismatch; the adapter resyncs.
    adapter.checksumOk = false;
    const before = book().length;
    adapter.sink!.onBookUpdate(0, fullBook(u, 3, [[1000, 6]], [[1001, 4]]));
    feeder.publisher.flush();
    await waitFor(() => book().length > before, "the status");
    expect(book().slice(before).map((m) => m.type)).toEqual(["status"]);
    const status = book()[before] as Extract<DecodedMessage, { type: "status" }>;
    expect([status.state, status.reason]).toEqual([BookState.RESYNCING, StatusReason.CHECKSUM_MISMATCH]);
    expect(adapter.resyncs).toEqual([{ index: 0, reason: StatusReason.CHECKSUM_MISMATCH }]);
    expect(feeder.books()[0]!.reason).toBe(StatusReason.CHECKSUM_MISMATCH);
  });

  test("two depths of one symbol side by side (BTCUSDT at 200 and BTCUSDT@1): two instruments with their own ids, each equal to its depth's book", async () => {
    const sim: BybitSim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 5 });
    cleanups.push(() => sim.stop());
    const { group, port } = uniqueDestination(72);
    const config = validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ group, port, interface: "127.0.0.1", ttl: 1, channel: 4 }], snapshot_interval_ms: 500, heartbeat_interval_ms: 200 },
      venues: { bybit: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: `${tempDir("feeder-depths-")}/i.json`, linear: { depth: 200, symbols: ["BTCUSDT", "BTCUSDT@1"] } } },
    });
    const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    await subscriber.start();
    cleanups.push(() => subscriber.stop());
    const feeder = new Feeder({ config, log: silentLogger });
    cleanups.push(() => feeder.stop());
    await feeder.start();
    const ids = { deep: instrumentIdOf("bybit", "linear", "BTCUSDT"), top: instrumentIdOf("bybit", "linear", "BTCUSDT@1") };
    expect(ids.deep).not.toBe(ids.top);
    const equal = () =>
      (
        [
          [ids.deep, 200],
          [ids.top, 1],
        ] as const
      ).every(([id, depth]) => {
        const b = subscriber.books.get(id);
        if (!b || !b.valid) return false;
        const s = sim.book("linear", "BTCUSDT", depth);
        return b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
      });
    for (let round = 0; round < 5; round++) {
      sim.step(3);
      await waitFor(equal, `both depths equal the simulator's (round ${round})`);
    }
    expect(subscriber.books.get(ids.deep)!.instrument.symbol).toBe("BTCUSDT");
    expect(subscriber.books.get(ids.top)!.instrument.symbol).toBe("BTCUSDT@1");
    expect(subscriber.books.get(ids.top)!.bidCount).toBe(1);
  });
});
