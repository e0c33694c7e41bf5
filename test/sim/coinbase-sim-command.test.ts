/** `feeder sim --venue coinbase`: URLs printed, REST and WebSocket served, control endpoints, usage errors. */
import { describe, expect, test } from "vitest";
import { UsageError, type CommandContext } from "../../src/cli/command.ts";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { PRODUCTS_PATH } from "../../src/venues/coinbase/protocol.ts";
import { until } from "../support/until.ts";

function context(values: CommandContext["values"]) {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const ctx: CommandContext = { values, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal };
  return { ctx, lines, stop };
}

describe("feeder sim --venue coinbase", { timeout: 15_000 }, () => {
  test("prints its URLs, serves products and level2, takes faults over HTTP, stops on the signal", async () => {
    const { ctx, lines, stop } = context({ venue: "coinbase", symbols: "spot:btc-usd,ETH-USD", rate: "0" });
    const done = simCommand.run(ctx);
    await until(() => lines.length >= 4, "URLs printed");
    const restUrl = lines.find((l) => l.startsWith("restUrl"))!.split(/\s+/)[1]!;
    const wsUrl = lines.find((l) => l.startsWith("wsUrl"))!.split(/\s+/)[1]!;
    const body = (await (await fetch(`${restUrl}/api/v3/brokerage/market/products?product_ids=ETH-USD`)).json()) as { products: { product_id: string }[] };
    expect(body.products.map((p) => p.product_id)).toEqual(["ETH-USD"]);
    const ws = new WebSocket(wsUrl);
    const frames: string[] = [];
    ws.onmessage = (ev) => frames.push(String(ev.data));
    await new Promise((r) => (ws.onopen = r));
    ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channel: "level2" }));
    await until(() => frames.length >= 2, "snapshot and subscriptions");
    const fault = await fetch(`${restUrl}/sim/fault?type=duplicate&product=BTC-USD`, { method: "POST" });
    expect(await fault.json()).toMatchObject({ ok: true, connections: 1 });
    await until(() => frames.length >= 3, "duplicate");
    expect(frames[2]).toBe(frames[0]);
    const bad = await fetch(`${restUrl}/sim/fault?type=nope`, { method: "POST" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, field: "type" });
    ws.close();
    stop("SIGINT");
    expect(await done).toBe(0);
  });

  test("usage errors name the option", async () => {
    await expect(simCommand.run(context({ venue: "coinbase", symbols: "linear:BTC-USD" }).ctx)).rejects.toThrow(/spot market only/);
    await expect(simCommand.run(context({ venue: "coinbase", symbols: "BTCUSD" }).ctx)).rejects.toThrow(UsageError);
    await expect(simCommand.run(context({ venue: "kraken" }).ctx)).rejects.toThrow(/--venue: bybit, .*coinbase/);
  });

  test("products: past 15 requests in a second (Coinbase's burst) a 429, RATE_LIMIT_EXCEEDED", async () => {
    // The limiter's clock is driven, not wall time: the 16 requests are within the second however slow this host is.
    let nowMs = 1_000_000;
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], seed: 3, restClock: () => nowMs });
    try {
      const get = () => fetch(`${sim.restUrl}${PRODUCTS_PATH}`);
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await get()).status);
      expect(statuses).toEqual([...Array(15).fill(200), 429]);
      const refused = await get();
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: "RATE_LIMIT_EXCEEDED" });
      // The second counted 250 ms shorter (connect-limit.ts): just before that the count stands, then frees.
      nowMs += 749;
      expect((await get()).status).toBe(429);
      nowMs += 1;
      expect((await get()).status).toBe(200);
    } finally {
      await sim.stop();
    }
  });
});
