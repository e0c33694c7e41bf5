/** `feeder sim --venue deribit`: URLs, REST instruments, the recording served as book.X.100ms, the HTTP control. */
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { UsageError, type CommandContext } from "../../src/cli/command.ts";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { applyReplayFrame, corruptFrame, loadDeribitReplay, replaySnapshot } from "../../src/sim/deribit-sim-book.ts";
import type { Rng } from "../../src/sim/rng.ts";
import { RawClient } from "./raw-client.ts";
import { until } from "../support/until.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/cryptofeed/DERIBIT.ws.1.0");

function context(values: CommandContext["values"]) {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const ctx: CommandContext = { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal };
  return { ctx, lines, stop };
}

describe("feeder sim --venue deribit", { timeout: 15_000 }, () => {
  test("serves the recording as book.X.100ms, instruments over REST, faults and steps over HTTP", async () => {
    const { ctx, lines, stop } = context({ venue: "deribit", replay: FIXTURE, rate: "0", symbols: "inverse:BTC-PERPETUAL" });
    const done = simCommand.run(ctx);
    await until(() => lines.some((l) => l.startsWith("control")), "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/api\/v2$/);
    expect(lines.filter((l) => l.startsWith("replay"))).toHaveLength(10);
    const inst = (await (await fetch(`${restUrl}/api/v2/public/get_instruments?currency=BTC&kind=option&expired=false`)).json()) as { result: { instrument_name: string }[] };
    expect(inst.result.map((i) => i.instrument_name)).toContain("BTC-24SEP21-8000-P");
    const c = await RawClient.open(wsUrl);
    c.send({ jsonrpc: "2.0", id: 1, method: "public/subscribe", params: { channels: ["book.BTC-24SEP21-8000-P.100ms"] } });
    expect((await c.nextJson()).result).toEqual(["book.BTC-24SEP21-8000-P.100ms"]);
    const snap = await c.nextJson();
    expect([snap.params.channel, snap.params.data.type, snap.params.data.change_id]).toEqual(["book.BTC-24SEP21-8000-P.100ms", "snapshot", 33195894164]);
    const step = await fetch(`${restUrl}/sim/step?n=1`, { method: "POST" });
    expect(step.status).toBe(200);
    expect((await c.nextJson()).params.data.prev_change_id).toBe(33195894164);
    // An integer parameter out of range or not one is refused naming it (sim/control-int.ts, as Bybit's and Coinbase's).
    for (const [query, got] of [["n=0", '"0"'], ["n=1.5", '"1.5"'], ["n=", '""'], ["stallMs=0&type=stall", '"0"']] as const) {
      const r = await fetch(`${restUrl}/sim/${query.startsWith("n") ? "step" : "fault"}?${query}`, { method: "POST" });
      const field = query.startsWith("n") ? "n" : "stallMs";
      const max = field === "n" ? 100_000 : 3_600_000;
      expect([r.status, await r.json()], query).toEqual([400, { ok: false, field, error: `${field}: must be an integer in 1..${max}, got ${got}` }]);
    }
    const bad = await fetch(`${restUrl}/sim/fault?type=meteor`, { method: "POST" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe("type");
    const dup = await fetch(`${restUrl}/sim/fault?type=duplicate&market=option&symbol=BTC-24SEP21-8000-P`, { method: "POST" });
    expect(dup.status).toBe(200);
    expect((await c.nextJson()).params.data.change_id).toBe(33195894355);
    c.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("usage errors", async () => {
    await expect(simCommand.run(context({ venue: "deribit", replay: FIXTURE, "replay-depth": "10" }).ctx)).rejects.toThrow(/replay-depth is for bybit/);
    await expect(simCommand.run(context({ venue: "kraken" }).ctx)).rejects.toThrow(UsageError);
  });
});

describe("the Deribit replay book", () => {
  test("follows the recording frame by frame (an independent reference); its snapshot for a late subscriber is sorted and equal", () => {
    // Before, a change with an empty side ("bids":[]) applied the other side's levels to it: 20 of the recording's 46
    // frames left a book whose snapshot was crossed or out of order (ETH-23JUL21-2300-C: bids equal to the asks).
    type Level = [string, number, number];
    const values = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [Number(p), Number(q)]));
    let frames = 0;
    for (const r of loadDeribitReplay(FIXTURE, "option")) {
      const ref = { bids: new Map<number, number>(), asks: new Map<number, number>() };
      for (const frame of r.frames) {
        const data = (JSON.parse(frame) as { params: { data: { type: string; bids: Level[]; asks: Level[] } } }).params.data;
        if (data.type === "snapshot") (ref.bids.clear(), ref.asks.clear());
        for (const side of ["bids", "asks"] as const) for (const [action, px, amount] of data[side]) action === "delete" ? ref[side].delete(px) : ref[side].set(px, amount);
        applyReplayFrame(r, frame);
        frames++;
        expect([values(r.bids), values(r.asks)], `${r.name} after frame ${frames}`).toEqual([ref.bids, ref.asks]);
        const snap = (JSON.parse(replaySnapshot(r)) as { params: { data: { bids: Level[]; asks: Level[] } } }).params.data;
        const prices = (l: Level[]) => l.map((x) => x[1]);
        expect(prices(snap.bids)).toEqual([...ref.bids.keys()].sort((a, b) => b - a));
        expect(prices(snap.asks)).toEqual([...ref.asks.keys()].sort((a, b) => a - b));
      }
    }
    expect(frames).toBe(46);
  });

  test("a capture cut short (a recorder killed mid-block) is served up to the cut, and the cut is said", () => {
    // Before: read to the cut without a word (Bybit's simulator warned), the recording's rest silently missing.
    const dir = mkdtempSync(join(tmpdir(), "deribit-cut-"));
    try {
      const writer = new CaptureWriter({ dir, prefix: "deribit" });
      const frame = (id: number) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"prev_change_id":${id - 1},"bids":[["new",100,${id}]],"asks":[]}}}`;
      writer.write(1, "deribit", "inverse", "c0", frame(1));
      writer.flush();
      writer.write(2, "deribit", "inverse", "c0", frame(2));
      writer.close();
      const file = join(dir, readdirSync(dir).find((n) => n.endsWith(".fcap"))!);
      truncateSync(file, statSync(file).size - 3);
      const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
      let channels;
      try {
        channels = loadDeribitReplay(file, "inverse");
        expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^sim: capture .*deribit-.*\.fcap ends early: incomplete block at byte \d+/)]);
      } finally {
        warn.mockRestore();
      }
      expect(channels.map((c) => [c.name, c.frames.length])).toEqual([["book.BTC-PERPETUAL.100ms", 1]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a recording's lines that are not JSON are skipped and counted in one warning naming the file and the first", () => {
    // Before: dropped without a word (a line of neither form), or a truncated frame served as a book frame.
    const dir = mkdtempSync(join(tmpdir(), "deribit-notjson-"));
    const file = join(dir, "rec.jsonl");
    const frame = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"type":"snapshot","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":1,"bids":[["new",100,1]],"asks":[]}}}`;
    writeFileSync(file, ["wss://www.deribit.com/ws/api/v2 <-> 1", frame, "garbage", "", `1700000000.1: ${frame.slice(0, 90)}`, `1700000000.2: ${frame}`].join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const channels = loadDeribitReplay(file, "inverse");
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([`sim: replay ${file}: 2 line(s) that are not JSON skipped (the first: line 3)`]);
      expect(channels.map((c) => [c.name, c.frames.length])).toEqual([["book.BTC-PERPETUAL.100ms", 2]]);
    } finally {
      warn.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("get_instruments with expired=true lists the expired instruments only (inactive), expired=false the others", async () => {
    // Before: expired=true listed every instrument, the live ones too (Deribit lists the expired ones instead).
    const symbols = ["BTC-27MAR26-70000-C", "BTC-27MAR26-80000-C", "BTC-27MAR26-90000-C"];
    const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols }], seed: 3 });
    try {
      sim.setExpiration("option", symbols[0]!, Date.now() - 1_000);
      sim.setExpiration("option", symbols[1]!, Date.now() + 3_600_000);
      const listed = async (expired: boolean) => {
        const res = await fetch(`${sim.restUrl}/api/v2/public/get_instruments?currency=BTC&kind=option&expired=${expired}`);
        return ((await res.json()) as { result: { instrument_name: string; is_active: boolean }[] }).result.map((i) => [i.instrument_name, i.is_active]);
      };
      expect(await listed(true)).toEqual([[symbols[0], false]]);
      expect(await listed(false)).toEqual([[symbols[1], true], [symbols[2], true]]);
    } finally {
      await sim.stop();
    }
  });

  test("a recording's grouped channels are served as whole books; another book channel is skipped with a warning", async () => {
    // Before: book.X.none.N.100ms frames were dropped without a word (and a whole book's [price, amount] levels were
    // not read), so a recording of grouped books served nothing of them.
    const dir = mkdtempSync(join(tmpdir(), "deribit-grouped-"));
    const file = join(dir, "rec.jsonl");
    const note = (channel: string, data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${channel}","data":{${data}}}}`;
    const whole = (id: number, bids: string, asks: string) => note("book.BTC-PERPETUAL.none.10.100ms", `"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[${bids}],"asks":[${asks}]`);
    const lines = [
      note("book.BTC-PERPETUAL.raw", `"type":"snapshot","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":7,"bids":[["new",100,1]],"asks":[["new",101,2]]`),
      whole(7, "[100,1],[99.5,3]", "[101,2]"),
      note("book.BTC-PERPETUAL.5.10.100ms", `"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":7,"bids":[[100,4]],"asks":[[105,2]]`),
      note("ticker.BTC-PERPETUAL.100ms", `"timestamp":1,"instrument_name":"BTC-PERPETUAL"`),
      whole(9, "[99.5,3],[99,1e1]", "[100.5,2],[101,2.0]"),
      `{"jsonrpc":"2.0","id":3,"result":["book.BTC-PERPETUAL.none.10.100ms"]}`,
    ];
    writeFileSync(file, lines.join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    let channels;
    try {
      channels = loadDeribitReplay(file, "inverse");
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(new RegExp(`^sim: replay ${file}: 1 frame\\(s\\) of book channels the simulator does not serve skipped \\(the first: book\\.BTC-PERPETUAL\\.5\\.10\\.100ms;`))]);
    } finally {
      warn.mockRestore();
    }
    expect(channels.map((c) => [c.name, c.frames.length, c.depth])).toEqual([["book.BTC-PERPETUAL.100ms", 1, 0], ["book.BTC-PERPETUAL.none.10.100ms", 2, 10]]);
    // Each whole book replaces the last: the replay book and its snapshot for a late subscriber are the latest.
    const g = channels[1]!;
    for (const frame of g.frames) applyReplayFrame(g, frame);
    expect([[...g.bids], [...g.asks], g.changeId]).toEqual([[["99.5", "3"], ["99", "1e1"]], [["100.5", "2"], ["101", "2.0"]], 9]);
    const snap = JSON.parse(replaySnapshot(g)).params;
    expect([snap.channel, snap.data.type, snap.data.change_id, snap.data.bids, snap.data.asks]).toEqual([g.name, undefined, 9, [[99.5, 3], [99, 10]], [[100.5, 2], [101, 2]]]);
    // Served by the simulator: subscribed, the recording's frames in order; listed once.
    const sim = await startDeribitSimulator({ markets: [], seed: 3, replayFile: file, replayMarket: "inverse", messagesPerSecond: 0 });
    try {
      const c = await RawClient.open(sim.wsUrl);
      c.send({ jsonrpc: "2.0", id: 1, method: "public/subscribe", params: { channels: ["book.BTC-PERPETUAL.none.10.100ms"] } });
      expect((await c.nextJson()).result).toEqual(["book.BTC-PERPETUAL.none.10.100ms"]);
      expect((await c.nextJson()).params.data.change_id).toBe(7);
      sim.step(1);
      expect((await c.nextJson()).params.data).toMatchObject({ change_id: 9, bids: [[99.5, 3], [99, 10]] });
      c.close();
      const res = await fetch(`${sim.restUrl}/api/v2/public/get_instruments?currency=BTC&kind=future&expired=false`);
      expect(((await res.json()) as { result: { instrument_name: string }[] }).result.map((i) => i.instrument_name)).toEqual(["BTC-PERPETUAL"]);
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the malformed fault garbles every kind of book frame (a whole book, a change of deletes, an empty change)", () => {
    // Before: a number was broken only in a "new"/"change" level; these frames were sent intact on the
    // broken-number branch (half the time), the fault testing nothing.
    const data = (body: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{${body}}}}`;
    const frames = [
      data(`"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":9,"bids":[[99.5,3]],"asks":[[100.5,2]]`),
      data(`"type":"change","timestamp":1,"prev_change_id":8,"instrument_name":"BTC-PERPETUAL","change_id":9,"bids":[["delete",99.5,0.0]],"asks":[]`),
      data(`"type":"change","timestamp":1,"prev_change_id":8,"instrument_name":"BTC-PERPETUAL","change_id":9,"bids":[],"asks":[]`),
      data(`"type":"change","timestamp":1,"prev_change_id":8,"instrument_name":"BTC-PERPETUAL","change_id":9,"bids":[["new",0.05,1]],"asks":[]`),
    ];
    for (const branch of [0.1, 0.9]) {
      const rng = { next: () => branch } as unknown as Rng;
      for (const frame of frames) {
        const bad = corruptFrame(frame, rng);
        expect(() => JSON.parse(bad), `${branch}: ${bad}`).toThrow();
        expect(bad.startsWith(frame.slice(0, frame.indexOf('"data"'))), bad).toBe(true); // its channel still readable
      }
    }
  });

  test("a request past the credits gets 10028 and the session is terminated, as Deribit does [D11]", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 3, credits: { burst: 1, perSecond: 0.001 } });
    try {
      const c = await RawClient.open(sim.wsUrl);
      c.send({ jsonrpc: "2.0", id: 1, method: "public/subscribe", params: { channels: ["book.BTC-PERPETUAL.100ms"] } });
      expect((await c.nextJson()).result).toEqual(["book.BTC-PERPETUAL.100ms"]);
      c.send({ jsonrpc: "2.0", id: 2, method: "public/unsubscribe", params: { channels: ["book.BTC-PERPETUAL.100ms"] } });
      let refusal: any;
      while (refusal === undefined) {
        const m = await c.nextJson();
        if (m.id === 2) refusal = m;
      }
      expect(refusal.error.code).toBe(10028);
      await c.waitClosed();
    } finally {
      await sim.stop();
    }
  });

  test("JSON that is no request object (null, a number, a string) gets -32600 Invalid Request; the session goes on", async () => {
    // Before: `null` threw out of the message handler (an uncaught TypeError, unanswered).
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 3 });
    try {
      const c = await RawClient.open(sim.wsUrl);
      for (const text of ["null", "5", '"public/test"']) {
        c.send(text);
        const m = await c.nextJson();
        expect([m.id, m.error?.code, m.error?.message]).toEqual([null, -32600, "Invalid Request"]);
      }
      c.send({ jsonrpc: "2.0", id: 9, method: "public/test" });
      expect((await c.nextJson()).id).toBe(9);
    } finally {
      await sim.stop();
    }
  });

  test("a subscribe or unsubscribe whose channels are no list of strings gets -32602 Invalid params, not an empty result", async () => {
    // Before: `result: []`, a success that took nothing (a client bug hidden as a channel the venue does not list).
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 3, credits: { burst: 100, perSecond: 100 } });
    try {
      const c = await RawClient.open(sim.wsUrl);
      let id = 0;
      for (const method of ["public/subscribe", "public/unsubscribe"]) {
        for (const params of [{ channels: "book.BTC-PERPETUAL.100ms" }, { channels: null }, {}, undefined, { channels: [5] }]) {
          c.send({ jsonrpc: "2.0", id: ++id, method, params });
          const m = await c.nextJson();
          expect([m.id, m.error?.code, m.error?.message, m.result], `${method} ${JSON.stringify(params)}`).toEqual([id, -32602, "Invalid params", undefined]);
        }
      }
      // A list, empty or not, is still a subscribe.
      c.send({ jsonrpc: "2.0", id: 50, method: "public/subscribe", params: { channels: [] } });
      expect(await c.nextJson()).toMatchObject({ id: 50, result: [] });
    } finally {
      await sim.stop();
    }
  });
});
