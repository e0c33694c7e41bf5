/**
 * OKX's count of a socket's requests (480 per hour) as the common machinery reads it: a request refused with 60014
 * goes again once the count has room (RequestProtocol.requestWaitMs), not every backoff step meanwhile, each one
 * more request the venue refuses. A fake clock and a connection standing in for OkxConnection's request times. And a
 * planned reconnect gone back to the old socket: the books restarted during the overlap are redone there in batched
 * requests, each message counted once (the adapter, not started, on fake sockets).
 */
import { describe, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED } from "../../../src/venues/common/connection.ts";
import type { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { MAX_ARGS_PER_REQUEST, MAX_TOPICS_PER_CONNECTION } from "../../../src/venues/okx/protocol.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { rng } from "../../support/mulberry32.ts";
import { BudgetWaits, budgetedRequests } from "../../../src/venues/okx/budget-wait.ts";
import type { OkxConnection, OkxTopic } from "../../../src/venues/okx/connection.ts";
import { HOUR_MS, OkxRequestBudget } from "../../../src/venues/okx/request-budget.ts";
import { OkxCounters } from "../../../src/venues/okx/stats.ts";

describe("okx request budget", () => {
  test("requestWaitMs: how long until one more request fits the socket's window (0 once it does)", () => {
    let nowMs = 1_000;
    const budget = new OkxRequestBudget(() => nowMs, 3, 10_000);
    const waits = new BudgetWaits(1, budget, silentLogger, new OkxCounters(), () => undefined);
    const protocol = budgetedRequests(budget, waits);
    const conn = { requestTimesMs: [] as number[], pending: new Map(), topics: [] } as unknown as OkxConnection;
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

/** An OKX adapter of spot books at depth 400 on `symbols` (tick and lot from overrides), its URLs unreachable: never started. */
function offlineSpotAdapter(symbols: readonly string[], options: ConstructorParameters<typeof OkxAdapter>[2]): OkxAdapter {
  const o = offlineVenue("okx", "spot", 400, symbols, "/ws/v5/public");
  return new OkxAdapter(o.config, o.subscriptions, { ...o.options, ...options });
}

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

  /**
   * The first of the batch's unsubscribes (20 books) refused 60014: it waits to go again, each of its books owing its
   * subscribe, which go as one request once it is answered. Another book's resync counts 2 for them (that request and
   * the subscribe after it) besides the 7-book request's owed one: until s-okxheld 20 (one a book), so with 8 of the
   * hour left it waited for the budget although its 2 requests fit.
   */
  test("the subscribes owed after an unsubscribe batch waiting to go again count per message, not per book", async () => {
    const { adapter, conn, old, goBack } = await goneBackRig(27);
    const replacement = conn.ws;
    conn.ws = old;
    for (let i = 0; i < 470; i++) conn.requestTimesMs.push(adapter.now());
    conn.ws = replacement;
    goBack(); // 2 unsubscribes (472 of 480): 20 books, then 7
    const first = JSON.parse(old.sent[0]!) as { id: string; args: unknown[] };
    expect(first.args).toHaveLength(MAX_ARGS_PER_REQUEST);
    conn.onFrameAt(JSON.stringify({ id: first.id, event: "error", code: "60014", msg: "Requests too frequent.", connId: "x" }), 1);
    const t = conn.topics[27]!;
    t.book = BookState.RESYNCING;
    adapter.restart(t); // 472 + its 2 + the 7-book request's subscribe + the refused one's 2 = 477
    expect(adapter.stats().requestBudgetWaits).toBe(0);
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
  const adapter = offlineSpotAdapter(symbols, { log: silentLogger });
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

describe("okx: every request within the socket's hour", () => {
  type Req = { id: string; op: string; args: { channel: string; instId: string }[] };
  /**
   * Books A and B LIVE on one open socket (fake, recording), its hour 3 requests (`requestsPerHour`), on a clock the
   * test sets. `answer(req)`: OKX's answer, one frame an arg (an error frame with `code`).
   */
  async function openRig(symbols = ["A-USDT", "B-USDT"]) {
    let nowMs = 1_000_000;
    const adapter = offlineSpotAdapter(symbols, { log: silentLogger, now: () => nowMs, wallNow: () => nowMs, random: () => 0.5, requestsPerHour: 3 });
    await adapter.loadInstruments();
    const conn = (adapter as unknown as { conns: OkxConnection[] }).conns[0]!;
    const ws = recordingWs();
    conn.ws = ws;
    conn.open = true;
    conn.used = true;
    for (const t of conn.topics) {
      t.sub = SUB_ACTIVE;
      t.book = BookState.LIVE;
      t.lastMsgMs = nowMs;
    }
    const internals = adapter as unknown as { control: SubscriptionControl; lifecycle: ConnectionLifecycle };
    const requests = () => ws.sent.map((x) => JSON.parse(x) as Req);
    const answer = (r: Req, code?: string) => {
      if (code !== undefined) conn.onFrameAt(JSON.stringify({ id: r.id, event: "error", code, msg: "Requests too frequent.", connId: "x" }), 1);
      else for (const arg of r.args) conn.onFrameAt(JSON.stringify({ id: r.id, event: r.op, arg, connId: "x" }), 1);
    };
    const [a, b] = conn.topics as [OkxTopic, OkxTopic];
    /** A's requests written on the socket, their ops in order. */
    const ofA = () => requests().filter((r) => r.args.some((x) => x.instId === "A-USDT")).map((r) => r.op);
    /** A closes, its unsubscribe refused 60014; listed again, its subscribe (in that one's place) refused 60014 too. */
    const closedRelistedRefused = async () => {
      internals.lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
      answer(requests().at(-1)!, "60014");
      internals.lifecycle.activateAll([a]);
      await Promise.resolve();
      await Promise.resolve();
      answer(requests().at(-1)!, "60014");
    };
    /** A planned reconnect's replacement (fake, recording), open and settled: swapped in, the old socket retiring. */
    const swapIn = () => {
      const planned = (internals.lifecycle as unknown as { planned: PlannedReconnects }).planned;
      const replacement = recordingWs();
      conn.replacing = replacement;
      conn.replacingGeneration = ++conn.genSeq;
      conn.replacingOpen = true;
      (planned as unknown as { swapWhenSettled(c: OkxConnection): void }).swapWhenSettled(conn);
      const onReplacement = () => replacement.sent.map((x) => JSON.parse(x) as Req);
      return { planned, replacement, onReplacement };
    };
    return { adapter, conn, ws, a, b, requests, answer, ofA, closedRelistedRefused, swapIn, ...internals, clock: { get ms() { return nowMs; }, set ms(v: number) { nowMs = v; } } };
  }

  /**
   * B's subscribe refused 60014 waits to go again (retriesDue) while A resyncs: A's unsubscribe out, its subscribe
   * owed once answered. Until 2026-12-07 the retry asked the hour for one request only: B's subscribe took the last
   * one, and A's owed subscribe went as the 4th of 3 (OKX's 481st of 480). Now the retry counts the owed subscribe and
   * waits for the hour's room; A's goes.
   */
  test("a 60014 retry leaves room for the subscribe a resync owes after its unsubscribe's answer", async () => {
    const { adapter, conn, a, b, requests, answer, control, clock } = await openRig();
    b.sub = SUB_IDLE;
    b.book = BookState.RESYNCING;
    control.sendRequest(conn, "subscribe", [b]); // 1 of 3
    answer(requests()[0]!, "60014");
    expect(b.sub).toBe(SUB_PENDING); // waits to go again
    a.book = BookState.RESYNCING;
    adapter.restart(a); // its unsubscribe (2 of 3), its subscribe owed
    expect(requests().map((r) => r.op)).toEqual(["subscribe", "unsubscribe"]);
    clock.ms += 11_000; // B's backoff over (0.5 s doubling, at most 10 s)
    control.retriesDue(clock.ms);
    answer(requests()[1]!); // A's unsubscribe answered: its subscribe goes
    expect(requests().map((r) => [r.op, r.args[0]!.instId])).toEqual([
      ["subscribe", "B-USDT"],
      ["unsubscribe", "A-USDT"],
      ["subscribe", "A-USDT"],
    ]);
    expect(conn.requestTimesMs.length).toBeLessThanOrEqual(3);
    expect(b.book).toBe(BookState.RESYNCING);
    // The hour over (the first request leaves it), B's retry goes.
    clock.ms = 1_000_000 + HOUR_MS + 1;
    control.retriesDue(clock.ms);
    expect(requests().at(-1)).toMatchObject({ op: "subscribe", args: [{ instId: "B-USDT" }] });
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * The hour spent, A's instrument closes: its unsubscribe waits for the hour's room (queued, not dropped) and then
   * goes. Until 2026-12-07 it went at once, the 4th of 3; and so did a subscribe owed after an unsubscribe's answer.
   */
  test("a closed instrument's unsubscribe and an owed subscribe wait for the hour's room, then go", async () => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock } = await openRig();
    b.book = BookState.RESYNCING;
    adapter.restart(b); // B's unsubscribe (1 of 3), its subscribe owed
    conn.requestTimesMs.push(clock.ms, clock.ms); // 2 more spent: 3 of 3
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
    answer(requests()[0]!); // B's unsubscribe answered: its subscribe is owed, the hour has no room
    expect(requests().map((r) => r.op)).toEqual(["unsubscribe"]);
    expect(conn.requestTimesMs.length).toBe(3);
    expect(b.sub).toBe(SUB_PENDING); // waiting to go: RESYNCING, never LIVE
    expect(b.book).toBe(BookState.RESYNCING);
    // Both holds shown (until 2026-12-07 counted in SubscriptionControl.budgetHeld only, in neither stats nor metrics).
    const held = () => [adapter.stats().requestsHeldForBudget, adapter.metrics().find((m) => m.name === "requests_held_for_budget_total")?.value];
    expect(held()).toEqual([2, 2]);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    expect(held(), "a hold counted once, not again as it goes").toEqual([2, 2]);
    // B's subscribe first: owed by a resync under way since before A's unsubscribe was held (its room reserved then).
    expect(requests().slice(1).map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([
      ["subscribe", ["B-USDT"]],
      ["unsubscribe", ["A-USDT"]],
    ]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * B's owed subscribe held for the hour; frames whose handling threw, naming B or no book, then the hour has room and
   * the held subscribe goes. B is not subscribed while it waits (no frame is its): spared, as a book waiting for the
   * budget is. Until s-okxheld it was resynced: once the held subscribe was answered an unsubscribe and a subscribe
   * followed, 2 more of the hour's 3, and its resync count and backoff grew with each such frame.
   */
  test("a book whose subscribe is held for the hour is not resynced by lost frames: nothing more is sent for it", async () => {
    const { adapter, conn, b, requests, answer, lifecycle, control, clock } = await openRig();
    b.book = BookState.RESYNCING;
    adapter.restart(b); // B's unsubscribe (1 of 3), its subscribe owed
    conn.requestTimesMs.push(clock.ms, clock.ms); // 3 of 3
    answer(requests()[0]!); // its subscribe held
    expect([b.sub, b.subscribeQueued]).toEqual([SUB_PENDING, true]);
    const before = [b.resyncs, b.resyncAttempt];
    clock.ms += HOUR_MS; // the hour has room; the housekeeping round has not sent the held subscribe yet
    const fault = (lifecycle as unknown as { frameFaultBound(c: OkxConnection, frame: string, err: unknown): void }).frameFaultBound;
    for (const frame of ['{"arg":{"channel":"books","instId":"B-USDT"},"action":"update","data":[]}', "{}"]) fault(conn, frame, new Error("thrown"));
    expect([b.resyncs, b.resyncAttempt]).toEqual(before);
    control.retriesDue(clock.ms);
    const ofB = () => requests().filter((r) => r.args.some((x) => x.instId === "B-USDT"));
    answer(ofB().at(-1)!);
    // (A, LIVE, is resynced by the frame naming no book: its unsubscribe went.)
    expect(ofB().map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([
      ["unsubscribe", ["B-USDT"]],
      ["subscribe", ["B-USDT"]],
    ]);
    expect(b.sub).toBe(SUB_ACTIVE);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A's instrument closes with the hour spent: its unsubscribe is held. A planned reconnect's swap then drops it with
   * the old socket's requests (the replacement never subscribes A), and the replacement fails: the old socket, the
   * connection's again, still streams A. Its unsubscribe is owed there again (held for that socket's hour, then sent).
   * Until s-okxheld nothing was: A stayed subscribed on the old socket for good (frames ignored, but one of its 30
   * channels and its pushes on the wire).
   */
  test("a closed book's held unsubscribe dropped by a swap is owed again on the old socket gone back to", async () => {
    const { adapter, conn, a, requests, lifecycle, control, clock, swapIn } = await openRig();
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // 3 of 3
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe held
    expect(control.unsubscribeWaiting(conn, a)).toBe(true);
    const old = conn.ws;
    const { planned, replacement } = swapIn(); // settled: the swap
    expect([conn.ws, conn.retiringWs]).toEqual([replacement, old]);
    expect(replacement.sent.map((x) => (JSON.parse(x) as Req).args.map((y) => y.instId))).toEqual([["B-USDT"]]);
    planned.goBack(conn, "test");
    expect(conn.ws).toBe(old);
    expect(control.unsubscribeWaiting(conn, a), "owed on the old socket, held for its hour").toBe(true);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    expect(requests().map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([["unsubscribe", ["A-USDT"]]]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A's instrument closes with the hour spent: its unsubscribe is held. The hour has room again; before the housekeeping
   * round, A is listed again (its subscribe goes: the held unsubscribe is no longer its) and closes again, LIVE: that
   * closure's own unsubscribe goes. Until s-rd20a the held one still named A and went too at the round (A given up
   * again): two unsubscribes of one channel, one of the hour's 480 spent for nothing.
   */
  test("a closed book listed and closed again before its held unsubscribe went: one unsubscribe of its channel", async () => {
    const { adapter, conn, a, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // 3 of 3
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe held
    clock.ms += HOUR_MS; // room again, the round not yet
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    answer(requests().at(-1)!);
    expect([ofA(), a.sub]).toEqual([["subscribe"], SUB_ACTIVE]);
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its own unsubscribe goes
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms + HOUR_MS);
    expect(ofA()).toEqual(["subscribe", "unsubscribe"]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A LIVE, the hour spent: A closes (its unsubscribe held), is listed again (its subscribe held behind it), a
   * housekeeping round finds no room, and A closes again before its subscribe went: its channel, still subscribed,
   * is unsubscribed once the hour has room. Until s-rd20a that round dropped the held unsubscribe (A no longer given
   * up), the second closure sent nothing (its subscribe never went) and dropped the held subscribe: the channel stayed
   * subscribed for good, its pushes on the wire, ignored.
   */
  test("a closed book listed again and closed while both its requests are held: its channel is unsubscribed", async () => {
    const { adapter, conn, a, requests, lifecycle, control, clock, ofA } = await openRig();
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // 3 of 3
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe held
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    expect([a.sub, a.subscribeQueued]).toEqual([SUB_PENDING, true]); // its subscribe held
    control.retriesDue(clock.ms); // no room for either
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe never went
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    expect(ofA()).toEqual(["unsubscribe"]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A LIVE: A closes and its unsubscribe is refused 60014 (sent again after a backoff), A is listed again and its subscribe
   * (which takes that unsubscribe's place) is refused 60014 too, and A closes again before either went again: its channel,
   * never unsubscribed, is unsubscribed once the retries are due. Until s-rd21c the subscribe's retry was dropped (A given
   * up) and nothing unsubscribed the channel: subscribed for good, its pushes on the wire, ignored.
   */
  test("a closed book listed again and closed while its unsubscribe and its subscribe wait out 60014: its channel is unsubscribed", async () => {
    const { adapter, a, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe goes (1 of 3)
    answer(requests().at(-1)!, "60014");
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    answer(requests().at(-1)!, "60014"); // its subscribe (2 of 3) refused too
    expect([ofA(), a.sub]).toEqual([["unsubscribe", "subscribe"], SUB_PENDING]);
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe"]);
    expect(a.sub).toBe(SUB_REJECTED);
    (adapter as unknown as { conns: OkxConnection[] }).conns[0]!.ws = null;
    await adapter.stop();
  });

  /**
   * A LIVE: A closes and its unsubscribe is refused 60014, A is listed again and its subscribe (which takes that
   * unsubscribe's place) is refused 60014 too and held for the hour; A closes again (that held subscribe now sends A's
   * unsubscribe). The hour frees one request's room and B closes: A's unsubscribe, held first, takes it, B's waits.
   * Until s-streamleft the budget counted the held subscribe of a book given up as 0 messages (messagesOf): B's
   * unsubscribe took the room and A's waited for the next.
   */
  test("a held subscribe of a book closed again counts the unsubscribe it will send: a newer request waits behind it", async () => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock } = await openRig();
    const start = clock.ms;
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe goes (1 of 3)
    answer(requests().at(-1)!, "60014");
    clock.ms = start + 1_000;
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    answer(requests().at(-1)!, "60014"); // its subscribe (2 of 3) refused too
    expect([requests().map((r) => r.op), a.streamedOn]).toEqual([["unsubscribe", "subscribe"], conn.generation]);
    clock.ms = start + 2_000;
    conn.requestTimesMs.push(clock.ms); // 3 of 3
    control.retriesDue(clock.ms + 60_000); // due, no room: held for the hour
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    clock.ms = start + HOUR_MS; // the first request's room frees: one
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
    expect(requests().length).toBe(2); // before: B's unsubscribe went here
    control.retriesDue(clock.ms);
    expect(requests().slice(2)).toMatchObject([{ op: "unsubscribe", args: [{ instId: "A-USDT" }] }]);
    expect(a.sub).toBe(SUB_REJECTED);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A LIVE: A closes and its unsubscribe is refused 60014, A is listed again and its subscribe (which takes that
   * unsubscribe's place) is refused for good (60018: its instrument does not exist): A's book is halted and its channel,
   * which by our own account the socket still has, is unsubscribed (one request; OKX refusing it too, it is taken as
   * unsubscribed). Until s-streamleft nothing unsubscribed it: subscribed until the socket went.
   */
  test("a closed book listed again whose subscribe is refused for good (60018): halted, its channel unsubscribed", async () => {
    const { adapter, conn, a, requests, answer, lifecycle, control, clock } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe goes (1 of 3)
    answer(requests().at(-1)!, "60014");
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    const subscribe = requests().at(-1)!; // 2 of 3: takes the refused unsubscribe's place
    expect([subscribe.op, a.streamedOn]).toEqual(["subscribe", conn.generation]);
    conn.onFrameAt(JSON.stringify({ id: subscribe.id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:A-USDT doesn't exist.", connId: "x" }), 1);
    expect(requests().slice(2)).toMatchObject([{ op: "unsubscribe", args: [{ instId: "A-USDT" }] }]); // 3 of 3
    expect([a.sub, a.book, a.streamedOn]).toEqual([SUB_REJECTED, BookState.HALTED, -1]);
    const unsubscribe = requests().at(-1)!;
    conn.onFrameAt(JSON.stringify({ id: unsubscribe.id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:A-USDT doesn't exist.", connId: "x" }), 1);
    expect([a.sub, conn.pending.size, requests().length]).toEqual([SUB_REJECTED, 0, 3]);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    expect(requests().length).toBe(3); // nothing more for it
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A LIVE: A closes and its unsubscribe is refused 60014, A is listed again and its subscribe (which takes that
   * unsubscribe's place) is refused for a reason that may pass (sent again after a backoff of its own), A closing again
   * before that refusal came or after it: its channel, never unsubscribed, is unsubscribed (at once, or when the retry
   * is due). Until s-fr3a only a 60014 retry carried the subscribe's mark (PendingRequest.streamed): this one was
   * dropped (A given up) or never made, nothing unsubscribed the channel, subscribed for good.
   */
  test.each(["after", "before"])("a closed book listed again, its subscribe refused for a reason that may pass, closed again %s that refusal: its channel is unsubscribed", async (when) => {
    const { adapter, a, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe goes (1 of 3)
    answer(requests().at(-1)!, "60014");
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    const subscribe = requests().at(-1)!; // 2 of 3
    expect([ofA(), a.sub]).toEqual([["unsubscribe", "subscribe"], SUB_PENDING]);
    if (when === "before") lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    answer(subscribe, "50001"); // "system busy": a subscribe still wanted goes again after a backoff
    if (when === "after") {
      expect([a.sub, control.subscribeErrors]).toEqual([SUB_PENDING, 1]);
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    }
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe"]);
    expect(a.sub).toBe(SUB_REJECTED);
    (adapter as unknown as { conns: OkxConnection[] }).conns[0]!.ws = null;
    await adapter.stop();
  });

  /**
   * A and B LIVE: each closes and its unsubscribe is refused 60014; both are listed again together (one subscribe, which
   * takes both unsubscribes' places), OKX refuses it for a reason that may pass, and each goes again alone (held for the
   * hour); A closes again before its own went: its channel, never unsubscribed, is unsubscribed once the hour has room.
   * Until s-fr3a the one-by-one retries did not carry the mark (PendingRequest.streamed): A's was dropped, subscribed
   * for good.
   */
  test("a batch subscribe still streamed, refused for a reason that may pass: its one-by-one retries carry the mark", async () => {
    const { adapter, a, b, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // 1 of 3
    answer(requests().at(-1)!, "60014");
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // 2 of 3
    answer(requests().at(-1)!, "60014");
    lifecycle.activateAll([a, b]);
    await Promise.resolve();
    await Promise.resolve();
    expect(requests().at(-1)!.args.length).toBe(2); // 3 of 3: one subscribe for both
    answer(requests().at(-1)!, "50001"); // each goes again alone: held for the hour
    expect([a.sub, b.sub, requests().length]).toEqual([SUB_PENDING, SUB_PENDING, 3]);
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe"]);
    expect(requests().at(-1)).toMatchObject({ op: "subscribe", args: [{ instId: "B-USDT" }] });
    (adapter as unknown as { conns: OkxConnection[] }).conns[0]!.ws = null;
    await adapter.stop();
  });

  /**
   * As above, but A closes again before the batch subscribe's refusal comes, and the refusal is one that names A (60018:
   * its instrument does not exist) or names none (60011, a code of PERMANENT_ERRORS): B, still wanted, goes again, judged
   * on its own answer. Until s-rd22a the batch was judged without A (unsubscribed at once as given up): B alone was left,
   * and a refusal of one topic alone rejects it, so B was halted (SUBSCRIBE_REJECTED) for A's refusal. A's channel,
   * still streamed by our own account, is unsubscribed either way: 60018 judges the subscribe's arg, not the channel the
   * socket has (s-rd22a left it out for 60018, and nothing unsubscribed it until the socket went; s-streamleft).
   */
  test.each([
    ["60018", "Wrong URL or channel:books,instId:A-USDT doesn't exist.", ["unsubscribe", "subscribe", "unsubscribe"]],
    ["60011", "Please log in", ["unsubscribe", "subscribe", "unsubscribe"]],
  ])("a batch subscribe still streamed, one of it closed again, the batch refused %s: the other goes again, not rejected", async (code, msg, expectedOfA) => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // 1 of 3
    answer(requests().at(-1)!, "60014");
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // 2 of 3
    answer(requests().at(-1)!, "60014");
    lifecycle.activateAll([a, b]);
    await Promise.resolve();
    await Promise.resolve();
    const subscribe = requests().at(-1)!; // 3 of 3: one subscribe for both
    expect(subscribe.args.map((x) => x.instId)).toEqual(["A-USDT", "B-USDT"]);
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    conn.onFrameAt(JSON.stringify({ id: subscribe.id, event: "error", code, msg, connId: "x" }), 1);
    expect(b.sub).toBe(SUB_PENDING); // before: SUB_REJECTED, B halted for a refusal of the batch
    expect(b.book).not.toBe(BookState.HALTED);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    expect(requests().at(-1)).toMatchObject({ op: "subscribe", args: [{ instId: "B-USDT" }] });
    expect(ofA()).toEqual(expectedOfA);
    expect(a.sub).toBe(SUB_REJECTED);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * As above, refused 60018 naming A: A is rejected (nothing streams), and that ends its "still streamed" mark
   * (TopicState.streamedOn: reject clears it). Listed again, its new subscribe written, closed again while it is out, and
   * that subscribe refused (60011): nothing streams A, so nothing unsubscribes it. Had the mark outlived the rejection
   * (as it does without reject's clear; no test held it until s-rd23a), that refusal read it and sent an unsubscribe
   * of a channel not subscribed, one of the hour's 480 for nothing.
   */
  test("a book rejected while still streamed (60018: its channel unsubscribed then, s-streamleft), listed again and closed again before its subscribe's refusal: not unsubscribed again", async () => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
    answer(requests().at(-1)!, "60014");
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
    answer(requests().at(-1)!, "60014");
    lifecycle.activateAll([a, b]);
    await Promise.resolve();
    await Promise.resolve();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
    conn.onFrameAt(JSON.stringify({ id: requests().at(-1)!.id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:A-USDT doesn't exist.", connId: "x" }), 1);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms); // B's subscribe
    lifecycle.activateAll([a]);
    await Promise.resolve();
    await Promise.resolve();
    const again = requests().at(-1)!;
    expect(again).toMatchObject({ op: "subscribe", args: [{ instId: "A-USDT" }] });
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out
    conn.onFrameAt(JSON.stringify({ id: again.id, event: "error", code: "60011", msg: "Please log in", connId: "x" }), 1);
    // The 60018 refusal unsubscribed the channel streamed by our own account (s-streamleft) and ended the mark: the 60011
    // refusal of the next subscribe has nothing to unsubscribe (before the clear in reject: one more unsubscribe).
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe", "subscribe"]);
    expect(a.sub).toBe(SUB_REJECTED);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A still streamed on the old socket (its closure's unsubscribe refused 60014, taken off by its subscribe, itself
   * refused 60014 and waiting to go again) when a planned reconnect swaps: the replacement subscribes A afresh, A closes
   * again while that subscribe is out (or after its refusal, its retry waiting), and the replacement refuses it ("system
   * busy"; read by onSubscribeFailed, or by retriesDue when the retry is due). The replacement never streamed A:
   * nothing is unsubscribed there. The mark is the old socket's (TopicState.streamedOn: a generation), read on its
   * socket only; no test held that until s-rd23a (read on any socket, an unsubscribe of a channel not subscribed went).
   */
  test.each(["before", "after"])("a mark of the old socket's is not read on the replacement: A closed again %s the refusal", async (when) => {
    const { adapter, conn, a, lifecycle, control, clock, swapIn, closedRelistedRefused } = await openRig();
    await closedRelistedRefused(); // A's subscribe waits to go again; nothing pending: the swap may come
    const { replacement, onReplacement } = swapIn();
    expect(conn.ws).toBe(replacement);
    const subscribe = onReplacement().at(-1)!;
    expect(subscribe.args.map((x) => x.instId)).toEqual(["A-USDT", "B-USDT"]);
    const busy = (r: Req) => conn.onFrameAt(JSON.stringify({ id: r.id, event: "error", code: "50001", msg: "System busy", connId: "x" }), 1);
    if (when === "before") {
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe is out (onSubscribeFailed reads)
      busy(subscribe);
    } else {
      busy(subscribe); // each goes again alone
      busy(onReplacement().find((r) => r.op === "subscribe" && r.id !== subscribe.id && r.args[0]!.instId === "A-USDT")!); // A's waits its backoff
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
      clock.ms += HOUR_MS; // its backoff over, the replacement's hour room again
      control.retriesDue(clock.ms); // its retry due (retriesDue reads)
    }
    expect(onReplacement().filter((r) => r.op === "unsubscribe")).toEqual([]); // before (any socket's mark read): A's
    conn.ws = null;
    conn.retiringWs = null;
    await adapter.stop();
  });

  /**
   * As above (A's mark set on the old socket, its subscribe waiting there at the swap, so the old socket does not serve
   * A's book: onRetiring false), A closes again during the overlap, its subscribe on the replacement refused or
   * accepted (then A's unsubscribe goes there), and the replacement fails: the old socket, the connection's again, still
   * streams A's channel, which nothing there has unsubscribed. The go-back unsubscribes it (goBack's givenUp: the mark
   * of the old socket's generation; a replacement's answer or unsubscribe leaves that mark). Or, A still open at the
   * go-back (its replacement subscribe unanswered), the mark goes on under the old socket's new generation: A's
   * subscribe there refused after A closed again unsubscribes it (onSubscribeFailed). Until s-rd23a nothing did:
   * A's channel stayed subscribed on the old socket for good (its frames ignored, one of its channels and its pushes).
   */
  test.each(["refused", "accepted", "unanswered"])("a book still streamed on the old socket, not served there at the swap: a go-back unsubscribes it (replacement's subscribe %s)", async (how) => {
    const { adapter, conn, a, requests, answer, lifecycle, control, clock, swapIn, closedRelistedRefused } = await openRig();
    await closedRelistedRefused();
    const { planned, replacement, onReplacement } = swapIn();
    expect([conn.ws, a.onRetiring]).toEqual([replacement, false]);
    const subscribe = onReplacement().at(-1)!;
    if (how === "refused") {
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
      conn.onFrameAt(JSON.stringify({ id: subscribe.id, event: "error", code: "50001", msg: "System busy", connId: "x" }), 1);
    } else if (how === "accepted") {
      answer(subscribe);
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
      answer(onReplacement().at(-1)!); // A's unsubscribe on the replacement
    }
    const before = requests().length;
    planned.goBack(conn, "test");
    if (how === "unanswered") {
      // A, open, is subscribed on the old socket (it did not serve A), closed while that is out, and it is refused.
      const again = requests().at(-1)!;
      expect(again).toMatchObject({ op: "subscribe", args: [{ instId: "A-USDT" }] });
      lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
      conn.onFrameAt(JSON.stringify({ id: again.id, event: "error", code: "50001", msg: "System busy", connId: "x" }), 1);
    }
    clock.ms += 2 * HOUR_MS;
    control.retriesDue(clock.ms);
    control.retriesDue(clock.ms);
    const onOld = requests().slice(before).filter((r) => r.args.some((x) => x.instId === "A-USDT"));
    expect(onOld.map((r) => r.op)).toEqual(how === "unanswered" ? ["subscribe", "unsubscribe"] : ["unsubscribe"]); // before: none
    expect(a.sub).toBe(SUB_REJECTED);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * As above, A's replacement subscribe accepted, then A resynced there waiting out its backoff (its unsubscribe
   * answered: idle, TopicState.resyncDelayed): the go-back subscribes nothing for A (its resync does, later) and moves
   * A's mark to the old socket's new generation. A closes before that resync: retire() unsubscribed only an active or
   * pending topic, so nothing did, and A's channel stayed subscribed on the old socket (s-rd23a moved the mark, which
   * nothing then read). Now retire unsubscribes an idle topic still streamed on its socket (s-rd24a).
   */
  test("a book still streamed on the old socket, idle there at the go-back (its resync waiting out its backoff), closed: unsubscribed", async () => {
    const { adapter, conn, a, requests, answer, lifecycle, control, clock, swapIn, closedRelistedRefused } = await openRig();
    await closedRelistedRefused();
    const { planned, replacement, onReplacement } = swapIn();
    expect([conn.ws, a.onRetiring]).toEqual([replacement, false]);
    answer(onReplacement().at(-1)!); // A (and B) subscribed on the replacement
    expect(a.sub).toBe(SUB_ACTIVE);
    a.resyncAttempt = 1; // a resync in a row: it waits out its backoff
    (adapter as unknown as { books: { resync(t: OkxTopic, s: BookState, r: StatusReason): void } }).books.resync(a, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    const unsub = onReplacement().at(-1)!;
    expect(unsub).toMatchObject({ op: "unsubscribe", args: [{ instId: "A-USDT" }] });
    answer(unsub);
    expect([a.sub, a.resyncDelayed]).toEqual([SUB_IDLE, true]);
    const before = requests().length;
    planned.goBack(conn, "test");
    expect(requests().slice(before).filter((r) => r.args.some((x) => x.instId === "A-USDT"))).toEqual([]); // its resync subscribes it later
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED);
    clock.ms += 2 * HOUR_MS;
    control.retriesDue(clock.ms);
    const onOld = requests().slice(before).filter((r) => r.args.some((x) => x.instId === "A-USDT"));
    expect(onOld.map((r) => r.op)).toEqual(["unsubscribe"]); // before: none, subscribed there for good
    expect(a.streamedOn).toBe(-1);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * As above, A staying open (s-okxgoback): the old socket, gone back to, still streams A's channel, which nothing there
   * unsubscribes; A's resync subscribes it once its backoff is over. Meanwhile A is idle: every frame of that stream
   * (an update, even a snapshot) is ignored, so A is never shown LIVE from a stream it did not subscribe (RESYNCING,
   * nothing handed to the sink). Its resync then costs one request of the old socket's hour, the subscribe (no
   * unsubscribe first: its channel left subscribed saves one); OKX answers a second subscribe of a channel it streams
   * with an ack and a fresh snapshot (the simulator: okx-sim.ts, one stream a socket), which makes A LIVE, its mark over.
   */
  test("a book still streamed on the old socket, idle there at the go-back (its resync waiting out its backoff), open: its frames ignored, one subscribe after the backoff, LIVE from its snapshot", async () => {
    const { adapter, conn, a, requests, answer, swapIn, closedRelistedRefused } = await openRig();
    await closedRelistedRefused();
    const { planned, replacement, onReplacement } = swapIn();
    answer(onReplacement().at(-1)!);
    a.resyncAttempt = 1;
    adapter.books.resync(a, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    answer(onReplacement().at(-1)!); // its unsubscribe on the replacement
    expect([a.sub, a.resyncDelayed]).toEqual([SUB_IDLE, true]);
    const before = requests().length;
    planned.goBack(conn, "test");
    expect(a.streamedOn).toBe(conn.generation); // the old socket streams A's channel still
    const updates: number[] = [];
    const sink = { onBookUpdate: (i: number) => void updates.push(i), onBookInvalid() {}, onInstrumentChanged() {} };
    (adapter as unknown as { bind(s: typeof sink, replay: boolean): void }).bind(sink, false); // its topics in the frame table, as start()
    const frame = (action: string, prev: number, seq: number) =>
      `{"arg":{"channel":"books","instId":"A-USDT"},"action":"${action}","data":[{"asks":[["200.1","1","0","1"]],"bids":[["200","1","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
    conn.onFrameAt(frame("update", 10, 11), 1);
    conn.onFrameAt(frame("snapshot", -1, 12), 1);
    expect([a.book, updates, adapter.stats().ignoredWhileUnsubscribed]).toEqual([BookState.RESYNCING, [], 2]);
    // Its backoff over: the housekeeping round's restart (ConnectionLifecycle.onHousekeeping → restartAfterBackoff).
    a.resyncDelayed = false;
    adapter.restart(a);
    const onOld = requests().slice(before);
    expect(onOld.map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([["subscribe", ["A-USDT"]]]);
    answer(onOld[0]!);
    conn.onFrameAt(frame("snapshot", -1, 20), 1);
    expect([a.sub, a.book, a.streamedOn, updates]).toEqual([SUB_ACTIVE, BookState.LIVE, -1, [a.index]]);
    expect(conn.requestTimesMs.length).toBe(3); // the old socket's hour: its two requests refused 60014 and this one
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * B closes while the socket's hour is spent (its unsubscribe held), and is listed again (its subscribe held too: the
   * unsubscribe keeps its place, nothing written for B). A planned reconnect's swap drops both held requests: the old
   * socket still streams B's channel, though it does not serve B's book (B not ACTIVE there) and no subscribe of B went
   * there to mark it (TopicState.streamedOn). B closes again during the overlap, and the replacement fails: gone back to,
   * the old socket unsubscribes B (goBack's givenUp). Until s-okxgoback (found by the randomized check with planned
   * reconnects, seed 27) the swap marked only a closed book (stillServed), so nothing did: B's channel stayed subscribed
   * on the old socket for good, its frames ignored.
   */
  test("a book listed again while its closure's unsubscribe and its subscribe are both held, swapped out, closed, gone back to: unsubscribed on the old socket", async () => {
    const { adapter, conn, b, requests, lifecycle, control, clock, swapIn } = await openRig();
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // the hour spent
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe held
    lifecycle.activate(b); // its subscribe held too
    await Promise.resolve();
    await Promise.resolve();
    expect([requests(), control.waitingOn(conn).map((x) => x.op)]).toEqual([[], ["unsubscribe", "subscribe"]]);
    const { planned, replacement } = swapIn();
    expect([conn.ws, b.onRetiring]).toEqual([replacement, false]);
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // its subscribe on the replacement is out
    planned.goBack(conn, "test");
    clock.ms += 2 * HOUR_MS;
    control.retriesDue(clock.ms);
    const onOld = requests().filter((r) => r.args.some((x) => x.instId === "B-USDT"));
    expect(onOld.map((r) => r.op)).toEqual(["unsubscribe"]); // before: none, subscribed there for good
    expect([b.sub, b.streamedOn]).toEqual([SUB_REJECTED, -1]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * As above, B marked as streamed on the old socket at the swap; on the replacement B is subscribed (accepted), closed
   * (its unsubscribe written), listed again (its subscribe written) and that unsubscribe refused 60014: the replacement
   * streams B too, marked so there (resubscribedSince). B closes again and the replacement fails: gone back to, the old
   * socket, which never unsubscribed B, unsubscribes it. Until s-rd26b a book had one mark (TopicState.streamedOn): the
   * replacement's took the old socket's place, and the go-back, finding none of its own, left B's channel subscribed
   * there for good (found by the randomized check with planned reconnects, seed 146).
   */
  test("a book streamed on the old socket, marked streamed on the replacement too during the overlap, closed, gone back to: unsubscribed on the old socket", async () => {
    const { adapter, conn, b, requests, answer, lifecycle, control, clock, swapIn } = await openRig();
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // the old socket's hour spent
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe held
    lifecycle.activate(b); // its subscribe held too
    await Promise.resolve();
    await Promise.resolve();
    const { planned, replacement, onReplacement } = swapIn();
    expect(conn.ws).toBe(replacement);
    answer(onReplacement().find((r) => r.args.some((x) => x.instId === "B-USDT"))!); // B's subscribe there accepted
    expect(b.sub).toBe(SUB_ACTIVE);
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe written on the replacement
    lifecycle.activate(b); // and its subscribe
    await Promise.resolve();
    await Promise.resolve();
    const unsubscribe = onReplacement().find((r) => r.op === "unsubscribe")!;
    expect(onReplacement().at(-1)).toMatchObject({ op: "subscribe", args: [{ instId: "B-USDT" }] });
    answer(unsubscribe, "60014"); // the replacement streams B still: marked there
    expect(b.streamedOn).toBe(conn.generation);
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
    planned.goBack(conn, "test");
    clock.ms += 2 * HOUR_MS;
    control.retriesDue(clock.ms);
    const onOld = requests().filter((r) => r.args.some((x) => x.instId === "B-USDT"));
    expect(onOld.map((r) => r.op)).toEqual(["unsubscribe"]); // before: none, subscribed there for good
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A's resync waits for the old socket's hour (spent) when a planned reconnect swaps: the replacement's subscribe of
   * A is the fresh start it waited for (BudgetWaits.requested: its wait over). The replacement fails and the old socket,
   * which still serves A (subscribed there, its book RESYNCING), is gone back to: A's fresh start is owed there again,
   * waiting for that socket's hour as before the swap, then its requests go and its snapshot makes it LIVE. Until
   * s-rd26b nothing restarted it (not asked during the overlap: restartWanted unset), its wait gone: ACTIVE and
   * RESYNCING on the old socket for good, no request ever sent for it (found by the randomized check with planned
   * reconnects, seed 7, once it asked every open book to end LIVE).
   */
  test("a resync waiting for the hour at a swap, the replacement failed: its fresh start is owed on the old socket gone back to", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }); // the budget wait's timer, moved with the clock
    try {
      const { adapter, conn, a, requests, answer, clock, swapIn } = await openRig();
      const waitsBudget = (adapter as unknown as { budgetWait: boolean[] }).budgetWait;
      conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // the old socket's hour spent
      adapter.books.resync(a, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
      expect([a.sub, a.book, waitsBudget[a.index], requests()]).toEqual([SUB_ACTIVE, BookState.RESYNCING, true, []]);
      const { planned, replacement } = swapIn();
      expect([conn.ws, a.onRetiring, waitsBudget[a.index]]).toEqual([replacement, true, false]); // its subscribe there ends the wait
      planned.goBack(conn, "test");
      expect([a.sub, a.book]).toEqual([SUB_ACTIVE, BookState.RESYNCING]);
      expect(waitsBudget[a.index], "A's fresh start waits for the old socket's hour again").toBe(true);
      clock.ms += HOUR_MS;
      vi.advanceTimersByTime(HOUR_MS);
      expect(requests().map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([["unsubscribe", ["A-USDT"]]]);
      answer(requests()[0]!);
      expect(requests().map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([["unsubscribe", ["A-USDT"]], ["subscribe", ["A-USDT"]]]);
      answer(requests()[1]!);
      expect(a.sub).toBe(SUB_ACTIVE);
      conn.ws = null;
      await adapter.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  /**
   * A LIVE: A closes (its unsubscribe written), is listed again (its subscribe written) and closes again; OKX then refuses
   * the unsubscribe 60014 and accepts the subscribe, whose answer unsubscribes A's channel. Until s-rd21c the refused
   * unsubscribe also went again (A given up): two unsubscribes of one channel, the second one of the hour's 480 for
   * nothing. Now the subscribe out for A is its request: the refused unsubscribe's retry leaves A out.
   */
  test("a closed book's unsubscribe refused 60014 after its reopening's subscribe went: its channel is unsubscribed once", async () => {
    const { adapter, conn, a, requests, answer, lifecycle, control, clock, ofA } = await openRig();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // its unsubscribe goes (1 of 3)
    lifecycle.activate(a);
    await Promise.resolve();
    await Promise.resolve();
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // nothing to send: its subscribe (2 of 3) is out
    const [unsubscribe, subscribe] = requests();
    answer(unsubscribe!, "60014");
    answer(subscribe!); // accepted: A given up, its channel unsubscribed (3 of 3)
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe"]);
    for (let i = 0; i < 3; i++) {
      clock.ms += HOUR_MS;
      control.retriesDue(clock.ms);
    }
    expect(ofA()).toEqual(["unsubscribe", "subscribe", "unsubscribe"]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * B resyncs (its unsubscribe out, its subscribe owed); the hour spent, A's instrument closes (its unsubscribe held).
   * Room for one frees, and OKX refuses B's unsubscribe for a reason that may pass (taken as unsubscribed): B's owed
   * subscribe goes now, ahead of the held unsubscribe, as owed ones go once their answer came. Until s-rd20a only an
   * answer arg by arg sent it so; after a refusal of the whole request (or a 60014 with args answered before) it went as
   * a new request, behind every held one, B RESYNCING meanwhile.
   */
  test("a resync's subscribe owed after its unsubscribe was refused goes ahead of the requests held", async () => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock } = await openRig();
    const startMs = clock.ms;
    b.book = BookState.RESYNCING;
    adapter.restart(b); // B's unsubscribe (1 of 3), its subscribe owed
    clock.ms += 1_000;
    conn.requestTimesMs.push(clock.ms, clock.ms); // 3 of 3
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // A's unsubscribe held
    clock.ms = startMs + HOUR_MS; // B's unsubscribe has left the hour: room for one
    answer(requests()[0]!, "50001"); // refused, not over the limit: B taken as unsubscribed
    control.retriesDue(clock.ms);
    expect(requests().map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([
      ["unsubscribe", ["B-USDT"]],
      ["subscribe", ["B-USDT"]],
    ]);
    expect(control.unsubscribeWaiting(conn, a)).toBe(true);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * Three unsubscribes held for the hour, one after another: a housekeeping round with no room asks the count once, for
   * the first, not for those behind it (each would count the first with its own, no room either). Until s-rd20a each
   * held request asked every round, and each ask walks every request waiting: ~75 ms a round with 2,900 held over 100
   * sockets, every round of the hour. With room, all go, in the order held.
   */
  test("a round with no room asks the hour's count once for the requests held on a socket, not once each", async () => {
    const { adapter, conn, requests, lifecycle, control, clock } = await openRig(["A-USDT", "B-USDT", "C-USDT"]);
    conn.requestTimesMs.push(clock.ms, clock.ms, clock.ms); // 3 of 3
    for (const t of conn.topics) lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED); // three unsubscribes held
    const protocol = (control as unknown as { protocol: { requestWaitMs(c: OkxConnection): number } }).protocol;
    const ask = protocol.requestWaitMs.bind(protocol);
    let asked = 0;
    protocol.requestWaitMs = (c) => {
      asked++;
      return ask(c);
    };
    clock.ms += 1_000;
    control.retriesDue(clock.ms);
    expect([asked, requests().length]).toEqual([1, 0]);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms);
    expect(requests().map((r) => r.args.map((x) => x.instId))).toEqual([["A-USDT"], ["B-USDT"], ["C-USDT"]]);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * B's owed subscribe held for the hour; the hour then frees room for one request and A's instrument closes before
   * the housekeeping round sends B's: A's unsubscribe waits behind it (first held, first sent), and goes at the next
   * room. Until s-okxheld the held subscribe reserved nothing: A's unsubscribe took the room, and B, RESYNCING, waited
   * again (any newer request asked in between, another closure or resync, could do so again and again).
   */
  test("a request held for the hour goes first when room frees: a newer one waits behind it", async () => {
    const { adapter, conn, a, b, requests, answer, lifecycle, control, clock } = await openRig();
    const startMs = clock.ms;
    b.book = BookState.RESYNCING;
    adapter.restart(b); // B's unsubscribe (1 of 3), its subscribe owed
    clock.ms += 1_000;
    conn.requestTimesMs.push(clock.ms, clock.ms); // 3 of 3, these 1 s after B's unsubscribe
    answer(requests()[0]!); // B's subscribe held
    expect([b.sub, b.subscribeQueued]).toEqual([SUB_PENDING, true]);
    clock.ms = startMs + HOUR_MS; // B's unsubscribe has left the hour: room for one
    lifecycle.retire(a, StatusReason.INSTRUMENT_CLOSED); // A's unsubscribe asks the count
    control.retriesDue(clock.ms);
    const sent = () => requests().map((r) => [r.op, r.args.map((x) => x.instId)]);
    expect(sent()).toEqual([
      ["unsubscribe", ["B-USDT"]],
      ["subscribe", ["B-USDT"]],
    ]);
    expect(control.unsubscribeWaiting(conn, a)).toBe(true);
    clock.ms = startMs + 1_000 + HOUR_MS; // the next room
    control.retriesDue(clock.ms);
    expect(sent().at(-1)).toEqual(["unsubscribe", ["A-USDT"]]);
    expect(conn.requestTimesMs.length).toBeLessThanOrEqual(3);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * A resyncs with the hour spent: its restart waits (budget-wait.ts, a timer; fake here, moved with the clock), in the
   * line the held requests are in. `closeC`: C's instrument closes while A waits, before (its unsubscribe held behind A)
   * or after the hour has freed the room A waits for. Either way A's unsubscribe goes when its wait is over, and C's
   * waits behind it. Until s-okxwait a waiting resync had no place in line: C's unsubscribe asked after the room freed
   * took it, and one held before was counted as ahead of A (held requests were all ahead of a restart), so C went first
   * both ways and A, RESYNCING, waited again (each newer request could do so again).
   */
  async function waitingResyncRig(closeC: "before" | "after") {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const rig = await openRig(["A-USDT", "B-USDT", "C-USDT"]);
      const { adapter, conn, requests, lifecycle, control, clock } = rig;
      const [a, , c] = conn.topics as [OkxTopic, OkxTopic, OkxTopic];
      const startMs = clock.ms;
      conn.requestTimesMs.push(startMs, startMs);
      clock.ms += 1_000;
      conn.requestTimesMs.push(clock.ms); // 3 of 3: two leave the hour at startMs + 1 h
      a.book = BookState.RESYNCING;
      adapter.restart(a);
      expect([requests().length, adapter.stats().requestBudgetWaits]).toEqual([0, 1]); // A waits for room for 2
      if (closeC === "before") lifecycle.retire(c, StatusReason.INSTRUMENT_CLOSED); // held: no room
      clock.ms = startMs + HOUR_MS; // room for 2
      if (closeC === "after") lifecycle.retire(c, StatusReason.INSTRUMENT_CLOSED); // A's room is reserved: held
      vi.advanceTimersByTime(HOUR_MS - 1_000); // A's wait is over
      control.retriesDue(clock.ms);
      const sent = requests().map((r) => [r.op, r.args.map((x) => x.instId)]);
      expect(sent[0], "A's restart goes first").toEqual(["unsubscribe", ["A-USDT"]]);
      expect(conn.requestTimesMs.length).toBeLessThanOrEqual(3);
      return { ...rig, a, c, sent };
    } finally {
      vi.useRealTimers();
    }
  }

  test("a resync waiting for the hour keeps its room: a request asked once the room freed waits behind it", async () => {
    const { adapter, conn, c, control, sent } = await waitingResyncRig("after");
    // A's unsubscribe and the subscribe it owes take the 2: C's unsubscribe waits for the next room.
    expect(sent).toEqual([["unsubscribe", ["A-USDT"]]]);
    expect(control.unsubscribeWaiting(conn, c)).toBe(true);
    conn.ws = null;
    await adapter.stop();
  });

  test("a resync waiting for the hour is not passed by a request held after it began to wait", async () => {
    const { adapter, conn, c, control, sent } = await waitingResyncRig("before");
    // Held behind A, C's unsubscribe counts A's and the subscribe it owes: it waits for the next room.
    expect(sent).toEqual([["unsubscribe", ["A-USDT"]]]);
    expect(control.unsubscribeWaiting(conn, c)).toBe(true);
    conn.ws = null;
    await adapter.stop();
  });

  /**
   * Randomized against a reference line: 3 books on a socket of 3 requests an hour, resynced, answered, closed and
   * listed again at random while the clock moves. Every request held for the hour (SubscriptionControl.holdForBudget)
   * is noted with its class: owed by a resync under way (held while an answer is handled, but a closed book's
   * unsubscribe) or new. Of two held ones both sent, the first held goes first unless it is new and the later owed
   * (owed ones go ahead of every held one); a new request (a resync's, a closure's, a listing's) is sent only with room
   * left in its hour for every held one still waiting; and no hour holds more than 3 requests. Until s-okxheld a held
   * request reserved nothing: a new one asked before the housekeeping round took the room it waited for. The venue's
   * channels are modelled too (since s-rd20a; since s-rd21c one answer in 5 is a 60014, a refusal that changes no
   * channel, its retry's order not judged): no unsubscribe names one not subscribed, and once hours pass and every
   * request is answered, each closed book's channel is unsubscribed and each open book (not waiting out a backoff or
   * the budget) is subscribed and ACTIVE: a held request left behind for good fails it.
   * Since s-okxwait a resync waiting for the budget before it starts (budget-wait.ts, its timer on fake timers moved with
   * the clock, some late) is in the same line, at the place it took when it began to wait: any request (new, held, or
   * another wait's) goes only with room in its hour for every one ahead of it still waiting, a waiting resync counting
   * its restart's requests (not those behind it); and once settled nothing waits (liveness): no resync, no request.
   * Before, a request asked after a resync began to wait took the room it waited for (seed 1); and counting the restart
   * a held subscribe's answer brings (resyncAfterAck) for a resync waiting ahead of it left both waiting for good.
   * Since s-okxmodel one subscribe answer in 6 (of those not refused 60014) is a permanent refusal (60018 naming one
   * arg, the venue's channels unchanged): that book is rejected and HALTED, and a channel the venue still streams for it
   * is unsubscribed (SubscriptionControl.reject); without that unsubscribe seed 2 fails (B's channel left subscribed).
   */
  test("randomized: held requests and waiting resyncs go in one line (owed ones ahead), never past the hour's count, all go", async () => {
    let ordered = 0; // pairs of held requests both sent whose order the line fixes
    let newAhead = 0; // new requests sent while held ones wait
    let waitsGone = 0; // resyncs gone after waiting for the budget
    let waitAhead = 0; // of them, gone while one behind them in line (held or waiting) still waited
    let refusedStreamed = 0; // subscribes refused 60018 whose book the venue still streamed
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }); // the resyncs' budget waits, moved with the clock
    try {
    for (let seed = 1; seed <= 40; seed++) {
      const random = rng(seed);
      const pick = <T,>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
      const { adapter, conn, ws, requests, answer, lifecycle, control, clock } = await openRig(["A-USDT", "B-USDT", "C-USDT"]);
      const sentAtMs: number[] = [];
      const send = ws.send.bind(ws);
      ws.send = (text: string) => {
        sentAtMs.push(clock.ms);
        send(text);
      };
      // The venue's side: the channels subscribed, as requests are answered (in the order written): an acceptance
      // takes effect, a 60014 refusal does not. An unsubscribe of a channel not subscribed is one more of the hour's
      // requests for nothing.
      const atVenue = new Set(conn.topics.map((t) => t.symbol));
      let needless = 0;
      const accept = (r: Req) => {
        for (const { instId } of r.args) {
          if (r.op === "subscribe") atVenue.add(instId);
          else if (!atVenue.delete(instId)) needless++;
        }
        answer(r);
      };
      // A subscribe refused 60018 naming one arg (the venue's state unchanged): that book is rejected and HALTED, and a
      // channel the venue still streams for it (its subscribe took its closure's refused unsubscribe's place) is
      // unsubscribed, written or held (SubscriptionControl.reject, since s-streamleft); the others go again.
      let refusedForGood = 0; // 60018 refusals of a book whose channel the venue still streamed
      const refuseForGood = (r: Req) => {
        const arg = r.args[Math.floor(random() * r.args.length)]!;
        const t = conn.topics.find((x) => x.symbol === arg.instId)!;
        const sentBefore = requests().length;
        const msg = `Wrong URL or channel:${arg.channel},instId:${arg.instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`;
        conn.onFrameAt(JSON.stringify({ id: r.id, event: "error", code: "60018", msg, connId: "x" }), 1);
        expect([t.sub, t.book, t.streamedOn === conn.generation], `seed ${seed}: ${arg.instId} refused 60018`).toEqual([SUB_REJECTED, BookState.HALTED, false]);
        if (!atVenue.has(arg.instId)) return;
        refusedForGood++;
        const unsubscribed = requests().slice(sentBefore).some((x) => x.op === "unsubscribe" && x.args.some((y) => y.instId === arg.instId));
        const unsubscribeHeld = control.waitingOn(conn).some((x) => x.op === "unsubscribe" && x.topics.includes(t));
        expect(unsubscribed || unsubscribeHeld, `seed ${seed}: ${arg.instId} refused 60018, its channel still streamed: unsubscribed`).toBe(true);
      };
      // sentAt: its index among the requests written; -1 waiting, -2 void, -3 sent but its order not judged. `wait`: a
      // resync waiting before it starts (budget-wait.ts), of `requests` (its unsubscribe and the subscribe it owes, or a
      // subscribe); `place`: its place in the one line (SubscriptionControl.takePlace), owed ones -Infinity.
      type Held = { op: string; names: string[]; owed: boolean; sentAt: number; wait?: boolean; requests?: number; place: number };
      const held: Held[] = [];
      const waits = (adapter as unknown as { budgetWaits: BudgetWaits }).budgetWaits;
      const waitHold = waits.hold.bind(waits);
      waits.hold = (t: OkxTopic) => {
        const place = waits.places[t.index]!;
        const held_ = waitHold(t);
        if (held_ && place === 0) held.push({ op: "", names: [t.symbol], owed: false, sentAt: -1, wait: true, place: waits.places[t.index]! });
        return held_;
      };
      const retries = (control as unknown as { retries: { heldSeq?: number }[] }).retries;
      let answering = false;
      const ctl = control as unknown as {
        holdForBudget(c: OkxConnection, op: string, ts: OkxTopic[], waitMs: number): void;
        retryLater(c: OkxConnection, op: string, ts: OkxTopic[], retMsg: string): void;
      };
      const hold = ctl.holdForBudget.bind(control);
      const later = ctl.retryLater.bind(control);
      // A request refused 60014 goes again from the round once its backoff is over (or it joins the line): its order is
      // not judged.
      ctl.retryLater = (c, op, ts, retMsg) => {
        held.push({ op, names: ts.map((t) => t.symbol), owed: false, sentAt: -2, place: Infinity });
        later(c, op, ts, retMsg);
      };
      // A held one is void once its topic moves on (its hold is dropped when due, or goes for a request the model does
      // not tell apart): a request of the other op for it held or written, a held subscribe's book closed, a held
      // unsubscribe's book listed again.
      const moveOn = (op: string, names: readonly string[]) => {
        for (const x of held) if (x.sentAt === -1 && (x.op !== op || x.wait === true) && x.names.some((n) => names.includes(n))) x.sentAt = -2;
      };
      ctl.holdForBudget = (c, op, ts, waitMs) => {
        moveOn(op, ts.map((t) => t.symbol));
        const owed = answering && !(op === "unsubscribe" && ts.every((t) => t.sub === SUB_REJECTED));
        hold(c, op, ts, waitMs);
        const place = retries.at(-1)!.heldSeq!;
        // A waiting resync gone whose request is held keeps its place: it is that request from here.
        for (const x of held) if (x.wait === true && x.sentAt === -1 && x.place === place) x.sentAt = -2;
        held.push({ op, names: ts.map((t) => t.symbol), owed, sentAt: -1, place });
      };
      /**
       * The requests a waiting resync's restart will send (restartTopic), less those counted as a resync under way: an
       * active book's unsubscribe and subscribe, an idle one's subscribe; an unsubscribing one's subscribe unless owed.
       */
      const restartRequests = (name: string) => {
        const t = conn.topics.find((x) => x.symbol === name)!;
        if (t.sub === SUB_ACTIVE) return 2;
        if (t.sub === SUB_PENDING) return t.resyncAfterAck ? 0 : 2;
        if (t.sub === SUB_IDLE) return 1;
        if (t.sub === SUB_REJECTED) return 0;
        return t.resubscribeAfterUnsub ? 0 : 1;
      };
      /** Requests those waiting in line count for (held: one message; a waiting resync: its restart's), ahead of `place`. */
      const reserved = (place: number) =>
        held.filter((x) => x.sentAt === -1 && x.place < place).reduce((n, x) => n + (x.wait === true ? restartRequests(x.names[0]!) : 1), 0);
      let answered = 0;
      let timersMs = clock.ms; // where the fake timers are, on the clock
      for (let step = 0; step < 100; step++) {
        const before = requests().length;
        const e = random();
        if (e < 0.25) {
          const t = pick(conn.topics.filter((x) => x.sub === SUB_ACTIVE));
          if (t) {
            t.book = BookState.RESYNCING;
            adapter.restart(t);
          }
        } else if (e < 0.5) {
          const r = requests()[answered];
          if (r) {
            answered++;
            answering = true;
            // One in 5 refused as over the rate limit (OKX's 60014, as from a count this process does not see); one
            // subscribe in 6 of the rest refused for good (60018 naming one arg: its instrument does not exist).
            const refusal = random();
            if (refusal < 0.2) answer(r, "60014");
            else if (r.op === "subscribe" && refusal > 1 - 0.8 / 6) refuseForGood(r);
            else accept(r);
            answering = false;
            for (const x of conn.topics) if (x.sub === SUB_ACTIVE && r.op === "subscribe" && r.args.some((y) => y.instId === x.symbol)) x.book = BookState.LIVE;
          }
        } else if (e < 0.6) {
          const t = pick(conn.topics.filter((x) => x.sub !== SUB_REJECTED));
          if (t) {
            moveOn("unsubscribe", [t.symbol]);
            lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED);
          }
        } else if (e < 0.7) {
          const t = pick(conn.topics.filter((x) => x.sub === SUB_REJECTED));
          if (t) {
            moveOn("subscribe", [t.symbol]);
            lifecycle.activate(t);
            await Promise.resolve();
            await Promise.resolve();
          }
        } else if (e < 0.85) {
          const stepMs = Math.floor(random() * HOUR_MS * 0.6); // the housekeeping round comes later: requests may be asked first
          clock.ms += stepMs;
          // Resyncs whose budget wait is over restart, some late (up to 10 min): requests are asked meanwhile.
          const lateMs = random() < 0.5 ? 0 : Math.floor(random() * 600_000);
          if (clock.ms - lateMs > timersMs) {
            vi.advanceTimersByTime(clock.ms - lateMs - timersMs);
            timersMs = clock.ms - lateMs;
          }
        } else {
          control.retriesDue(clock.ms);
        }
        // Each request written now: the first held one still unsent of its op naming all its instIds.
        const all = requests();
        for (let k = before; k < all.length; k++) {
          const r = all[k]!;
          // Held ones go only from the housekeeping round (retriesDue), and nothing else does here: one taken for void
          // goes all the same when its book moved back (a closed book listed and closed again). Its order is not judged,
          // nor that of one the model cannot tell from such a one (the same request held again since).
          if (e >= 0.85) {
            const named = (x: Held) => x.wait !== true && x.op === r.op && r.args.every((y) => x.names.includes(y.instId));
            const h = held.find((x) => x.sentAt === -1 && named(x)) ?? held.find((x) => x.sentAt === -2 && named(x));
            // A subscribe waiting to go (held, or refused 60014) whose books closed again since, their closure's
            // unsubscribe refused 60014 and taken off by it (still streamed): it unsubscribes them (the channel model
            // below judges that).
            const closedAgain = r.op === "unsubscribe" && r.args.every((y) => conn.topics.some((t) => t.symbol === y.instId && t.sub === SUB_REJECTED));
            if (h === undefined && closedAgain && held.some((x) => x.op === "subscribe" && r.args.every((y) => x.names.includes(y.instId)))) continue;
            expect(h, `seed ${seed}: ${r.op} ${r.args.map((y) => y.instId)} sent by the round was held`).toBeDefined();
            // It leaves room in its hour for every one ahead of it in line still waiting (a resync's wait too).
            if (h!.sentAt === -1) {
              const inHour = sentAtMs.filter((x, i) => i <= k && x > sentAtMs[k]! - HOUR_MS).length;
              expect(inHour + reserved(h!.place), `seed ${seed}: held ${r.op} ${r.args.map((y) => y.instId)} took room those ahead wait for`).toBeLessThanOrEqual(3);
            }
            h!.sentAt = h!.sentAt === -1 && !held.some((x) => x.sentAt === -2 && named(x)) ? k : -3;
            continue;
          }
          // A resync's wait over (the clock moved): its request leaves room for the subscribe it owes and for every one
          // ahead of it in line still waiting, not for those behind (held or waiting after it: they wait behind it).
          const w = e >= 0.7 && e < 0.85 ? held.find((x) => x.wait === true && x.sentAt === -1 && r.args.every((y) => x.names.includes(y.instId))) : undefined;
          if (w) {
            const inHour = sentAtMs.filter((x, i) => i <= k && x > sentAtMs[k]! - HOUR_MS).length;
            if (held.some((x) => x.sentAt === -1 && x.place > w.place)) waitAhead++;
            const owes = r.op === "unsubscribe" && conn.topics.some((t) => t.symbol === w.names[0] && t.resubscribeAfterUnsub) ? 1 : 0;
            expect(inHour + owes + reserved(w.place), `seed ${seed}: waiting resync ${r.op} ${w.names} took room those ahead wait for`).toBeLessThanOrEqual(3);
            w.sentAt = k;
            waitsGone++;
            continue;
          }
          moveOn(r.op, r.args.map((y) => y.instId));
          // A new request (not sent for an answer: what a resync owes goes ahead) leaves room in its hour for every held
          // one still waiting.
          if (e < 0.25 || e >= 0.5) {
            const inHour = sentAtMs.filter((x, i) => i <= k && x > sentAtMs[k]! - HOUR_MS).length;
            const waiting = reserved(Infinity);
            if (waiting > 0) newAhead++;
            expect(inHour + waiting, `seed ${seed}: ${r.op} ${r.args.map((y) => y.instId)} took room held ones wait for`).toBeLessThanOrEqual(3);
          }
        }
        // A wait over whose restart wrote nothing now (its unsubscribe after a pending subscribe's answer, …): out of line.
        for (const x of held) if (x.wait === true && x.sentAt === -1 && waits.places[conn.topics.find((t) => t.symbol === x.names[0])!.index] === 0) x.sentAt = -3;
      }
      // Settled (hours pass, every request answered): no closed book's channel is left subscribed, and no unsubscribe
      // named a channel not subscribed. Until s-rd20a both happened (a closed book listed and closed again while its
      // closure's unsubscribe was held).
      for (let round = 0; round < 6; round++) {
        clock.ms += HOUR_MS;
        vi.advanceTimersByTime(clock.ms - timersMs);
        timersMs = clock.ms;
        control.retriesDue(clock.ms);
        while (answered < requests().length) accept(requests()[answered++]!);
      }
      // Liveness: everything in line has gone (a resync's wait too, since s-okxwait in that line).
      const waitsBudget = (adapter as unknown as { budgetWait: boolean[] }).budgetWait;
      const stillWaiting = [conn.topics.filter((t) => waitsBudget[t.index]).map((t) => t.symbol), control.waitingOn(conn).map((x) => `${x.op} ${x.topics.map((t) => t.symbol)}`)];
      expect(stillWaiting, `seed ${seed}: resyncs and requests still waiting once settled`).toEqual([[], []]);
      const openNotSubscribed = conn.topics.filter((t) => t.sub !== SUB_REJECTED && !t.resyncDelayed && (!atVenue.has(t.symbol) || t.sub !== SUB_ACTIVE)).map((t) => `${t.symbol}:${t.sub}`);
      expect(openNotSubscribed, `seed ${seed}: open books not subscribed once settled`).toEqual([]);
      const closedStillSubscribed = conn.topics.filter((t) => t.sub === SUB_REJECTED && atVenue.has(t.symbol)).map((t) => t.symbol);
      expect([closedStillSubscribed, needless], `seed ${seed}: closed books' channels still subscribed, needless unsubscribes`).toEqual([[], 0]);
      // With no request out, no book is marked as streamed in place of an unsubscribe (TopicState.streamedOn): a mark
      // left over would unsubscribe a later subscribe's book that never took an unsubscribe's place.
      const marked = conn.topics.filter((t) => t.streamedOn === conn.generation).map((t) => `${t.symbol}:${t.sub}`);
      expect(marked, `seed ${seed}: books still marked as streamed once settled`).toEqual([]);
      for (let i = 0; i < sentAtMs.length; i++) {
        const inHour = sentAtMs.filter((x) => x > sentAtMs[i]! - HOUR_MS && x <= sentAtMs[i]!).length;
        expect(inHour, `seed ${seed}: requests in the hour to the one at ${sentAtMs[i]}`).toBeLessThanOrEqual(3);
      }
      for (let i = 0; i < held.length; i++) {
        for (let j = i + 1; j < held.length; j++) {
          const [x, y] = [held[i]!, held[j]!];
          if (x.sentAt < 0 || y.sentAt < 0 || (!x.owed && y.owed) || x.wait === true || y.wait === true) continue; // waits: above
          ordered++;
          expect(x.sentAt, `seed ${seed}: held ${i} (${x.op} ${x.names}) goes before held ${j} (${y.op} ${y.names})`).toBeLessThan(y.sentAt);
        }
      }
      refusedStreamed += refusedForGood;
      conn.ws = null;
      await adapter.stop();
    }
    } finally {
      vi.useRealTimers();
    }
    // The seeds reach every rule (40 seeds: 33 ordered pairs, 6 new requests sent while held ones waited, 28 waiting
    // resyncs gone, 22 of them while one behind them in line waited, 6 books refused 60018 while still streamed).
    expect([ordered > 30, newAhead > 4, waitsGone > 20, waitAhead > 15, refusedStreamed > 3]).toEqual([true, true, true, true, true]);
  });

  /**
   * The line's randomized check above has one socket. This one adds OKX's planned reconnect (a 64008 notice): a
   * replacement socket opened and swapped in once the old one is settled, then either carrying every book (the old
   * socket closed: completeIfCarried) or failing (the old socket gone back to: goBack). The venue is modelled per socket:
   * each socket's channels (changed by accepted requests only: one answer in 5 a 60014, one subscribe in 6 of the rest a
   * 60018 naming one arg), its own hour (3 requests here) and answers in the order written on it; a socket closed takes
   * its channels with it. Resyncs may wait out a backoff (idle at a swap or a go-back: the s-okxgoback case), books
   * close and are listed again. Checked: no socket's hour holds more than 3; no unsubscribe names a channel the socket
   * does not stream; and once settled (hours pass, every request answered, the overlap over, backoffs ended) nothing
   * waits or is out, every open book is ACTIVE and LIVE with its channel subscribed on the one socket (the one that reads it),
   * no channel is subscribed there that no open book reads, and no book is left marked as streamed (streamedOn).
   * The line's order is the check above's (not judged here). Seed 27 found a book listed again while its closure's
   * unsubscribe and its subscribe were both held, swapped out, closed again and gone back to: its channel left
   * subscribed on the old socket (the test "… both held, swapped out, closed, gone back to").
   */
  test("randomized with planned reconnects: per socket, open books subscribed where read, nothing left subscribed, each socket's hour kept, all goes", async () => {
    let swaps = 0;
    let goBacks = 0;
    let retired = 0;
    let idleAtGoBack = 0; // books idle at a go-back, waiting out their backoff
    let streamedAtGoBack = 0; // books the old socket streams though it does not serve them, at a go-back (streamedOn)
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // Seeds 1..40, and 146: a book marked as streamed on both sockets of an overlap (until s-rd26b the old one's lost).
      for (const seed of [...Array.from({ length: 40 }, (_, i) => i + 1), 146]) {
        const random = rng(seed);
        const pick = <T,>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
        const { adapter, conn, ws, answer, lifecycle, control, clock } = await openRig(["A-USDT", "B-USDT", "C-USDT"]);
        const planned = (lifecycle as unknown as { planned: PlannedReconnects }).planned;
        const plannedInternals = planned as unknown as { swapWhenSettled(c: OkxConnection): void; completeIfCarried(c: OkxConnection): void };
        type Sock = { ws: WebSocket & { sent: string[] }; sentAtMs: number[]; channels: Set<string>; answered: number; closed: boolean };
        const socks: Sock[] = [];
        const track = (w: WebSocket & { sent: string[] }): Sock => {
          const sock: Sock = { ws: w, sentAtMs: [], channels: new Set(), answered: 0, closed: false };
          const send = w.send.bind(w);
          w.send = (text: string) => {
            expect(sock.closed, `seed ${seed}: a request written on a closed socket`).toBe(false);
            sock.sentAtMs.push(clock.ms);
            send(text);
          };
          socks.push(sock);
          return sock;
        };
        const first = track(ws);
        for (const t of conn.topics) first.channels.add(t.symbol);
        const current = () => socks.find((x) => x.ws === conn.ws)!;
        // A socket neither the connection's nor its old one is closed: the venue streams nothing more on it.
        const closeGone = () => {
          for (const x of socks) {
            if (x.closed || x.ws === conn.ws || x.ws === conn.retiringWs) continue;
            x.closed = true;
            x.channels.clear();
          }
        };
        let needless = 0;
        // The next request written on the connection's socket, answered as the venue would.
        const answerNext = (acceptAll: boolean): boolean => {
          const sock = current();
          const r = sock.ws.sent[sock.answered] === undefined ? undefined : (JSON.parse(sock.ws.sent[sock.answered]!) as Req);
          if (!r) return false;
          sock.answered++;
          const refusal = acceptAll ? 0.5 : random();
          if (refusal < 0.2) {
            answer(r, "60014");
            return true;
          }
          if (r.op === "subscribe" && refusal > 1 - 0.8 / 6) {
            const arg = r.args[Math.floor(random() * r.args.length)]!;
            const msg = `Wrong URL or channel:${arg.channel},instId:${arg.instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`;
            conn.onFrameAt(JSON.stringify({ id: r.id, event: "error", code: "60018", msg, connId: "x" }), 1);
            return true;
          }
          for (const { instId } of r.args) {
            if (r.op === "subscribe") sock.channels.add(instId);
            else if (!sock.channels.delete(instId)) needless++;
          }
          answer(r);
          // Its snapshot follows the ack: a book subscribed there is LIVE.
          if (r.op === "subscribe") for (const x of conn.topics) if (x.sub === SUB_ACTIVE && r.args.some((y) => y.instId === x.symbol)) adapter.books.onLive(x, clock.ms);
          return true;
        };
        // The housekeeping round's backoff end (ConnectionLifecycle.onHousekeeping → restartAfterBackoff).
        const backoffsDue = () => {
          for (const t of conn.topics) {
            if (!t.resyncDelayed || clock.ms < t.resyncDueMs) continue;
            t.resyncDelayed = false;
            if (t.book !== BookState.LIVE) adapter.restart(t);
          }
        };
        let timersMs = clock.ms;
        const advance = (stepMs: number) => {
          clock.ms += stepMs;
          vi.advanceTimersByTime(clock.ms - timersMs);
          timersMs = clock.ms;
        };
        for (let step = 0; step < 120; step++) {
          const e = random();
          if (e < 0.2) {
            const t = pick(conn.topics.filter((x) => x.sub === SUB_ACTIVE));
            if (t) {
              t.resyncAttempt = random() < 0.5 ? 0 : 1; // a resync in a row waits out its backoff
              adapter.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
            }
          } else if (e < 0.45) {
            answerNext(false);
          } else if (e < 0.52) {
            const t = pick(conn.topics.filter((x) => x.sub !== SUB_REJECTED));
            if (t) lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED);
          } else if (e < 0.6) {
            const t = pick(conn.topics.filter((x) => x.sub === SUB_REJECTED));
            if (t) {
              lifecycle.activate(t);
              await Promise.resolve();
              await Promise.resolve();
            }
          } else if (e < 0.7) {
            advance(Math.floor(random() * HOUR_MS * 0.3));
          } else if (e < 0.8) {
            control.retriesDue(clock.ms);
            backoffsDue();
          } else if (e < 0.88) {
            // 64008: a replacement opens; it becomes the socket once the old one is settled (else it is not used yet).
            if (conn.retiringWs === null && conn.replacing === null) {
              const replacement = recordingWs();
              conn.replacing = replacement;
              conn.replacingGeneration = ++conn.genSeq;
              conn.replacingOpen = true;
              track(replacement);
              plannedInternals.swapWhenSettled(conn);
              if (conn.ws === replacement) swaps++;
              else {
                conn.replacing = null;
                conn.replacingOpen = false;
                socks.pop();
              }
            }
          } else if (e < 0.94) {
            // The overlap ends: the replacement carries every book the old socket served (the old one closed), or,
            // past the ack deadline with one not carried, the old socket is gone back to.
            if (conn.retiringWs !== null) {
              if (random() < 0.5) advance(11_000);
              plannedInternals.completeIfCarried(conn);
              if (conn.retiringWs === null) retired++;
            }
          } else if (conn.retiringWs !== null) {
            // The replacement fails: the old socket is the connection's again.
            const oldGen = conn.retiringGeneration;
            idleAtGoBack += conn.topics.filter((t) => t.sub === SUB_IDLE && t.resyncDelayed).length;
            streamedAtGoBack += conn.topics.filter((t) => t.streamedOnRetiring === oldGen && oldGen >= 0).length;
            planned.goBack(conn, "test");
            goBacks++;
          }
          closeGone();
        }
        // Settled: hours pass, every request is answered, the overlap ends (carried, or gone back to).
        for (let round = 0; round < 8; round++) {
          advance(HOUR_MS);
          control.retriesDue(clock.ms);
          backoffsDue();
          while (answerNext(true));
          if (conn.retiringWs !== null) plannedInternals.completeIfCarried(conn);
          closeGone();
        }
        for (const x of socks) {
          for (let i = 3; i < x.sentAtMs.length; i++) {
            // Times only grow: the 4th before it within the hour would make 4.
            expect(x.sentAtMs[i]! - x.sentAtMs[i - 3]!, `seed ${seed}: socket ${socks.indexOf(x)}'s 4 requests within an hour, to the one at ${x.sentAtMs[i]}`).toBeGreaterThanOrEqual(HOUR_MS);
          }
        }
        const sock = current();
        const waitsBudget = (adapter as unknown as { budgetWait: boolean[] }).budgetWait;
        const stillWaiting = [conn.retiringWs === null, conn.pending.size, conn.topics.filter((t) => waitsBudget[t.index] || t.resyncDelayed).map((t) => t.symbol), control.waitingOn(conn).map((x) => `${x.op} ${x.topics.map((t) => t.symbol)}`)];
        expect(stillWaiting, `seed ${seed}: overlap, requests out, resyncs and requests still waiting once settled`).toEqual([true, 0, [], []]);
        const openNotSubscribed = conn.topics.filter((t) => t.sub !== SUB_REJECTED && (!sock.channels.has(t.symbol) || t.sub !== SUB_ACTIVE)).map((t) => `${t.symbol}:${t.sub}`);
        expect(openNotSubscribed, `seed ${seed}: open books not subscribed on the socket that reads them once settled`).toEqual([]);
        const unread = [...sock.channels].filter((s) => conn.topics.some((t) => t.symbol === s && t.sub === SUB_REJECTED));
        const elsewhere = socks.filter((x) => x !== sock && x.channels.size > 0).map((x) => socks.indexOf(x));
        expect([unread, elsewhere, needless], `seed ${seed}: channels no open book reads, other sockets still streaming, needless unsubscribes`).toEqual([[], [], 0]);
        // And LIVE (its subscribe's snapshot): none left RESYNCING with nothing asked for it (seed 7 until s-rd26b: a
        // resync waiting for the hour at a swap, gone back to: "a resync waiting for the hour at a swap, …").
        const notLive = conn.topics.filter((t) => t.sub !== SUB_REJECTED && t.book !== BookState.LIVE).map((t) => `${t.symbol}:${t.book}`);
        expect(notLive, `seed ${seed}: open books not LIVE once settled`).toEqual([]);
        const marked = conn.topics.filter((t) => t.streamedOn === conn.generation).map((t) => `${t.symbol}:${t.sub}`);
        expect(marked, `seed ${seed}: books still marked as streamed once settled`).toEqual([]);
        conn.ws = null;
        await adapter.stop();
      }
    } finally {
      vi.useRealTimers();
    }
    // The seeds reach the planned reconnect's paths (40 seeds: 174 swaps, 73 go-backs, 29 old sockets closed as carried;
    // 17 books idle at a go-back waiting out their backoff, 18 streamed there though not served).
    expect({ swaps: swaps > 20, goBacks: goBacks > 10, retired: retired > 5, idleAtGoBack: idleAtGoBack > 0, streamedAtGoBack: streamedAtGoBack > 0 }).toEqual({ swaps: true, goBacks: true, retired: true, idleAtGoBack: true, streamedAtGoBack: true });
  });

  /**
   * B's owed subscribe held for the hour, then B's instrument closes: the held request is dropped when it comes due (B
   * given up). Listed again, B's subscribe goes, and its silence is judged as any subscribe's: until 2026-12-07 the hold's
   * mark (subscribeQueued: "silence not judged until it goes") stayed, as only a held request that went cleared it, and a
   * book whose snapshot never came stayed AWAITING_SNAPSHOT for good, never found stale, never resubscribed.
   */
  test("a subscribe held for the hour and dropped by a closure leaves no hold: reopened, its silence is judged", async () => {
    const { adapter, conn, b, requests, answer, lifecycle, control, clock } = await openRig();
    b.book = BookState.RESYNCING;
    adapter.restart(b); // B's unsubscribe (1 of 3), its subscribe owed
    conn.requestTimesMs.push(clock.ms, clock.ms); // 3 of 3
    answer(requests()[0]!); // its subscribe held
    expect(b.sub).toBe(SUB_PENDING);
    lifecycle.retire(b, StatusReason.INSTRUMENT_CLOSED);
    clock.ms += HOUR_MS;
    control.retriesDue(clock.ms); // the held subscribe dropped: B is given up
    expect(requests().map((r) => r.op)).toEqual(["unsubscribe"]);
    lifecycle.activate(b);
    await Promise.resolve();
    await Promise.resolve();
    expect(requests().slice(1).map((r) => [r.op, r.args.map((x) => x.instId)])).toEqual([["subscribe", ["B-USDT"]]]);
    expect(b.book).toBe(BookState.AWAITING_SNAPSHOT);
    clock.ms += 10 * 60_000; // no snapshot: silent well past any stale time
    (lifecycle as unknown as { judgeStale(c: OkxConnection, nowMs: number, replaying: boolean): number }).judgeStale(conn, clock.ms, false);
    expect(b.book, "a silent reopened book is found stale and resynced").toBe(BookState.STALE);
    conn.ws = null;
    await adapter.stop();
  });
});
