/**
 * Deribit frames read as an adversary (rev28): a book notification whose `instrument_name` is not its channel's
 * instrument is refused (`instrument_mismatch`, that book alone resynced) instead of being applied to the channel's
 * book, and so is a change whose change_id goes below its own prev_change_id (`change_id_below_prev`) or equals it
 * with levels (`change_id_equals_prev`; an empty one is a duplicate); a snapshot below a live book's change_id that no subscribe asked for (the venue rebuilt the book with lower
 * ids) resyncs the book instead of being ignored with every change after it (the book frozen and LIVE), while an
 * older snapshot answering our own subscribe (a make-before-break's second socket) is still ignored; and a change
 * older than a live book on the socket that delivered its change_id (ids restarted low, the reset's snapshot lost) is
 * a venue reset, resynced at once (s-venrd; rev28 had such changes only stop counting as the channel being alive, so
 * the book stayed LIVE and frozen until it went stale).
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { DeribitSim } from "../../../src/sim/deribit-sim.ts";
import { seqReached, type TopicState, type VenueConnection } from "../../../src/venues/common/connection.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { startDeribit, until, type BookMaps, type PlannedRun } from "../planned-fallback-harness.ts";
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

  test("a change whose change_id equals its own prev_change_id: with levels refused (change_id_equals_prev), empty a duplicate", async () => {
    const { sim, adapter, sink, equal, feed } = await live();
    const last = adapter.topicInfo(0).lastChangeId;
    const updates = sink.updates;
    // No level change: no state change, as a change at the last id is (a duplicate, nothing published).
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${last},"prev_change_id":${last},"bids":[],"asks":[]}`));
    expect(sink.updates, "nothing published").toBe(updates);
    expect(adapter.stats().duplicates).toBe(1);
    expect(adapter.topicInfo(0).state).toBe("live");
    // Linked to the book but naming no new state: its levels cannot be placed in the chain. Before, applied, LIVE.
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${last},"prev_change_id":${last},"bids":[["new",100.5,10]],"asks":[]}`));
    expect(sink.updates, "nothing applied").toBe(updates);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect(adapter.stats()["parseErrors.change_id_equals_prev"]).toBe(1);
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed, ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });

  test("a change whose channel name is written with a JSON escape is the channel's: applied, nothing resynced", async () => {
    const { adapter, sink, feed } = await live();
    const last = adapter.topicInfo(0).lastChangeId;
    const updates = sink.updates;
    // `book.BTC\u002dPERPETUAL.100ms` is the channel once decoded. Before, the scanner called it unknown: the change
    // dropped and both books of the connection resynced (unknown_topic).
    const escaped = frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${last + 1},"prev_change_id":${last},"bids":[["new",100.5,10]],"asks":[]}`).replace("book.BTC-", "book.BTC\\u002d");
    feed(escaped);
    expect(sink.invalid).toEqual([]);
    expect(sink.updates).toBe(updates + 1);
    expect(sink.bids[0]!.get(1005)).toBe(10);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: last + 1 });
    expect(adapter.stats().unknownTopic).toBe(0);
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

describe("deribit: a change older than the book on the socket that delivered the book's change_id", { timeout: 20_000 }, () => {
  test("is the venue's ids gone back (the reset's snapshot lost): the book resyncs at once (venue_reset), not LIVE and frozen until stale", async () => {
    // (rev34: a grouped channel's whole book below the live one is a venue reset too: rev34-grouped-reset.test.ts.)
    // Before (s-venrd), such changes were ignored as duplicates and only stopped counting as the channel alive: the
    // book stayed LIVE with its old levels while the venue's moved on, until stale_after_ms (120 s for futures, 10 min
    // for options). TCP is ordered, so on the socket that delivered the book's change_id a lower one is no trailing
    // copy (only a make-before-break's other socket can trail: its older changes are still duplicates).
    const { sim, adapter, sink, equal, feed } = await live();
    const last = adapter.topicInfo(0).lastChangeId;
    const updates = sink.updates;
    // The last change again (a repeat): a duplicate, nothing invalidated.
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${last},"prev_change_id":${last - 1},"bids":[],"asks":[]}`));
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().duplicates).toBe(1);
    // Ids far below the book's, linked among themselves: the venue's book started again from ids we are past.
    feed(frame(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":6,"prev_change_id":5,"bids":[["new",100.5,10]],"asks":[]}`));
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    expect(sink.updates, "nothing applied").toBe(updates);
    expect(adapter.stats().venueResets).toBe(1);
    expect(adapter.stats().duplicates).toBe(1);
    expect(adapter.topicInfo(1).state).toBe("live");
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed with a fresh snapshot, ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });
});

describe("deribit: an older snapshot answering our own subscribe", { timeout: 30_000 }, () => {
  const runs: PlannedRun[] = [];
  afterEach(async () => {
    while (runs.length > 0) await runs.pop()!.stop();
  });

  test("a make-before-break replacement whose snapshot is behind the old socket is ignored, and its changes go on from the book", async () => {
    // Replacement (link 1, while the first socket is still open: a replacement, not a reconnect): its BTC frames are
    // held on its path until the old socket has moved the book past its snapshot, so the snapshot arrives behind the
    // book and its changes chain from it (until s-derijoin2 the test lowered the snapshot's id instead, a chain the
    // replacement's next change did not link to: now a break). Acks get room (the machine may be loaded): a recycled
    // first socket would make link 1 a reconnect, which this test is not about.
    const held: string[] = [];
    let holding = true;
    const hold = (f: string) => (holding && f.includes('"method":"subscription"') && f.includes(CHANNEL) ? (held.push(f), null) : f);
    const prepare = (p: WsProxy) => p.byIndex.set(1, { rewriteDown: hold });
    const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 1_500, { prepare, adapter: { ackTimeoutMs: 5_000 } });
    runs.push(run);
    run.step(1);
    // Whether the replacement had joined BTC's chain when the planned reconnect closed the old socket.
    type Planned = { closeRetiring(conn: VenueConnection, why: string, carrier?: string): void; onHousekeeping(conn: VenueConnection, now: number, judge?: boolean): void };
    const a = run.adapter as unknown as { topics: TopicState[]; conns: VenueConnection[]; lifecycle: { planned: Planned }; joined(t: TopicState, gen: number): boolean };
    const planned = a.lifecycle.planned;
    const close = planned.closeRetiring.bind(planned);
    const joinedAtClose: boolean[] = [];
    planned.closeRetiring = (conn, why, carrier) => {
      if (carrier === "replacement") joinedAtClose.push(a.joined(a.topics[0]!, conn.generation));
      close(conn, why, carrier);
    };
    const housekeeping = planned.onHousekeeping.bind(planned);
    let rounds = 0;
    planned.onHousekeeping = (conn, now, judge) => {
      rounds++;
      housekeeping(conn, now, judge);
    };
    await until(() => run.equal(0) && run.equal(1), "both books live");
    const conn = a.conns[0]!;
    await until(() => held.some((f) => f.includes('"type":"snapshot"')) && conn.retiringWs !== null && conn.pending.size === 0, "the replacement's snapshot on its path; its acks in");
    const snapshotId = Number(/"change_id":(\d+)/.exec(held[0]!)![1]);
    let polls = 0;
    await until(() => (run.adapter as DeribitAdapter).topicInfo(0).lastChangeId > snapshotId, "the old socket moved BTC past it", 10_000, () => void (++polls % 25 === 0 && run.step(1)));
    const link = run.proxy.links[1]!;
    link.client.send(held.shift()!); // the snapshot, behind the book: ignored
    await until(() => run.adapter.stats().olderSnapshots >= 1, "the replacement's snapshot, behind, ignored");
    // Housekeeping rounds with every ack in: the replacement still behind BTC's id, never at it.
    const seen = rounds;
    await until(() => rounds >= seen + 3, "three housekeeping rounds");
    expect(joinedAtClose, "the old socket kept while the replacement trails").toEqual([]);
    // Its changes on its path arrive, linked to its own snapshot: it reaches the book and the old socket goes.
    // (Until s-deritrail the old socket closed on the acks, the replacement still behind.)
    for (const f of held.splice(0)) link.client.send(f);
    holding = false;
    await until(() => run.proxy.links[0]!.closed, "the replacement caught up, the old socket closed", 10_000, () => void (++polls % 25 === 0 && run.step(1)));
    expect(joinedAtClose, "the old socket kept until the replacement joined the book").toEqual([true]);
    run.step(2);
    await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
    expect(run.sink.invalid).toEqual([]);
    const stats = run.adapter.stats();
    expect(stats.olderSnapshots).toBeGreaterThanOrEqual(1);
    expect(stats.venueResets).toBe(0);
    expect(stats.gaps).toBe(0);
  });

  test("the old socket gone while a replacement that joined a book is momentarily behind it: that book stays LIVE, as in replay", async () => {
    // BTC's replacement reaches the book's change_id (joined), then its frames are held while the old socket moves the
    // book on, and the old socket dies: the replacement trails BTC by a change at the close. ETH's replacement snapshot
    // claims an id below the book's (never joined: resynced at the close, and the old socket kept until then). Until
    // s-derijoin BTC was resynced too (only a replacement at the book's id at that instant counted).
    let proxy: WsProxy | null = null;
    const ETH = "book.ETH-PERPETUAL.100ms";
    const behind = (f: string) => (!proxy!.links[0]!.closed && f.includes('"type":"snapshot"') && f.includes(ETH) ? f.replace(/"change_id":(\d+)/, (_m, d: string) => `"change_id":${Number(d) - 1}`) : f);
    const prepare = (p: WsProxy) => ((proxy = p), p.byIndex.set(1, { rewriteDown: behind }));
    // The simulator keeps a socket whose test_requests go unanswered (the replacement's wait in the proxy below): with
    // its default (closed when the next one is due, 100 ms) a loaded machine's slower steps saw the held replacement
    // closed, the old socket gone back to (conn.generation its own), and "the replacement behind BTC" read true.
    const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 1_500, { prepare, adapter: { ackTimeoutMs: 5_000 }, heartbeatTimeoutMs: 60_000, record: true });
    runs.push(run);
    run.step(1);
    await until(() => run.equal(0) && run.equal(1), "both books live");
    const a = run.adapter as unknown as { topics: TopicState[]; conns: VenueConnection[] };
    const conn = a.conns[0]!;
    await until(() => run.adapter.stats().olderSnapshots >= 1 && conn.pending.size === 0 && seqReached(a.topics[0]!, conn.generation), "ETH's replacement snapshot behind, ignored; BTC reached; acks in");
    // In the overlap, the adapter's second socket opened (one proxy link per socket, in order): links[1] is conn.ws.
    expect({ overlap: conn.retiringWs !== null, connects: run.adapter.stats().connects, open: run.proxy.links.map((l) => !l.closed) }).toEqual({ overlap: true, connects: 2, open: [true, true] });
    const replacement = run.proxy.links[1]!;
    replacement.heldDown = []; // the replacement's frames wait: it falls behind the old socket
    const adapter = run.adapter as DeribitAdapter;
    const idBefore = adapter.topicInfo(0).lastChangeId;
    let polls = 0;
    const behindBtc = () => adapter.topicInfo(0).lastChangeId > idBefore && !seqReached(a.topics[0]!, conn.generation);
    await until(behindBtc, "the old socket moved BTC on, the replacement behind it", 10_000, () => void (++polls % 25 === 0 && run.step(1)));
    expect({ overlap: conn.retiringWs !== null, open: run.proxy.links.map((l) => !l.closed) }, "still the same two sockets").toEqual({ overlap: true, open: [true, true] });
    run.proxy.closeClient(run.proxy.links[0]!); // the old socket dies
    await until(() => run.sink.invalid.length > 0 && conn.retiringWs === null, "the old socket gone, ETH left LIVE");
    expect(run.sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    expect(adapter.topicInfo(0).state).toBe("live");
    run.proxy.releaseDown(replacement); // its trail, then on from the book
    run.step(2);
    await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
    expect(run.sink.invalid).toHaveLength(1);
    expect(run.adapter.stats()).toMatchObject({ reconnects: 0, gaps: 0, venueResets: 0 });
    // The capture (its socket events) replayed: BTC LIVE through the close there too, the same books.
    const again = await run.replay();
    const books = (sink: BookMaps) => run.subs.map((_, i) => ({ seq: sink.seq[i], bids: sink.bids[i], asks: sink.asks[i] }));
    expect({ invalid: again.invalid, books: books(again) }).toEqual({ invalid: run.sink.invalid, books: books(run.sink) });
  });

  test("the old socket gone while the replacement still trails a book: that book resyncs (it cannot be proven current), the other stays LIVE", async () => {
    // The replacement's BTC snapshot claims an id below the book's (trailing, as a venue reset's new run below the book
    // would look), then the old socket dies before the replacement reaches the book. Until s-deritrail the book stayed
    // LIVE on the trailing replacement, and a reset whose new ids fell between its own last id and the book's was never
    // found (until a change failed to link or the channel went stale).
    let proxy: WsProxy | null = null;
    const behind = (f: string) => (!proxy!.links[0]!.closed && f.includes('"type":"snapshot"') && f.includes(CHANNEL) ? f.replace(/"change_id":(\d+)/, (_m, d: string) => `"change_id":${Number(d) - 1}`) : f);
    const prepare = (p: WsProxy) => ((proxy = p), p.byIndex.set(1, { rewriteDown: behind }));
    const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 1_500, { prepare, adapter: { ackTimeoutMs: 5_000 }, record: true });
    runs.push(run);
    run.step(1);
    await until(() => run.equal(0) && run.equal(1), "both books live");
    // The replacement has reached ETH's change_id (its snapshot, equal or newer): ETH is proven current on it.
    const a = run.adapter as unknown as { topics: TopicState[]; conns: VenueConnection[] };
    await until(() => run.adapter.stats().olderSnapshots >= 1 && seqReached(a.topics[1]!, a.conns[0]!.generation), "the replacement's BTC snapshot, behind, ignored; ETH reached");
    const adapter = run.adapter as DeribitAdapter;
    const idBefore = adapter.topicInfo(0).lastChangeId;
    if (!run.proxy.links[0]!.closed) run.proxy.closeClient(run.proxy.links[0]!); // the old socket dies first
    await until(() => run.sink.invalid.length > 0, "BTC left LIVE");
    expect(run.sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    await until(() => adapter.topicInfo(0).state === "live", "BTC LIVE again from the replacement's fresh snapshot");
    expect(adapter.topicInfo(0).lastChangeId).toBeGreaterThanOrEqual(idBefore);
    run.step(2);
    await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
    expect(run.sink.invalid.length).toBe(1);
    expect(run.adapter.stats().reconnects).toBe(0);
    // The capture (its socket events) replayed: the same resync at the same point, the same books.
    const again = await run.replay();
    const books = (sink: BookMaps) => run.subs.map((_, i) => ({ seq: sink.seq[i], bids: sink.bids[i], asks: sink.asks[i] }));
    expect({ invalid: again.invalid, books: books(again) }).toEqual({ invalid: run.sink.invalid, books: books(run.sink) });
  });
});
