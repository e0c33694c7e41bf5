/**
 * The simulator's HTTP control surface (/sim/*): each fault injected over HTTP has its effect on raw WebSocket
 * clients, bad requests get 400 naming the field and leave the simulator working; and replayDepth serves a
 * recording under another depth with every frame's topic rewritten.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim, type BybitSimOptions } from "../../src/sim/bybit-sim.ts";
import { RawClient } from "./raw-client.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const FIXTURE_LINES = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sim(opts: Partial<BybitSimOptions> = {}): Promise<BybitSim> {
  const s = await startBybitSimulator({ seed: 9, markets: [{ market: "linear", symbols: ["BTCUSDT"] }, { market: "spot", symbols: ["BTCUSDT"] }], ...opts });
  cleanups.push(() => s.stop());
  return s;
}

async function client(s: BybitSim, market: MarketName, topic: string): Promise<{ c: RawClient; snapshot: any }> {
  const c = await RawClient.open(`${s.wsUrl}/${market}`);
  cleanups.push(() => c.close());
  return { c, snapshot: await c.subscribe(topic) };
}

async function post(s: BybitSim, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${s.restUrl}${path}`, { method: "POST", body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

const LINEAR = { market: "linear", symbol: "BTCUSDT" };

describe("simulator control endpoints", { timeout: 15_000 }, () => {
  test("gap: the next delta skips a u", async () => {
    const s = await sim();
    const { c, snapshot } = await client(s, "linear", "orderbook.50.BTCUSDT");
    const r = await post(s, "/sim/fault", { type: "gap", ...LINEAR });
    expect(r).toEqual({ status: 200, body: { ok: true, fault: "gap", target: LINEAR, topics: 1, connections: 0 } });
    expect(await post(s, "/sim/step?n=1")).toMatchObject({ status: 200, body: { ok: true, n: 1, messagesSent: 1 } });
    const delta = await c.nextJson();
    expect(delta.type).toBe("delta");
    expect(delta.data.u).toBe(snapshot.data.u + 2);
  });

  test("duplicate: the last message is sent again; reset: a snapshot with u = 1 (query-string parameters)", async () => {
    const s = await sim();
    const { c } = await client(s, "linear", "orderbook.50.BTCUSDT");
    await post(s, "/sim/step");
    const last = await c.next();
    expect((await post(s, "/sim/fault?type=duplicate&market=linear&symbol=btcusdt")).body).toMatchObject({ ok: true, topics: 1 });
    expect(await c.next()).toBe(last);
    expect((await post(s, "/sim/fault?type=reset&symbol=BTCUSDT&market=linear")).status).toBe(200);
    const snap = await c.nextJson();
    expect(snap).toMatchObject({ type: "snapshot", data: { u: 1 } });
  });

  test("malformed: the next message is not valid JSON", async () => {
    const s = await sim();
    const { c } = await client(s, "linear", "orderbook.50.BTCUSDT");
    expect((await post(s, "/sim/fault", { type: "malformed", ...LINEAR })).body).toMatchObject({ ok: true, topics: 1 });
    const text = await c.next();
    expect(text.startsWith('{"topic":"orderbook.50.BTCUSDT"')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
  });

  test("disconnect: only the target's connections close", async () => {
    const s = await sim();
    const lin = await client(s, "linear", "orderbook.50.BTCUSDT");
    const spot = await client(s, "spot", "orderbook.50.BTCUSDT");
    expect((await post(s, "/sim/fault", { type: "disconnect", ...LINEAR })).body).toMatchObject({ ok: true, connections: 1 });
    await lin.c.waitClosed();
    expect(spot.c.closed).toBe(false);
    await post(s, "/sim/step");
    expect((await spot.c.nextJson()).type).toBe("delta");
  });

  test("stall: the stalled symbol sends nothing while another still does; a global stall stops everything", async () => {
    const s = await sim();
    const lin = await client(s, "linear", "orderbook.50.BTCUSDT");
    const spot = await client(s, "spot", "orderbook.50.BTCUSDT");
    expect((await post(s, "/sim/fault", { type: "stall", stallMs: 60_000, ...LINEAR })).body).toEqual({
      ok: true,
      fault: "stall",
      target: LINEAR,
      topics: 1,
      connections: 0,
      stallMs: 60_000,
    });
    // One step: only the spot topic publishes (the step's own count says so, no waiting involved).
    expect((await post(s, "/sim/step")).body).toMatchObject({ messagesSent: 1 });
    expect((await spot.c.nextJson()).type).toBe("delta");
    expect((await post(s, "/sim/fault?type=stall&stallMs=60000")).body).toMatchObject({ ok: true, target: null, topics: 2 });
    expect((await post(s, "/sim/step?n=5")).body).toMatchObject({ messagesSent: 0 });
    expect(lin.c.pending).toBe(0);
    // The control surface itself keeps answering during a stall.
    expect((await fetch(`${s.restUrl}/sim/stats`)).status).toBe(200);
  });

  test("bad requests: 400 naming the field, 404/405 for paths and methods; the simulator keeps working", async () => {
    const s = await sim();
    const { c } = await client(s, "linear", "orderbook.50.BTCUSDT");
    const bad: [string, unknown, string][] = [
      ["/sim/fault", undefined, "type"],
      ["/sim/fault", { type: "explode" }, "type"],
      ["/sim/fault", { type: 3 }, "type"],
      ["/sim/fault", { type: "gap", market: "futures", symbol: "BTCUSDT" }, "market"],
      ["/sim/fault", { type: "gap", symbol: "BTCUSDT" }, "market"], // on linear and spot: ambiguous
      ["/sim/fault", { type: "gap", market: "linear" }, "symbol"],
      ["/sim/fault", { type: "gap", market: "linear", symbol: "DOGEUSDT" }, "symbol"],
      ["/sim/fault", { type: "gap", market: "linear", symbol: "" }, "symbol"],
      ["/sim/fault", { type: "stall", stallMs: -5 }, "stallMs"],
      ["/sim/fault", { type: "stall", stallMs: 1.5 }, "stallMs"],
      ["/sim/fault", { type: "gap", stallMs: 100 }, "stallMs"],
      ["/sim/fault", { type: "gap", victim: "me" }, "victim"],
      ["/sim/fault", "{not json", "body"],
      ["/sim/fault", "[1,2]", "body"],
      ["/sim/fault", "null", "body"],
      ["/sim/step", { n: 0 }, "n"],
      ["/sim/step", { n: "many" }, "n"],
      ["/sim/instrument", { market: "linear", symbol: "BTCUSDT" }, "tickSize"],
      ["/sim/instrument", { market: "linear", symbol: "BTCUSDT", lotSize: "-1" }, "lotSize"],
      ["/sim/rest", { available: "maybe" }, "available"],
      ["/sim/rest", { available: false, market: "futures" }, "market"],
      ["/sim/listing", { market: "linear", symbol: "BTCUSDT" }, "listed"],
      ["/sim/listing", { market: "linear", symbol: "DOGEUSDT", listed: false }, "symbol"],
    ];
    for (const [path, body, field] of bad) {
      const r = await post(s, path, body);
      expect({ path, body, status: r.status, field: r.body.field }).toEqual({ path, body, status: 400, field });
      expect(r.body.ok).toBe(false);
      expect(r.body.error).toMatch(new RegExp(`^${field}: `));
    }
    const notFound = await post(s, "/sim/explode");
    expect(notFound.status).toBe(404);
    expect(notFound.body.error).toContain("/sim/fault");
    const wrongMethod = await fetch(`${s.restUrl}/sim/fault?type=gap`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    // Nothing above touched the simulator's state: the next delta follows the snapshot, and it still answers.
    const before = c.frames.length;
    expect(before).toBe(2); // ack + snapshot
    expect((await post(s, "/sim/step")).body).toMatchObject({ ok: true, messagesSent: 1 });
    expect((await c.nextJson()).type).toBe("delta");
    const stats = (await (await fetch(`${s.restUrl}/sim/stats`)).json()) as any;
    expect(stats.ok).toBe(true);
    expect(stats.stats.connections).toBe(1);
    expect(stats.topics).toEqual([{ market: "linear", topic: "orderbook.50.BTCUSDT", symbol: "BTCUSDT", kind: "generated", subscribers: 1, u: expect.any(Number) }]);
  });

  test("instrument change and REST availability over HTTP", async () => {
    const s = await sim();
    const { c } = await client(s, "linear", "orderbook.50.BTCUSDT");
    expect((await post(s, "/sim/instrument", { ...LINEAR, tickSize: "0.5" })).body).toEqual({ ok: true, ...LINEAR, tickSize: "0.5" });
    expect(await c.nextJson()).toMatchObject({ type: "snapshot", data: { u: 1 } });
    const info = (await (await fetch(`${s.restUrl}/v5/market/instruments-info?category=linear`)).json()) as any;
    expect(info.result.list[0].priceFilter.tickSize).toBe("0.5");
    expect((await post(s, "/sim/rest?available=false")).body).toEqual({ ok: true, available: false });
    expect((await fetch(`${s.restUrl}/v5/market/instruments-info?category=linear`)).status).toBe(503);
    expect((await post(s, "/sim/rest", { available: true })).status).toBe(200);
    expect((await fetch(`${s.restUrl}/v5/market/instruments-info?category=linear`)).status).toBe(200);
  });

  test("REST down for one category, and a symbol hidden from instruments-info until listed, over HTTP", async () => {
    const s = await sim();
    const symbols = async (category: string) => {
      const r = await fetch(`${s.restUrl}/v5/market/instruments-info?category=${category}`);
      return r.status === 200 ? ((await r.json()) as any).result.list.map((i: any) => i.symbol) : r.status;
    };
    expect((await post(s, "/sim/rest", { available: false, market: "linear" })).body).toEqual({ ok: true, available: false, market: "linear" });
    expect([await symbols("linear"), await symbols("spot")]).toEqual([503, ["BTCUSDT"]]);
    expect((await post(s, "/sim/rest", { available: true, market: "linear" })).status).toBe(200);
    expect((await post(s, "/sim/listing", { ...LINEAR, listed: false })).body).toEqual({ ok: true, ...LINEAR, listed: false });
    expect(await symbols("linear")).toEqual([]);
    expect((await post(s, "/sim/listing?market=linear&symbol=BTCUSDT&listed=true")).status).toBe(200);
    expect(await symbols("linear")).toEqual(["BTCUSDT"]);
  });

  test("faults on a replayed topic over HTTP: gap skips a recorded line", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: FIXTURE });
    const { c, snapshot } = await client(s, "linear", "orderbook.500.XRPUSDT");
    expect(snapshot.data.u).toBe(JSON.parse(FIXTURE_LINES[0]!).data.u);
    expect((await post(s, "/sim/fault?type=gap&symbol=XRPUSDT")).body).toMatchObject({ ok: true, target: { market: "linear", symbol: "XRPUSDT" }, topics: 1 });
    await post(s, "/sim/step");
    expect(await c.next()).toBe(FIXTURE_LINES[2]);
    const stats = (await (await fetch(`${s.restUrl}/sim/stats`)).json()) as any;
    expect(stats.topics).toEqual([{ market: "linear", topic: "orderbook.500.XRPUSDT", symbol: "XRPUSDT", kind: "replay", subscribers: 1, u: JSON.parse(FIXTURE_LINES[2]!).data.u, cursor: 3, lines: FIXTURE_LINES.length }]);
  });
});

describe("replayDepth", { timeout: 15_000 }, () => {
  test("serves the recording as orderbook.1000.X: topic rewritten in every frame, nothing else changed", async () => {
    const s = await sim({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: FIXTURE, replayDepth: 1000 });
    const old = await RawClient.open(`${s.wsUrl}/linear`);
    cleanups.push(() => old.close());
    old.send({ op: "subscribe", args: ["orderbook.500.XRPUSDT"] });
    expect(await old.nextJson()).toMatchObject({ success: false, ret_msg: "error:handler not found,topic:orderbook.500.XRPUSDT" });
    const { c } = await client(s, "linear", "orderbook.1000.XRPUSDT");
    s.step(FIXTURE_LINES.length); // past the end: the recording simply runs out
    const expected = FIXTURE_LINES.map((l) => l.replace('"topic":"orderbook.500.XRPUSDT"', '"topic":"orderbook.1000.XRPUSDT"'));
    const got = [c.frames[1]!];
    for (let i = 1; i < FIXTURE_LINES.length; i++) got.push(await c.next());
    expect(got).toEqual(expected);
    expect(s.book("linear", "XRPUSDT", 1000).u).toBe(JSON.parse(FIXTURE_LINES.at(-1)!).data.u);
    expect(s.topics().map((t) => t.topic)).toEqual(["orderbook.1000.XRPUSDT"]);
  });

  test("rejects a depth the market does not serve or one below the recorded depth", async () => {
    await expect(startBybitSimulator({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: FIXTURE, replayDepth: 300 })).rejects.toThrow(/replay depth 300 is not a linear depth/);
    await expect(startBybitSimulator({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], replayFile: FIXTURE, replayDepth: 200 })).rejects.toThrow(/below the recorded depth 500/);
  });
});
