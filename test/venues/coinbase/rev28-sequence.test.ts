/**
 * Coinbase's sequence read as an adversary (rev28): a heartbeat newer than the last one seen on its socket (its
 * heartbeat_counter past the last) whose sequence_num is not past the last is no repeat: the socket's sequence went
 * back. Before, it was ignored as a duplicate, and so would every frame after it have been (all at or below the
 * last number): the connection's books frozen and LIVE. Likewise any frame numbered as one taken that is not that
 * frame (s-coinb: before, only one stamped later than every frame taken, which assumed a repeat keeps its original
 * time and missed a restarted numbering stamped earlier). Now every book of that connection resyncs, as on a gap;
 * the other connection's are untouched. A frame repeated as it was is still a duplicate.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter, type CoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, Sink, startIntoSink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];
/** A time before anything the simulator stamps in these tests (a repeat carries its original, earlier time). */
const TS = "2026-01-01T00:00:00.000000Z";
const heartbeat = (seq: number, counter: number) =>
  `{"channel":"heartbeats","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"current_time":"${TS}","heartbeat_counter":${counter}}]}`;

async function setup(): Promise<{ sim: CoinbaseSim; adapter: CoinbaseAdapter; sink: Sink; allMatch: () => boolean; conn0: string; framesOf: (c: string) => string[] }> {
  const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 21, levels: 20, heartbeatMs: 20 });
  const frames = new Map<string, string[]>();
  const onRawFrame = (_m: string, c: string, f: string) => void (frames.get(c) ?? frames.set(c, []).get(c)!).push(f);
  const adapter = createCoinbaseAdapter(coinbaseConfig(sim, PRODUCTS), subsOf(PRODUCTS), { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, maxProductsPerConnection: 2, onRawFrame });
  const sink = await startIntoSink(sim, adapter, cleanup);
  sim.step(1);
  const allMatch = () => PRODUCTS.every((p, i) => sink.matches(sim, i, p));
  await waitFor(allMatch, "books live");
  const conn0 = adapter.connectionOf(0);
  const heartbeatsOn = (c: string) => adapter.metrics().find((m) => m.name === "heartbeats_total" && m.labels.connection === c)?.value ?? 0;
  await waitFor(() => heartbeatsOn(conn0) >= 2, "heartbeats on the first connection");
  return { sim, adapter, sink, allMatch, conn0, framesOf: (c) => frames.get(c) ?? [] };
}

/**
 * Every book of the first connection (0 and 1) resynced as on a gap, once, the other connection's (2) untouched; all
 * equal to the simulator's again on a new socket, with nothing more invalidated.
 */
async function expectConnectionResynced({ sim, adapter, sink, allMatch }: Awaited<ReturnType<typeof setup>>, gapsBefore: number): Promise<void> {
  expect(sink.invalid).toEqual([
    { index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP },
    { index: 1, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP },
  ]);
  expect(adapter.stats().gaps).toBe(gapsBefore + 1);
  sim.step(2);
  await waitFor(allMatch, "books equal again on a new socket");
  expect(sink.invalid).toHaveLength(2);
}

describe("coinbase: sequence_num going back on a socket", { timeout: 20_000 }, () => {
  test("a new heartbeat (counter past the last) with a sequence_num at or below the last resyncs every book of its connection, not the other's", async () => {
    const run = await setup();
    const { adapter, conn0 } = run;
    const gaps = adapter.stats().gaps!;
    // The socket's numbering restarted: sequence_num 0 on a heartbeat no earlier one can be (its counter is past all).
    expect(adapter.ingestFrame("spot", conn0, heartbeat(0, 1_000_000_000), 0)).toBe(true);
    await expectConnectionResynced(run, gaps);
  });

  test("an l2_data frame stamped after every frame taken, with a sequence_num not past the last, resyncs its connection: a young socket's restarted numbering cannot catch up unseen", async () => {
    const run = await setup();
    const { adapter, conn0 } = run;
    const gaps = adapter.stats().gaps!;
    // Sequence 0 again (a repeat would carry its own, earlier time), stamped a day after anything the socket sent.
    const later = "2099-01-01T00:00:00.000000Z";
    const frame = `{"channel":"l2_data","client_id":"","timestamp":"${later}","sequence_num":0,"events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}`;
    expect(adapter.ingestFrame("spot", conn0, frame, 0)).toBe(true);
    await expectConnectionResynced(run, gaps);
  });

  test("a frame with a number already taken, stamped before the last frame taken, that is not the frame taken with that number resyncs its connection", async () => {
    const run = await setup();
    const { adapter, conn0 } = run;
    const gaps = adapter.stats().gaps!;
    // Before, only a frame stamped after every frame taken counted as the numbering going back: this one (sequence 1,
    // an earlier time, an update no frame 1 carried) was ignored as a repeat, and so would the restarted numbering be.
    const frame = `{"channel":"l2_data","client_id":"","timestamp":"${TS}","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}`;
    expect(adapter.ingestFrame("spot", conn0, frame, 0)).toBe(true);
    await expectConnectionResynced(run, gaps);
  });

  test("a frame repeated as it was (the same text as the one taken with its number) is still a duplicate: ignored, nothing resynced", async () => {
    const { adapter, sink, conn0, framesOf } = await setup();
    const dups = adapter.stats().duplicates!;
    const taken = framesOf(conn0);
    // The first frames the socket took (a snapshot, the subscriptions event, heartbeats) and the latest one, again.
    for (const f of [taken[0]!, taken[1]!, taken.at(-1)!]) expect(adapter.ingestFrame("spot", conn0, f, 0)).toBe(true);
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().duplicates).toBe(dups + 3);
  });
});

describe("coinbase replay: a repeat of a socket's first frame", { timeout: 20_000 }, () => {
  test("a capture holding a repeat of the frame taken with sequence_num 0 replays as live took it: a duplicate, not the recording's next socket", async () => {
    // Before (s-rev40), replay read any sequence_num 0 at or below the last as the next socket before asking whether
    // it was a repeat: live ignored the repeated frame, replay invalidated the connection's books and, the numbering
    // going on from the old socket's, saw a gap and kept them waiting for snapshots the capture never holds.
    const { sim, adapter, sink, conn0, framesOf, allMatch } = await setup();
    const dups = adapter.stats().duplicates!;
    expect(adapter.ingestFrame("spot", conn0, framesOf(conn0)[0]!, 0)).toBe(true); // recorded by the tap, as a live repeat would be
    expect(adapter.stats().duplicates).toBe(dups + 1);
    sim.step(2);
    await waitFor(allMatch, "books equal");
    expect(sink.invalid).toEqual([]);
    const replay = createCoinbaseAdapter(coinbaseConfig(sim, PRODUCTS), subsOf(PRODUCTS), { log: silentLogger, maxProductsPerConnection: 2 });
    cleanup.push(() => replay.stop());
    const rs = new Sink((await replay.loadInstruments()) as Instrument[]);
    replay.startReplay(rs);
    for (const c of [conn0, adapter.connectionOf(2)]) for (const f of [...framesOf(c)]) replay.ingestFrame("spot", c, f, 0);
    expect(rs.invalid).toEqual([]);
    expect(PRODUCTS.every((p, i) => rs.matches(sim, i, p))).toBe(true);
    expect(replay.stats().duplicates).toBe(1);
  });
});
