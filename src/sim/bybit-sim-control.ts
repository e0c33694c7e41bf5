/**
 * The Bybit simulator's control surface: HTTP endpoints under /sim/ on the simulator's own (loopback) server, so a
 * running `feeder sim` can be driven from outside the process (curl, a test harness):
 *
 *   POST /sim/fault       {type, market?, symbol?, stallMs?}  inject a fault (see SimFault)
 *   POST /sim/step        {n?}                                emit n steps now (like BybitSim.step)
 *   POST /sim/instrument  {market, symbol, tickSize?, lotSize?}  change a generated symbol's tick/lot size
 *                         (positive plain decimals, at most 15 decimals, mantissas below 2^53; see sim-book.ts)
 *   POST /sim/rest        {available, market?}                make instruments-info answer 503 (false) or normally,
 *                                                             for every category or only `market`
 *   POST /sim/listing     {market, symbol, listed}            hide a simulated symbol from instruments-info (a
 *                                                             listing that is not live yet) or show it
 *   GET  /sim/stats                                           counters and every served topic
 *
 * Parameters come from the query string, a JSON object body, or both (the body wins). Every answer is JSON:
 * `{"ok":true,...}` with 200, or `{"ok":false,"field":F,"error":"F: ..."}` with 400 naming the bad field. A bad
 * request never reaches the simulator's state, and nothing thrown here escapes to the server.
 * @module
 */
import type { MarketName } from "../core/types.ts";
import { controlInt } from "./control-int.ts";
import { SimSpecError, stepExponent } from "./sim-book.ts";
import { SIM_FAULTS, type SimFault, type SimFaultSummary, type SimStats, type SimTopicInfo } from "./bybit-sim-types.ts";

const MARKETS: readonly MarketName[] = ["spot", "linear", "inverse", "option"];
const MAX_BODY_CHARS = 64 * 1024;
const MAX_STALL_MS = 3_600_000;
const MAX_STEPS = 100_000;

/** What the control endpoints need from the simulator. */
export interface SimControlHost {
  readonly stats: SimStats;
  inject(fault: SimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): SimFaultSummary;
  step(n?: number): void;
  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; lotSize?: string }): void;
  setRestAvailable(ok: boolean, market?: MarketName): void;
  setListed(market: MarketName, symbol: string, listed: boolean): void;
  topics(): SimTopicInfo[];
  /** Markets on which the symbol is generated or replayed. */
  marketsOf(symbol: string): MarketName[];
  /** True when the symbol is generated (not replayed) on the market. */
  isGenerated(market: MarketName, symbol: string): boolean;
}

class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly status = 400,
  ) {
    super(`${field}: ${message}`);
  }
}

const ENDPOINTS: Record<string, { method: "GET" | "POST"; fields: readonly string[]; run: (host: SimControlHost, p: Params) => Record<string, unknown> }> = {
  "/sim/fault": { method: "POST", fields: ["type", "market", "symbol", "stallMs"], run: fault },
  "/sim/step": { method: "POST", fields: ["n"], run: step },
  "/sim/instrument": { method: "POST", fields: ["market", "symbol", "tickSize", "lotSize"], run: instrument },
  "/sim/rest": { method: "POST", fields: ["available", "market"], run: rest },
  "/sim/listing": { method: "POST", fields: ["market", "symbol", "listed"], run: listing },
  "/sim/stats": { method: "GET", fields: [], run: (host) => ({ stats: { ...host.stats }, topics: host.topics() }) },
};

type Params = Record<string, unknown>;

/** Answers a request whose path starts with /sim/. */
export async function handleControl(host: SimControlHost, req: Request, url: URL): Promise<Response> {
  try {
    const path = url.pathname.replace(/\/+$/, "");
    const ep = ENDPOINTS[path];
    if (!ep) throw new BadRequest("path", `no such endpoint ${url.pathname} (${Object.entries(ENDPOINTS).map(([p, e]) => `${e.method} ${p}`).join(", ")})`, 404);
    if (req.method !== ep.method) {
      return json({ ok: false, field: "method", error: `method: ${path} takes ${ep.method}, got ${req.method}` }, 405, { Allow: ep.method });
    }
    const params = await readParams(req, url);
    for (const k of Object.keys(params)) {
      if (!ep.fields.includes(k)) throw new BadRequest(k, `unknown field${ep.fields.length > 0 ? ` (${path} takes ${ep.fields.join(", ")})` : ` (${path} takes none)`}`);
    }
    return json({ ok: true, ...ep.run(host, params) }, 200);
  } catch (err) {
    if (err instanceof BadRequest) return json({ ok: false, field: err.field, error: err.message }, err.status);
    return json({ ok: false, error: `internal: ${err instanceof Error ? err.message : String(err)}` }, 500);
  }
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body) + "\n", { status, headers: { "content-type": "application/json", ...headers } });
}

async function readParams(req: Request, url: URL): Promise<Params> {
  const params: Params = {};
  for (const [k, v] of url.searchParams) params[k] = v;
  if (req.method === "GET") return params;
  const text = await req.text();
  if (text.length > MAX_BODY_CHARS) throw new BadRequest("body", `larger than ${MAX_BODY_CHARS} characters`, 413);
  if (text.trim() === "") return params;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest("body", `not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BadRequest("body", "must be a JSON object");
  return { ...params, ...(body as Params) };
}

function fault(host: SimControlHost, p: Params): Record<string, unknown> {
  if (p.type === undefined) throw new BadRequest("type", `required: one of ${SIM_FAULTS.join(", ")}`);
  if (typeof p.type !== "string" || !SIM_FAULTS.includes(p.type as SimFault)) throw new BadRequest("type", `${JSON.stringify(p.type)} is not one of ${SIM_FAULTS.join(", ")}`);
  const type = p.type as SimFault;
  let stallMs: number | undefined;
  if (p.stallMs !== undefined) {
    if (type !== "stall") throw new BadRequest("stallMs", `only applies to type stall, not ${type}`);
    stallMs = intParam(p.stallMs, "stallMs", 1, MAX_STALL_MS);
  }
  const target = targetOf(host, p, false);
  return { ...host.inject(type, target, stallMs !== undefined ? { stallMs } : undefined) };
}

function step(host: SimControlHost, p: Params): Record<string, unknown> {
  const n = p.n === undefined ? 1 : intParam(p.n, "n", 1, MAX_STEPS);
  const before = host.stats.messagesSent;
  host.step(n);
  return { n, messagesSent: host.stats.messagesSent - before };
}

function instrument(host: SimControlHost, p: Params): Record<string, unknown> {
  const target = targetOf(host, p, true)!;
  if (!host.isGenerated(target.market, target.symbol)) throw new BadRequest("symbol", `${target.market}:${target.symbol} is replayed; only generated symbols change instrument`);
  const change: { tickSize?: string; lotSize?: string } = {};
  for (const k of ["tickSize", "lotSize"] as const) {
    const v = p[k];
    if (v === undefined) continue;
    if (typeof v !== "string") throw new BadRequest(k, `must be a positive decimal string like "0.01", got ${JSON.stringify(v)}`);
    try {
      stepExponent(v, k); // positive plain decimal, at most MAX_SIM_STEP_DECIMALS decimals, mantissa below 2^53
    } catch (err) {
      if (err instanceof SimSpecError) throw new BadRequest(err.field, err.detail);
      throw err;
    }
    change[k] = v;
  }
  if (Object.keys(change).length === 0) throw new BadRequest("tickSize", "give tickSize, lotSize or both");
  try {
    // Also refuses (changing nothing) a step the symbol's book cannot be expressed in, e.g. prices beyond 2^53.
    host.changeInstrument(target.market, target.symbol, change);
  } catch (err) {
    if (err instanceof SimSpecError) throw new BadRequest(err.field, err.detail);
    throw err;
  }
  return { market: target.market, symbol: target.symbol, ...change };
}

function rest(host: SimControlHost, p: Params): Record<string, unknown> {
  const available = boolParam(p.available, "available");
  if (p.market !== undefined && (typeof p.market !== "string" || !MARKETS.includes(p.market as MarketName))) {
    throw new BadRequest("market", `${JSON.stringify(p.market)} is not one of ${MARKETS.join(", ")}`);
  }
  const market = p.market as MarketName | undefined;
  host.setRestAvailable(available, market);
  return market === undefined ? { available } : { available, market };
}

function listing(host: SimControlHost, p: Params): Record<string, unknown> {
  const target = targetOf(host, p, true)!;
  const listed = boolParam(p.listed, "listed");
  host.setListed(target.market, target.symbol, listed);
  return { market: target.market, symbol: target.symbol, listed };
}

function boolParam(v: unknown, name: string): boolean {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw new BadRequest(name, `required: true or false, got ${JSON.stringify(v)}`);
}

/** market + symbol → a target; symbol alone picks its market when only one has it; neither → every symbol (unless required). */
function targetOf(host: SimControlHost, p: Params, required: boolean): { market: MarketName; symbol: string } | undefined {
  if (p.market !== undefined && (typeof p.market !== "string" || !MARKETS.includes(p.market as MarketName))) {
    throw new BadRequest("market", `${JSON.stringify(p.market)} is not one of ${MARKETS.join(", ")}`);
  }
  if (p.symbol === undefined) {
    if (p.market !== undefined || required) throw new BadRequest("symbol", "required" + (p.market !== undefined ? " with market" : ""));
    return undefined;
  }
  if (typeof p.symbol !== "string" || p.symbol.trim() === "") throw new BadRequest("symbol", `must be a non-empty string, got ${JSON.stringify(p.symbol)}`);
  const symbol = p.symbol.trim().toUpperCase();
  const markets = host.marketsOf(symbol);
  if (p.market !== undefined) {
    const market = p.market as MarketName;
    if (!markets.includes(market)) throw new BadRequest("symbol", `${market}:${symbol} is not simulated${markets.length > 0 ? ` (${symbol} is on ${markets.join(", ")})` : ""}`);
    return { market, symbol };
  }
  if (markets.length === 0) throw new BadRequest("symbol", `${symbol} is not simulated`);
  if (markets.length > 1) throw new BadRequest("market", `required: ${symbol} is on ${markets.join(", ")}`);
  return { market: markets[0]!, symbol };
}

function intParam(v: unknown, name: string, min: number, max: number): number {
  const n = controlInt(v, min, max);
  if (typeof n === "string") throw new BadRequest(name, n);
  return n;
}
