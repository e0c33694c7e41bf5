/**
 * The Bybit adapter against the real simulator over real WebSocket connections on 127.0.0.1.
 * Assertions are about behaviour (books equal the simulator's, states, counters), never about timing.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument, type MarketName } from "../../../src/core/types.ts";
import { startBybitSimulator, type BybitSim, type BybitSimOptions } from "../../../src/sim/bybit-sim.ts";
import {
  createBybitAdapter,
  defaultStaleAfterMs,
  staleAfterFromConfig,
  type BybitAdapter,
  type BybitAdapterOptions,
} from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, tempCachePath, venueConfig, waitFor } from "./helpers.ts";

const FIXTURE = resolve(import.meta.dirname, "../../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");

type Markets = { market: MarketName; depth: number; symbols: string[]; staleAfterMs?: number }[];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

async function setup(
  markets: Markets,
  o: { sim?: Partial<BybitSimOptions>; adapter?: Partial<BybitAdapterOptions>; cachePath?: string; simMarkets?: BybitSimOptions["markets"] } = {},
): Promise<{ sim: BybitSim; adapter: BybitAdapter; sink: RecordingSink }> {
  const simMarkets = o.simMarkets ?? markets.map((m) => ({ market: m.market, symbols: m.symbols }));
  const sim = await startBybitSimulator({ markets: simMarkets, seed: 42, ...o.sim });
  cleanups.push(() => sim.stop());
  const adapter = createBybitAdapter(venueConfig(sim, markets, { cachePath: o.cachePath }), subsOf(markets), {
    log: silentLogger,
    // Pings flow during tests, but the pong deadline is generous so a loaded CI machine never trips it by accident.
    pingIntervalMs: 200,
    pongTimeoutMs: 5_000,
    // Repeated resyncs of one topic (several injected faults in a row) wait out a short backoff.
    resyncBackoffBaseMs: 10,
    resyncBackoffMaxMs: 40,
    ...o.adapter,
  });
  cleanups.push(() => adapter.stop());
  const instruments = await adapter.loadInstruments();
  const sink = new RecordingSink(allResolved(instruments));
  adapter.start(sink);
  await waitFor(() => adapter.stats().topicsLive + adapter.stats().subscribeRejected === instruments.length, "all topics live or rejected");
  return { sim, adapter, sink };
}

/** Steps the simulator and waits until every listed book equals the simulator's. */
async function stepAndMatch(sim: BybitSim, sink: RecordingSink, indexes: number[], n = 10): Promise<void> {
  sim.step(n);
  await waitFor(() => indexes.every((i) => sink.matches(sim, i)), `books ${indexes.join(",")} equal the simulator's`);
}

const ALL_MARKETS: Markets = [
  { market: "spot", depth: 200, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "XRPUSDT"] },
  { market: "inverse", depth: 1, symbols: ["BTCUSD"] },
  { market: "option", depth: 25, symbols: ["BTC-27MAR26-70000-P-USDT", "ETH-27MAR26-3000-C-USDT"] },
];

describe("Bybit adapter ↔ simulator", { timeout: 20_000 }, () => {
  test("several markets and symbols at once: books equal the simulator's after many steps", async () => {
    const { sim, adapter, sink } = await setup(ALL_MARKETS);
    const idx = sink.instruments.map((_, i) => i);
    // Exponents from the REST instruments endpoint: spot uses basePrecision, the others qtyStep.
    const bySymbol = Object.fromEntries(sink.instruments.map((i) => [`${i.market}:${i.symbol}`, [i.priceExp, i.qtyExp]]));
    expect(bySymbol["spot:BTCUSDT"]).toEqual([1, 6]);
    expect(bySymbol["linear:BTCUSDT"]).toEqual([1, 3]);
    expect(bySymbol["linear:XRPUSDT"]).toEqual([4, 0]);
    expect(bySymbol["inverse:BTCUSD"]).toEqual([1, 0]);
    expect(bySymbol["option:ETH-27MAR26-3000-C-USDT"]).toEqual([0, 2]);
    for (let round = 0; round < 5; round++) await stepAndMatch(sim, sink, idx, 20);
    const s = adapter.stats();
    expect(s.gaps).toBe(0);
    expect(s.parseErrors).toBe(0);
    expect(s.resyncs).toBe(0);
    expect(s.connections).toBe(4);
    expect(sink.invalid).toEqual([]);
    expect(sink.deltaWithoutBook).toBe(0);
  });

  test("deep books: windows of 1000 levels stay exact as levels enter and leave", async () => {
    const { sim, sink } = await setup([{ market: "linear", depth: 1000, symbols: ["BTCUSDT"] }], { sim: { burstiness: 0.5 } });
    for (let round = 0; round < 5; round++) await stepAndMatch(sim, sink, [0], 20);
    expect(sink.bids[0]!.size).toBe(1000);
    expect(sink.asks[0]!.size).toBe(1000);
  });

  test("a gap resyncs only that topic (unsubscribe + subscribe) and the book recovers", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }]);
    await stepAndMatch(sim, sink, [0, 1], 5);
    const subsBefore = sim.stats.subscribes;
    sim.inject("gap", { market: "linear", symbol: "BTCUSDT" });
    sim.step(1);
    await waitFor(() => adapter.stats().gaps === 1, "gap detected");
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    await waitFor(() => adapter.topicInfo(0).state === "live", "BTCUSDT live again");
    await stepAndMatch(sim, sink, [0, 1], 5);
    expect(sim.stats.unsubscribes).toBe(1);
    expect(sim.stats.subscribes).toBe(subsBefore + 1);
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]); // ETHUSDT never touched
    expect(adapter.stats().resyncs).toBe(1);
    expect(sink.deltaWithoutBook).toBe(0);
  });

  test("u = 1 venue reset replaces the book; the next deltas continue from 2", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }]);
    await stepAndMatch(sim, sink, [0], 5);
    sim.inject("reset", { market: "linear", symbol: "BTCUSDT" });
    await waitFor(() => adapter.stats().venueResets === 1, "reset seen");
    await stepAndMatch(sim, sink, [0], 5);
    expect(sink.lastU[0]).toBe(6);
    expect(adapter.stats().gaps).toBe(0);
    expect(adapter.stats().instrumentChanges).toBe(0);
  });

  test("a duplicate delta is ignored and counted; the book stays live", async () => {
    const { sim, adapter, sink } = await setup([{ market: "spot", depth: 50, symbols: ["BTCUSDT"] }]);
    await stepAndMatch(sim, sink, [0], 5);
    sim.inject("duplicate", { market: "spot", symbol: "BTCUSDT" });
    await waitFor(() => adapter.stats().duplicates === 1, "duplicate seen");
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.invalid).toEqual([]);
    await stepAndMatch(sim, sink, [0], 5);
  });

  test("a malformed frame is a counted parse error, never a wrong book", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 200, symbols: ["BTCUSDT", "XRPUSDT"] }]);
    await stepAndMatch(sim, sink, [0, 1], 5);
    for (let i = 0; i < 4; i++) {
      sim.inject("malformed", { market: "linear", symbol: "XRPUSDT" });
      sim.step(1);
      await waitFor(() => adapter.stats().parseErrors === i + 1, "parse error counted");
      await waitFor(() => adapter.topicInfo(1).state === "live", "XRPUSDT live again");
    }
    await stepAndMatch(sim, sink, [0, 1], 5);
    expect(sink.invalid.some((e) => e.index === 1 && (e.reason === StatusReason.PARSE_ERROR || e.reason === StatusReason.SEQUENCE_GAP))).toBe(true);
    expect(sink.invalid.filter((e) => e.index === 0)).toEqual([]);
  });

  test("disconnect: books invalid (DISCONNECTED), reconnect with backoff, resubscribe, books equal again", async () => {
    const { sim, adapter, sink } = await setup([{ market: "spot", depth: 50, symbols: Array.from({ length: 12 }, (_, i) => `SYM${i}USDT`) }], {
      adapter: { reconnectBaseMs: 5, reconnectMaxMs: 20 },
    });
    const idx = sink.instruments.map((_, i) => i);
    await stepAndMatch(sim, sink, idx, 3);
    sim.inject("disconnect");
    await waitFor(() => adapter.stats().reconnects === 1, "reconnect counted");
    await waitFor(() => adapter.stats().topicsLive === 12, "all live again");
    await stepAndMatch(sim, sink, idx, 3);
    expect(sink.invalid.filter((e) => e.reason === StatusReason.DISCONNECTED).length).toBe(12);
    // Spot resubscribes in batches of at most 10 (§2.3): two requests per (re)connect, never "args size >10".
    expect(sim.stats.subscribes).toBe(4);
    expect(sim.stats.errorsSent).toBe(0);
    expect(adapter.stats().connects).toBe(2); // the first connect and the reconnect
    expect(adapter.stats()["conn0.spot.connects"]).toBe(2);
  });

  test("spot 'args size >10' (forced by an oversized batch) is recovered by splitting the batch", async () => {
    const symbols = Array.from({ length: 15 }, (_, i) => `SYM${i}USDT`);
    const { sim, adapter, sink } = await setup([{ market: "spot", depth: 50, symbols }], { adapter: { maxArgsPerRequest: 20 } });
    expect(adapter.stats().argsSizeErrors).toBe(1);
    expect(adapter.stats().topicsLive).toBe(15);
    expect(adapter.stats().subscribeRejected).toBe(0);
    await stepAndMatch(sim, sink, symbols.map((_, i) => i), 2);
  });

  test("a stalled server (no pong) is detected and the connection replaced", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], {
      adapter: { pingIntervalMs: 50, pongTimeoutMs: 250, reconnectBaseMs: 5, reconnectMaxMs: 20 },
    });
    await waitFor(() => adapter.stats().pongs >= 1 && sim.stats.pings >= adapter.stats().pongs, "pings answered");
    sim.inject("stall", undefined, { stallMs: 1_000 });
    await waitFor(() => adapter.stats().pongTimeouts >= 1, "pong timeout", 10_000);
    await waitFor(() => adapter.stats().topicsLive === 1 && adapter.stats().connectionsOpen === 1, "live again after the stall", 15_000);
    await stepAndMatch(sim, sink, [0], 5);
  });

  test("a silent topic is marked stale and resynced alone", async () => {
    // Only depth 50 has a short stale limit, so the busy ETHUSDT depth-200 topic can never trip it on a slow machine.
    const { sim, adapter, sink } = await setup(
      [
        { market: "linear", depth: 50, symbols: ["BTCUSDT"] },
        { market: "linear", depth: 200, symbols: ["ETHUSDT"] },
      ],
      { adapter: { staleAfterMs: (depth) => (depth === 50 ? 150 : 60_000), housekeepingMs: 10 }, sim: { messagesPerSecond: 0 } },
    );
    // Keep ETHUSDT busy so only BTCUSDT is silent.
    sim.inject("stall", { market: "linear", symbol: "BTCUSDT" }, { stallMs: 100_000 });
    const keepBusy = setInterval(() => sim.step(1), 20);
    cleanups.push(async () => clearInterval(keepBusy));
    await waitFor(() => adapter.stats().staleResyncs >= 1, "stale detected");
    expect(sink.invalid.find((e) => e.index === 0)).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
    await waitFor(() => adapter.topicInfo(0).state === "live", "fresh snapshot after the stale resync");
  });

  test("the config's per-market staleAfterMs (stale_after_ms) sets the stale threshold; other markets keep the default", async () => {
    const { sim, adapter, sink } = await setup(
      [
        { market: "linear", depth: 50, symbols: ["BTCUSDT"], staleAfterMs: 150 },
        { market: "spot", depth: 50, symbols: ["BTCUSDT"] }, // default: 60 s
      ],
      { adapter: { housekeepingMs: 10 }, sim: { messagesPerSecond: 0 } },
    );
    // Both topics are silent; only the configured one is stale, every time.
    await waitFor(() => adapter.stats().staleResyncs >= 2 && adapter.topicInfo(0).state === "live", "linear stale twice, live again");
    expect(sink.invalid.find((e) => e.index === 0)).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
    expect(adapter.topicInfo(1).state).toBe("live");
    await stepAndMatch(sim, sink, [0, 1], 3);
  });

  test("a rejected topic (depth 500 no longer exists) is reported and does not take its batch down", async () => {
    const markets: Markets = [
      { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
      { market: "linear", depth: 500, symbols: ["XRPUSDT"] },
    ];
    const { sim, adapter, sink } = await setup(markets, { simMarkets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT", "XRPUSDT"] }] });
    expect(adapter.stats().subscribeRejected).toBe(1);
    expect(adapter.topicInfo(2).rejected).toBe(true);
    expect(sink.invalid).toEqual([{ index: 2, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    await stepAndMatch(sim, sink, [0, 1], 5);
    expect(adapter.stats().connectionsOpen).toBe(1);
    // A resync request for a rejected topic is a no-op.
    adapter.requestResync(2, StatusReason.CROSSED_BOOK);
    expect(adapter.topicInfo(2).rejected).toBe(true);
  });

  test("option acks (COMMAND_RESP with failTopics) reject only the bad topic", async () => {
    const markets: Markets = [{ market: "option", depth: 25, symbols: ["BTC-27MAR26-70000-P-USDT"] }, { market: "option", depth: 50, symbols: ["BTC-27MAR26-80000-C-USDT"] }];
    const { sim, adapter, sink } = await setup(markets, { simMarkets: [{ market: "option", symbols: ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"] }] });
    expect(adapter.topicInfo(1).rejected).toBe(true);
    await stepAndMatch(sim, sink, [0], 5);
  });

  describe("option failTopics (no reason given): the listing decides", () => {
    const OPTIONS: Markets = [{ market: "option", depth: 25, symbols: ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"] }];
    const TOPIC = "orderbook.25.BTC-27MAR26-70000-P-USDT";
    // Short listing cadence: the refused book's waits are 1 and 12 times it at most (instrument-watch.ts).
    const FAST = { adapter: { listingRetryMs: 200, lateCheckMs: 20 } };
    const halted = (sink: RecordingSink) => sink.invalid.filter((e) => e.index === 0 && e.state === BookState.HALTED);

    test("refused once while listed as trading: resyncing (never halted), the listing asked at once, LIVE again", async () => {
      // The default listing cadence: the first ask does not wait the rejected books' 1 min.
      const { sim, adapter, sink } = await setup(OPTIONS);
      await stepAndMatch(sim, sink, [0, 1], 3);
      const rechecks = adapter.stats().instrumentRechecks;
      sim.refuseSubscribes("option", TOPIC, 1);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK); // unsubscribe, subscribe: that subscribe in failTopics
      await waitFor(() => adapter.stats().subscribeRejected === 1, "the subscribe refused");
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      await waitFor(() => adapter.topicInfo(0).state === "live", "live again once the listing says it trades");
      expect(adapter.stats().instrumentRechecks).toBeGreaterThan(rechecks);
      expect(halted(sink)).toEqual([]);
      expect(sink.invalid.filter((e) => e.index === 0)).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
      await stepAndMatch(sim, sink, [0, 1], 3);
    });

    test("refused while the listing no longer has it: halted as closed, not subscribed again", async () => {
      const { sim, adapter, sink } = await setup(OPTIONS, FAST);
      sim.setListed("option", "BTC-27MAR26-70000-P-USDT", false);
      sim.refuseSubscribes("option", TOPIC, 1);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      await waitFor(() => adapter.topicInfo(0).state === "halted", "halted by the listing");
      expect(halted(sink)).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
      const subscribes = sim.stats.subscribes;
      const pings = sim.stats.pings;
      await waitFor(() => sim.stats.pings >= pings + 3, "three more pings");
      expect(sim.stats.subscribes).toBe(subscribes);
      expect(adapter.topicInfo(1).state).toBe("live");
    });

    test("refused again each time it is subscribed: halted after 3 refusals in a row, back once served", async () => {
      const { sim, adapter, sink } = await setup(OPTIONS, FAST);
      sim.refuseSubscribes("option", TOPIC, 1_000);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      await waitFor(() => adapter.stats().subscribeRejected === 2, "refused twice");
      expect(halted(sink)).toEqual([]);
      await waitFor(() => adapter.stats().subscribeRejected === 3, "refused a third time");
      expect(adapter.topicInfo(0).state).toBe("halted");
      expect(halted(sink)).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
      sim.refuseSubscribes("option", TOPIC, 0);
      await waitFor(() => adapter.topicInfo(0).state === "live", "live once the venue serves it");
      await stepAndMatch(sim, sink, [0, 1], 3);
    });

    test("a closure ends the streak: refused twice after it is listed again, resyncing, never halted as refused", async () => {
      // The refusal before the closure was the delisting's. Until 2026-12-07 it stayed counted (retireAll kept the
      // streak): the second refusal after the relisting was the third, and halted the book (subscribe_rejected).
      const { sim, adapter, sink } = await setup(OPTIONS, FAST);
      sim.setListed("option", "BTC-27MAR26-70000-P-USDT", false);
      sim.refuseSubscribes("option", TOPIC, 1);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      await waitFor(() => adapter.topicInfo(0).state === "halted", "closed by the listing");
      sim.refuseSubscribes("option", TOPIC, 2);
      sim.setListed("option", "BTC-27MAR26-70000-P-USDT", true);
      await waitFor(() => adapter.stats().subscribeRejected === 3, "refused twice after the relisting");
      await waitFor(() => adapter.topicInfo(0).state === "live", "live once the venue serves it");
      expect(halted(sink)).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
      await stepAndMatch(sim, sink, [0, 1], 3);
    });
  });

  test("option: a gap resyncs through COMMAND_RESP unsubscribe/subscribe acks", async () => {
    const markets: Markets = [{ market: "option", depth: 100, symbols: ["BTC-27MAR26-70000-P-USDT", "ETH-27MAR26-3000-C-USDT"] }];
    const { sim, adapter, sink } = await setup(markets);
    await stepAndMatch(sim, sink, [0, 1], 3);
    sim.inject("gap", { market: "option", symbol: "ETH-27MAR26-3000-C-USDT" });
    sim.step(1);
    await waitFor(() => adapter.stats().gaps === 1, "gap");
    await waitFor(() => adapter.topicInfo(1).state === "live", "live again");
    expect(sim.stats.unsubscribes).toBe(1);
    await stepAndMatch(sim, sink, [0, 1], 3);
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
  });

  test("requestResync (e.g. crossed book) resyncs just that topic", async () => {
    const { sim, adapter, sink } = await setup([{ market: "inverse", depth: 50, symbols: ["BTCUSD", "ETHUSD"] }]);
    await stepAndMatch(sim, sink, [0, 1], 3);
    adapter.requestResync(1, StatusReason.CROSSED_BOOK);
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
    await waitFor(() => adapter.topicInfo(1).state === "live", "live again");
    expect(sink.snapshots[1]).toBe(2);
    await stepAndMatch(sim, sink, [0, 1], 3);
  });

  test("level 1: the 3 s re-push with the same u reaches the sink as a replace that changes nothing", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 1, symbols: ["BTCUSDT"] }], { sim: { l1RepushMs: 20 } });
    await stepAndMatch(sim, sink, [0], 3);
    const [bids, asks] = [new Map(sink.bids[0]), new Map(sink.asks[0])];
    // Handed on as a replace (the venue's book at the book's own u: the app publishes only a difference), no longer
    // dropped, so that a re-sent snapshot that differs corrects the book (reset-socket.test.ts).
    const kinds: string[] = [];
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (index, u) => {
      kinds.push(u.replace ? "replace" : u.isSnapshot ? "snapshot" : "delta");
      onBookUpdate(index, u);
    };
    // Counted from here: re-pushes seen before the hook above are not in `kinds`.
    const repeatedBefore = adapter.stats().repeatedSnapshots ?? 0;
    await waitFor(() => (adapter.stats().repeatedSnapshots ?? 0) >= repeatedBefore + 3, "re-pushes seen");
    expect(kinds.length).toBeGreaterThanOrEqual(3);
    expect(new Set(kinds)).toEqual(new Set(["replace"]));
    expect([sink.bids[0], sink.asks[0]]).toEqual([bids, asks]);
    await stepAndMatch(sim, sink, [0], 3);
  });

  test("a tick-size change (u = 1) reloads the instrument and rebuilds the book at the new exponent", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["XRPUSDT", "BTCUSDT"] }]);
    await stepAndMatch(sim, sink, [0, 1], 3);
    expect(sink.instruments[0]!.priceExp).toBe(4);
    sim.changeInstrument("linear", "XRPUSDT", { tickSize: "0.00001" });
    await waitFor(() => sink.changed.length === 1, "instrument change reported");
    expect(sink.changed[0]!.index).toBe(0);
    expect(sink.changed[0]!.instrument.priceExp).toBe(5);
    expect(sink.changed[0]!.instrument.tickSize).toBe("0.00001");
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.INSTRUMENT_CHANGED });
    await waitFor(() => adapter.topicInfo(0).state === "live", "live at the new tick");
    await stepAndMatch(sim, sink, [0, 1], 10);
    expect(adapter.stats().instrumentChanges).toBe(1);
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
  });

  test("topics spread over several connections; a disconnect of one leaves the others live", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "XRPUSDT", "SOLUSDT", "ADAUSDT"] }];
    const { sim, adapter, sink } = await setup(markets, { adapter: { maxTopicsPerConnection: 2, reconnectBaseMs: 5, reconnectMaxMs: 20 } });
    expect(adapter.stats().connections).toBe(3);
    expect(sim.stats.connections).toBe(3);
    await stepAndMatch(sim, sink, [0, 1, 2, 3, 4], 3);
    sim.inject("disconnect", { market: "linear", symbol: "XRPUSDT" }); // on the second connection
    await waitFor(() => adapter.stats().reconnects === 1, "one reconnect");
    await waitFor(() => adapter.stats().topicsLive === 5, "all live");
    const hit = new Set(sink.invalid.map((e) => e.index));
    expect([...hit].sort()).toEqual([2, 3]);
    await stepAndMatch(sim, sink, [0, 1, 2, 3, 4], 3);
  });

  test("900 topics: the 21,000-character args limit splits them over two connections, and the simulator accepts all", async () => {
    const symbols = Array.from({ length: 900 }, (_, i) => `S${String(i).padStart(4, "0")}USDT`); // 875 fit in one
    const { sim, adapter } = await setup([{ market: "linear", depth: 1, symbols }]);
    // 900 snapshots to build and read: CPU-bound, so the bounds catch a hang, not a slow shared CPU.
    await waitFor(() => adapter.stats().topicsLive === 900, "all live", 50_000);
    expect(adapter.stats().connections).toBe(2);
    expect(sim.stats.connections).toBe(2);
    expect(sim.stats.errorsSent).toBe(0);
  }, 60_000);

  test("replays the genuine XRPUSDT recording: the adapter's book equals the recorded book after every line", async () => {
    const markets: Markets = [{ market: "linear", depth: 500, symbols: ["XRPUSDT"] }];
    const { sim, adapter, sink } = await setup(markets, { sim: { replayFile: FIXTURE } });
    expect(sink.instruments[0]!.tickSize).toBe("0.0001");
    expect(sink.lastU[0]).toBe(20254869);
    for (let i = 0; i < 49; i++) {
      sim.step(1);
      await waitFor(() => sink.matches(sim, 0), `line ${i + 2}`);
      expect(sink.bids[0]!.size).toBe(500);
      expect(sink.asks[0]!.size).toBe(500);
    }
    expect(sink.lastU[0]).toBe(20254918);
    expect(adapter.stats().deltas).toBe(49);
    expect(adapter.stats().gaps).toBe(0);
    expect(adapter.stats().fallbacks).toBe(0);
  });

  test("replay with a gap: the adapter resyncs and gets the replay book back as a snapshot", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 500, symbols: ["XRPUSDT"] }], { sim: { replayFile: FIXTURE } });
    sim.step(5);
    await waitFor(() => sink.matches(sim, 0), "first lines");
    sim.inject("gap");
    sim.step(1);
    await waitFor(() => adapter.stats().gaps === 1, "gap");
    await waitFor(() => adapter.topicInfo(0).state === "live" && sink.matches(sim, 0), "resynced from a synthesised snapshot");
    sim.step(3);
    await waitFor(() => sink.matches(sim, 0), "continues");
  });

  test("the timer-driven generator (messagesPerSecond) keeps books exact", async () => {
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }], { sim: { messagesPerSecond: 2000 } });
    await waitFor(() => adapter.stats().deltas > 200, "deltas flowing");
    // Stop generation by stalling both symbols, then compare.
    sim.inject("stall", { market: "linear", symbol: "BTCUSDT" }, { stallMs: 100_000 });
    sim.inject("stall", { market: "linear", symbol: "ETHUSDT" }, { stallMs: 100_000 });
    await waitFor(() => sink.matches(sim, 0) && sink.matches(sim, 1), "books equal");
    expect(adapter.stats().gaps).toBe(0);
  });
});

describe("resync backoff", { timeout: 20_000 }, () => {
  test("a topic that keeps failing (config tick coarser than the venue's) resyncs with a growing backoff, and is never valid", async () => {
    let clock = 1_000_000; // frozen unless the test moves it: nothing waits out a backoff on its own
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 42 });
    cleanups.push(() => sim.stop());
    // The simulator prices BTCUSDT at tick 0.10; an override of 1 makes every snapshot a bad_price parse error.
    const overrides = new Map([["linear:BTCUSDT", { tickSize: "1", lotSize: "0.001" }]]);
    const adapter = createBybitAdapter(venueConfig(sim, markets, { overrides }), subsOf(markets), {
      log: silentLogger,
      now: () => clock,
      random: () => 0, // equal jitter at its low end: the wait is exactly half the exponential step
      resyncBackoffBaseMs: 100,
      resyncBackoffMaxMs: 400,
      housekeepingMs: 5,
    });
    cleanups.push(() => adapter.stop());
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.start(sink);
    // subscribe → bad snapshot → resync 1 at once (unsubscribe, subscribe) → bad snapshot → resync 2 waits.
    await waitFor(
      () => adapter.topicInfo(1).state === "live" && adapter.stats().resyncsDelayed === 1 && sim.stats.unsubscribes === 2 && !adapter.topicInfo(0).subscribed,
      "second resync waiting, topic unsubscribed",
    );
    expect(sim.stats.subscribes).toBe(2);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing", resyncDelayed: true, resyncDueInMs: 50 });
    // Traffic keeps flowing on the connection (the healthy topic's books make round trips), yet the failing topic
    // is not subscribed again while its backoff lasts.
    await stepAndMatch(sim, sink, [1], 20);
    await stepAndMatch(sim, sink, [1], 20);
    expect(sim.stats.subscribes).toBe(2);
    expect(adapter.stats().resyncs).toBe(2);
    // Each wait is double the previous one, up to the cap (400 → 200 at jitter 0).
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const due = adapter.topicInfo(0).resyncDueInMs;
      waits.push(due);
      const delayed = adapter.stats().resyncsDelayed;
      clock += due;
      await waitFor(() => adapter.stats().resyncsDelayed === delayed + 1 && !adapter.topicInfo(0).subscribed, `resync ${i + 3} failed and waits`);
      expect(sim.stats.subscribes).toBe(3 + i);
    }
    waits.push(adapter.topicInfo(0).resyncDueInMs);
    expect(waits).toEqual([50, 100, 200, 200, 200]);
    expect(sink.updates[0]).toBe(0); // never valid
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect(adapter.stats().parseErrors).toBeGreaterThanOrEqual(6);
    await stepAndMatch(sim, sink, [1], 5);
  });

  test("requestResync (crossed book) again right after the snapshot waits out a backoff; a book live long enough starts over", async () => {
    let clock = 1_000_000;
    const { sim, adapter, sink } = await setup([{ market: "inverse", depth: 50, symbols: ["BTCUSD", "ETHUSD"] }], {
      adapter: { now: () => clock, random: () => 0, resyncBackoffBaseMs: 100, resyncBackoffMaxMs: 400, resyncBackoffResetMs: 5_000, housekeepingMs: 5 },
    });
    await stepAndMatch(sim, sink, [0, 1], 3);
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // first: at once
    expect(adapter.topicInfo(0).resyncDelayed).toBe(false);
    await waitFor(() => adapter.topicInfo(0).state === "live" && sink.snapshots[0] === 2, "live again");
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // still crossed: wait
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // asked again while waiting: the same single resync
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing", resyncDelayed: true, resyncDueInMs: 50 });
    expect(adapter.stats().resyncs).toBe(2);
    await waitFor(() => sim.stats.unsubscribes === 2 && !adapter.topicInfo(0).subscribed, "unsubscribed while waiting");
    await stepAndMatch(sim, sink, [1], 10);
    expect(sim.stats.subscribes).toBe(2); // the initial one and the first resync's
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.snapshots[0]).toBe(2);
    clock += 50;
    await waitFor(() => adapter.topicInfo(0).state === "live", "live after the wait");
    await stepAndMatch(sim, sink, [0, 1], 3);
    // Live for resyncBackoffResetMs: the next resync goes out at once again.
    clock += 5_000;
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    expect(adapter.topicInfo(0).resyncDelayed).toBe(false);
    await waitFor(() => adapter.topicInfo(0).state === "live" && sink.snapshots[0] === 4, "live again at once");
    expect(adapter.stats().resyncsDelayed).toBe(1);
    await stepAndMatch(sim, sink, [0, 1], 3);
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
  });
});

describe("replay (ingestFrame)", () => {
  test("a resync waits for the capture's next snapshot with no backoff; parse errors of the live book are never ignored", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }];
    const overrides = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);
    const noServer = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
    const adapter = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), { log: silentLogger, recheckInstruments: false });
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay(sink);
    const frame = (type: string, u: number, qty = "1.000") =>
      `{"topic":"orderbook.50.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","${qty}"]],"a":[["100.1","1.000"]],"u":${u},"seq":1},"cts":1}`;
    const feed = (f: string) => expect(adapter.ingestFrame("linear", "conn0.linear", f, 1)).toBe(true);
    feed(frame("snapshot", 10));
    feed(frame("delta", 11));
    feed(frame("delta", 13)); // gap: resync 1
    feed(frame("snapshot", 20));
    feed(frame("delta", 21));
    feed(frame("delta", 23)); // gap again at once: resync 2, which live would delay; replay has nothing to delay
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing", resyncDelayed: false });
    feed(frame("snapshot", 30));
    feed(frame("delta", 31));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", resyncDelayed: false, lastU: 31 });
    feed(frame("delta", 32, "1.0001")); // a bad quantity: the update is lost, the book must not stay valid
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.SEQUENCE_GAP, StatusReason.SEQUENCE_GAP, StatusReason.PARSE_ERROR]);
    feed(frame("delta", 33)); // ignored until the next snapshot
    feed(frame("snapshot", 40));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 40 });
    expect(adapter.stats()).toMatchObject({ resyncs: 3, resyncsDelayed: 0, ignoredBeforeSnapshot: 1 });
    expect(sink.deltaWithoutBook).toBe(0);
  });

  test("with the capture's socket events, a replacement's older snapshot during the overlap is ignored as live ignored it", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }];
    const overrides = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);
    const noServer = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
    const adapter = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), { log: silentLogger, recheckInstruments: false });
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay(sink);
    const frame = (type: string, u: number, qty = "1.000") =>
      `{"topic":"orderbook.50.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","${qty}"]],"a":[["100.1","1.000"]],"u":${u},"seq":1},"cts":1}`;
    const feed = (f: string) => expect(adapter.ingestFrame("linear", "conn0.linear", f, 1)).toBe(true);
    const event = (url: string) => expect(adapter.ingestConnectionEvent!("linear", "conn0.linear", url, 1)).toBe(true);
    event("ws:sockets");
    feed(frame("snapshot", 10));
    feed(frame("delta", 11));
    event("ws:swap");
    feed(frame("snapshot", 10, "2.000")); // the replacement's, trailing the old socket's deltas
    event("ws:old");
    feed(frame("delta", 12, "3.000")); // the old socket's, chaining on the book
    feed(frame("delta", 11)); // the replacement catching up: repeats
    feed(frame("delta", 12, "3.000"));
    event("ws:retired");
    feed(frame("delta", 13, "4.000"));
    // Before: the replacement's snapshot was a venue reset on the book's one socket (the book went back to u 10),
    // and the old socket's delta 12 then a gap.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 13 });
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, venueResets: 0, duplicates: 2 });
    expect(sink.invalid).toEqual([]);
    // Once the old socket is gone, an older u on the replacement (now the socket of record) is the venue's reset.
    feed(frame("snapshot", 5));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 5 });
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, venueResets: 1 });
  });
});

describe("stale thresholds", () => {
  test("defaults from the push cadences; a configured market overrides only itself; 0 keeps the default", () => {
    expect(defaultStaleAfterMs(1, "linear")).toBe(10_000); // level 1 re-pushes every 3 s: 10 s of silence is a fault
    expect(defaultStaleAfterMs(50, "linear")).toBe(60_000); // deltas only on change: quiet can be legitimate
    expect(defaultStaleAfterMs(25, "option")).toBe(300_000);
    const sim = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
    const f = staleAfterFromConfig(
      venueConfig(sim, [
        { market: "linear", depth: 50, symbols: ["BTCUSDT"], staleAfterMs: 30_000 },
        { market: "spot", depth: 1, symbols: ["BTCUSDT"], staleAfterMs: 0 },
      ]),
    );
    expect(f(50, "linear")).toBe(30_000);
    expect(f(1, "spot")).toBe(10_000);
    expect(f(25, "option")).toBe(300_000);
  });
});

describe("reconnect policy", () => {
  test("exponential backoff with equal jitter, capped; a connection budget per window delays connects", () => {
    let nowMs = 1_000_000;
    let rnd = 0;
    const sim = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }];
    const a = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), {
      log: silentLogger,
      now: () => nowMs,
      random: () => rnd,
      reconnectBaseMs: 100,
      reconnectMaxMs: 1000,
      maxConnectsPerWindow: 2,
      connectWindowMs: 60_000,
    }) as any;
    const conn = a.conns[0];
    // attempt 0, 1, 2, … → 100, 200, 400, 800, 1000 (cap) ms; jitter adds up to the other half.
    expect([0, 1, 2, 3, 4, 5].map(() => a.lifecycle.backoffMs(conn))).toEqual([50, 100, 200, 400, 500, 500]);
    rnd = 0.999999;
    conn.attempt = 0;
    expect(Math.round(a.lifecycle.backoffMs(conn))).toBe(100);
    expect(a.lifecycle.connectBudgetWaitMs(conn)).toBe(0);
    for (const atMs of [nowMs - 10_000, nowMs - 5_000]) a.lifecycle.connectGate(conn).budget.take(atMs);
    expect(a.lifecycle.connectBudgetWaitMs(conn)).toBe(50_000); // until the oldest connect leaves the window
    nowMs += 50_000;
    expect(a.lifecycle.connectBudgetWaitMs(conn)).toBe(0);
  });
});

describe("instruments", { timeout: 20_000 }, () => {
  test("a price the tick cannot hold (bad_price) re-checks instruments-info; the new tick rebuilds the book", async () => {
    // The first listing claims a tick of 1 (exponent 0); the simulator prices BTCUSDT at 0.10. Nothing else re-checks
    // (no periodic reload, no venue reset): without the misfit's re-check the book resyncs on bad_price for good.
    let answers = 0;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (!String(input).includes("instruments-info") || answers++ > 0) return res;
      return new Response((await res.text()).replace(/"tickSize":"[^"]*"/g, '"tickSize":"1"'), { status: res.status });
    }) as typeof fetch;
    const { sim, adapter, sink } = await setup([{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], { adapter: { fetch: fetchFn } });
    // Loaded at exponent 0 (answer 1), re-checked once (answer 2): exponent 1.
    expect(answers).toBe(2);
    expect(sink.changed.map((c) => [c.index, c.instrument.priceExp])).toEqual([[0, 1]]);
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR });
    expect(adapter.stats().instrumentChanges).toBe(1);
    await stepAndMatch(sim, sink, [0], 5);
  });

  test("linear paginates with the cursor; option asks per base coin", async () => {
    const linear = ["BTCUSDT", "ETHUSDT", "XRPUSDT", "SOLUSDT", "ADAUSDT"];
    const options = ["BTC-27MAR26-70000-P-USDT", "ETH-27MAR26-3000-C-USDT", "SOL-27MAR26-200-C-USDT"];
    const markets: Markets = [
      { market: "linear", depth: 50, symbols: linear },
      { market: "option", depth: 25, symbols: options },
    ];
    const sim = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), restPageLimit: 2 });
    cleanups.push(() => sim.stop());
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger });
    const inst = await adapter.loadInstruments();
    expect(allResolved(inst).map((i) => i.symbol)).toEqual([...linear, ...options]);
    expect(sim.stats.restRequests).toBe(3 + 3); // 5 linear at 2 per page; one query per option base coin
  });

  test("the disk cache serves a restart while REST is down; overrides win; unknown symbols are named", async () => {
    const cachePath = tempCachePath();
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "XRPUSDT"] }];
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "XRPUSDT"] }] });
    cleanups.push(() => sim.stop());
    const first = await createBybitAdapter(venueConfig(sim, markets, { cachePath }), subsOf(markets), { log: silentLogger }).loadInstruments();
    sim.setRestAvailable(false);
    const second = await createBybitAdapter(venueConfig(sim, markets, { cachePath }), subsOf(markets), { log: silentLogger }).loadInstruments();
    expect(second).toEqual(first);

    const overrides = new Map([["linear:XRPUSDT", { tickSize: "0.001", lotSize: "0.1" }]]);
    const third = await createBybitAdapter(venueConfig(sim, markets, { cachePath, overrides }), subsOf(markets), { log: silentLogger }).loadInstruments();
    expect(third[1]).toMatchObject({ symbol: "XRPUSDT", priceExp: 3, qtyExp: 1, tickSize: "0.001" });

    // REST down: what the cache has resolves, the rest is named with the reason and left out.
    const missing: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "NOPEUSDT"] }, { market: "spot", depth: 50, symbols: ["BTCUSDT"] }];
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (msg: string) => void errors.push(msg), child: () => log };
    const partial = await createBybitAdapter(venueConfig(sim, missing, { cachePath }), subsOf(missing), { log }).loadInstruments();
    expect(partial.map((i) => i?.symbol)).toEqual(["BTCUSDT", undefined, undefined]);
    expect(errors.join("\n")).toMatch(/linear:NOPEUSDT \(REST unreachable.*spot:BTCUSDT \(REST unreachable.*the others start/);
    // None resolved, REST unreachable: an outage, not a configuration error: the venue starts with none (retried).
    const none: Markets = [{ market: "linear", depth: 50, symbols: ["NOPEUSDT"] }];
    errors.length = 0;
    expect(await createBybitAdapter(venueConfig(sim, none, { cachePath }), subsOf(none), { log }).loadInstruments()).toEqual([undefined]);
    expect(errors.join("\n")).toMatch(/cannot resolve instruments for linear:NOPEUSDT \(REST unreachable.*starts with no books and retries them/);
    sim.setRestAvailable(true);
    await expect(createBybitAdapter(venueConfig(sim, none, { cachePath }), subsOf(none), { log: silentLogger }).loadInstruments()).rejects.toThrow(
      /linear:NOPEUSDT \(not listed/,
    );
  });

  test("a connection whose topics all failed to resolve is never opened, pinged or counted", async () => {
    // One topic per connection: conn0 and conn2 hold only symbols the venue does not list.
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["NOPEUSDT", "BTCUSDT", "NOPE2USDT"] }];
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 42 });
    cleanups.push(() => sim.stop());
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), {
      log: silentLogger,
      maxTopicsPerConnection: 1,
      pingIntervalMs: 50,
      pongTimeoutMs: 5_000,
    });
    cleanups.push(() => adapter.stop());
    const instruments = await adapter.loadInstruments();
    expect(instruments.map((i) => i?.symbol)).toEqual([undefined, "BTCUSDT", undefined]);
    const sink = new RecordingSink(instruments as Instrument[]); // it reads only the resolved one's entry
    adapter.start(sink);
    // Every connection is created at start, in order: by the time the used one has subscribed and pinged twice,
    // any other would long have reached the simulator.
    await waitFor(() => adapter.topicInfo(1).state === "live" && sim.stats.pings >= 2, "live and pinging");
    expect(sim.stats.connectionsTotal).toBe(1);
    expect(sim.stats.subscribes).toBe(1);
    const stats = adapter.stats();
    expect(stats).toMatchObject({ connections: 1, connectionsOpen: 1, connects: 1, topics: 3, topicsLive: 1, instrumentsUnresolved: 2 });
    expect(Object.keys(stats).filter((k) => k.startsWith("conn") && k.endsWith(".open"))).toEqual(["conn1.linear.open"]);
    expect(adapter.topicInfo(0)).toMatchObject({ rejected: true, connection: 0 });
    expect(sink.invalid).toEqual([]);
  });

  test("start() before loadInstruments() and duplicate subscriptions are clear errors", () => {
    const sim = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }];
    const a = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger });
    expect(() => a.start(new RecordingSink([]))).toThrow(/before loadInstruments/);
    const dup: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "BTCUSDT"] }];
    expect(() => createBybitAdapter(venueConfig(sim, dup), subsOf(dup), { log: silentLogger })).toThrow(/subscribed twice/);
  });
});
