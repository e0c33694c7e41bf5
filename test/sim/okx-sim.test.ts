/**
 * `feeder sim --venue okx` with raw clients: the protocol as docs/venues/okx.md describes it (acks per arg with the
 * request id, 60018 naming channel and instId, 64003, text ping → pong, snapshot then chained updates, REST
 * instruments and books with seqId), the control endpoints, the lost_reset and stale_snapshot faults, and the replay
 * of the genuine recording.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test, vi } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { silentLogger } from "../../src/core/log.ts";
import { OkxSim, startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { corruptFrame } from "../../src/sim/okx-sim-topics.ts";
import type { Rng } from "../../src/sim/rng.ts";
import { until } from "../support/until.ts";
import { garbled } from "./garbled.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/cryptofeed/OKX.ws.1.0");

function context(values: CommandContext["values"]) {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const ctx: CommandContext = { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal };
  return { ctx, lines, stop };
}

/** A raw client that collects every frame. */
async function client(url: string): Promise<{ ws: WebSocket; frames: string[] }> {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  ws.onmessage = (ev) => frames.push(String(ev.data));
  await new Promise<void>((r, j) => {
    ws.onopen = () => r();
    ws.onerror = () => j(new Error("ws error"));
  });
  return { ws, frames };
}

async function running(values: CommandContext["values"]) {
  const { ctx, lines, stop } = context({ venue: "okx", rate: "0", ...values });
  const done = simCommand.run(ctx);
  await until(() => lines.some((l) => l.startsWith("control")), "URLs printed");
  const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
  const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
  return { restUrl, wsUrl, lines, stop: async () => { stop("SIGTERM"); expect(await done).toBe(0); } };
}

describe("feeder sim --venue okx", { timeout: 15_000 }, () => {
  test("acks per arg with the id, errors 60018 / 64003 / 60012, text pong, snapshot then chained updates, REST", async () => {
    const sim = await running({ symbols: "spot:BTC-USDT,linear:BTC-USDT-SWAP,option:BTC-USD-261225-100000-C", "okx-checksums": true });
    expect(sim.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/v5\/public$/);
    const swap = (await (await fetch(`${sim.restUrl}/api/v5/public/instruments?instType=SWAP`)).json()) as any;
    expect(swap.data.map((i: any) => [i.instId, i.ctType, i.state])).toEqual([["BTC-USDT-SWAP", "linear", "live"]]);
    const noFamily = (await (await fetch(`${sim.restUrl}/api/v5/public/instruments?instType=OPTION`)).json()) as any;
    expect(noFamily.code).toBe("50014");
    const opt = (await (await fetch(`${sim.restUrl}/api/v5/public/instruments?instType=OPTION&instFamily=BTC-USD`)).json()) as any;
    expect(opt.data.map((i: any) => i.instId)).toEqual(["BTC-USD-261225-100000-C"]);

    const { ws, frames } = await client(sim.wsUrl);
    ws.send("ping");
    await until(() => frames.includes("pong"), "pong");
    ws.send(JSON.stringify({ id: "a1", op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }, { channel: "books5", instId: "BTC-USDT-SWAP" }] }));
    await until(() => frames.length >= 5, "two acks and two snapshots");
    const acks = frames.filter((f) => f.includes('"event"')).map((f) => JSON.parse(f));
    expect(acks.map((a) => [a.id, a.event, a.arg.channel, a.arg.instId])).toEqual([
      ["a1", "subscribe", "books", "BTC-USDT"],
      ["a1", "subscribe", "books5", "BTC-USDT-SWAP"],
    ]);
    const snap = JSON.parse(frames.find((f) => f.includes('"action":"snapshot"'))!);
    expect(snap.data[0].prevSeqId).toBe(-1);
    expect(snap.data[0].checksum).not.toBe(0);
    expect(snap.data[0].bids[0]).toHaveLength(4);
    const full = JSON.parse(frames.find((f) => f.includes('"books5"') && f.includes('"data"'))!);
    expect(full.action).toBeUndefined();
    expect(full.data[0].bids.length).toBe(5);
    await fetch(`${sim.restUrl}/sim/step?n=3`, { method: "POST" });
    await until(() => frames.filter((f) => f.includes('"action":"update"')).length >= 2, "updates");
    const chain = frames.filter((f) => f.includes('"channel":"books"') && f.includes('"data"')).map((f) => JSON.parse(f).data[0]);
    for (let i = 1; i < chain.length; i++) expect(chain[i].prevSeqId).toBe(chain[i - 1].seqId);
    const rest = (await (await fetch(`${sim.restUrl}/api/v5/market/books?instId=BTC-USDT&sz=400`)).json()) as any;
    expect(rest.data[0].seqId).toBe(chain[chain.length - 1].seqId);
    expect([rest.data[0].bids.length, rest.data[0].asks.length]).toEqual([snap.data[0].bids.length, snap.data[0].asks.length]);
    // sz is levels per side: 1 when not given (OKX's default), at most 400 (before, every answer was the whole window).
    const restOf = async (q: string) => (await (await fetch(`${sim.restUrl}/api/v5/market/books?instId=BTC-USDT${q}`)).json()) as any;
    const sides = (r: any) => [r.data[0].bids.length, r.data[0].asks.length];
    expect(sides(await restOf(""))).toEqual([1, 1]);
    expect(sides(await restOf("&sz=5"))).toEqual([5, 5]);
    expect((await restOf("&sz=401")).code).toBe("51000");
    expect((await restOf("&sz=x")).code).toBe("51000");

    const before = frames.length;
    ws.send(JSON.stringify({ id: "b2", op: "subscribe", args: [{ channel: "books", instId: "NOPE-USDT" }] }));
    ws.send(JSON.stringify({ id: "c3", op: "subscribe", args: [{ channel: "books-l2-tbt", instId: "BTC-USDT" }] }));
    ws.send(JSON.stringify({ id: "d4", op: "subscrib", args: [] }));
    await until(() => frames.length >= before + 3, "three errors");
    const errs = frames.slice(before).map((f) => JSON.parse(f));
    expect(errs.map((e) => [e.id, e.event, e.code])).toEqual([["b2", "error", "60018"], ["c3", "error", "64003"], ["d4", "error", "60012"]]);
    expect(errs[0].msg).toContain("channel:books,instId:NOPE-USDT");

    const bad = await fetch(`${sim.restUrl}/sim/fault?type=explode`, { method: "POST" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).field).toBe("type");
    const notice = await fetch(`${sim.restUrl}/sim/fault?type=notice`, { method: "POST" });
    expect(notice.status).toBe(200);
    await until(() => frames.some((f) => f.includes('"code":"64008"')), "64008 notice");
    ws.close();
    await sim.stop();
  });

  test("lost_reset: the reset is never sent and the next update chains on its seqId, 6-10 below the last; stale_snapshot: the next subscriber starts behind", async () => {
    const sim = await running({ symbols: "spot:BTC-USDT" });
    const { ws, frames } = await client(sim.wsUrl);
    const books = (fs: string[]) => fs.filter((f) => f.includes('"channel":"books"') && f.includes('"data"')).map((f) => JSON.parse(f).data[0] as { prevSeqId: number; seqId: number });
    ws.send(JSON.stringify({ id: "a1", op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
    await until(() => books(frames).length === 1, "snapshot");
    // One step at a time (a step may change nothing), each read in full: the client has every frame the sim sent.
    const step = async (what: string, n: number) => {
      const had = books(frames).length;
      while (books(frames).length < had + n) {
        await fetch(`${sim.restUrl}/sim/step?n=1`, { method: "POST" });
        const sent = ((await (await fetch(`${sim.restUrl}/sim/stats`)).json()) as any).stats.messagesSent as number;
        await until(() => frames.length >= sent, what);
      }
    };
    await step("ten updates", 10);
    const last = books(frames).at(-1)!.seqId;
    expect((await fetch(`${sim.restUrl}/sim/fault?type=lost_reset&symbol=BTC-USDT`, { method: "POST" })).status).toBe(200);
    const had = books(frames).length;
    await step("the update after the lost reset", 1);
    const next = books(frames)[had]!;
    expect(last - next.prevSeqId).toBeGreaterThanOrEqual(6);
    expect(last - next.prevSeqId).toBeLessThanOrEqual(10);
    expect(next.seqId).toBeGreaterThan(next.prevSeqId);

    expect((await fetch(`${sim.restUrl}/sim/fault?type=stale_snapshot&symbol=BTC-USDT`, { method: "POST" })).status).toBe(200);
    const at = books(frames).at(-1)!.seqId;
    await step("three updates", 3);
    const second = await client(sim.wsUrl);
    second.ws.send(JSON.stringify({ id: "b2", op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
    const first = books(frames);
    const since = first.map((b) => b.prevSeqId).lastIndexOf(at); // the first message after the fault (seqIds recur after the reset)
    await until(() => books(second.frames).length >= 1 + first.length - since, "the stale snapshot and the messages since");
    const late = books(second.frames);
    expect(late[0]).toMatchObject({ prevSeqId: -1, seqId: at });
    expect(late.slice(1)).toEqual(first.slice(since));
    second.ws.close();
    ws.close();
    await sim.stop();
  });

  test("reset on a full book (books5): its next book's seqId is below the last, its ts later (with stampedBackMs earlier by that much)", async () => {
    const sim = await running({ symbols: "spot:BTC-USDT" });
    const { ws, frames } = await client(sim.wsUrl);
    const books = () => frames.filter((f) => f.includes('"channel":"books5"') && f.includes('"data"')).map((f) => JSON.parse(f).data[0] as { seqId: number; ts: string });
    ws.send(JSON.stringify({ id: "a1", op: "subscribe", args: [{ channel: "books5", instId: "BTC-USDT" }] }));
    await until(() => books().length === 1, "subscribe book");
    const step = async (what: string) => {
      const had = books().length;
      while (books().length < had + 1) {
        await fetch(`${sim.restUrl}/sim/step?n=1`, { method: "POST" });
        const sent = ((await (await fetch(`${sim.restUrl}/sim/stats`)).json()) as any).stats.messagesSent as number;
        await until(() => frames.length >= sent, what);
      }
    };
    await step("a book");
    expect((await fetch(`${sim.restUrl}/sim/fault?type=reset&symbol=BTC-USDT`, { method: "POST" })).status).toBe(200);
    await step("the reset's book"); // before: the flag was never read for full books, seqIds went on rising
    const [before, reset] = books().slice(-2) as [{ seqId: number; ts: string }, { seqId: number; ts: string }];
    expect(reset.seqId).toBeLessThan(before.seqId);
    expect(Number(reset.ts)).toBeGreaterThan(Number(before.ts));
    await step("the next book");
    expect(books().at(-1)!.seqId).toBeGreaterThan(reset.seqId);
    // Stamped back (the venue's clock gone back at the reset, as OKX's ts allows): before 2026-12-07 the simulator
    // always stamped a reset later, and only unit tests reached the adapter's timeBack rule.
    expect((await fetch(`${sim.restUrl}/sim/fault?type=reset&symbol=BTC-USDT&stampedBackMs=5000`, { method: "POST" })).status).toBe(200);
    await step("the reset stamped back");
    const [last, back] = books().slice(-2) as [{ seqId: number; ts: string }, { seqId: number; ts: string }];
    expect([back.seqId < last.seqId, Number(last.ts) - Number(back.ts)]).toEqual([true, 5000]);
    await step("the book after it");
    expect(Number(books().at(-1)!.ts)).toBeGreaterThan(Number(back.ts));
    expect((await fetch(`${sim.restUrl}/sim/fault?type=gap&symbol=BTC-USDT&stampedBackMs=5`, { method: "POST" })).status).toBe(400);
    ws.close();
    await sim.stop();
  });

  test("--replay serves the recording's books frames as received", async () => {
    const sim = await running({ symbols: "spot:BTC-USDT,inverse:UNI-USD-SWAP", replay: FIXTURE });
    expect(sim.lines).toContain("replay  books:BTC-USDT  98 frames");
    const { ws, frames } = await client(sim.wsUrl);
    ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
    await until(() => frames.length >= 1, "ack");
    await fetch(`${sim.restUrl}/sim/step?n=2`, { method: "POST" });
    await until(() => frames.length >= 3, "two recorded frames");
    expect(frames[1]).toMatch(/^\{"arg":\{"channel":"books","instId":"BTC-USDT"\},"action":"snapshot"/);
    expect(JSON.parse(frames[1]!).data[0].checksum).toBe(47640993);
    ws.close();
    await sim.stop();
  });
  test("--replay: lines that are not JSON are skipped and counted in one warning naming the file, as Bybit's and Binance's loaders do", async () => {
    // Before: skipped without a word (a damaged recording served fewer frames, silently).
    const dir = mkdtempSync(join(tmpdir(), "okx-replay-"));
    const file = join(dir, "okx.jsonl");
    const arg = '{"arg":{"channel":"books","instId":"BTC-USDT"}';
    const snapshot = `${arg},"action":"snapshot","data":[{"asks":[["101","2","0","1"]],"bids":[["99","3","0","1"]],"ts":"1","checksum":0}]}`;
    writeFileSync(file, [snapshot, `${arg},"action":"upd`, "1700000000.1: {not json", "wss://ws.okx.com:8443/ws/v5/public", `{"event":"subscribe"}`, ""].join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], replayFile: file });
      await sim.stop();
      expect(sim.replayTopics()).toEqual([{ instId: "BTC-USDT", frames: 1 }]);
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([`sim: replay ${file}: 2 line(s) that are not JSON skipped`]);
    } finally {
      warn.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--replay: a recorded books frame of another shape is served verbatim, not applied, and the replay goes on", async () => {
    // Before: apply() read data[0].bids of it and threw out of step() (and of the replay timer), the frame unsent.
    const dir = mkdtempSync(join(tmpdir(), "okx-replay-"));
    const file = join(dir, "okx.jsonl");
    const arg = '{"arg":{"channel":"books","instId":"BTC-USDT"}';
    const lines = [
      `${arg},"action":"snapshot","data":[{"asks":[["101","2","0","1"]],"bids":[["99","3","0","1"]],"ts":"1","checksum":0}]}`,
      `${arg},"action":"update","data":[]}`,
      `${arg},"action":"update","data":[{"asks":[["102","1","0","1"]],"ts":"2","checksum":0}]}`,
      `${arg},"action":"update","data":[{"asks":[["101","0","0","1"]],"bids":[["98","4","0","1"]],"ts":"3","checksum":0}]}`,
    ];
    writeFileSync(file, lines.join("\n") + "\n");
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], replayFile: file });
    try {
      const { ws, frames } = await client(sim.wsUrl);
      ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      await until(() => frames.length >= 1, "ack");
      sim.step(4);
      await until(() => frames.length >= 5, "the four recorded frames");
      expect(frames.slice(1)).toEqual(lines);
      // A late subscriber's snapshot is the book the well-formed frames build (the malformed ones change nothing).
      const late = await client(sim.wsUrl);
      late.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      await until(() => late.frames.length >= 2, "ack and snapshot");
      const snap = JSON.parse(late.frames[1]!).data[0];
      expect([snap.asks, snap.bids]).toEqual([[["102", "1", "0", "1"]], [["99", "3", "0", "1"], ["98", "4", "0", "1"]]]);
      ws.close();
      late.ws.close();
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a connection pushed nothing for the idle time is closed (OKX: 30 s without subscription or data); text ping keeps it", async () => {
    // Before, the simulator never closed one, so a client that did not ping a quiet connection passed here.
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 3, idleCloseMs: 300 });
    const watched = async () => {
      const c = await client(sim.wsUrl);
      const closed: { code?: number } = {};
      c.ws.addEventListener("close", (ev) => (closed.code = ev.code));
      return { ...c, closed };
    };
    const silent = await watched(); // never subscribes
    const quiet = await watched(); // subscribes a book that does not move (rate 0), then says nothing
    const pinging = await watched(); // the same, and pings
    for (const c of [quiet, pinging]) c.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
    const pings = setInterval(() => pinging.ws.send("ping"), 50);
    try {
      await until(() => silent.closed.code !== undefined && quiet.closed.code !== undefined, "the silent and the quiet connection closed");
      expect([silent.closed.code, quiet.closed.code]).toEqual([1000, 1000]);
      expect(quiet.frames.some((f) => f.includes('"action":"snapshot"'))).toBe(true);
      expect(pinging.closed.code).toBeUndefined();
      expect(pinging.ws.readyState).toBe(WebSocket.OPEN);
      expect(pinging.frames).toContain("pong");
      expect(sim.stats.idleCloses).toBe(2);
    } finally {
      clearInterval(pings);
      pinging.ws.close();
      await sim.stop();
    }
  });

  test("instruments: past 20 requests in 2 s for one instType a 429 (code 50011); another instType has its own count", async () => {
    // The limiter's clock is driven, not wall time: the 21 requests are within the window however slow this host is.
    let nowMs = 1_000_000;
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 3, restClock: () => nowMs });
    try {
      const get = (instType: string) => fetch(`${sim.restUrl}/api/v5/public/instruments?instType=${instType}`);
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await get("SPOT")).status);
      expect(statuses).toEqual([...Array(20).fill(200), 429]);
      const refused = await get("SPOT");
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ code: "50011" });
      expect((await get("SWAP")).status).toBe(200);
      // The window counted 250 ms shorter (1.75 s, connect-limit.ts): just before that the count stands, then frees.
      nowMs += 1_749;
      expect((await get("SPOT")).status).toBe(429);
      nowMs += 1;
      expect((await get("SPOT")).status).toBe(200);
    } finally {
      await sim.stop();
    }
  });

  test("stall aimed at an instId quiets its books alone (before: the whole server)", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 3 });
    try {
      const { ws, frames } = await client(sim.wsUrl);
      ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }, { channel: "books", instId: "ETH-USDT" }] }));
      await until(() => frames.filter((f) => f.includes('"action":"snapshot"')).length === 2, "two snapshots");
      sim.inject("stall", "ETH-USDT", { stallMs: 60_000 });
      const mark = frames.length;
      const updatesOf = (instId: string) => frames.slice(mark).filter((f) => f.includes(`"instId":"${instId}"},"action"`));
      sim.step(2); // BTC-USDT, then ETH-USDT, twice: on one socket, in that order
      await until(() => updatesOf("BTC-USDT").length === 2, "BTC-USDT's two updates");
      expect(updatesOf("ETH-USDT")).toEqual([]);
      expect(sim.stalled).toBe(false);
      ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("a stall ends on the monotonic clock: a wall clock stepped back or ahead neither lengthens nor ends it", () => {
    // Date and performance faked apart: setSystemTime steps the wall clock alone, advanceTimersByTime both.
    vi.useFakeTimers({ toFake: ["Date", "performance"], now: 1_800_000_000_000 });
    try {
      const sim = new OkxSim({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }] }); // not started: no timer runs
      sim.inject("stall", undefined, { stallMs: 1_000 });
      vi.setSystemTime(Date.now() - 3_600_000); // stepped back an hour (before: the stall lasted an hour more)
      vi.advanceTimersByTime(999);
      expect(sim.stalled).toBe(true);
      vi.advanceTimersByTime(1);
      expect(sim.stalled).toBe(false);
      sim.inject("stall", undefined, { stallMs: 1_000 });
      vi.setSystemTime(Date.now() + 3_600_000); // stepped ahead an hour (before: the stall ended at once)
      expect(sim.stalled).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  test("JSON that is no request object (null, a number) gets 60012; the connection goes on", async () => {
    // Before: `null` threw out of the message handler (an uncaught TypeError, unanswered).
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 3 });
    try {
      const { ws, frames } = await client(sim.wsUrl);
      ws.send("null");
      ws.send("5");
      ws.send("ping");
      await until(() => frames.length >= 3, "two errors and a pong");
      expect(frames.slice(0, 2).map((f) => [JSON.parse(f).event, JSON.parse(f).code, JSON.parse(f).msg])).toEqual([
        ["error", "60012", "Invalid request: null"],
        ["error", "60012", "Invalid request: 5"],
      ]);
      expect(frames[2]).toBe("pong");
      ws.close();
    } finally {
      await sim.stop();
    }
  });

  test("--burstiness reaches the simulator: with 1 every step is a burst, many more levels per update than with 0", async () => {
    // Same seed, same book: only the burst draw differs (the CLI used to drop --burstiness for OKX: equal totals).
    const levels = async (burstiness: string) => {
      const sim = await running({ symbols: "spot:BTC-USDT", seed: "7", burstiness });
      const { ws, frames } = await client(sim.wsUrl);
      ws.send(JSON.stringify({ id: "a1", op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      await until(() => frames.some((f) => f.includes('"action":"snapshot"')), "snapshot");
      await fetch(`${sim.restUrl}/sim/step?n=10`, { method: "POST" });
      const updates = () => frames.filter((f) => f.includes('"action":"update"'));
      await until(() => updates().length >= 10, "ten updates");
      ws.close();
      await sim.stop();
      return updates().reduce((n, f) => n + JSON.parse(f).data[0].bids.length + JSON.parse(f).data[0].asks.length, 0);
    };
    const calm = await levels("0");
    const bursty = await levels("1");
    expect(bursty).toBeGreaterThan(2 * calm);
  });
});

describe("the malformed fault", () => {
  test("garbles every kind of book frame (a full book, an update of deletes, an update with no level), its arg readable", () => {
    // Before: a price was broken only where the frame had a level; an update with both sides empty (a recording's
    // keepalive) was sent intact on the broken-number branch (half the time), the fault testing nothing.
    const arg = '{"arg":{"channel":"books","instId":"BTC-USDT"}';
    const update = (asks: string, bids: string) => `${arg},"action":"update","data":[{"asks":[${asks}],"bids":[${bids}],"ts":"1","checksum":0,"prevSeqId":8,"seqId":9}]}`;
    const frames = [
      `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["100.5","2","0","1"]],"bids":[["99.5","3","0","1"]],"instId":"BTC-USDT","ts":"1","seqId":9}]}`,
      update("", '["99.5","0","0","0"]'),
      update('["100","0","0","0"]', ""),
      update("", ""),
    ];
    for (const branch of [0.1, 0.9]) {
      const rng = { next: () => branch } as unknown as Rng;
      for (const f of frames) {
        const bad = corruptFrame(f, rng);
        expect(garbled(bad, (d) => [...d.data[0].asks, ...d.data[0].bids]), `${branch}: ${bad}`).toBe(true);
        expect(bad.startsWith(f.slice(0, f.indexOf('"data"'))), bad).toBe(true);
      }
    }
  });
});
