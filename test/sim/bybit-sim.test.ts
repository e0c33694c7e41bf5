/**
 * The simulator speaks Bybit v5 as docs/venues/bybit.md ("Protocol facts", § below) describes it. Raw WebSocket clients on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim, type BybitSimOptions } from "../../src/sim/bybit-sim.ts";
import { corruptFrame } from "../../src/sim/bybit-sim-topics.ts";
import type { Rng } from "../../src/sim/rng.ts";
import { RawClient } from "./raw-client.ts";
import { garbled } from "./garbled.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sim(opts: Partial<BybitSimOptions> & Pick<BybitSimOptions, "markets">): Promise<BybitSim> {
  const s = await startBybitSimulator({ seed: 3, ...opts });
  cleanups.push(() => s.stop());
  return s;
}

/** A raw client (test/sim/raw-client.ts) closed after each test. */
async function openClient(url: string): Promise<RawClient> {
  const c = await RawClient.open(url);
  cleanups.push(() => c.close());
  return c;
}

const url = (s: BybitSim, m: MarketName) => `${s.wsUrl}/${m}`;

describe("simulator protocol", { timeout: 15_000 }, () => {
  // TC0–TC3: acks and pongs per category (docs/venues/bybit.md §2.2, §3)
  test("spot: ack ret_msg 'subscribe', pong with op ping", async () => {
    const s = await sim({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }] });
    const c = await openClient(url(s, "spot"));
    c.send({ op: "ping" });
    const pong = await c.nextJson();
    expect(pong).toMatchObject({ success: true, ret_msg: "pong", op: "ping" });
    expect("req_id" in pong).toBe(false);
    c.send({ req_id: "10001", op: "subscribe", args: ["orderbook.50.BTCUSDT"] });
    const ack = await c.nextJson();
    expect(ack).toMatchObject({ success: true, ret_msg: "subscribe", req_id: "10001", op: "subscribe" });
    expect(typeof ack.conn_id).toBe("string");
    const snapText = await c.next();
    expect(snapText.startsWith('{"topic":"orderbook.50.BTCUSDT","ts":')).toBe(true); // spot: ts before type (§4.2)
    const snap = JSON.parse(snapText);
    expect(snap.type).toBe("snapshot");
    expect(snap.data.b.length).toBe(50);
    expect(snap.data.a.length).toBe(50);
  });

  test("linear: ack ret_msg '' with req_id; pong echoes req_id; ts after type", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }] });
    const c = await openClient(url(s, "linear"));
    c.send({ req_id: "p1", op: "ping" });
    expect(await c.nextJson()).toMatchObject({ success: true, ret_msg: "pong", req_id: "p1", op: "ping" });
    c.send({ op: "subscribe", args: ["orderbook.50.BTCUSDT"] });
    expect(await c.nextJson()).toMatchObject({ success: true, ret_msg: "", req_id: "", op: "subscribe" });
    const snapText = await c.next();
    expect(snapText.startsWith('{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":')).toBe(true);
    // Linear prints priceScale decimals: tick 0.10 → "95000.00"-style prices (§4.5).
    expect(JSON.parse(snapText).data.b[0][0]).toMatch(/^\d+\.\d0$/);
  });

  test("option: COMMAND_RESP ack, pong with op pong, id key", async () => {
    const s = await sim({ markets: [{ market: "option", symbols: ["BTC-27MAR26-70000-P-USDT"] }] });
    const c = await openClient(url(s, "option"));
    c.send({ op: "ping" });
    const pong = await c.nextJson();
    expect(pong.op).toBe("pong");
    expect(pong.args).toHaveLength(1);
    c.send({ op: "subscribe", args: ["orderbook.25.BTC-27MAR26-70000-P-USDT", "orderbook.50.BTC-27MAR26-70000-P-USDT"] });
    expect(await c.nextJson()).toMatchObject({
      type: "COMMAND_RESP",
      data: { successTopics: ["orderbook.25.BTC-27MAR26-70000-P-USDT"], failTopics: ["orderbook.50.BTC-27MAR26-70000-P-USDT"] },
    });
    const snap = await c.nextJson();
    expect(snap.id).toMatch(/^orderbook\.25\.BTC-27MAR26-70000-P-USDT-/);
    expect(snap.data.b.length).toBe(25);
  });

  test("errors: handler not found, already subscribed (whole batch fails), spot args size >10 as raw \\u003e", async () => {
    const s = await sim({ markets: [{ market: "spot", symbols: ["BTCUSDT", "ETHUSDT"] }, { market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }] });
    const lin = await openClient(url(s, "linear"));
    lin.send({ req_id: "a", op: "subscribe", args: ["orderbook.50.BTCUSDT", "orderbook.500.BTCUSDT"] });
    expect(await lin.nextJson()).toMatchObject({ success: false, ret_msg: "error:handler not found,topic:orderbook.500.BTCUSDT", req_id: "a", op: "subscribe" });
    lin.send({ req_id: "b", op: "subscribe", args: ["orderbook.50.BTCUSDT"] });
    expect((await lin.nextJson()).success).toBe(true);
    await lin.next(); // snapshot
    lin.send({ req_id: "c", op: "subscribe", args: ["orderbook.50.ETHUSDT", "orderbook.50.BTCUSDT"] });
    expect(await lin.nextJson()).toMatchObject({ success: false, ret_msg: "error:already subscribed,topic:orderbook.50.BTCUSDT", req_id: "c" });
    s.step(1);
    const after = await lin.nextJson();
    expect(after.topic).toBe("orderbook.50.BTCUSDT"); // ETHUSDT was dropped with its batch
    const spot = await openClient(url(s, "spot"));
    spot.send({ op: "subscribe", args: Array.from({ length: 11 }, (_, i) => `orderbook.1.SYM${i}`) });
    const raw = await spot.next();
    expect(raw).toContain('"ret_msg":"args size \\u003e10"');
    expect(JSON.parse(raw)).toMatchObject({ success: false, ret_msg: "args size >10", op: "subscribe" });
    // The cap is per request of either op: an unsubscribe of 11 is refused too, and unsubscribes nothing.
    spot.send({ op: "subscribe", args: ["orderbook.1.BTCUSDT"] });
    expect((await spot.nextJson()).success).toBe(true);
    await spot.next(); // snapshot
    spot.send({ op: "unsubscribe", args: ["orderbook.1.BTCUSDT", ...Array.from({ length: 10 }, (_, i) => `orderbook.1.SYM${i}`)] });
    expect(await spot.nextJson()).toMatchObject({ success: false, ret_msg: "args size >10", op: "unsubscribe" });
    s.step(1);
    expect((await spot.nextJson()).topic).toBe("orderbook.1.BTCUSDT"); // still subscribed
    spot.send("{not json");
    expect((await spot.nextJson()).ret_msg).toMatch(/^Failed to decode incoming data/);
    // JSON that is not an object: answered as a request without an op. Before, `null` threw a TypeError in the
    // message handler (a stack trace on stderr, no answer), so the next answer was the pong below.
    const bare = await openClient(url(s, "linear")); // subscribed to nothing: no book frame in between
    for (const text of ["null", "5", "[]"]) {
      bare.send(text);
      expect(await bare.nextJson(), text).toMatchObject({ success: false, ret_msg: "error:invalid op" });
    }
    bare.send({ op: "ping" });
    expect(await bare.nextJson()).toMatchObject({ ret_msg: "pong" });
    // No list of topic strings in args: refused, in each market's ack shape. Before, acked as a success that
    // subscribed nothing (a client bug hidden as a quiet topic).
    const opt = await openClient(url(s, "option"));
    for (const args of [null, "orderbook.50.BTCUSDT", undefined, [5]]) {
      for (const [c, m] of [[bare, "linear"], [spot, "spot"]] as const) {
        c.send({ req_id: "bad", op: "subscribe", args });
        expect(await c.nextJson(), `${m} ${JSON.stringify(args)}`).toMatchObject({ success: false, ret_msg: "error:args must be a list of topic strings (simulator)", op: "subscribe" });
        c.send({ op: "unsubscribe", args });
        expect(await c.nextJson(), `${m} unsubscribe ${JSON.stringify(args)}`).toMatchObject({ success: false, op: "unsubscribe" });
      }
      opt.send({ op: "subscribe", args });
      expect(await opt.nextJson(), `option ${JSON.stringify(args)}`).toMatchObject({ success: false, ret_msg: "error:args must be a list of topic strings (simulator)", type: "COMMAND_RESP" });
    }
    s.step(1);
    expect((await spot.nextJson()).topic).toBe("orderbook.1.BTCUSDT"); // the refused unsubscribes took nothing away
  });

  test("a connection's args are capped at 21,000 characters: the request that would pass it is rejected whole", async () => {
    const symbols = Array.from({ length: 900 }, (_, i) => `S${String(i).padStart(4, "0")}USDT`);
    // Books of 2 levels a side: 900 books of the default 1200 took ~7 s to build on a loaded 2-vCPU box, the test ~44 s.
    // No level-1 re-push during the test: one between the snapshots and an answer would be read as the answer.
    const s = await sim({ markets: [{ market: "linear", symbols }], levels: 2, l1RepushMs: 600_000 });
    const c = await openClient(url(s, "linear"));
    const topics = symbols.map((sym) => `orderbook.1.${sym}`); // 24 characters each as an arg: 875 fit
    const fit = Math.floor(21_000 / (JSON.stringify(topics[0]).length + 1));
    expect(fit).toBe(875);
    c.send({ req_id: "fill", op: "subscribe", args: topics.slice(0, fit) });
    expect(await c.nextJson()).toMatchObject({ success: true, req_id: "fill" });
    for (let i = 0; i < fit; i++) await c.next(); // one snapshot per topic
    c.send({ req_id: "over", op: "subscribe", args: topics.slice(fit, fit + 2) });
    const over = await c.nextJson();
    expect(over).toMatchObject({ success: false, req_id: "over", op: "subscribe" });
    expect(over.ret_msg).toMatch(/21000 characters per connection/);
    c.send({ req_id: "swap", op: "unsubscribe", args: [topics[0]] }); // freeing one topic makes room for one
    expect(await c.nextJson()).toMatchObject({ success: true, req_id: "swap" });
    c.send({ req_id: "again", op: "subscribe", args: [topics[fit]] });
    expect(await c.nextJson()).toMatchObject({ success: true, req_id: "again" });
  });

  test("levels sets the generated books' depth a side; one that is not a positive integer is refused, named", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], levels: 3 });
    const c = await openClient(url(s, "linear"));
    const snap = await c.subscribe("orderbook.50.BTCUSDT");
    expect([snap.data.b.length, snap.data.a.length]).toEqual([3, 3]);
    for (const levels of [0, 2.5, -1, Number.NaN]) {
      await expect(startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], levels }), String(levels)).rejects.toThrow(/^levels: must be a positive integer/);
    }
  });

  test("deltas carry u + 1, keep the window at N levels with explicit '0' deletes, and match book()", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["ETHUSDT"] }], burstiness: 0.5 });
    const c = await openClient(url(s, "linear"));
    c.send({ op: "subscribe", args: ["orderbook.50.ETHUSDT"] });
    await c.next();
    const snap = await c.nextJson();
    const bids = new Map<string, string>(snap.data.b);
    const asks = new Map<string, string>(snap.data.a);
    let u = snap.data.u;
    let zeros = 0;
    s.step(60);
    for (let i = 0; i < 60; i++) {
      const d = await c.nextJson();
      expect(d.type).toBe("delta");
      expect(d.data.u).toBe(u + 1);
      u = d.data.u;
      expect(d.cts).toBeLessThanOrEqual(d.ts);
      for (const [p, q] of d.data.b) if (q === "0.00") (zeros++, bids.delete(p)); else bids.set(p, q);
      for (const [p, q] of d.data.a) if (q === "0.00") (zeros++, asks.delete(p)); else asks.set(p, q);
      expect(bids.size).toBe(50);
      expect(asks.size).toBe(50);
    }
    expect(zeros).toBeGreaterThan(0);
    const truth = s.book("linear", "ETHUSDT");
    expect(truth.u).toBe(u);
    expect(bids).toEqual(truth.bids);
    expect(asks).toEqual(truth.asks);
    const bestBid = Math.max(...[...bids.keys()].map(Number));
    const bestAsk = Math.min(...[...asks.keys()].map(Number));
    expect(bestBid).toBeLessThan(bestAsk);
  });

  test("level 1 is snapshot-only and re-pushed with the same u", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], l1RepushMs: 20 });
    const c = await openClient(url(s, "linear"));
    c.send({ op: "subscribe", args: ["orderbook.1.BTCUSDT"] });
    await c.next();
    const first = await c.nextJson();
    const again = await c.nextJson();
    expect(again.type).toBe("snapshot");
    expect(again.data.u).toBe(first.data.u);
    s.step(1);
    let next = await c.nextJson();
    while (next.data.u === first.data.u) next = await c.nextJson();
    expect(next.type).toBe("snapshot");
    expect(next.data.u).toBe(first.data.u + 1);
    expect(next.data.b.length).toBe(1);
  });

  test("a connection pushed nothing for the idle time is closed (Bybit: 10 min without ping-pong or data); ping keeps it", async () => {
    // Before, the simulator never closed one, so a client that did not ping a quiet connection passed here.
    const s = await sim({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], idleCloseMs: 300 });
    const silent = await openClient(url(s, "linear")); // never subscribes
    const quiet = await openClient(url(s, "linear")); // subscribes a book that does not move (rate 0), then says nothing
    const pinging = await openClient(url(s, "linear")); // the same, and pings
    for (const c of [quiet, pinging]) await c.subscribe("orderbook.50.BTCUSDT");
    const pings = setInterval(() => pinging.send({ op: "ping" }), 50);
    try {
      await silent.waitClosed();
      await quiet.waitClosed();
      expect(pinging.closed).toBe(false);
      expect(await pinging.nextJson()).toMatchObject({ ret_msg: "pong", op: "ping" });
      expect(s.stats.idleCloses).toBe(2);
    } finally {
      clearInterval(pings);
    }
  });

  test("faults: gap skips a u, reset sends u = 1, duplicate repeats, malformed is garbled, disconnect closes", async () => {
    const s = await sim({ markets: [{ market: "inverse", symbols: ["BTCUSD"] }] });
    const c = await openClient(url(s, "inverse"));
    c.send({ op: "subscribe", args: ["orderbook.50.BTCUSD"] });
    await c.next();
    const u0 = (await c.nextJson()).data.u;
    s.inject("gap");
    s.step(1);
    expect((await c.nextJson()).data.u).toBe(u0 + 2);
    s.inject("duplicate");
    expect((await c.nextJson()).data.u).toBe(u0 + 2);
    s.inject("reset", { market: "inverse", symbol: "BTCUSD" });
    const reset = await c.nextJson();
    expect(reset).toMatchObject({ type: "snapshot", data: { u: 1 } });
    s.inject("malformed");
    const bad = await c.next();
    // Either truncated (not JSON) or a price that is not a decimal.
    let parsed: any = null;
    try {
      parsed = JSON.parse(bad);
    } catch {
      parsed = null;
    }
    if (parsed !== null) expect([...parsed.data.b, ...parsed.data.a].some(([p]: string[]) => !/^\d+(\.\d+)?$/.test(p!))).toBe(true);
    expect(bad.startsWith('{"topic":"orderbook.50.BTCUSD"')).toBe(true);
    s.step(1);
    expect((await c.nextJson()).data.u).toBe(3); // the malformed frame consumed u = 2
    s.inject("disconnect");
    await c.waitClosed();
  });

  test("crossed: a delta puts a bid at the best ask (book() and booksAt() show it), the next delta takes it out", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["ETHUSDT"] }], history: true });
    const c = await openClient(url(s, "linear"));
    c.send({ op: "subscribe", args: ["orderbook.50.ETHUSDT"] });
    await c.next();
    const snap = await c.nextJson();
    const bestAsk = snap.data.a[0][0];
    expect(s.inject("crossed").topics).toBe(1);
    const crossed = await c.nextJson();
    expect(crossed).toMatchObject({ type: "delta", data: { u: snap.data.u + 1 } });
    expect(crossed.data.b[0]).toEqual([bestAsk, snap.data.a[0][1]]);
    expect(crossed.data.b[1][1]).toBe("0.00"); // the worst bid leaves the top 50
    const truth = s.book("linear", "ETHUSDT");
    expect(truth.bids.get(bestAsk)).toBe(snap.data.a[0][1]);
    expect(truth.bids.size).toBe(50);
    expect(s.booksAt("linear", "ETHUSDT", 50, crossed.data.u)).toEqual([{ bids: truth.bids, asks: truth.asks }]);
    // The same Maps every call (the chaos checks key their conversion by them; until 2026-12-07, new ones per call).
    expect(s.booksAt("linear", "ETHUSDT", 50, crossed.data.u)[0]!.bids).toBe(s.booksAt("linear", "ETHUSDT", 50, crossed.data.u)[0]!.bids);
    s.step(1);
    const next = await c.nextJson();
    expect(next.data.b).toContainEqual([bestAsk, "0.00"]);
    expect(s.book("linear", "ETHUSDT").bids.has(bestAsk)).toBe(false);
  });

  test("REST: envelope, linear cursor pagination, spot basePrecision, option baseCoin defaults to BTC, 503 when down", async () => {
    const s = await sim({
      markets: [
        { market: "linear", symbols: ["BTCUSDT", "ETHUSDT", "XRPUSDT"] },
        { market: "spot", symbols: ["BTCUSDT"] },
        { market: "option", symbols: ["BTC-27MAR26-70000-P-USDT", "ETH-27MAR26-3000-C-USDT"] },
      ],
      restPageLimit: 2,
    });
    const get = async (q: string) => (await fetch(`${s.restUrl}/v5/market/instruments-info?${q}`)).json() as Promise<any>;
    const p1 = await get("category=linear&limit=1000");
    expect(p1).toMatchObject({ retCode: 0, retMsg: "OK", result: { category: "linear" }, retExtInfo: {} });
    expect(p1.result.list).toHaveLength(2);
    expect(p1.result.nextPageCursor).toMatch(/%3D/); // URL-encoded like Bybit's
    const p2 = await get(`category=linear&limit=1000&cursor=${p1.result.nextPageCursor}`);
    expect(p2.result.list.map((i: any) => i.symbol)).toEqual(["XRPUSDT"]);
    expect(p2.result.nextPageCursor).toBe("");
    expect((await get(`category=linear&cursor=${encodeURIComponent(p1.result.nextPageCursor)}`)).retCode).not.toBe(0); // double-encoded
    expect(p1.result.list[0]).toMatchObject({ symbol: "BTCUSDT", priceScale: "2", priceFilter: { tickSize: "0.10" }, lotSizeFilter: { qtyStep: "0.001" } });
    const spot = await get("category=spot");
    expect(spot.result.list[0].lotSizeFilter.basePrecision).toBe("0.000001");
    expect(spot.result.list[0].lotSizeFilter.qtyStep).toBeUndefined();
    expect((await get("category=option")).result.list.map((i: any) => i.symbol)).toEqual(["BTC-27MAR26-70000-P-USDT"]);
    expect((await get("category=option&baseCoin=ETH")).result.list.map((i: any) => i.symbol)).toEqual(["ETH-27MAR26-3000-C-USDT"]);
    s.setRestAvailable(false);
    expect((await fetch(`${s.restUrl}/v5/market/instruments-info?category=spot`)).status).toBe(503);
  });

  test("instruments-info over the per-IP limit is 403 access too frequent for the block (§1.2); /sim/instruments-limit arms one", async () => {
    const s = await sim({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], restLimit: { perWindow: 3, windowMs: 600_000, blockedMs: 600_000 } });
    const status = async () => {
      const r = await fetch(`${s.restUrl}/v5/market/instruments-info?category=spot`);
      return `${r.status} ${r.status === 200 ? "" : await r.text()}`.trim();
    };
    const armed = await fetch(`${s.restUrl}/sim/instruments-limit?count=1`, { method: "POST" });
    expect(await armed.json()).toMatchObject({ ok: true, count: 1 });
    expect(await status()).toBe("403 access too frequent"); // armed: not counted in the window
    expect([await status(), await status(), await status()]).toEqual(["200", "200", "200"]);
    expect([await status(), await status()]).toEqual(["403 access too frequent", "403 access too frequent"]); // blocked
  });

  test("replay serves the recorded lines verbatim, snapshot first, step by step", async () => {
    const lines = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: FIXTURE });
    const c = await openClient(url(s, "linear"));
    c.send({ op: "subscribe", args: ["orderbook.500.XRPUSDT"] });
    await c.next();
    expect(await c.next()).toBe(lines[0]);
    s.step(10);
    for (let i = 1; i <= 10; i++) expect(await c.next()).toBe(lines[i]);
    expect(s.book("linear", "XRPUSDT").u).toBe(JSON.parse(lines[10]!).data.u);
    // A second subscriber gets a snapshot of the current replay book with the current u.
    const c2 = await openClient(url(s, "linear"));
    c2.send({ op: "subscribe", args: ["orderbook.500.XRPUSDT"] });
    await c2.next();
    const snap = await c2.nextJson();
    expect(snap.type).toBe("snapshot");
    expect(snap.data.u).toBe(JSON.parse(lines[10]!).data.u);
    expect(new Map(snap.data.b)).toEqual(s.book("linear", "XRPUSDT").bids);
  });

  test("a late subscriber's replay snapshot has the key order of its market: spot and option ts before type (§4.2)", async () => {
    // Before, every market's got the futures order (type first), which a spot or option client never meets on Bybit.
    for (const [market, prefix] of [
      ["linear", '{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":'],
      ["spot", '{"topic":"orderbook.500.XRPUSDT","ts":'],
      ["option", '{"topic":"orderbook.500.XRPUSDT","ts":'],
    ] as const) {
      const s = await sim({ markets: [{ market, symbols: ["XRPUSDT"] }], replayFile: FIXTURE });
      const c = await openClient(url(s, market));
      await c.subscribe("orderbook.500.XRPUSDT");
      s.step(3);
      const late = await openClient(url(s, market));
      late.send({ op: "subscribe", args: ["orderbook.500.XRPUSDT"] });
      await late.next(); // the ack
      const text = await late.next();
      expect(text.startsWith(prefix), `${market}: ${text.slice(0, 80)}`).toBe(true);
      const snap = JSON.parse(text);
      expect([snap.type, "id" in snap]).toEqual(["snapshot", market === "option"]);
      expect(new Map(snap.data.a)).toEqual(s.book(market, "XRPUSDT").asks);
    }
  });

  test("a late subscriber's replay snapshot holds at most the topic's depth a side, the best levels (§4.2), as does the reset fault's", async () => {
    // A recording may grow the book past its topic's depth (a delta's count is not bounded). Before, the snapshot
    // carried the whole replay book: a feeder refused it (over_depth) and its resync got the same one again.
    const T = "orderbook.50.XRPUSDT";
    const side = (from: number, n: number, step: number) => Array.from({ length: n }, (_, i) => `["${(from + i * step).toFixed(4)}","1"]`).join(",");
    const line = (type: string, u: number, b: string, a: string) => `{"topic":"${T}","type":"${type}","ts":${u},"data":{"s":"XRPUSDT","b":[${b}],"a":[${a}],"u":${u},"seq":${u}},"cts":${u}}`;
    const file = join(mkdtempSync(join(tmpdir(), "bybit-sim-depth-")), "rec.jsonl");
    cleanups.push(() => rmSync(dirname(file), { recursive: true, force: true }));
    // 50 a side, then a delta adding 30 bids below and 30 asks above: 80 a side in the replay book.
    writeFileSync(file, [line("snapshot", 1, side(1, 50, -0.0001), side(2, 50, 0.0001)), line("delta", 2, side(0.995, 30, -0.0001), side(2.005, 30, 0.0001))].join("\n") + "\n");
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: file });
    await (await openClient(url(s, "linear"))).subscribe(T);
    s.step(1);
    expect([s.book("linear", "XRPUSDT").bids.size, s.book("linear", "XRPUSDT").asks.size]).toEqual([80, 80]);
    const late = await openClient(url(s, "linear"));
    const snap = await late.subscribe(T);
    expect([snap.type, snap.data.u, snap.data.b.length, snap.data.a.length]).toEqual(["snapshot", 2, 50, 50]);
    expect([snap.data.b[0], snap.data.b[49], snap.data.a[0], snap.data.a[49]]).toEqual([["1.0000", "1"], ["0.9951", "1"], ["2.0000", "1"], ["2.0049", "1"]]);
    s.inject("reset");
    const reset = await late.nextJson();
    expect([reset.type, reset.data.u, reset.data.b.length, reset.data.a.length]).toEqual(["snapshot", 1, 50, 50]);
  });
});

describe("the malformed fault", () => {
  test("garbles every kind of book frame (a snapshot, a delta of deletes, a delta with no level), its topic readable", () => {
    // Before: a price was broken only where the frame had a level; a delta with both sides empty (a recording's, the
    // delisting push) was sent intact on the broken-number branch (half the time), the fault testing nothing.
    const frame = (type: string, b: string, a: string) => `{"topic":"orderbook.50.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[${b}],"a":[${a}],"u":7,"seq":9},"cts":1}`;
    const frames = [frame("snapshot", '["99.5","3"]', '["100.5","2"]'), frame("delta", '["99.5","0"]', ""), frame("delta", "", '["100","0"]'), frame("delta", "", "")];
    for (const branch of [0.1, 0.9]) {
      const rng = { next: () => branch } as unknown as Rng;
      for (const f of frames) {
        const bad = corruptFrame(f, rng);
        expect(garbled(bad, (d) => [...d.data.b, ...d.data.a]), `${branch}: ${bad}`).toBe(true);
        expect(bad.startsWith('{"topic":"orderbook.50.BTCUSDT"'), bad).toBe(true);
      }
    }
  });
});
