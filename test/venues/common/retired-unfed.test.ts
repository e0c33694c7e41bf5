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
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED as SUB_REJECTED_, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SOCKET_BACK_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL } from "../../../src/venues/venue.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { FakeWs } from "./fake-ws.ts";
import { rng } from "../../support/mulberry32.ts";
import { fakeLifecycleOptions } from "./client-ping-rig.ts";

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
    ...fakeLifecycleOptions(() => nowMs, { pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS, deadConnectionMs: DEAD_CONNECTION_MS }),
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

/** A fresh FakeWs "old", the connection's socket with its handlers bound (its close handler too); FakeWs.made restarts at it. */
function bindOld(s: ReturnType<typeof setup>): FakeWs {
  FakeWs.made = [];
  const old = new FakeWs("old");
  s.conn.ws = old as unknown as WebSocket;
  (s.lifecycle as unknown as { bindSocket(c: unknown, ws: unknown, gen: number): void }).bindSocket(s.conn, old, s.conn.generation);
  return old;
}

/** bindOld, every book subscribed there and LIVE. */
function liveOnOld(s: ReturnType<typeof setup>): FakeWs {
  const old = bindOld(s);
  for (const t of s.topics) {
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  return old;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

/** Three books LIVE on the old socket; swapped to a replacement that acks A only, B's and C's subscribes still out. */
function overlap(s: ReturnType<typeof setup>) {
  vi.stubGlobal("WebSocket", FakeWs);
  const old = liveOnOld(s);
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

test("a book already resyncing when the old socket goes is not invalidated again, but named: its resync ends as on a disconnect", async () => {
  const s = setup();
  const { old } = overlap(s);
  s.topics[2]!.book = BookState.RESYNCING; // its own resync under way (a bridge, a restart)
  old.onclose!({ code: 1000, reason: "bye" });
  expect(s.conn.retiringWs).toBe(null);
  expect(s.invalidated).toEqual([{ topic: "book.B", state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
  // Named (until s-rdbin it was not): the old socket was its only feed, so a REST bridge on its diffs is dropped
  // (the disconnected hook; binance/retired-bridge.test.ts), and replay does the same.
  expect(s.events.filter((e) => e.url === SOCKET_RETIRED_URL)).toEqual([{ url: SOCKET_RETIRED_URL, body: "book.B book.C" }]);
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
  vi.stubGlobal("WebSocket", FakeWs);
  const old = liveOnOld(s);
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
  vi.stubGlobal("WebSocket", FakeWs);
  const old = liveOnOld(s);
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

/**
 * Randomized planned reconnects with instruments closed and listed again (retire / activate) at any point, against a
 * model of the venue: each socket streams what its requests asked for (an unsubscribe that went on the replacement
 * leaves the old socket streaming), a subscribe's ack owes one snapshot on its socket, and the book is LIVE only by a
 * snapshot on a socket whose frames are taken. After every step: no book LIVE unless a socket of the connection streams
 * it to us (its subscribe there acked, no unsubscribe since); an unsubscribe of a book still listed goes only at a
 * go-back, for a book not LIVE (nothing is redone on the replacement once an overlap succeeded: restartWanted leaves no
 * trace); at the end, everything answered, every listed book is LIVE (none left to its stale time). No defect behind it (passes on main); it fails with the go-back redo of d6089519
 * undone (seed 40: a book closed and listed again during the overlap stays AWAITING_SNAPSHOT on the old socket), with
 * goBack restarting a LIVE book (seed 1), and with retired()'s or goBack's unfed pass left out (seeds 8, 186).
 */
test("randomized planned reconnects with closes and listings: no book LIVE without a feed, no needless restart, none left waiting", async () => {
  vi.stubGlobal("WebSocket", FakeWs);
  for (let seed = 1; seed <= 600; seed++) {
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const s = setup(true); // no capture tap: the records are not looked at here
    const old = liveOnOld(s);
    const streams = new Map<FakeWs, Set<string>>([[old, new Set(s.topics.map((t) => t.topic))]]);
    // What each socket's subscribe was acked for since (not unsubscribed there since): the book joins its stream there.
    const joined = new Map<FakeWs, Set<string>>([[old, new Set(s.topics.map((t) => t.topic))]]);
    const unacked = new Map<FakeWs, { id: string; method: string; params: string[] }[]>();
    const read = new Map<FakeWs, number>();
    const owed: { ws: FakeWs; topic: string }[] = [];
    const opened = new Set<FakeWs>([old]);
    let now = 0;
    const trail: string[] = [];
    const fail = (why: string) => expect.fail(`seed ${seed}: ${why}; steps: ${trail.join(", ")}`);
    const byName = (name: string) => s.topics.find((t) => t.topic === name)!;
    // What each socket was sent since the last look: the venue applies a request as it comes.
    const venueReads = (goBackStep: boolean, liveBefore: Set<string>) => {
      for (const ws of FakeWs.made) {
        const from = read.get(ws) ?? 0;
        read.set(ws, ws.sent.length);
        for (const text of ws.sent.slice(from)) {
          if (!text.startsWith("{")) continue; // a ping
          const r = JSON.parse(text) as { id: string; method: string; params: string[] };
          let set = streams.get(ws);
          if (!set) streams.set(ws, (set = new Set()));
          for (const p of r.params) {
            if (r.method === "subscribe") set.add(p);
            else {
              set.delete(p);
              joined.get(ws)?.delete(p);
              // Its snapshot still owed there is not sent after this (the venue answers in order; left out: one in
              // flight across a close and a listing again, taken while the unsubscribe is still out).
              for (let i = owed.length - 1; i >= 0; i--) if (owed[i]!.ws === ws && owed[i]!.topic === p) owed.splice(i, 1);
              const t = byName(p);
              if (t.sub !== SUB_REJECTED_ && (!goBackStep || liveBefore.has(p))) fail(`needless unsubscribe of listed ${p} on ${ws.url}`);
            }
          }
          const q = unacked.get(ws) ?? [];
          q.push(r);
          unacked.set(ws, q);
        }
      }
    };
    const fed = (ws: WebSocket | null, topic: string) => ws !== null && (joined.get(ws as unknown as FakeWs)?.has(topic) ?? false);
    const check = () => {
      for (const t of s.topics) {
        if (t.book !== BookState.LIVE) continue;
        if (!fed(s.conn.ws, t.topic) && !fed(s.conn.retiringWs, t.topic)) fail(`${t.topic} LIVE with no socket streaming it to us`);
      }
    };
    const ack = () => {
      const ws = s.conn.ws as unknown as FakeWs;
      const r = unacked.get(ws)?.shift();
      if (!r) return;
      // The snapshots owed on this socket come before its next answer.
      for (let i = 0; i < owed.length; ) {
        if (owed[i]!.ws === ws) snapshot(i);
        else i++;
      }
      s.control.onControl(s.conn, { ack: r.id });
      if (r.method !== "subscribe") return;
      let set = joined.get(ws);
      if (!set) joined.set(ws, (set = new Set()));
      for (const p of r.params) {
        owed.push({ ws, topic: p });
        if (streams.get(ws)?.has(p) ?? false) set.add(p);
      }
    };
    const snapshot = (i: number) => {
      const { ws, topic } = owed.splice(i, 1)[0]!;
      const t = byName(topic);
      const taken = ws === (s.conn.ws as unknown as FakeWs) || ws === (s.conn.retiringWs as unknown as FakeWs);
      if (taken && (streams.get(ws)?.has(topic) ?? false) && (t.sub === SUB_ACTIVE || t.sub === SUB_PENDING)) t.book = BookState.LIVE;
    };
    // A replacement opens at once.
    const openReplacement = () => {
      for (const ws of FakeWs.made) {
        if (opened.has(ws) || s.conn.replacing !== (ws as unknown as WebSocket)) continue;
        opened.add(ws);
        ws.onopen!();
      }
    };
    for (let step = 0; step < 40; step++) {
      const r = random();
      const liveBefore = new Set(s.topics.filter((t) => t.book === BookState.LIVE).map((t) => t.topic));
      let goBackStep = false;
      if (r < 0.25) {
        trail.push("ack");
        ack();
      } else if (r < 0.4) {
        if (owed.length > 0) {
          trail.push("snapshot");
          snapshot(Math.floor(random() * owed.length));
        }
      } else if (r < 0.5) {
        const t = pick(s.topics);
        if (t.sub !== SUB_REJECTED_) {
          trail.push(`close ${t.topic}`);
          s.lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED);
        }
      } else if (r < 0.62) {
        const t = pick(s.topics);
        if (t.sub === SUB_REJECTED_) {
          trail.push(`list ${t.topic}`);
          s.lifecycle.activate(t);
          await Promise.resolve(); // the activation's subscribe (flushActivated)
        }
      } else if (r < 0.72) {
        trail.push("plan");
        s.lifecycle.onPlannedClose(s.conn, "test");
      } else if (r < 0.8) {
        if (s.conn.retiringWs !== null) {
          trail.push("replacement fails");
          goBackStep = true;
          (s.conn.ws as unknown as FakeWs).onclose!({ code: 1006, reason: "gone" });
        }
      } else if (r < 0.84) {
        if (s.conn.retiringWs !== null) {
          trail.push("old closes");
          (s.conn.retiringWs as unknown as FakeWs).onclose!({ code: 1000, reason: "bye" });
        }
      } else {
        trail.push("round");
        now += 10;
        s.round(now);
      }
      openReplacement();
      venueReads(goBackStep, liveBefore);
      check();
    }
    // Everything answered, every snapshot owed delivered, rounds run: each listed book ends LIVE.
    for (let i = 0; i < 30; i++) {
      while ((unacked.get(s.conn.ws as unknown as FakeWs)?.length ?? 0) > 0) {
        ack();
        venueReads(false, new Set());
      }
      while (owed.length > 0) snapshot(0);
      now += 10;
      s.round(now);
      openReplacement();
      venueReads(false, new Set());
      check();
    }
    expect(s.conn.replacing, `seed ${seed}`).toBe(null);
    for (const t of s.topics) if (t.sub !== SUB_REJECTED_ && t.book !== BookState.LIVE) fail(`${t.topic} listed but in book state ${t.book} at the end`);
    await s.stop();
  }
});
