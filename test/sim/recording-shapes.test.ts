/**
 * Each generating simulator sends its book frames in the shape of the venue's genuine recording (test/fixtures/):
 * the same keys, and each value of the same JSON type (a price as a string stays a string), level arrays of the same
 * form. A simulator of another shape would test the feeder on frames the venue never sends. Keys the recording
 * predates are listed with the reason (a newer field the venue added since).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { until } from "../support/until.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures");

/** A value's shape: objects by sorted key, arrays by the distinct shapes of their items, else the JSON type. */
function shape(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `[${[...new Set(v.map(shape))].sort().join("|")}]`;
  if (typeof v === "object") {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${shape((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return typeof v;
}

/** Drops keys (at any depth) the recording predates, so the rest is compared. */
function without(v: unknown, keys: readonly string[]): unknown {
  if (Array.isArray(v)) return v.map((x) => without(x, keys));
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !keys.includes(k)).map(([k, x]) => [k, without(x, keys)]));
}

/** Sides with at least one level each (an empty side has no item shape to compare). */
const bothSides = (bids: unknown[] | undefined, asks: unknown[] | undefined) => (bids?.length ?? 0) > 0 && (asks?.length ?? 0) > 0;

/** The recording's JSON payloads (cryptofeed lines "ts: payload", or JSONL), those `pick` accepts. */
function recorded(file: string, pick: (m: any) => boolean): any {
  for (const line of readFileSync(resolve(FIXTURES, file), "utf8").split("\n")) {
    const at = line.indexOf("{");
    if (at < 0 || line.includes(" <- ") || line.includes(" <-> ")) continue;
    let text = line.slice(at);
    if (text.endsWith("'")) text = text.slice(0, -1); // Upbit's binary frames: b'…'
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      continue;
    }
    if (pick(m)) return m;
  }
  throw new Error(`${file}: no such frame`);
}

/** A raw client keeping every frame, binary ones decoded as text. */
async function client(url: string) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const frames: any[] = [];
  ws.onmessage = (ev) => {
    try {
      frames.push(JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data as ArrayBuffer)));
    } catch {
      // pongs and other text
    }
  };
  await new Promise<void>((r, j) => {
    ws.onopen = () => r();
    ws.onerror = () => j(new Error("ws error"));
  });
  const find = async (what: string, pick: (m: any) => boolean, step: () => void) => {
    await until(() => frames.some(pick), what, 10_000, step);
    return frames.find(pick);
  };
  return { ws, frames, find };
}

describe("simulator frames have the recordings' shapes", { timeout: 20_000 }, () => {
  test("Bybit orderbook snapshot and delta", async () => {
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], messagesPerSecond: 0, levels: 300 });
    try {
      const c = await client(`${sim.wsUrl}/linear`);
      c.ws.send(JSON.stringify({ op: "subscribe", args: ["orderbook.200.XRPUSDT"] }));
      const isBook = (type: string) => (m: any) => m.type === type && m.topic?.startsWith("orderbook.") && bothSides(m.data?.b, m.data?.a);
      const snap = await c.find("snapshot", isBook("snapshot"), () => {});
      const delta = await c.find("delta with both sides", isBook("delta"), () => sim.step(1));
      const file = "bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl";
      expect(shape(snap)).toBe(shape(recorded(file, isBook("snapshot"))));
      expect(shape(delta)).toBe(shape(recorded(file, isBook("delta"))));
      c.ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("Binance spot and USD-M depthUpdate (combined stream) and REST depth", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["NKNUSDT"] }, { market: "linear", symbols: ["SUSHIUSDT"] }], messagesPerSecond: 0 });
    try {
      for (const [market, symbol, path, rest, file] of [
        ["spot", "NKNUSDT", "/stream", "/api/v3/depth", "BINANCE"],
        ["linear", "SUSHIUSDT", "/public/stream", "/fapi/v1/depth", "BINANCE_FUTURES"],
      ] as const) {
        const stream = `${symbol.toLowerCase()}@depth@100ms`;
        const c = await client(`${sim.wsUrl}${path}?streams=${stream}`);
        const isDiff = (m: any) => m.stream === stream && m.data?.e === "depthUpdate" && bothSides(m.data.b, m.data.a);
        const diff = await c.find(`${market} diff with both sides`, isDiff, () => sim.step(1));
        expect(shape(diff), market).toBe(shape(recorded(`cryptofeed/${file}.ws.1.0`, isDiff)));
        const depth = await (await fetch(`${sim.restUrl}${rest}?symbol=${symbol}&limit=1000`)).json();
        expect(shape(depth), `${market} REST`).toBe(shape(recorded(`cryptofeed/${file}.http.0.0`, (m) => typeof m.lastUpdateId === "number")));
        c.ws.close();
      }
    } finally {
      await sim.stop();
    }
  });

  test("OKX books snapshot and update (seqId and prevSeqId postdate the 2022 recording)", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], messagesPerSecond: 0, checksums: true });
    try {
      const c = await client(sim.wsUrl);
      c.ws.send(JSON.stringify({ id: "1", op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      const isBook = (action: string) => (m: any) => m.arg?.channel === "books" && m.action === action && bothSides(m.data?.[0]?.bids, m.data?.[0]?.asks);
      const snap = await c.find("snapshot", isBook("snapshot"), () => {});
      const update = await c.find("update with both sides", isBook("update"), () => sim.step(1));
      expect(snap.data[0]).toMatchObject({ prevSeqId: -1, seqId: expect.any(Number) });
      const newer = ["prevSeqId", "seqId"];
      expect(shape(without(snap, newer))).toBe(shape(recorded("cryptofeed/OKX.ws.1.0", isBook("snapshot"))));
      expect(shape(without(update, newer))).toBe(shape(recorded("cryptofeed/OKX.ws.1.0", isBook("update"))));
      c.ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("Deribit book snapshot and change, and the subscribe answer", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols: ["BTC-24SEP21-8000-P"] }], messagesPerSecond: 0 });
    try {
      const c = await client(sim.wsUrl);
      c.ws.send(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "public/subscribe", params: { channels: ["book.BTC-24SEP21-8000-P.100ms"] } }));
      const isBook = (type: string) => (m: any) => m.params?.data?.type === type && bothSides(m.params.data.bids, m.params.data.asks);
      const answer = await c.find("subscribe answer", (m) => m.id === 0, () => {});
      const snap = await c.find("snapshot", isBook("snapshot"), () => {});
      const change = await c.find("change with both sides", isBook("change"), () => sim.step(1));
      const file = "cryptofeed/DERIBIT.ws.1.0";
      expect(shape(answer)).toBe(shape(recorded(file, (m) => m.id === 0 && Array.isArray(m.result))));
      expect(shape(snap)).toBe(shape(recorded(file, isBook("snapshot"))));
      // Each recorded change has one side empty: the frame compared without its sides, then each side's levels.
      const isChange = (m: any) => m.params?.data?.type === "change";
      const sides = ["bids", "asks"];
      expect(shape(without(change, sides))).toBe(shape(without(recorded(file, isChange), sides)));
      for (const side of sides) {
        const rec = recorded(file, (m) => isChange(m) && m.params.data[side].length > 0).params.data[side];
        expect(shape(change.params.data[side]), side).toBe(shape(rec));
      }
      c.ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("Coinbase (no recording): l2_data, heartbeats and subscriptions in the production envelope, without client_id", async () => {
    // docs/venues/coinbase.md [F6]: Coinbase's AsyncAPI, checked against the production feed, says production frames
    // carry no client_id (its prose docs print "client_id":""). Before, every simulator frame carried it, so the
    // feeder met the production envelope only in the scanner's unit test.
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], messagesPerSecond: 0, heartbeatMs: 50 });
    try {
      const c = await client(sim.wsUrl);
      c.ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channel: "level2" }));
      c.ws.send(JSON.stringify({ type: "subscribe", channel: "heartbeats" }));
      const of = (channel: string) => (m: any) => m.channel === channel;
      for (const channel of ["l2_data", "subscriptions", "heartbeats"]) {
        const frame = await c.find(channel, of(channel), () => sim.step(1));
        expect(Object.keys(frame).sort(), channel).toEqual(["channel", "events", "sequence_num", "timestamp"]);
        expect([typeof frame.sequence_num, typeof frame.timestamp], channel).toEqual(["number", "string"]);
        // A heartbeat's current_time is Go's Time.String, its monotonic reading included [F14]:
        // "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105". Before, the simulator's had no "m=+".
        if (channel === "heartbeats") expect(frame.events[0].current_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \+0000 UTC m=\+\d+\.\d{9}$/);
      }
      c.ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("Upbit orderbook, SIMPLE format (level postdates the 2021 recording)", async () => {
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-LAMB"], messagesPerSecond: 0 });
    try {
      const c = await client(sim.wsUrl);
      c.ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-LAMB"] }, { format: "SIMPLE" }]));
      const isBook = (m: any) => m.ty === "orderbook" && m.st === "REALTIME";
      const book = await c.find("a REALTIME orderbook", isBook, () => sim.step(1));
      expect(shape(without(book, ["lv"]))).toBe(shape(recorded("cryptofeed/UPBIT.ws.62.0", isBook)));
      c.ws.close();
    } finally {
      await sim.stop();
    }
  });
});
