/**
 * `feeder sim --venue bybit`: runs the Bybit v5 exchange simulator (WebSocket + REST instruments) on 127.0.0.1
 * until SIGINT/SIGTERM, and prints its URLs on stdout so a feeder config (or `feeder run`) can point at it.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import { startBybitSimulator } from "../../sim/bybit-sim.ts";
import { UsageError, type CommandContext, type CommandSpec } from "../command.ts";

const DEFAULT_SYMBOLS = "linear:BTCUSDT,linear:ETHUSDT,spot:BTCUSDT";
const DEFAULT_RATE = 100;
const MARKETS: readonly MarketName[] = ["spot", "linear", "inverse", "option"];

export const simCommand: CommandSpec = {
  name: "sim",
  summary: "run an exchange simulator (Bybit v5 WebSocket + REST instruments) on 127.0.0.1",
  help: [
    "Options:",
    "      --venue V        venue to simulate: bybit (the only one for now; default bybit)",
    "  -p, --port N         TCP port (default 0 = any free port; the URLs are printed)",
    `  -s, --symbols LIST   market:SYMBOL,… (default ${DEFAULT_SYMBOLS}); markets: ${MARKETS.join(", ")}`,
    `  -r, --rate N         book messages per second across subscribed topics (default ${DEFAULT_RATE}; 0 = idle)`,
    "      --seed N         random seed (default 1): the same seed gives the same books",
    "      --burstiness P   probability that a step is a burst of many level changes (default 0.05)",
    "      --replay FILE    serve a recording to whoever subscribes its topics: JSONL (one WebSocket payload per",
    "                       line; its symbol is served on the market --symbols gives it, default linear) or a",
    "                       `feeder record` capture (.fcap; each frame on the market it was recorded from)",
    "",
    "Clients connect to <wsUrl>/<market> (e.g. ws://127.0.0.1:PORT/v5/public/linear) and query",
    "<restUrl>/v5/market/instruments-info?category=<market>. Point a feeder config's wsUrl/restUrl at them.",
    "",
    "Examples:",
    "  feeder sim --port 18080",
    "  feeder sim --symbols spot:BTCUSDT,linear:BTCUSDT,option:BTC-27MAR26-70000-P-USDT --rate 1000",
    "  feeder sim --replay ../shared/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl --symbols linear:XRPUSDT --rate 10",
  ].join("\n"),
  options: {
    venue: { type: "string" },
    port: { type: "string", short: "p" },
    symbols: { type: "string", short: "s" },
    rate: { type: "string", short: "r" },
    seed: { type: "string" },
    burstiness: { type: "string" },
    replay: { type: "string" },
  },
  run: runSim,
};

function intOption(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Parses "market:SYM,market:SYM" into per-market symbol lists (order kept, duplicates dropped). */
export function parseSymbolList(text: string): { market: MarketName; symbols: string[] }[] {
  const byMarket = new Map<MarketName, string[]>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const colon = item.indexOf(":");
    if (colon <= 0 || colon === item.length - 1) throw new UsageError(`--symbols: expected market:SYMBOL, got ${JSON.stringify(item)}`);
    const market = item.slice(0, colon) as MarketName;
    if (!MARKETS.includes(market)) throw new UsageError(`--symbols: unknown market ${JSON.stringify(market)} (use ${MARKETS.join(", ")})`);
    const symbol = item.slice(colon + 1).toUpperCase();
    const list = byMarket.get(market) ?? [];
    if (!list.includes(symbol)) list.push(symbol);
    byMarket.set(market, list);
  }
  if (byMarket.size === 0) throw new UsageError("--symbols: no symbols given");
  return [...byMarket].map(([market, symbols]) => ({ market, symbols }));
}

async function runSim(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const venue = typeof v.venue === "string" ? v.venue : "bybit";
  if (venue !== "bybit") throw new UsageError(`--venue: only bybit has a simulator so far, got ${JSON.stringify(venue)}`);
  const port = intOption(v.port, "port", 0, 0, 65535);
  const rate = intOption(v.rate, "rate", DEFAULT_RATE, 0, 10_000_000);
  const seed = intOption(v.seed, "seed", 1, 0, 2 ** 32 - 1);
  let burstiness: number | undefined;
  if (v.burstiness !== undefined) {
    burstiness = Number(v.burstiness);
    if (typeof v.burstiness !== "string" || !(burstiness >= 0 && burstiness <= 1)) throw new UsageError(`--burstiness must be in 0..1, got ${JSON.stringify(v.burstiness)}`);
  }
  const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : DEFAULT_SYMBOLS);
  const replayFile = typeof v.replay === "string" ? v.replay : undefined;
  if (replayFile !== undefined && !(await Bun.file(replayFile).exists())) throw new UsageError(`--replay: no such file ${replayFile}`);

  const sim = await startBybitSimulator({ port, hostname: "127.0.0.1", markets, messagesPerSecond: rate, seed, burstiness, replayFile });
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  for (const m of markets) ctx.out(`${m.market.padEnd(7)} ${sim.wsUrl}/${m.market}  ${m.symbols.join(" ")}`);
  ctx.log.info("bybit simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate, seed, replay: replayFile });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
