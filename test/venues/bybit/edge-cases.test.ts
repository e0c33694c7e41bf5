/**
 * Protocol corners the faithful simulator never produces on its own, driven by a scripted WebSocket server on
 * 127.0.0.1: deltas before the snapshot, acks without req_id, "already subscribed", unexplained batch failures.
 */
import type { Server, ServerWebSocket } from "bun";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { createBybitAdapter, type BybitAdapterOptions } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, waitFor } from "./helpers.ts";

type Handler = (ws: ServerWebSocket<unknown>, msg: { op: string; args?: string[]; req_id?: string }) => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function scripted(handler: Handler): Server<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const server = Bun.serve<unknown>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname.startsWith("/v5/public/") && srv.upgrade(req, { data: {} })) return undefined;
      return new Response("nope", { status: 404 });
    },
    websocket: { message: (ws, m) => handler(ws, JSON.parse(String(m))) },
  });
  cleanups.push(() => server.stop(true));
  return server;
}

function book(topic: string, type: "snapshot" | "delta", u: number, px = "100.5"): string {
  const sym = topic.split(".")[2];
  return `{"topic":"${topic}","type":"${type}","ts":1700000000000,"data":{"s":"${sym}","b":[["${px}","1.5"]],"a":[["101.0","2"]],"u":${u},"seq":${u * 7}},"cts":1699999999990}`;
}

async function adapterFor(server: Server<unknown>, symbols: string[], opts: Partial<BybitAdapterOptions> = {}) {
  const config = {
    venue: "bybit" as const,
    wsUrl: `ws://127.0.0.1:${server.port}/v5/public`,
    restUrl: `http://127.0.0.1:${server.port}`,
    instrumentCachePath: "",
    markets: [{ market: "linear" as const, depth: 50, symbols }],
    // Overrides: no REST needed.
    overrides: new Map(symbols.map((s) => [`linear:${s}`, { tickSize: "0.1", lotSize: "0.1" }])),
  };
  const adapter = createBybitAdapter(config, symbols.map((symbol) => ({ market: "linear", symbol, depth: 50 })), { log: silentLogger, ...opts });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  return { adapter, sink };
}

describe("adapter protocol corners", { timeout: 15_000 }, () => {
  test("deltas before the first snapshot are ignored and counted; an ack without req_id is matched by op", async () => {
    const server = scripted((ws, msg) => {
      if (msg.op !== "subscribe") return;
      const t = msg.args![0]!;
      ws.send('{"success":true,"ret_msg":"subscribe","conn_id":"4492c76f-36ec-4e93-afa9-39d7d871d5d2","op":"subscribe"}');
      ws.send(book(t, "delta", 9));
      ws.send(book(t, "snapshot", 10));
      ws.send(book(t, "delta", 11, "100.6"));
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT"]);
    await waitFor(() => sink.lastU[0] === 11, "delta 11 applied");
    expect(adapter.stats().ignoredBeforeSnapshot).toBe(1);
    expect(adapter.topicInfo(0).subscribed).toBe(true);
    expect([...sink.bids[0]!]).toEqual([
      [1005, 15],
      [1006, 15],
    ]);
  });

  test("a frame unreadable down to its topic resyncs every live book of its connection; one that names its topic, only that one", async () => {
    let snapshotsSent = 0;
    let conn: ServerWebSocket<unknown> | undefined;
    const server = scripted((ws, msg) => {
      conn = ws;
      ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
      if (msg.op === "subscribe") for (const t of msg.args!) (ws.send(book(t, "snapshot", 100)), snapshotsSent++);
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT", "BBBUSDT"]);
    await waitFor(() => sink.lastU[0] === 100 && sink.lastU[1] === 100, "both live");
    const invalidBefore = sink.invalid.length;
    conn!.send('{"topi'); // which book lost an update cannot be known
    await waitFor(() => sink.invalid.length === invalidBefore + 2, "both books invalid");
    expect(sink.invalid.slice(invalidBefore)).toEqual([
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
      { index: 1, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
    ]);
    await waitFor(() => snapshotsSent === 4 && adapter.stats().topicsLive === 2, "both resynced");
    expect(adapter.stats().unattributedParseErrors).toBe(1);
    // Not JSON and not scannable (data before topic, cut short), but it names its topic: only BBBUSDT resyncs.
    const mark = sink.invalid.length;
    conn!.send('{"type":"delta","topic":"orderbook.50.BBBUSDT","data":{"s":"BBBUSDT","b":[["100');
    await waitFor(() => sink.invalid.length === mark + 1, "one book invalid");
    expect(sink.invalid[mark]).toEqual({ index: 1, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR });
    await waitFor(() => adapter.stats().topicsLive === 2, "live again");
    expect(adapter.stats().unattributedParseErrors).toBe(1);
  });

  test("an exception while a frame is handled resyncs the book it names alone; the socket and the other book go on", async () => {
    let snapshotsSent = 0;
    let conn: ServerWebSocket<unknown> | undefined;
    const server = scripted((ws, msg) => {
      conn = ws;
      ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
      if (msg.op === "subscribe") for (const t of msg.args!) (ws.send(book(t, "snapshot", 100)), snapshotsSent++);
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT", "BBBUSDT"]);
    await waitFor(() => sink.lastU[0] === 100 && sink.lastU[1] === 100, "both live");
    // A bug past every input check: the sink throws on AAAUSDT's update 101 (the Feeder contains its own apply's
    // exceptions; one elsewhere on the frame's way is what this stands for).
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (index, u) => {
      if (index === 0 && u.venueSeq === 101) throw new Error("bug (test)");
      onBookUpdate(index, u);
    };
    const mark = sink.invalid.length;
    // Before: the exception left the socket's message handler (under Bun, the end of the process).
    conn!.send(book("orderbook.50.AAAUSDT", "delta", 101));
    conn!.send(book("orderbook.50.BBBUSDT", "delta", 101, "100.6"));
    await waitFor(() => sink.lastU[1] === 101, "the other book's next delta, on the same socket");
    await waitFor(() => sink.invalid.length > mark, "the frame's book invalid");
    expect(sink.invalid.slice(mark)).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }]);
    await waitFor(() => snapshotsSent === 3 && adapter.stats().topicsLive === 2, "resynced alone, live again");
    expect(adapter.stats().frameErrors).toBe(1);
    expect(adapter.stats().reconnects).toBe(0);
  });

  test("a snapshot lost before its topic can be read resyncs the topic waiting for it (just subscribed, or mid-resync)", async () => {
    const subscribes = new Map<string, number>();
    const lose = new Set([1, 3]); // the 1st and the 3rd snapshot of AAAUSDT arrive unreadable
    const server = scripted((ws, msg) => {
      ws.send(JSON.stringify({ success: true, ret_msg: msg.op === "ping" ? "pong" : "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
      if (msg.op !== "subscribe") return;
      for (const t of msg.args!) {
        const n = (subscribes.get(t) ?? 0) + 1;
        subscribes.set(t, n);
        if (t.includes("AAA") && lose.has(n)) {
          const snap = book(t, "snapshot", 100 * n);
          ws.send(`{"to\u0000${snap.slice(snap.indexOf('"type"'))}`); // garbled before its topic, which it no longer names
          ws.send(book(t, "delta", 100 * n + 1)); // then the deltas that follow it
          ws.send(book(t, "delta", 100 * n + 2));
        } else ws.send(book(t, "snapshot", 100 * n));
      }
    });
    // The default stale threshold (60 s at depth 50): only the parse error can get the book a snapshot in time.
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT"], { resyncBackoffBaseMs: 10, resyncBackoffMaxMs: 20 });
    await waitFor(() => adapter.topicInfo(0).state === "live", "live after the lost first snapshot");
    expect(subscribes.get("orderbook.50.AAAUSDT")).toBe(2);
    expect(adapter.stats().unattributedParseErrors).toBe(1);
    expect(sink.lastU[0]).toBe(200);
    // A resync whose snapshot is lost the same way.
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    await waitFor(() => subscribes.get("orderbook.50.AAAUSDT") === 4 && adapter.topicInfo(0).state === "live", "live after the lost resync snapshot");
    expect(adapter.stats().unattributedParseErrors).toBe(2);
    expect(sink.lastU[0]).toBe(400);
    expect(sink.deltaWithoutBook).toBe(0);
  });

  test("deltas of a topic that has no snapshot are not liveness: it goes stale and is resynced", async () => {
    const subscribes = new Map<string, number>();
    let u = 10;
    const server = scripted((ws, msg) => {
      ws.send(JSON.stringify({ success: true, ret_msg: msg.op === "ping" ? "pong" : "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
      if (msg.op === "ping") {
        // Deltas keep coming (one per ping, far more often than the stale threshold), but the snapshot never did.
        if (subscribes.get("orderbook.50.AAAUSDT") === 1) ws.send(book("orderbook.50.AAAUSDT", "delta", ++u));
        return;
      }
      if (msg.op !== "subscribe") return;
      for (const t of msg.args!) {
        const n = (subscribes.get(t) ?? 0) + 1;
        subscribes.set(t, n);
        if (n > 1) ws.send(book(t, "snapshot", 500));
      }
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT"], { staleAfterMs: () => 300, pingIntervalMs: 20, pongTimeoutMs: 5_000 });
    await waitFor(() => adapter.topicInfo(0).state === "live", "live after a stale resync");
    expect(adapter.stats().staleResyncs).toBe(1);
    expect(adapter.stats().ignoredBeforeSnapshot).toBeGreaterThan(0);
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    expect(sink.lastU[0]).toBe(500);
  });

  test("a snapshot arriving before the ack of a subscribe whose resync is delayed ends the backoff; the live book is not resubscribed", async () => {
    let clock = 1_000_000; // moved by the test only
    const ops: string[] = [];
    let pings = 0;
    let hold = false;
    let held: { ws: ServerWebSocket<unknown>; msg: { op: string; args?: string[]; req_id?: string } } | null = null;
    let conn: ServerWebSocket<unknown> | undefined;
    const ack = (ws: ServerWebSocket<unknown>, msg: { op: string; req_id?: string }) =>
      ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
    const server = scripted((ws, msg) => {
      conn = ws;
      if (msg.op === "ping") return void pings++;
      ops.push(msg.op);
      if (msg.op === "subscribe" && hold) {
        held = { ws, msg };
        return;
      }
      ack(ws, msg);
      if (msg.op === "subscribe") ws.send(book(msg.args![0]!, "snapshot", 100 * ops.length));
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT"], {
      now: () => clock,
      random: () => 0,
      resyncBackoffBaseMs: 100,
      pingIntervalMs: 1_000,
      pongTimeoutMs: 60_000,
      housekeepingMs: 5,
    });
    await waitFor(() => adapter.topicInfo(0).state === "live", "live");
    hold = true;
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // the first resync goes out at once: unsubscribe, subscribe
    await waitFor(() => held !== null, "the resync's subscribe is in flight");
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // again while the subscribe is pending: this one is delayed
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing", resyncDelayed: true, resyncDueInMs: 50 });
    // The subscribe's snapshot arrives before its ack: a fresh book, valid, with nothing left to wait for.
    hold = false;
    held!.ws.send(book("orderbook.50.AAAUSDT", "snapshot", 700));
    ack(held!.ws, held!.msg);
    await waitFor(() => adapter.topicInfo(0).state === "live" && adapter.topicInfo(0).subscribed, "live and subscribed");
    expect(adapter.topicInfo(0).resyncDelayed).toBe(false);
    // Past the old due time (and a ping interval): housekeeping has run once the ping arrives; no resubscribe.
    const pingsBefore = pings;
    clock += 1_000;
    await waitFor(() => pings > pingsBefore, "a housekeeping pass after the old due time");
    expect(ops).toEqual(["subscribe", "unsubscribe", "subscribe"]);
    expect(adapter.topicInfo(0).state).toBe("live");
    // A parse error of the live book is not ignored as if its resync were still waiting.
    const mark = sink.invalid.length;
    conn!.send('{"type":"delta","topic":"orderbook.50.AAAUSDT","data":{"s":"AAAUSDT","b":[["100');
    await waitFor(() => sink.invalid.length === mark + 1, "the book invalidated");
    expect(sink.invalid[mark]).toEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR });
    clock += 1_000;
    await waitFor(() => adapter.topicInfo(0).state === "live" && ops.length === 5, "live again after its backoff");
  });

  test("'already subscribed' marks that topic subscribed, gets it a fresh snapshot safely, and retries the rest", async () => {
    const sent: string[] = [];
    let first = true;
    const server = scripted((ws, msg) => {
      sent.push(`${msg.op}:${(msg.args ?? []).join(",")}`);
      if (msg.op === "subscribe" && first) {
        first = false;
        ws.send(`{"success":false,"ret_msg":"error:already subscribed,topic:${msg.args![0]}","req_id":"${msg.req_id}"}`);
        return;
      }
      ws.send(`{"success":true,"ret_msg":"","conn_id":"x","req_id":"${msg.req_id}","op":"${msg.op}"}`);
      if (msg.op === "subscribe") for (const t of msg.args!) ws.send(book(t, "snapshot", 5));
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT", "BBBUSDT"]);
    await waitFor(() => adapter.stats().topicsLive === 2, "both live");
    expect(adapter.stats().alreadySubscribed).toBe(1);
    // Never a second subscribe for A while it is subscribed: unsubscribe first.
    expect(sent).toEqual([
      "subscribe:orderbook.50.AAAUSDT,orderbook.50.BBBUSDT",
      "unsubscribe:orderbook.50.AAAUSDT",
      "subscribe:orderbook.50.BBBUSDT",
      "subscribe:orderbook.50.AAAUSDT",
    ]);
    expect(sink.invalid).toEqual([]);
  });

  test("'already subscribed' again and again (the unsubscribe acked without effect) waits out the topic's resync backoff, never loops", async () => {
    // Before: restartTopic at once on every answer, so unsubscribe / subscribe went back and forth at round-trip speed.
    let clock = 1_000_000;
    let refuse = true;
    const forA: string[] = [];
    const server = scripted((ws, msg) => {
      if (msg.op !== "subscribe" && msg.op !== "unsubscribe") return;
      if ((msg.args ?? []).includes("orderbook.50.AAAUSDT")) forA.push(msg.op);
      if (msg.op === "subscribe" && refuse && msg.args!.includes("orderbook.50.AAAUSDT")) {
        ws.send(`{"success":false,"ret_msg":"error:already subscribed,topic:orderbook.50.AAAUSDT","req_id":"${msg.req_id}"}`);
        return;
      }
      ws.send(`{"success":true,"ret_msg":"","conn_id":"x","req_id":"${msg.req_id}","op":"${msg.op}"}`);
      if (msg.op === "subscribe") for (const t of msg.args!) ws.send(book(t, "snapshot", 5));
    });
    const opts = { now: () => clock, random: () => 0, resyncBackoffBaseMs: 100, resyncBackoffMaxMs: 400, housekeepingMs: 5 };
    const { adapter } = await adapterFor(server, ["AAAUSDT", "BBBUSDT"], opts);
    const waiting = () => !adapter.topicInfo(0).subscribed && adapter.topicInfo(0).resyncDueInMs > 0;
    // The first answer restarts at once; the second waits (the clock stands still, so it waits for good).
    await waitFor(() => (forA.length >= 4 && waiting() && adapter.stats().topicsLive === 1) || forA.length > 20, "A waiting out its backoff");
    expect(forA).toEqual(["subscribe", "unsubscribe", "subscribe", "unsubscribe"]);
    expect(adapter.stats().alreadySubscribed).toBe(2);
    expect(adapter.stats().resyncsDelayed).toBe(1);
    clock += 50; // the backoff over (100 ms base, equal jitter at 0: 50 ms): one more try, answered the same, a longer wait
    await waitFor(() => (forA.length === 6 && waiting()) || forA.length > 20, "A's next try");
    expect(forA).toEqual(["subscribe", "unsubscribe", "subscribe", "unsubscribe", "subscribe", "unsubscribe"]);
    expect(adapter.topicInfo(0).resyncDueInMs).toBe(100);
    refuse = false;
    clock += 100;
    await waitFor(() => adapter.stats().topicsLive === 2, "A live once the venue takes its subscribe");
    expect(forA).toHaveLength(7);
  });

  test("an unexplained batch failure is narrowed down topic by topic; the culprit is sent again after a backoff, never rejected", async () => {
    // Before 2026-12-06 the culprit, refused alone for a reason that named nothing, was rejected: HALTED for good.
    let refuse = true;
    const server = scripted((ws, msg) => {
      if (msg.op === "ping") return;
      if (msg.args!.length > 1 || (refuse && msg.args![0]!.includes("BAD"))) {
        ws.send(`{"success":false,"ret_msg":"something odd","conn_id":"x","req_id":"${msg.req_id}","op":"subscribe"}`);
        if (msg.args!.length === 1) refuse = false; // passes: the next try is accepted
        return;
      }
      ws.send(`{"success":true,"ret_msg":"","conn_id":"x","req_id":"${msg.req_id}","op":"subscribe"}`);
      ws.send(book(msg.args![0]!, "snapshot", 1));
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT", "BADUSDT", "CCCUSDT"], { random: () => 0 }); // 0.5 s
    await waitFor(() => adapter.stats().topicsLive === 3, "all three live, the culprit after its backoff");
    expect(adapter.topicInfo(1).rejected).toBe(false);
    expect(adapter.stats().subscribeRejected).toBe(0);
    expect(adapter.stats().subscribeErrors).toBe(1);
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  });

  test("a server that acks and then drops us gets ever longer reconnect delays; a connection that stayed up starts over", async () => {
    let drop = true;
    let clock = 1_000_000; // the adapter's clock: moved by the test only
    let last: ServerWebSocket<unknown> | null = null;
    const server = scripted((ws, msg) => {
      if (msg.op !== "subscribe") return;
      ws.send(`{"success":true,"ret_msg":"","conn_id":"x","req_id":"${msg.req_id}","op":"subscribe"}`);
      ws.send(book(msg.args![0]!, "snapshot", 1));
      if (drop) ws.close();
      else last = ws; // every earlier connection's drop has been seen: the client reconnects only after it
    });
    const delays: number[] = [];
    const log: Logger = {
      ...silentLogger,
      warn(msg, fields) {
        if (msg.startsWith("bybit: disconnected")) delays.push(fields!.delayMs as number);
      },
      child: () => log,
    };
    const { adapter } = await adapterFor(server, ["AAAUSDT"], {
      log,
      now: () => clock,
      random: () => 0, // equal jitter at its low end: half the exponential step
      reconnectBaseMs: 20,
      reconnectMaxMs: 10_000,
      reconnectResetAfterMs: 5_000,
    });
    await waitFor(() => delays.length >= 4, "four drops after the subscribe ack");
    drop = false;
    await waitFor(() => adapter.stats().topicsLive === 1 && adapter.stats().connectionsOpen === 1 && last !== null, "a connection that stays");
    // Every drop came after a successful subscribe ack, yet the backoff kept doubling.
    const n = delays.length;
    expect(delays).toEqual(delays.map((_, i) => Math.min(5_000, 10 * 2 ** i)));
    expect(n).toBeGreaterThanOrEqual(4);
    // This connection stays up for reconnectResetAfterMs; its drop starts the backoff over.
    clock += 5_000;
    last!.close();
    await waitFor(() => delays.length === n + 1, "the next drop");
    expect(delays[n]).toBe(10);
    await waitFor(() => adapter.stats().topicsLive === 1, "live again");
  });

  test("frames the scanner hands over (data before topic) are read by the JSON path and counted as fallbacks", async () => {
    const server = scripted((ws, msg) => {
      if (msg.op !== "subscribe") return;
      const t = msg.args![0]!;
      ws.send(`{"success":true,"ret_msg":"","conn_id":"x","req_id":"${msg.req_id}","op":"subscribe"}`);
      ws.send(`{"data":{"b":[["100.5","1"]],"a":[],"u":3},"type":"snapshot","topic":"${t}","ts":1}`);
      ws.send(book(t, "delta", 4));
    });
    const { adapter, sink } = await adapterFor(server, ["AAAUSDT"]);
    await waitFor(() => sink.lastU[0] === 4, "delta applied");
    expect(adapter.stats().fallbacks).toBe(1);
    expect(adapter.stats().parseErrors).toBe(0);
  });
});
