/**
 * Instrument metadata for Bybit v5: `GET /v5/market/instruments-info` (docs/venues/bybit.md §1.3) → tick size and
 * lot step → exponents. Precedence per symbol: config override, then REST, then the disk cache (so a restart
 * works while REST is unreachable). Cold path.
 * @module
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { exponentOf } from "../../core/fixed.ts";
import { instrumentIdOf } from "../../core/instrument-id.ts";
import type { Logger } from "../../core/log.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { optionBaseCoin } from "./protocol.ts";

export interface InstrumentSpec {
  readonly tickSize: string;
  readonly lotSize: string;
}

/** linear/inverse list more than 500 symbols: ask for the maximum page size and follow the cursor [§1.3]. */
const PAGE_LIMIT = 1000;
/** Guard against a cursor that never ends. */
const MAX_PAGES = 50;
const REST_TIMEOUT_MS = 10_000;
const CACHE_VERSION = 1;

interface RestEnvelope {
  retCode?: number;
  retMsg?: string;
  result?: { list?: unknown[]; nextPageCursor?: string };
}

/**
 * Fetches specs for a category. `symbols` narrows option queries to their base coins; `symbol` asks for exactly one
 * (used to re-check one instrument after `u = 1`). Throws with the URL and Bybit's retCode/retMsg on failure.
 */
export async function fetchInstrumentSpecs(
  fetchFn: typeof fetch,
  restUrl: string,
  market: MarketName,
  symbols: readonly string[],
  oneSymbol?: string,
): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  const base = `${restUrl.replace(/\/+$/, "")}/v5/market/instruments-info?category=${market}`;
  const queries: string[] = [];
  if (oneSymbol !== undefined) {
    queries.push(`${base}&symbol=${encodeURIComponent(oneSymbol)}${market === "option" ? `&baseCoin=${encodeURIComponent(optionBaseCoin(oneSymbol))}` : ""}`);
  } else if (market === "spot") {
    queries.push(base); // spot does not paginate; limit and cursor are invalid there [§1.3]
  } else if (market === "option") {
    // The option default baseCoin is BTC, so every other base coin needs its own query [§1.3].
    for (const coin of new Set(symbols.map(optionBaseCoin))) queries.push(`${base}&baseCoin=${encodeURIComponent(coin)}&limit=${PAGE_LIMIT}`);
  } else {
    queries.push(`${base}&limit=${PAGE_LIMIT}`);
  }
  for (const first of queries) {
    let url = first;
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) throw new Error(`bybit REST ${first}: more than ${MAX_PAGES} pages`);
      let res: Response;
      try {
        res = await fetchFn(url, { signal: AbortSignal.timeout(REST_TIMEOUT_MS) });
      } catch (err) {
        // Name the URL beside the OS error (Bun's message carries the code: "ECONNREFUSED: Unable to connect …").
        throw new Error(`bybit REST ${url}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (!res.ok) throw new Error(`bybit REST ${url}: HTTP ${res.status}`);
      const body = (await res.json()) as RestEnvelope;
      if (body.retCode !== 0 || !body.result || !Array.isArray(body.result.list)) {
        throw new Error(`bybit REST ${url}: retCode ${String(body.retCode)} ${String(body.retMsg ?? "")}`);
      }
      for (const item of body.result.list) {
        const spec = specOf(market, item);
        if (spec) out.set(spec.symbol, { tickSize: spec.tickSize, lotSize: spec.lotSize });
      }
      const cursor = body.result.nextPageCursor;
      if (market === "spot" || oneSymbol !== undefined || typeof cursor !== "string" || cursor === "") break;
      // The cursor comes URL-encoded already; sending it back as-is avoids double encoding [§1.3].
      url = `${first}&cursor=${cursor}`;
    }
  }
  return out;
}

/** Spot has no qtyStep: its quantity step is lotSizeFilter.basePrecision [§1.3]. */
function specOf(market: MarketName, item: unknown): { symbol: string; tickSize: string; lotSize: string } | null {
  if (typeof item !== "object" || item === null) return null;
  const it = item as { symbol?: unknown; priceFilter?: { tickSize?: unknown }; lotSizeFilter?: { qtyStep?: unknown; basePrecision?: unknown } };
  const tickSize = it.priceFilter?.tickSize;
  const lotSize = market === "spot" ? it.lotSizeFilter?.basePrecision : it.lotSizeFilter?.qtyStep;
  if (typeof it.symbol !== "string" || typeof tickSize !== "string" || typeof lotSize !== "string") return null;
  return { symbol: it.symbol, tickSize, lotSize };
}

/** Disk cache: `{"version":1,"venue":"bybit","savedAt":…,"instruments":{"linear:BTCUSDT":{"tickSize","lotSize"}}}`. */
export async function readInstrumentCache(path: string): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return out;
  }
  const body = JSON.parse(text) as { version?: number; instruments?: Record<string, InstrumentSpec> };
  if (body.version !== CACHE_VERSION || typeof body.instruments !== "object" || body.instruments === null) return out;
  for (const [key, spec] of Object.entries(body.instruments)) {
    if (typeof spec?.tickSize === "string" && typeof spec?.lotSize === "string") out.set(key, { tickSize: spec.tickSize, lotSize: spec.lotSize });
  }
  return out;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a cache. */
export async function writeInstrumentCache(path: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  const instruments: Record<string, InstrumentSpec> = {};
  for (const key of [...entries.keys()].sort()) instruments[key] = entries.get(key)!;
  const text = JSON.stringify({ version: CACHE_VERSION, venue: "bybit", savedAt: new Date().toISOString(), instruments }, null, 1);
  await mkdir(dirname(path), { recursive: true });
  // Unique per writer: worker threads share the pid.
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, text + "\n");
  await rename(tmp, path);
}

export function makeInstrument(config: VenueConfig, market: MarketName, symbol: string, spec: InstrumentSpec): Instrument {
  return {
    instrumentId: instrumentIdOf(config.venue, market, symbol),
    venue: config.venue,
    market,
    symbol,
    priceExp: exponentOf(spec.tickSize),
    qtyExp: exponentOf(spec.lotSize),
    tickSize: spec.tickSize,
    lotSize: spec.lotSize,
  };
}

/** Instruments in subscription order (undefined where unresolved) and, per unresolved symbol, why. */
export interface ResolvedInstruments {
  instruments: (Instrument | undefined)[];
  problems: string[];
}

/**
 * Resolves every (market, symbol) in order. REST failures are logged and covered by the cache; a symbol still
 * unresolved is left undefined and named, with the reason, in `problems` (the caller decides what is fatal).
 */
export async function resolveInstruments(
  config: VenueConfig,
  subs: readonly { market: MarketName; symbol: string }[],
  fetchFn: typeof fetch,
  log: Logger,
): Promise<ResolvedInstruments> {
  const cachePath = config.instrumentCachePath;
  const cache = cachePath ? await readInstrumentCache(cachePath).catch((err) => {
    log.warn("instrument cache unreadable; ignoring it", { path: cachePath, error: String(err) });
    return new Map<string, InstrumentSpec>();
  }) : new Map<string, InstrumentSpec>();
  const needRest = new Map<MarketName, string[]>();
  for (const s of subs) {
    if (config.overrides.has(`${s.market}:${s.symbol}`)) continue;
    const list = needRest.get(s.market) ?? [];
    list.push(s.symbol);
    needRest.set(s.market, list);
  }
  const fromRest = new Map<string, InstrumentSpec>();
  const restError = new Map<MarketName, string>();
  await Promise.all(
    [...needRest].map(async ([market, symbols]) => {
      try {
        const specs = await fetchInstrumentSpecs(fetchFn, config.restUrl, market, symbols);
        for (const [sym, spec] of specs) fromRest.set(`${market}:${sym}`, spec);
      } catch (err) {
        restError.set(market, err instanceof Error ? err.message : String(err));
        log.warn("instrument REST query failed; using the disk cache", { market, error: restError.get(market), cache: cachePath });
      }
    }),
  );
  const out: (Instrument | undefined)[] = [];
  const problems: string[] = [];
  const toCache = new Map(cache);
  let cacheDirty = false;
  for (const s of subs) {
    const key = `${s.market}:${s.symbol}`;
    const spec = config.overrides.get(key) ?? fromRest.get(key) ?? (restError.has(s.market) ? cache.get(key) : undefined);
    if (!spec) {
      out.push(undefined);
      problems.push(
        restError.has(s.market)
          ? `${key} (REST unreachable: ${restError.get(s.market)}; not in cache ${cachePath || "(none)"})`
          : `${key} (not listed by ${config.restUrl}/v5/market/instruments-info?category=${s.market}; check the symbol and that it is Trading)`,
      );
      continue;
    }
    try {
      out.push(makeInstrument(config, s.market, s.symbol, spec));
    } catch (err) {
      out.push(undefined);
      problems.push(`${key} (bad tick/lot ${spec.tickSize}/${spec.lotSize}: ${String(err)})`);
      continue;
    }
    const rest = fromRest.get(key);
    if (rest) {
      const old = toCache.get(key);
      if (!old || old.tickSize !== rest.tickSize || old.lotSize !== rest.lotSize) cacheDirty = true;
      toCache.set(key, rest);
    }
  }
  if (cacheDirty && cachePath) {
    await writeInstrumentCache(cachePath, toCache).catch((err) => log.warn("could not write the instrument cache", { path: cachePath, error: String(err) }));
  }
  return { instruments: out, problems };
}
