/** The Binance adapter against its simulator: instruments, pacing within the incoming-message limit, REST budget. */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { type BookState, type Instrument, StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter, type BinanceAdapterOptions } from "../../../src/venues/binance/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { until as untilWithin } from "../../support/until.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const nullSink: BookSink = { onBookUpdate: () => {}, onBookInvalid: () => {}, onInstrumentChanged: () => {} };

async function setup(market: "spot" | "linear", symbols: string[], subscribed: string[], opts: Partial<BinanceAdapterOptions> = {}, simOpts: { restWeightPerMinute?: number; restClock?: () => number } = {}) {
  const sim: BinanceSim = await startBinanceSimulator({ markets: [{ market, symbols }], seed: 9, ...simOpts });
  const subs: Subscription[] = subscribed.map((symbol) => ({ market, symbol, depth: 100 }));
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-adapter"), "i.json"),
    markets: [{ market, depth: 100, symbols: subscribed }],
    overrides: new Map(),
  };
  const adapter = new BinanceAdapter(config, subs, { log: silentLogger, ...opts });
  stops.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  return { sim, adapter };
}

/** This file's waits are bounded at 15 s. */
const until = (cond: () => boolean, what: string, timeoutMs = 15_000) => untilWithin(cond, what, timeoutMs);

describe("Binance adapter", () => {
  test("a symbol exchangeInfo does not list is named and never subscribed (the WebSocket would accept it silently)", async () => {
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (m: string) => void errors.push(m) };
    const { adapter } = await setup("spot", ["BTCUSDT"], ["BTCUSDT", "NOSUCHUSDT"], { log });
    const inst = await adapter.loadInstruments();
    expect(inst[0]?.symbol).toBe("BTCUSDT");
    expect(inst[0]?.tickSize).toBe("0.10000000");
    expect(inst[0]?.priceExp).toBe(1);
    expect(inst[1]).toBeUndefined();
    expect(errors.join("\n")).toContain("spot:NOSUCHUSDT");
    expect(errors.join("\n")).toContain("exchangeInfo");
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 1, "BTCUSDT live");
    expect(adapter.topicInfo(1).state).toBe("awaiting_snapshot");
  });

  test("a price that does not fit the tick re-checks exchangeInfo: the new tick swaps the exponents, the app is told, the book comes back", async () => {
    // The first exchangeInfo says tick 1 (an outdated listing); the simulator's prices have two decimals.
    let infos = 0;
    const coarseFirst = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (!String(input).includes("/exchangeInfo") || infos++ > 0) return res;
      const body = (await res.text()).replace(/"tickSize":"[0-9.]+"/g, '"tickSize":"1.00000000"');
      return new Response(body, { status: res.status, headers: res.headers });
    }) as typeof fetch;
    const { sim, adapter } = await setup("spot", ["BTCUSDT"], ["BTCUSDT"], { fetch: coarseFirst });
    expect((await adapter.loadInstruments())[0]?.priceExp).toBe(0);
    const changed: Instrument[] = [];
    adapter.start({ ...nullSink, onInstrumentChanged: (_i: number, inst: Instrument) => void changed.push(inst) });
    await until(() => {
      sim.step(1);
      return changed.length === 1 && adapter.stats().topicsLive === 1;
    }, "the instrument re-checked and the book live again");
    expect(changed[0]!.priceExp).toBeGreaterThan(0);
    expect(adapter.stats().instrumentChanges).toBe(1);
    // The load, the re-check; misfits while that reload was in flight ask for one more (the reloader coalesces them).
    expect(infos).toBeGreaterThanOrEqual(2);
    expect(infos).toBeLessThanOrEqual(3);
  });

  test("subscribing 300 streams in requests of 10 stays within 5 incoming messages per second (paced), every book goes live", async () => {
    const symbols = Array.from({ length: 300 }, (_, i) => `S${i}USDT`);
    const { sim, adapter } = await setup("spot", symbols, symbols, { maxArgsPerRequest: 10, maxStreamsPerConnection: 150 });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 300, "every book live", 30_000);
    // 2 connections × 15 SUBSCRIBE requests: sent at once they would break the limit and be closed (1008).
    expect(sim.stats.closedForRate).toBe(0);
    expect(adapter.stats().connections).toBe(2);
    expect(adapter.stats().messagesPaced).toBeGreaterThan(0);
    expect(adapter.stats().reconnects).toBe(0);
  }, 40_000);

  test("a stream whose snapshot waits for the REST weight budget is not stale while its diffs come (no resync, no second snapshot queued)", async () => {
    // 8 USD-M symbols at limit 100 (weight 5); 30 per minute, of which we allow ourselves 24: 4 snapshots go, 4 wait
    // for the minute to pass (a reconnect of 200 symbols at limit 1000 waits the same way). Time is the test's.
    let clock = 1_000_000;
    const symbols = Array.from({ length: 8 }, (_, i) => `X${i}USDT`);
    const opts = { now: () => clock, housekeepingMs: 10, staleAfterMs: () => 1_500, pingIntervalMs: 500 };
    const { sim, adapter } = await setup("linear", symbols, symbols, opts, { restWeightPerMinute: 30 });
    const invalid: StatusReason[] = [];
    await adapter.loadInstruments();
    adapter.start({ ...nullSink, onBookInvalid: (_i: number, _s: BookState, reason: StatusReason) => void invalid.push(reason) });
    await until(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 4 && symbols.every((_, i) => adapter.topicInfo(i).bridging || adapter.topicInfo(i).state === "live");
    }, "4 books live, 4 bridging");
    // 4 × 1 s of the adapter's time with diffs for every stream: past the 1.5 s staleness. Each round waits for the
    // pong of a ping sent at the new time; the same housekeeping pass looked for stale streams.
    for (let round = 0; round < 4; round++) {
      sim.step(1);
      const pongs = adapter.stats().pongs;
      clock += 1_000;
      await until(() => adapter.stats().pongs > pongs, "a keepalive round trip at the new time");
    }
    expect(adapter.stats().staleResyncs).toBe(0);
    expect(invalid).not.toContain(StatusReason.STALE_FEED);
    expect(adapter.stats().topicsLive).toBe(4);
    expect(sim.stats.depthRequests).toBe(4);
  });

  test("a snapshot still queued behind the weight budget when its bridge restarts is dropped unspent: each book costs one request", async () => {
    let clock = 1_000_000;
    // The clock jumps a minute: no keepalive, dead-connection or staleness deadline is to fire meanwhile.
    const quiet = { housekeepingMs: 10, pingIntervalMs: 1e9, deadConnectionMs: 1e9, staleAfterMs: () => 1e9 };
    const symbols = Array.from({ length: 8 }, (_, i) => `X${i}USDT`);
    const { sim, adapter } = await setup("linear", symbols, symbols, { now: () => clock, ...quiet }, { restWeightPerMinute: 30, restClock: () => clock });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    const waiting = () => symbols.map((_, i) => i).filter((i) => adapter.topicInfo(i).state !== "live");
    await until(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 4 && waiting().every((i) => adapter.topicInfo(i).bridging) && adapter.stats().restWaiting === 4;
    }, "4 books live, 4 waiting for their snapshots");
    // The waiting books restart (a resync): their queued requests are dropped, new ones queue in their place.
    for (const i of waiting()) adapter.requestResync(i, StatusReason.SEQUENCE_GAP);
    await until(() => {
      sim.step(1);
      return adapter.stats().snapshotsAbandoned === 4 && adapter.stats().restWaiting === 4;
    }, "the 4 queued requests dropped, 4 new ones waiting");
    // A minute of the adapter's time: weight for 4 more requests, which only the new ones may spend.
    clock += 61_000;
    await until(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 8;
    }, "every book live");
    expect(sim.stats.depthRequests).toBe(8);
    expect(adapter.stats().restRateLimited).toBe(0);
    expect(adapter.stats().restWaiting).toBe(0);
  }, 30_000);

  test("exchangeInfo's rateLimits size the REST weight budget: snapshots queue instead of drawing 429s", async () => {
    // 8 USD-M symbols at limit 100 (weight 5) = 40 plus exchangeInfo (1); the venue says 60 per minute, of which we
    // allow ourselves 80 % = 48: everything fits, nothing is refused.
    const symbols = Array.from({ length: 8 }, (_, i) => `X${i}USDT`);
    const { sim, adapter } = await setup("linear", symbols, symbols, {}, { restWeightPerMinute: 60 });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 8, "every book live");
    expect(adapter.stats().restRateLimited).toBe(0);
    expect(sim.stats.depthRequests).toBe(8);
    // Three resyncs need 15 more: only the first fits under 48 this minute; the others wait instead of drawing a 429
    // (without rateLimits our share would be 80 % of USD-M's default 2400 and all three would go).
    for (const i of [0, 1, 2]) adapter.requestResync(i, StatusReason.CROSSED_BOOK);
    sim.step(2);
    await until(() => sim.stats.depthRequests === 9 && adapter.stats().topicsLive === 6, "one resync through, two waiting");
    // "Nothing more happens": both others are in the budget's wait (it frees weight only after 60 s), not sent.
    await until(() => adapter.stats().restWaiting === 2, "the two other snapshot requests waiting for REST weight");
    expect(sim.stats.depthRequests).toBe(9);
    expect(adapter.stats().topicsLive).toBe(6);
    expect(adapter.stats().restRateLimited).toBe(0);
  });

  test("a reconnect while a book waits out its resync backoff: the stream is subscribed again once the wait is over (chaos seed 302)", async () => {
    // The reconnected socket subscribes only the topics not waiting; Binance's end of the wait used to only ask for
    // a snapshot (its resync keeps the stream subscribed), so that stream stayed unsubscribed and its book RESYNCING.
    const { sim, adapter } = await setup("spot", ["BTCUSDT", "ETHUSDT"], ["BTCUSDT", "ETHUSDT"], { resyncBackoffBaseMs: 1000, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    const live = (n: number) => () => {
      sim.step(1);
      return adapter.stats().topicsLive === n;
    };
    await until(live(2), "both books live");
    const eth = { market: "spot" as const, symbol: "ETHUSDT" };
    sim.inject("gap", eth); // the first resync goes out at once
    await until(() => live(2)() && adapter.stats().gaps === 1, "ETHUSDT live again after its first gap");
    sim.inject("gap", eth); // the second in a row waits 500–1000 ms
    await until(() => adapter.stats().resyncsDelayed === 1 || (sim.step(1), false), "the second resync delayed");
    sim.inject("disconnect");
    await until(() => adapter.stats().reconnects === 1 && adapter.stats().connectionsOpen === 1, "reconnected");
    await until(live(2), "ETHUSDT live after its backoff", 8_000);
    expect(adapter.topicInfo(1).state).toBe("live");
  }, 30_000);

  test("USD-M: the simulator refuses a string id as the derivatives servers do; our integer ids are acked and the book goes LIVE without an ack timeout", async () => {
    const { adapter } = await setup("linear", ["BTCUSDT"], ["BTCUSDT"], { ackTimeoutMs: 2_000 });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 1, "BTCUSDT live");
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(adapter.stats().ackTimeouts).toBe(0);
  });

  test("a stream Binance refuses ({error:{code:2,msg:'Invalid request: invalid stream'},id}) is rejected alone; the others go LIVE and the connection is never recycled", async () => {
    const sim: BinanceSim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT", "ETHUSDT", "BNBUSDT"] }], seed: 9, refuseStreams: ["ethusdt@depth@100ms"] });
    const symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"];
    const config: VenueConfig = {
      venue: "binance",
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("binance-adapter"), "i.json"),
      markets: [{ market: "spot", depth: 100, symbols }],
      overrides: new Map(),
    };
    const invalid: string[] = [];
    const adapter = new BinanceAdapter(config, symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 100 })), { log: silentLogger, ackTimeoutMs: 2_000 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    await adapter.loadInstruments();
    adapter.start({ ...nullSink, onBookInvalid: (i: number, _s: BookState, why: StatusReason) => void invalid.push(`${i}:${why}`) });
    // Before: the refusal was an unhandled frame, the request's ack never came, and every 2 s the connection was
    // recycled (ack timeout) with every book on it; ETHUSDT was never named.
    await until(() => adapter.stats().subscribeRejected === 1 && adapter.stats().topicsLive === 2, "ETHUSDT rejected, the other two live");
    expect(adapter.stats().ackTimeouts).toBe(0);
    expect(adapter.stats().reconnects).toBe(0);
    expect(invalid).toContain(`1:${StatusReason.SUBSCRIBE_REJECTED}`);
  });

  // A batch with one refused stream is retried stream by stream, paced at 2 a second: with 50 streams a request, the last
  // ones wait ~25 s in the outbox. Here 8 streams a request and the deadlines scaled down to match.
  const queued = [
    {
      what: "a subscribe queued behind the pacing budget gets its ack time from when it goes (before: from the first housekeeping round, 'no ack within 2000 ms')",
      opts: { ackTimeoutMs: 2_000 },
    },
    {
      what: "a keepalive queued behind the pacing budget gets its pong time from when it goes (before: from when it was queued, 'no pong within 1000 ms')",
      opts: { pingIntervalMs: 1_500, pongTimeoutMs: 1_000 },
    },
  ];
  for (const { what, opts } of queued) {
    test(`a refused batch retried stream by stream keeps its connection: ${what}`, async () => {
      const symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "SOLUSDT", "DOTUSDT", "LTCUSDT"];
      const sim: BinanceSim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 9, refuseStreams: ["ltcusdt@depth@100ms"] });
      const config: VenueConfig = {
        venue: "binance",
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        instrumentCachePath: join(makeTempDir("binance-adapter"), "i.json"),
        markets: [{ market: "spot", depth: 100, symbols }],
        overrides: new Map(),
      };
      const subs = symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 100 }));
      const adapter = new BinanceAdapter(config, subs, { log: silentLogger, maxArgsPerRequest: 8, ...opts });
      stops.push(async () => {
        await adapter.stop();
        await sim.stop();
      });
      await adapter.loadInstruments();
      adapter.start(nullSink);
      // Before: the connection was recycled before the last single went, with every book on it, and again after each
      // reconnect: LTCUSDT was never rejected and the other books kept dropping.
      await until(() => adapter.stats().subscribeRejected === 1 && adapter.stats().topicsLive === 7, "LTCUSDT rejected, the other seven live");
      expect(adapter.stats().messagesPaced).toBeGreaterThan(4); // the singles did wait for the pacing budget
      if ("pingIntervalMs" in opts) await until(() => adapter.stats().pongs >= 1, "a keepalive answered");
      expect(adapter.stats().ackTimeouts).toBe(0);
      expect(adapter.stats().pongTimeouts).toBe(0);
      expect(adapter.stats().reconnects).toBe(0);
    });
  }

  test("a REST depth that lags the stream (the snapshot older than the first buffered diff) is asked for again with the diffs kept: the book goes LIVE (before: each attempt dropped them and never bridged)", async () => {
    const { sim, adapter } = await setup("spot", ["BTCUSDT"], ["BTCUSDT"], { resyncBackoffBaseMs: 50, resyncBackoffMaxMs: 200 });
    await adapter.loadInstruments();
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 1, "BTCUSDT live");
    // From now every answer is the book as it was two diff events back. The simulator sends one diff after each
    // answer, so a bridge that starts at the newest diff is always one event past the answer.
    sim.setRestLag("spot", "BTCUSDT", 2);
    sim.inject("gap", { market: "spot", symbol: "BTCUSDT" });
    sim.step(1);
    await until(() => adapter.stats().gaps === 1, "the gap seen");
    const fetched = adapter.stats().snapshotsFetched;
    sim.step(1); // the diff the new bridge starts with
    await until(() => adapter.stats().topicsLive === 1, "BTCUSDT live again");
    // The first answer was older than the buffered diff; the next one bridged with the diffs kept.
    expect(adapter.stats().snapshotsNotBridging).toBeGreaterThanOrEqual(1);
    expect(adapter.stats().snapshotsFetched - fetched).toBeLessThanOrEqual(3);
    // The book is the venue's: fresh diffs chain on it.
    sim.setRestLag("spot", "BTCUSDT", 0);
    const deltas = adapter.stats().deltas;
    await until(() => {
      sim.step(1);
      return adapter.stats().deltas > deltas + 2;
    }, "diffs applied");
    expect(adapter.stats().gaps).toBe(1);
    expect(adapter.stats().topicsLive).toBe(1);
  });
  test("a 429 with Retry-After 0 (held the 1 s floor) is counted in restRetryAfterOutOfRange and /metrics, once, beside the 429", async () => {
    // Until s-raoor the budget counted it (retryAfterOutOfRange) but no stat or metric showed it.
    const { sim, adapter } = await setup("spot", ["BTCUSDT"], ["BTCUSDT"]);
    await adapter.loadInstruments();
    adapter.start(nullSink);
    await until(() => adapter.stats().topicsLive === 1, "BTCUSDT live");
    expect(adapter.stats().restRetryAfterOutOfRange).toBe(0);
    sim.restFault("refuse", { market: "spot", symbol: "BTCUSDT" }); // the simulator's 429 says Retry-After 0
    sim.inject("gap", { market: "spot", symbol: "BTCUSDT" });
    await until(() => {
      sim.step(1);
      return adapter.stats().restRateLimited === 1;
    }, "the resync's snapshot answered 429");
    const metric = (name: string) => adapter.metrics().filter((m) => m.name === name).map((m) => m.value);
    expect(adapter.stats().restRetryAfterOutOfRange).toBe(1);
    expect(metric("rest_retry_after_out_of_range_total")).toEqual([1]);
    expect(metric("rest_rate_limited_total")).toEqual([1]);
  });
});
