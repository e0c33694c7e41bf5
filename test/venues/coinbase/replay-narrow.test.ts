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

/**
 * While the requests are not known, the recording's next socket is told by sequence_num 0 again (onReplayedSocket),
 * found once that frame is read: a left-out product's snapshot in that very frame (the heartbeats subscribe refused,
 * so the first numbered frame is a level2 snapshot) was noted, then forgotten with the old socket's. Until s-rd26a its
 * updates on the new socket were then taken for a garbled product's: every book of the connection resynced, where
 * live's stayed LIVE.
 */
describe("coinbase replay, requests not known: a left-out product's snapshot in the next socket's first frame", { timeout: 20_000 }, () => {
  test("is kept for that socket: its updates skipped, the kept book LIVE as live's", async () => {
    const products = ["ETH-USD", "BTC-USD"];
    const sim = await startCoinbaseSimulator({ products, levels: 5, seed: 6, refuseHeartbeats: 1 });
    cleanup.push(() => sim.stop());
    const config = coinbaseConfig(sim, products);
    const { live, liveSink, recorded } = await startRecording(config, products, cleanup);
    sim.step(1);
    await waitFor(() => [0, 1].every((i) => liveSink.matches(sim, i, products[i]!)), "both books live");
    sim.step(2);
    await waitFor(() => [0, 1].every((i) => liveSink.matches(sim, i, products[i]!)), "both books go on");
    await live.stop();
    const frames = recorded.filter((r) => r.frame?.includes('"sequence_num"'));
    expect(frames[0]!.frame).toMatch(/"sequence_num":0,.*"type":"snapshot","product_id":"ETH-USD"/);
    expect(frames.some((r) => r.frame!.includes('"type":"update","product_id":"ETH-USD"'))).toBe(true);

    const narrow = { ...coinbaseConfig(sim, ["BTC-USD"]), instrumentCachePath: config.instrumentCachePath };
    const replayed = createCoinbaseAdapter(narrow, subsOf(["BTC-USD"]), { log: silentLogger });
    cleanup.push(() => replayed.stop());
    const sink = new Sink((await replayed.loadInstruments()) as Instrument[]);
    replayed.startReplay(sink);
    // The socket's frames twice, without socket events (a capture gap took them): the second time another socket's
    // (stamped a year later, so not repeats), numbered from 0 again.
    const lastUs = frames.at(-1)!.tsRecvUs;
    for (const r of frames) replayed.ingestFrame("spot", r.connection, r.frame!, r.tsRecvUs);
    expect([sink.invalid, replayed.topicState(0).state]).toEqual([[], "live"]);
    expect(sink.bids[0]).toEqual(liveSink.bids[1]); // BTC-USD: live's second book
    for (const r of frames) replayed.ingestFrame("spot", r.connection, r.frame!.replaceAll('"timestamp":"2', '"timestamp":"3'), lastUs + r.tsRecvUs);
    // Before: [DISCONNECTED, then PARSE_ERROR at ETH-USD's first update], the book RESYNCING to the end.
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    expect([replayed.topicState(0).state, replayed.stats().connectionResyncs, replayed.stats().unknownTopic]).toEqual(["live", 0, 0]);
    expect(sink.bids[0]).toEqual(liveSink.bids[1]);
  });
});
