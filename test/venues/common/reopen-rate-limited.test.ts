/**
 * A book whose subscribe the venue refused as over its rate limit (OKX 60014, Deribit 10028, Coinbase's passing
 * refusals) waits out the backoff with that subscribe to go again. Closed and listed as trading again meanwhile
 * (ConnectionLifecycle.retireAll / activateAll), the reopen must not subscribe it a second time: the waiting retry
 * is its subscribe. The common machinery with a venue of its own on a fake socket.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_PENDING, SUB_REJECTED } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { ControlFrame, RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

/** Requests `{"id","method","params"}`; acks `{"id","result":null}` or `{"id","error"}` ("slow down": the rate limit). */
const PROTOCOL: RequestProtocol = {
  venue: "fake",
  maxArgsPerRequest: () => 4,
  encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
  classifyControl(msg: unknown): ControlFrame {
    const m = msg as Record<string, unknown>;
    if (typeof m.id !== "string") return { kind: "other" };
    return { kind: "ack", op: "", success: m.error === undefined, retMsg: String(m.error ?? ""), reqId: m.id, successTopics: undefined, failTopics: undefined };
  },
  parseAckError: (retMsg) => (retMsg === "slow down" ? { kind: "rate_limited" } : { kind: "other" }),
  rejectHint: () => "",
};

function setup() {
  const control = new SubscriptionControl(PROTOCOL, silentLogger, Date.now, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  const topics = conn.addTopics(["book.A", "book.B"], 10);
  // Never started: only its retire / activate are used here (no socket opened, no housekeeping).
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: () => undefined, resync: () => undefined }, {
    log: silentLogger,
    keepalive: { kind: "ws_ping" },
    staleAfterMs: () => 60_000,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
  });
  const sent = () => conn.sent.map((s) => JSON.parse(s) as { id: string; method: string; params: string[] });
  return { control, lifecycle, conn, topics, sent };
}

describe("a book reopened while its rate-limited subscribe waits to go again", () => {
  test("is not subscribed a second time: the retry is its subscribe, and its ack makes it active", async () => {
    const { control, lifecycle, conn, topics, sent } = setup();
    const a = topics[0]!;
    control.sendRequest(conn, "subscribe", [a]);
    control.onControl(conn, { id: sent()[0]!.id, error: "slow down" }); // goes again in 0.25–0.5 s
    lifecycle.retireAll([a], StatusReason.INSTRUMENT_CLOSED);
    expect(a.sub).toBe(SUB_REJECTED);
    lifecycle.activateAll([a]);
    expect(a.sub).toBe(SUB_PENDING);
    expect(sent()).toHaveLength(1); // the reopen sent nothing: the waiting retry asks for it

    const deadline = Date.now() + 5_000;
    while (sent().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sent().map((r) => [r.method, r.params])).toEqual([
      ["subscribe", [a.topic]],
      ["subscribe", [a.topic]], // the retry, once (its one timer has run)
    ]);
    control.onControl(conn, { id: sent()[1]!.id, result: null });
    expect(a.sub).toBe(SUB_ACTIVE);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });
});
