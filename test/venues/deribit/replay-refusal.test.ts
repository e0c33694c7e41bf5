/**
 * A live run against the simulator where Deribit refuses a subscribe (an instrument it does not list, left out of the
 * `result`: refused alone), recorded as `feeder record` records it (frames, `ws:req`, socket events), replayed through
 * a second adapter: the replay's statuses equal live's. Before 2026-12-07 the recorded answer matched no request in
 * replay (DeribitRequests' id map is filled when a request is encoded, and replay encodes none): the refused book
 * stayed AWAITING_SNAPSHOT, never halted, where live had it HALTED / subscribe_rejected.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { join } from "node:path";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { SUB_IDLE, SUB_PENDING, type VenueConnection } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A replaying adapter of `cfg`, stopped after the test; event(url) feeds conn0.inverse a socket event it must take. */
async function replaying(cfg: VenueConfig, subs: Subscription[]) {
  const adapter = new DeribitAdapter(cfg, subs, { log: silentLogger });
  cleanups.push(() => adapter.stop());
  const sink = new BookMaps(await adapter.loadInstruments());
  adapter.startReplay(sink);
  const requests = (adapter as unknown as { requests: { pending: number } }).requests;
  const event = (url: string) => expect(adapter.ingestConnectionEvent("inverse", "conn0.inverse", url, 1)).toBe(true);
  return { adapter, sink, requests, event };
}

type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number };

describe("deribit record → replay: a refused subscribe", { timeout: 20_000 }, () => {
  test("a channel left out of the result is HALTED / subscribe_rejected in replay as live; the listed book is LIVE in both", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 31 });
    cleanups.push(() => sim.stop());
    const subs: Subscription[] = ["BTC-PERPETUAL", "BTC-NOPE"].map((symbol) => ({ market: "inverse" as MarketName, symbol, depth: 0 }));
    // BTC-NOPE's tick and lot from the config: subscribed without the venue listing it, as a delisted symbol would be.
    const cfg: VenueConfig = {
      venue: "deribit",
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("deribit-refusal-"), "i.json"),
      markets: [{ market: "inverse", depth: 0, symbols: subs.map((s) => s.symbol) }],
      overrides: new Map([["inverse:BTC-NOPE", { tickSize: "0.5", lotSize: "10" }]]),
    };
    const recorded: Recorded[] = [];
    const live = new DeribitAdapter(cfg, subs, {
      log: silentLogger,
      onRawFrame: (_m, connection, frame, tsRecvUs) => void recorded.push({ frame, connection, tsRecvUs }),
      onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs }),
    });
    cleanups.push(() => live.stop());
    const liveSink = new BookMaps(await live.loadInstruments());
    live.start(liveSink);
    await until(() => live.topicInfo(0).state === "live" && live.topicInfo(1).state === "halted", "BTC-PERPETUAL live, BTC-NOPE halted");
    sim.step(2);
    await until(() => liveSink.seq[0] === sim.book("inverse", "BTC-PERPETUAL", 0).changeId, "the live book at the simulator's change_id");
    await live.stop();
    expect(liveSink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(recorded.every((r) => r.frame !== undefined || r.url!.startsWith("ws:")), "no REST answer recorded (the books need none)").toBe(true);
    expect(recorded.some((r) => r.url?.startsWith("ws:req "))).toBe(true);

    const again = new DeribitAdapter(cfg, subs, { log: silentLogger });
    cleanups.push(() => again.stop());
    const sink = new BookMaps(await again.loadInstruments());
    again.startReplay(sink);
    for (const r of recorded) {
      if (r.frame !== undefined) again.ingestFrame("inverse", r.connection, r.frame, r.tsRecvUs);
      else again.ingestConnectionEvent("inverse", r.connection, r.url!, r.tsRecvUs, r.body);
    }
    expect(sink.invalid).toEqual(liveSink.invalid);
    expect([0, 1].map((i) => again.topicInfo(i).state)).toEqual(["live", "halted"]);
    expect(sink.seq[0]).toBe(liveSink.seq[0]);
    expect(sink.bids[0]).toEqual(liveSink.bids[0]);
    expect(sink.asks[0]).toEqual(liveSink.asks[0]);
  });

  test("a recorded request its socket's close left unanswered is forgotten there (as live's onSocketClosed), not kept for the replay's length", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    const cfg: VenueConfig = { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "10" }]]) };
    const { adapter, sink, requests, event } = await replaying(cfg, subs);
    event("ws:open");
    event("ws:sockets");
    event(`ws:req ${JSON.stringify(["s1", "subscribe", ["book.BTC-PERPETUAL.100ms"]])}`);
    expect(requests.pending).toBe(1);
    event("ws:close");
    expect(requests.pending).toBe(0);
  });

  /**
   * A socket's end missing from the capture (the recorder or its worker stopped: a stop records no `ws:close`), then
   * the connection's next `ws:open`: live's close dropped the old socket's unanswered requests (onSocketClosed), and a
   * new process numbers its requests from 1 again. Until 2026-12-07 replay kept them in the id map at the open.
   */
  function twoBooks() {
    const symbols = ["BTC-PERPETUAL", "ETH-PERPETUAL"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "inverse" as MarketName, symbol, depth: 0 }));
    const cfg: VenueConfig = { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols }], overrides: new Map(symbols.map((s) => [`inverse:${s}`, { tickSize: "0.5", lotSize: "10" }])) };
    return { subs, cfg, channel: (s: string) => `book.${s}.100ms` };
  }

  test("a recorded open forgets the requests the connection's previous socket left unanswered (its close not in the capture), as that close would have", async () => {
    const { subs, cfg, channel } = twoBooks();
    const { adapter, requests, event } = await replaying(cfg, subs);
    event("ws:open");
    event("ws:sockets");
    event(`ws:req ${JSON.stringify(["s1", "subscribe", [channel("ETH-PERPETUAL")]])}`);
    expect(requests.pending).toBe(1);
    event("ws:open");
    expect(requests.pending).toBe(0);
  });

  /**
   * The new socket answers id 1 while the old socket's s1 (ETH) is unanswered: with the new s1 recorded, its answer is
   * matched to it (BTC halted, as live); with it lost (a block the disk refused), to nothing: ETH is never halted. This
   * held before 2026-12-07 too: the recorded s1 replaces the old one in the id map, and an answer acts only on a
   * request pending on the connection, which `ws:sockets` (recorded right after every `ws:open`) clears; without that
   * clear the lost-request case halted ETH.
   */
  test.each([true, false])("an answer of the new socket with the old socket's id: matched to the new request (recorded: %s), never the old one", async (recorded) => {
    const { subs, cfg, channel } = twoBooks();
    const { adapter, sink, event } = await replaying(cfg, subs);
    event("ws:open");
    event("ws:sockets");
    event(`ws:req ${JSON.stringify(["s1", "subscribe", [channel("ETH-PERPETUAL")]])}`);
    event("ws:open");
    event("ws:sockets");
    if (recorded) event(`ws:req ${JSON.stringify(["s1", "subscribe", [channel("BTC-PERPETUAL")]])}`);
    adapter.ingestFrame("inverse", "conn0.inverse", '{"jsonrpc":"2.0","id":1,"result":[]}', 2);
    expect(sink.invalid).toEqual(recorded ? [{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }] : []);
    expect(adapter.topicInfo(1).state).toBe("awaiting_snapshot");
  });
});

describe("deribit replay: a resync's recorded unsubscribe", () => {
  // A grouped channel's notifications are whole books. Live's resync unsubscribes the channel and ignores its books
  // until the subscribe after the ack (SUB_UNSUBSCRIBING, then IDLE); in flight, one may be of an overlap's other
  // socket's sequence before a venue reset. Replay keeps its topics subscribed: until 2026-12-07 it took the first of
  // them, the book LIVE there where live's was RESYNCING until the resubscribe's answer.
  test("a grouped channel's whole book between the recorded unsubscribe and subscribe is ignored, as live; the answer after the subscribe makes it LIVE", async () => {
    const CHANNEL = "book.BTC-PERPETUAL.none.10.100ms";
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 10 }];
    const cfg: VenueConfig = { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) };
    const { adapter, sink, event } = await replaying(cfg, subs);
    const book = (id: number, bid: number | string) =>
      `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[[${bid},10]],"asks":[[200,10]]}}}`;
    const feed = (f: string) => expect(adapter.ingestFrame("inverse", "conn0.inverse", f, 1)).toBe(true);
    event("ws:open");
    event("ws:sockets");
    event(`ws:req ${JSON.stringify(["s1", "subscribe", [CHANNEL]])}`);
    feed(book(100, 100));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 100 });
    feed(book(101, '"x"')); // unreadable: the book resyncs (live: unsubscribe, ack, subscribe)
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", [CHANNEL]])}`);
    feed(book(102, 101)); // in flight before the unsubscribe's ack: live ignores it
    feed(book(103, '"y"')); // nor does a bad one resync anything (live: unsubscribing)
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    expect(adapter.stats()).toMatchObject({ resyncs: 1 });
    event(`ws:req ${JSON.stringify(["s3", "subscribe", [CHANNEL]])}`);
    feed(book(110, 102)); // the resubscribe's answer
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 110 });
    expect(sink.bids[0]).toEqual(new Map([[1020, 10]])); // 102.0 at a price exponent of -1
  });
});

/**
 * A live Deribit adapter (BTC-PERPETUAL, grouped at depth 10: whole books) on fake sockets whose taps record a capture
 * as `feeder record` does, and a replay adapter of the same config fed the records after every step of the live run:
 * the two books (state, change_id, levels) are compared each time.
 */
class DeribitFakeWs extends FakeWs {
  private readonly listeners = new Map<string, (() => void)[]>();
  addEventListener(type: string, fn: () => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  /** The handshake completes: the lifecycle's handler, then the adapter's listener (set_heartbeat). */
  opened(): void {
    this.onopen!();
    for (const fn of this.listeners.get("open") ?? []) fn();
  }
  /** The venue drops the socket. */
  dropped(): void {
    this.readyState = FakeWs.CLOSED;
    this.onclose!({ code: 1006, reason: "" });
    for (const fn of this.listeners.get("close") ?? []) fn();
  }
}

/** A live adapter on fake sockets and a replay fed its capture; `same` compares their books after every record. */
/** `symbols`: the books of the one connection (book 0 the first; `same` compares every book's state and change_id). */
async function liveAndReplayedDeribit(symbols: readonly string[] = ["BTC-PERPETUAL"]) {
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", DeribitFakeWs);
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "inverse", symbol, depth: 10 }));
  const cfg: VenueConfig = { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: [...symbols] }], overrides: new Map(symbols.map((s) => [`inverse:${s}`, { tickSize: "0.5", lotSize: "1" }])) };
  const recorded: Recorded[] = [];
  const live = new DeribitAdapter(cfg, subs, {
    log: silentLogger,
    housekeepingMs: 3_600_000, // no round runs during the test: every step is the test's
    onRawFrame: (_m, connection, frame, tsRecvUs) => void recorded.push({ frame, connection, tsRecvUs }),
    onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs }),
  });
  const liveSink = new BookMaps(await live.loadInstruments());
  const replay = new DeribitAdapter(cfg, subs, { log: silentLogger });
  const replaySink = new BookMaps(await replay.loadInstruments());
  replay.startReplay(replaySink);
  live.start(liveSink);
  cleanups.push(() => {
    for (const ws of FakeWs.made) ws.readyState = FakeWs.CLOSED; // the stop waits for no close event of a fake socket
    return Promise.all([live.stop(), replay.stop()]).then(() => undefined);
  });
  const sockets = () => FakeWs.made as DeribitFakeWs[];
  const conn = (live as unknown as { conns: VenueConnection[] }).conns[0]!;
  const planned = (live as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
  const book = (id: number, bid: number | string, symbol = symbols[0]!) =>
    `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${symbol}.none.10.100ms","data":{"timestamp":1,"instrument_name":"${symbol}","change_id":${id},"bids":[[${bid},10]],"asks":[[200,10]]}}}`;
  const deliver = (i: number, data: string) => sockets()[i]!.onmessage!({ data });
  /** Socket `i` answers its last written subscribe or unsubscribe (the channel taken). */
  const ack = (i: number) => {
    const req = JSON.parse(sockets()[i]!.sent.filter((s) => s.includes("subscribe")).at(-1)!) as { id: number; params: { channels: string[] } };
    deliver(i, JSON.stringify({ jsonrpc: "2.0", id: req.id, result: req.params.channels }));
  };
  /** Socket `i` refuses its last written subscribe or unsubscribe: 10028, too many requests. */
  const refuse = (i: number) => {
    const req = JSON.parse(sockets()[i]!.sent.filter((s) => s.includes("subscribe")).at(-1)!) as { id: number };
    deliver(i, JSON.stringify({ jsonrpc: "2.0", id: req.id, error: { code: 10028, message: "too_many_requests" } }));
  };
  let fed = 0;
  const same = (what: string) => {
    for (; fed < recorded.length; fed++) {
      const r = recorded[fed]!;
      if (r.frame !== undefined) replay.ingestFrame("inverse", r.connection, r.frame, r.tsRecvUs);
      else replay.ingestConnectionEvent("inverse", r.connection, r.url!, r.tsRecvUs, r.body);
    }
    const view = (a: DeribitAdapter, s: BookMaps) => ({ state: a.topicInfo(0).state, changeId: a.topicInfo(0).lastChangeId, bids: a.topicInfo(0).state === "live" ? s.bids[0] : undefined });
    const b = { live: view(live, liveSink), replay: view(replay, replaySink) };
    expect(b.replay, what).toEqual(b.live);
    const states = (a: DeribitAdapter) => symbols.map((_, i) => [a.topicInfo(i).state, a.topicInfo(i).lastChangeId]);
    if (symbols.length > 1) expect(states(replay), what).toEqual(states(live));
    return b.live;
  };
  /** The per-IP message budget spent (other connections' or workers' messages): the next request waits for it. */
  const drainBudget = () => {
    const a = live as unknown as { now: () => number; control: { ipBucket: { tryTake(nowMs: number): boolean } } };
    while (a.control.ipBucket.tryTake(a.now()));
  };
  /** The old socket opened and subscribed; its first book (change_id 500) makes both LIVE. */
  const liveAt500 = () => {
    sockets()[0]!.opened(); // set_heartbeat, the subscribe
    ack(0);
    deliver(0, book(500, 100));
    expect(same("the first book")).toMatchObject({ state: "live", changeId: 500 });
  };
  /** Socket `i`'s unsubscribe answered, then its fresh subscribe: its answer `book(id, bid)` makes both LIVE there. */
  const resubscribed = (i: number, id: number, bid: number) => {
    ack(i); // unsubscribed: the subscribe goes
    expect(sockets()[i]!.sent.at(-1)).toContain("public/subscribe");
    expect(same("the fresh subscribe written")).toMatchObject({ state: "resyncing" });
    ack(i);
    deliver(i, book(id, bid)); // the resubscribe's answer, of the new run
    expect(same("the answer")).toMatchObject({ state: "live", changeId: id, bids: new Map([[bid * 10, 10]]) });
  };
  const replanned = () => planned.start(conn, "test");
  /** liveAt500, then a planned reconnect: the replacement opened, its subscribe unanswered for now (the overlap lasts). */
  const overlapping = () => {
    liveAt500();
    replanned();
    sockets()[1]!.opened();
  };
  /** Topic `t` closes, its unsubscribe refused; listed again, its subscribe refused too: the old socket streams it still. */
  const closedRelistedRefused = async (t: unknown) => {
    const lifecycle = (live as unknown as { lifecycle: { retire(t: unknown, r: StatusReason): void; activateAll(ts: unknown[]): void } }).lifecycle;
    lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED);
    refuse(0);
    lifecycle.activateAll([t]);
    await Promise.resolve();
    await Promise.resolve();
    refuse(0);
  };
  return { live, replay, liveSink, replaySink, sockets, book, deliver, ack, same, drainBudget, replanned, liveAt500, resubscribed, overlapping, closedRelistedRefused };
}

describe("deribit record → replay: a planned reconnect with a resync, the books compared after every record", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  // Live: a resync on the replacement (a venue reset of the grouped channel it delivered), the replacement then fails:
  // goBack redoes the resync on the old socket (unsubscribe, ack, subscribe); the old socket's whole books in flight
  // until the answer are ignored (unsubscribing), among them its books of the sequence before the reset. Before
  // 2026-12-07's common hold (TopicState.replayUnsubscribing) replay took the first: LIVE at the pre-reset book.
  test("the old socket's whole book in flight at the go-back's unsubscribe is ignored in replay as live; the answer makes both LIVE", async () => {
    const { live, replay, sockets, book, deliver, same, overlapping, resubscribed } = await liveAndReplayedDeribit();
    overlapping(); // a planned reconnect: the replacement opens, the swap subscribes the channel on it
    expect(sockets()[1]!.sent.some((s) => s.includes("public/subscribe"))).toBe(true);
    deliver(1, book(502, 101)); // the replacement, ahead (its ack not in yet: the overlap lasts)
    expect(same("the replacement ahead")).toMatchObject({ state: "live", changeId: 502 });
    deliver(1, book(3, 99)); // the replacement goes back: a venue reset, resynced (restartWanted on the old socket)
    expect(same("the reset on the replacement")).toMatchObject({ state: "resyncing" });
    sockets()[1]!.dropped(); // the replacement fails: gone back to the old socket, the resync redone there
    expect(sockets()[0]!.sent.at(-1)).toContain("public/unsubscribe");
    expect(same("ws:back")).toMatchObject({ state: "resyncing" });
    deliver(0, book(504, 103)); // in flight before the unsubscribe's answer: the sequence before the reset
    expect(same("the old socket's book in flight")).toMatchObject({ state: "resyncing" });
    resubscribed(0, 5, 98);
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, ignoredWhileUnsubscribed: live.stats().ignoredWhileUnsubscribed });
  });

  // Live: a venue reset of the grouped channel on the replacement (502, then 3) while its subscribe is unanswered: the
  // book resyncs, its restart held for that answer. The old socket still delivers the run before the reset (503, 504):
  // until 2026-12-07 its next whole book was taken, the book LIVE at the state before the reset. Now the old socket is
  // behind the reset for the rest of the overlap (DeribitAdapter.behindReset), in replay as live.
  test("after a venue reset on the replacement, the old socket's whole books of the run before it are not taken for the rest of the overlap", async () => {
    const { live, replay, book, deliver, same, overlapping } = await liveAndReplayedDeribit();
    overlapping();
    deliver(1, book(502, 101)); // the replacement, ahead
    expect(same("the replacement ahead")).toMatchObject({ state: "live", changeId: 502 });
    deliver(1, book(3, 99)); // the replacement goes back: a venue reset
    expect(same("the reset on the replacement")).toMatchObject({ state: "resyncing" });
    deliver(0, book(503, 102)); // the old socket, still of the run before the reset
    // Before: LIVE at change_id 503, the state before the reset.
    expect(same("the old socket's book of the run before the reset")).toMatchObject({ state: "resyncing" });
    deliver(1, book(4, 99)); // the replacement's next whole book (its channel is still subscribed there): the new run
    expect(same("the replacement's book after the reset")).toMatchObject({ state: "live", changeId: 4 });
    deliver(0, book(504, 103)); // above the book's id, but of the run before the reset
    // Before: LIVE at change_id 504.
    expect(same("the old socket's next book")).toMatchObject({ state: "live", changeId: 4, bids: new Map([[990, 10]]) });
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, duplicates: live.stats().duplicates });
  });

  // As above, then the replacement fails with the book LIVE by its new run: gone back to the old socket, still behind
  // the reset (its own copy not in yet), the book is resynced there. Until 2026-12-07 the overlap's end forgot the
  // mark, and the old socket's next whole book of the run before the reset made the book that state, LIVE.
  test("gone back to an old socket behind a venue reset the book took from the failed replacement: the book is resynced there, in replay as live", async () => {
    const { live, replay, sockets, book, deliver, same, overlapping, resubscribed } = await liveAndReplayedDeribit();
    overlapping();
    deliver(1, book(502, 101));
    deliver(1, book(3, 99)); // a venue reset on the replacement
    deliver(1, book(4, 99));
    expect(same("the replacement's book after the reset")).toMatchObject({ state: "live", changeId: 4 });
    sockets()[1]!.dropped(); // gone back to the old socket, its stream still before the reset
    expect(same("ws:back")).toMatchObject({ state: "resyncing" });
    expect(sockets()[0]!.sent.at(-1)).toContain("public/unsubscribe");
    deliver(0, book(505, 104)); // in flight before the unsubscribe's answer: the run before the reset
    // Before: LIVE at change_id 505.
    expect(same("the old socket's book of the run before the reset")).toMatchObject({ state: "resyncing" });
    resubscribed(0, 6, 97);
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, resyncs: live.stats().resyncs });
  });

  // The mirror case: the venue reset comes on the old socket (500, then 3) while the replacement, behind (499), still
  // delivers the run before it: its 501 is of that run. Until 2026-12-07 it was taken, the book LIVE at 501, and it
  // stayed LIVE after the replacement's subscribe answer ended the overlap. Now the replacement's frames are not taken
  // for the book until a fresh subscribe of it there is answered, in replay as live.
  test("after a venue reset on the old socket, the replacement's whole books of the run before it are not taken until a fresh subscribe there is answered", async () => {
    const { live, replay, sockets, book, deliver, ack, same, overlapping, resubscribed } = await liveAndReplayedDeribit();
    overlapping();
    deliver(1, book(499, 101)); // the replacement, behind
    expect(same("the replacement behind")).toMatchObject({ state: "live", changeId: 500 });
    deliver(0, book(3, 99)); // the old socket goes back: a venue reset
    expect(same("the reset on the old socket")).toMatchObject({ state: "resyncing" });
    deliver(1, book(501, 102)); // the replacement, still of the run before the reset
    // Before: LIVE at change_id 501, the state before the reset.
    expect(same("the replacement's book of the run before the reset")).toMatchObject({ state: "resyncing" });
    ack(1); // the replacement's subscribe answered (sent before the reset): the resync's unsubscribe goes (the overlap lasts: no housekeeping round)
    // Before: LIVE at change_id 501.
    expect(same("the overlap over")).toMatchObject({ state: "resyncing" });
    expect(sockets()[1]!.sent.at(-1)).toContain("public/unsubscribe");
    deliver(1, book(502, 103)); // in flight before the unsubscribe's answer: still the run before the reset
    expect(same("the replacement's next book")).toMatchObject({ state: "resyncing" });
    resubscribed(1, 5, 98);
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, duplicates: live.stats().duplicates });
  });

  // As above, but the old socket's next whole book, of the new run, makes the book LIVE before the replacement's subscribe
  // is answered: that answer finds no resync left to do (the book LIVE), the overlap ends at the next housekeeping round,
  // and the replacement carrying on is still behind the reset (marked). Until 2026-12-07 nothing subscribed the book there again: every frame of it was
  // ignored, its own copy of the reset and the new run's books among them, the book LIVE and frozen at the old socket's
  // last until stale. Now the channel is restarted on the replacement at the overlap's end, whose answer is of the new run.
  test("after a venue reset on the old socket, a book LIVE by the old socket's new run is restarted on the replacement carrying on, in replay as live", async () => {
    const { live, replay, sockets, book, deliver, ack, same, replanned } = await liveAndReplayedDeribit();
    const housekeeping = () => (live as unknown as { lifecycle: { onHousekeeping(): void } }).lifecycle.onHousekeeping();
    sockets()[0]!.opened();
    ack(0);
    deliver(0, book(500, 100));
    replanned();
    sockets()[1]!.opened();
    deliver(1, book(499, 101)); // the replacement, behind
    deliver(0, book(3, 99)); // a venue reset on the old socket
    deliver(0, book(4, 98)); // the old socket's new run
    expect(same("the old socket's book after the reset")).toMatchObject({ state: "live", changeId: 4 });
    ack(1); // the replacement's subscribe answered
    const heartbeat = JSON.parse(sockets()[1]!.sent.find((m) => m.includes("public/set_heartbeat"))!) as { id: number };
    deliver(1, JSON.stringify({ jsonrpc: "2.0", id: heartbeat.id, result: "ok" }));
    housekeeping(); // every request answered: the old socket is closed, the replacement (still behind) carries on
    // Before: LIVE at 4, nothing sent, every later book of the replacement ignored.
    expect(same("the overlap over")).toMatchObject({ state: "resyncing" });
    expect(sockets()[1]!.sent.at(-1)).toContain("public/unsubscribe");
    deliver(1, book(501, 102)); // in flight before the unsubscribe's answer: the run before the reset
    expect(same("the replacement's book of the run before the reset")).toMatchObject({ state: "resyncing" });
    ack(1);
    expect(sockets()[1]!.sent.at(-1)).toContain("public/subscribe");
    ack(1);
    deliver(1, book(6, 97)); // the fresh subscribe's answer, of the new run
    expect(same("the answer")).toMatchObject({ state: "live", changeId: 6, bids: new Map([[970, 10]]) });
    deliver(1, book(7, 96));
    expect(same("the replacement's next book")).toMatchObject({ state: "live", changeId: 7, bids: new Map([[960, 10]]) });
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, resyncs: live.stats().resyncs });
  });

  // As above with two books behind the reset: the overlap's end restarts both on the replacement with one unsubscribe
  // request naming both, then one subscribe (the per-IP message budget: 1 request each, not one a book). Until
  // 2026-12-07 onOverlapOver restarted them one by one: N unsubscribes, then N subscribes.
  test("two books LIVE by the old socket's new run at the overlap's end: one unsubscribe and one subscribe for both, in replay as live", async () => {
    const ETH = "ETH-PERPETUAL";
    const { live, replay, sockets, book, deliver, ack, same, replanned } = await liveAndReplayedDeribit(["BTC-PERPETUAL", ETH]);
    const housekeeping = () => (live as unknown as { lifecycle: { onHousekeeping(): void } }).lifecycle.onHousekeeping();
    const both = (id: number, bid: number, i: number) => (deliver(i, book(id, bid)), deliver(i, book(id, bid, ETH)));
    sockets()[0]!.opened();
    ack(0);
    both(500, 100, 0);
    replanned();
    sockets()[1]!.opened();
    both(499, 101, 1); // the replacement, behind
    both(3, 99, 0); // a venue reset on the old socket, both books
    both(4, 98, 0); // the old socket's new run
    expect(same("the old socket's books after the reset")).toMatchObject({ state: "live", changeId: 4 });
    ack(1); // the replacement's subscribe answered
    const heartbeat = JSON.parse(sockets()[1]!.sent.find((m) => m.includes("public/set_heartbeat"))!) as { id: number };
    deliver(1, JSON.stringify({ jsonrpc: "2.0", id: heartbeat.id, result: "ok" }));
    const sentBefore = sockets()[1]!.sent.length;
    housekeeping(); // the overlap over: the replacement, behind the reset, carries on
    expect(same("the overlap over")).toMatchObject({ state: "resyncing" });
    const requests = () => sockets()[1]!.sent.slice(sentBefore).map((m) => JSON.parse(m) as { method: string; params: { channels: string[] } });
    // Before: two unsubscribe requests, one channel each.
    expect(requests().map((r) => [r.method, r.params.channels.length])).toEqual([["public/unsubscribe", 2]]);
    ack(1);
    expect(requests().map((r) => [r.method, r.params.channels.length])).toEqual([["public/unsubscribe", 2], ["public/subscribe", 2]]);
    ack(1);
    both(6, 97, 1); // the fresh subscribe's answers, of the new run
    expect(same("the answers")).toMatchObject({ state: "live", changeId: 6 });
    expect([live.topicInfo(1).state, live.topicInfo(1).lastChangeId]).toEqual(["live", 6]);
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, resyncs: live.stats().resyncs });
  });

  // Live's resync marks the channel unsubscribing when it asks (sendRequest), its books ignored from there, though the
  // unsubscribe itself may wait for the per-IP message budget (a worker's slot of it: ~27 s with 64 workers). The
  // capture's ws:req was written when the request went: until then replay took the grouped channel's whole books, the
  // book LIVE in replay alone (on an overlap's old socket behind a venue reset: at the state before the reset).
  test("a resync whose unsubscribe waits for the message budget: the whole book before it goes is ignored in replay as live", async () => {
    const { live, replay, sockets, book, deliver, ack, same, drainBudget, liveAt500 } = await liveAndReplayedDeribit();
    const last = () => sockets()[0]!.sent.at(-1)!;
    liveAt500();
    drainBudget();
    deliver(0, book(501, '"x"')); // unreadable: the book resyncs, its unsubscribe waiting for the budget
    expect(sockets()[0]!.sent.some((m) => m.includes("public/unsubscribe")), "the unsubscribe waits").toBe(false);
    expect(same("the resync")).toMatchObject({ state: "resyncing" });
    deliver(0, book(502, 101)); // the channel still subscribed at the venue: live ignores it (unsubscribing)
    // Before: replay LIVE at change_id 502; live RESYNCING.
    expect(same("a whole book while the unsubscribe waits")).toMatchObject({ state: "resyncing" });
    await until(() => last().includes("public/unsubscribe"), "the unsubscribe written");
    expect(same("the unsubscribe written")).toMatchObject({ state: "resyncing" });
    ack(0);
    await until(() => last().includes("public/subscribe"), "the subscribe written");
    ack(0);
    deliver(0, book(510, 102)); // the resubscribe's answer
    expect(same("the answer")).toMatchObject({ state: "live", changeId: 510, bids: new Map([[1020, 10]]) });
    expect(replay.stats()).toMatchObject({ ignoredWhileUnsubscribed: live.stats().ignoredWhileUnsubscribed });
  });

  // Live: the book closes, its unsubscribe refused 10028; listed again, its subscribe refused too: the old socket still
  // streams the channel (TopicState.streamedOn) without serving the book. Swapped to the replacement, resynced there
  // with a backoff, the replacement failing: gone back to, the book is idle on the old socket until its backoff is over,
  // that stream's whole books ignored. Until s-backreplay ws:back ended replay's hold: LIVE in replay alone.
  test("a book idle on the old socket at the go-back (its resync waiting out its backoff) takes none of that socket's whole books in replay either", async () => {
    const { live, sockets, book, deliver, ack, same, replanned, liveAt500, closedRelistedRefused } = await liveAndReplayedDeribit();
    const internals = live as unknown as { conns: VenueConnection[] };
    const t = internals.conns[0]!.topics[0]! as VenueConnection["topics"][number] & { resyncAttempt: number; resyncDelayed: boolean };
    liveAt500();
    await closedRelistedRefused(t);
    expect(same("closed and listed again, both refused")).toMatchObject({ state: "awaiting_snapshot" });
    replanned();
    sockets()[1]!.opened(); // the swap: subscribed on the replacement
    ack(1);
    deliver(1, book(600, 101));
    expect(same("LIVE on the replacement")).toMatchObject({ state: "live", changeId: 600 });
    t.resyncAttempt = 1; // a resync in a row: it waits out its backoff
    deliver(1, book(601, '"x"')); // unreadable: resynced, its unsubscribe on the replacement
    ack(1);
    expect([t.sub, t.resyncDelayed]).toEqual([SUB_IDLE, true]);
    expect(same("the resync's unsubscribe answered")).toMatchObject({ state: "resyncing" });
    sockets()[1]!.dropped(); // gone back to the old socket, which still streams the channel
    deliver(0, book(700, 102));
    // Before: replay LIVE at change_id 700; live RESYNCING (idle there).
    expect(same("the old socket's whole book while idle there")).toMatchObject({ state: "resyncing" });
    t.resyncDelayed = false; // its backoff over: housekeeping's restart, the subscribe on the old socket
    (live as unknown as { control: { restartTopic(x: unknown): void } }).control.restartTopic(t);
    expect(sockets()[0]!.sent.at(-1)).toContain("public/subscribe");
    ack(0);
    deliver(0, book(710, 103));
    expect(same("the subscribe's answer")).toMatchObject({ state: "live", changeId: 710 });
  });

  // As above, but gone back to while the resync's unsubscribe on the replacement is unanswered, the per-IP budget spent:
  // the go-back's subscribe on the old socket waits for it (recorded when written, seconds on), live taking the book's
  // frames meanwhile (SUB_PENDING), the old socket's whole book LIVE. Until s-rd27a ws:back-held named only OKX's
  // subscribes held for the hour: replay held the book resyncing until that subscribe's ws:req.
  test("a go-back's subscribe queued for the message budget: the old socket's whole book taken in replay as live", async () => {
    const { sockets, book, deliver, ack, same, replanned, liveAt500, drainBudget, live, closedRelistedRefused } = await liveAndReplayedDeribit();
    const internals = live as unknown as { conns: VenueConnection[] };
    const t = internals.conns[0]!.topics[0]!;
    liveAt500();
    await closedRelistedRefused(t);
    replanned();
    sockets()[1]!.opened();
    ack(1);
    deliver(1, book(600, 101));
    expect(same("LIVE on the replacement")).toMatchObject({ state: "live", changeId: 600 });
    deliver(1, book(601, '"x"')); // unreadable: resynced, its unsubscribe on the replacement unanswered
    expect(same("the resync")).toMatchObject({ state: "resyncing" });
    drainBudget();
    const sentBefore = sockets()[0]!.sent.length;
    sockets()[1]!.dropped(); // gone back to the old socket, which still streams the channel
    expect(sockets()[0]!.sent.length, "the go-back's subscribe waits for the budget").toBe(sentBefore);
    expect(t.sub).toBe(SUB_PENDING);
    deliver(0, book(700, 102));
    // Before: replay RESYNCING; live LIVE at change_id 700 (its subscribe pending).
    expect(same("the old socket's whole book while the subscribe waits")).toMatchObject({ state: "live", changeId: 700 });
    await until(() => sockets()[0]!.sent.length > sentBefore, "the subscribe written");
    expect(sockets()[0]!.sent.at(-1)).toContain("public/subscribe");
    expect(same("the subscribe written (its ws:req ends replay's mark)")).toMatchObject({ state: "live", changeId: 700 });
    ack(0);
    deliver(0, book(710, 103));
    expect(same("the subscribe's answer")).toMatchObject({ state: "live", changeId: 710 });
  });
});
