/**
 * A topic given up (SUB_REJECTED: its instrument closed, ConnectionLifecycle.retire) whose requests are still being
 * answered: its unsubscribe must reach the venue even when the venue first refuses it as over its rate limit, and
 * an answer that matches no request still out (a repeated ack) must not send one more unsubscribe (on a venue that
 * repeated every answer, each unsubscribe's repeat would send the next, for good); its subscribe refused as already
 * subscribed must not bring it back. Also how acks are matched: a repeated ack naming a request no longer out answers
 * no other, and a per-topic ack (OKX's only kind) that accepts a request starts the rate-limit backoff over. The
 * common machinery with a venue of its own on fake sockets; per-topic acks as Bybit's option socket gives them (no
 * request id, no op).
 */
import { describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { SUB_ACTIVE, SUB_PENDING, SUB_REJECTED, TopicState } from "../../../src/venues/common/connection.ts";
import type { AckError, ControlFrame, RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

/**
 * Requests `{"id","method","params"}`. Acks: `{"id","error"}` fails the request; `{"ok":[…],"failed":[…]}` is a
 * per-topic ack naming no request (Bybit option COMMAND_RESP).
 */
const PROTOCOL: RequestProtocol = {
  venue: "fake",
  maxArgsPerRequest: () => 4,
  encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
  classifyControl(msg: unknown): ControlFrame {
    const m = msg as Record<string, unknown>;
    if (Array.isArray(m.ok)) return { kind: "ack", op: "", success: true, retMsg: "", reqId: undefined, successTopics: m.ok as string[], failTopics: (m.failed as string[]) ?? [] };
    if (typeof m.id !== "string") return { kind: "other" };
    return { kind: "ack", op: "", success: m.error === undefined, retMsg: String(m.error ?? ""), reqId: m.id, successTopics: undefined, failTopics: undefined };
  },
  parseAckError(retMsg: string): AckError {
    const already = /^already (\S+)$/.exec(retMsg);
    if (already) return { kind: "already_subscribed", topic: already[1]! };
    if (retMsg === "no such book") return { kind: "refused" };
    return retMsg === "slow down" ? { kind: "rate_limited" } : { kind: "other" };
  },
  rejectHint: () => "",
};

function setup(log: Logger = silentLogger) {
  const control = new SubscriptionControl(PROTOCOL, log, () => 0, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "option");
  const topics = conn.addTopics(["book.A", "book.B", "book.C"], 25);
  const sent = () => conn.sent.map((s) => JSON.parse(s) as { id: string; method: string; params: string[] });
  return { control, conn, topics, sent };
}

/** What ConnectionLifecycle.retire does to a topic's subscription (its book is halted there too). */
function retire(control: SubscriptionControl, t: TopicState): void {
  if (t.sub === SUB_ACTIVE) control.sendRequest(t.conn, "unsubscribe", [t]);
  t.sub = SUB_REJECTED;
}

describe("a topic given up while its requests are answered", () => {
  test("its unsubscribe refused as over the rate limit is sent again after the backoff", () => {
    const { control, conn, topics, sent } = setup();
    const a = topics[0]!;
    control.sendRequest(conn, "subscribe", [a]);
    control.onControl(conn, { ok: [a.topic] });
    expect(a.sub).toBe(SUB_ACTIVE);
    retire(control, a);
    const unsub = sent()[1]!;
    expect([unsub.method, unsub.params]).toEqual(["unsubscribe", [a.topic]]);
    control.onControl(conn, { id: unsub.id, error: "slow down" });
    expect(control.rateLimited).toBe(1);
    control.retriesDue(500); // the backoff is 0.25–0.5 s of the adapter's clock (here 0 when refused)
    expect(sent().slice(2).map((r) => [r.method, r.params])).toEqual([["unsubscribe", [a.topic]]]);
    control.onControl(conn, { ok: [a.topic] });
    expect(a.sub).toBe(SUB_REJECTED);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });

  test("a repeated ack of its unsubscribe (no request of it still out) sends no further unsubscribe", () => {
    const { control, conn, topics, sent } = setup();
    const [a, b] = [topics[0]!, topics[1]!];
    control.sendRequest(conn, "subscribe", [a, b]);
    retire(control, a); // while its subscribe is out
    control.onControl(conn, { ok: [a.topic, b.topic] });
    expect(b.sub).toBe(SUB_ACTIVE);
    // The subscribe's ack found it given up: one unsubscribe.
    expect(sent().map((r) => [r.method, r.params])).toEqual([["subscribe", [a.topic, b.topic]], ["unsubscribe", [a.topic]]]);
    control.onControl(conn, { ok: [a.topic] }); // the unsubscribe's ack
    expect(conn.pending.size).toBe(0);
    control.onControl(conn, { ok: [a.topic] }); // the same ack again
    control.onControl(conn, { ok: [a.topic, b.topic] }); // and the subscribe's
    expect(sent()).toHaveLength(2);
    expect([a.sub, b.sub]).toEqual([SUB_REJECTED, SUB_ACTIVE]);
    expect(conn.pending.size).toBe(0);
  });

  test("a batch given up while its subscribe was out is unsubscribed in one request when that subscribe is accepted", () => {
    // Before, one unsubscribe per topic of the answer: a venue-wide break closing a whole batch spent a request per book
    // (OKX: of 480 an hour per connection; Binance: 5 messages a second), where one request does.
    for (const perTopic of [false, true]) {
      const { control, conn, topics, sent } = setup();
      control.sendRequest(conn, "subscribe", topics);
      for (const t of topics) retire(control, t); // closed together while their subscribe is out
      control.onControl(conn, perTopic ? { ok: topics.map((t) => t.topic) } : { id: sent()[0]!.id, result: null });
      expect(sent().slice(1).map((r) => [r.method, r.params])).toEqual([["unsubscribe", topics.map((t) => t.topic)]]);
      expect(topics.every((t) => t.sub === SUB_REJECTED)).toBe(true);
      control.onControl(conn, perTopic ? { ok: topics.map((t) => t.topic) } : { id: sent()[1]!.id, result: null });
      expect(sent()).toHaveLength(2);
      expect(conn.pending.size).toBe(0);
    }
  });

  test("a per-topic answer naming a topic no request of which is out (a repeat) answers nothing, whatever the topic's state", () => {
    // Before, such an answer was taken by the topic's state: a repeated failTopics entry rejected a LIVE book for good
    // (HALTED / SUBSCRIBE_REJECTED), and a repeated acceptance made a topic whose subscribe waits out a rate-limit
    // backoff active, so the retry never went and the venue never served it.
    const invalid: string[] = [];
    const control = new SubscriptionControl(PROTOCOL, silentLogger, () => 0, undefined, (t) => void invalid.push(t.topic));
    const { conn, topics, sent } = setup();
    const [a, b] = [topics[0]!, topics[1]!];
    control.sendRequest(conn, "subscribe", [a]);
    control.onControl(conn, { ok: [a.topic] });
    expect(a.sub).toBe(SUB_ACTIVE);
    control.onControl(conn, { ok: [], failed: [a.topic] }); // a refusal repeated (or meant for no request of ours)
    expect(a.sub).toBe(SUB_ACTIVE);
    expect(invalid).toEqual([]);
    expect(control.subscribeRejected).toBe(0);

    control.sendRequest(conn, "subscribe", [b]);
    control.onControl(conn, { id: sent().at(-1)!.id, error: "slow down" }); // b waits out its backoff, PENDING
    control.onControl(conn, { ok: [b.topic] }); // an acceptance repeated: not b's subscribe, which has not gone yet
    expect(b.sub).toBe(SUB_PENDING);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });

  test("a repeated ack naming a request already answered answers no other request", () => {
    const { control, conn, topics, sent } = setup();
    const [a, b] = [topics[0]!, topics[1]!];
    control.sendRequest(conn, "subscribe", [a]);
    control.sendRequest(conn, "subscribe", [b]);
    const [s1, s2] = [sent()[0]!, sent()[1]!];
    control.onControl(conn, { id: s1.id, result: null });
    control.onControl(conn, { id: s1.id, result: null }); // the same ack again: not b's
    expect([a.sub, b.sub]).toEqual([SUB_ACTIVE, SUB_PENDING]);
    control.onControl(conn, { id: s2.id, error: "no such book" }); // b's own answer refuses it
    expect(b.sub).toBe(SUB_REJECTED);
    expect(conn.pending.size).toBe(0);
  });

  test("its subscribe refused as already subscribed unsubscribes it: it is not brought back", () => {
    const { control, conn, topics, sent } = setup();
    const [a, b] = [topics[0]!, topics[1]!];
    control.sendRequest(conn, "subscribe", [a, b]);
    retire(control, a); // while its subscribe is out
    control.onControl(conn, { id: sent()[0]!.id, error: `already ${a.topic}` }); // the venue serves it already
    expect(control.alreadySubscribed).toBe(1);
    expect(a.sub).toBe(SUB_REJECTED);
    const after = sent().slice(1).map((r) => [r.method, r.params]);
    expect(after).toContainEqual(["unsubscribe", [a.topic]]);
    expect(after).toContainEqual(["subscribe", [b.topic]]); // the rest of the batch goes again
    for (const r of sent().slice(1)) control.onControl(conn, { id: r.id, result: null });
    expect([a.sub, b.sub]).toEqual([SUB_REJECTED, SUB_ACTIVE]);
    expect(sent()).toHaveLength(3); // nothing subscribes it again
    expect(conn.pending.size).toBe(0);
  });

  test("a per-topic ack accepting a request starts the rate-limit backoff over, as a whole-request ack does", () => {
    const delays: number[] = [];
    const log: Logger = { ...silentLogger, warn: (_m, f) => void (typeof f?.delayMs === "number" && delays.push(f.delayMs)) };
    const { control, conn, topics, sent } = setup(log);
    const [a, b, c] = [topics[0]!, topics[1]!, topics[2]!];
    for (const t of [a, b]) {
      control.sendRequest(conn, "subscribe", [t]);
      control.onControl(conn, { id: sent().at(-1)!.id, error: "slow down" }); // 0.25–0.5 s, then 0.5–1 s
    }
    control.sendRequest(conn, "subscribe", [c]);
    control.onControl(conn, { ok: [c.topic] }); // accepted (OKX acks every topic on its own)
    expect(c.sub).toBe(SUB_ACTIVE);
    control.sendRequest(conn, "unsubscribe", [c]);
    control.onControl(conn, { id: sent().at(-1)!.id, error: "slow down" });
    expect(delays).toHaveLength(3);
    expect(delays[1]!).toBeGreaterThanOrEqual(500);
    expect(delays[2]!).toBeLessThanOrEqual(500); // the first step again, not 1–2 s
    control.stop();
  });

  test("s-rev47: closed books unsubscribed together, the request refused as a whole (one topic the venue no longer knows): each half goes again, down to the one refused alone", () => {
    const { control, conn, topics, sent } = setup();
    const [a, b, c] = [topics[0]!, topics[1]!, topics[2]!];
    control.sendRequest(conn, "subscribe", [a, b, c]);
    control.onControl(conn, { ok: [a.topic, b.topic, c.topic] });
    // ConnectionLifecycle.retireAll: one unsubscribe for the three, then given up.
    control.sendRequest(conn, "unsubscribe", [a, b, c]);
    for (const t of [a, b, c]) t.sub = SUB_REJECTED;
    const all = sent()[1]!;
    control.onControl(conn, { id: all.id, error: `handler not found: ${c.topic}` });
    // Before, all three were taken as unsubscribed: a and b stayed subscribed at the venue, streaming, for good.
    expect(sent().slice(2).map((r) => [r.method, r.params])).toEqual([
      ["unsubscribe", [a.topic, b.topic]],
      ["unsubscribe", [c.topic]],
    ]);
    const [ab, cOnly] = [sent()[2]!, sent()[3]!];
    control.onControl(conn, { id: ab.id });
    control.onControl(conn, { id: cOnly.id, error: `handler not found: ${c.topic}` }); // alone: taken as unsubscribed
    expect(sent()).toHaveLength(4);
    expect(conn.pending.size).toBe(0);
    expect([a.sub, b.sub, c.sub]).toEqual([SUB_REJECTED, SUB_REJECTED, SUB_REJECTED]);
  });
});
