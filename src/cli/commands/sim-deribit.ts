/**
 * `feeder sim --venue deribit`: runs the Deribit API v2 simulator (src/sim/deribit-sim.ts) on 127.0.0.1 until
 * SIGINT/SIGTERM and prints its URLs. Faults and steps over HTTP on the same port (/sim/fault, /sim/step, /sim/stats).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import { startDeribitSimulator } from "../../sim/deribit-sim.ts";
import type { CommandContext } from "../command.ts";
import { refuseEmptyReplay } from "./sim-replay-arg.ts";

export const DERIBIT_DEFAULT_SYMBOLS = "inverse:BTC-PERPETUAL,inverse:ETH-PERPETUAL,option:BTC-27MAR26-70000-C";

export interface DeribitSimArgs {
  port: number;
  rate: number;
  seed: number;
  markets: { market: MarketName; symbols: string[] }[];
  replayFile: string | undefined;
}

export async function runDeribitSim(ctx: CommandContext, a: DeribitSimArgs): Promise<number> {
  const sim = await startDeribitSimulator({ port: a.port, hostname: "127.0.0.1", markets: a.markets, messagesPerSecond: a.rate, seed: a.seed, replayFile: a.replayFile });
  await refuseEmptyReplay(a.replayFile, sim.channels().filter((c) => c.frames !== undefined).length, () => sim.stop(), "no Deribit book notifications");
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  for (const m of a.markets) ctx.out(`${m.market.padEnd(7)} ${m.symbols.join(" ")}`);
  for (const c of sim.channels()) if (c.frames !== undefined) ctx.out(`replay  ${c.name}  ${c.frames} frames`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault?type=…, step?n=…; GET stats)`);
  ctx.log.info("deribit simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate: a.rate, seed: a.seed, replay: a.replayFile });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
