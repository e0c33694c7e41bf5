/**
 * `feeder sim --venue upbit|bithumb`: the Upbit / Bithumb simulator (src/sim/upbit-sim.ts) on 127.0.0.1 until
 * SIGINT/SIGTERM; prints its URLs. Faults and steps over HTTP on the same port (POST /sim/fault, /sim/step; GET
 * /sim/stats).
 * @module
 */
import { startUpbitSimulator } from "../../sim/upbit-sim.ts";
import { UsageError, type CommandContext } from "../command.ts";
import { refuseEmptyReplay } from "./sim-replay-arg.ts";

export const UPBIT_SIM_DEFAULT_SYMBOLS = "spot:KRW-BTC,spot:KRW-XRP,spot:BTC-ETH";

export async function runUpbitSim(
  ctx: CommandContext,
  venue: "upbit" | "bithumb",
  o: { port: number; rate: number; seed: number; markets: { market: string; symbols: string[] }[]; replayFile: string | undefined },
): Promise<number> {
  if (o.markets.some((m) => m.market !== "spot")) throw new UsageError(`--symbols: ${venue} has one market, spot (codes QUOTE-BASE, e.g. spot:KRW-BTC)`);
  const codes = o.markets.flatMap((m) => m.symbols);
  const bad = codes.find((c) => !/^[A-Z0-9]+-[A-Z0-9]+$/.test(c));
  if (bad !== undefined) throw new UsageError(`--symbols: ${JSON.stringify(bad)} is not a code QUOTE-BASE (e.g. KRW-BTC)`);
  const sim = await startUpbitSimulator({ venue, port: o.port, codes, messagesPerSecond: o.rate, seed: o.seed, replayFile: o.replayFile });
  // Until 2026-12-07 a recording with no orderbook frame (another venue's) served generated books, the replay unsaid.
  const name = venue === "upbit" ? "Upbit" : "Bithumb";
  await refuseEmptyReplay(o.replayFile, sim.replayCodes().length, () => sim.stop(), `no ${name} orderbook frames: cryptofeed \`ts: b'…'\` lines or one JSON frame per line`);
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  ctx.out(`spot    ${codes.join(" ")}`);
  for (const r of sim.replayCodes()) ctx.out(`replay  ${r.code}  ${r.frames} frames`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault?type=…&code=…, step?n=…; GET stats)`);
  ctx.log.info(`${venue} simulator running`, { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate: o.rate, seed: o.seed, replay: o.replayFile });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
