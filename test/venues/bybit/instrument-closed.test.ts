/**
 * A Bybit instrument that stops trading while the feeder runs (a delisting, an option's delivery): the venue pushes
 * u = 1 with empty sides and goes silent, and instruments-info no longer lists it as Trading. Before, the re-check
 * that u = 1 asks for found it missing and left the book alone ("its stream says the rest"): the book waited
 * RESYNCING for a snapshot that never came, went stale and resubscribed again and again (stale_feed, the reason
 * never said), and an option in Delivering, still listed by the default query, counted as listed. Now the book is
 * HALTED / instrument_closed, unsubscribed and left out of every resync, logged once, and its market is asked for
 * it every listing period: listed as Trading again, it is subscribed and LIVE on its snapshot.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger, silentLogger } from "../../../src/core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type MarketName } from "../../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { INSTRUMENTS_CLOSED_URL } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(market: MarketName, depth: number, symbols: string[], before?: (sim: BybitSim) => void) {
  const markets = [{ market, depth, symbols }];
  const sim = await startBybitSimulator({ markets: [{ market, symbols }], seed: 31, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  before?.(sim);
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
  const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log, pingIntervalMs: 200, pongTimeoutMs: 5_000, listingRetryMs: 300, lateCheckMs: 20 });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  await waitFor(() => adapter.stats().topicsLive === symbols.length, "every book live", W);
  for (let i = 0; i < 3; i++) sim.step(1);
  await waitFor(() => sink.matches(sim, 0), "the first book at the venue's", W);
  return { sim, adapter, sink, lines };
}

/** Bound of each wait: generous, the machine may be loaded (nothing here waits that long when it works). */
const W = 20_000;

const subscribers = (sim: { topics(): { topic: string; subscribers: number }[] }, topic: string) => sim.topics().find((t) => t.topic === topic)?.subscribers ?? 0;

describe("bybit: an instrument that stops trading", { timeout: 90_000 }, () => {
  test("delisted (Closed): HALTED / instrument_closed, unsubscribed, logged once; listed as Trading again, LIVE again", async () => {
    const { sim, adapter, sink, lines } = await setup("linear", 50, ["BTCUSDT", "ETHUSDT"]);
    sim.setStatus("linear", "BTCUSDT", "Closed");
    await waitFor(() => adapter.topicInfo(0).state === "halted", "the closed book halted", W);
    expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    await waitFor(() => subscribers(sim, "orderbook.50.BTCUSDT") === 0, "its topic unsubscribed", W);
    expect(adapter.topicInfo(1).state).toBe("live"); // the other book is untouched
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1 });
    // Asked for every listing period (300 ms here) while closed: nothing is resubscribed, nothing logged again.
    const rest = sim.stats.restRequests;
    const subscribes = sim.stats.subscribes;
    await waitFor(() => sim.stats.restRequests >= rest + 3, "a few listing checks", W);
    expect(sim.stats.subscribes).toBe(subscribes);
    expect(adapter.topicInfo(0).state).toBe("halted");
    expect(lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);
    expect(lines.find((l) => l.includes("no longer listed as trading"))).toContain('"symbol":"BTCUSDT"');
    // Trading again (a halt that ended): subscribed, LIVE on its snapshot, the venue's book.
    sim.setStatus("linear", "BTCUSDT", "Trading");
    await waitFor(() => adapter.topicInfo(0).state === "live", "live again", W);
    sim.step(2);
    await waitFor(() => sink.matches(sim, 0) && sink.matches(sim, 1), "both books at the venue's", W);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
    expect(lines.filter((l) => l.includes("listed as trading again"))).toHaveLength(1);
    const m = adapter.metrics();
    expect(m.find((x) => x.name === "instrument_closures_total")!.value).toBe(1);
    expect(m.find((x) => x.name === "instrument_reopens_total")!.value).toBe(1);
    expect(m.find((x) => x.name === "instruments_closed")!.value).toBe(0);
  });

  test("an option in Delivering (still listed by the default query) is closed too", async () => {
    const { sim, adapter, sink } = await setup("option", 25, ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"]);
    sim.setStatus("option", "BTC-27MAR26-70000-P-USDT", "Delivering");
    await waitFor(() => adapter.topicInfo(0).state === "halted", "the delivering option halted", W);
    expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(adapter.topicInfo(1).state).toBe("live");
  });

  test("an option reaching its deliveryTime is halted then, while its stream still sends and the listing still says Trading", async () => {
    const symbols = ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"];
    const deliveryMs = Date.now() + 1_500;
    const { sim, adapter, sink } = await setup("option", 25, symbols, (s) => s.setDeliveryTime("option", symbols[0]!, deliveryMs));
    const haltedAt: number[] = [];
    const onInvalid = sink.onBookInvalid.bind(sink);
    sink.onBookInvalid = (index, state, reason) => {
      if (index === 0 && state === BookState.HALTED) haltedAt.push(Date.now());
      onInvalid(index, state, reason);
    };
    await waitFor(() => {
      sim.step(1);
      return haltedAt.length > 0;
    }, "the delivered option halted", W);
    expect(haltedAt[0]).toBeGreaterThanOrEqual(deliveryMs); // at its deliveryTime, not before
    expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    // The listing still names it (Trading, deliveryTime passed): asked for again, it stays closed.
    const rest = sim.stats.restRequests;
    await waitFor(() => {
      sim.step(1);
      return sim.stats.restRequests >= rest + 3;
    }, "a few listing checks", W);
    expect(adapter.topicInfo(0).state).toBe("halted");
    expect(adapter.topicInfo(1).state).toBe("live");
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 1, instrumentReopens: 0 });
  });

  // Inverse (and linear) dated futures list their delivery in deliveryTime too (BTCUSDZ26), perpetuals their delisting
  // time (INSTR); before, the simulator listed "0" for every contract and refused setDeliveryTime outside options.
  test("an inverse dated future reaching its deliveryTime is halted then; the perpetual beside it stays live", async () => {
    const symbols = ["BTCUSDZ26", "BTCUSD"];
    const deliveryMs = Date.now() + 1_500;
    const { sim, adapter, sink } = await setup("inverse", 50, symbols, (s) => s.setDeliveryTime("inverse", symbols[0]!, deliveryMs));
    await waitFor(() => {
      sim.step(1);
      return adapter.topicInfo(0).state === "halted";
    }, "the delivered future halted", W);
    expect(Date.now()).toBeGreaterThanOrEqual(deliveryMs);
    expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(adapter.topicInfo(1).state).toBe("live");
    expect(sink.invalid.filter((e) => e.index === 1 && e.state === BookState.HALTED)).toEqual([]);
  });
});

/**
 * Record → replay: a live run against the simulator recorded as `feeder record` records it (every frame, socket event,
 * written request and closure), then fed to a replaying adapter of the same config (loaded before the listing changes,
 * as a replay started from the same listing). Each book event (update, invalidation) is noted with how many records
 * live had written when it happened, replay's with how many it had fed: the two timelines must be equal. Until s-reprec
 * replay redid no closure (it asks no listing): a book live halted as instrument_closed stayed resyncing in replay.
 */
async function recordedRun(market: MarketName, depth: number, symbols: string[], before?: (sim: BybitSim) => void) {
  const markets = [{ market, depth, symbols }];
  const sim = await startBybitSimulator({ markets: [{ market, symbols }], seed: 31, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  before?.(sim);
  type Rec = { conn: string; frame: string; url?: undefined } | { conn: string; url: string; body: string };
  const records: Rec[] = [];
  const timeline = (sink: RecordingSink, at: () => number) => {
    const events: string[] = [];
    const onUpdate = sink.onBookUpdate.bind(sink);
    const onInvalid = sink.onBookInvalid.bind(sink);
    sink.onBookUpdate = (index, u) => {
      events.push(`${at()}: ${index} ${u.isSnapshot ? "snapshot" : "delta"} u${u.venueSeq}`);
      onUpdate(index, u);
    };
    sink.onBookInvalid = (index, state, reason) => {
      events.push(`${at()}: ${index} ${BOOK_STATE_NAMES[state]}/${STATUS_REASON_NAMES[reason]}`);
      onInvalid(index, state, reason);
    };
    return events;
  };
  const replay = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, recheckInstruments: false });
  cleanups.push(() => replay.stop());
  const replaySink = new RecordingSink(allResolved(await replay.loadInstruments()));
  let fed = 0;
  const replayed = timeline(replaySink, () => fed);
  replay.startReplay(replaySink);
  const live = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), {
    log: silentLogger,
    pingIntervalMs: 200,
    pongTimeoutMs: 5_000,
    listingRetryMs: 200,
    lateCheckMs: 20,
    onRawFrame: (_m, conn, frame) => void records.push({ conn, frame }),
    onRawRest: (_m, conn, url, body) => void records.push({ conn, url, body }),
  });
  cleanups.push(() => live.stop());
  const liveSink = new RecordingSink(allResolved(await live.loadInstruments()));
  const lived = timeline(liveSink, () => records.length);
  live.start(liveSink);
  await waitFor(() => live.stats().topicsLive === symbols.length, "every book live", W);
  /** Feeds the replay every record not fed yet; both timelines. */
  const replayAll = () => {
    for (; fed < records.length; ) {
      const r = records[fed++]!;
      if (r.url === undefined) expect(replay.ingestFrame(market, r.conn, r.frame, 1)).toBe(true);
      else expect(replay.ingestConnectionEvent(market, r.conn, r.url, 1, r.body)).toBe(true);
    }
    return { live: lived, replay: replayed };
  };
  return { sim, live, replay, records, replayAll };
}

describe("bybit record → replay: closures by the listing happen in replay at live's record", { timeout: 90_000 }, () => {
  test("an option refused (failTopics, no reason) then found not listed: HALTED / instrument_closed in both, at the same record", async () => {
    const symbols = ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"];
    const r = await recordedRun("option", 25, symbols);
    r.sim.setListed("option", symbols[0]!, false);
    r.sim.refuseSubscribes("option", `orderbook.25.${symbols[0]}`, 1);
    r.sim.inject("gap", { market: "option", symbol: symbols[0]! }); // an update never sent: the next one's gap resyncs
    r.sim.step(1); // the resync recorded: unsubscribe, subscribe (refused), the listing asked at once
    await waitFor(() => r.live.topicInfo(0).state === "halted", "halted by the listing", W);
    r.sim.step(2);
    await waitFor(() => r.live.topicInfo(1).lastU >= 3, "the other book's steps", W);
    const { live, replay } = r.replayAll();
    expect(live.filter((e) => e.endsWith("instrument_closed"))).toHaveLength(1);
    expect(replay).toEqual(live);
    expect([0, 1].map((i) => r.replay.topicInfo(i).state)).toEqual(["halted", "live"]);
    expect(r.records.filter((x) => x.url === INSTRUMENTS_CLOSED_URL).map((x) => x.url !== undefined && x.body)).toEqual([`orderbook.25.${symbols[0]}`]);
  });

  test("delisted (Closed) then Trading again: halted, then LIVE on its snapshot, in replay at live's records", async () => {
    const r = await recordedRun("linear", 50, ["BTCUSDT", "ETHUSDT"]);
    r.sim.setStatus("linear", "BTCUSDT", "Closed");
    await waitFor(() => r.live.topicInfo(0).state === "halted", "the closed book halted", W);
    r.sim.setStatus("linear", "BTCUSDT", "Trading");
    await waitFor(() => r.live.topicInfo(0).state === "live", "live again", W);
    r.sim.step(2);
    await waitFor(() => r.live.topicInfo(0).lastU >= 3 && r.live.topicInfo(1).lastU >= 3, "both books' steps", W);
    const { live, replay } = r.replayAll();
    expect(live.filter((e) => e.endsWith("halted/instrument_closed"))).toHaveLength(1);
    expect(replay).toEqual(live);
    expect([0, 1].map((i) => r.replay.topicInfo(i).state)).toEqual(["live", "live"]);
  });
});
