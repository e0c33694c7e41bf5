/**
 * OKX's count of a socket's requests (480 per hour) as the common machinery reads it: a request refused with 60014
 * goes again once the count has room (RequestProtocol.requestWaitMs), not every backoff step meanwhile, each one
 * more request the venue refuses. A fake clock and a connection standing in for OkxConnection's request times. And a
 * planned reconnect gone back to the old socket: the books restarted during the overlap are redone there in batched
 * requests, each message counted once (the adapter, not started, on fake sockets).
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_PENDING } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { MAX_ARGS_PER_REQUEST, MAX_TOPICS_PER_CONNECTION } from "../../../src/venues/okx/protocol.ts";
import { tempCachePath } from "./helpers.ts";
import { BudgetWaits, budgetedRequests } from "../../../src/venues/okx/budget-wait.ts";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { OkxRequestBudget } from "../../../src/venues/okx/request-budget.ts";
import { OkxCounters } from "../../../src/venues/okx/stats.ts";

describe("okx request budget", () => {
  test("requestWaitMs: how long until one more request fits the socket's window (0 once it does)", () => {
    let nowMs = 1_000;
    const budget = new OkxRequestBudget(() => nowMs, 3, 10_000);
    const waits = new BudgetWaits(1, budget, silentLogger, new OkxCounters(), () => undefined);
    const protocol = budgetedRequests(budget, waits);
    const conn = { requestTimesMs: [] as number[] } as unknown as OkxConnection;
    expect(protocol.requestWaitMs?.(conn)).toBe(0);
    for (const at of [1_000, 2_000, 3_000]) {
      nowMs = at;
      budget.spend(conn);
    }
    nowMs = 3_500;
    expect(protocol.requestWaitMs?.(conn)).toBe(7_500); // the oldest (1 s) leaves the window at 11 s
    nowMs = 11_000;
    expect(protocol.requestWaitMs?.(conn)).toBe(0);
  });
});

/** A socket that records what is written to it (the adapter binds its handlers; nothing is received on it). */
function recordingWs(): WebSocket & { sent: string[] } {
  const sent: string[] = [];
  return { sent, readyState: 1, send: (text: string) => void sent.push(text), close() {} } as unknown as WebSocket & { sent: string[] };
}

describe("okx go-back", () => {
  /**
   * A full connection's books (29) all restarted during the overlap (resynced, their unsubscribes on the replacement):
   * the replacement fails, and they are redone on the old socket. Before 2026-12-07 one by one: 29 unsubscribes, then a
   * subscribe after each one's ack, 58 of the socket's 480 requests an hour (a 100-book go-back over four connections:
   * 200). Now ⌈29/20⌉ = 2 of each, each message counted once against the hour.
   */
  test("a go-back with 29 books restarted: 2 unsubscribe and 2 subscribe requests on the old socket, 4 counted, not 58", async () => {
    const { adapter, conn, old, goBack } = await goneBackRig();
    goBack();
    expect(conn.ws).toBe(old);
    type Req = { id: string; op: string; args: { channel: string; instId: string }[] };
    const unsubscribes = old.sent.map((x) => JSON.parse(x) as Req);
    // Before: 29 requests of one arg each.
    expect(unsubscribes.map((r) => [r.op, r.args.length])).toEqual([
      ["unsubscribe", MAX_ARGS_PER_REQUEST],
      ["unsubscribe", MAX_TOPICS_PER_CONNECTION - MAX_ARGS_PER_REQUEST],
    ]);
    expect(conn.requestTimesMs).toHaveLength(2);
    // OKX answers one frame an arg; the subscribes go once a request is answered for each of its args.
    for (const r of unsubscribes) for (const arg of r.args) conn.onFrameAt(JSON.stringify({ id: r.id, event: "unsubscribe", arg, connId: "x" }), 1);
    const subscribes = old.sent.slice(unsubscribes.length).map((x) => JSON.parse(x) as Req);
    expect(subscribes.map((r) => [r.op, r.args.map((a) => a.instId).sort()])).toEqual(unsubscribes.map((r) => ["subscribe", r.args.map((a) => a.instId).sort()]));
    expect(conn.requestTimesMs).toHaveLength(4);
    expect(conn.topics.every((t) => t.sub === SUB_PENDING)).toBe(true);
    expect(adapter.stats().requestBudgetWaits).toBe(0);
    conn.ws = null;
    await adapter.stop();
  });

  test("a go-back whose batch the hour cannot take: the books wait for the budget one by one, the hour never exceeded", async () => {
    const { adapter, conn, old, goBack } = await goneBackRig();
    const replacement = conn.ws;
    conn.ws = old; // the old socket's own count (per socket): 3 of its 480 left, the batch needs 4
    for (let i = 0; i < 477; i++) conn.requestTimesMs.push(adapter.now());
    conn.ws = replacement;
    goBack();
    // One book's unsubscribe (its subscribe to follow: 2 of the 3), the others wait.
    expect(old.sent.map((x) => (JSON.parse(x) as { args: unknown[] }).args.length)).toEqual([1]);
    expect(conn.requestTimesMs).toHaveLength(478);
    expect(adapter.stats().requestBudgetWaits).toBe(MAX_TOPICS_PER_CONNECTION - 1);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * The subscribes go one per unsubscribe request answered (of its books not waiting out a resync backoff), so a batch
   * of 21 (20 + 1 a request) whose first request holds a waiting book sends 2 subscribes, not ⌈20/20⌉ = 1. Counted
   * so (until 2026-12-07), the batch went with 3 of the hour left and its last subscribe was the 481st.
   */
  test("a go-back batch's subscribes are counted one per unsubscribe request: the hour is never exceeded", async () => {
    const { adapter, conn, old, goBack } = await goneBackRig(MAX_ARGS_PER_REQUEST + 1);
    conn.topics[0]!.resyncDelayed = true; // its unsubscribe only: its subscribe after its backoff
    const replacement = conn.ws;
    conn.ws = old;
    for (let i = 0; i < 477; i++) conn.requestTimesMs.push(adapter.now()); // 3 left; the batch needs 2 + 2
    conn.ws = replacement;
    goBack();
    type Req = { id: string; op: string; args: { channel: string; instId: string }[] };
    for (let i = 0; i < old.sent.length; i++) {
      const r = JSON.parse(old.sent[i]!) as Req;
      if (r.op === "unsubscribe") for (const arg of r.args) conn.onFrameAt(JSON.stringify({ id: r.id, event: "unsubscribe", arg, connId: "x" }), 1);
    }
    expect(conn.requestTimesMs.length).toBeLessThanOrEqual(480);
    expect(adapter.stats().requestBudgetWaits).toBeGreaterThan(0);
    conn.ws = null;
    await adapter.stop();
  });

  test("another book's resync while the batch's unsubscribes are out counts the subscribes they owe per message", async () => {
    const { adapter, conn, old, goBack } = await goneBackRig(27);
    const replacement = conn.ws;
    conn.ws = old;
    for (let i = 0; i < 474; i++) conn.requestTimesMs.push(adapter.now());
    conn.ws = replacement;
    goBack(); // 2 unsubscribes (476), 2 subscribes owed after their answers
    expect(conn.requestTimesMs).toHaveLength(476);
    // Book 27 resyncs meanwhile: its 2 requests and the batch's 2 owed fit the 480. Before, the owed were counted one a
    // book (27): it waited for the hour although nothing would have gone past 480.
    const t = conn.topics[27]!;
    t.book = BookState.RESYNCING;
    adapter.restart(t);
    expect(adapter.stats().requestBudgetWaits).toBe(0);
    expect(conn.requestTimesMs).toHaveLength(477);
    expect(JSON.parse(old.sent.at(-1)!)).toMatchObject({ op: "unsubscribe", args: [{ instId: t.symbol }] });
    conn.ws = null;
    await adapter.stop();
  });
});

/**
 * A full connection's books (29) all restarted during a planned reconnect's overlap (resynced, their unsubscribes on
 * the replacement); goBack(): the replacement fails, the old socket is the connection's again.
 */
async function goneBackRig(restarted = MAX_TOPICS_PER_CONNECTION) {
  const symbols = Array.from({ length: MAX_TOPICS_PER_CONNECTION }, (_, i) => `C${i}-USDT`);
  const adapter = new OkxAdapter(
    {
      venue: "okx",
      wsUrl: "ws://127.0.0.1:9/ws/v5/public",
      restUrl: "http://127.0.0.1:9",
      instrumentCachePath: tempCachePath(),
      markets: [{ market: "spot", depth: 400, symbols }],
      overrides: new Map(symbols.map((s) => [`spot:${s}`, { tickSize: "0.1", lotSize: "0.0001" }])),
    },
    symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 400 })),
    { log: silentLogger },
  );
  await adapter.loadInstruments();
  const conn = (adapter as unknown as { conns: OkxConnection[] }).conns[0]!;
  expect(conn.topics).toHaveLength(symbols.length);
  const planned = (adapter as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
  // The overlap: the replacement is the connection's socket, the old one still serves every book.
  const old = recordingWs();
  conn.retiringWs = old;
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  conn.ws = recordingWs();
  conn.open = true;
  conn.used = true;
  for (const t of conn.topics) {
    t.sub = SUB_ACTIVE;
    t.onRetiring = true;
    if (t.index >= restarted) continue; // LIVE
    t.book = BookState.RESYNCING; // resynced during the overlap: restarted on the replacement (restartWanted)
    t.restartWanted = true;
  }
  return { adapter, conn, old, goBack: () => planned.goBack(conn, "test") };
}
