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
  let nowMs = 0;
  const control = new SubscriptionControl(PROTOCOL, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "spot");
  conn.used = true;
  const topics = conn.addTopics(["book.A", "book.B"], 10);
  // Never started (no socket opened, no housekeeping timer): its retire / activate are used, and one housekeeping
  // round is run by hand on the fake clock (`round`).
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: () => undefined, resync: () => undefined }, {
    log: silentLogger,
    keepalive: { kind: "ws_ping" },
    staleAfterMs: () => 60_000,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now: () => nowMs,
    random: () => 0, // the rate-limit backoff's jitter: the first wait exactly 250 ms
  });
  const round = (ms: number) => {
    nowMs = ms;
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  const sent = () => conn.sent.map((s) => JSON.parse(s) as { id: string; method: string; params: string[] });
  return { control, lifecycle, conn, topics, sent, round };
}

describe("a book reopened while its rate-limited subscribe waits to go again", () => {
  test("is not subscribed a second time: the retry is its subscribe, and its ack makes it active", () => {
    const { control, lifecycle, conn, topics, sent, round } = setup();
    const a = topics[0]!;
    control.sendRequest(conn, "subscribe", [a]);
    control.onControl(conn, { id: sent()[0]!.id, error: "slow down" }); // goes again in 250 ms
    lifecycle.retireAll([a], StatusReason.INSTRUMENT_CLOSED);
    expect(a.sub).toBe(SUB_REJECTED);
    lifecycle.activateAll([a]);
    expect(a.sub).toBe(SUB_PENDING);
    expect(sent()).toHaveLength(1); // the reopen sent nothing: the waiting retry asks for it

    round(250);
    round(260);
    expect(sent().map((r) => [r.method, r.params])).toEqual([
      ["subscribe", [a.topic]],
      ["subscribe", [a.topic]], // the retry, once
    ]);
    control.onControl(conn, { id: sent()[1]!.id, result: null });
    expect(a.sub).toBe(SUB_ACTIVE);
    expect(conn.pending.size).toBe(0);
    control.stop();
  });
});

describe("a rate-limited request's backoff runs on the adapter's clock and jitter (CommonAdapterOptions.now, random)", () => {
  test("the lifecycle's housekeeping sends it once the fake clock reaches its due time, not on real time", async () => {
    // Before 2026-12-06 retryLater drew from Math.random and waited on a real setTimeout: it went 0.25–0.5 s of real
    // time after the refusal whatever the adapter's clock said.
    const { control, conn, topics, sent, round } = setup();
    control.sendRequest(conn, "subscribe", topics);
    control.onControl(conn, { id: sent()[0]!.id, error: "slow down" });
    await new Promise((r) => setTimeout(r, 700));
    round(249);
    expect(sent()).toHaveLength(1);
    round(250);
    expect(sent().map((r) => [r.method, r.params])).toEqual([
      ["subscribe", ["book.A", "book.B"]],
      ["subscribe", ["book.A", "book.B"]],
    ]);
    control.stop();
  });
});
