/**
 * A capture replayed with fewer products than the live run recorded (its config leaves one out): an event of the
 * left-out product names no product of the replay's connection. Live had that product, so the frame was one of its
 * connection's sequence and touched no other book: replay takes its sequence_num and nothing else, as for the other
 * venues' left-out topics (VenueConnection.replayAsked: a recorded ws:req of the connection named it). Until s-rd21a
 * each such frame was an unreadable one (unknown_product): every book of the connection resynced, on every frame of the
 * left-out product, where live's stayed LIVE (until s-unkcount still so while the connection's requests were not
 * known: the frames replayed without their socket events). A product no recorded request named (garbled) still resyncs,
 * and, while the requests are not known, an update of a product whose snapshot never came on the socket (s-coinerr).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, type Recorded, Sink, startRecording, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});


describe("coinbase record → replay with a product left out", { timeout: 20_000 }, () => {
  test("the left-out product's frames take the sequence and touch nothing: the kept book as live's; a garbled product still resyncs", async () => {
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], levels: 20, seed: 5 });
    cleanup.push(() => sim.stop());
    const products = ["BTC-USD", "ETH-USD"];
    const config = coinbaseConfig(sim, products);
    const { live, liveSink, recorded } = await startRecording(config, products, cleanup);
    sim.step(1);
    await waitFor(() => [0, 1].every((i) => liveSink.matches(sim, i, products[i]!)), "both books live");
    sim.step(3);
    await waitFor(() => [0, 1].every((i) => liveSink.matches(sim, i, products[i]!)), "both books go on");
    await live.stop();
    expect(liveSink.invalid).toEqual([]);
    const ethFrames = recorded.filter((r) => r.frame?.includes('"product_id":"ETH-USD"') && r.frame.includes('"l2_data"')).length;
    expect(ethFrames).toBeGreaterThan(1);

    const narrow = { ...coinbaseConfig(sim, ["BTC-USD"]), instrumentCachePath: config.instrumentCachePath };
    const again = createCoinbaseAdapter(narrow, subsOf(["BTC-USD"]), { log: silentLogger });
    cleanup.push(() => again.stop());
    const sink = new Sink((await again.loadInstruments()) as Instrument[]);
    again.startReplay(sink);
    const feed = (r: Recorded) => {
      if (r.frame !== undefined) again.ingestFrame("spot", r.connection, r.frame, r.tsRecvUs);
      else again.ingestConnectionEvent("spot", r.connection, r.url!, r.tsRecvUs, r.body);
    };
    for (const r of recorded) feed(r);
    expect(sink.invalid).toEqual([]);
    expect(again.topicState(0).state).toBe("live");
    expect(sink.seq[0]).toBe(liveSink.seq[0]);
    expect(sink.bids[0]).toEqual(liveSink.bids[0]);
    expect(sink.asks[0]).toEqual(liveSink.asks[0]);
    // The same frames without the socket events (a capture from before requests were recorded): live's requests are
    // not known, so an event of a product not on the connection whose snapshot came on the socket (a subscribe's: one
    // live asked for) is skipped, the frame's sequence taken. Until s-unkcount each ETH-USD frame was unreadable here:
    // every book of the connection resynced, not counted as live never did.
    const later = createCoinbaseAdapter(narrow, subsOf(["BTC-USD"]), { log: silentLogger });
    cleanup.push(() => later.stop());
    const laterSink = new Sink((await later.loadInstruments()) as Instrument[]);
    later.startReplay(laterSink);
    for (const r of recorded) if (r.frame !== undefined) later.ingestFrame("spot", r.connection, r.frame, r.tsRecvUs);
    expect(laterSink.invalid).toEqual([]);
    expect([later.stats().unknownTopic, later.stats().connectionResyncs]).toEqual([0, 0]);
    expect(laterSink.seq[0]).toBe(liveSink.seq[0]);
    expect(laterSink.bids[0]).toEqual(liveSink.bids[0]);
    // A capture gap after the snapshots (the requests unknown from there): ETH-USD's snapshot came on the socket
    // before it, so its updates after it are still a left-out product's, skipped (not taken for garbled ones).
    const gapped = createCoinbaseAdapter(narrow, subsOf(["BTC-USD"]), { log: silentLogger });
    cleanup.push(() => gapped.stop());
    const gappedSink = new Sink((await gapped.loadInstruments()) as Instrument[]);
    gapped.startReplay(gappedSink);
    const firstUpdate = recorded.findIndex((r) => r.frame?.includes('"type":"update"'));
    expect(firstUpdate).toBeGreaterThan(0);
    recorded.forEach((r, i) => {
      if (i === firstUpdate) gapped.replayCaptureGap();
      if (r.frame !== undefined) gapped.ingestFrame("spot", r.connection, r.frame, r.tsRecvUs);
      else gapped.ingestConnectionEvent("spot", r.connection, r.url!, r.tsRecvUs, r.body);
    });
    expect([gappedSink.invalid, gapped.stats().connectionResyncs]).toEqual([[], 0]);
    expect(gappedSink.bids[0]).toEqual(liveSink.bids[0]);
    // A product live never asked for (a garbled id) is unknown to live too: the connection resyncs, as live's did.
    const last = recorded.findLast((r) => r.frame?.includes('"l2_data"'))!;
    expect(last.frame).toContain('"type":"update"');
    const seq = Math.max(...recorded.map((r) => Number(/"sequence_num":(\d+)/.exec(r.frame ?? "")?.[1] ?? -1)));
    const garbled = last.frame!.replace(/"sequence_num":\d+/, `"sequence_num":${seq + 1}`).replaceAll(/"product_id":"[A-Z]+-USD"/g, '"product_id":"BTC-USX"');
    feed({ ...last, frame: garbled });
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    // So too while the requests are not known: an update of a product whose snapshot never came on the socket. The
    // connection's one sequence_num took the frame, so nothing else would show BTC-USD missed an update: until
    // s-coinerr it was skipped there and BTC-USD stayed LIVE at levels live no longer had (live resynced it).
    later.ingestFrame("spot", last.connection, garbled, last.tsRecvUs);
    expect(laterSink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect([later.stats().unknownTopic, later.stats().connectionResyncs]).toEqual([1, 1]);
  });
});
