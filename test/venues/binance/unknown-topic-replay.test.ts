/**
 * Record → replay of a diff whose stream live never asked for (a garbled name): live resyncs every book of the
 * connection (onUnknownTopic); the capture's requests (ws:req) tell replay the stream was unknown to live too, so
 * replay resyncs there as well, the same statuses published at the same records. A replay whose config leaves out a
 * stream live asked for still ignores that stream's diffs. Until s-unkreplay replay ignored both, the book LIVE where
 * live's was RESYNCING. A live adapter on FakeWs sockets, its REST snapshots from a fake fetch, records its capture
 * (record-replay.ts); no network.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.unstubAllGlobals();
});

function config(symbols: string[]): VenueConfig {
  const overrides = new Map(symbols.map((s) => [`spot:${s}`, { tickSize: "0.1", lotSize: "0.001" }]));
  return { venue: "binance", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "spot", depth: 1000, symbols }], overrides, instrumentReloadMs: 0 };
}

async function adapterOf(symbols: string[], opts: ConstructorParameters<typeof BinanceAdapter>[2]): Promise<BinanceAdapter> {
  const adapter = new BinanceAdapter(config(symbols), symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 1000 })), opts);
  cleanups.push(() => adapter.stop());
  await adapter.loadInstruments();
  return adapter;
}

const diff = (stream: string, u: number, px: string) =>
  `{"stream":"${stream}","data":{"e":"depthUpdate","E":1,"s":"${stream.split("@")[0]!.toUpperCase()}","U":${u},"u":${u},"b":[["${px}","1.000"]],"a":[]}}`;

describe("binance record → replay: a diff of a stream live never asked for", () => {
  test("resyncs as live (the same statuses at the same records); a replay leaving out a stream live asked for ignores its diffs", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    // Every depth snapshot asked for: lastUpdateId 10 (the first diffs bridge it), then 30 (after the resync).
    let lastUpdateId = 10;
    const fakeFetch = (async () => new Response(`{"lastUpdateId":${lastUpdateId},"bids":[["99.9","1.000"]],"asks":[["100.1","1.000"]]}`, { status: 200 })) as unknown as typeof fetch;
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const rec = recordingTaps();
    const live = await adapterOf(symbols, { log: silentLogger, fetch: fakeFetch, housekeepingMs: 3_600_000, recheckInstruments: false, ...rec.taps });
    const replay = replayer(await adapterOf(symbols, { log: silentLogger, recheckInstruments: false }), rec.records);
    const narrow = await adapterOf(["BTCUSDT"], { log: silentLogger, recheckInstruments: false }); // leaves out ETHUSDT
    // Its capture without ETHUSDT's REST snapshot (a replay takes none of a book it does not have).
    const narrowRecords: typeof rec.records = [];
    const narrowed = replayer(narrow, narrowRecords);
    live.start(rec.sink);
    const ws = FakeWs.made[0]!;
    cleanups.push(() => void (ws.readyState = FakeWs.CLOSED)); // the stop waits for no close event of a fake socket
    const [btc, eth] = (live as unknown as { topics: { topic: string }[] }).topics.map((t) => t.topic) as [string, string];
    ws.onopen!();
    const ackLast = () => {
      const req = JSON.parse(ws.sent.at(-1)!) as { id: number };
      ws.onmessage!({ data: `{"result":null,"id":${req.id}}` });
    };
    ackLast();
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      await new Promise((r) => setTimeout(r, 0));
    };
    ws.onmessage!({ data: diff(btc, 11, "100.0") });
    ws.onmessage!({ data: diff(eth, 11, "10.0") });
    await vi.waitFor(() => expect([0, 1].map((i) => live.topicInfo(i).state)).toEqual(["live", "live"]));
    ws.onmessage!({ data: diff(eth, 12, "10.1") }); // the narrow replay leaves ETHUSDT out: ignored
    ws.onmessage!({ data: diff(btc.replace("btcusdt", "btcusdx"), 12, "100.1") }); // a garbled name: every book resyncs
    expect(live.stats().unknownTopic).toBe(1);
    expect([0, 1].map((i) => live.topicInfo(i).state)).toEqual(["resyncing", "resyncing"]);
    await settle();
    const events = rec.events.slice();
    // Before: no resync in replay (the garbled diff ignored), both books LIVE at the diffs before it.
    expect(replay.feed()).toEqual(events);
    narrowRecords.push(...rec.records.filter((r) => !r.url?.includes("symbol=ETHUSDT")));
    // The narrow replay: BTCUSDT's events as live's (index 0 in both: the record counts differ), ETHUSDT's diffs ignored
    // (a stream live asked for), the garbled one not.
    const what = (e: string) => e.slice(e.indexOf(": ") + 2);
    const narrowEvents = narrowed.feed();
    expect(narrowEvents.map(what)).toEqual(events.filter((e) => what(e).startsWith("0 ")).map(what));
    const garbledAt = narrowRecords.findIndex((r) => r.frame?.includes("btcusdx")) + 1; // fed by then
    expect(narrowEvents.at(-1)).toBe(`${garbledAt}: 0 resyncing/parse_error`); // at the garbled diff, not at ETHUSDT's
    // Counted as live counted: the garbled diff alone (until s-unkcount also ETHUSDT's two diffs, which replay ignores).
    expect(narrow.stats().unknownTopic).toBe(live.stats().unknownTopic);
    expect(narrow.stats().unknownTopic).toBe(1);
  });
});
