/** `feeder sim --venue upbit|bithumb` and the simulator's protocol, seen by raw WebSocket clients on 127.0.0.1. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { UsageError, type CommandContext } from "../../src/cli/command.ts";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { silentLogger } from "../../src/core/log.ts";
import { loadRecording, startUpbitSimulator, supportedLevels } from "../../src/sim/upbit-sim.ts";
import { until } from "../support/until.ts";

const RECORDING = resolve(import.meta.dirname, "../fixtures/cryptofeed/UPBIT.ws.62.0");

function context(values: CommandContext["values"]) {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const ctx: CommandContext = { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal };
  return { ctx, lines, stop };
}

/** A raw client collecting every frame as [kind, text]. */
async function client(url: string): Promise<{ ws: WebSocket; frames: [string, string][] }> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const frames: [string, string][] = [];
  ws.onmessage = (ev) => frames.push(typeof ev.data === "string" ? ["text", ev.data] : ["binary", new TextDecoder().decode(ev.data as ArrayBuffer)]);
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error("ws error"));
  });
  return { ws, frames };
}

describe("feeder sim --venue upbit|bithumb", { timeout: 15_000 }, () => {
  test("Upbit: REST, binary SNAPSHOT then REALTIME, PING, errors naming no market, units and replacing requests", async () => {
    const { ctx, lines, stop } = context({ venue: "upbit", symbols: "spot:KRW-BTC,spot:BTC-ETH", rate: "0", seed: "4" });
    const done = simCommand.run(ctx);
    await until(() => lines.length >= 2, "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/websocket\/v1$/);
    expect(((await (await fetch(`${restUrl}/v1/market/all`)).json()) as { market: string }[]).map((m) => m.market)).toEqual(["KRW-BTC", "BTC-ETH"]);
    const inst = (await (await fetch(`${restUrl}/v1/orderbook/instruments?markets=KRW-BTC`)).json()) as { tick_size: string }[];
    expect(inst[0]!.tick_size).toBe("1000");
    const { ws, frames } = await client(wsUrl);
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC.5"] }, { format: "DEFAULT" }]));
    await until(() => frames.length === 1, "snapshot");
    expect(frames[0]![0]).toBe("binary");
    const snap = JSON.parse(frames[0]![1]);
    expect(snap).toMatchObject({ type: "orderbook", code: "KRW-BTC", stream_type: "SNAPSHOT" });
    expect(snap.orderbook_units.length).toBe(5);
    await fetch(`${restUrl}/sim/step?n=1`, { method: "POST" });
    await until(() => frames.length === 2, "realtime");
    expect(JSON.parse(frames[1]![1])).toMatchObject({ stream_type: "REALTIME" });
    expect(JSON.parse(frames[1]![1]).timestamp).toBeGreaterThan(snap.timestamp);
    ws.send("PING");
    await until(() => frames.length === 3, "status");
    expect(frames[2]![1]).toBe('{"status":"UP"}');
    ws.send(JSON.stringify([{ type: "orderbook", codes: ["KRW-BTC"] }]));
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["krw-btc"] }]));
    await until(() => frames.length === 5, "two errors");
    expect(JSON.parse(frames[3]![1])).toEqual({ error: { name: "NO_TICKET", message: expect.any(String) } });
    expect(JSON.parse(frames[4]![1]).error.name).toBe("INVALID_PARAM");
    // A new request replaces the last: only SIMPLE BTC-ETH (30 units by default) from now on.
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["BTC-ETH.7"] }, { format: "SIMPLE" }]));
    await until(() => frames.length === 6, "BTC-ETH snapshot");
    const simple = JSON.parse(frames[5]![1]);
    expect(simple).toMatchObject({ ty: "orderbook", cd: "BTC-ETH", st: "SNAPSHOT" });
    expect(simple.obu.length).toBe(30);
    await fetch(`${restUrl}/sim/step?n=2`, { method: "POST" });
    await until(() => frames.length === 8, "two more");
    expect(frames.slice(6).every(([, t]) => JSON.parse(t).cd === "BTC-ETH")).toBe(true);
    expect(((await (await fetch(`${restUrl}/sim/fault?type=bogus`, { method: "POST" })).json()) as { ok: boolean }).ok).toBe(false);
    ws.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("Bithumb: ms timestamps (as its documented sample), text and binary frames, no tick endpoint", async () => {
    const { ctx, lines, stop } = context({ venue: "bithumb", symbols: "spot:KRW-BTC", rate: "0" });
    const done = simCommand.run(ctx);
    await until(() => lines.length >= 2, "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
    expect((await fetch(`${restUrl}/v1/orderbook/instruments?markets=KRW-BTC`)).status).toBe(404);
    const { ws, frames } = await client(wsUrl);
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC.15"] }, { format: "DEFAULT" }]));
    // The step goes on another socket: it waits for the request's SNAPSHOT, or it could be served before the request.
    await until(() => frames.length === 1, "snapshot");
    await fetch(`${restUrl}/sim/step?n=3`, { method: "POST" });
    await until(() => frames.length === 4, "frames");
    expect(new Set(frames.map(([k]) => k))).toEqual(new Set(["text", "binary"]));
    const ts = frames.map(([, t]) => JSON.parse(t).timestamp as number);
    expect(ts[0]!).toBeGreaterThan(1e12); // ms
    expect(ts[0]!).toBeLessThan(1e14);
    expect(ts[1]! - ts[0]!).toBe(100);
    ws.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("replays the Upbit recording to a subscriber of its codes", async () => {
    const { ctx, lines, stop } = context({ venue: "upbit", symbols: "spot:KRW-BTC", rate: "0", replay: RECORDING });
    const done = simCommand.run(ctx);
    await until(() => lines.length >= 2, "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const { ws, frames } = await client(lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!);
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-WAVES"] }, { format: "SIMPLE" }]));
    let subscribed: string[] = [];
    while (!subscribed.includes("KRW-WAVES")) subscribed = ((await (await fetch(`${restUrl}/sim/stats`)).json()) as { subscribed: string[] }).subscribed;
    await fetch(`${restUrl}/sim/step?n=2`, { method: "POST" });
    await until(() => frames.length === 2, "two recorded frames");
    expect(frames.every(([k, t]) => k === "binary" && t.startsWith('{"ty":"orderbook","cd":"KRW-WAVES"'))).toBe(true);
    ws.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("a recording's lines that are not JSON are skipped and counted in one warning naming the file and the first", () => {
    // Before: dropped without a word (a line of neither form), or a truncated frame served as a book frame.
    const dir = mkdtempSync(join(tmpdir(), "upbit-notjson-"));
    const file = join(dir, "rec.jsonl");
    const frame = `{"ty":"orderbook","cd":"KRW-BTC","tms":1,"obu":[{"ap":101,"as":1,"bp":99,"bs":2}],"st":"SNAPSHOT"}`;
    writeFileSync(file, ["wss://api.upbit.com/websocket/v1 <-> 1", `1700000000.1: b'${frame}'`, "garbage", "", frame.slice(0, 40), frame].join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const frames = loadRecording(file);
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([`sim: replay ${file}: 2 line(s) that are not JSON skipped (the first: line 3)`]);
      expect([...frames].map(([code, list]) => [code, list.length])).toEqual([["KRW-BTC", 2]]);
    } finally {
      warn.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Upbit: a code asked with a level outside its supported_levels gets no data; a supported level gets grouped books", async () => {
    // Before, every level was served (grouped), so a client asking for an unsupported one got books here and none on Upbit.
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 2 });
    const { ws, frames } = await client(sim.wsUrl);
    try {
      const books = () => frames.filter(([, t]) => t.includes('"orderbook"'));
      // A PING's answer comes after whatever the request before it sent: the UP marks "nothing more came".
      const ups = () => frames.filter(([, t]) => t === '{"status":"UP"}').length;
      const ping = async () => {
        const n = ups();
        ws.send("PING");
        await until(() => ups() > n, "UP");
      };
      ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC"], level: 12_345 }]));
      await ping();
      sim.step(2);
      await ping();
      expect(books()).toEqual([]);
      expect(sim.stats.errorsSent).toBe(0); // no error either: Upbit just sends nothing
      ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC"], level: 10_000 }])); // tick 1000 × 10
      await until(() => books().length === 1, "a grouped SNAPSHOT");
      expect(JSON.parse(books()[0]![1])).toMatchObject({ code: "KRW-BTC", stream_type: "SNAPSHOT", level: 10_000 });
    } finally {
      ws.close();
      await sim.stop();
    }
  });

  test("a connection idle either way for the idle time is closed (Upbit: 120 s documented, ~60 s seen); PING keeps it", async () => {
    // Before, the simulator never closed one, so a client that did not ping a quiet connection passed here.
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 2, idleCloseMs: 300 });
    const watched = async () => {
      const c = await client(sim.wsUrl);
      const closed: { code?: number } = {};
      c.ws.addEventListener("close", (ev) => (closed.code = ev.code));
      return { ...c, closed };
    };
    const silent = await watched(); // never asks for anything
    const quiet = await watched(); // asks for a book (its SNAPSHOT comes at once; no REALTIME at rate 0), then says nothing
    const pinging = await watched(); // the same, and sends PING
    for (const c of [quiet, pinging]) c.ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC"] }]));
    const pings = setInterval(() => pinging.ws.send("PING"), 50);
    try {
      await until(() => silent.closed.code !== undefined && quiet.closed.code !== undefined, "the silent and the quiet connection closed");
      expect([silent.closed.code, quiet.closed.code]).toEqual([1000, 1000]);
      expect(quiet.frames.some(([, t]) => t.includes('"stream_type":"SNAPSHOT"'))).toBe(true);
      expect(pinging.closed.code).toBeUndefined();
      expect(pinging.ws.readyState).toBe(WebSocket.OPEN);
      expect(pinging.frames.some(([, t]) => t === '{"status":"UP"}')).toBe(true);
      expect(sim.stats.idleCloses).toBe(2);
    } finally {
      clearInterval(pings);
      pinging.ws.close();
      await sim.stop();
    }
  });

  test("the error_frame fault's frame counts as activity for the idle close, like every frame sent", async () => {
    // performance.now is the test's (the sim's idle clock, monoMs), moved in tick-sized steps with a tick after each: no timing.
    const clock = { ms: performance.now() };
    const now = vi.spyOn(performance, "now").mockImplementation(() => clock.ms);
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 2, idleCloseMs: 1000 });
    const tick = () => (sim as unknown as { tick(): void }).tick();
    const advance = (ms: number) => {
      for (let i = 0; i < ms / 10; i++) {
        clock.ms += 10;
        tick();
      }
    };
    try {
      const c = await client(sim.wsUrl);
      advance(600);
      sim.inject("error_frame"); // to every connection, not in answer to a request
      await until(() => c.frames.some(([, t]) => t.includes("INVALID_PARAM")), "the error frame");
      advance(600); // 1.2 s since the open, 0.6 s since the error frame
      // Before: closed here (the error frame was sent with ws.send, leaving the connection's last activity at its open).
      expect(sim.stats.idleCloses).toBe(0);
      advance(500); // 1.1 s since the error frame
      expect(sim.stats.idleCloses).toBe(1);
      c.ws.close();
    } finally {
      now.mockRestore();
      await sim.stop();
    }
  });

  test("a fault option that is not a whole number in range is a 400 naming it and changes nothing", async () => {
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"] });
    try {
      const post = async (q: string) => {
        const r = await fetch(`${sim.restUrl}/sim/fault?${q}`, { method: "POST" });
        return { status: r.status, body: (await r.json()) as { ok: boolean; field?: string } };
      };
      // Old: ok, and the 429 counter became NaN: no upgrade was ever refused again.
      for (const q of ["type=429&count=abc", "type=429&count=0", "type=429&count=1.5", "type=stall&stallMs=x", "type=stall&stallMs=-1"]) {
        const { status, body } = await post(q);
        expect([q, status, body.ok, body.field]).toEqual([q, 400, false, q.includes("count") ? "count" : "stallMs"]);
      }
      expect((await post("type=429&count=1")).status).toBe(200);
      expect((await fetch(sim.wsUrl.replace("ws://", "http://"), { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } })).status).toBe(429);
      expect(sim.stats.refused429).toBe(1);
    } finally {
      await sim.stop();
    }
  });

  test("step(n, code) with a code it does not serve throws naming it (a typo moved nothing, silently)", async () => {
    const sim = await startUpbitSimulator({ venue: "bithumb", codes: ["KRW-BTC"], messagesPerSecond: 0 });
    try {
      // Before: nothing stepped and nothing said; a test waiting for that code's book timed out far from the cause.
      expect(() => sim.step(1, "KRW-BTX")).toThrow('sim: step: "KRW-BTX" is no code this simulator serves (generated: KRW-BTC)');
      sim.step(1, "KRW-BTC"); // served, no subscriber yet: nothing to send, no error
      expect(sim.stats.messagesSent).toBe(0);
    } finally {
      await sim.stop();
    }
  });

  test("supported_levels are exact multiples of the tick (a 0.000001 tick's 10 ticks are 0.00001)", () => {
    // Before 2026-12-06 multiplied as doubles: "0.000009999999999999999", which no configured level matched.
    expect(supportedLevels("KRW-X", "0.000001")).toEqual(["0", "0.00001", "0.0001", "0.001", "0.01"]);
    expect(supportedLevels("KRW-X", "0.0000001")).toEqual(["0", "0.000001", "0.00001", "0.0001", "0.001"]);
    expect(supportedLevels("KRW-BTC", "1000")).toEqual(["0", "10000", "100000", "1000000", "10000000"]);
    expect(supportedLevels("BTC-ETH", "0.00000001")).toEqual(["0"]);
  });

  test("usage errors", async () => {
    await expect(simCommand.run(context({ venue: "kraken" }).ctx)).rejects.toThrow(/--venue: bybit, .*upbit or bithumb/);
    await expect(simCommand.run(context({ venue: "upbit", symbols: "linear:KRW-BTC" }).ctx)).rejects.toThrow(UsageError);
    await expect(simCommand.run(context({ venue: "upbit", symbols: "spot:KRWBTC" }).ctx)).rejects.toThrow(/QUOTE-BASE/);
  });
});

test("the data-request limit (5 a second per connection) is counted: a sixth request within the second is over it", async () => {
  const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 4 });
  try {
    const { ws } = await client(sim.wsUrl);
    const request = JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC.5"] }]);
    for (let i = 0; i < 5; i++) ws.send(request);
    await until(() => sim.stats.requests === 5, "five requests");
    expect(sim.stats.overRate).toBe(0);
    ws.send(request);
    await until(() => sim.stats.requests === 6, "the sixth");
    expect(sim.stats.overRate).toBe(1);
    ws.close();
  } finally {
    await sim.stop();
  }
});
