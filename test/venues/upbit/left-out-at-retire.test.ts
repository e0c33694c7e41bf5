/**
 * Upbit and Bithumb: a code a probe on the replacement left out during a planned reconnect's overlap (spared while the
 * old socket fed it) leaves LIVE when the old socket goes, the replacement's streaming of it unknown
 * (UpbitRequests.overlapOver). Until 2026-12-07 only live did: ws:retired's body did not name it, so replay kept it
 * LIVE. Now ws:retired names it (PlannedHost.replacementMayNotStream) and replay matches live; the probe's recorded
 * write (ws:req) spares it in replay too while the old socket feeds it (requests.ts replayLeaveOut). The adapter on its
 * replay entry with the sockets' fields set as planned-reconnect.ts sets them (as pending-at-swap.test.ts), and the
 * records it makes replayed on a second adapter.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { SUB_ACTIVE, type TopicState, type VenueConnection } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { SOCKET_OLD_FRAME_URL, SOCKET_REQUEST_URL_PREFIX, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL } from "../../../src/venues/venue.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath } from "../bybit/helpers.ts";

const CODES = ["KRW-BTC", "KRW-ETH"];
const frame = (code: string, stamp: number) => `{"ty":"orderbook","cd":"${code}","tms":${stamp},"obu":[{"ap":200000000,"bp":100000000,"as":1,"bs":1}]}`;

describe.each(["upbit", "bithumb"] as const)("%s: a code a probe on the replacement left out, the old socket gone", (venue) => {
  async function rig() {
    const overrides = new Map(CODES.map((c) => [`spot:${c}`, { tickSize: "1000", lotSize: "0.00000001" }]));
    const config = { venue, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: CODES }], overrides };
    const adapter = (venue === "upbit" ? UPBIT_VENUE : BITHUMB_VENUE).create(config, CODES.map((symbol) => ({ market: "spot" as const, symbol, depth: 15 })), { log: silentLogger }) as VenueAdapter;
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.startReplay!(sink);
    const conn = (adapter as unknown as { conns: VenueConnection[] }).conns[0]!;
    const planned = (adapter as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
    const ingest = (code: string, stamp: number) => expect(adapter.ingestFrame!("spot", "conn0.spot", frame(code, stamp), 0)).toBe(true);
    const states = () => CODES.map((_, i) => (adapter as unknown as { topicInfo(i: number): { state: string } }).topicInfo(i).state);
    return { adapter, sink, conn, planned, ingest, states };
  }

  test("ws:retired names it and replay takes it out of LIVE as live does", async () => {
    const l = await rig();
    const events: { url: string; body: string }[] = [];
    (l.planned as unknown as { h: { socketEvent: (c: unknown, url: string, body?: string) => void } }).h.socketEvent = (_c, url, body = "") => void events.push({ url, body });
    const byCode = (code: string) => l.conn.topics.find((t) => t.topic === code)!;
    for (const code of CODES) l.ingest(code, 1_732_796_700_000); // LIVE on the old socket
    for (const t of l.conn.topics) t.sub = SUB_ACTIVE;
    // The swap as planned-reconnect.ts makes it (onRetiring: ACTIVE at the swap).
    l.conn.retiringWs = { readyState: 1, onmessage: null, close() {} } as unknown as WebSocket;
    l.conn.retiringGeneration = l.conn.generation;
    l.conn.generation = ++l.conn.genSeq;
    for (const t of l.conn.topics) t.onRetiring = true;
    events.push({ url: SOCKET_SWAP_URL, body: "" });
    // Both answered on the replacement, then a probe there names KRW-BTC only: KRW-ETH is spared (the old socket feeds it).
    for (const code of CODES) l.ingest(code, 1_732_796_700_001);
    (l.adapter as unknown as { control: { leaveOut(c: VenueConnection, probe: readonly TopicState[]): void } }).control.leaveOut(l.conn, [byCode("KRW-BTC")]);
    // As live records that probe's write (requests.ts written): replay spares KRW-ETH too while the old socket feeds it.
    events.push({ url: `${SOCKET_REQUEST_URL_PREFIX}["probe1","subscribe",["KRW-BTC"]]`, body: "" });
    expect(l.states()).toEqual(["live", "live"]);
    l.conn.fromRetiring = true;
    events.push({ url: SOCKET_OLD_FRAME_URL, body: "" });
    l.ingest("KRW-ETH", 1_732_796_700_002); // the old socket's book of it
    l.conn.fromRetiring = false;
    l.planned.onRetiringClosed(l.conn, "test"); // the venue closed the old socket
    expect(l.states()).toEqual(["live", "resyncing"]);
    expect(events.at(-1)).toEqual({ url: SOCKET_RETIRED_URL, body: "KRW-ETH" });
    expect(l.sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    await l.adapter.stop();

    const r = await rig();
    const event = (url: string, body = "") => expect(r.adapter.ingestConnectionEvent!("spot", "conn0.spot", url, 0, body)).toBe(true);
    event("ws:open");
    event(SOCKETS_RECORDED_URL);
    for (const code of CODES) r.ingest(code, 1_732_796_700_000);
    for (const e of events) {
      event(e.url, e.body);
      if (e.url === SOCKET_SWAP_URL) for (const code of CODES) r.ingest(code, 1_732_796_700_001);
      if (e.url === SOCKET_OLD_FRAME_URL) r.ingest("KRW-ETH", 1_732_796_700_002);
    }
    expect(r.states()).toEqual(l.states());
    expect(r.sink.invalid).toEqual(l.sink.invalid);
    await r.adapter.stop();
  });
});
