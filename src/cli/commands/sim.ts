/**
 * `feeder sim --venue bybit`: runs the Bybit v5 exchange simulator (WebSocket + REST instruments) on 127.0.0.1
 * until SIGINT/SIGTERM, and prints its URLs on stdout so a feeder config (or `feeder run`) can point at it. Faults,
 * steps and instrument changes are driven over HTTP on the same port (/sim/*, bybit-sim-control.ts).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import { startBybitSimulator } from "../../sim/bybit-sim.ts";
import { UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { runUpbitSim, UPBIT_SIM_DEFAULT_SYMBOLS } from "./sim-upbit.ts";

const DEFAULT_SYMBOLS = "linear:BTCUSDT,linear:ETHUSDT,spot:BTCUSDT";
const DEFAULT_RATE = 100;
const MARKETS: readonly MarketName[] = ["spot", "linear", "inverse", "option"];

export const simCommand: CommandSpec = {
  name: "sim",
  summary: "run an exchange simulator (Bybit v5, Upbit, Bithumb: WebSocket + REST instruments) on 127.0.0.1",
  help: [
    "Options:",
    "      --venue V        venue to simulate: bybit (default), upbit or bithumb",
    "  -p, --port N         TCP port (default 0 = any free port; the URLs are printed)",
    `  -s, --symbols LIST   market:SYMBOL,… (default ${DEFAULT_SYMBOLS}); markets: ${MARKETS.join(", ")}`,
    `  -r, --rate N         book messages per second across subscribed topics (default ${DEFAULT_RATE}; 0 = idle)`,
    "      --seed N         random seed (default 1): the same seed gives the same books",
    "      --burstiness P   probability that a step is a burst of many level changes (default 0.05)",
    "      --replay FILE    serve a recording to whoever subscribes its topics: JSONL (one WebSocket payload per",
    "                       line; its symbol is served on the market --symbols gives it, default linear) or a",
    "                       `feeder record` capture (.fcap; each frame on the market it was recorded from).",
    "                       Topics are served under their recorded names (printed at start).",
    "      --replay-depth N serve the recording's topics as orderbook.N.SYMBOL (the frames' topic field rewritten",
    "                       too): for recordings of a depth Bybit no longer has, e.g. orderbook.500 → 1000, which",
    "                       a feeder config can subscribe (it accepts 1, 50, 200, 1000). N >= the recorded depth.",
    "",
    "Clients connect to <wsUrl>/<market> (e.g. ws://127.0.0.1:PORT/v5/public/linear) and query",
    "<restUrl>/v5/market/instruments-info?category=<market>. Point a feeder config's wsUrl/restUrl at them.",
    "",
    "Control (HTTP on the same port, 127.0.0.1 only; parameters as query or JSON body; answers JSON,",
    "400 naming the bad field):",
    "  POST <restUrl>/sim/fault       type=gap|reset|disconnect|stall|malformed|duplicate [market=M symbol=S]",
    "                                 [stallMs=N]  (no symbol = every symbol; stall default 5000 ms)",
    "  POST <restUrl>/sim/step        [n=N]  emit N steps now (N deltas per subscribed topic / N recorded lines)",
    "  POST <restUrl>/sim/instrument  market=M symbol=S [tickSize=D] [lotSize=D]  (u restarts at 1)",
    "  POST <restUrl>/sim/rest        available=true|false  (instruments-info answers 503 when false)",
    "  GET  <restUrl>/sim/stats       counters and every served topic (subscribers, u, replay position)",
    "",
    "Examples:",
    "  feeder sim --port 18080",
    "  feeder sim --symbols spot:BTCUSDT,linear:BTCUSDT,option:BTC-27MAR26-70000-P-USDT --rate 1000",
    "  feeder sim --replay test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl --replay-depth 1000 \\",
    "             --symbols linear:XRPUSDT --rate 10     # then feeder run with [venues.bybit.linear] depth = 1000",
    "  curl -X POST 'http://127.0.0.1:18080/sim/fault?type=gap&market=linear&symbol=BTCUSDT'",
    "  curl -X POST http://127.0.0.1:18080/sim/fault -d '{\"type\":\"stall\",\"stallMs\":3000}'",
    "",
    "Upbit / Bithumb (--venue upbit|bithumb; docs/venues/upbit.md, bithumb.md): clients connect to <wsUrl>",
    `(ws://127.0.0.1:PORT/websocket/v1); REST /v1/market/all, /v1/ticker, /v1/orderbook/instruments (Upbit). --symbols`,
    `takes codes on market spot (default ${UPBIT_SIM_DEFAULT_SYMBOLS}); --replay FILE serves a recording`,
    "(cryptofeed `ts: b'…'` lines, e.g. test/fixtures/cryptofeed/UPBIT.ws.62.0, or one JSON frame per line).",
    "  POST <restUrl>/sim/fault?type=disconnect|stall|malformed|duplicate|older|zero_size|error_frame|429[&code=C]",
    "                                 [&stallMs=N] [&count=N]  (error_frame with a code: requests naming it are refused)",
    "  POST <restUrl>/sim/step?n=N    GET <restUrl>/sim/stats",
  ].join("\n"),
  options: {
    venue: { type: "string" },
    port: { type: "string", short: "p" },
    symbols: { type: "string", short: "s" },
    rate: { type: "string", short: "r" },
    seed: { type: "string" },
    burstiness: { type: "string" },
    replay: { type: "string" },
    "replay-depth": { type: "string" },
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
  if (venue !== "bybit" && venue !== "upbit" && venue !== "bithumb") throw new UsageError(`--venue: bybit, upbit or bithumb, got ${JSON.stringify(venue)}`);
  const port = intOption(v.port, "port", 0, 0, 65535);
  const rate = intOption(v.rate, "rate", DEFAULT_RATE, 0, 10_000_000);
  const seed = intOption(v.seed, "seed", 1, 0, 2 ** 32 - 1);
  if (venue !== "bybit") {
    const replayFile = typeof v.replay === "string" ? v.replay : undefined;
    if (replayFile !== undefined && !(await Bun.file(replayFile).exists())) throw new UsageError(`--replay: no such file ${replayFile}`);
    const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : UPBIT_SIM_DEFAULT_SYMBOLS);
    return runUpbitSim(ctx, venue, { port, rate, seed, markets, replayFile });
  }
  let burstiness: number | undefined;
  if (v.burstiness !== undefined) {
    burstiness = Number(v.burstiness);
    if (typeof v.burstiness !== "string" || !(burstiness >= 0 && burstiness <= 1)) throw new UsageError(`--burstiness must be in 0..1, got ${JSON.stringify(v.burstiness)}`);
  }
  const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : DEFAULT_SYMBOLS);
  const replayFile = typeof v.replay === "string" ? v.replay : undefined;
  if (replayFile !== undefined && !(await Bun.file(replayFile).exists())) throw new UsageError(`--replay: no such file ${replayFile}`);
  let replayDepth: number | undefined;
  if (v["replay-depth"] !== undefined) {
    if (replayFile === undefined) throw new UsageError("--replay-depth needs --replay FILE");
    replayDepth = intOption(v["replay-depth"], "replay-depth", 0, 1, 1000);
  }

  let sim;
  try {
    sim = await startBybitSimulator({ port, hostname: "127.0.0.1", markets, messagesPerSecond: rate, seed, burstiness, replayFile, replayDepth });
  } catch (err) {
    // A depth the market does not serve, or below the recorded one: the loader says which.
    if (replayDepth !== undefined && err instanceof Error && err.message.includes("replay depth")) throw new UsageError(`--replay-depth: ${err.message.replace(/^sim: /, "")}`);
    throw err;
  }
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  for (const m of markets) ctx.out(`${m.market.padEnd(7)} ${sim.wsUrl}/${m.market}  ${m.symbols.join(" ")}`);
  for (const t of sim.topics()) if (t.kind === "replay") ctx.out(`replay  ${t.market} ${t.topic}  ${t.lines} lines`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault, step, instrument, rest; GET stats)`);
  ctx.log.info("bybit simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate, seed, replay: replayFile, replayDepth });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
