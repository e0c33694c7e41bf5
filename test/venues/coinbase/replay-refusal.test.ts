/**
 * A live run against the simulator where Coinbase refuses a product (left out of the subscriptions event, or the
 * whole subscribe refused by an error frame naming it), recorded as `feeder record` records it (frames, `ws:req`,
 * socket events), replayed through a second adapter: the replay's statuses and books equal live's. Before
 * 2026-12-07 Coinbase's replay read no socket event: no recorded request reached `expectedAcks`, every answer matched
 * none, and the refused product stayed AWAITING_SNAPSHOT where live had it HALTED / subscribe_rejected. The
 * heartbeats subscribe is recorded too: an answer carries no request id and answers the oldest unanswered message,
 * so with the level2 requests alone the heartbeats subscribe's event (listing no product after the refused batch)
 * was taken for the batch's retry's answer and halted every product.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { BookReconstructor } from "../../../src/app/export-books.ts";
import { Feeder } from "../../../src/app/feeder.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { uniqueDestination } from "../../e2e/harness.ts";
import { startCoinbaseSimulator, type CoinbaseSimOptions } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, recordInto, type Recorded, Sink, startRecording, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** BTC, ETH and SOL are served; NOPE-USD (index 1) resolves through an override, so it is in the first subscribe. */
const PRODUCTS = ["BTC-USD", "NOPE-USD", "ETH-USD", "SOL-USD"];
const GOOD = [0, 2, 3];

async function recordAndReplay(reply: CoinbaseSimOptions["unknownProductReply"], refuseHeartbeats = 0) {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD", "SOL-USD"], levels: 20, seed: 5, unknownProductReply: reply, refuseHeartbeats, heartbeatMs: 50 });
  cleanup.push(() => sim.stop());
  const config = { ...coinbaseConfig(sim, PRODUCTS), overrides: new Map([["spot:NOPE-USD", { tickSize: "0.01", lotSize: "0.01" }]]) };
  const { live, liveSink, recorded } = await startRecording(config, PRODUCTS, cleanup);
  sim.step(1);
  const goodLive = () => GOOD.every((i) => liveSink.matches(sim, i, PRODUCTS[i]!));
  await waitFor(() => liveSink.invalid.length > 0 && goodLive(), "the bad product rejected and the good books live");
  sim.step(3);
  await waitFor(goodLive, "the good books go on");
  if (refuseHeartbeats > 0) await waitFor(() => (live.stats().heartbeats ?? 0) > 0, "heartbeats after the refused subscribe went again");
  await live.stop();
  expect(liveSink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  expect(recorded.every((r) => r.frame !== undefined || r.url!.startsWith("ws:")), "no REST answer recorded (the books need none)").toBe(true);

  const warnings: string[] = [];
  const log: Logger = { ...silentLogger, warn: (msg) => void warnings.push(msg), child: () => log };
  const again = createCoinbaseAdapter(config, subsOf(PRODUCTS), { log });
  cleanup.push(() => again.stop());
  const sink = new Sink((await again.loadInstruments()) as Instrument[]);
  again.startReplay(sink);
  for (const r of recorded) {
    if (r.frame !== undefined) again.ingestFrame("spot", r.connection, r.frame, r.tsRecvUs);
    else again.ingestConnectionEvent("spot", r.connection, r.url!, r.tsRecvUs, r.body);
  }
  expect(sink.invalid).toEqual(liveSink.invalid);
  expect(PRODUCTS.map((_, i) => again.topicState(i).state)).toEqual(PRODUCTS.map((_, i) => live.topicState(i).state));
  for (const i of GOOD) {
    expect(sink.seq[i]).toBe(liveSink.seq[i]);
    expect(sink.bids[i]).toEqual(liveSink.bids[i]);
    expect(sink.asks[i]).toEqual(liveSink.asks[i]);
  }
  return warnings;
}

describe("coinbase record → replay: a refused product", { timeout: 20_000 }, () => {
  test("left out of the subscriptions event: HALTED / subscribe_rejected in replay as live, the others LIVE at live's books", async () => {
    await recordAndReplay("omit");
  });

  test("the subscribe refused whole by an error frame naming it: the retry's answer is matched after the heartbeats subscribe's, as live", async () => {
    await recordAndReplay("error_named");
  });

  test("the heartbeats subscribe refused over the rate limit: replay takes the refusal in turn and sends nothing again (the recorded retry follows), no warning of a retry", async () => {
    const warnings = await recordAndReplay("omit", 1);
    expect(warnings.filter((w) => w.includes("heartbeats"))).toEqual([]);
  });
});

/** An adapter started as a replay of `products` (each resolved by an override: no venue to ask), fed by the test. */
async function replayOnly(products: string[]) {
  const config = { ...coinbaseConfig({ wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1" }, products), overrides: new Map(products.map((p) => [`spot:${p}`, { tickSize: "0.01", lotSize: "0.01" }])) };
  const adapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger });
  cleanup.push(() => adapter.stop());
  const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
  adapter.startReplay(sink);
  return { adapter, sink, conn: adapter.connectionOf(0) };
}

describe("coinbase replay begun mid-socket (a later capture file): answers to requests of an earlier file", () => {
  /**
   * The file's head is `ws:state` (no `ws:open`): requests written before it may still be unanswered, and a
   * subscriptions event answers the oldest message, carrying no id. Here live wrote s1 (BTC) in the earlier file and
   * s2 (ETH) in this one before s1's answer came (listing BTC alone), then s2's (both). Until 2026-12-07 (s-rdrepd2)
   * replay queued s2 alone and took s1's answer for it: ETH, missing from it, was halted where live kept it.
   */
  test("an answer whose request the replay never saw is matched to no later request; after the next ws:open they are matched again", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const { adapter, sink, conn } = await replayOnly(products);
    let seq = 0;
    let tsUs = 1_000_000;
    const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", conn, url, (tsUs += 1000), "")).toBe(true);
    const request = (id: string, names: string[]) => event(`ws:req ${JSON.stringify([id, "subscribe", names])}`);
    const answer = (listed: string[]) => adapter.ingestFrame("spot", conn, `{"channel":"subscriptions","client_id":"","timestamp":"2026-12-07T00:00:00Z","sequence_num":${seq++},"events":[${JSON.stringify({ subscriptions: { level2: listed } })}]}`, (tsUs += 1000));
    event("ws:state");
    request("s2", ["ETH-USD"]);
    answer(["BTC-USD"]); // s1's answer (its request in the earlier file)
    answer(["BTC-USD", "ETH-USD"]); // s2's
    expect(sink.invalid).toEqual([]);
    expect(products.map((_, i) => adapter.topicState(i).state)).not.toContain("halted");
    // A new socket: its requests and answers are all in the capture, so a refusal is matched as live matched it.
    event("ws:close");
    event("ws:open");
    seq = 0;
    request("s3", products);
    answer(["BTC-USD"]);
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  });
});

describe("coinbase replay of a closure (ws:closed) naming products this configuration lacks", () => {
  /**
   * A capture replayed with fewer products than live had (a replay of some of them): a closure naming only the others
   * is nothing to this replay, as a ws:req naming them is (and as every other venue takes it), not a record of a
   * venue/market missing from the configuration. Until s-rd13b Coinbase's adapter returned false for it, and
   * `feeder replay` counted it as skipped ("no subscription of their venue and market in the configuration").
   */
  test("taken (true), no book changed; one naming a product of this config halts that one alone", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const { adapter, sink, conn } = await replayOnly(products);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:closed", 1_000, "SOL-USD XRP-USD")).toBe(true);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:closed", 2_000, "")).toBe(true);
    expect(sink.invalid).toEqual([]);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:closed", 3_000, "SOL-USD ETH-USD")).toBe(true);
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
  });

  test("a capture file's head naming products closed (ws:closedset, since s-replaymark) halts those not halted yet", async () => {
    // A replay begun in a later file than BTC's closure; until s-replaymark Coinbase took the head's record and did nothing.
    const products = ["BTC-USD", "ETH-USD"];
    const { adapter, sink, conn } = await replayOnly(products);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:closedset", 1_000, "SOL-USD BTC-USD")).toBe(true);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:closedset", 2_000, "BTC-USD")).toBe(true); // the next file's: closed already
    expect(sink.invalid).toHaveLength(1);
  });

  test("a capture file's head naming the products asked (ws:asked, since s-headask): a left-out product's event is skipped, one none asked resyncs", async () => {
    // A replay begun in a later file than the connection's ws:open, with ETH left out of its config. Until s-headask
    // it knew no request there: ETH's event was unreadable and resynced BTC, where live (which had ETH) kept BTC LIVE.
    const { adapter, sink, conn } = await replayOnly(["BTC-USD"]);
    let seq = 40;
    const l2 = (type: string, product: string, bid: string) =>
      adapter.ingestFrame("spot", conn, `{"channel":"l2_data","client_id":"","timestamp":"2026-12-07T00:00:00Z","sequence_num":${seq++},"events":[{"type":"${type}","product_id":"${product}","updates":[{"side":"bid","event_time":"2026-12-07T00:00:00Z","price_level":"${bid}","new_quantity":"1.00"}]}]}`, seq * 1000);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:state", 1_000, "")).toBe(true);
    expect(adapter.ingestConnectionEvent("spot", conn, "ws:asked", 1_000, JSON.stringify(["BTC-USD", "ETH-USD"]))).toBe(true);
    l2("snapshot", "BTC-USD", "100.00");
    expect(adapter.topicState(0).state).toBe("live");
    l2("update", "ETH-USD", "10.00");
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicState(0).state).toBe("live");
    l2("update", "BTC-USX", "10.00"); // garbled: no request named it
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
  });
});

describe("coinbase replay: a closed product subscribed again (its listing trading again)", () => {
  /**
   * Live's reopening (ConnectionLifecycle.activateAll) sends the subscribe and counts the book's silence from there
   * (SubscriptionControl.sendRequest). Replay brought the closed topic back at that recorded subscribe but kept its
   * silence counted from its last frame before the closure, so once the closure had lasted longer than the stale time
   * the first stale round after the subscribe made the book STALE and resynced it, a status live never published
   * (seen as the s-reprec record → replay test failing now and then on a loaded machine). Now its silence counts from
   * the recorded subscribe, as live's from the send.
   */
  test("no STALE between the recorded subscribe and its snapshot; LIVE at the snapshot", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const config = { ...coinbaseConfig({ wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1" }, products), overrides: new Map(products.map((p) => [`spot:${p}`, { tickSize: "0.01", lotSize: "0.01" }])) };
    let clockMs = 1_000;
    const adapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, now: () => clockMs, staleAfterMs: () => 400, housekeepingMs: 50 });
    cleanup.push(() => adapter.stop());
    const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
    adapter.startReplay(sink);
    const conn = adapter.connectionOf(0);
    let seq = 0;
    const at = (ms: number) => {
      clockMs = ms;
      adapter.replayClockAt(ms);
    };
    const event = (ms: number, url: string, body = "") => {
      at(ms);
      expect(adapter.ingestConnectionEvent("spot", conn, url, ms * 1000, body)).toBe(true);
    };
    const frame = (ms: number, body: string) => {
      at(ms);
      expect(adapter.ingestFrame("spot", conn, `{"channel":${body},"client_id":"","timestamp":"2026-12-07T00:00:00Z","sequence_num":${seq++}}`, ms * 1000)).toBe(true);
    };
    const answer = (ms: number, listed: string[]) => frame(ms, `"subscriptions","events":[${JSON.stringify({ subscriptions: { level2: listed } })}]`);
    const l2 = (ms: number, type: string, product: string, bid: string) =>
      frame(ms, `"l2_data","events":[{"type":"${type}","product_id":"${product}","updates":[{"side":"bid","event_time":"2026-12-07T00:00:00Z","price_level":"${bid}","new_quantity":"1.00"},{"side":"offer","event_time":"2026-12-07T00:00:00Z","price_level":"${Number(bid) + 1}.00","new_quantity":"2.00"}]}]`);
    const snapshot = (ms: number, product: string, bid: string) => l2(ms, "snapshot", product, bid);
    event(1_000, "ws:open");
    event(1_001, `ws:req ${JSON.stringify(["s1", "subscribe", products])}`);
    answer(1_010, products);
    snapshot(1_020, "BTC-USD", "100.00");
    snapshot(1_030, "ETH-USD", "10.00");
    event(1_100, `ws:req ${JSON.stringify(["u2", "unsubscribe", ["BTC-USD"]])}`);
    event(1_100, "ws:closed", "BTC-USD");
    answer(1_110, ["ETH-USD"]);
    // ETH trades on until 2.8 s: its silence from there comes due at 3.2 s, a stale round replay runs then.
    for (let ms = 1_300; ms <= 2_800; ms += 300) l2(ms, "update", "ETH-USD", String(10 + ms / 1000));
    // BTC closed for 2 s (five stale times), then listed as trading again: live subscribes it.
    event(3_100, `ws:req ${JSON.stringify(["s3", "subscribe", ["BTC-USD"]])}`);
    answer(3_300, products); // its answer, within a stale time of the subscribe (the 3.2 s round before it)
    snapshot(3_350, "BTC-USD", "101.00");
    expect(sink.invalid.filter((e) => e.index === 0)).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
    expect(adapter.topicState(0).state).toBe("live");
  });
});

describe("coinbase replay across a capture gap: answers to requests written before it", () => {
  /** The replay side under test: records fed one at a time, the gap, and every book's "STATE/reason" after each. */
  interface Replayer {
    ingest(frame: string, tsUs: number): boolean;
    event(url: string, tsUs: number): boolean;
    gap(tsUs: number): void;
    states(): string;
  }

  /**
   * Live (one socket throughout): s1 subscribed BTC and ETH and was answered; ETH was resynced on the same socket
   * (u2 unsubscribe, answered listing BTC alone; s3 subscribe, answered listing both) and went LIVE at its new
   * snapshot. The capture lost s1's answer (a file that ended early, another after it: captureGap), and the next
   * file begins mid-socket (its head `ws:state`). Until 2026-12-07 replay kept s1 queued across the gap and took u2's
   * answer for it: ETH, missing from it, was published HALTED / subscribe_rejected where live never halted it. Now the
   * queue is forgotten at the gap and nothing is queued until the connection's next `ws:open` or `ws:close` (as in a
   * replay begun mid-socket): ETH is never halted and goes LIVE at its snapshot, as live.
   */
  function replayAcrossGap(r: Replayer): void {
    const products = ["BTC-USD", "ETH-USD"];
    let tsUs = 1_765_000_000_000_000;
    const states: string[] = [];
    const event = (url: string) => {
      expect(r.event(url, (tsUs += 1000))).toBe(true);
      states.push(r.states());
    };
    const frame = (seq: number, body: string) => {
      expect(r.ingest(`{"channel":${body},"timestamp":"2025-12-06T05:46:40Z","sequence_num":${seq}}`, (tsUs += 1000))).toBe(true);
      states.push(r.states());
    };
    const answer = (seq: number, listed: string[]) => frame(seq, `"subscriptions","events":[${JSON.stringify({ subscriptions: { level2: listed } })}]`);
    const snapshot = (seq: number, product: string, bid: string) =>
      frame(seq, `"l2_data","events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"2025-12-06T05:46:40Z","price_level":"${bid}","new_quantity":"1.00"},{"side":"offer","event_time":"2025-12-06T05:46:40Z","price_level":"${Number(bid) + 1}.00","new_quantity":"2.00"}]}]`);
    const heartbeat = (seq: number, counter: number) => frame(seq, `"heartbeats","events":[{"current_time":"2025-12-06 05:46:40.000000000 +0000 UTC m=+1.0","heartbeat_counter":${counter}}]`);
    const request = (id: string, op: string, names: string[]) => event(`ws:req ${JSON.stringify([id, op, names])}`);
    // The first file: the socket, s1 and both snapshots.
    event("ws:open");
    request("s1", "subscribe", products);
    snapshot(0, "BTC-USD", "100.00");
    snapshot(1, "ETH-USD", "10.00");
    expect(states.at(-1)).toBe("BTC-USD live/snapshot_applied, ETH-USD live/snapshot_applied");
    // Lost: s1's answer (2), heartbeats (3, 4), and what made live resync ETH.
    r.gap(tsUs);
    event("ws:state");
    heartbeat(5, 3);
    request("u2", "unsubscribe", ["ETH-USD"]);
    answer(6, ["BTC-USD"]);
    request("s3", "subscribe", ["ETH-USD"]);
    answer(7, products);
    snapshot(8, "ETH-USD", "11.00");
    snapshot(9, "BTC-USD", "101.00");
    expect(states.filter((s) => s.includes("halted")), states.join("\n")).toEqual([]);
    expect(states.at(-1)).toBe("BTC-USD live/snapshot_applied, ETH-USD live/snapshot_applied");
    // The next socket's requests and answers are all in the capture: a refusal is matched (and halts) as live's.
    event("ws:close");
    event("ws:open");
    request("s4", "subscribe", products);
    answer(0, ["BTC-USD"]);
    expect(states.at(-1)).toBe("BTC-USD resyncing/disconnected, ETH-USD halted/subscribe_rejected");
  }

  function gapConfig(seed: number) {
    const products = ["BTC-USD", "ETH-USD"];
    const overrides = Object.fromEntries(products.map((p) => [`spot:${p}`, { tick_size: "0.01", lot_size: "0.01" }]));
    return validateConfig({
      log: { level: "error" },
      http: { enabled: false },
      publish: { startup_listen_ms: 0, destinations: [{ ...uniqueDestination(seed), interface: "127.0.0.1", ttl: 1 }] },
      venues: { coinbase: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", instrument_cache: join(makeTempDir("coinbase-replay-gap-"), "instruments.json"), spot: { symbols: products }, overrides } },
    });
  }
  const CONN = "conn0.spot";

  test("replay (Feeder): the answer after the gap is matched to no request before it; no product halted, the books LIVE at their snapshots", async () => {
    const feeder = new Feeder({ config: gapConfig(55), log: silentLogger, replay: true });
    await feeder.start();
    cleanup.push(() => feeder.stop());
    replayAcrossGap({
      ingest: (frame, tsUs) => feeder.ingest("coinbase", "spot", CONN, frame, tsUs),
      event: (url, tsUs) => feeder.ingestRest("coinbase", "spot", CONN, url, "", tsUs),
      gap: () => feeder.captureGap(),
      states: () => feeder.books().map((b) => `${b.instrument.symbol} ${BOOK_STATE_NAMES[b.state]}/${STATUS_REASON_NAMES[b.reason]}`).join(", "),
    });
  });

  /**
   * Live: ETH, missing from s1's answer, was halted; after the gap (its answer's socket still open) the listing's
   * re-check found ETH trading and subscribed it again (s2: ConnectionLifecycle.activateAll), answered, and ETH went
   * LIVE at its snapshot. Until 2026-12-07 replay ignored every `ws:req` after a gap (and in a replay begun mid-socket)
   * until the next `ws:open` or `ws:close`, so ETH stayed halted (SUB_REJECTED, its snapshot ignored) where live had it
   * LIVE. Now the request is read as every venue's (the rejected topic subscribed again) and only its answer is not
   * queued (VenueConnection.replayAcksKnown).
   */
  test("replay (Feeder): a product halted before the gap and subscribed again after it goes LIVE at its snapshot, as live", async () => {
    const feeder = new Feeder({ config: gapConfig(57), log: silentLogger, replay: true });
    await feeder.start();
    cleanup.push(() => feeder.stop());
    let tsUs = 1_765_000_000_000_000;
    const states = () => feeder.books().map((b) => `${b.instrument.symbol} ${BOOK_STATE_NAMES[b.state]}/${STATUS_REASON_NAMES[b.reason]}`).join(", ");
    const event = (url: string) => expect(feeder.ingestRest("coinbase", "spot", CONN, url, "", (tsUs += 1000))).toBe(true);
    const frame = (seq: number, body: string) => expect(feeder.ingest("coinbase", "spot", CONN, `{"channel":${body},"timestamp":"2025-12-06T05:46:40Z","sequence_num":${seq}}`, (tsUs += 1000))).toBe(true);
    const answer = (seq: number, listed: string[]) => frame(seq, `"subscriptions","events":[${JSON.stringify({ subscriptions: { level2: listed } })}]`);
    const snapshot = (seq: number, product: string, bid: string) =>
      frame(seq, `"l2_data","events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"2025-12-06T05:46:40Z","price_level":"${bid}","new_quantity":"1.00"},{"side":"offer","event_time":"2025-12-06T05:46:40Z","price_level":"${Number(bid) + 1}.00","new_quantity":"2.00"}]}]`);
    event("ws:open");
    event(`ws:req ${JSON.stringify(["s1", "subscribe", ["BTC-USD", "ETH-USD"]])}`);
    answer(0, ["BTC-USD"]);
    snapshot(1, "BTC-USD", "100.00");
    expect(states()).toBe("BTC-USD live/snapshot_applied, ETH-USD halted/subscribe_rejected");
    feeder.captureGap(); // lost: sequence_num 2 to 4
    event("ws:state");
    event(`ws:req ${JSON.stringify(["s2", "subscribe", ["ETH-USD"]])}`);
    answer(5, ["BTC-USD", "ETH-USD"]);
    snapshot(6, "ETH-USD", "11.00");
    snapshot(7, "BTC-USD", "101.00");
    expect(states()).toBe("BTC-USD live/snapshot_applied, ETH-USD live/snapshot_applied");
  });

  test("export --books: the same", async () => {
    const last = new Map<string, string>();
    const books = new BookReconstructor(gapConfig(56), 5, "jsonl", (row) => {
      const r = JSON.parse(row) as { symbol: string; state: string; reason: string };
      last.set(r.symbol, `${r.state}/${r.reason}`);
    }, silentLogger);
    expect(await books.start()).toBe(true);
    cleanup.push(() => books.stop());
    replayAcrossGap({
      ingest: (frame, tsUs) => books.ingest("coinbase", "spot", CONN, frame, tsUs),
      event: (url, tsUs) => books.ingestRest("coinbase", "spot", CONN, url, "", tsUs),
      gap: (tsUs) => books.captureGap(tsUs),
      states: () => ["BTC-USD", "ETH-USD"].map((p) => `${p} ${last.get(p) ?? "awaiting_snapshot/startup"}`).join(", "),
    });
  });
});

describe("coinbase record → replay: a product closed by its listing", { timeout: 30_000 }, () => {
  /**
   * Live: BTC delisted goes silent, STALE, its stale re-check finds it not online: HALTED / instrument_closed; online
   * again, subscribed and LIVE on its snapshot. Replayed with the capture's clock (the stale rounds run as live's) the
   * invalidations and states are live's. Until s-reprec replay redid no closure (it asks no listing): BTC stayed STALE
   * in replay where live had it halted, and came back with its subscribe all the same.
   */
  test("STALE, then HALTED / instrument_closed, then LIVE again: in replay as live, the books equal", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const sim = await startCoinbaseSimulator({ products, seed: 8, levels: 20 });
    cleanup.push(() => sim.stop());
    const config = coinbaseConfig(sim, products);
    const timing = { staleAfterMs: () => 400, housekeepingMs: 50 };
    let clockMs = 0;
    const replay = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, ...timing, now: () => clockMs });
    cleanup.push(() => replay.stop());
    const replaySink = new Sink((await replay.loadInstruments()) as Instrument[]);
    replay.startReplay(replaySink);
    const recorded: Recorded[] = [];
    const live = createCoinbaseAdapter(config, subsOf(products), {
      log: silentLogger,
      ...timing,
      listingRetryMs: 300,
      lateCheckMs: 20,
      ...recordInto(recorded),
    });
    cleanup.push(() => live.stop());
    const liveSink = new Sink((await live.loadInstruments()) as Instrument[]);
    live.start(liveSink);
    await waitFor(() => live.topicState(0).state === "live" && live.topicState(1).state === "live", "both books live");
    sim.setProductStatus("BTC-USD", "delisted");
    await waitFor(() => {
      sim.step(1);
      return live.topicState(0).state === "halted";
    }, "the delisted product halted");
    sim.setProductStatus("BTC-USD", "online");
    await waitFor(() => {
      sim.step(1); // ETH streams on: never stale in either run
      return live.topicState(0).state === "live";
    }, "live again");
    sim.step(2);
    await waitFor(() => [0, 1].every((i) => liveSink.matches(sim, i, products[i]!)), "both books at the venue's");
    await live.stop();
    expect(liveSink.invalid.filter((e) => e.index === 0)).toEqual([
      { index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED },
      { index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED },
    ]);
    for (const r of recorded) {
      clockMs = Math.max(clockMs, r.tsRecvUs / 1000);
      replay.replayClockAt(clockMs);
      if (r.frame !== undefined) replay.ingestFrame("spot", r.connection, r.frame, r.tsRecvUs);
      else expect(replay.ingestConnectionEvent("spot", r.connection, r.url!, r.tsRecvUs, r.body)).toBe(true);
    }
    expect(replaySink.invalid).toEqual(liveSink.invalid);
    expect([0, 1].map((i) => replay.topicState(i).state)).toEqual(["live", "live"]);
    for (const i of [0, 1]) {
      expect(replaySink.seq[i]).toBe(liveSink.seq[i]);
      expect(replaySink.bids[i]).toEqual(liveSink.bids[i]);
      expect(replaySink.asks[i]).toEqual(liveSink.asks[i]);
    }
  });
});
