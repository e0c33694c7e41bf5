import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { UsageError, type CommandContext } from "../../src/cli/command.ts";
import { parseSymbolList, simCommand } from "../../src/cli/commands/sim.ts";
import { silentLogger } from "../../src/core/log.ts";
import { until } from "../support/until.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");

function context(values: CommandContext["values"]) {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const ctx: CommandContext = { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal };
  return { ctx, lines, stop };
}

describe("feeder sim", { timeout: 15_000 }, () => {
  test("prints its URLs, serves REST and WebSocket, stops on the stop signal", async () => {
    const { ctx, lines, stop } = context({ symbols: "linear:btcusdt,option:BTC-27MAR26-70000-P-USDT", rate: "0", seed: "5" });
    const done = simCommand.run(ctx);
    await until(() => lines.length >= 2, "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v5\/public$/);
    const body = (await (await fetch(`${restUrl}/v5/market/instruments-info?category=linear`)).json()) as any;
    expect(body.result.list.map((i: any) => i.symbol)).toEqual(["BTCUSDT"]);
    const ws = new WebSocket(`${wsUrl}/linear`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send(JSON.stringify({ op: "subscribe", args: ["orderbook.50.BTCUSDT"] }));
      ws.onmessage = (ev) => resolve(String(ev.data));
      ws.onerror = () => reject(new Error("ws error"));
    });
    expect(JSON.parse(first)).toMatchObject({ success: true, op: "subscribe" });
    ws.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("usage errors", async () => {
    await expect(simCommand.run(context({ venue: "nosuchvenue" }).ctx)).rejects.toThrow(UsageError);
    await expect(simCommand.run(context({ rate: "-1" }).ctx)).rejects.toThrow(/--rate/);
    await expect(simCommand.run(context({ port: "70000" }).ctx)).rejects.toThrow(/--port/);
    await expect(simCommand.run(context({ replay: "/nonexistent.jsonl" }).ctx)).rejects.toThrow(/--replay/);
    await expect(simCommand.run(context({ "replay-depth": "1000" }).ctx)).rejects.toThrow(/--replay-depth needs --replay/);
    await expect(simCommand.run(context({ replay: FIXTURE, symbols: "linear:XRPUSDT", "replay-depth": "300" }).ctx)).rejects.toThrow(/--replay-depth: replay depth 300 is not a linear depth/);
    await expect(simCommand.run(context({ replay: FIXTURE, symbols: "linear:XRPUSDT", "replay-depth": "200" }).ctx)).rejects.toThrow(UsageError);
    expect(() => parseSymbolList("futures:BTCUSDT")).toThrow(/unknown market/);
    expect(() => parseSymbolList("BTCUSDT")).toThrow(/market:SYMBOL/);
    expect(parseSymbolList("spot:btcusdt, linear:ETHUSDT,spot:BTCUSDT")).toEqual([
      { market: "spot", symbols: ["BTCUSDT"] },
      { market: "linear", symbols: ["ETHUSDT"] },
    ]);
  });
});
