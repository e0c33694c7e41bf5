/**
 * A level2 subscribe's answer comes after the snapshots of its products [F2]: for many deep books on a slow link
 * that can be later than the ack deadline from the write. Before, the deadline counted from the write alone, so a
 * subscribe whose snapshots were still arriving was failed at 10 s (ackTimeoutMs) and its connection reconnected,
 * sending the same subscribe again: a connection whose snapshots take longer than that never got its answer, its
 * books LIVE and resynced over and over. Now each snapshot of a product whose subscribe is unanswered restarts that
 * subscribe's deadline; one that stops coming is still failed a deadline after its last snapshot. A hand-driven
 * server on 127.0.0.1 (the simulator answers at once) and the adapter's injected clock; the simulator serves the REST.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { ServerWebSocket } from "bun";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { UNSUBSCRIBE_AGAIN_MAX, type CoinbaseAdapterOptions } from "../../../src/venues/coinbase/adapter.ts";
import { captureLog } from "../../support/capture-log.ts";
import { coinbaseConfig, countRounds, Sink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()?.catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];
const TS = "2026-12-07T00:00:00.000000Z";
const ACK_TIMEOUT_MS = 1_000;

const snapshot = (seq: number, product: string) =>
  `{"channel":"l2_data","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"${TS}","price_level":"100.00","new_quantity":"1.5"},{"side":"offer","event_time":"${TS}","price_level":"101.00","new_quantity":"2"}]}]}`;
const heartbeatFrame = (seq: number, counter: number) =>
  `{"channel":"heartbeats","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"current_time":"${TS}","heartbeat_counter":${counter}}]}`;
const subscriptions = (seq: number, level2: string[], heartbeats: boolean) =>
  `{"channel":"subscriptions","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"subscriptions":{"level2":${JSON.stringify(level2)}${heartbeats ? ',"heartbeats":["heartbeats"]' : ""}}}]}`;

async function setup(products = PRODUCTS, opening = 2, log: Logger = silentLogger, extra: Partial<CoinbaseAdapterOptions> = {}, startMs = 1_000_000) {
  const sim = await startCoinbaseSimulator({ products, levels: 5, seed: 4 }); // its REST only
  const sockets: ServerWebSocket<unknown>[] = [];
  const received: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
    websocket: { open: (ws) => void sockets.push(ws), message: (_ws, m) => void received.push(String(m)) },
  });
  let nowMs = startMs;
  // A round every 5 ms of real time, on the injected clock: deadlines move only as the test moves the clock.
  const adapter = createCoinbaseAdapter(coinbaseConfig({ wsUrl: `ws://127.0.0.1:${server.port}`, restUrl: sim.restUrl }, products), subsOf(products), {
    log,
    now: () => nowMs,
    housekeepingMs: 5,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    maxProductsPerConnection: products.length, // one connection: its level2 subscribes in batches of 100
    ...extra,
  });
  cleanup.push(async () => {
    await adapter.stop();
    server.stop(true);
    await sim.stop();
  });
  const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
  adapter.start(sink);
  await waitFor(() => received.length === opening, "the level2 and heartbeats subscribes");
  // The heartbeats subscribe first (it proves the socket alive while the level2 one waits for the budget), then level2.
  if (opening >= 2) {
    expect(received.slice(0, 2).map((r) => JSON.parse(r))).toEqual([
      expect.objectContaining({ type: "subscribe", channel: "heartbeats" }),
      expect.objectContaining({ type: "subscribe", channel: "level2", product_ids: products.slice(0, 100) }),
    ]);
  }
  const ws = sockets[0]!;
  /** Housekeeping rounds seen (the adapter's per-connection hook): at least two after a clock move, one judged it. */
  const rounds = countRounds(adapter);
  const twoRounds = async () => {
    const from = rounds.n;
    await waitFor(() => rounds.n >= from + 2, "two housekeeping rounds");
    expect(adapter.stats().ackTimeouts).toBe(0); // before: 1 once the clock was a deadline past the write
  };
  return { adapter, sink, ws, sockets, received, twoRounds, advance: (ms: number) => void (nowMs += ms) };
}

describe("coinbase: a subscribe whose snapshots are still coming is not failed at its ack deadline", { timeout: 20_000 }, () => {
  test("snapshots keep coming past the deadline from the write: no ack timeout, the answer taken, the books LIVE on the first socket; one that stops, unanswered, fails a deadline after its last snapshot", async () => {
    const { adapter, sink, ws, sockets, received, twoRounds, advance } = await setup();
    // Each snapshot 0.6 of the deadline after the one before: the answer comes 2.4 deadlines after the write.
    ws.send(snapshot(0, "BTC-USD"));
    // Each frame taken before the clock moves: a round between the move and the frame's arrival would judge the deadline
    // without it (CI saw ackTimeouts 1 under load).
    await waitFor(() => sink.log.length === 1, "BTC-USD's snapshot");
    advance(600);
    await twoRounds();
    ws.send(snapshot(1, "ETH-USD"));
    await waitFor(() => sink.log.length === 2, "ETH-USD's snapshot");
    advance(600);
    await twoRounds();
    ws.send(snapshot(2, "SOL-USD"));
    await waitFor(() => sink.log.length === 3, "SOL-USD's snapshot");
    advance(600);
    await twoRounds();
    ws.send(subscriptions(3, PRODUCTS, false));
    ws.send(subscriptions(4, PRODUCTS, true));
    await waitFor(() => PRODUCTS.every((_, i) => adapter.topicState(i).subscribed === true), "the answer taken");
    advance(600);
    await twoRounds();
    expect(adapter.stats().ackTimeouts).toBe(0);
    expect(adapter.stats().reconnects).toBe(0);
    expect(sockets).toHaveLength(1);
    expect(sink.invalid).toEqual([]);
    expect(PRODUCTS.map((_, i) => adapter.topicState(i))).toEqual(PRODUCTS.map(() => expect.objectContaining({ state: "live", subscribed: true })));

    // The deadline still holds: BTC-USD resubscribed alone, its snapshot sent and no answer after it.
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    await waitFor(() => received.length === 3, "the unsubscribe");
    ws.send(subscriptions(5, PRODUCTS.slice(1), true));
    await waitFor(() => received.length === 4, "the subscribe again");
    expect(JSON.parse(received[3]!)).toMatchObject({ type: "subscribe", channel: "level2", product_ids: ["BTC-USD"] });
    ws.send(snapshot(6, "BTC-USD"));
    await waitFor(() => adapter.topicState(0).state === "live", "BTC-USD's new snapshot");
    advance(ACK_TIMEOUT_MS + 1);
    await waitFor(() => adapter.stats().ackTimeouts === 1, "the ack timeout a deadline after the last snapshot");
  });

  test("a subscribe never answered while one product's snapshot comes again and again is failed: each product's first snapshot alone restarts its deadline", async () => {
    // Before, every snapshot restarted the deadline: a venue repeating snapshots and never answering kept the subscribe
    // unanswered for ever (no ack timeout, no reconnect). Now a deadline after the last product's first snapshot.
    const { adapter, ws, advance } = await setup();
    const rounds = countRounds(adapter);
    let seq = 0;
    ws.send(snapshot(seq++, "BTC-USD"));
    await waitFor(() => adapter.topicState(0).state === "live", "BTC-USD's snapshot");
    for (let i = 0; i < 4; i++) {
      advance(ACK_TIMEOUT_MS * 0.6);
      const from = rounds.n;
      await waitFor(() => rounds.n >= from + 2, "two housekeeping rounds");
      ws.send(snapshot(seq++, "BTC-USD"));
      await waitFor(() => adapter.stats().messages === seq || adapter.stats().ackTimeouts > 0, "BTC-USD's snapshot again");
    }
    // 2.4 deadlines after the first snapshot, 0.6 after the last: failed (before: 0, and never).
    await waitFor(() => adapter.stats().ackTimeouts === 1, "the ack timeout a deadline after BTC-USD's first snapshot");
  });

  test("the heartbeats subscribe's answer coming first (the level2 answer after its snapshots) answers the heartbeats subscribe: no product halted", async () => {
    // Before, events were matched to requests by order alone: this one (listing heartbeats, no product) was taken for
    // the level2 subscribe's answer and every product of the connection was HALTED / subscribe_rejected, their
    // snapshots then ignored; the level2 answer was taken for the heartbeats subscribe's.
    const { adapter, sink, ws, sockets, twoRounds } = await setup();
    ws.send(subscriptions(0, [], true));
    ws.send(snapshot(1, "BTC-USD"));
    ws.send(snapshot(2, "ETH-USD"));
    ws.send(snapshot(3, "SOL-USD"));
    ws.send(subscriptions(4, PRODUCTS, true));
    await waitFor(() => adapter.stats().messages === 5, "the five frames");
    await twoRounds();
    expect(sink.invalid).toEqual([]);
    expect(PRODUCTS.map((_, i) => adapter.topicState(i))).toEqual(PRODUCTS.map(() => expect.objectContaining({ state: "live", subscribed: true })));
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(sockets).toHaveLength(1);
  });

  test("a later level2 batch's answer coming first (each follows its batch's snapshots) answers that batch: the earlier batch's products not halted", async () => {
    // Over 100 products on one connection go in two subscribes. Before, events were matched by order alone: the second
    // batch's answer, listing only its product, was taken for the first batch's and its 100 products were HALTED /
    // subscribe_rejected; now an answer goes to the oldest written request whose products it lists.
    const products = Array.from({ length: 101 }, (_, i) => `T${i}-USD`);
    const { adapter, sink, ws, sockets, received, twoRounds } = await setup(products, 3);
    expect(JSON.parse(received[2]!)).toMatchObject({ type: "subscribe", channel: "level2", product_ids: ["T100-USD"] });
    let seq = 0;
    ws.send(snapshot(seq++, "T100-USD"));
    ws.send(subscriptions(seq++, ["T100-USD"], false));
    for (const p of products.slice(0, 100)) ws.send(snapshot(seq++, p));
    ws.send(subscriptions(seq++, products, false));
    ws.send(subscriptions(seq++, products, true));
    await waitFor(() => adapter.stats().messages === seq, "every frame");
    await twoRounds();
    expect(adapter.stats().subscribeRejected).toBe(0); // before: 100
    expect(sink.invalid).toEqual([]);
    expect(products.map((_, i) => adapter.topicState(i))).toEqual(products.map(() => expect.objectContaining({ state: "live", subscribed: true })));
    expect(sockets).toHaveLength(1);
  });
});

describe("coinbase: an unsubscribe answered by a subscriptions event that still lists some of its products", { timeout: 20_000 }, () => {
  test("the products gone are done at once; the closed ones still listed are unsubscribed again in one request, no ack deadline waited for, no reconnect", async () => {
    // The answer to an unsubscribe lists what remains subscribed: a product still listed was not unsubscribed. Before,
    // the products gone were held until the rest were answered, which never came (the event was taken): the request
    // waited out its ack deadline and the connection was failed, every book on it resynced (ackTimeouts 1).
    const products = [...PRODUCTS, "ADA-USD"];
    const { adapter, sink, ws, sockets, received, twoRounds, advance } = await setup(products);
    let seq = 0;
    for (const p of products) ws.send(snapshot(seq++, p));
    ws.send(subscriptions(seq++, products, false));
    ws.send(subscriptions(seq++, products, true));
    await waitFor(() => products.every((_, i) => adapter.topicState(i).state === "live" && adapter.topicState(i).subscribed), "every book live");
    // Three products closed at once (the listing's path: instrument-closed.test.ts): one unsubscribe names them all.
    const lifecycle = (adapter as unknown as { lifecycle: { retireAll(ts: readonly unknown[], r: StatusReason): void } }).lifecycle;
    const topics = (adapter as unknown as { topics: unknown[] }).topics;
    lifecycle.retireAll(topics.slice(0, 3), StatusReason.INSTRUMENT_CLOSED);
    await waitFor(() => received.length === 3, "the unsubscribe");
    expect(JSON.parse(received[2]!)).toMatchObject({ type: "unsubscribe", channel: "level2", product_ids: products.slice(0, 3) });
    // BTC-USD gone; ETH-USD and SOL-USD still listed: unsubscribed again, together (the event names them).
    ws.send(subscriptions(seq++, products.slice(1), true));
    await waitFor(() => received.length === 4, "the unsubscribe of the products still listed");
    expect(JSON.parse(received[3]!)).toMatchObject({ type: "unsubscribe", channel: "level2", product_ids: ["ETH-USD", "SOL-USD"] });
    ws.send(subscriptions(seq++, ["ADA-USD"], true));
    await waitFor(() => adapter.stats().messages === seq, "the answers");
    advance(ACK_TIMEOUT_MS + 1);
    await twoRounds(); // no ack timeout (before: 1, a deadline after the first unsubscribe)
    expect(adapter.stats().reconnects).toBe(0);
    expect(sockets).toHaveLength(1);
    expect(received).toHaveLength(4);
    expect(adapter.topicState(3)).toEqual(expect.objectContaining({ state: "live", subscribed: true }));
    expect(sink.invalid.map((x) => [x.index, x.reason])).toEqual([0, 1, 2].map((i) => [i, StatusReason.INSTRUMENT_CLOSED]));
  });

  /** Every book LIVE on one socket, then products `closed` (indexes) closed by the listing's path: one unsubscribe names them. */
  async function closeLive(products: string[], closed: number[], log: Logger) {
    const rig = await setup(products, 2, log);
    let seq = 0;
    for (const p of products) rig.ws.send(snapshot(seq++, p));
    rig.ws.send(subscriptions(seq++, products, false));
    rig.ws.send(subscriptions(seq++, products, true));
    await waitFor(() => products.every((_, i) => rig.adapter.topicState(i).state === "live" && rig.adapter.topicState(i).subscribed), "every book live");
    const lifecycle = (rig.adapter as unknown as { lifecycle: { retireAll(ts: readonly unknown[], r: StatusReason): void } }).lifecycle;
    const topics = (rig.adapter as unknown as { topics: unknown[] }).topics;
    lifecycle.retireAll(closed.map((i) => topics[i]), StatusReason.INSTRUMENT_CLOSED);
    await waitFor(() => rig.received.length === 3, "the unsubscribe");
    expect(JSON.parse(rig.received[2]!)).toMatchObject({ type: "unsubscribe", channel: "level2", product_ids: closed.map((i) => products[i]) });
    return { ...rig, seq: () => seq++ };
  }

  test("a lone closed product still listed is unsubscribed again, at most UNSUBSCRIBE_AGAIN_MAX times, then a warning names it", async () => {
    // Before, it was taken as done at the first such answer: never sent again, the channel left subscribed at the venue.
    const { log, lines } = captureLog();
    const { adapter, sink, ws, sockets, received, twoRounds, seq } = await closeLive(PRODUCTS, [0], log);
    for (let n = 1; n <= UNSUBSCRIBE_AGAIN_MAX + 1; n++) {
      ws.send(subscriptions(seq(), PRODUCTS, true)); // BTC-USD still listed
      const sent = 3 + Math.min(n, UNSUBSCRIBE_AGAIN_MAX);
      await waitFor(() => adapter.stats().messages === 5 + n && received.length === sent, `answer ${n}`);
      await twoRounds();
      expect(received).toHaveLength(sent); // before: 3, no unsubscribe sent again
      expect(JSON.parse(received.at(-1)!)).toMatchObject({ type: "unsubscribe", channel: "level2", product_ids: ["BTC-USD"] });
    }
    const givenUp = lines.filter((l) => l.msg.includes("still subscribed at the venue"));
    expect(givenUp).toEqual([expect.objectContaining({ level: "warn", fields: expect.objectContaining({ products: ["BTC-USD"] }) })]);
    expect(adapter.stats().reconnects).toBe(0);
    expect(sockets).toHaveLength(1);
    expect(sink.invalid.map((x) => [x.index, x.reason])).toEqual([[0, StatusReason.INSTRUMENT_CLOSED]]);
    expect(adapter.topicState(0)).toEqual(expect.objectContaining({ state: "halted", rejected: true }));
    expect([1, 2].map((i) => adapter.topicState(i))).toEqual([1, 2].map(() => expect.objectContaining({ state: "live", subscribed: true })));
  });

  test("each answer still listing closed products is counted on one rate-limited line, not a warning each", async () => {
    // Before, every such answer logged its own warning (the common layer's "refused as a whole; sending it again in
    // halves" / "unsubscribe rejected"): a venue that kept listing them logged one per answer.
    const { log, lines } = captureLog();
    const products = [...PRODUCTS, "ADA-USD"];
    const { adapter, ws, received, twoRounds, seq } = await closeLive(products, [0, 1, 2], log);
    for (let n = 1; n <= UNSUBSCRIBE_AGAIN_MAX + 1; n++) {
      ws.send(subscriptions(seq(), products, true));
      await waitFor(() => adapter.stats().messages === 6 + n, `answer ${n}`);
      await twoRounds();
    }
    const aboutUnsubscribes = lines.filter((l) => /unsubscri/.test(l.msg) && !l.msg.includes("still subscribed at the venue"));
    expect(aboutUnsubscribes).toEqual([expect.objectContaining({ level: "warn", fields: expect.objectContaining({ count: 1 }) })]); // before: one an answer
    await waitFor(() => received.length === 3 + UNSUBSCRIBE_AGAIN_MAX, "the unsubscribes again");
    expect(received.slice(3).map((r) => JSON.parse(r).product_ids)).toEqual(Array.from({ length: UNSUBSCRIBE_AGAIN_MAX }, () => products.slice(0, 3)));
  });
});

describe("coinbase: a new socket's subscribes waiting for the message budget", { timeout: 20_000 }, () => {
  test("the heartbeats subscribe goes first: a socket whose books are quiet is not taken for dead while its level2 subscribe waits; silent 7 s after heartbeats stop, it is", async () => {
    // One of 64 workers sends one message per ~10 s (8 a second per IP), so a new socket's second subscribe goes ~10 s
    // after its first. Before, level2 went first: its books, quiet after their snapshots, sent nothing, heartbeats not
    // asked yet, and the socket was failed as dead at 7 s (deadConnectionMs), its books resynced, on every new socket.
    const periodMs = 64 * 156; // common/budgets.ts splitBudget: 8 a second, 1/64 of it
    // Started where this worker's message slot (every periodMs) and its products request's (every 8 s) both begin.
    const { adapter, sink, ws, sockets, received, twoRounds, advance } = await setup(PRODUCTS, 1, silentLogger, { budgetShare: 1 / 64, maxConnectsPerWindow: 8, connectWindowMs: 1_000 }, 1_248_000);
    let seq = 0;
    let counter = 0;
    let answered = 0;
    /** The hand-driven venue: each subscribe answered (level2: snapshots first), a heartbeat a second once asked. */
    const serve = (heartbeat: boolean) => {
      for (; answered < received.length; answered++) {
        const m = JSON.parse(received[answered]!) as { channel: string };
        if (m.channel === "level2") for (const p of PRODUCTS) ws.send(snapshot(seq++, p));
        ws.send(subscriptions(seq++, m.channel === "level2" ? PRODUCTS : [], true));
      }
      if (heartbeat && received.some((r) => JSON.parse(r).channel === "heartbeats")) ws.send(heartbeatFrame(seq++, counter++));
    };
    for (let ms = 0; ms < periodMs; ms += 500) {
      serve(ms % 1_000 === 0);
      await waitFor(() => adapter.stats().messages === seq, "the frames");
      advance(Math.min(500, periodMs - ms));
      await twoRounds();
    }
    expect(adapter.stats().deadConnections ?? 0).toBe(0); // before: 1, at 7 s
    expect(sockets).toHaveLength(1);
    expect(received.map((r) => JSON.parse(r).channel)).toEqual(["heartbeats"]);
    // The next slot: the level2 subscribe (the outbox's flush timer is real time, set for the injected clock: by hand).
    (adapter as unknown as { control: { flush(): void } }).control.flush();
    await waitFor(() => received.length === 2, "the level2 subscribe in the next slot");
    serve(false);
    await waitFor(() => PRODUCTS.every((_, i) => adapter.topicState(i).state === "live" && adapter.topicState(i).subscribed), "every book live");
    expect(sink.invalid).toEqual([]);
    // Heartbeats stop: dead 7 s after the last frame, as ever.
    await twoRounds(); // the frames seen (the rule counts from the round that sees them)
    advance(7_001);
    await waitFor(() => (adapter.stats().deadConnections ?? 0) === 1, "the socket failed as dead");
    expect(sink.invalid.map((x) => x.reason)).toEqual(PRODUCTS.map(() => StatusReason.DISCONNECTED));
  });
});
