/**
 * A Binance stream refused (given up: HALTED / SUBSCRIBE_REJECTED) while its book bridges, its REST snapshot in flight
 * and its diffs buffered: the snapshot's arrival must not bridge the halted book to LIVE. Before, the adapter's
 * invalidate hook cancelled nothing: the answer was supplied to the still-open bridge, the buffered diffs bridged it,
 * and the book went LIVE though its stream was no longer subscribed (OKX had the same hole, fixed in s-rdrepd2).
 * The refusal is the subscription control's own (its reject, as for a venue's "invalid symbol"), called directly: the
 * simulator refuses a stream only at a subscribe, before any of its diffs. Refused for now, the diffs the simulator
 * still streams must start no new bridge until the subscribe is accepted again (s-refold). Also here, on the same
 * offline adapter: a malformed frame of a stream that feeds no book, or of one waiting out its resync backoff, and a
 * frame of a stream not on the connection (an unknown topic: counted once), or a depth update naming no depth stream.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_UNSUBSCRIBING, type TopicState } from "../../../src/venues/common/connection.ts";
import { SCAN_ERR_NUMBER, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX } from "../../../src/venues/binance/scan-codes.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

interface Internals {
  topics: TopicState[];
  control: { reject(t: TopicState, msg: string): void; retryAfterError(conn: unknown, t: TopicState, msg: string): void };
}

/** One stream bridging (diffs past its snapshot buffered, the snapshot's answer held), refused by `refuse`, then answered. */
async function refusedWhileBridging(refuse: (x: Internals) => void, state: BookState) {
  const symbols = ["AUSDT"];
  const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 3 });
  // The depth snapshot's answer is held until the test lets it go (after the refusal), as a slow REST answer is.
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  let depthAsked = 0;
  // Snapshots asked for, and books made LIVE, while the stream's subscribe stood refused (not yet accepted again).
  let askedWhileRefused = 0;
  let liveWhileRefused = 0;
  const refusedNow = () => (adapter as unknown as Internals).topics[0]!.subscribeErrorStreak > 0;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (!String(input).includes("/depth")) return fetch(input, init);
    depthAsked++;
    if (refusedNow()) askedWhileRefused++;
    const res = await fetch(input, init); // the simulator's book now: the diffs after it are buffered meanwhile
    await released;
    return res;
  }) as typeof fetch;
  const recorded: string[] = [];
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 100 }));
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-halted-bridge"), "i.json"),
    markets: [{ market: "spot", depth: 100, symbols }],
    overrides: new Map(),
  };
  const adapter = new BinanceAdapter(config, subs, { log: silentLogger, fetch: fetchFn, onRawRest: (_m, _c, url) => void (url.includes("/depth") && recorded.push(url)) });
  stops.push(async () => {
    release();
    await adapter.stop();
    await sim.stop();
  });
  const sink = new BookMaps(await adapter.loadInstruments());
  let updates = 0;
  const onBookUpdate = sink.onBookUpdate.bind(sink);
  sink.onBookUpdate = (i, u) => {
    updates++;
    if (u.isSnapshot && refusedNow()) liveWhileRefused++;
    onBookUpdate(i, u);
  };
  adapter.start(sink);
  const stepUntil = (cond: () => boolean, what: string) =>
    until(() => {
      sim.step(1);
      return cond();
    }, what);
  await stepUntil(() => depthAsked === 1 && adapter.topicInfo(0).bridging && adapter.stats().bridgeBufferedBytes! > 0, "diffs buffered, the snapshot asked for");
  await stepUntil(() => sim.stats.depthRequests === 1, "the snapshot taken");
  const before = adapter.stats().messages!;
  await stepUntil(() => adapter.stats().messages! >= before + 5, "diffs past the snapshot buffered");

  refuse(adapter as unknown as Internals);
  expect(sink.invalid).toEqual([{ index: 0, state, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  expect(adapter.topicInfo(0).bridging).toBe(false);
  expect(adapter.stats().bridgeBufferedBytes).toBe(0);

  // The answer comes (diffs keep coming from the simulator, which still streams it): before, LIVE from here.
  release();
  return { adapter, sim, sink, stepUntil, updates: () => updates, recorded, whileRefused: () => ({ asked: askedWhileRefused, live: liveWhileRefused }) };
}

describe("Binance: a book whose stream is refused keeps no REST bridge", () => {
  test("halted (given up): the snapshot in flight at the refusal is dropped unrecorded; the book stays HALTED, nothing published", async () => {
    const { adapter, stepUntil, updates, recorded } = await refusedWhileBridging((x) => x.control.reject(x.topics[0]!, "Invalid symbol."), BookState.HALTED);
    await stepUntil(() => adapter.stats().snapshotsAbandoned! >= 1 || adapter.topicInfo(0).state !== "halted", "the held snapshot dropped (or, before, bridged)");
    expect(adapter.topicInfo(0).state).toBe("halted");
    expect(updates()).toBe(0);
    expect(recorded).toEqual([]); // not in a capture either: replay never hands it to a bridge live did not have
  }, 20_000);

  test("refused for a reason that may pass (RESYNCING, sent again later): the old snapshot is dropped; diffs still coming start no bridge until the subscribe is accepted again, then a new one makes it LIVE", async () => {
    // The simulator keeps streaming the refused stream (as a venue serving what it refused, or diffs in flight at the
    // refusal). Before s-refold the next diff began a new bridge at once: a snapshot asked for (REST weight) and the
    // book LIVE from it while its subscribe still waited to be sent again.
    const { adapter, sim, stepUntil, whileRefused } = await refusedWhileBridging((x) => {
      const t = x.topics[0]!;
      t.sub = SUB_PENDING; // as if its subscribe were out again (a resync's): the answer is a transient refusal
      x.control.retryAfterError(t.conn, t, "Server is currently overloaded with other requests. Please try again in a few minutes.");
    }, BookState.RESYNCING);
    await stepUntil(() => adapter.stats().snapshotsAbandoned! >= 1, "the old snapshot dropped");
    await stepUntil(() => adapter.topicInfo(0).state === "live", "LIVE again from a new bridge");
    expect(whileRefused()).toEqual({ asked: 0, live: 0 });
    expect(sim.stats.depthRequests).toBe(2);
  }, 20_000);

  test("refused for now, then closed and listed again while its retry waits: the diffs still coming start no bridge (the retry still to be accepted)", async () => {
    // The listing found the symbol not trading (retire: HALTED) and trading again before the refused subscribe's retry
    // went: the topic waits for that retry (activate: subscribeOut). Until s-rd4a the halt cleared refusedUntilAck, so
    // the next diff began a bridge, its snapshot asked for and the book LIVE before the retry was even sent.
    const { adapter, stepUntil, whileRefused } = await refusedWhileBridging((x) => {
      const t = x.topics[0]!;
      t.sub = SUB_PENDING;
      t.subscribeErrorStreak = 8; // its retry 30-60 s away: not sent during this test
      x.control.retryAfterError(t.conn, t, "Server is currently overloaded with other requests. Please try again in a few minutes.");
    }, BookState.RESYNCING);
    const x = adapter as unknown as Internals & { lifecycle: { retire(t: TopicState, reason: StatusReason): void; activate(t: TopicState): void } };
    const t = x.topics[0]!;
    x.lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED);
    x.lifecycle.activate(t);
    expect(t.sub).toBe(SUB_PENDING); // waits for the retry, which is still out
    const before = adapter.stats().messages!;
    await stepUntil(() => adapter.stats().messages! >= before + 5, "five more diffs of the stream");
    expect(whileRefused()).toEqual({ asked: 0, live: 0 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "awaiting_snapshot", bridging: false });
  }, 20_000);

  test("refused for now: a malformed frame of its stream, which feeds no book until a subscribe is accepted again, resyncs nothing (the book stays subscribe_rejected)", async () => {
    // Its well-formed diffs are ignored meanwhile (ignoredWhileUnsubscribed). Before, each malformed one was a resync
    // (resyncs_total) of a book that had no bridge to restart, and from the second on booked a resync backoff, which
    // held the book's snapshot back once its subscribe was accepted again.
    const { adapter, sink } = await refusedWhileBridging((x) => {
      const t = x.topics[0]!;
      t.sub = SUB_PENDING;
      t.subscribeErrorStreak = 8; // its retry 30-60 s away: not sent during this test
      x.control.retryAfterError(t.conn, t, "Server is currently overloaded with other requests. Please try again in a few minutes.");
    }, BookState.RESYNCING);
    const t = (adapter as unknown as Internals).topics[0]!;
    const before = adapter.stats();
    const conn = t.conn as unknown as { onFrameAt(frame: string, tsRecvUs: number): void };
    for (let i = 0; i < 2; i++) conn.onFrameAt('{"stream":"ausdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"AUSDT","U":5,"u":5.5,"b":[],"a":[]}}', 0);
    expect(adapter.stats().parseErrors).toBe(before.parseErrors! + 2); // read, and refused, as its stream's
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect([t.resyncDelayed, t.resyncAttempt, adapter.stats().resyncs]).toEqual([false, 0, before.resyncs]);
  }, 20_000);
});

/** An adapter not started (no socket, no REST: nothing asked of the network), its spot streams planned on one connection. */
function offlineAdapter(symbols: string[], fetchFn?: typeof fetch): BinanceAdapter {
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:9/ws",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("binance-offline"), "i.json"),
    markets: [{ market: "spot", depth: 100, symbols }],
    overrides: new Map(),
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new BinanceAdapter(config, symbols.map((symbol) => ({ market: "spot", symbol, depth: 100 })), { log: silentLogger, fetch: fetchFn ?? refuse });
}

describe("Binance: a malformed frame of a stream that feeds no book resyncs nothing", () => {
  test("idle or being unsubscribed (its diffs ignored, as onDiff does): no resync, no backoff; subscribed, it resyncs", () => {
    // Until s-rd16b only a refused stream (given up, or refused for now) was spared: a malformed frame of a stream idle
    // or being unsubscribed (in flight after its unsubscribe) was a resync (resyncs_total) of a book that stream was not
    // feeding, and from the second on booked a resync backoff, which held back its subscribe or snapshot after.
    const frame = '{"stream":"ausdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"AUSDT","U":5,"u":5.5,"b":[],"a":[]}}';
    const twoBadFrames = (sub: number) => {
      const adapter = offlineAdapter(["AUSDT"]);
      const t = (adapter as unknown as Internals).topics[0]!;
      t.sub = sub;
      for (let i = 0; i < 2; i++) adapter.onParseError(t.conn as never, -1, SCAN_ERR_NUMBER, frame);
      return { parseErrors: adapter.stats()["parseErrors.bad_number"], resyncs: adapter.stats().resyncs, delayed: t.resyncDelayed, book: t.book };
    };
    for (const sub of [SUB_IDLE, SUB_UNSUBSCRIBING]) {
      expect(twoBadFrames(sub), `sub ${sub}`).toEqual({ parseErrors: 2, resyncs: 0, delayed: false, book: BookState.AWAITING_SNAPSHOT });
    }
    // The same frames of a subscribed stream resync its book, the second after a backoff (what the rule spares above).
    expect(twoBadFrames(SUB_ACTIVE)).toEqual({ parseErrors: 2, resyncs: 2, delayed: true, book: BookState.RESYNCING });
  });

  test("a frame unreadable down to its stream resyncs the connection's books, not one refused for now", () => {
    // s-rdbin10 spared a refused-for-now stream's own malformed frame; until s-rd16b one naming no stream resynced it
    // with the rest (resyncAll): a resync of a book its stream was not feeding, from the second on booking a backoff
    // that held its snapshot back once its subscribe was accepted again (OKX's parse-errors.ts spares it).
    const adapter = offlineAdapter(["AUSDT", "BUSDT"]);
    const [refused, served] = (adapter as unknown as Internals).topics as [TopicState, TopicState];
    expect(refused.conn).toBe(served.conn);
    refused.sub = SUB_PENDING; // its subscribe refused for a reason that may pass, its retry to come
    refused.refusedUntilAck = true;
    served.sub = SUB_ACTIVE;
    for (let i = 0; i < 2; i++) adapter.onParseError(served.conn as never, -1, SCAN_ERR_SYNTAX, '{"stream":');
    expect([refused.resyncs, refused.resyncAttempt, refused.resyncDelayed]).toEqual([0, 0, false]);
    expect([served.resyncs, served.resyncDelayed]).toEqual([2, true]); // the others as before
    expect(adapter.stats()).toMatchObject({ unattributedParseErrors: 2, resyncs: 2 });
  });

  test("a diff frame of a stream not on the connection is counted once, as an unknown topic (not a parse error too), and resyncs the connection's books", () => {
    // unknown_topic_total counts book frames for a stream not subscribed on the connection; parse_errors_total frames
    // rejected as malformed, which this one is not. Until s-binleft onUnknownTopic went on through onParseError: the
    // frame counted in both, and in parseErrors.unknown_topic and unattributedParseErrors ("stream could not be read").
    const adapter = offlineAdapter(["AUSDT", "BUSDT"]);
    const [a, b] = (adapter as unknown as Internals).topics as [TopicState, TopicState];
    a.sub = b.sub = SUB_ACTIVE;
    const conn = a.conn as unknown as { used: boolean; onFrameAt(frame: string, tsRecvUs: number): void };
    conn.used = true; // as start() marks a connection with streams: stats() and metrics() count only those
    conn.onFrameAt('{"stream":"cusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"CUSDT","U":5,"u":5,"b":[],"a":[]}}', 0);
    const s = adapter.stats();
    expect({ unknownTopic: s.unknownTopic, parseErrors: s.parseErrors, byCode: s["parseErrors.unknown_topic"], unattributed: s.unattributedParseErrors }).toEqual({ unknownTopic: 1, parseErrors: 0, byCode: undefined, unattributed: 0 });
    const metric = (name: string) => adapter.metrics().filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
    expect([metric("unknown_topic_total"), metric("parse_errors_total")]).toEqual([1, 0]);
    // Lost as a frame unreadable down to its stream: its diff may be any book's of the connection (as before).
    expect([a.resyncs, b.resyncs, s.resyncs]).toEqual([1, 1, 2]);
  });

  test("a depth update whose stream is garbled past a depth name, or absent, is a lost diff: the connection's books resync (not an unhandled control frame)", () => {
    // Until s-binleft such a frame went to onControl, classified "other" and dropped with a debug log: a LIVE book
    // stayed LIVE without the diff until the next one broke the chain, one bridging kept a hole in its buffer.
    const data = '"data":{"e":"depthUpdate","E":1,"s":"AUSDT","U":5,"u":5,"b":[["1.00","2"]],"a":[]}';
    const frames = [
      [`{"stream":"ausdt@dpth@100ms",${data}}`, { unknownTopic: 1, parseErrors: 0 }], // a stream not ours: an unknown topic
      [`{"stream":7,${data}}`, { unknownTopic: 0, parseErrors: 1 }], // no stream to read: missing_field
      [`{${data}}`, { unknownTopic: 0, parseErrors: 1 }],
      ['{"e":"depthUpdate","E":1,"s":"AUSDT","U":5,"u":5,"b":[],"a":[]}', { unknownTopic: 0, parseErrors: 1 }], // unwrapped
    ] as const;
    for (const [frame, counted] of frames) {
      const adapter = offlineAdapter(["AUSDT", "BUSDT"]);
      const [a, b] = (adapter as unknown as Internals).topics as [TopicState, TopicState];
      a.sub = b.sub = SUB_ACTIVE;
      const conn = a.conn as unknown as { used: boolean; onFrameAt(frame: string, tsRecvUs: number): void };
      conn.used = true;
      conn.onFrameAt(frame, 0);
      const s = adapter.stats();
      expect({ unknownTopic: s.unknownTopic, parseErrors: s.parseErrors, resyncs: [a.resyncs, b.resyncs] }, frame).toEqual({ ...counted, resyncs: [1, 1] });
    }
    // A frame with no depth update in it stays a control frame: nothing resyncs.
    const adapter = offlineAdapter(["AUSDT"]);
    const t = (adapter as unknown as Internals).topics[0]!;
    t.sub = SUB_ACTIVE;
    (t.conn as unknown as { onFrameAt(frame: string, tsRecvUs: number): void }).onFrameAt('{"stream":"ausdt@trade","data":{"e":"trade","s":"AUSDT"}}', 0);
    expect([t.resyncs, adapter.stats().parseErrors]).toEqual([0, 0]);
  });

  test("a frame whose handling threw resyncs no book refused for now (the lifecycle's frameFault)", () => {
    // The frame-fault rule (connection-lifecycle.ts) spared the unsubscribed and the waiting, not a stream refused for
    // now: until s-rd16b a throwing frame naming it, or naming none, resynced its book as the malformed frames above did.
    const adapter = offlineAdapter(["AUSDT", "BUSDT"]);
    const x = adapter as unknown as Internals & { lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };
    const [refused, served] = x.topics as [TopicState, TopicState];
    refused.sub = SUB_PENDING;
    refused.refusedUntilAck = true;
    served.sub = SUB_ACTIVE;
    const naming = '{"stream":"ausdt@depth@100ms","data":{}}';
    for (const frame of [naming, naming, "{}", "{}"]) x.lifecycle.frameFaultBound(refused.conn, frame, new Error("thrown"));
    expect([refused.resyncs, refused.resyncAttempt, refused.resyncDelayed]).toEqual([0, 0, false]);
    expect([served.resyncs, served.resyncDelayed]).toEqual([2, true]); // the frames naming none resync it as before
  });
});

describe("Binance: a diff lost while its book waits out a resync backoff", () => {
  // The frame naming its stream (onParseError finds it), or naming none (every book of the connection may have lost a
  // diff: until s-rd18c resyncAll spared the one waiting and its buffer stayed, as the named frame's did before).
  const named = '{"stream":"ausdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"AUSDT","U":104,"u":104.5,"b":[],"a":[]}}';
  // Or a frame whose handling threw (the lifecycle's frameFault): until s-faulthook it spared the waiting book and kept
  // its buffer, hole and all (before: bridgeBufferedBytes 1296 after the loss, not 0).
  // Or a frame of a stream not in the connection's table (a garbled name: onUnknownTopic), lost as one naming none.
  const unknown = '{"stream":"ausdx@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"AUSDX","U":104,"u":104,"b":[],"a":[]}}';
  test.each([
    ["naming its stream", SCAN_ERR_NUMBER, named, "refused"],
    ["naming no stream", SCAN_ERR_SYNTAX, '{"stream":', "refused"],
    ["naming its stream whose handling threw", 0, named, "thrown"],
    ["naming no stream whose handling threw", 0, "{}", "thrown"],
    ["naming a stream not ours", 0, unknown, "unknown"],
    // A depth update whose stream is garbled past a depth name, or absent: until s-binleft an unhandled control frame
    // (debug log only), its diff a hole in the buffer (before: bridgeBufferedBytes 1296 after it, not 0).
    ["whose stream is no depth name", 0, named.replace("@depth@", "@dpth@"), "frame"],
    ["with no stream at all", 0, named.replace('"stream":"ausdt@depth@100ms",', ""), "frame"],
  ] as const)("drops the bridge's buffer (a frame %s): a snapshot older than the loss leaves the book RESYNCING (not LIVE up to the hole), a newer one bridges", async (_what, code, frame, how) => {
    // The stream stays subscribed during the backoff and its diffs are buffered for the snapshot onBackoffOver asks
    // for. Until s-binmisfit a malformed frame then was ignored, its diff a hole in the buffer: a snapshot older than
    // it bridged, the book went LIVE (published) up to the hole and broke there (a gap). Now the buffer goes.
    let lastUpdateId = 102;
    const depth = (async () => new Response(JSON.stringify({ lastUpdateId, bids: [["1.00", "1"]], asks: [["1.01", "1"]] }), { status: 200 })) as unknown as typeof fetch;
    const adapter = offlineAdapter(["AUSDT"], depth);
    const x = adapter as unknown as Internals & { instruments: unknown[]; sink: unknown; onBackoffOver(t: TopicState): void; lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };
    const t = x.topics[0]!;
    x.instruments = [{ market: "spot", symbol: "AUSDT", priceExp: 2, qtyExp: 5 }];
    const published: string[] = [];
    x.sink = { onBookUpdate: (_i: number, u: BookUpdate) => void published.push(`${u.isSnapshot ? "snapshot" : "diff"} ${u.venueSeq}`), onBookInvalid: () => {}, onInstrumentChanged: () => {} };
    t.sub = SUB_ACTIVE;
    for (let i = 0; i < 2; i++) adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // the second books a backoff
    expect(t.resyncDelayed).toBe(true);
    t.resyncDueMs = Number.MAX_SAFE_INTEGER; // the test ends the backoff
    const diff = (id: number) => {
      const u = new BookUpdate();
      u.pushBid(100, id);
      u.venueSeq = id;
      adapter.onDiff(0, u, id, -1); // spot: U = u = id, one id per diff
    };
    const backoffOver = async (what: () => boolean) => {
      t.resyncDelayed = false;
      x.onBackoffOver(t);
      await until(what, "the snapshot handled");
    };
    for (const id of [101, 102, 103]) diff(id);
    expect(adapter.stats().bridgeBufferedBytes).toBeGreaterThan(0);
    // Diff 104 arrives unreadable, or its handling throws.
    if (how === "thrown") x.lifecycle.frameFaultBound(t.conn, frame, new Error("thrown"));
    else if (how === "unknown") adapter.onUnknownTopic(t.conn as never, frame);
    else if (how === "frame") (t.conn as unknown as { onFrameAt(frame: string, tsRecvUs: number): void }).onFrameAt(frame, 0);
    else adapter.onParseError(t.conn as never, -1, code, frame);
    expect(adapter.stats().bridgeBufferedBytes).toBe(0);
    expect(adapter.stats().resyncs).toBe(2); // no resync more: the book waits out the backoff it had
    for (const id of [105, 106]) diff(id);
    await backoffOver(() => adapter.stats().bridgesFailed! + adapter.stats().gaps! > 0);
    // Older than the loss: no bridge (Binance's "go back to step 3"); before, LIVE at 102 and 103, then a gap at 105.
    expect({ published, gaps: adapter.stats().gaps, failed: adapter.stats().bridgesFailed, book: t.book }).toEqual({ published: [], gaps: 0, failed: 1, book: BookState.RESYNCING });
    lastUpdateId = 105;
    await backoffOver(() => published.length > 0);
    expect(published).toEqual(["snapshot 105", "diff 106"]);
    expect(t.book).toBe(BookState.LIVE);
  });
});

describe("Binance: a misfit diff while its book waits out a resync backoff", () => {
  test("reloads exchangeInfo at once (the backoff holds the snapshot, not the reload), as outside a backoff", () => {
    // Until s-rd18c onParseError returned for a book in its backoff before the re-check: each later diff misfit too and
    // dropped the buffer, so no snapshot (whose misfit reloads too) came; the new tick waited for the backoff's end.
    const adapter = offlineAdapter(["AUSDT"]);
    const x = adapter as unknown as Internals & { watch: { requestNow(market: string): void } };
    const t = x.topics[0]!;
    const asked: string[] = [];
    x.watch.requestNow = (market: string) => void asked.push(market);
    t.sub = SUB_ACTIVE;
    const frame = '{"stream":"ausdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"AUSDT","U":5,"u":5,"b":[["1.001","1"]],"a":[]}}';
    adapter.onParseError(t.conn as never, -1, SCAN_ERR_PRICE, frame); // a resync, the first: no backoff
    adapter.onParseError(t.conn as never, -1, SCAN_ERR_QTY, frame); // the second books one
    expect([t.resyncDelayed, asked]).toEqual([true, ["spot", "spot"]]);
    adapter.onParseError(t.conn as never, -1, SCAN_ERR_PRICE, frame); // in the backoff
    adapter.onParseError(t.conn as never, -1, SCAN_ERR_NUMBER, frame); // not a misfit: no reload
    expect({ asked, resyncs: adapter.stats().resyncs }).toEqual({ asked: ["spot", "spot", "spot"], resyncs: 2 });
  });
});

describe("Binance: stats() counts only what happens", () => {
  test("stats() has no ignoredBeforeSnapshot: a diff before its book's snapshot is buffered for the bridge, never ignored", () => {
    // Until s-rd16b the status JSON carried it, always 0 (nothing incremented it); the diffs a REST hold keeps out of a
    // bridge are diffsNotBufferedWhileHeld.
    const adapter = offlineAdapter(["AUSDT"]);
    expect(adapter.stats()).not.toHaveProperty("ignoredBeforeSnapshot");
    expect(adapter.stats()).toHaveProperty("diffsNotBufferedWhileHeld", 0);
  });
});
