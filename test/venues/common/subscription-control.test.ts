/**
 * The common request machinery with a venue of its own (a JSON protocol with per-connection and per-IP message
 * limits) on a fake clock and fake sockets: pacing in order, ack deadlines counted from the real send, batch
 * bisection, per-topic rejection, bare-text pongs, server test requests.
 */
import { describe, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_PENDING, SUB_REJECTED, TopicState } from "../../../src/venues/common/connection.ts";
import type { AckError, ControlFrame, RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { splitBudget, type MessageLimit } from "../../../src/venues/common/budgets.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import { replayRecordedJson, SendRecordingConnection } from "./fake-connection.ts";
import { rng } from "../../support/mulberry32.ts";
import { quietLifecycleOptions } from "./quiet-lifecycle.ts";

/** Requests `{"id":…,"method":…,"params":[…]}`; acks `{"id":…,"result":null}` or `{"id":…,"error":"…"}`. */
function protocol(pacing?: RequestProtocol["pacing"]): RequestProtocol {
  return {
    venue: "fake",
    pacing,
    maxArgsPerRequest: () => 4,
    encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
    classifyControl(msg: unknown): ControlFrame {
      const m = msg as Record<string, unknown>;
      if (m.method === "test_request") return { kind: "test_request", reply: '{"method":"public/test"}' };
      if (typeof m.id !== "string") return { kind: "other" };
      return { kind: "ack", op: "", success: m.error === undefined, retMsg: String(m.error ?? ""), reqId: m.id, successTopics: undefined, failTopics: undefined };
    },
    parseAckError(retMsg: string): AckError {
      const bad = /^unknown (\S+)$/.exec(retMsg);
      if (bad) return { kind: "handler_not_found", topic: bad[1]! };
      if (retMsg === "too many") return { kind: "args_size" };
      if (retMsg === "slow down") return { kind: "rate_limited" };
      if (retMsg === "no such thing") return { kind: "refused" };
      return { kind: "other" };
    },
    rejectHint: () => "",
  };
}

function setup(pacing?: RequestProtocol["pacing"], topicsPerConn = 8, conns = 1) {
  let nowMs = 0;
  const invalid: { topic: string; state: BookState; reason: StatusReason }[] = [];
  const control = new SubscriptionControl(protocol(pacing), silentLogger, () => nowMs, undefined, (t, state, reason) => invalid.push({ topic: t.topic, state, reason }));
  const all = Array.from({ length: conns }, (_, c) => {
    const conn = new SendRecordingConnection(c);
    const topics = Array.from({ length: topicsPerConn }, (_, i) => new TopicState(i, "spot", `S${c}x${i}`, 10, `book.S${c}x${i}`, conn));
    for (const t of topics) {
      conn.topics.push(t);
      conn.byTopic.set(t.topic, t);
    }
    return { conn, topics };
  });
  return { control, all, invalid, at: (ms: number) => (nowMs = ms), ack: (conn: SendRecordingConnection, id: string, error?: string) => control.onControl(conn, error ? { id, error } : { id, result: null }) };
}

/**
 * The reference request count: at most perWindow requests in any windowMs on the socket (requestWaitMs says how long
 * until the next may go). A control on it (random from `seed`), one connection of five topics whose socket notes when
 * each request is written (sentMs).
 */
function countedRig(seed: number, perWindow: number, windowMs: number, now: () => number) {
  const r = rng(seed);
  const sentMs: number[] = [];
  const counted: RequestProtocol = {
    ...protocol(),
    requestWaitMs: () => {
      const inWindow = sentMs.filter((s) => now() - s < windowMs);
      return inWindow.length < perWindow ? 0 : inWindow[inWindow.length - perWindow]! + windowMs - now();
    },
  };
  const control = new SubscriptionControl(counted, silentLogger, now, undefined, () => undefined);
  control.random = r;
  const conn = new SendRecordingConnection(0);
  conn.ws = { send: (text: string) => void (conn.sent.push(text), sentMs.push(now())) } as unknown as WebSocket;
  const topics = conn.addTopics(["book.A", "book.B", "book.C", "book.D", "book.E"], 10);
  return { r, control, conn, topics, sentMs };
}

/** No perWindow + 1 requests written within windowMs. */
function expectWithinCount(sentMs: readonly number[], perWindow: number, windowMs: number, what: string): void {
  for (let i = 0; i + perWindow < sentMs.length; i++) expect(sentMs[i + perWindow]! - sentMs[i]!, `${what}: ${perWindow + 1} requests within ${windowMs} ms`).toBeGreaterThanOrEqual(windowMs);
}

const ids = (sent: string[]) => sent.map((s) => (JSON.parse(s) as { id: string }).id);

describe("common subscription control", () => {
  test("pacing: a burst up to the connection's bucket, the rest in order as tokens come; the ack deadline starts at the send", () => {
    const { control, all, at } = setup({ perConnection: { capacity: 2, perSecond: 1 } });
    const { conn, topics } = all[0]!;
    control.sendRequest(conn, "subscribe", topics); // 8 topics, 4 per request → 2 requests
    control.sendRequest(conn, "unsubscribe", [topics[0]!]);
    control.sendRequest(conn, "unsubscribe", [topics[1]!]);
    expect(ids(conn.sent)).toEqual(["s1", "s2"]);
    expect(conn.pending.get("u3")!.sentMs).toBe(Infinity); // queued: no ack deadline yet
    at(999);
    control.flush();
    expect(conn.sent).toHaveLength(2);
    at(1000);
    control.flush();
    expect(ids(conn.sent)).toEqual(["s1", "s2", "u3"]);
    expect(conn.pending.get("u3")!.sentMs).toBe(1000);
    at(2000);
    control.flush();
    expect(ids(conn.sent)).toEqual(["s1", "s2", "u3", "u4"]);
    expect(control.paced).toBe(2);
    control.stop();
  });

  test("pacing: the per-IP bucket is shared by every connection", () => {
    const { control, all, at } = setup({ perIp: { capacity: 3, perSecond: 2 } }, 4, 2);
    for (const { conn, topics } of all) control.sendRequest(conn, "subscribe", topics.slice(0, 2)); // one request each
    for (const { conn, topics } of all) control.sendRequest(conn, "unsubscribe", [topics[3]!]);
    expect(all[0]!.conn.sent.length + all[1]!.conn.sent.length).toBe(3);
    at(500);
    control.flush();
    expect(all[0]!.conn.sent.length + all[1]!.conn.sent.length).toBe(4);
    control.stop();
  });

  test("retireAll under a shared per-IP budget: unsubscribes go in the order of each connection's first active topic, a closed pending one changing nothing", async () => {
    // The order before closed pending topics were passed on (unsubscribeClosed, for Upbit's sake): a pending topic
    // listed first put its connection first (its unsubscribe then took the token the other's was due).
    const { control, all, at } = setup({ perIp: { capacity: 1, perSecond: 1 } }, 2, 3);
    const [c0, c1, c2] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
    const lifecycle = new ConnectionLifecycle("fake", all.map((x) => x.conn), control, { invalidate: () => undefined, resync: () => undefined }, quietLifecycleOptions(() => 0));
    c0.topics[0]!.sub = SUB_ACTIVE;
    c1.topics[0]!.sub = SUB_PENDING;
    c1.topics[1]!.sub = SUB_ACTIVE;
    control.send(c2.conn, "x"); // the token
    lifecycle.retireAll([c1.topics[0]!, c0.topics[0]!, c1.topics[1]!], StatusReason.INSTRUMENT_CLOSED);
    at(1_000);
    control.flush();
    expect([c0.conn.sent.length, c1.conn.sent.length]).toEqual([1, 0]);
    at(2_000);
    control.flush();
    expect(JSON.parse(c1.conn.sent[0]!)).toMatchObject({ method: "unsubscribe", params: [c1.topics[1]!.topic] }); // not the pending one
    for (const x of all) x.conn.ws = null;
    await lifecycle.stop();
    control.stop();
  });

  test("pacing: a shared per-IP budget goes round the connections: one whose outbox keeps refilling does not starve another's queued request", () => {
    // Before: each flush served the connections in the order they began waiting, each until its outbox was empty, so
    // one kept busy (a stream of resyncs) took every token and the other's subscribe never went: its books never
    // LIVE, its ack deadline (counted from the send) never started, and nothing ever said so.
    const { control, all, at } = setup({ perIp: { capacity: 1, perSecond: 1 } }, 4, 2);
    const [busy, other] = [all[0]!.conn, all[1]!.conn];
    control.send(busy, "b0"); // the token
    control.send(busy, "b1"); // queued: busy waits first
    control.sendRequest(other, "subscribe", all[1]!.topics.slice(0, 1));
    for (let s = 1; s <= 6; s++) {
      control.send(busy, `b${s + 1}`); // one more each second: its outbox is never empty
      at(s * 1000);
      control.flush();
    }
    expect(other.sent).toHaveLength(1); // it went by its turn (the second token), not never
    expect(other.pending.get("s1")!.sentMs).toBe(2000);
    expect(busy.sent).toEqual(["b0", "b1", "b2", "b3", "b4", "b5"]); // its own order kept
    control.stop();
  });

  test("pacing: under a shared per-IP budget a connection with nothing queued does not take the token another waits for", () => {
    // Before: send() went at once whenever its own outbox was empty and a token was there, so a connection sending
    // just as the IP budget refilled (before the flush timer) took the token the waiting one was due, every time.
    const { control, all, at } = setup({ perIp: { capacity: 1, perSecond: 1 } }, 1, 2);
    const [waiter, eager] = [all[0]!.conn, all[1]!.conn];
    control.send(waiter, "w0"); // the token
    control.send(waiter, "w1"); // waits for the next, at 1000
    for (let s = 1; s <= 3; s++) {
      at(s * 1000);
      control.send(eager, `e${s}`); // as the budget refills, before the timer's flush
      control.flush();
    }
    expect(waiter.sent).toEqual(["w0", "w1"]); // before: ["w0"], every token taken by eager
    expect(eager.sent).toEqual(["e1", "e2"]); // its own turn, behind w1
    control.stop();
  });

  test("pacing: the flush timer is set for the connection that can send first, not the first one waiting", () => {
    // Before: the timer was set from the first waiting connection's wait (and one already set was kept), so a message
    // whose own bucket had a token 100 ms on waited out another connection's whole second: b1 went at 2000, not 1100.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { control, all, at } = setup({ perConnection: { capacity: 1, perSecond: 1 } }, 1, 2);
      const [a, b] = [all[0]!.conn, all[1]!.conn];
      let nowMs = 0;
      const until = (ms: number) => {
        for (; nowMs < ms; ) {
          at((nowMs += 50));
          vi.advanceTimersByTime(50);
        }
      };
      control.send(b, "b0"); // b's token
      until(500);
      control.send(a, "a0"); // a's token
      control.send(a, "a1"); // queued: a's next token at 1500 (the timer is set for it)
      until(600);
      control.send(b, "b1"); // queued behind no one of its own: b's next token at 1000
      until(950);
      expect([a.sent, b.sent]).toEqual([["a0"], ["b0"]]);
      until(1050);
      expect(b.sent).toEqual(["b0", "b1"]); // before: still ["b0"] until a's 1500
      control.send(b, "b2"); // b's next token at 2000
      control.send(a, "a2"); // behind a1: a's next token after it at 2500
      until(2550);
      expect([a.sent, b.sent]).toEqual([["a0", "a1", "a2"], ["b0", "b1", "b2"]]);
      control.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  test("pacing: a per-IP sliding window sends at most its max in any window, every connection's together; a share below one a window widens it", () => {
    const { control, all, at } = setup({ perIp: { count: 3, windowMs: 1000 } }, 1, 2);
    const total = () => all[0]!.conn.sent.length + all[1]!.conn.sent.length;
    for (let i = 0; i < 8; i++) control.send(all[i % 2]!.conn, `m${i}`);
    expect(total()).toBe(3);
    at(999);
    control.flush();
    expect(total()).toBe(3); // a bucket of 3 refilled at 3 a second would have sent 2 more within the second
    at(1000);
    control.flush();
    expect(total()).toBe(6);
    control.stop();
    // A sixteenth of 8 a second: one each 16 slots of 125 ms + 31 ms (not one a second, which sixteen workers would add
    // up to 16), worker 3 in the fourth slot (budgets.ts splitBudget; not all sixteen at 0).
    let nowMs = 0;
    const shared = new SubscriptionControl(protocol({ perIp: { count: 8, windowMs: 1000 } }), silentLogger, () => nowMs, undefined, () => {}, 1 / 16, 3);
    const conn = new SendRecordingConnection(0);
    for (let i = 0; i < 3; i++) shared.send(conn, `m${i}`);
    expect(conn.sent).toEqual([]);
    nowMs = 468;
    shared.flush();
    expect(conn.sent).toEqual(["m0"]);
    nowMs = 468 + 2495;
    shared.flush();
    expect(conn.sent).toEqual(["m0"]);
    nowMs = 468 + 2496;
    shared.flush();
    expect(conn.sent).toEqual(["m0", "m1"]);
    shared.stop();
  });

  test("a rejected batch: the named topic is rejected (HALTED / SUBSCRIBE_REJECTED), the rest retried; too large is bisected", () => {
    const { control, all, ack, invalid } = setup(undefined, 4);
    const { conn, topics } = all[0]!;
    control.sendRequest(conn, "subscribe", topics);
    ack(conn, "s1", "unknown book.S0x2");
    expect(topics[2]!.sub).toBe(SUB_REJECTED);
    expect(invalid).toEqual([{ topic: "book.S0x2", state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    const retry = JSON.parse(conn.sent[1]!) as { id: string; params: string[] };
    expect(retry.params).toEqual(["book.S0x0", "book.S0x1", "book.S0x3"]);
    ack(conn, retry.id, "too many");
    const halves = conn.sent.slice(2).map((s) => (JSON.parse(s) as { params: string[] }).params);
    expect(halves).toEqual([["book.S0x0", "book.S0x1"], ["book.S0x3"]]);
    for (const s of conn.sent.slice(2)) ack(conn, (JSON.parse(s) as { id: string }).id);
    expect(topics.map((t) => t.sub)).toEqual([SUB_ACTIVE, SUB_ACTIVE, SUB_REJECTED, SUB_ACTIVE]);
    expect(control.argsSizeErrors).toBe(1);
  });

  test("a single topic refused for a reason that may pass is sent again after a growing backoff, never given up; one the venue proves unservable is rejected", () => {
    // Before 2026-12-06 any unexplained error on a single-topic subscribe (every resync's) rejected the topic: one
    // "system busy" halted its book for good.
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
    let nowMs = 0;
    const invalid: { topic: string; state: BookState; reason: StatusReason }[] = [];
    const control = new SubscriptionControl(protocol(), log, () => nowMs, undefined, (t, state, reason) => invalid.push({ topic: t.topic, state, reason }));
    control.random = () => 0; // equal jitter: half of each step (0.5, 1, 2, … s)
    const conn = new SendRecordingConnection(0);
    const [t, u] = conn.addTopics(["book.A", "book.B"], 10);
    control.sendRequest(conn, "subscribe", [t!]);
    const waits: number[] = [];
    for (let k = 0; k < 8; k++) {
      control.onControl(conn, { id: ids(conn.sent).at(-1), error: "50001 system busy" });
      expect(t!.sub).toBe(SUB_PENDING); // not given up
      const before = conn.sent.length;
      const from = nowMs;
      while (conn.sent.length === before) {
        nowMs += 250;
        control.retriesDue(nowMs);
        expect(nowMs - from).toBeLessThanOrEqual(60_000); // bounded
      }
      waits.push(nowMs - from);
      expect((JSON.parse(conn.sent.at(-1)!) as { params: string[] }).params).toEqual(["book.A"]);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(control.subscribeErrors).toBe(8);
    expect(control.subscribeRejected).toBe(0);
    expect(warnings.filter((w) => w.includes("may pass"))).toHaveLength(1); // once per streak
    expect(invalid.length).toBeGreaterThan(0); // subscribers see the book is not to be trusted meanwhile
    expect(invalid.every((x) => x.state === BookState.RESYNCING && x.reason === StatusReason.SUBSCRIBE_REJECTED)).toBe(true);
    control.onControl(conn, { id: ids(conn.sent).at(-1), result: null });
    expect(t!.sub).toBe(SUB_ACTIVE);
    expect(t!.subscribeErrorStreak).toBe(0); // the next refusal starts at the first step again
    // Refused alone with words the venue's parser lists as permanent: rejected at once.
    control.sendRequest(conn, "subscribe", [u!]);
    control.onControl(conn, { id: ids(conn.sent).at(-1), error: "no such thing" });
    expect(u!.sub).toBe(SUB_REJECTED);
    expect(invalid.at(-1)).toEqual({ topic: "book.B", state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED });
    control.stop();
  });

  test("a single topic refused as not existing under a name not quite its own is rejected, not sent again forever", async () => {
    // Before, "unknown <name>" (handler_not_found) naming a spelling other than the topic's (the venue's case, its own
    // form of the name) matched no topic of the request: a single topic was then sent again every 30-60 s for ever,
    // though the venue said it does not exist. Bybit's "handler not found" without its topic likewise.
    const { control, all, invalid } = setup(undefined, 2);
    const { conn, topics } = all[0]!;
    control.sendRequest(conn, "subscribe", [topics[0]!]);
    control.onControl(conn, { id: ids(conn.sent).at(-1), error: "unknown book.s0x0" });
    expect(topics[0]!.sub).toBe(SUB_REJECTED);
    expect(invalid.at(-1)).toEqual({ topic: "book.S0x0", state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED });
    expect(control.subscribeErrors).toBe(0);
    // In a batch it names none of: the batch is split, each topic alone (the good one is not rejected for it).
    const batch = setup(undefined, 2);
    batch.control.sendRequest(batch.all[0]!.conn, "subscribe", batch.all[0]!.topics);
    batch.control.onControl(batch.all[0]!.conn, { id: ids(batch.all[0]!.conn.sent).at(-1), error: "unknown book.s0x1" });
    expect(batch.all[0]!.topics.map((t) => t.sub)).toEqual([SUB_PENDING, SUB_PENDING]);
    expect(ids(batch.all[0]!.conn.sent)).toHaveLength(3);
    const bybit = (await import("../../../src/venues/bybit/protocol.ts")).parseAckError;
    expect(bybit("error:handler not found").kind).toBe("refused");
    control.stop();
    batch.control.stop();
  });

  test("each venue gives up a topic only on its listed permanent errors", async () => {
    const okx = (await import("../../../src/venues/okx/protocol.ts")).parseAckError;
    const binance = (await import("../../../src/venues/binance/protocol.ts")).parseAckError;
    const bybit = (await import("../../../src/venues/bybit/protocol.ts")).parseAckError;
    const coinbase = (await import("../../../src/venues/coinbase/protocol.ts")).parseAckError;
    const { DeribitRequests } = await import("../../../src/venues/deribit/protocol.ts");
    const deribit = (m: string) => new DeribitRequests().parseAckError(m);
    const kinds = (f: (m: string) => AckError, msgs: string[]) => msgs.map((m) => f(m).kind);
    expect(kinds(okx, ["60018 Wrong URL or channel:books,instId:X-Y doesn't exist", "60018 doesn't exist", "64003 fee tier", "60011 Please log in", "60008 x", "60028 x", "60029 x"])).toEqual([
      "handler_not_found",
      "refused",
      "refused",
      "refused",
      "refused",
      "refused",
      "refused",
    ]);
    expect(kinds(okx, ["60014 Requests too frequent.", "60012 Invalid request", "50001 Service temporarily unavailable", "64009 new", "600180 x", ""])).toEqual(["rate_limited", "other", "other", "other", "other", "other"]);
    expect(kinds(binance, ["code 2: Invalid request: invalid stream", "code 2: Invalid request: request ID must be an unsigned integer", "code 3: Invalid JSON", "code -1001: Internal error"])).toEqual(["refused", "other", "other", "other"]);
    expect(kinds(bybit, ["error:handler not found,topic:orderbook.500.X", "error:already subscribed,topic:orderbook.50.X", "args size >10", "Internal server error"])).toEqual(["handler_not_found", "already_subscribed", "args_size", "other"]);
    expect(kinds(coinbase, ["Failed to subscribe: FOO-USD is not a valid product", "Failed to subscribe: not a valid product", "Failed to subscribe: too many requests", "Failed to subscribe"])).toEqual(["handler_not_found", "refused", "rate_limited", "other"]);
    expect(kinds(deribit, ["13778 raw_subscriptions_not_available_for_unauthorized", "10028 too_many_requests", "11094 internal_server_error", "13028 temporarily_unavailable"])).toEqual(["refused", "rate_limited", "other", "other"]);
  });

  test("Coinbase's 8 messages per second per IP: from an idle start and any send pattern, never more than 8 in any second", async () => {
    // Before 2026-12-06 a token bucket of 8 refilled at 8/s: 16 went in the first second from a full bucket.
    const { coinbaseRequests } = await import("../../../src/venues/coinbase/protocol.ts");
    const pacing = coinbaseRequests(() => undefined).pacing;
    for (let seed = 1; seed <= 10; seed++) {
      const r = rng(seed);
      let nowMs = 0;
      const control = new SubscriptionControl(protocol(pacing), silentLogger, () => nowMs, undefined, () => undefined);
      const conns = [new SendRecordingConnection(0), new SendRecordingConnection(1)];
      const sentAt: number[] = [];
      for (const c of conns) c.ws = { send: () => void sentAt.push(nowMs) } as unknown as WebSocket;
      for (let k = 0; k < 300; k++) {
        nowMs += r() < 0.5 ? 0 : Math.floor(r() * 400);
        const conn = conns[Math.floor(r() * 2)]!;
        const n = 1 + Math.floor(r() * 3);
        for (let i = 0; i < n; i++) control.send(conn, `m${k}.${i}`);
        control.flush();
      }
      for (let i = 0; i < 200; i++) {
        nowMs += 50;
        control.flush();
      }
      for (let i = 0; i + 8 < sentAt.length; i++) expect(sentAt[i + 8]! - sentAt[i]!, `seed ${seed}: 9 sends within a second`).toBeGreaterThanOrEqual(1000);
      expect(sentAt.length).toBeGreaterThan(100);
      control.stop();
    }
  });

  test("a bare text pong is a keepalive answer; a server test request is answered", () => {
    const { control, all } = setup(undefined, 1);
    const { conn, topics } = all[0]!;
    conn.pongDeadlineMs = 123;
    expect(control.onText(conn, "pong")).toBe(true);
    expect(conn.pongDeadlineMs).toBe(0);
    expect(control.onText(conn, "garbage")).toBe(false);
    expect(control.onControl(conn, { method: "test_request" })).toBe("test_request");
    expect(conn.sent).toEqual(['{"method":"public/test"}']);
    expect(topics[0]!.sub).not.toBe(SUB_PENDING);
  });

  test("rate limited: the same request goes again after a backoff on the adapter's clock and jitter, nothing is rejected or split", async () => {
    const { control, all, invalid, at } = setup(undefined, 3);
    const { conn, topics } = all[0]!;
    control.random = () => 0; // equal jitter: half the 500 ms step fixed, none of the random half
    control.sendRequest(conn, "subscribe", topics);
    const [first] = ids(conn.sent);
    control.onControl(conn, { id: first, error: "slow down" });
    expect(control.rateLimited).toBe(1);
    expect(topics.every((t) => t.sub === SUB_PENDING)).toBe(true);
    expect(conn.sent).toHaveLength(1); // not split to single topics, not sent at once
    // Real time passes, the adapter's clock does not: nothing goes (before 2026-12-06 a real 0.25–0.5 s timer sent it).
    await new Promise((r) => setTimeout(r, 700));
    at(249);
    control.retriesDue(249);
    expect(conn.sent).toHaveLength(1);
    at(250);
    control.retriesDue(250);
    expect(conn.sent).toHaveLength(2);
    const again = JSON.parse(conn.sent[1]!) as { id: string; params: string[] };
    expect(again.params).toEqual(topics.map((t) => t.topic));
    control.retriesDue(10_000);
    expect(conn.sent).toHaveLength(2); // once
    control.onControl(conn, { id: again.id, result: null });
    expect(topics.every((t) => t.sub === SUB_ACTIVE)).toBe(true);
    expect(invalid).toEqual([]);
    control.stop();
  });

  test("rate limited: a clock stepped back holds the retry no longer than its own wait; a socket gone drops it", () => {
    const { control, all, at } = setup(undefined, 2, 2);
    control.random = () => 0.5; // 250 + 125 ms
    at(10_000);
    for (const { conn, topics } of all) {
      control.sendRequest(conn, "subscribe", topics);
      control.onControl(conn, { id: ids(conn.sent)[0], error: "slow down" });
    }
    all[1]!.conn.generation++; // its socket replaced: the retry is not for the new one
    at(0); // stepped back 10 s
    control.retriesDue(0);
    expect(all[0]!.conn.sent).toHaveLength(1);
    at(374);
    control.retriesDue(374);
    expect(all[0]!.conn.sent).toHaveLength(1);
    at(375);
    control.retriesDue(375);
    expect(all[0]!.conn.sent).toHaveLength(2);
    expect(all[1]!.conn.sent).toHaveLength(1);
    control.stop();
  });

  test("rate limited: an accepted request answered per topic (successTopics) starts the backoff over, as one answered by id does", () => {
    // Before (s-rev40), only an ack matched by request id reset the rate-limit streak: a venue answering per topic
    // (Coinbase's subscriptions event, Bybit option acks) kept every later refusal at the longest backoff (up to 10 s).
    const delays: number[] = [];
    const log = { ...silentLogger, warn: (_m: string, f?: Record<string, unknown>) => void (typeof f?.delayMs === "number" && delays.push(f.delayMs)) };
    const base = protocol();
    const perTopic: RequestProtocol = {
      ...base,
      classifyControl: (msg: unknown) => {
        const m = msg as { okTopics?: string[] };
        return m.okTopics ? { kind: "ack", op: "subscribe", success: true, retMsg: "", reqId: undefined, successTopics: m.okTopics, failTopics: [] } : base.classifyControl(msg);
      },
    };
    const control = new SubscriptionControl(perTopic, log, () => 0, undefined, () => undefined);
    const conn = new SendRecordingConnection(0);
    const topics = Array.from({ length: 5 }, (_, i) => new TopicState(i, "spot", `S${i}`, 10, `book.S${i}`, conn));
    for (const t of topics) conn.byTopic.set(t.topic, t);
    for (const t of topics.slice(0, 3)) {
      control.sendRequest(conn, "subscribe", [t]);
      control.onControl(conn, { id: ids(conn.sent).at(-1), error: "slow down" }); // three refusals in a row
    }
    control.sendRequest(conn, "subscribe", [topics[3]!]);
    control.onControl(conn, { okTopics: [topics[3]!.topic] }); // accepted, answered per topic
    expect(topics[3]!.sub).toBe(SUB_ACTIVE);
    control.sendRequest(conn, "subscribe", [topics[4]!]);
    control.onControl(conn, { id: ids(conn.sent).at(-1), error: "slow down" });
    expect(delays).toHaveLength(4);
    expect(delays[3]).toBeLessThanOrEqual(500); // the first step again (0.25-0.5 s), not the fourth (2-4 s)
    control.stop();
  });

  test("rate limited: the request goes again no sooner than the venue's own request count allows (requestWaitMs), not every backoff step", () => {
    // Before, a venue whose count of a socket's requests says the budget is spent for a while (OKX: 480 per hour)
    // got the refused request again every 0.5-10 s step meanwhile, each one more request refused (and counted).
    const delays: number[] = [];
    const log = { ...silentLogger, warn: (_m: string, f?: Record<string, unknown>) => void (typeof f?.delayMs === "number" && delays.push(f.delayMs)) };
    let spent = false; // the count's room taken by the first request
    const counted: RequestProtocol = { ...protocol(), requestWaitMs: () => (spent ? 60_000 : 0) };
    const control = new SubscriptionControl(counted, log, () => 0, undefined, () => undefined);
    const conn = new SendRecordingConnection(0);
    const t = new TopicState(0, "spot", "S0", 10, "book.S0", conn);
    conn.byTopic.set(t.topic, t);
    control.sendRequest(conn, "subscribe", [t]);
    spent = true;
    control.onControl(conn, { id: ids(conn.sent)[0], error: "slow down" });
    expect(control.rateLimited).toBe(1);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(60_000); // not the first step (0.25-0.5 s)
    expect(t.sub).toBe(SUB_PENDING);
    expect(conn.sent).toHaveLength(1);
    control.stop();
  });

  test("retries due together never send past the venue's own request count (requestWaitMs), whatever is refused", () => {
    // Before, each refused request asked the count once, when it was refused: several refused together while it had
    // room for one (OKX's hour nearly spent) were all due at once and all went, past the count, each then refused
    // 60014 and asked again, together, at the next free slot.
    const perWindow = 6;
    const windowMs = 10_000;
    for (let seed = 1; seed <= 20; seed++) {
      let nowMs = 0;
      const { r, control, conn, topics, sentMs } = countedRig(seed, perWindow, windowMs, () => nowMs);
      for (const t of topics) control.sendRequest(conn, "subscribe", [t]);
      let answered = 0;
      for (let step = 0; step < 400; step++) {
        // Answer what is out: refused for a reason that may pass, as over the rate limit, or accepted.
        for (; answered < conn.sent.length; answered++) {
          const id = (JSON.parse(conn.sent[answered]!) as { id: string }).id;
          const x = r();
          control.onControl(conn, x < 0.5 ? { id, error: "50001 busy" } : x < 0.95 ? { id, error: "slow down" } : { id, result: null });
        }
        nowMs += Math.floor(r() * 700);
        control.retriesDue(nowMs);
      }
      expectWithinCount(sentMs, perWindow, windowMs, `seed ${seed}`);
      expect(sentMs.length).toBeGreaterThan(perWindow * 2); // retries went (a test that sends nothing proves nothing)
      control.stop();
    }
  });

  test("no request goes past the venue's own request count (requestWaitMs): resyncs' owed subscribes wait, none dropped", () => {
    // Until 2026-12-07 only a refused request's retry asked the count: the subscribe sent when an unsubscribe is
    // answered (restartTopic's) and a first subscribe went past it (OKX: the 481st request of the hour). Reference: at
    // most perWindow requests in any windowMs; random resyncs, accepted answers, time; then quiet: every topic active.
    const perWindow = 3;
    const windowMs = 10_000;
    for (let seed = 1; seed <= 20; seed++) {
      let nowMs = 0;
      const { r, control, conn, topics, sentMs } = countedRig(seed, perWindow, windowMs, () => nowMs);
      control.sendRequest(conn, "subscribe", topics.slice(0, 4));
      control.sendRequest(conn, "subscribe", topics.slice(4));
      let answered = 0;
      const answerAll = () => {
        for (; answered < conn.sent.length; answered++) control.onControl(conn, { id: (JSON.parse(conn.sent[answered]!) as { id: string }).id, result: null });
      };
      for (let step = 0; step < 300; step++) {
        if (r() < 0.3) control.restartTopic(topics[Math.floor(r() * topics.length)]!);
        if (r() < 0.7) answerAll();
        nowMs += Math.floor(r() * 2_000);
        control.retriesDue(nowMs);
      }
      for (let step = 0; step < 200; step++) {
        answerAll();
        nowMs += 1_000;
        control.retriesDue(nowMs);
      }
      expectWithinCount(sentMs, perWindow, windowMs, `seed ${seed}`);
      expect(topics.map((t) => t.sub), `seed ${seed}: every resync done`).toEqual(topics.map(() => SUB_ACTIVE));
      expect(control.budgetHeld, `seed ${seed}: the count held some`).toBeGreaterThan(0);
      control.stop();
    }
  });

  test("rate limited: a request accepted on another connection does not start this connection's backoff over", () => {
    // Before, one streak for all connections: a connection whose own limit is spent (OKX's hour, a per-connection
    // credit pool) was sent its refused request again at the first step (0.25-0.5 s) every time any other connection
    // had a request accepted, never backing off.
    const delays: number[] = [];
    const log = { ...silentLogger, warn: (_m: string, f?: Record<string, unknown>) => void (typeof f?.delayMs === "number" && delays.push(f.delayMs)) };
    const control = new SubscriptionControl(protocol(), log, () => 0, undefined, () => undefined);
    const [a, b] = [new SendRecordingConnection(0), new SendRecordingConnection(1)];
    const [ta1, ta2, tb] = [new TopicState(0, "spot", "A1", 10, "book.A1", a), new TopicState(1, "spot", "A2", 10, "book.A2", a), new TopicState(2, "spot", "B", 10, "book.B", b)];
    control.sendRequest(a, "subscribe", [ta1]);
    control.onControl(a, { id: ids(a.sent).at(-1), error: "slow down" }); // a's first refusal: 0.25-0.5 s
    control.sendRequest(b, "subscribe", [tb]);
    control.onControl(b, { id: ids(b.sent).at(-1), result: null }); // b's request accepted
    expect(tb.sub).toBe(SUB_ACTIVE);
    control.sendRequest(a, "subscribe", [ta2]);
    control.onControl(a, { id: ids(a.sent).at(-1), error: "slow down" }); // a's second refusal in a row
    expect(delays).toHaveLength(2);
    expect(delays[1]).toBeGreaterThanOrEqual(500); // the second step (0.5-1 s), not the first again
    const ta3 = new TopicState(3, "spot", "A3", 10, "book.A3", a);
    control.sendRequest(a, "subscribe", [ta3]);
    control.onControl(a, { id: ids(a.sent).at(-1), result: null }); // a's own accepted request starts it over
    control.sendRequest(a, "unsubscribe", [ta3]);
    control.onControl(a, { id: ids(a.sent).at(-1), error: "slow down" });
    expect(delays[2]).toBeLessThanOrEqual(500);
    control.stop();
  });

  test("a refusal without a request id that names a topic fails the request naming it, not the oldest of that op", () => {
    // Before, the oldest pending subscribe took it: its topics were split and sent again one by one, the named topic
    // (in the later request) was never rejected and its request stayed pending until the ack deadline.
    const base = protocol();
    const noId: RequestProtocol = {
      ...base,
      classifyControl: (msg: unknown) => {
        const m = msg as { noIdError?: string; noIdOk?: boolean };
        if (m.noIdError !== undefined) return { kind: "ack", op: "subscribe", success: false, retMsg: m.noIdError, reqId: undefined, successTopics: undefined, failTopics: undefined };
        if (m.noIdOk) return { kind: "ack", op: "subscribe", success: true, retMsg: "", reqId: undefined, successTopics: undefined, failTopics: undefined };
        return base.classifyControl(msg);
      },
    };
    const invalid: string[] = [];
    const control = new SubscriptionControl(noId, silentLogger, () => 0, undefined, (t) => invalid.push(t.topic));
    const conn = new SendRecordingConnection(0);
    const topics = Array.from({ length: 8 }, (_, i) => new TopicState(i, "spot", `S${i}`, 10, `book.S${i}`, conn));
    for (const t of topics) conn.byTopic.set(t.topic, t);
    control.sendRequest(conn, "subscribe", topics); // s1: S0..S3, s2: S4..S7
    control.onControl(conn, { noIdError: "unknown book.S5" });
    expect(topics[5]!.sub).toBe(SUB_REJECTED);
    expect(invalid).toEqual(["book.S5"]);
    expect([...conn.pending.keys()]).toEqual(["s1", "s3"]); // s1 untouched; s2's others sent again as s3
    expect((JSON.parse(conn.sent.at(-1)!) as { params: string[] }).params).toEqual(["book.S4", "book.S6", "book.S7"]);
    control.onControl(conn, { noIdOk: true }); // the oldest subscribe, as before
    expect(topics.slice(0, 4).map((t) => t.sub)).toEqual([SUB_ACTIVE, SUB_ACTIVE, SUB_ACTIVE, SUB_ACTIVE]);
    control.onControl(conn, { noIdError: "unknown book.S9" }); // names a topic no request holds: the oldest, as before
    expect([...conn.pending.keys()]).toEqual(["s4", "s5", "s6"]); // s3 split to single topics
    control.stop();
  });

  /**
   * Acks the fake venue sends without a request id: `{noIdOk: op}` answers the whole request (Bybit spot's may omit
   * req_id), `{topicOk: op, topic}` one topic (OKX's `{"event":"subscribe","arg":…}`, one per arg), `{listOk: op,
   * topics}` a list of them (Bybit option's COMMAND_RESP, whose op may be ""; `{listFail: op, topics}` its failTopics),
   * `reqId` added when it names its request
   * (OKX's `id`, Deribit's, Coinbase's matched one, Bybit's `req_id`).
   */
  function unnumberedAcks(pacing: RequestProtocol["pacing"], extra: Partial<RequestProtocol> = {}, invalidate: (t: TopicState, state: BookState) => void = () => undefined) {
    const base = protocol(pacing);
    const p: RequestProtocol = {
      ...base,
      ...extra,
      classifyControl: (msg: unknown) => {
        const m = msg as { noIdOk?: string; topicOk?: string; topic?: string; reqId?: string; listOk?: string; listFail?: string; topics?: string[] };
        if (m.listFail !== undefined) return { kind: "ack", op: m.listFail, success: false, retMsg: "", reqId: m.reqId, successTopics: [], failTopics: m.topics! };
        if (m.noIdOk !== undefined) return { kind: "ack", op: m.noIdOk, success: true, retMsg: "", reqId: undefined, successTopics: undefined, failTopics: undefined };
        if (m.topicOk !== undefined) return { kind: "ack", op: m.topicOk, success: true, retMsg: "", reqId: m.reqId, successTopics: [m.topic!], failTopics: undefined };
        if (m.listOk !== undefined) return { kind: "ack", op: m.listOk, success: true, retMsg: "", reqId: m.reqId, successTopics: m.topics!, failTopics: [] };
        return base.classifyControl(msg);
      },
    };
    let nowMs = 0;
    const control = new SubscriptionControl(p, silentLogger, () => nowMs, undefined, invalidate);
    const conn = new SendRecordingConnection(0);
    const topics = conn.addTopics(["book.A", "book.B", "book.C", "book.D", "book.E"], 10);
    return { control, conn, topics, at: (ms: number) => (nowMs = ms) };
  }

  test("an ack without a request id never answers a request still queued for pacing: a repeat leaves it pending, and its topics' stale clock starts when it goes", () => {
    // Before: the repeated ack took the queued request (the oldest subscribe left), its topics went ACTIVE unasked,
    // and when it was written flush found no pending entry, so their subscribeQueued stayed set: never judged stale.
    const { control, conn, topics, at } = unnumberedAcks({ perConnection: { capacity: 1, perSecond: 1 } });
    control.sendRequest(conn, "subscribe", topics); // s1: A..D written; s2: E queued
    expect(ids(conn.sent)).toEqual(["s1"]);
    control.onControl(conn, { noIdOk: "subscribe" }); // s1's answer
    control.onControl(conn, { noIdOk: "subscribe" }); // repeated
    control.onControl(conn, { id: "s2", result: null }); // naming one that has not gone out: not from the venue
    expect(topics.map((t) => t.sub)).toEqual([SUB_ACTIVE, SUB_ACTIVE, SUB_ACTIVE, SUB_ACTIVE, SUB_PENDING]);
    expect([...conn.pending.keys()]).toEqual(["s2"]);
    at(1_000);
    control.flush();
    expect(ids(conn.sent)).toEqual(["s1", "s2"]);
    expect(topics[4]!.subscribeQueued).toBe(false);
    expect(topics[4]!.lastMsgMs).toBe(1_000);
    control.onControl(conn, { noIdOk: "subscribe" }); // written now: answered
    expect(topics[4]!.sub).toBe(SUB_ACTIVE);
    control.stop();
  });

  test("replay: a per-topic answer naming no request is matched by order only from the socket's recorded open (replayAcksKnown)", () => {
    // Replay (no socket) begun mid-socket or past a capture gap: such an answer may be one to a request the capture
    // lacks (ConnectionLifecycle.replayCaptureGap). Until 2026-12-07 it took the oldest recorded one naming the topic.
    const { control, conn, topics } = unnumberedAcks(undefined);
    const [a, b] = topics;
    conn.ws = null;
    expect(replayRecordedJson(control, conn, JSON.stringify(["s1", "subscribe", ["book.A"]]))).toBe(true);
    control.onControl(conn, { listFail: "", topics: ["book.A"] });
    expect(a!.sub).not.toBe(SUB_REJECTED);
    control.onControl(conn, { listFail: "subscribe", topics: ["book.A"], reqId: "s1" }); // naming its request: matched
    expect(a!.sub).toBe(SUB_REJECTED);
    conn.replayAcksKnown = true; // a recorded ws:open or ws:close
    expect(replayRecordedJson(control, conn, JSON.stringify(["s2", "subscribe", ["book.B"]]))).toBe(true);
    control.onControl(conn, { listFail: "", topics: ["book.B"] });
    expect(b!.sub).toBe(SUB_REJECTED);
    control.stop();
  });

  test("RequestProtocol.requested: told once a request, live as sendRequest makes it (pending, before its write; queued for pacing too; held for the count: when it goes), replay at its ws:req", () => {
    // The one hook Bybit, Deribit and OKX learn a subscribe from (their behind-reset marks, OKX's budget wait). Until
    // s-subhook each caught it its own way (wrapping encodeRequest and replayRequest, or a callback of its protocol's).
    let nowMs = 0;
    let held = false;
    const told: string[] = [];
    const conn = new SendRecordingConnection(0);
    const counted: RequestProtocol = {
      ...protocol({ perConnection: { capacity: 1, perSecond: 1 } }),
      requestWaitMs: () => (held ? 5_000 : 0),
      requested: (op, topics, replay) => {
        const pending = [...conn.pending.values()].some((p) => p.op === op && p.topics.length === topics.length && p.topics.every((t) => topics.includes(t)));
        told.push(`${op} ${topics.map((t) => t.topic).join(",")} ${replay ? "replay" : "live"}${pending ? " pending" : ""} sent=${conn.sent.length}`);
      },
    };
    const control = new SubscriptionControl(counted, silentLogger, () => nowMs, undefined, () => undefined);
    const topics = conn.addTopics(["book.A", "book.B", "book.C", "book.D", "book.E", "book.F"], 10);
    control.sendRequest(conn, "subscribe", topics); // two requests (4 topics a request): one written, one queued for pacing
    expect(told).toEqual(["subscribe book.A,book.B,book.C,book.D live pending sent=0", "subscribe book.E,book.F live pending sent=1"]);
    nowMs = 1_000;
    control.flush(); // the queued one written: told when made, not again
    expect(conn.sent).toHaveLength(2);
    expect(told).toHaveLength(2);
    held = true;
    control.sendRequest(conn, "unsubscribe", [topics[0]!]); // held for the venue's count: not made yet
    expect(told).toHaveLength(2);
    held = false;
    nowMs = 10_000;
    control.retriesDue(nowMs);
    expect(told.slice(2)).toEqual(["unsubscribe book.A live pending sent=2"]);
    conn.ws = null; // replay
    expect(replayRecordedJson(control, conn, JSON.stringify(["s9", "subscribe", ["book.B", "book.X"]]))).toBe(true);
    expect(replayRecordedJson(control, conn, JSON.stringify(["s10", "subscribe", ["book.X"]]))).toBe(false); // none of conn's: nothing to tell
    expect(told.slice(3)).toEqual(["subscribe book.B replay pending sent=3"]);
    control.stop();
  });

  test("refusals without a reason (failTopicsUnexplained) separated by acceptances never halt the book, live or replayed", () => {
    // Live: each refusal RESYNCING (its listing asked: onRejected true), the listing's re-subscribe accepted, which
    // ends the streak. Replay keeps the re-subscribed topic ACTIVE (replayRecorded), and until 2026-12-07 its
    // acceptance left the streak as it was: the third refusal of a long replay halted the book live had resyncing.
    for (const replaying of [false, true]) {
      const invalid: BookState[] = [];
      const { control, conn, topics } = unnumberedAcks(undefined, { failTopicsUnexplained: true }, (_t, state) => void invalid.push(state));
      control.onRejected = () => true;
      const a = topics[0]!;
      if (replaying) conn.ws = null;
      for (let round = 1; round <= 4; round++) {
        const refused = `s${2 * round - 1}`;
        const accepted = `s${2 * round}`;
        if (replaying) replayRecordedJson(control, conn, JSON.stringify([refused, "subscribe", ["book.A"]]));
        else control.sendRequest(conn, "subscribe", [a]);
        control.onControl(conn, { listFail: "subscribe", topics: ["book.A"], reqId: refused });
        expect(a.sub).toBe(SUB_REJECTED);
        if (replaying) replayRecordedJson(control, conn, JSON.stringify([accepted, "subscribe", ["book.A"]]));
        else control.sendRequest(conn, "subscribe", [a]);
        control.onControl(conn, { listOk: "subscribe", topics: ["book.A"], reqId: accepted });
        expect(a.subscribeErrorStreak, replaying ? "replay" : "live").toBe(0);
      }
      expect(invalid, replaying ? "replay" : "live").toEqual([BookState.RESYNCING, BookState.RESYNCING, BookState.RESYNCING, BookState.RESYNCING]);
      control.stop();
    }
  });

  /**
   * A and B still streamed on this socket by our own account (TopicState.streamedOn, as subscribeGoes marks a book whose
   * subscribe took its closure's waiting unsubscribe's place), both in one subscribe; A closes again while it is out
   * (given up), and the venue refuses both topic by topic (Deribit's partial result, Coinbase's failTopics): each channel
   * is unsubscribed, B's book halted. Until s-streamleft reject() returned early for A (already given up) and cleared
   * B's mark: nothing unsubscribed either channel, subscribed until the socket went.
   */
  test("a subscribe of books still streamed refused topic by topic (failTopics): their channels are unsubscribed, given up again or not", () => {
    const { control, conn, topics } = unnumberedAcks(undefined);
    const [a, b] = [topics[0]!, topics[1]!];
    control.sendRequest(conn, "subscribe", [a, b]); // s1
    a.streamedOn = conn.generation;
    b.streamedOn = conn.generation;
    a.sub = SUB_REJECTED; // closed again while s1 is out (ConnectionLifecycle.retire: nothing to send)
    control.onControl(conn, { listFail: "subscribe", topics: ["book.A", "book.B"], reqId: "s1" });
    const sent = conn.sent.map((x) => JSON.parse(x) as { method: string; params: string[] });
    expect(sent.slice(1)).toEqual([
      { id: "u2", method: "unsubscribe", params: ["book.A"] },
      { id: "u3", method: "unsubscribe", params: ["book.B"] },
    ]);
    expect([a.sub, b.sub, a.streamedOn, b.streamedOn]).toEqual([SUB_REJECTED, SUB_REJECTED, -1, -1]);
    control.onControl(conn, { id: "u2", result: null });
    control.onControl(conn, { id: "u3", error: "no such thing" }); // an unsubscribe refused: taken as unsubscribed
    expect([a.sub, b.sub, conn.sent.length, conn.pending.size]).toEqual([SUB_REJECTED, SUB_REJECTED, 3, 0]);
    control.stop();
  });

  test("a per-topic ack answers only a written request naming the topic, and only one of the op it says", () => {
    const { control, conn, topics, at } = unnumberedAcks({ perConnection: { capacity: 1, perSecond: 1 } });
    const [a] = topics;
    control.sendRequest(conn, "subscribe", [a!]); // s1, written
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A" });
    expect(a!.sub).toBe(SUB_ACTIVE);
    at(1_000);
    control.restartTopic(a!); // u2, written at 1 s
    control.onControl(conn, { topicOk: "unsubscribe", topic: "book.A" }); // → IDLE → s3, queued (no token until 2 s)
    expect(ids(conn.sent)).toEqual(["s1", "u2"]);
    expect(a!.subscribeQueued).toBe(true);
    // A repeat of s1's answer: before, it confirmed s3 (ACTIVE before it was even written, and subscribeQueued kept).
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A" });
    expect(a!.sub).toBe(SUB_PENDING);
    expect([...conn.pending.keys()]).toEqual(["s3"]);
    at(2_000);
    control.flush();
    expect(ids(conn.sent)).toEqual(["s1", "u2", "s3"]);
    expect(a!.subscribeQueued).toBe(false);
    // A repeat of u2's answer, s3 written now: before, the oldest request naming A (s3, a subscribe) took it.
    control.onControl(conn, { topicOk: "unsubscribe", topic: "book.A" });
    expect(a!.sub).toBe(SUB_PENDING);
    expect([...conn.pending.keys()]).toEqual(["s3"]);
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A" }); // s3's own answer
    expect(a!.sub).toBe(SUB_ACTIVE);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });

  test("randomized: whatever acks repeat, in whatever form, no queued request is answered and subscribeQueued is exactly 'a queued subscribe names it'", () => {
    // The venue answers what was written, in order, by id, without one, or per topic, and repeats any earlier answer;
    // topics resync meanwhile, under a pacing budget that keeps requests queued. Before the fix a repeat took a queued
    // request: gone from `pending` while still in the outbox, its topics' subscribeQueued never cleared.
    type Written = { id: string; op: "subscribe" | "unsubscribe"; topics: string[] };
    for (let seed = 1; seed <= 25; seed++) {
      const r = rng(seed);
      const { control, conn, topics, at } = unnumberedAcks({ perConnection: { capacity: 2, perSecond: 1 } });
      let nowMs = 0;
      let sentSeen = 0;
      const written: Written[] = [];
      const answers: unknown[] = [];
      let nextToAnswer = 0;
      const answer = (w: Written): unknown[] => {
        const form = Math.floor(r() * 3);
        if (form === 0) return [{ id: w.id, result: null }];
        if (form === 1) return [{ noIdOk: w.op }];
        return w.topics.map((topic) => ({ topicOk: w.op, topic }));
      };
      const check = (step: number) => {
        const queued = conn.outbox.map((m) => conn.pending.get(m.reqId!));
        expect(queued.every((p) => p !== undefined && p.sentMs === Infinity), `seed ${seed} step ${step}: every queued request still pending`).toBe(true);
        for (const t of topics) {
          const named = queued.some((p) => p!.op === "subscribe" && p!.topics.includes(t));
          expect(t.subscribeQueued, `seed ${seed} step ${step}: ${t.topic}`).toBe(named);
        }
      };
      control.sendRequest(conn, "subscribe", topics);
      for (let step = 0; step < 120; step++) {
        const x = r();
        if (x < 0.25) {
          nowMs += Math.floor(r() * 1_500);
          at(nowMs);
          control.flush();
        } else if (x < 0.55 && nextToAnswer < written.length) {
          for (const a of answer(written[nextToAnswer++]!)) {
            answers.push(a);
            control.onControl(conn, a);
          }
        } else if (x < 0.75 && answers.length > 0) {
          control.onControl(conn, answers[Math.floor(r() * answers.length)]!); // a repeat
        } else {
          control.restartTopic(topics[Math.floor(r() * topics.length)]!);
        }
        for (; sentSeen < conn.sent.length; sentSeen++) {
          const m = JSON.parse(conn.sent[sentSeen]!) as { id: string; method: "subscribe" | "unsubscribe"; params: string[] };
          written.push({ id: m.id, op: m.method, topics: m.params });
        }
        check(step);
      }
      control.stop();
    }
  });

  test("a per-topic ack naming its request answers that request only: a late repeat of an old subscribe's ack does not confirm the resubscribe", () => {
    // OKX, Deribit and Coinbase topic acks carry the request id. Before, it was ignored: the repeat of s1's ack took
    // the oldest written subscribe naming A (s3), so A went ACTIVE unanswered, and s3's real answer, a refusal, then
    // answered nothing (s3 was gone): A stayed ACTIVE with no data until the stale rule resynced it.
    const { control, conn, topics } = unnumberedAcks(undefined);
    const [a, b] = topics;
    control.sendRequest(conn, "subscribe", [a!]); // s1
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A", reqId: "s1" });
    control.restartTopic(a!); // u2
    control.onControl(conn, { topicOk: "unsubscribe", topic: "book.A", reqId: "u2" }); // → s3 written
    expect(ids(conn.sent)).toEqual(["s1", "u2", "s3"]);
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A", reqId: "s1" }); // the late repeat
    expect(a!.sub).toBe(SUB_PENDING);
    expect([...conn.pending.keys()]).toEqual(["s3"]);
    control.sendRequest(conn, "subscribe", [b!]); // s4
    control.onControl(conn, { topicOk: "subscribe", topic: "book.A", reqId: "s4" }); // names a request without A: none
    expect(a!.sub).toBe(SUB_PENDING);
    expect([...conn.pending.keys()]).toEqual(["s3", "s4"]);
    control.onControl(conn, { id: "s3", error: "no such thing" }); // s3's own answer: refused
    expect(a!.sub).toBe(SUB_REJECTED);
    control.onControl(conn, { topicOk: "subscribe", topic: "book.B", reqId: "s4" });
    expect(b!.sub).toBe(SUB_ACTIVE);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });

  test("randomized: acks naming their request (whole or per topic, any earlier one repeated) make a topic ACTIVE only by its latest written subscribe's answer", () => {
    // Before, a per-topic ack's id was ignored: a repeat of an old subscribe's answer confirmed the topic's newer one.
    for (let seed = 1; seed <= 25; seed++) {
      const r = rng(seed);
      const { control, conn, topics, at } = unnumberedAcks({ perConnection: { capacity: 2, perSecond: 1 } });
      let nowMs = 0;
      let sentSeen = 0;
      const written: { id: string; op: string; topics: string[] }[] = [];
      const latestSubscribe = new Map<string, string>(); // topic → id of its last subscribe written
      const answers: { msg: unknown; id: string }[] = [];
      let nextToAnswer = 0;
      const deliver = (a: { msg: unknown; id: string }, step: number) => {
        const before = topics.map((t) => t.sub);
        control.onControl(conn, a.msg);
        topics.forEach((t, i) => {
          if (before[i] === SUB_PENDING && t.sub === SUB_ACTIVE) expect(a.id, `seed ${seed} step ${step}: ${t.topic} made ACTIVE by`).toBe(latestSubscribe.get(t.topic));
        });
      };
      control.sendRequest(conn, "subscribe", topics);
      for (let step = 0; step < 120; step++) {
        const x = r();
        if (x < 0.25) {
          nowMs += Math.floor(r() * 1_500);
          at(nowMs);
          control.flush();
        } else if (x < 0.55 && nextToAnswer < written.length) {
          const w = written[nextToAnswer++]!;
          const forms = r() < 0.5 ? [{ id: w.id, result: null }] : w.topics.map((topic) => ({ topicOk: w.op, topic, reqId: w.id }));
          for (const msg of forms) {
            answers.push({ msg, id: w.id });
            deliver({ msg, id: w.id }, step);
          }
        } else if (x < 0.75 && answers.length > 0) {
          deliver(answers[Math.floor(r() * answers.length)]!, step); // a repeat
        } else {
          control.restartTopic(topics[Math.floor(r() * topics.length)]!);
        }
        for (; sentSeen < conn.sent.length; sentSeen++) {
          const m = JSON.parse(conn.sent[sentSeen]!) as { id: string; method: string; params: string[] };
          written.push({ id: m.id, op: m.method, topics: m.params });
          if (m.method === "subscribe") for (const t of m.params) latestSubscribe.set(t, m.id);
        }
      }
      control.stop();
    }
  });

  test("randomized: every real answer finds its request, in each venue's form, whatever the order of requests answered by id and whatever repeats come between", () => {
    // The other side of matching by id: an answer must never go unmatched (its request would wait for the ack deadline
    // and the connection recycle: a flap at scale). Forms: the whole request by id (Binance, Deribit, Bybit linear),
    // one topic by id and op (OKX, its args' acks interleaving with other requests'), a list by id with op "" (Bybit
    // option with req_id), a topic or list without id (Bybit option without req_id), the whole without id for the
    // oldest written of its op (Bybit spot without req_id). Repeats of earlier id'd answers come between.
    for (let seed = 1; seed <= 25; seed++) {
      const r = rng(seed);
      const { control, conn, topics, at } = unnumberedAcks({ perConnection: { capacity: 2, perSecond: 1 } });
      let nowMs = 0;
      let sentSeen = 0;
      const out: { id: string; op: string; left: string[]; touched: boolean }[] = []; // written, not fully answered
      const delivered: unknown[] = [];
      const readSent = () => {
        for (; sentSeen < conn.sent.length; sentSeen++) {
          const m = JSON.parse(conn.sent[sentSeen]!) as { id: string; method: string; params: string[] };
          out.push({ id: m.id, op: m.method, left: [...m.params], touched: false });
        }
      };
      const answerOne = (w: (typeof out)[0], step: number, oldestOfOp: boolean) => {
        const x = r();
        let msg: unknown;
        let names: string[];
        if (!w.touched && x < 0.25) [msg, names] = [{ id: w.id, result: null }, w.left];
        else if (!w.touched && x < 0.35 && oldestOfOp) [msg, names] = [{ noIdOk: w.op }, w.left];
        else if (x < 0.6) {
          const topic = w.left[Math.floor(r() * w.left.length)]!;
          [msg, names] = [{ topicOk: w.op, topic, reqId: r() < 0.8 ? w.id : undefined }, [topic]];
        } else [msg, names] = [{ listOk: r() < 0.5 ? "" : w.op, topics: w.left, reqId: r() < 0.8 ? w.id : undefined }, w.left];
        control.onControl(conn, msg);
        if ((msg as { reqId?: string; id?: string }).reqId !== undefined || "id" in (msg as object)) delivered.push(msg);
        const p = conn.pending.get(w.id);
        for (const n of names) expect(p?.topics.some((t) => t.topic === n) ?? false, `seed ${seed} step ${step}: ${JSON.stringify(msg)} left ${n} unanswered in ${w.id}`).toBe(false);
        w.left = w.left.filter((n) => !names.includes(n));
        w.touched = true;
        if (w.left.length === 0) out.splice(out.indexOf(w), 1);
      };
      control.sendRequest(conn, "subscribe", topics);
      for (let step = 0; step < 150; step++) {
        readSent();
        const x = r();
        if (x < 0.2) {
          nowMs += Math.floor(r() * 1_500);
          at(nowMs);
          control.flush();
        } else if (x < 0.65 && out.length > 0) {
          const w = r() < 0.5 ? out[0]! : out[Math.floor(r() * out.length)]!;
          answerOne(w, step, out.find((o) => o.op === w.op) === w);
        } else if (x < 0.8 && delivered.length > 0) {
          control.onControl(conn, delivered[Math.floor(r() * delivered.length)]!); // a repeat
        } else {
          control.restartTopic(topics[Math.floor(r() * topics.length)]!);
        }
      }
      // Every request still out answered (the oldest first, as a venue would), and those they lead to.
      for (let round = 0; round < 100 && (out.length > 0 || conn.outbox.length > 0 || sentSeen < conn.sent.length); round++) {
        nowMs += 2_000;
        at(nowMs);
        control.flush();
        readSent();
        while (out.length > 0) answerOne(out[0]!, -1, true);
      }
      expect(conn.pending.size, `seed ${seed}: requests never answered`).toBe(0);
      expect(topics.map((t) => t.sub), `seed ${seed}`).toEqual(topics.map(() => SUB_ACTIVE));
      control.stop();
    }
  });

  test("a server test request is answered at once, ahead of requests waiting for pacing tokens", () => {
    const { control, all, at } = setup({ perConnection: { capacity: 1, perSecond: 1 } }, 8);
    const { conn, topics } = all[0]!;
    at(0);
    control.sendRequest(conn, "subscribe", topics); // 2 requests of 4: one goes, one waits for a token
    expect(conn.sent).toHaveLength(1);
    control.onControl(conn, { method: "test_request" });
    expect(conn.sent).toHaveLength(2);
    expect(conn.sent[1]).toBe('{"method":"public/test"}');
    expect(control.testReplies).toBe(1);
    control.stop();
  });

  test("pacing against a model, its flush timer alone sending: no limit exceeded, each connection's order kept, every message sent within a bound or dropped with its socket", () => {
    // Events: a connection sends (one or a burst), time passes (only the flush timer sends what waits), the event loop
    // runs late (sends come before the timers due meanwhile fire), a socket closes (its queue dropped, as the
    // lifecycle does; or only marked closed, found by the next flush) and opens again.
    // The model: a bucket never lets out more than capacity + rate · t in any t, a window more than count in any
    // window (a worker's slot: only within it), a connection's messages go in the order sent, and a message goes
    // within (its place in its outbox + 1) turns of every connection at the slowest rate, plus a window and the loop's
    // lateness meanwhile, unless its socket went first. At the end nothing is queued and no timer is left armed, also after stop().
    type Limit = { capacity: number; perSecond: number } | { count: number; windowMs: number };
    const cases: { pacing: RequestProtocol["pacing"]; share: number; index: number }[] = [
      { pacing: { perConnection: { capacity: 2, perSecond: 2 } }, share: 1, index: 0 },
      { pacing: { perIp: { capacity: 3, perSecond: 2 } }, share: 1, index: 0 },
      { pacing: { perIp: { count: 3, windowMs: 1000 } }, share: 1, index: 0 },
      { pacing: { perConnection: { capacity: 2, perSecond: 2 }, perIp: { capacity: 3, perSecond: 3 } }, share: 1, index: 0 },
      { pacing: { perConnection: { count: 2, windowMs: 700 }, perIp: { count: 4, windowMs: 1000 } }, share: 1, index: 0 },
      { pacing: { perIp: { count: 8, windowMs: 1000 } }, share: 1 / 16, index: 5 },
      { pacing: { perIp: { capacity: 8, perSecond: 3 } }, share: 1 / 4, index: 1 },
    ];
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 0 });
    try {
      for (let seed = 1; seed <= 28; seed++) {
        const { pacing, share, index } = cases[seed % cases.length]!;
        const r = rng(seed);
        vi.setSystemTime(0);
        // The clock: the timers' (Date), or ahead of it while the event loop runs late (below).
        let lateUntilMs = 0;
        const clock = () => Math.max(Date.now(), lateUntilMs);
        const lates: { fromMs: number; lateMs: number }[] = [];
        const control = new SubscriptionControl(protocol(pacing), silentLogger, clock, undefined, () => {}, share, index);
        const n = 3;
        const conns = Array.from({ length: n }, (_, c) => new SendRecordingConnection(c));
        const sends: { conn: number; id: number; atMs: number }[] = [];
        const msgs: { conn: number; queuedMs: number; ahead: number; sentMs: number; droppedMs: number }[] = [];
        const open = (c: number) => {
          conns[c]!.ws = {
            send: (text: string) => {
              sends.push({ conn: c, id: Number(text), atMs: clock() });
              if (msgs[Number(text)]) msgs[Number(text)]!.sentMs = clock();
            },
          } as unknown as WebSocket;
          conns[c]!.open = true;
        };
        const dropped = (c: number) => {
          for (const m of msgs) if (m.conn === c && m.sentMs < 0 && m.droppedMs < 0) m.droppedMs = clock();
        };
        for (let c = 0; c < n; c++) open(c);
        const tag = `seed ${seed} ${JSON.stringify(pacing)} share ${share}`;
        const ip = (control as unknown as { ipBucket: MessageLimit | null }).ipBucket;
        const limitWaitMs = (q: SendRecordingConnection) => Math.max(q.bucket?.waitMs(clock()) ?? 0, ip?.waitMs(clock()) ?? 0);
        for (let k = 0; k < 160; k++) {
          const x = r();
          const c = Math.floor(r() * n);
          const conn = conns[c]!;
          if (x < 0.5) {
            for (let b = 1 + Math.floor(r() * 3); b > 0; b--) {
              if (!conn.open) break;
              msgs.push({ conn: c, queuedMs: clock(), ahead: conn.outbox.length, sentMs: -1, droppedMs: -1 });
              control.send(conn, String(msgs.length - 1));
            }
          } else if (x < 0.6) {
            // The event loop runs late: time passes, sends come, and only then do the timers due meanwhile fire.
            const lateMs = 1 + Math.floor(r() * 60);
            lateUntilMs = Date.now() + lateMs;
            lates.push({ fromMs: Date.now(), lateMs });
            for (let b = 1 + Math.floor(r() * 2); b > 0; b--) {
              const e = conns[Math.floor(r() * n)]!;
              if (!e.open) continue;
              msgs.push({ conn: e.id, queuedMs: lateUntilMs, ahead: e.outbox.length, sentMs: -1, droppedMs: -1 });
              control.send(e, String(msgs.length - 1));
            }
            vi.advanceTimersByTime(lateMs);
          } else if (x < 0.88) {
            const stepMs = 1 + Math.floor(r() * (r() < 0.7 ? 300 : 2500));
            vi.advanceTimersByTime(stepMs);
            // Nothing waits that could go: every queue's head lacks its connection's or the IP's token (looked at a ms
            // on: a bucket's wait is rounded up to whole ms, and may come out 1 ms long).
            vi.advanceTimersByTime(1);
            for (const q of conns) if (q.open && q.outbox.length > 0) expect(limitWaitMs(q), `${tag}: conn ${q.id} waits with a token there at ${clock()}`).toBeGreaterThan(0);
          } else if (x < 0.96 && conn.open) {
            conn.open = false;
            conn.ws = null;
            dropped(c);
            if (r() < 0.6) control.dropQueued(conn); // else the next flush finds it closed
          } else if (!conn.open) {
            control.dropQueued(conn); // the lifecycle's disconnect drops it at the latest
            open(c);
          }
        }
        vi.advanceTimersByTime(600_000);
        // Limits: every connection's own, and the IP's over them all (this worker's part of it).
        const check = (limit: Limit, perIp: boolean, atMs: number[]) => {
          if ("count" in limit) {
            const w = splitBudget(limit.count, limit.windowMs, perIp ? share : 1, perIp ? index : 0);
            for (let i = 0; i + w.count < atMs.length; i++) expect(atMs[i + w.count]! - atMs[i]!, `${tag}: over the window`).toBeGreaterThanOrEqual(w.windowMs);
            if (w.periodMs > 0) for (const t of atMs) expect((((t - w.phaseMs) % w.periodMs) + w.periodMs) % w.periodMs, `${tag}: out of its slot`).toBeLessThan(w.toleranceMs);
            return;
          }
          const s = perIp ? share : 1;
          const capacity = Math.floor(limit.capacity * s + 1e-9);
          expect(capacity, tag).toBeGreaterThanOrEqual(1); // (a split below one is a window: the case above)
          let over = "";
          for (let i = 0; i < atMs.length && over === ""; i++) {
            for (let j = i; j < atMs.length; j++) if (j - i + 1 > capacity + (limit.perSecond * s * (atMs[j]! - atMs[i]!)) / 1000 + 1e-9) over = `${j - i + 1} in [${atMs[i]}, ${atMs[j]}]`;
          }
          expect(over, `${tag}: over the bucket`).toBe("");
        };
        if (pacing!.perIp) check(pacing!.perIp, true, sends.map((s) => s.atMs));
        if (pacing!.perConnection) for (let c = 0; c < n; c++) check(pacing!.perConnection, false, sends.filter((s) => s.conn === c).map((s) => s.atMs));
        // A connection's messages in the order sent; none twice, none after its socket dropped it.
        for (let c = 0; c < n; c++) {
          const ids = sends.filter((s) => s.conn === c).map((s) => s.id);
          expect(ids, `${tag}: conn ${c} order`).toEqual([...ids].sort((a, b) => a - b));
        }
        for (const m of msgs) expect(m.sentMs < 0 || m.droppedMs < 0, `${tag}: sent after its socket dropped it`).toBe(true);
        // Each goes within a bound, or its socket went first.
        const spacingMs = (l: Limit | undefined, perIp: boolean) => {
          if (!l) return 0;
          const s = perIp ? share : 1;
          if ("perSecond" in l) return 1000 / (l.perSecond * s);
          const w = splitBudget(l.count, l.windowMs, s, perIp ? index : 0);
          return w.windowMs / w.count;
        };
        const windowMs = (l: Limit | undefined, perIp: boolean) => (l && "count" in l ? splitBudget(l.count, l.windowMs, perIp ? share : 1, perIp ? index : 0).windowMs : 0);
        const turnMs = n * spacingMs(pacing!.perIp, true) + spacingMs(pacing!.perConnection, false);
        const slackMs = windowMs(pacing!.perIp, true) + windowMs(pacing!.perConnection, false) + 5;
        // A late event loop delays what waits by as much (a window counts from the late send, so that adds up), and a
        // worker's slot missed by more than its tolerance by a period.
        const slotPeriodMs = pacing!.perIp && "count" in pacing!.perIp ? splitBudget(pacing!.perIp.count, pacing!.perIp.windowMs, share, index).periodMs : 0;
        for (const m of msgs) {
          const endMs = m.sentMs >= 0 ? m.sentMs : m.droppedMs >= 0 ? m.droppedMs : Infinity;
          let lateMs = 0;
          for (const l of lates) if (l.fromMs < endMs && l.fromMs + l.lateMs > m.queuedMs - 1) lateMs += l.lateMs + slotPeriodMs;
          const boundMs = m.queuedMs + (m.ahead + 1) * turnMs + slackMs + lateMs;
          if (m.droppedMs >= 0) expect(m.droppedMs, `${tag}: waited past its bound before its socket went`).toBeLessThanOrEqual(boundMs);
          else expect(m.sentMs, `${tag}: a message queued at ${m.queuedMs} with ${m.ahead} ahead`).toBeGreaterThanOrEqual(0);
          if (m.sentMs >= 0) expect(m.sentMs, `${tag}: a message queued at ${m.queuedMs} with ${m.ahead} ahead`).toBeLessThanOrEqual(boundMs);
        }
        expect(conns.map((c) => c.outbox.length), tag).toEqual([0, 0, 0]);
        expect(vi.getTimerCount(), `${tag}: a flush timer left armed with nothing queued`).toBe(0);
        // Stopped with messages queued: no timer left, and nothing sent after.
        for (let i = 0; i < 5; i++) control.send(conns.find((c) => c.open) ?? conns[0]!, String(msgs.length));
        const sentBeforeStop = sends.length;
        control.stop();
        expect(vi.getTimerCount(), `${tag}: a flush timer left armed after stop()`).toBe(0);
        vi.advanceTimersByTime(10_000);
        expect(sends.length, `${tag}: sent after stop()`).toBe(sentBeforeStop);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
