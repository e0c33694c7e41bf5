/**
 * Deribit frames read as an adversary (rev28): a book notification whose `instrument_name` is not its channel's
 * instrument is refused (`instrument_mismatch`, that book alone resynced) instead of being applied to the channel's
 * book, and so is a change whose change_id goes below its own prev_change_id (`change_id_below_prev`); a snapshot below a live book's change_id that no subscribe asked for (the venue rebuilt the book with lower
 * ids) resyncs the book instead of being ignored with every change after it (the book frozen and LIVE), while an
 * older snapshot answering our own subscribe (a make-before-break's second socket) is still ignored; and frames
 * older than a live book (changes whose ids restarted low) no longer count as the channel being alive, so such a
 * book goes stale and is resynced instead of staying LIVE and frozen.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startDeribitSimulator, type DeribitSim } from "../../../src/sim/deribit-sim.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { startDeribit, until, type PlannedRun } from "../planned-fallback-harness.ts";
import type { WsProxy } from "../ws-proxy.ts";
import { equalsSim, Sink, startAdapter } from "./helpers.ts";

const SUBS: Subscription[] = [
  { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
  { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
];
const CHANNEL = "book.BTC-PERPETUAL.100ms";
const frame = (data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":${data}}}`;

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

async function live(): Promise<{ sim: DeribitSim; adapter: DeribitAdapter; sink: Sink; equal: (i: number) => boolean; feed: (f: string) => void }> {
  const { sim, adapter, sink, instruments } = await startAdapter(running, SUBS);
  const equal = (i: number) => equalsSim(sim, sink, SUBS, instruments, i);
  adapter.start(sink);
  sim.step(1);
  await until(() => equal(0) && equal(1), "both books live");
  // Frames as if they came on the books' socket (the adapter's frame entry, as replay uses it).
  const feed = (f: string) => expect(adapter.ingestFrame("inverse", `conn${adapter.topicInfo(0).connection}.inverse`, f, 0)).toBe(true);
  return { sim, adapter, sink, equal, feed };
}

describe("deribit: frames read as an adversary", { timeout: 20_000 }, () => {
  test("a change naming another instrument than its channel's is refused (instrument_mismatch): that book alone resyncs, nothing applied", async () => {
    const { sim, adapter, sink, equal, feed } = await live();
    const last = adapter.topicInfo(0).lastChangeId;
    const updates = sink.updates;
    // Linked to the book and readable in every other way: only instrument_name says it is ETH's data.
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"ETH-PERPETUAL","change_id":${last + 1},"prev_change_id":${last},"bids":[["new",100.5,10]],"asks":[]}`));
    expect(sink.updates, "nothing applied").toBe(updates);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect(adapter.stats()["parseErrors.instrument_mismatch"]).toBe(1);
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed, ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });

  test("a change whose change_id is below its own prev_change_id is refused (change_id_below_prev): nothing applied, that book alone resyncs", async () => {
    const { sim, adapter, sink, equal, feed } = await live();
    const last = adapter.topicInfo(0).lastChangeId;
    const updates = sink.updates;
    // Linked to the book (prev_change_id = its last id) but going back: before, applied and published LIVE.
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${last - 10},"prev_change_id":${last},"bids":[["new",100.5,10]],"asks":[]}`));
    expect(sink.updates, "nothing applied").toBe(updates);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect(adapter.stats()["parseErrors.change_id_below_prev"]).toBe(1);
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed, ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });

  test("a snapshot below the live book's change_id that no subscribe asked for resyncs the book (venue reset); the changes after it are not ignored as duplicates", async () => {
    const { sim, adapter, sink, equal, feed } = await live();
    const updates = sink.updates;
    // The venue rebuilt BTC's book with ids starting low: a snapshot at 5, then a change linked to it.
    feed(frame(`{"type":"snapshot","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":5,"bids":[["new",100.5,10]],"asks":[["new",101,10]]}`));
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":6,"prev_change_id":5,"bids":[["new",100.5,20]],"asks":[]}`));
    // Before: both ignored (olderSnapshots, duplicates), the book LIVE with the old levels for good.
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    expect(sink.updates).toBe(updates);
    expect(adapter.stats().venueResets).toBe(1);
    expect(adapter.topicInfo(1).state).toBe("live");
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed with a fresh snapshot, ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });
});

describe("deribit: frames older than the book are no sign of life", { timeout: 20_000 }, () => {
  test("a channel sending only changes older than the live book (ids restarted low, the reset's snapshot lost) goes stale and is resynced", async () => {
    // (rev34: a grouped channel's whole book below the live one is a venue reset, resynced at once: rev34-grouped-reset.test.ts.)
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 5 });
    const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: `${makeTempDir("deribit-rev28-")}/i.json`, markets: [{ market: "inverse" as const, depth: 0, symbols: ["BTC-PERPETUAL"] }], overrides: new Map() };
    // The adapter's clock is ours: only the steps below move it (no dead-connection rule in the way).
    let clock = 1_000_000;
    const adapter = new DeribitAdapter(config, subs, { log: silentLogger, now: () => clock, staleAfterMs: () => 10_000, housekeepingMs: 5, deadConnectionMs: 1e12 });
    running.push({ stop: async () => (await adapter.stop(), await sim.stop()) });
    await adapter.loadInstruments();
    const sink = new Sink();
    adapter.start(sink);
    sim.step(1);
    await until(() => adapter.topicInfo(0).state === "live", "the book live");
    for (let k = 0; k < 5; k++) {
      clock += 3_000;
      // Changes with ids far below the book's: ignored as duplicates (the book stays as it was) ...
      adapter.ingestFrame("inverse", "conn0.inverse", frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${6 + k},"prev_change_id":${5 + k},"bids":[["new",100.5,${10 + k}]],"asks":[]}`), 0);
    }
    // ... and, 15 s of the adapter's clock on, no longer taken as the channel being alive: before, each one was, and
    // the frozen book stayed LIVE for as long as they came.
    await until(() => sink.invalid.length > 0, "the book found stale");
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    expect(adapter.stats().duplicates).toBe(5);
    await until(() => adapter.topicInfo(0).state === "live" && adapter.topicInfo(0).lastChangeId === sim.book("inverse", "BTC-PERPETUAL", 0).changeId, "resubscribed: the venue's book again");
  });
});

describe("deribit: an older snapshot answering our own subscribe", { timeout: 30_000 }, () => {
  const runs: PlannedRun[] = [];
  afterEach(async () => {
    while (runs.length > 0) await runs.pop()!.stop();
  });

  test("a make-before-break replacement whose snapshot is behind the old socket is ignored, and its changes go on from the book", async () => {
    // Replacement (link 1, while the first socket is still open: a replacement, not a reconnect): its BTC snapshot
    // claims an id one below the one the book holds (the replacement behind the old socket). Acks get room (the
    // machine may be loaded): a recycled first socket would make link 1 a reconnect, which this test is not about.
    let proxy: WsProxy | null = null;
    const behind = (f: string) => (!proxy!.links[0]!.closed && f.includes('"type":"snapshot"') && f.includes(CHANNEL) ? f.replace(/"change_id":(\d+)/, (_m, d: string) => `"change_id":${Number(d) - 1}`) : f);
    const prepare = (p: WsProxy) => ((proxy = p), p.byIndex.set(1, { rewriteDown: behind }));
    const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 1_500, { prepare, adapter: { ackTimeoutMs: 5_000 } });
    runs.push(run);
    run.step(1);
    await until(() => run.equal(0) && run.equal(1), "both books live");
    await until(() => run.proxy.links.length >= 2 && run.proxy.links[0]!.closed, "the replacement took over, the old socket closed");
    run.step(2);
    await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
    expect(run.sink.invalid).toEqual([]);
    const stats = run.adapter.stats();
    expect(stats.olderSnapshots).toBeGreaterThanOrEqual(1);
    expect(stats.venueResets).toBe(0);
  });
});
