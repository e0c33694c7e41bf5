/**
 * `feeder sim --venue coinbase`: runs the Coinbase Advanced Trade simulator (WebSocket level2 + heartbeats, REST
 * products; src/sim/coinbase-sim.ts) on 127.0.0.1 until SIGINT/SIGTERM and prints its URLs. Faults and steps are
 * driven over HTTP on the same port (/sim/*, coinbase-sim-control.ts).
 * @module
 */
import { startCoinbaseSimulator } from "../../sim/coinbase-sim.ts";
import { UsageError, type CommandContext } from "../command.ts";

export const COINBASE_DEFAULT_SYMBOLS = "spot:BTC-USD,spot:ETH-USD,spot:SOL-USD";

export const COINBASE_SIM_HELP = [
  "Coinbase (--venue coinbase): --symbols spot:BTC-USD,… (spot only; default",
  `${COINBASE_DEFAULT_SYMBOLS}). Clients connect to <wsUrl> (level2, heartbeats) and query`,
  "<restUrl>/api/v3/brokerage/market/products. A client that sends no subscribe within 5 s is closed.",
  "  POST <restUrl>/sim/fault       type=gap|reset|disconnect|stall|malformed|duplicate|error|sequence_reset [product=P]",
  "                                 [stallMs=N]  (gap: a frame of P's connection is lost, a sequence_num",
  "                                 gap across all its products)",
  "  POST <restUrl>/sim/step        [n=N]  emit N steps (one l2_data frame per connection per step)",
  "  POST <restUrl>/sim/rest        available=true|false;  GET <restUrl>/sim/stats;  /sim/instruments-limit as for OKX",
];

export async function runCoinbaseSim(ctx: CommandContext, o: { port: number; rate: number; seed: number; symbols: string | undefined }): Promise<number> {
  const products: string[] = [];
  for (const raw of (o.symbols ?? COINBASE_DEFAULT_SYMBOLS).split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const [market, product] = item.includes(":") ? [item.slice(0, item.indexOf(":")), item.slice(item.indexOf(":") + 1)] : ["spot", item];
    if (market !== "spot") throw new UsageError(`--symbols: Coinbase has the spot market only, got ${JSON.stringify(item)}`);
    if (!/^[A-Z0-9]+-[A-Z0-9]+$/i.test(product!)) throw new UsageError(`--symbols: expected a product id like BTC-USD, got ${JSON.stringify(product)}`);
    if (!products.includes(product!.toUpperCase())) products.push(product!.toUpperCase());
  }
  if (products.length === 0) throw new UsageError("--symbols: no products given");
  const sim = await startCoinbaseSimulator({ port: o.port, products, messagesPerSecond: o.rate, seed: o.seed });
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  ctx.out(`spot    ${sim.wsUrl}  ${products.join(" ")}`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault, step, rest; GET stats)`);
  ctx.log.info("coinbase simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate: o.rate, seed: o.seed });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
