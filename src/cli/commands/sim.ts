/**
 * `feeder sim --venue bybit`: runs the Bybit v5 exchange simulator (WebSocket + REST instruments) on 127.0.0.1
 * until SIGINT/SIGTERM, and prints its URLs on stdout so a feeder config (or `feeder run`) can point at it. Faults,
 * steps and instrument changes are driven over HTTP on the same port (/sim/*, bybit-sim-control.ts). `--venue
 * coinbase` runs the Coinbase Advanced Trade simulator instead (sim-coinbase.ts).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import { startBinanceSimulator } from "../../sim/binance-sim.ts";
import { loadBinanceRecording, type ReplaySymbol } from "../../sim/binance-sim-replay.ts";
import { startBybitSimulator } from "../../sim/bybit-sim.ts";
import { startOkxSimulator } from "../../sim/okx-sim.ts";
import { COINBASE_SIM_HELP, runCoinbaseSim } from "./sim-coinbase.ts";
import { UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { DERIBIT_DEFAULT_SYMBOLS, runDeribitSim } from "./sim-deribit.ts";
import { decimal, intIn } from "./number-args.ts";
import { runUpbitSim, UPBIT_SIM_DEFAULT_SYMBOLS } from "./sim-upbit.ts";
import { refuseEmptyReplay, replayFileOf, startError } from "./sim-replay-arg.ts";

const DEFAULT_SYMBOLS = "linear:BTCUSDT,linear:ETHUSDT,spot:BTCUSDT";
const DEFAULT_OKX_SYMBOLS = "spot:BTC-USDT,linear:BTC-USDT-SWAP,inverse:BTC-USD-SWAP";
const DEFAULT_RATE = 100;
const MARKETS: readonly MarketName[] = ["spot", "linear", "inverse", "option"];

export const simCommand: CommandSpec = {
  name: "sim",
  summary: "run an exchange simulator (Bybit v5, OKX v5, Binance spot + USD-M, Deribit API v2, Coinbase Advanced Trade, Upbit or Bithumb) on 127.0.0.1",
  help: [
    "Options:",
    "      --venue V        venue to simulate: bybit (default), okx (see \"OKX\" below), binance (spot and",
    "                       USD-M = market linear; see `Binance` below), deribit (see the Deribit section below),",
    "                       coinbase (see the Coinbase section below), upbit or bithumb (see Upbit / Bithumb below)",
    "  -p, --port N         TCP port (default 0 = any free port; the URLs are printed)",
    `  -s, --symbols LIST   market:SYMBOL,… (default ${DEFAULT_SYMBOLS}); markets: ${MARKETS.join(", ")}`,
    `  -r, --rate N         book messages per second across subscribed topics (default ${DEFAULT_RATE}; 0 = idle)`,
    "      --seed N         random seed (default 1): the same seed gives the same books",
    "  Connect limits: a WebSocket upgrade past the venue's per-IP limit is refused with 429 (OKX 3/s, Coinbase",
    "  8/s, Upbit 5/s and 100/min, Bithumb 10/s, Binance spot 300/5 min, Bybit 500/5 min; Deribit none).",
    "      --burstiness P   probability that a step is a burst of many level changes (default 0.05; bybit, okx)",
    "      --replay FILE    serve a recording to whoever subscribes its topics: JSONL (one WebSocket payload per",
    "                       line; its symbol is served on the market --symbols gives it, default linear) or a",
    "                       `feeder record` capture (.fcap; each frame on the market it was recorded from).",
    "                       Topics are served under their recorded names (printed at start). A FIFO, a directory,",
    "                       a file the venue's loader does not take, or one with nothing it serves (another venue's",
    "                       recording; OKX: no instrument --symbols names) exits 2 naming it.",
    "      --replay-depth N serve the recording's topics as orderbook.N.SYMBOL (the frames' topic field rewritten",
    "                       too): for recordings of a depth Bybit no longer has, e.g. orderbook.500 → 1000, which",
    "                       a feeder config can subscribe (it accepts 1, 50, 200, 1000). N >= the recorded depth.",
    "",
    "--port, --symbols, --rate and --seed apply to every venue; the other options only to the venues whose sections",
    "name them (--replay: every venue but coinbase). One given for another venue is a usage error (exit 2).",
    "Runs until SIGINT, SIGTERM or SIGHUP (exit 0), which closes its server at once; the same signal again",
    "during that stop ends the process (the signal's default action). A port in use exits 1.",
    "",
    "Clients connect to <wsUrl>/<market> (e.g. ws://127.0.0.1:PORT/v5/public/linear) and query",
    "<restUrl>/v5/market/instruments-info?category=<market>. Point a feeder config's wsUrl/restUrl at them.",
    "",
    "Control (HTTP on the same port, 127.0.0.1 only; parameters as query or JSON body; answers JSON,",
    "400 naming the bad field):",
    "  POST <restUrl>/sim/fault       type=gap|reset|disconnect|stall|malformed|duplicate|crossed [market=M symbol=S]",
    "                                 [stallMs=N]  (no symbol = every symbol; stall default 5000 ms)",
    "  POST <restUrl>/sim/step        [n=N]  emit N steps now (N deltas per subscribed topic / N recorded lines)",
    "  POST <restUrl>/sim/instrument  market=M symbol=S [tickSize=D] [lotSize=D]  (u restarts at 1)",
    "  POST <restUrl>/sim/rest        available=true|false [market=M]  (instruments-info answers 503 when false)",
    "  POST <restUrl>/sim/listing     market=M symbol=S listed=true|false  (left out of instruments-info while false)",
    "  GET  <restUrl>/sim/stats       counters and every served topic (subscribers, u, replay position)",
    "",
    "OKX (--venue okx): <wsUrl> is ws://127.0.0.1:PORT/ws/v5/public for every market; REST",
    "<restUrl>/api/v5/public/instruments?instType=SPOT|SWAP|FUTURES|OPTION and /api/v5/market/books?instId=&sz=.",
    "Channels books (400), books5, bbo-tbt. Default symbols " + DEFAULT_OKX_SYMBOLS + ". A connection it has pushed",
    "nothing to for 30 s (no data, ack or pong) is closed, as OKX does: a client pings (text ping) a quiet one.",
    "      --okx-checksums     real checksums in books (default 0, as OKX sends since June 2026)",
    "      --okx-no-snapshot   books starts with updates (clients bridge a REST snapshot by seqId)",
    "  --replay FILE serves a recording's books frames (cryptofeed OKX.ws format or JSONL payloads) under their",
    "  instIds; give their markets with --symbols (e.g. spot:BTC-USDT,inverse:UNI-USD-SWAP).",
    "  POST <restUrl>/sim/fault  type=gap|reset|lost_reset|stale_snapshot|disconnect|stall|malformed|duplicate|",
    "                            keepalive|notice|checksum  [symbol=INSTID] [stallMs=N] [stampedBackMs=N]",
    "                            (reset = maintenance reset, on books5/bbo-tbt stamped N ms back with stampedBackMs;",
    "                            lost_reset = one a few seqIds below the last, lost; stale_snapshot = the next",
    "                            subscribe gets the snapshot as of the fault, then the messages since; notice = 64008)",
    "  POST <restUrl>/sim/rest   fault=refuse|no_bridge symbol=INSTID   (the next REST book: 429, or too old)",
    "  POST <restUrl>/sim/step [n=N], GET <restUrl>/sim/stats",
    "  POST <restUrl>/sim/instruments-limit?count=N[&retry_after=S]  the next N instrument requests: 429 (OKX,",
    "                            Deribit, Coinbase; Retry-After: S); Bybit: 403 access too frequent, as it also",
    "                            answers for 10 min after more than 600 instruments-info requests in 5 s",
    ...COINBASE_SIM_HELP,
    "",
    "Examples:",
    "  feeder sim --port 18080",
    "  feeder sim --symbols spot:BTCUSDT,linear:BTCUSDT,option:BTC-27MAR26-70000-P-USDT --rate 1000",
    "  feeder sim --replay test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl --replay-depth 1000 \\",
    "             --symbols linear:XRPUSDT --rate 10     # then feeder run with [venues.bybit.linear] depth = 1000",
    "  curl -X POST 'http://127.0.0.1:18080/sim/fault?type=gap&market=linear&symbol=BTCUSDT'",
    "  curl -X POST http://127.0.0.1:18080/sim/fault -d '{\"type\":\"stall\",\"stallMs\":3000}'",
    "",
    "Binance (--venue binance): spot combined streams at <wsUrl>/stream, USD-M at <wsUrl>/public/stream; REST",
    "/api/v3 and /fapi/v1 depth and exchangeInfo. --symbols markets: spot, linear (default spot:BTCUSDT,",
    "linear:BTCUSDT). --replay FILE: a cryptofeed recording (test/fixtures/cryptofeed/BINANCE.ws.1.0, or",
    "BINANCE_FUTURES.ws.1.0 with --replay-market linear), its .http.0.0 beside it giving the REST snapshots",
    "(one that cannot be read, or whose snapshots are the other market's, exits 2 naming --replay); the symbols",
    "replayed are printed (replay  MARKET:SYMBOL  N frames).",
    "      --replay-market M   the market the --replay recording is served on: spot (default) | linear",
    "      --max-connection-age-ms N  close every connection N ms after it opened (default 24 h, as Binance)",
    "Control (query parameters):",
    "  POST <restUrl>/sim/fault  type=gap|duplicate|malformed|disconnect|stall|serverShutdown [market=M symbol=S]",
    "  POST <restUrl>/sim/rest   kind=refuse|ban|error|no_bridge market=M symbol=S  (next depth request: 429, 418,",
    "                            500, or a stale snapshot the diffs cannot bridge)",
    "  POST <restUrl>/sim/step   [n=N];  GET <restUrl>/sim/stats",
    "Deribit (--venue deribit): JSON-RPC 2.0 on <wsUrl> (ws://127.0.0.1:PORT/ws/api/v2) and",
    "<restUrl>/api/v2/public/get_instruments; book.X.100ms and book.X.none.{1,10,20}.100ms; raw channels are",
    `refused with 13778. Default symbols ${DERIBIT_DEFAULT_SYMBOLS}. --replay takes a recording of`,
    "book notifications (cryptofeed `TS: payload` lines, JSONL or a capture), served on option: book.X.raw as",
    "book.X.100ms; book.X.100ms/agg2 and book.X.none.{1,10,20}.100ms/agg2 as recorded; other book channels",
    "skipped with a warning.",
    "  POST <restUrl>/sim/fault?type=gap|reset|reset_low|disconnect|stall|malformed|duplicate|change_id_break|",
    "                           rate_limit|test_request|heartbeat_refused [&market=M&symbol=S] [&stallMs=N] [&count=N]",
    "  POST <restUrl>/sim/step?n=N     GET <restUrl>/sim/stats;  /sim/instruments-limit as for OKX (error 10028)",
    "  feeder sim --venue deribit --replay test/fixtures/cryptofeed/DERIBIT.ws.1.0 --rate 5",
    "Upbit / Bithumb (--venue upbit|bithumb; docs/venues/upbit.md, bithumb.md): clients connect to <wsUrl>",
    `(ws://127.0.0.1:PORT/websocket/v1); REST /v1/market/all, /v1/ticker, /v1/orderbook/instruments (Upbit). --symbols`,
    `takes codes on market spot (default ${UPBIT_SIM_DEFAULT_SYMBOLS}); --replay FILE serves a recording`,
    "(cryptofeed `ts: b'…'` lines, e.g. test/fixtures/cryptofeed/UPBIT.ws.62.0, or one JSON frame per line),",
    "its frames as recorded whatever units a code is asked at: that file's 15 units are refused (over_depth) by a",
    "feeder asking 1 or 5.",
    "A connection with nothing sent either way for 60 s (the idle close seen) is closed: a client sends PING.",
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
    "replay-market": { type: "string" },
    "max-connection-age-ms": { type: "string" },
    "okx-checksums": { type: "boolean" },
    "okx-no-snapshot": { type: "boolean" },
  },
  run: runSim,
};

/** The options every simulator reads. */
export const COMMON_OPTIONS: readonly string[] = ["venue", "port", "symbols", "rate", "seed", "help"];
/** The other options each venue's simulator reads; any other given is a usage error (it would do nothing). */
export const VENUE_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  bybit: ["burstiness", "replay", "replay-depth"],
  okx: ["burstiness", "replay", "okx-checksums", "okx-no-snapshot"],
  binance: ["replay", "replay-market", "max-connection-age-ms"],
  deribit: ["replay"],
  coinbase: [],
  upbit: ["replay"],
  bithumb: ["replay"],
};

/** Refuses an option given that `venue`'s simulator does not read, naming it, the venue and the venues it is for. */
function refuseInapplicable(venue: string, values: CommandContext["values"]): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || COMMON_OPTIONS.includes(name) || VENUE_OPTIONS[venue]!.includes(name)) continue;
    const venues = Object.keys(VENUE_OPTIONS).filter((v) => VENUE_OPTIONS[v]!.includes(name));
    throw new UsageError(`--${name} is for ${venues.join(" and ")} only; it does not apply to --venue ${venue}`);
  }
}

function burstinessOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const p = decimal(v);
  if (!(p >= 0 && p <= 1)) throw new UsageError(`--burstiness must be in 0..1, got ${JSON.stringify(v)}`);
  return p;
}


/**
 * Parses "market:SYM,market:SYM" into per-market symbol lists (order kept, duplicates dropped), upper-cased but for a
 * "d" written between digits: Deribit's decimal point in a linear option's strike (XRP_USDC-30JUN23-0d625-C, as the
 * feeder's configuration takes it). Before, served as 0D625, a name no config of the real instrument subscribes.
 */
export function parseSymbolList(text: string): { market: MarketName; symbols: string[] }[] {
  const byMarket = new Map<MarketName, string[]>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const colon = item.indexOf(":");
    if (colon <= 0 || colon === item.length - 1) throw new UsageError(`--symbols: expected market:SYMBOL, got ${JSON.stringify(item)}`);
    const market = item.slice(0, colon) as MarketName;
    if (!MARKETS.includes(market)) throw new UsageError(`--symbols: unknown market ${JSON.stringify(market)} (use ${MARKETS.join(", ")})`);
    const chars = Array.from(item.slice(colon + 1));
    const symbol = chars.map((c, i) => (c === "d" && /\d/.test(chars[i - 1] ?? "") && /\d/.test(chars[i + 1] ?? "") ? c : c.toUpperCase())).join("");
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
  if (!Object.hasOwn(VENUE_OPTIONS, venue)) throw new UsageError(`--venue: bybit, okx, binance, deribit, coinbase, upbit or bithumb, got ${JSON.stringify(venue)}`);
  refuseInapplicable(venue, v);
  const replayFile = replayFileOf(v.replay);
  try {
    return await runVenueSim(ctx, venue, replayFile);
  } catch (err) {
    throw startError(err, replayFile);
  }
}

async function runVenueSim(ctx: CommandContext, venue: string, replayFile: string | undefined): Promise<number> {
  const v = ctx.values;
  if (venue === "binance") return runBinanceSim(ctx, replayFile);
  if (venue === "okx") return runOkxSim(ctx, replayFile);
  const port = intIn(v.port, "port", 0, 0, 65535);
  const rate = intIn(v.rate, "rate", DEFAULT_RATE, 0, 10_000_000);
  const seed = intIn(v.seed, "seed", 1, 0, 2 ** 32 - 1);
  if (venue === "coinbase") return runCoinbaseSim(ctx, { port, rate, seed, symbols: typeof v.symbols === "string" ? v.symbols : undefined });
  if (venue === "upbit" || venue === "bithumb") {
    const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : UPBIT_SIM_DEFAULT_SYMBOLS);
    return runUpbitSim(ctx, venue, { port, rate, seed, markets, replayFile });
  }
  const burstiness = burstinessOption(v.burstiness);
  const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : venue === "deribit" ? DERIBIT_DEFAULT_SYMBOLS : DEFAULT_SYMBOLS);
  if (venue === "deribit") return runDeribitSim(ctx, { port, rate, seed, markets, replayFile });
  let replayDepth: number | undefined;
  if (v["replay-depth"] !== undefined) {
    if (replayFile === undefined) throw new UsageError("--replay-depth needs --replay FILE");
    replayDepth = intIn(v["replay-depth"], "replay-depth", 0, 1, 1000);
  }

  let sim;
  try {
    sim = await startBybitSimulator({ port, hostname: "127.0.0.1", markets, messagesPerSecond: rate, seed, burstiness, replayFile, replayDepth });
  } catch (err) {
    // A depth the market does not serve, or below the recorded one: the loader says which.
    if (replayDepth !== undefined && err instanceof Error && err.message.includes("replay depth")) throw new UsageError(`--replay-depth: ${err.message.replace(/^sim: /, "")}`);
    throw err;
  }
  await refuseEmptyReplay(replayFile, sim.topics().filter((t) => t.kind === "replay").length, () => sim.stop(), "no Bybit orderbook frames: a JSONL of WebSocket payloads or a capture");
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

async function runBinanceSim(ctx: CommandContext, replayFile: string | undefined): Promise<number> {
  const v = ctx.values;
  const port = intIn(v.port, "port", 0, 0, 65535);
  const rate = intIn(v.rate, "rate", DEFAULT_RATE, 0, 10_000_000);
  const seed = intIn(v.seed, "seed", 1, 0, 2 ** 32 - 1);
  const parsed = parseSymbolList(typeof v.symbols === "string" ? v.symbols : "spot:BTCUSDT,linear:BTCUSDT");
  for (const m of parsed) if (m.market !== "spot" && m.market !== "linear") throw new UsageError(`--symbols: Binance markets are spot and linear (USD-M), got ${m.market}`);
  const markets = parsed as { market: "spot" | "linear"; symbols: string[] }[];
  if (v["replay-market"] !== undefined && replayFile === undefined) throw new UsageError("--replay-market needs --replay FILE");
  const replayMarket = v["replay-market"] === undefined ? "spot" : v["replay-market"];
  if (replayMarket !== "spot" && replayMarket !== "linear") throw new UsageError(`--replay-market: spot or linear, got ${JSON.stringify(replayMarket)}`);
  const age = v["max-connection-age-ms"] === undefined ? undefined : intIn(v["max-connection-age-ms"], "max-connection-age-ms", 0, 1, 2 ** 31 - 1);
  const replayed = replayFile === undefined ? [] : checkBinanceReplay(replayFile, replayMarket);
  const sim = await startBinanceSimulator({
    port,
    markets,
    messagesPerSecond: rate,
    seed,
    ...(age !== undefined ? { maxConnectionAgeMs: age } : {}), // else the simulator's default, Binance's 24 h
    ...(replayFile ? { replay: { wsFile: replayFile, market: replayMarket } } : {}),
  });
  ctx.out(`wsUrl   ${sim.wsUrl}   (spot ${sim.wsUrl}/stream, USD-M ${sim.wsUrl}/public/stream)`);
  ctx.out(`restUrl ${sim.restUrl}`);
  for (const m of markets) ctx.out(`${m.market.padEnd(7)} ${m.symbols.join(" ")}`);
  for (const r of replayed) ctx.out(`replay  ${replayMarket}:${r.symbol}  ${r.diffs.length} frames`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault, rest, step; GET stats)`);
  ctx.log.info("binance simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate, seed, replay: replayFile });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}

/**
 * A --replay recording the Binance simulator can serve: its .http.0.0 beside it readable (until 2026-12-07 a missing
 * one was ENOENT, exit 1, as if the host were at fault), and a depthUpdate of a symbol it has a snapshot of (another
 * venue's recording served generated books without a word), its snapshots asked of the market it is served on (the
 * URL's /api/v3/ or /fapi/). The symbols served, with their frames. Read here once more before the simulator: cold.
 */
function checkBinanceReplay(file: string, market: "spot" | "linear"): ReplaySymbol[] {
  let served: ReplaySymbol[];
  try {
    served = loadBinanceRecording(file, { warn: false }); // the simulator's reading warns of odd lines, once
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err; // the loader's own refusal: startError names --replay
    throw new UsageError(`--replay ${file}: a recording or the REST snapshots (.http.0.0) beside it cannot be read: ${(err as Error).message}`);
  }
  served = served.filter((s) => s.diffs.length > 0);
  if (served.length === 0) {
    throw new UsageError(`--replay ${file}: nothing in it to serve (no Binance depthUpdate frames of a symbol its .http.0.0 has a snapshot of)`);
  }
  // A USD-M recording served as spot (or spot as USD-M) gave clients of that market the other market's books.
  const other = served.find((s) => s.restMarket !== undefined && s.restMarket !== market)?.restMarket;
  if (other === "linear") throw new UsageError(`--replay ${file}: its REST snapshots (.http.0.0) are Binance USD-M's (/fapi/): give --replay-market linear`);
  if (other === "spot") throw new UsageError(`--replay ${file}: its REST snapshots (.http.0.0) are Binance spot's (/api/v3/): give --replay-market spot`);
  return served;
}

async function runOkxSim(ctx: CommandContext, replayFile: string | undefined): Promise<number> {
  const v = ctx.values;
  const port = intIn(v.port, "port", 0, 0, 65535);
  const rate = intIn(v.rate, "rate", DEFAULT_RATE, 0, 10_000_000);
  const seed = intIn(v.seed, "seed", 1, 0, 2 ** 32 - 1);
  const burstiness = burstinessOption(v.burstiness);
  const markets = parseSymbolList(typeof v.symbols === "string" ? v.symbols : DEFAULT_OKX_SYMBOLS);
  const sim = await startOkxSimulator({ port, hostname: "127.0.0.1", markets, messagesPerSecond: rate, seed, burstiness, replayFile, checksums: v["okx-checksums"] === true, initialSnapshot: v["okx-no-snapshot"] !== true });
  await refuseEmptyReplay(replayFile, sim.replayTopics().length, () => sim.stop(), "no OKX books frames of an instrument --symbols names: give the recording's instIds with their markets");
  ctx.out(`wsUrl   ${sim.wsUrl}`);
  ctx.out(`restUrl ${sim.restUrl}`);
  for (const m of markets) ctx.out(`${m.market.padEnd(7)} ${m.symbols.join(" ")}`);
  for (const r of sim.replayTopics()) ctx.out(`replay  books:${r.instId}  ${r.frames} frames`);
  ctx.out(`control ${sim.restUrl}/sim/  (POST fault, step, rest; GET stats)`);
  ctx.log.info("okx simulator running", { wsUrl: sim.wsUrl, restUrl: sim.restUrl, rate, seed, replay: replayFile });
  const signal = await ctx.stopSignal;
  ctx.log.info("stopping simulator", { signal, ...sim.stats });
  await sim.stop();
  return 0;
}
