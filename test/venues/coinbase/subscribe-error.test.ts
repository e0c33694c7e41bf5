/**
 * A level2 subscribe refused whole by an error frame (the Exchange feed's `{"type":"error","message":"Failed to
 * subscribe","reason":"X is not a valid product"}`: one bad product and nothing of the request subscribed, no
 * subscriptions event; the simulator's unknownProductReply). Before, an error frame answered no request: the next
 * subscriptions event (the heartbeats subscribe's) was taken as the level2 request's answer, none of its products
 * listed, so every product of the batch was HALTED / SUBSCRIBE_REJECTED, the good ones too. Now an error frame about
 * subscribing answers the oldest request: the product it names is rejected alone and the rest sent again; one that
 * names none splits the batch to single products, and the one refused alone is sent again after a backoff (its book
 * RESYNCING / SUBSCRIBE_REJECTED), never rejected for words that prove nothing about it. A notice that is not about
 * subscribing (the simulator's `error` fault) still answers nothing.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startCoinbaseSimulator, type CoinbaseSimOptions } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { errorAnswers, parseAckError } from "../../../src/venues/coinbase/protocol.ts";
import { coinbaseConfig, startIntoSink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

/** BTC, ETH and SOL are served; NOPE-USD (index 1) resolves through an override, so it is in the first subscribe. */
const PRODUCTS = ["BTC-USD", "NOPE-USD", "ETH-USD", "SOL-USD"];
const GOOD = [0, 2, 3];

/** PRODUCTS on a simulator serving all but NOPE-USD, started and stepped once; adapter and simulator stopped after the test. */
async function startWithNope(simOptions: Partial<CoinbaseSimOptions> & { seed: number }) {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD", "SOL-USD"], levels: 20, ...simOptions });
  const config = { ...coinbaseConfig(sim, PRODUCTS), overrides: new Map([["spot:NOPE-USD", { tickSize: "0.01", lotSize: "0.01" }]]) };
  const adapter = createCoinbaseAdapter(config, subsOf(PRODUCTS), { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
  const sink = await startIntoSink(sim, adapter, cleanup);
  sim.step(1);
  return { sim, adapter, sink };
}

async function run(reply: CoinbaseSimOptions["unknownProductReply"], heartbeatMs?: number) {
  const { sim, adapter, sink } = await startWithNope({ seed: 5, unknownProductReply: reply, heartbeatMs });
  const goodLive = () => GOOD.every((i) => sink.matches(sim, i, PRODUCTS[i]!));
  await waitFor(() => sink.invalid.length > 0 && goodLive(), "the bad product rejected and the good books live");
  sim.step(3);
  await waitFor(goodLive, "the good books go on");
  expect(sink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  expect(GOOD.map((i) => adapter.topicState(i).state)).toEqual(["live", "live", "live"]);
  expect(adapter.stats().subscribeRejected).toBe(1);
  expect(adapter.stats().errorFrames).toBeGreaterThanOrEqual(1);
  return { sim, adapter };
}

describe("coinbase: a subscribe refused by an error frame halts only the bad product", { timeout: 20_000 }, () => {
  test("the frame names the product: it alone is rejected, the rest sent again in one request", async () => {
    const { sim } = await run("error_named");
    expect(sim.stats.subscribes).toBe(2); // the refused batch, then the three good products together
  });

  test("the frame names none: the batch is split to single products; the one refused alone is sent again after a backoff, never rejected", async () => {
    // Before 2026-12-06 it was rejected (HALTED for good): words that name no product prove nothing about it.
    const { sim, adapter, sink } = await startWithNope({ seed: 5, unknownProductReply: "error" });
    const goodLive = () => GOOD.every((i) => sink.matches(sim, i, PRODUCTS[i]!));
    // The second refusal is counted when its error frame comes back, after the simulator counted the subscribe.
    await waitFor(() => goodLive() && sim.stats.subscribes >= 2 + PRODUCTS.length && (adapter.stats().subscribeErrors ?? 0) >= 2, "the good books live, the refused one asked again and refused again");
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(adapter.topicState(1).state).toBe("resyncing");
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(adapter.stats().subscribeErrors).toBeGreaterThanOrEqual(2);
  });

  test("the heartbeats subscribe names no product, so the refused product cannot refuse it: heartbeats on the first socket", async () => {
    // Before, it named the connection's products: the simulator (as the Exchange feed) refused it for NOPE-USD too,
    // and the socket went without heartbeats (its quiet channels closed after 60-90 s, the socket replaced as dead).
    const { adapter } = await run("error_named", 20);
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 3, "heartbeats");
    expect(adapter.stats().reconnects).toBe(0);
  });

  test("the product named in the frame's reason is read as the topic to reject", () => {
    expect(parseAckError("Failed to subscribe: NOPE-USD is not a valid product")).toEqual({ kind: "handler_not_found", topic: "NOPE-USD" });
    expect(parseAckError("Failed to subscribe")).toEqual({ kind: "other" });
  });
});

/**
 * An error frame that is no answer to the message at the head of the queue (s-rev40). Coinbase answers in order, but
 * an error frame can come besides a subscriptions event (the same refusal twice, or a notice) or ahead of an earlier
 * request's event. Before, any error about subscribing answered the head: here the head is BTC-USD's unsubscribe
 * (a single-book resync), taken as done, so its subscribe went out and the unsubscribe's own event (BTC-USD gone)
 * was read as that subscribe's answer: BTC-USD HALTED / SUBSCRIBE_REJECTED for good, a good product. Now an error
 * naming a product answers only the oldest unanswered subscribe naming it, and one naming none only a head of the
 * op it names ("subscribe" or "unsubscribe"); otherwise it answers nothing.
 */
describe("coinbase: an error frame answers only a request it can be the answer to", { timeout: 20_000 }, () => {
  async function resyncWithError(error: Record<string, string>) {
    // The default simulator leaves NOPE-USD out of the subscriptions event: rejected alone, the rest live.
    const { sim, adapter, sink } = await startWithNope({ seed: 7 });
    const goodLive = () => GOOD.every((i) => sink.matches(sim, i, PRODUCTS[i]!) && adapter.topicState(i).subscribed);
    await waitFor(() => sink.invalid.length === 1 && goodLive(), "NOPE-USD rejected, the good books live");
    const connects = adapter.stats().connects;
    // BTC-USD found bad by the app: its unsubscribe goes out; the error frame comes before that unsubscribe's answer.
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    expect(adapter.ingestFrame("spot", adapter.connectionOf(0), JSON.stringify({ type: "error", ...error }), 0)).toBe(true);
    sim.step(1);
    await waitFor(() => sink.invalid.length === 2 && adapter.topicState(0).subscribed && sink.matches(sim, 0, "BTC-USD"), "BTC-USD live again");
    sim.step(2);
    await waitFor(goodLive, "the good books go on");
    expect(sink.invalid).toEqual([
      { index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED },
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK },
    ]);
    expect(adapter.stats().subscribeRejected).toBe(1);
    expect(adapter.stats().connects).toBe(connects); // no reconnect: every request answered
  }

  test("an error naming a product no unanswered subscribe names (it was refused already) answers nothing", async () => {
    await resyncWithError({ message: "Failed to subscribe", reason: "NOPE-USD is not a valid product" });
  });

  test("an error about subscribing that names no product answers no unsubscribe", async () => {
    await resyncWithError({ message: "Failed to subscribe" });
  });

  test("an error naming a product answers the oldest unanswered subscribe naming it, wherever it is in the queue", () => {
    const queue = ["u1", "heartbeats", "s2", "s3"];
    const req = (id: string) =>
      ({ u1: { op: "unsubscribe", products: ["BTC-USD"] }, heartbeats: { op: "subscribe", products: [] }, s2: { op: "subscribe", products: ["ETH-USD"] }, s3: { op: "subscribe", products: ["NOPE-USD", "SOL-USD"] } })[id] as {
        op: "subscribe" | "unsubscribe";
        products: string[];
      };
    expect(errorAnswers("Failed to subscribe: NOPE-USD is not a valid product", queue, req)).toBe(3);
    expect(errorAnswers("Failed to subscribe: XRP-USD is not a valid product", queue, req)).toBe(-1);
    expect(errorAnswers("Failed to subscribe", queue, req)).toBe(-1); // the head is an unsubscribe
    expect(errorAnswers("Failed to unsubscribe", queue, req)).toBe(0);
    expect(errorAnswers("Failed to subscribe", queue.slice(1), req)).toBe(0); // the heartbeats subscribe
  });
});

/**
 * A subscribe refused for a passing reason (s-rev40). Before, an error frame naming no product refused a single
 * product's subscribe for good (HALTED / SUBSCRIBE_REJECTED), whatever it said: a rate limit or a server hiccup during
 * one book's resync lost that book until a restart (a batch was split to singles first, each more messages within the
 * same limit). Now words of a passing refusal (rate limit, too many requests, try again, temporarily, timeout,
 * service unavailable, internal error, busy) send the same request again after a backoff on the same socket, nothing rejected.
 */
describe("coinbase: a subscribe refused for a passing reason is sent again, not rejected", { timeout: 20_000 }, () => {
  test("a single book's resubscribe refused with a rate-limit error goes live again", async () => {
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 9, levels: 20 });
    const products = ["BTC-USD", "ETH-USD"];
    let adapter: ReturnType<typeof createCoinbaseAdapter> | undefined;
    let armed = false;
    // The error comes right after the resubscribe went out (the unsubscribe's answer handled), before its answer.
    const onRawFrame = (_m: string, c: string, f: string) => {
      if (!armed || !f.includes('"channel":"subscriptions"')) return;
      armed = false;
      queueMicrotask(() => adapter!.ingestFrame("spot", c, JSON.stringify({ type: "error", message: "Failed to subscribe", reason: "rate limit exceeded" }), 0));
    };
    adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, onRawFrame });
    const sink = await startIntoSink(sim, adapter, cleanup);
    sim.step(1);
    const live = (i: number) => sink.matches(sim, i, products[i]!) && adapter.topicState(i).subscribed;
    await waitFor(() => live(0) && live(1), "books live");
    armed = true;
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    await waitFor(() => !armed, "the error frame sent");
    sim.step(2);
    await waitFor(() => live(0) && live(1) && adapter.topicState(0).state === "live", "BTC-USD live and subscribed again");
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
  });

  test("the words of a passing refusal are read as a rate limit; a named product or other words are not", () => {
    for (const text of ["Failed to subscribe: rate limit exceeded", "Failed to subscribe: Too Many Requests", "Failed to subscribe: internal error, try again", "Failed to subscribe: service temporarily unavailable", "Failed to subscribe: timeout"]) {
      expect(parseAckError(text)).toEqual({ kind: "rate_limited" });
    }
    expect(parseAckError("Failed to subscribe: NOPE-USD is not a valid product")).toEqual({ kind: "handler_not_found", topic: "NOPE-USD" });
    expect(parseAckError("Failed to subscribe: level2 requires authentication")).toEqual({ kind: "other" });
    expect(parseAckError("Failed to subscribe: product unavailable")).toEqual({ kind: "other" }); // maybe the product's, for good
  });
});

/** Four products live on a simulator; the adapter's clock is held: the 8-a-second window refills only when it moves. */
async function fourLiveOnHeldClock(seed: number) {
  const products = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD"];
  const sim = await startCoinbaseSimulator({ products, levels: 5, seed });
  const clock = { nowMs: 1_000_000 };
  const adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log: silentLogger, now: () => clock.nowMs, random: () => 0 });
  const sink = await startIntoSink(sim, adapter, cleanup);
  sim.step(1);
  const live = (i: number) => sink.matches(sim, i, products[i]!) && adapter.topicState(i).subscribed;
  await waitFor(() => products.every((_, i) => live(i)), "books live");
  return { products, sim, clock, adapter, live };
}

/**
 * An error frame while requests wait for the pacing budget (8 messages a second per IP). `expectedAcks` lists every
 * request encoded, queued ones too. Before, an error naming a product matched a queued subscribe naming it: the
 * adapter took it off `expectedAcks` though the common layer (rightly) ignored the answer, as it had not gone out; once
 * written, its own subscriptions event was read as the next request's answer (products missing from it rejected for
 * good), and its own request was never answered. Now only a written request can be answered by an error frame.
 */
describe("coinbase: an error frame never answers a request still queued for pacing", { timeout: 20_000 }, () => {
  test("a repeated refusal naming a queued subscribe's product leaves it queued; answers stay in step", async () => {
    const { products, sim, clock, adapter, live } = await fourLiveOnHeldClock(11);
    const internals = adapter as unknown as { conns: { outbox: unknown[]; expectedAcks: string[]; pending: Map<string, unknown> }[]; control: { flush(): void } };
    const conn = internals.conns[0]!;
    // Two messages so far (level2, heartbeats); four resyncs are four unsubscribes, then four subscribes: two go, two wait.
    for (let i = 0; i < products.length; i++) adapter.requestResync(i, StatusReason.CROSSED_BOOK);
    await waitFor(() => conn.outbox.length === 2 && live(0) && live(1), "two resubscribes answered, two queued");
    expect(conn.expectedAcks).toHaveLength(2);
    // A repeat of a refusal of SOL-USD (the third product, whose subscribe is queued).
    const refusal = JSON.stringify({ type: "error", message: "Failed to subscribe", reason: "SOL-USD is not a valid product" });
    expect(adapter.ingestFrame("spot", adapter.connectionOf(2), refusal, 0)).toBe(true);
    expect(conn.expectedAcks).toHaveLength(2); // before: 1, the queued SOL-USD subscribe taken as answered
    clock.nowMs += 1_000;
    internals.control.flush();
    sim.step(1);
    await waitFor(() => conn.pending.size === 0 && products.every((_, i) => live(i)), "every book live again, every request answered");
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(conn.expectedAcks).toHaveLength(0);
  });
});

/**
 * A subscriptions event (a repeat, in the socket's sequence) while every unanswered request waits for the pacing
 * budget answers none of them (CoinbaseAdapter.onSubscriptions: writtenAcks 0). Without that guard it took the oldest
 * queued subscribe off `expectedAcks` though the common layer ignored the answer (not written): that request's own
 * event then answered the next one, and the last answer found none (its request waited for the ack deadline).
 */
describe("coinbase: a subscriptions event never answers a request still queued for pacing", { timeout: 20_000 }, () => {
  test("a repeated subscriptions event while both resubscribes are queued leaves them queued; answers stay in step", async () => {
    const { products, sim, clock, adapter, live } = await fourLiveOnHeldClock(12);
    type SimConn = { data: { seq: number } };
    const simConns = (sim as unknown as { conns: Set<SimConn> }).conns;
    const internals = adapter as unknown as { conns: { outbox: unknown[]; expectedAcks: string[]; pending: Map<string, unknown>; lastSeq: number }[]; control: { flush(): void } };
    const conn = internals.conns[0]!;
    for (let i = 0; i < products.length; i++) adapter.requestResync(i, StatusReason.CROSSED_BOOK);
    // Every sim frame so far taken (none in flight), so the injected event can have the next sequence_num.
    const simConn = [...simConns][0]!;
    await waitFor(() => conn.outbox.length === 2 && live(0) && live(1) && simConn.data.seq === conn.lastSeq + 1, "two resubscribes answered, two queued");
    expect(conn.expectedAcks).toHaveLength(2);
    const repeat = `{"channel":"subscriptions","client_id":"","timestamp":"2026-12-07T00:00:00Z","sequence_num":${conn.lastSeq + 1},"events":[${JSON.stringify({ subscriptions: { level2: products, heartbeats: ["heartbeats"] } })}]}`;
    simConn.data.seq++; // the sim's next frame follows the injected one
    expect(adapter.ingestFrame("spot", adapter.connectionOf(2), repeat, 1)).toBe(true);
    expect(conn.lastSeq).toBe(simConn.data.seq - 1); // taken in sequence, not as a gap
    expect(conn.expectedAcks).toHaveLength(2); // before: 1, the queued SOL-USD subscribe taken as answered
    clock.nowMs += 1_000;
    internals.control.flush();
    sim.step(1);
    await waitFor(() => conn.pending.size === 0 && products.every((_, i) => live(i)), "every book live again, every request answered");
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(conn.expectedAcks).toHaveLength(0);
  });
});
