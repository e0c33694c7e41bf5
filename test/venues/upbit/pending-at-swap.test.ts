/**
 * Upbit and Bithumb answer a request only with each code's first book. A code asked on the old socket and still
 * unanswered at a planned reconnect's swap (PENDING: not onRetiring then) whose first book then comes on the old
 * socket is fed by that socket alone until the replacement's first book. Before 2026-12-07, when the old socket went
 * (its close, or given up) it stayed LIVE with nothing feeding it until the replacement's book; now it leaves LIVE as
 * on a disconnect, named by ws:retired, and replay does the same. Gone back to the old socket instead, it stays LIVE:
 * that socket streams it. The adapter on its replay entry with the sockets' fields set as planned-reconnect.ts sets
 * them (as equal-stamps.test.ts), and the records it makes replayed on a second adapter.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { SUB_ACTIVE, SUB_PENDING, type VenueConnection } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { SOCKET_BACK_URL, SOCKET_OLD_FRAME_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL } from "../../../src/venues/venue.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath } from "../bybit/helpers.ts";

const frame = (stamp: number) => `{"ty":"orderbook","cd":"KRW-BTC","tms":${stamp},"obu":[{"ap":200000000,"bp":100000000,"as":1,"bs":1}]}`;

describe.each(["upbit", "bithumb"] as const)("%s: a code pending at the swap, its first book from the old socket", (venue) => {
  async function rig() {
    const config = { venue, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map([["spot:KRW-BTC", { tickSize: "1000", lotSize: "0.00000001" }]]) };
    const adapter = (venue === "upbit" ? UPBIT_VENUE : BITHUMB_VENUE).create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger }) as VenueAdapter;
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay!(sink);
    const conn = (adapter as unknown as { conns: VenueConnection[] }).conns[0]!;
    const planned = (adapter as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
    const ingest = (stamp: number) => expect(adapter.ingestFrame!("spot", "conn0.spot", frame(stamp), 0)).toBe(true);
    const state = () => (adapter as unknown as { topicInfo(i: number): { state: string } }).topicInfo(0).state;
    return { adapter, sink, conn, planned, ingest, state };
  }

  /** Live: the swap with the code PENDING, then the old socket's first book of it; the socket events recorded. */
  async function live() {
    const r = await rig();
    const events: { url: string; body: string }[] = [];
    (r.planned as unknown as { h: { socketEvent: (c: unknown, url: string, body?: string) => void } }).h.socketEvent = (_c, url, body = "") => void events.push({ url, body });
    const t = r.conn.topics[0]!;
    t.sub = SUB_PENDING; // asked on the old socket, no book yet
    // The swap as planned-reconnect.ts makes it (onRetiring: ACTIVE at the swap); the code asked again on the replacement.
    r.conn.retiringWs = { readyState: 1, onmessage: null, close() {} } as unknown as WebSocket;
    r.conn.retiringGeneration = r.conn.generation;
    r.conn.generation = ++r.conn.genSeq;
    t.onRetiring = false;
    events.push({ url: SOCKET_SWAP_URL, body: "" });
    r.conn.fromRetiring = true;
    events.push({ url: SOCKET_OLD_FRAME_URL, body: "" });
    r.ingest(1_732_796_700_000); // the old socket's first book of it
    r.conn.fromRetiring = false;
    expect(r.state()).toBe("live");
    expect(t.sub).toBe(SUB_PENDING); // not carried by the replacement
    return { ...r, events, t };
  }

  test("the old socket gone before the replacement's book: it leaves LIVE, ws:retired names it, replay does the same", async () => {
    const l = await live();
    l.planned.onRetiringClosed(l.conn, "test"); // the venue closed the old socket
    expect(l.state()).not.toBe("live");
    expect(l.sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    expect(l.events.at(-1)).toEqual({ url: SOCKET_RETIRED_URL, body: "KRW-BTC" });
    l.ingest(1_732_796_700_001); // the replacement's first book: LIVE again, carried there
    expect(l.state()).toBe("live");
    expect(l.t.sub).toBe(SUB_ACTIVE);
    await l.adapter.stop();

    const r = await rig();
    const event = (url: string, body = "") => expect(r.adapter.ingestConnectionEvent!("spot", "conn0.spot", url, 0, body)).toBe(true);
    event("ws:open");
    event(SOCKETS_RECORDED_URL);
    for (const e of l.events) {
      event(e.url, e.body);
      if (e.url === SOCKET_OLD_FRAME_URL) r.ingest(1_732_796_700_000);
    }
    expect(r.state()).not.toBe("live");
    expect(r.sink.invalid).toEqual(l.sink.invalid);
    r.ingest(1_732_796_700_001);
    expect(r.state()).toBe("live");
    await r.adapter.stop();
  });

  test("gone back to the old socket: it stays LIVE (that socket streams it); ws:back names nothing", async () => {
    const l = await live();
    l.planned.goBack(l.conn, "test");
    expect(l.state()).toBe("live");
    expect(l.sink.invalid).toEqual([]);
    expect(l.events.filter((e) => e.url === SOCKET_BACK_URL)).toEqual([{ url: SOCKET_BACK_URL, body: "" }]);
    expect(l.t.sub).toBe(SUB_ACTIVE);
    l.conn.ws = null; // the test's stand-in for the old socket, which the go-back made the connection's
    await l.adapter.stop();
  });

  // The replacement's first book first, then the old socket's: the old socket streams the code all the same, so going
  // back keeps it LIVE. Until 2026-12-07 only the other order did: this one left LIVE (ws:back named it) at every
  // failed planned reconnect, a needless flap.
  test("the replacement's book first, then the old socket's; gone back: it stays LIVE, ws:back names nothing", async () => {
    const r = await rig();
    const events: { url: string; body: string }[] = [];
    (r.planned as unknown as { h: { socketEvent: (c: unknown, url: string, body?: string) => void } }).h.socketEvent = (_c, url, body = "") => void events.push({ url, body });
    const t = r.conn.topics[0]!;
    t.sub = SUB_PENDING;
    r.conn.retiringWs = { readyState: 1, onmessage: null, close() {} } as unknown as WebSocket;
    r.conn.retiringGeneration = r.conn.generation;
    r.conn.generation = ++r.conn.genSeq;
    t.onRetiring = false;
    r.ingest(1_732_796_700_000); // the replacement's first book: carried there
    expect(t.sub).toBe(SUB_ACTIVE);
    r.conn.fromRetiring = true;
    r.ingest(1_732_796_700_001); // then the old socket's
    r.conn.fromRetiring = false;
    expect(r.state()).toBe("live");
    r.planned.goBack(r.conn, "test");
    expect(r.state()).toBe("live");
    expect(r.sink.invalid).toEqual([]);
    expect(events.filter((e) => e.url === SOCKET_BACK_URL)).toEqual([{ url: SOCKET_BACK_URL, body: "" }]);
    r.conn.ws = null;
    await r.adapter.stop();
  });
});
