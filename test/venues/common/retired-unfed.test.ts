/**
 * A planned reconnect's old socket given up during the overlap (silent, its pong late, or closed by the venue): the
 * books it served that the replacement does not carry yet (their subscribe not acked) had it as their only feed.
 * Before, they stayed LIVE with nothing feeding them until the replacement's first frame or its ack deadline (10 s
 * on): they must leave LIVE as an ordinary disconnect's do (RESYNCING / DISCONNECTED), while the books the
 * replacement carries stay LIVE. The ws:retired record names them, so replay does the same at the same place. The
 * common machinery on fake sockets, rounds run by hand on a fake clock (as pong-match.test.ts).
 */
import { afterEach, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SOCKET_BACK_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL } from "../../../src/venues/venue.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

/** Acks are `{"ack":"<reqId>"}`, answering a whole request. */
const PROTOCOL: RequestProtocol = {
  venue: "fake",
  maxArgsPerRequest: () => 1, // one request a topic: each is acked on its own
  encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
  classifyControl: (msg) => {
    const m = msg as { ack?: string; pong?: boolean };
    if (m.pong) return { kind: "pong" };
    if (typeof m.ack === "string") return { kind: "ack", op: "", success: true, retMsg: "", reqId: m.ack, successTopics: undefined, failTopics: undefined };
    return { kind: "other" };
  },
  parseAckError: () => ({ kind: "other" }),
  rejectHint: () => "",
};
const PING_INTERVAL_MS = 1_000;
const PONG_TIMEOUT_MS = 2_000;
const DEAD_CONNECTION_MS = 7_000;
const ROUND_MS = 250;

/** A socket a test drives: what is sent, its handlers, and close by hand. */
class FakeWs {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static made: FakeWs[] = [];
  readonly sent: string[] = [];
  readyState = FakeWs.OPEN;
  closedWith: number | undefined = undefined;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeWs.made.push(this);
  }
  send(text: string): void {
    this.sent.push(text);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = FakeWs.CLOSED;
  }
}

interface Invalidation {
  topic: string;
  state: BookState;
  reason: StatusReason;
}

function setup(replay = false) {
  let nowMs = 0;
  const invalidated: Invalidation[] = [];
  const events: { url: string; body: string }[] = [];
  const control = new SubscriptionControl(PROTOCOL, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  conn.used = true;
  const topics = conn.addTopics(["book.A", "book.B", "book.C"], 10);
  const invalidate = (t: TopicState, state: BookState, reason: StatusReason) => {
    if (t.book === state) return;
    t.book = state;
    invalidated.push({ topic: t.topic, state, reason });
  };
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate, resync: invalidate }, {
    log: silentLogger,
    keepalive: { kind: "client_ping", intervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS, encodePing: (seq) => `ping ${seq}` },
    deadConnectionMs: DEAD_CONNECTION_MS,
    staleAfterMs: () => 6_000_000,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now: () => nowMs,
    random: () => 0.5,
    onRawRest: replay ? undefined : (_market, _conn, url, body) => void events.push({ url, body }),
  });
  // Never started: no timer, no LateRounds (every round judges); the socket is the fake one, open since 0.
  const round = (ms: number) => {
    nowMs = ms;
    control.flush();
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  const stop = async () => {
    conn.ws = null;
    await lifecycle.stop();
  };
  return { conn, topics, control, lifecycle, invalidated, events, round, stop };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

/** Three books LIVE on the old socket; swapped to a replacement that acks A only, B's and C's subscribes still out. */
function overlap(s: ReturnType<typeof setup>) {
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const old = new FakeWs("old");
  s.conn.ws = old as unknown as WebSocket;
  (s.lifecycle as unknown as { bindSocket(c: unknown, ws: unknown, gen: number): void }).bindSocket(s.conn, old, s.conn.generation); // its close handler
  for (const t of s.topics) {
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  s.lifecycle.onPlannedClose(s.conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  expect(replacement).not.toBe(old);
  replacement.onopen!();
  expect(s.conn.retiringWs).toBe(old);
  const subscribes = replacement.sent.map((x) => JSON.parse(x) as { id: string; params: string[] });
  expect(subscribes.map((x) => x.params[0])).toEqual(["book.A", "book.B", "book.C"]);
  s.control.onControl(s.conn, { ack: subscribes[0]!.id }); // A is carried by the replacement; B and C are not yet
  expect(s.topics.map((t) => t.sub)).toEqual([SUB_ACTIVE, SUB_PENDING, SUB_PENDING]);
  return { old, replacement };
}

test.each([
  { how: "silent" },
  { how: "delivering, its pong late" },
  { how: "closed by the venue" },
])("the old socket given up during the overlap ($how): books the replacement does not carry yet leave LIVE at once", async ({ how }) => {
  const s = setup();
  const { old, replacement } = overlap(s);
  let now = 0;
  let goneAtMs = -1;
  while (now < 9_000) {
    now += ROUND_MS;
    s.conn.messages++; // the replacement delivers and answers its own pings
    if (s.conn.pongDeadlineMs !== 0) s.conn.onPong();
    if (how !== "silent") old.onmessage!({ data: "{}" }); // delivers, never answers its ping
    if (how === "closed by the venue" && now === 1_000) old.onclose!({ code: 1000, reason: "bye" }); // before its ping is due
    s.round(now);
    if (goneAtMs < 0 && s.conn.retiringWs === null) goneAtMs = now;
    if (goneAtMs >= 0) break;
  }
  expect(goneAtMs).toBeGreaterThan(0);
  expect(s.conn.ws).toBe(replacement as unknown as WebSocket); // the replacement carries on
  // Before: none left LIVE (B and C LIVE with nothing feeding them until their first frame or the ack deadline).
  expect(s.invalidated).toEqual([
    { topic: "book.B", state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
    { topic: "book.C", state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
  ]);
  expect(s.topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.RESYNCING, BookState.RESYNCING]);
  // Their subscribes stay out on the replacement: its first book of each makes it LIVE again (no resubscribe).
  expect(s.topics.map((t) => t.sub)).toEqual([SUB_ACTIVE, SUB_PENDING, SUB_PENDING]);
  expect(s.conn.pending.size).toBe(2);
  // Recorded before the books leave LIVE, naming them: replay does the same there.
  const retired = s.events.filter((e) => e.url === SOCKET_RETIRED_URL);
  expect(retired).toEqual([{ url: SOCKET_RETIRED_URL, body: "book.B book.C" }]);
  await s.stop();
});

test("a book already resyncing when the old socket goes is left to its resync (not named, not invalidated again)", async () => {
  const s = setup();
  const { old } = overlap(s);
  s.topics[2]!.book = BookState.RESYNCING; // its own resync under way (a bridge, a restart)
  old.onclose!({ code: 1000, reason: "bye" });
  expect(s.conn.retiringWs).toBe(null);
  expect(s.invalidated).toEqual([{ topic: "book.B", state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
  expect(s.events.filter((e) => e.url === SOCKET_RETIRED_URL)).toEqual([{ url: SOCKET_RETIRED_URL, body: "book.B" }]);
  await s.stop();
});

test("the old socket closed once the replacement carries every book: nothing leaves LIVE, ws:retired names none", async () => {
  const s = setup();
  const { replacement } = overlap(s);
  const ids = replacement.sent.map((x) => (JSON.parse(x) as { id: string }).id);
  s.control.onControl(s.conn, { ack: ids[1]! });
  s.control.onControl(s.conn, { ack: ids[2]! });
  s.round(ROUND_MS);
  expect(s.conn.retiringWs).toBe(null);
  expect(s.invalidated).toEqual([]);
  expect(s.events.filter((e) => e.url === SOCKET_RETIRED_URL)).toEqual([{ url: SOCKET_RETIRED_URL, body: "" }]);
  await s.stop();
});

test("replay: a recorded ws:retired leaves the books it names as the live run did, and no other", async () => {
  const s = setup(true);
  for (const t of s.topics) t.book = BookState.LIVE;
  s.conn.topics[2]!.book = BookState.STALE;
  for (const [url, body] of [
    [SOCKETS_RECORDED_URL, ""],
    [SOCKET_SWAP_URL, ""],
    [SOCKET_RETIRED_URL, "book.B book.C book.unknown"],
  ] as const) {
    expect(s.lifecycle.replaySocketEvent(s.conn.name, url, body)).toBe(true);
  }
  expect(s.conn.retiringGeneration).toBe(-1);
  expect(s.topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.RESYNCING, BookState.RESYNCING]);
  expect(s.invalidated.map((x) => [x.topic, x.reason])).toEqual([
    ["book.B", StatusReason.DISCONNECTED],
    ["book.C", StatusReason.DISCONNECTED],
  ]);
  await s.stop();
});

/** Through a venue adapter's replay path (Bybit): the record's body reaches the lifecycle (ingestConnectionEvent). */
test("replay through the Bybit adapter: ws:retired naming the book makes it leave LIVE; one naming none changes nothing", async () => {
  const { replayedBybit } = await import("../bybit/replayed-rig.ts");
  for (const named of [false, true]) {
    const { adapter, sink, conn, ingest } = await replayedBybit(50);
    const event = (url: string, body = "") => adapter.ingestConnectionEvent("linear", conn.name, url, 1, body);
    event(SOCKETS_RECORDED_URL);
    ingest("snapshot", 10, "100.0");
    expect(adapter.topicInfo(0).state).toBe("live");
    event(SOCKET_SWAP_URL);
    event(SOCKET_RETIRED_URL, named ? "orderbook.50.BTCUSDT" : "");
    expect(sink.invalid).toEqual(named ? [{ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }] : []);
    ingest("snapshot", 11, "100.5"); // the replacement's book: LIVE again
    expect(adapter.topicInfo(0).state).toBe("live");
    await adapter.stop();
  }
});

/**
 * The replacement fails and the old socket is the connection's again (goBack). A book the old socket did not serve at
 * the swap (C: resyncing then, subscribed on the replacement only, LIVE by its snapshot there) has no feed once the
 * replacement is gone: before, it stayed LIVE until the old socket answered its resubscribe (through an Upbit
 * bisection, long). It leaves LIVE as on a disconnect, the served books stay LIVE, and ws:back names it; replayed,
 * the records leave the same books LIVE.
 */
test("gone back to the old socket: a book only the replacement fed leaves LIVE; ws:back names it and replay does the same", async () => {
  const s = setup();
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const old = new FakeWs("old");
  s.conn.ws = old as unknown as WebSocket;
  (s.lifecycle as unknown as { bindSocket(c: unknown, ws: unknown, gen: number): void }).bindSocket(s.conn, old, s.conn.generation);
  for (const t of s.topics) {
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  const c = s.topics[2]!;
  c.sub = SUB_IDLE; // unsubscribed for its resync: not on the old socket
  c.book = BookState.RESYNCING;
  s.lifecycle.onPlannedClose(s.conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!();
  expect(s.conn.retiringWs).toBe(old);
  const ids = replacement.sent.map((x) => (JSON.parse(x) as { id: string }).id);
  s.control.onControl(s.conn, { ack: ids[2]! }); // C carried by the replacement
  c.book = BookState.LIVE; // by the replacement's snapshot
  replacement.onclose!({ code: 1006, reason: "gone" }); // the replacement fails: back to the old socket
  expect(s.conn.ws).toBe(old as unknown as WebSocket);
  expect(s.topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE, BookState.RESYNCING]);
  expect(s.invalidated).toEqual([{ topic: "book.C", state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
  // Resubscribed on the old socket: its book there makes it LIVE again.
  expect(old.sent.map((x) => (JSON.parse(x) as { params: string[] }).params)).toEqual([["book.C"]]);
  const back = s.events.filter((e) => e.url === SOCKET_BACK_URL);
  expect(back).toEqual([{ url: SOCKET_BACK_URL, body: "book.C" }]);
  await s.stop();

  // Replay of the records: the same books leave LIVE at ws:back.
  const r = setup(true);
  for (const t of r.topics) t.book = BookState.LIVE;
  for (const [url, body] of [
    [SOCKETS_RECORDED_URL, ""],
    [SOCKET_SWAP_URL, ""],
    [SOCKET_BACK_URL, back[0]!.body],
  ] as const) {
    expect(r.lifecycle.replaySocketEvent(r.conn.name, url, body)).toBe(true);
  }
  expect(r.topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE, BookState.RESYNCING]);
  expect(r.invalidated).toEqual(s.invalidated);
  await r.stop();
});

// A book the old socket serves, closed during the overlap (its unsubscribe goes on the replacement: the old socket
// still streams it) and listed again before the replacement's snapshot of it: gone back, it waits for a snapshot the
// old socket's stream (diffs) never brings. It is redone there (unsubscribe, subscribe) as a resync asked for during
// the overlap is. Until 2026-12-07 nothing was sent: AWAITING_SNAPSHOT until its stale time.
test("gone back to the old socket: a book closed and listed again during the overlap, no snapshot yet, is redone there", async () => {
  const s = setup();
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const old = new FakeWs("old");
  s.conn.ws = old as unknown as WebSocket;
  (s.lifecycle as unknown as { bindSocket(c: unknown, ws: unknown, gen: number): void }).bindSocket(s.conn, old, s.conn.generation);
  for (const t of s.topics) {
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  s.lifecycle.onPlannedClose(s.conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!();
  expect(s.conn.retiringWs).toBe(old);
  for (const x of replacement.sent) s.control.onControl(s.conn, { ack: (JSON.parse(x) as { id: string }).id });
  const b = s.topics[1]!;
  s.lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
  s.lifecycle.activate(b);
  await Promise.resolve(); // the activation's subscribe (one turn's, flushActivated)
  expect(b.book).toBe(BookState.AWAITING_SNAPSHOT);
  replacement.onclose!({ code: 1006, reason: "gone" }); // before its snapshot there: back to the old socket
  expect(s.conn.ws).toBe(old as unknown as WebSocket);
  expect(b.book).not.toBe(BookState.LIVE);
  // Asked again on the old socket (its unsubscribe first: it is subscribed there), not left to its stale time.
  expect(old.sent.map((x) => JSON.parse(x) as { method: string; params: string[] }).map((x) => [x.method, x.params])).toEqual([["unsubscribe", ["book.B"]]]);
  await s.stop();
});
