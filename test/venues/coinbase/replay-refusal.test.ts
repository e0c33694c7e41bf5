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
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator, type CoinbaseSimOptions } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, Sink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** BTC, ETH and SOL are served; NOPE-USD (index 1) resolves through an override, so it is in the first subscribe. */
const PRODUCTS = ["BTC-USD", "NOPE-USD", "ETH-USD", "SOL-USD"];
const GOOD = [0, 2, 3];
type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number };

async function recordAndReplay(reply: CoinbaseSimOptions["unknownProductReply"], refuseHeartbeats = 0) {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD", "SOL-USD"], levels: 20, seed: 5, unknownProductReply: reply, refuseHeartbeats, heartbeatMs: 50 });
  cleanup.push(() => sim.stop());
  const config = { ...coinbaseConfig(sim, PRODUCTS), overrides: new Map([["spot:NOPE-USD", { tickSize: "0.01", lotSize: "0.01" }]]) };
  const recorded: Recorded[] = [];
  const live = createCoinbaseAdapter(config, subsOf(PRODUCTS), {
    log: silentLogger,
    onRawFrame: (_m, connection, frame, tsRecvUs) => void recorded.push({ frame, connection, tsRecvUs }),
    onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs }),
  });
  cleanup.push(() => live.stop());
  const liveSink = new Sink((await live.loadInstruments()) as Instrument[]);
  live.start(liveSink);
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

describe("coinbase replay begun mid-socket (a later capture file): answers to requests of an earlier file", () => {
  /**
   * The file's head is `ws:state` (no `ws:open`): requests written before it may still be unanswered, and a
   * subscriptions event answers the oldest message, carrying no id. Here live wrote s1 (BTC) in the earlier file and
   * s2 (ETH) in this one before s1's answer came (listing BTC alone), then s2's (both). Until 2026-12-07 (s-rdrepd2)
   * replay queued s2 alone and took s1's answer for it: ETH, missing from it, was halted where live kept it.
   */
  test("an answer whose request the replay never saw is matched to no later request; after the next ws:open they are matched again", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const config = { ...coinbaseConfig({ wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1" }, products), overrides: new Map(products.map((p) => [`spot:${p}`, { tickSize: "0.01", lotSize: "0.01" }])) };
    const adapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger });
    cleanup.push(() => adapter.stop());
    const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
    adapter.startReplay(sink);
    const conn = adapter.connectionOf(0);
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
