/**
 * A refusal that names no request, op or topic (Bybit option's COMMAND_RESP `{"success":false,"ret_msg":…,
 * "type":"COMMAND_RESP"}` with no lists) answers the one request written when there is one; with several out, whose it
 * is cannot be told, so each is taken as answered the safe way (subscribe topics restarted: unsubscribe, then
 * subscribe; unsubscribe topics taken as unsubscribed) and none waits for an answer that no longer comes
 * (SubscriptionControl.unmatchedRefusal). Bybit's own protocol on a fake socket; then offline Binance, OKX and Bybit
 * adapters on recording sockets: Binance's streams subscribed again for real (its resync keeps the stream), OKX's and
 * Bybit's fresh starts batched (OKX: its hourly request count).
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BYBIT_REQUESTS } from "../../../src/venues/bybit/protocol.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING } from "../../../src/venues/common/connection.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { offlineVenue } from "./offline-venue.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import type { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import type { BinanceConnection } from "../../../src/venues/binance/connection.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { MAX_ARGS_PER_REQUEST, MAX_TOPICS_PER_CONNECTION } from "../../../src/venues/okx/protocol.ts";

const REFUSAL = { success: false, ret_msg: "error:more than 2000 args per connection (simulator)", conn_id: "c1", type: "COMMAND_RESP" };
const accepted = (topics: string[]) => ({ success: true, conn_id: "c1", data: { failTopics: [], successTopics: topics }, type: "COMMAND_RESP" });
const sentOps = (conn: SendRecordingConnection) => conn.sent.map((s) => JSON.parse(s) as { req_id: string; op: string; args: string[] }).map((r) => `${r.req_id} ${r.op} ${r.args.join(",")}`);

function rig() {
  const control = new SubscriptionControl(BYBIT_REQUESTS, silentLogger, () => 0, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "option");
  const [a, b] = conn.addTopics(["book.A", "book.B"], 25);
  return { control, conn, a: a!, b: b! };
}

describe("a refusal naming no request, op or topic", () => {
  test("several requests out: each answered the safe way, none left pending (before: the oldest took it, the refused one waited)", () => {
    const { control, conn, a, b } = rig();
    a.sub = SUB_ACTIVE;
    control.sendRequest(conn, "unsubscribe", [a]); // u1
    control.sendRequest(conn, "subscribe", [b]); // s2
    expect(sentOps(conn)).toEqual(["u1 unsubscribe book.A", "s2 subscribe book.B"]);
    control.onControl(conn, REFUSAL);
    // Before: u1 took it (A taken as unsubscribed) and s2 stayed pending until its ack deadline; u1's real answer,
    // per topic and without op, could then confirm a later subscribe of A.
    expect([...conn.pending.values()].map((p) => p.reqId)).not.toContain("s2");
    expect(a.sub).toBe(SUB_IDLE); // taken as unsubscribed, as a refused unsubscribe is
    // B may be subscribed on the venue or not: restarted, unsubscribe then subscribe (never a duplicate subscribe).
    expect(sentOps(conn).slice(2)).toEqual(["u3 unsubscribe book.B"]);
    control.onControl(conn, accepted(["book.B"])); // u3's answer
    expect(sentOps(conn).slice(3)).toEqual(["s4 subscribe book.B"]);
    expect(b.sub).toBe(SUB_PENDING);
    control.onControl(conn, accepted(["book.B"])); // s4's
    expect([b.sub, conn.pending.size]).toEqual([SUB_ACTIVE, 0]);
    control.stop();
  });

  test("several requests out on a planned reconnect's replacement, of books the old socket serves: the replacement failed (go back), never taken as subscribed", () => {
    // Taken as subscribed, a LIVE book was left as it was: nothing pending, the old socket was closed as replaced and the
    // book stayed LIVE fed by nothing if the refusal was its subscribe's (until the stale rule).
    const { control, conn, a, b } = rig();
    conn.retiringWs = { send: () => undefined } as unknown as WebSocket;
    conn.retiringGeneration = 1;
    conn.generation = 2;
    for (const t of [a, b]) {
      t.book = BookState.LIVE;
      t.onRetiring = true;
    }
    const refused: string[] = [];
    control.onReplacementRefused = (_conn, why) => refused.push(why) > 0;
    control.sendRequest(conn, "subscribe", [a]);
    control.sendRequest(conn, "subscribe", [b]);
    control.onControl(conn, REFUSAL);
    expect(refused).toEqual([expect.stringContaining(REFUSAL.ret_msg)]);
    // Left for the go-back, which forgets the replacement's requests: nothing taken as answered meanwhile.
    expect([a.sub, b.sub, conn.pending.size]).toEqual([SUB_PENDING, SUB_PENDING, 2]);
    control.stop();
  });

  test("the same when the old socket cannot be gone back to (closing): the LIVE books it fed leave LIVE and restart", () => {
    // Taken as subscribed, they stayed LIVE, and the old socket's close then took them for carried by the replacement.
    const invalid: [string, BookState][] = [];
    const control = new SubscriptionControl(BYBIT_REQUESTS, silentLogger, () => 0, undefined, (t, state) => {
      invalid.push([t.topic, state]);
      t.book = state;
    });
    const conn = new SendRecordingConnection(0, "option");
    const [a, b] = conn.addTopics(["book.A", "book.B"], 25);
    conn.retiringWs = { send: () => undefined } as unknown as WebSocket;
    conn.retiringGeneration = 1;
    for (const t of [a!, b!]) {
      t.book = BookState.LIVE;
      t.onRetiring = true;
    }
    control.onReplacementRefused = () => false;
    control.sendRequest(conn, "subscribe", [a!]);
    control.sendRequest(conn, "subscribe", [b!]);
    control.onControl(conn, REFUSAL);
    expect(invalid).toEqual([["book.A", BookState.RESYNCING], ["book.B", BookState.RESYNCING]]);
    expect(sentOps(conn).slice(2)).toEqual(["u3 unsubscribe book.A,book.B"]); // batched (until 2026-12-07 one a book)
    control.stop();
  });

  test("one request out: it is that one's, as before (a single topic's subscribe sent again after its backoff)", () => {
    const { control, conn, b } = rig();
    control.sendRequest(conn, "subscribe", [b]);
    control.onControl(conn, REFUSAL);
    expect([conn.pending.size, control.subscribeErrors, sentOps(conn)]).toEqual([0, 1, ["s1 subscribe book.B"]]);
    control.stop();
  });
});

describe("a refusal naming no request: the fresh starts", () => {
  test("a resync asked for while the subscribe was out is the fresh start itself: no second restart after its ack (before: one more unsubscribe and subscribe)", () => {
    const { control, conn, a, b } = rig();
    a.sub = SUB_ACTIVE;
    control.sendRequest(conn, "unsubscribe", [a]); // u1
    control.sendRequest(conn, "subscribe", [b]); // s2
    control.restartTopic(b); // a resync while s2 is out: wanted after its ack (resyncAfterAck)
    control.onControl(conn, REFUSAL);
    control.onControl(conn, accepted(["book.B"])); // u3's answer
    expect(sentOps(conn).slice(2)).toEqual(["u3 unsubscribe book.B", "s4 subscribe book.B"]);
    control.onControl(conn, accepted(["book.B"])); // s4's
    // Before: B's resyncAfterAck was still set, and s4's ack restarted it once more ("u5 unsubscribe book.B").
    expect(sentOps(conn).slice(4)).toEqual([]);
    expect([b.sub, b.resyncAfterAck, conn.pending.size]).toEqual([SUB_ACTIVE, false, 0]);
    control.stop();
  });

  test("the same on `already subscribed`: its fresh start covers the resync asked for while its subscribe was out", () => {
    const { control, conn, b } = rig();
    control.sendRequest(conn, "subscribe", [b]); // s1
    control.restartTopic(b);
    control.onControl(conn, { success: false, ret_msg: "error:already subscribed,topic:book.B", conn_id: "c1", req_id: "s1", op: "subscribe" });
    control.onControl(conn, { success: true, ret_msg: "", conn_id: "c1", req_id: "u2", op: "unsubscribe" });
    control.onControl(conn, { success: true, ret_msg: "", conn_id: "c1", req_id: "s3", op: "subscribe" });
    expect(sentOps(conn)).toEqual(["s1 subscribe book.B", "u2 unsubscribe book.B", "s3 subscribe book.B"]); // before: and "u4 unsubscribe book.B"
    expect([b.sub, conn.pending.size]).toEqual([SUB_ACTIVE, 0]);
    control.stop();
  });
});

/** A socket that records what is written to it (the adapter binds its handlers; nothing is received on it). */
function recordingWs(): WebSocket & { sent: string[] } {
  const sent: string[] = [];
  return { sent, readyState: 1, send: (text: string) => void sent.push(text), close() {} } as unknown as WebSocket & { sent: string[] };
}

describe("a refusal naming no request, on Binance (its resync keeps the stream): the streams are subscribed again for real", () => {
  test("two subscribes out, an error with id null: unsubscribe, then subscribe, batched; before: taken as subscribed, nothing sent, the books waiting on streams maybe never subscribed", async () => {
    let nowMs = 1_000_000;
    const o = offlineVenue("binance", "spot", 50, ["AUSDT", "BUSDT"], "");
    const adapter = new BinanceAdapter(o.config, o.subscriptions, { ...o.options, now: () => nowMs, wallNow: () => nowMs, random: () => 0.5 });
    await adapter.loadInstruments();
    const { conns, control } = adapter as unknown as { conns: BinanceConnection[]; control: SubscriptionControl };
    const conn = conns[0]!;
    const [a, b] = conn.topics;
    expect(conn.topics).toHaveLength(2);
    const ws = recordingWs();
    Object.assign(conn, { ws, open: true, used: true });
    type Req = { method: string; params: string[]; id: number };
    const requests = () => ws.sent.map((x) => JSON.parse(x) as Req).map((r) => `${r.method} ${r.params.join(",")}`);
    const answer = (i: number) => conn.onFrameAt(JSON.stringify({ result: null, id: (JSON.parse(ws.sent[i]!) as Req).id }), 1);
    control.sendRequest(conn, "subscribe", [a!]);
    control.sendRequest(conn, "subscribe", [b!]);
    nowMs += 10_000; // the per-connection pacing's burst refilled
    conn.onFrameAt(JSON.stringify({ error: { code: 2, msg: "Invalid request: (which not said)" }, id: null }), 1);
    // Before: both ACTIVE, their resync a new REST bridge on a stream Binance may have refused; nothing more sent.
    expect(requests().slice(2)).toEqual(["UNSUBSCRIBE ausdt@depth@100ms,busdt@depth@100ms"]);
    // Refused for now meanwhile: a diff still in flight starts no bridge (and asks no snapshot).
    expect([a!.refusedUntilAck, b!.refusedUntilAck]).toEqual([true, true]);
    answer(2);
    expect(requests().slice(3)).toEqual(["SUBSCRIBE ausdt@depth@100ms,busdt@depth@100ms"]);
    answer(3);
    expect([a!.sub, b!.sub, a!.refusedUntilAck, conn.pending.size]).toEqual([SUB_ACTIVE, SUB_ACTIVE, false, 0]);
    conn.ws = null;
    await adapter.stop();
  });
});

describe("a refusal naming no request, on Binance, a book that keeps failing: its subscribe after its resync backoff", () => {
  test("the backoff over before the unsubscribe's answer: the subscribe follows that answer; before: never sent, the stream left unsubscribed", async () => {
    let nowMs = 1_000_000;
    const o = offlineVenue("binance", "spot", 50, ["AUSDT", "BUSDT"], "");
    const adapter = new BinanceAdapter(o.config, o.subscriptions, { ...o.options, now: () => nowMs, wallNow: () => nowMs, random: () => 0.5 });
    await adapter.loadInstruments();
    const { conns, control, lifecycle } = adapter as unknown as { conns: BinanceConnection[]; control: SubscriptionControl; lifecycle: { onHousekeeping(): void } };
    const conn = conns[0]!;
    const [a, b] = conn.topics;
    const ws = recordingWs();
    Object.assign(conn, { ws, open: true, used: true, openedMs: nowMs, lastFrameMs: nowMs, heardMs: nowMs });
    type Req = { method: string; params: string[]; id: number };
    // The subscription requests (a keepalive probe the housekeeping round may send left out).
    const sent = () => ws.sent.map((x) => JSON.parse(x) as Req).filter((r) => r.method.endsWith("SUBSCRIBE"));
    const requests = () => sent().map((r) => `${r.method} ${r.params.join(",")}`);
    const answer = (i: number) => conn.onFrameAt(JSON.stringify({ result: null, id: sent()[i]!.id }), 1);
    a!.resyncAttempt = 1; // A resynced just before: this resync waits out its backoff
    control.sendRequest(conn, "subscribe", [a!]);
    control.sendRequest(conn, "subscribe", [b!]);
    nowMs += 10_000; // the per-connection pacing's burst refilled
    Object.assign(conn, { lastFrameMs: nowMs, heardMs: nowMs });
    conn.onFrameAt(JSON.stringify({ error: { code: 2, msg: "Invalid request: (which not said)" }, id: null }), 1);
    expect(requests().slice(2)).toEqual(["UNSUBSCRIBE ausdt@depth@100ms,busdt@depth@100ms"]);
    expect([a!.resyncDelayed, b!.resyncDelayed]).toEqual([true, false]);
    nowMs = a!.resyncDueMs + 1; // A's backoff over, the unsubscribe not answered yet
    Object.assign(conn, { lastFrameMs: nowMs, heardMs: nowMs });
    lifecycle.onHousekeeping();
    expect([a!.resyncDelayed, requests().length]).toEqual([false, 3]);
    nowMs += 1_000; // the pacing refilled (the round may have sent a keepalive probe)
    answer(2);
    // Before: only B's subscribe; A, unsubscribed when its backoff ended, was never subscribed again (no stale rule for it).
    expect(requests().slice(3)).toEqual(["SUBSCRIBE ausdt@depth@100ms,busdt@depth@100ms"]);
    answer(3);
    expect([a!.sub, b!.sub, a!.refusedUntilAck, [...conn.pending.values()].flatMap((p) => p.topics).length]).toEqual([SUB_ACTIVE, SUB_ACTIVE, false, 0]);
    conn.ws = null;
    await adapter.stop();
  });
});

describe("a refusal naming no request, on OKX: the fresh starts go batched", () => {
  test("a connection's 29 books subscribed in 2 requests, an error without id: 2 unsubscribes and 2 subscribes, 6 of the hour's requests counted, not 60", async () => {
    const symbols = Array.from({ length: MAX_TOPICS_PER_CONNECTION }, (_, i) => `C${i}-USDT`);
    const o = offlineVenue("okx", "spot", 400, symbols, "/ws/v5/public");
    const adapter = new OkxAdapter(o.config, o.subscriptions, { ...o.options, random: () => 0.5 });
    await adapter.loadInstruments();
    const { conns, control } = adapter as unknown as { conns: OkxConnection[]; control: SubscriptionControl };
    const conn = conns[0]!;
    expect(conn.topics).toHaveLength(MAX_TOPICS_PER_CONNECTION);
    const ws = recordingWs();
    Object.assign(conn, { ws, open: true, used: true });
    type Req = { id: string; op: string; args: { channel: string; instId: string }[] };
    const requests = () => ws.sent.map((x) => JSON.parse(x) as Req);
    control.sendRequest(conn, "subscribe", [...conn.topics]);
    expect(requests().map((r) => r.args.length)).toEqual([MAX_ARGS_PER_REQUEST, MAX_TOPICS_PER_CONNECTION - MAX_ARGS_PER_REQUEST]);
    conn.onFrameAt(JSON.stringify({ event: "error", code: "60012", msg: "Invalid request: (which not said)", connId: "x" }), 1);
    const unsubscribes = requests().slice(2);
    // Before: one unsubscribe a book (29), then a subscribe after each one's answer (58 in all).
    expect(unsubscribes.map((r) => [r.op, r.args.length])).toEqual([
      ["unsubscribe", MAX_ARGS_PER_REQUEST],
      ["unsubscribe", MAX_TOPICS_PER_CONNECTION - MAX_ARGS_PER_REQUEST],
    ]);
    for (const r of unsubscribes) for (const arg of r.args) conn.onFrameAt(JSON.stringify({ id: r.id, event: "unsubscribe", arg, connId: "x" }), 1);
    expect(requests().slice(4).map((r) => [r.op, r.args.length])).toEqual([
      ["subscribe", MAX_ARGS_PER_REQUEST],
      ["subscribe", MAX_TOPICS_PER_CONNECTION - MAX_ARGS_PER_REQUEST],
    ]);
    expect(conn.requestTimesMs).toHaveLength(6);
    expect(conn.topics.every((t) => t.sub === SUB_PENDING)).toBe(true);
    conn.ws = null;
    await adapter.stop();
  });
});

describe("a refusal naming no request, on Bybit (the option socket's COMMAND_RESP): the fresh starts go batched", () => {
  test("three subscribes out, a refusal naming none: one unsubscribe, then one subscribe, for the three; before: one of each a book", async () => {
    const o = offlineVenue("bybit", "spot", 50, ["AUSDT", "BUSDT", "CUSDT"], "/v5/public/spot");
    const adapter = new BybitAdapter(o.config, o.subscriptions, { ...o.options, random: () => 0.5 });
    await adapter.loadInstruments();
    const { conns, control } = adapter as unknown as { conns: BybitConnection[]; control: SubscriptionControl };
    const conn = conns[0]!;
    expect(conn.topics).toHaveLength(3);
    const ws = recordingWs();
    Object.assign(conn, { ws, open: true, used: true });
    type Req = { req_id: string; op: string; args: string[] };
    const requests = () => ws.sent.map((x) => JSON.parse(x) as Req);
    for (const t of conn.topics) control.sendRequest(conn, "subscribe", [t]);
    conn.onFrameAt(JSON.stringify(REFUSAL), 1);
    const unsubscribes = requests().slice(3);
    // Before: "unsubscribe" three times, one a book, then a subscribe after each one's answer (six requests).
    expect(unsubscribes.map((r) => `${r.op} ${r.args.length}`)).toEqual(["unsubscribe 3"]);
    conn.onFrameAt(JSON.stringify({ success: true, ret_msg: "", conn_id: "c1", req_id: unsubscribes[0]!.req_id, op: "unsubscribe" }), 1);
    expect(requests().slice(4).map((r) => `${r.op} ${r.args.length}`)).toEqual(["subscribe 3"]);
    expect(conn.topics.every((t) => t.sub === SUB_PENDING)).toBe(true);
    conn.ws = null;
    await adapter.stop();
  });
});
