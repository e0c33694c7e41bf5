/**
 * What a separate Bybit-protocol exchange and a fuzzer found (issue #12 A), each against a scripted WebSocket
 * server on 127.0.0.1: an inexact sequence literal, a garbled topic, a duplicate delta, a silent server.
 */
import type { Server, ServerWebSocket } from "bun";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { createBybitAdapter, type BybitAdapterOptions } from "../../../src/venues/bybit/index.ts";
import { housekeepingRounds } from "../../support/housekeeping-rounds.ts";
import { allResolved, RecordingSink, waitFor } from "./helpers.ts";

type Msg = { op: string; args?: string[]; req_id?: string };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A server that acks every request, answers pings while `answerPings`, and sends each subscribed topic a snapshot u=100. */
function server(state: { answerPings: boolean; conns: ServerWebSocket<unknown>[]; pings: number }): Server<unknown> {
  const srv = Bun.serve<unknown>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, s) {
      if (new URL(req.url).pathname.startsWith("/v5/public/") && s.upgrade(req, { data: {} })) return undefined;
      return new Response("nope", { status: 404 });
    },
    websocket: {
      open: (ws) => void state.conns.push(ws),
      message(ws, m) {
        const msg = JSON.parse(String(m)) as Msg;
        if (msg.op === "ping") {
          state.pings++;
          if (state.answerPings) ws.send(JSON.stringify({ success: true, ret_msg: "pong", conn_id: "c", req_id: msg.req_id ?? "", op: "ping" }));
          return;
        }
        ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
        if (msg.op === "subscribe") for (const t of msg.args!) ws.send(book(t, "snapshot", "100"));
      },
    },
  });
  cleanups.push(() => srv.stop(true));
  return srv;
}

function book(topic: string, type: "snapshot" | "delta", u: string, px = "100.5"): string {
  const sym = topic.split(".")[2];
  return `{"topic":"${topic}","type":"${type}","ts":1700000000000,"data":{"s":"${sym}","b":[["${px}","1.5"]],"a":[["101.0","2"]],"u":${u},"seq":7},"cts":1699999999990}`;
}

async function adapterFor(srv: Server<unknown>, symbols: string[], opts: Partial<BybitAdapterOptions> = {}) {
  const config = {
    venue: "bybit" as const,
    wsUrl: `ws://127.0.0.1:${srv.port}/v5/public`,
    restUrl: `http://127.0.0.1:${srv.port}`,
    instrumentCachePath: "",
    markets: [{ market: "linear" as const, depth: 50, symbols }],
    overrides: new Map(symbols.map((s) => [`linear:${s}`, { tickSize: "0.1", lotSize: "0.1" }])),
  };
  const adapter = createBybitAdapter(config, symbols.map((symbol) => ({ market: "linear", symbol, depth: 50 })), { log: silentLogger, ...opts });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  await waitFor(() => symbols.every((_, i) => sink.lastU[i] === 100), "every book live");
  return { adapter, sink };
}

describe("Bybit findings", { timeout: 15_000 }, () => {
  test('"u":100.99999999999999999 is a malformed frame, not u = 101 (a sequence number is an integer literal)', async () => {
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT"]);
    state.conns[0]!.send(book("orderbook.50.AAAUSDT", "delta", "100.99999999999999999", "100.6"));
    await waitFor(() => sink.invalid.length > 0, "the frame rejected");
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR });
    expect(adapter.stats()["parseErrors.bad_number"]).toBe(1);
    // 1.01e2 and 101.0 are the same lie.
    await waitFor(() => adapter.stats().topicsLive === 1, "live again");
    state.conns[0]!.send(book("orderbook.50.AAAUSDT", "delta", "1.01e2", "100.6"));
    await waitFor(() => adapter.stats()["parseErrors.bad_number"] === 2, "1.01e2 rejected");
    expect(sink.lastU[0]).toBe(100);
  });

  test("a frame with a garbled topic is a parse error that resyncs the books of its connection, not ignored while they stay LIVE", async () => {
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT", "BBBUSDT"]);
    state.conns[0]!.send(book("orderbook.50.AAAUSDX", "delta", "101", "100.6")); // AAAUSDT's update, topic garbled
    await waitFor(() => sink.invalid.length === 2, "both books invalid");
    expect(sink.invalid).toEqual([
      { index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
      { index: 1, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR },
    ]);
    expect(adapter.stats().unknownTopic).toBe(1);
    expect(adapter.stats().parseErrors).toBe(0); // counted once, as an unknown topic (until s-rd19d: 1, in both)
    await waitFor(() => adapter.stats().topicsLive === 2, "both resynced");
  });

  test("a duplicate delta (u = last) is ignored and counted: the book stays LIVE and takes the next delta", async () => {
    // An older u on the same socket is a venue reset, not a duplicate (reset-socket.test.ts); from the other socket of
    // a planned reconnect's overlap it is ignored as this one is.
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT"]);
    const ws = state.conns[0]!;
    ws.send(book("orderbook.50.AAAUSDT", "delta", "101", "100.6"));
    ws.send(book("orderbook.50.AAAUSDT", "delta", "101", "100.7")); // the same u again
    ws.send(book("orderbook.50.AAAUSDT", "delta", "102", "100.9"));
    await waitFor(() => sink.lastU[0] === 102, "delta 102 applied");
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().duplicates).toBe(1);
    expect(adapter.stats().gaps).toBe(0);
    expect([...sink.bids[0]!.keys()].sort()).toEqual([1005, 1006, 1009]);
  });

  test("a silent server is detected within 8 s by default (no data, no pong), while a quiet one that answers pings stays up", async () => {
    let nowMs = 1_000_000;
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    // The adapter's clock is driven by the test, one housekeeping round (every 10 ms of real time) at each step.
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT"], { now: () => nowMs, housekeepingMs: 10 });
    const afterHousekeeping = housekeepingRounds(adapter);
    const conn = (adapter as unknown as { conns: { pongDeadlineMs: number }[] }).conns[0]!;
    const advance = async (ms: number) => {
      const target = nowMs + ms;
      while (nowMs < target) {
        nowMs = Math.min(target, nowMs + 250);
        await afterHousekeeping(1); // a round at this time (a sleep may hold none, and the clock would skip it)
        // A ping that round sent is answered before the clock moves on: the pong takes real time, the deadline is
        // on the test's clock. (Counting the server's pings misses one still on its way.)
        if (state.answerPings) await waitFor(() => conn.pongDeadlineMs === 0, "pong read");
      }
    };
    // Quiet but alive: probed by a ping after half the dead time, and its pong keeps it up.
    await advance(7_900);
    expect(state.pings).toBeGreaterThan(0);
    expect(adapter.stats().reconnects).toBe(0);
    expect(sink.invalid).toEqual([]);
    // Silent: nothing at all, pings unanswered. Dead within 8 s of the last frame.
    state.answerPings = false;
    await advance(7_900);
    await waitFor(() => adapter.stats().reconnects === 1, "dead connection replaced");
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
    expect(adapter.stats().deadConnections + adapter.stats().pongTimeouts).toBe(1);
  });
});

describe("the adapter's clock stepped back", { timeout: 20_000 }, () => {
  test("an hour's step back of the clock does not hide a connection that then goes silent", async () => {
    // The adapter's default clock is the wall clock. Stepped back (an NTP step, a resumed VM), every time the
    // deadlines count from lay an hour in the future: no probe was sent, no deadline passed, and a dead connection kept
    // its books LIVE for the hour (s-rev25's report). Now such times are brought back to the clock.
    let nowMs = 10_000_000;
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT"], { now: () => nowMs, housekeepingMs: 10 });
    const afterHousekeeping = housekeepingRounds(adapter);
    await afterHousekeeping(2);
    nowMs -= 3_600_000;
    state.answerPings = false;
    const target = nowMs + 7_900;
    while (nowMs < target) {
      nowMs = Math.min(target, nowMs + 250);
      await afterHousekeeping(1);
    }
    await waitFor(() => adapter.stats().reconnects === 1, "the silent connection replaced within 8 s of the step");
    expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  });

  test("a resync waiting out its backoff when the clock steps back an hour resubscribes within its backoff, not the hour", async () => {
    // The topic's resync backoff (resyncDueMs) counts on the same clock: stepped back, the due time lay an hour ahead
    // and the book stayed unsubscribed, down, for the hour. Now it is due at most its own wait from the step.
    let nowMs = 10_000_000;
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter } = await adapterFor(server(state), ["AAAUSDT"], { now: () => nowMs, housekeepingMs: 10 });
    const afterHousekeeping = housekeepingRounds(adapter);
    // The first bad frame resyncs at once; the second, the book not live for long in between, waits out the backoff.
    state.conns[0]!.send(book("orderbook.50.AAAUSDT", "delta", "1.01e2", "100.6"));
    await waitFor(() => adapter.stats()["parseErrors.bad_number"] === 1 && adapter.stats().topicsLive === 1, "live again after the first resync");
    state.conns[0]!.send(book("orderbook.50.AAAUSDT", "delta", "1.01e2", "100.6"));
    await waitFor(() => adapter.stats().resyncsDelayed === 1, "the second resync waits out its backoff");
    expect(adapter.stats().topicsLive).toBe(0);
    nowMs -= 3_600_000;
    const target = nowMs + 1_000; // the first backoff step is at most 250 ms
    while (nowMs < target) {
      nowMs = Math.min(target, nowMs + 250);
      await afterHousekeeping(1);
    }
    await waitFor(() => adapter.stats().topicsLive === 1, "the book live again within the backoff of the step");
  });
});

describe("frame classification", { timeout: 15_000 }, () => {
  test("a bare text pong is a control frame (a keepalive answer), not a parse error that resyncs the connection", async () => {
    const state = { answerPings: true, conns: [] as ServerWebSocket<unknown>[], pings: 0 };
    const { adapter, sink } = await adapterFor(server(state), ["AAAUSDT", "BBBUSDT"]);
    state.conns[0]!.send("pong");
    await waitFor(() => adapter.stats().pongs === 1, "pong counted");
    expect(adapter.stats().parseErrors).toBe(0);
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().topicsLive).toBe(2);
  });
});
