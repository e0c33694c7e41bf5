/**
 * Instrument resolution and its disk cache, for every venue (cold): per symbol the config override, then the
 * venue's REST answer, then the cache (so a restart works while REST is unreachable); an unresolved symbol is left
 * out and named with the reason. The venue supplies the REST query (fetchSpecs) and the words for "not listed".
 * @module
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { exponentOf } from "../../core/fixed.ts";
import { instrumentIdOf } from "../../core/instrument-id.ts";
import type { Logger } from "../../core/log.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { instrumentSymbolOf, type Subscription } from "../venue.ts";

export interface InstrumentSpec {
  readonly tickSize: string;
  readonly lotSize: string;
}

const CACHE_VERSION = 1;

/** The venue's side of resolution. */
export interface InstrumentSource {
  /** Specs of a market's listed instruments, at least `symbols` (venue symbols); throws naming the URL on failure. */
  fetchSpecs(market: MarketName, symbols: readonly string[]): Promise<Map<string, InstrumentSpec>>;
  /** Why a symbol REST answered for is missing, e.g. "not listed by <url>; check the symbol and that it is Trading". */
  notListed(market: MarketName): string;
}

/** Disk cache: `{"version":1,"venue":"<venue>","savedAt":…,"instruments":{"linear:BTCUSDT":{"tickSize","lotSize"}}}`. */
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
export async function writeInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  const instruments: Record<string, InstrumentSpec> = {};
  for (const key of [...entries.keys()].sort()) instruments[key] = entries.get(key)!;
  const text = JSON.stringify({ version: CACHE_VERSION, venue, savedAt: new Date().toISOString(), instruments }, null, 1);
  await mkdir(dirname(path), { recursive: true });
  // Unique per writer: worker threads share the pid.
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, text + "\n");
  await rename(tmp, path);
}

/** The instrument of a subscription; an extra depth is `SYMBOL@depth` with its own id (venue.ts instrumentSymbolOf). */
export function makeInstrument(config: VenueConfig, sub: Subscription, spec: InstrumentSpec): Instrument {
  const symbol = instrumentSymbolOf(sub);
  return {
    instrumentId: instrumentIdOf(config.venue, sub.market, symbol),
    venue: config.venue,
    market: sub.market,
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
  subs: readonly Subscription[],
  source: InstrumentSource,
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
    if (!list.includes(s.symbol)) list.push(s.symbol);
    needRest.set(s.market, list);
  }
  const fromRest = new Map<string, InstrumentSpec>();
  const restError = new Map<MarketName, string>();
  await Promise.all(
    [...needRest].map(async ([market, symbols]) => {
      try {
        const specs = await source.fetchSpecs(market, symbols);
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
          : `${key} (${source.notListed(s.market)})`,
      );
      continue;
    }
    try {
      out.push(makeInstrument(config, s, spec));
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
    await writeInstrumentCache(cachePath, config.venue, toCache).catch((err) => log.warn("could not write the instrument cache", { path: cachePath, error: String(err) }));
  }
  return { instruments: out, problems };
}
