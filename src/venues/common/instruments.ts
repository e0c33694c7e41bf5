/**
 * Instrument resolution and its disk cache, for every venue (cold): per symbol the config override, then the
 * venue's REST answer, then the cache (so a restart works while REST is unreachable); an unresolved symbol is left
 * out and named with the reason (late-instruments.ts retries it while running). The venue supplies the REST query
 * (fetchSpecs) and the words for "not listed".
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
  /** Where REST lists the symbol but the source refused its specs (Upbit: no tick_size, an unsupported level): why. */
  whyRefused?(market: MarketName, symbol: string): string | undefined;
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

/**
 * Why a symbol has no instrument: its market's REST failed and the cache lacks it, REST does not list it, its
 * tick/lot is unusable, or it resolved while running but its book could not be added (late-instruments.ts).
 */
export type UnresolvedKind = "rest_unreachable" | "not_listed" | "bad_spec" | "join_failed";
export const UNRESOLVED_KINDS: readonly UnresolvedKind[] = ["rest_unreachable", "not_listed", "bad_spec", "join_failed"];

/** One subscription left without an instrument: its index, the kind and the sentence naming it. */
export interface UnresolvedEntry {
  readonly index: number;
  readonly kind: UnresolvedKind;
  readonly detail: string;
}

/** Instruments in subscription order (undefined where unresolved) and, per unresolved symbol, why. */
export interface ResolvedInstruments {
  instruments: (Instrument | undefined)[];
  problems: string[];
  /** The same symbols as `problems`, by subscription index (late-instruments.ts retries them). */
  unresolved: UnresolvedEntry[];
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
  const unresolved: UnresolvedEntry[] = [];
  const leaveOut = (index: number, key: string, kind: UnresolvedKind, detail: string) => {
    out.push(undefined);
    problems.push(`${key} (${detail})`);
    unresolved.push({ index, kind, detail });
  };
  const toCache = new Map(cache);
  let cacheDirty = false;
  for (const [index, s] of subs.entries()) {
    const key = `${s.market}:${s.symbol}`;
    const spec = config.overrides.get(key) ?? fromRest.get(key) ?? (restError.has(s.market) ? cache.get(key) : undefined);
    if (!spec) {
      if (restError.has(s.market)) leaveOut(index, key, "rest_unreachable", `REST unreachable: ${restError.get(s.market)}; not in cache ${cachePath || "(none)"}`);
      else {
        const refused = source.whyRefused?.(s.market, s.symbol);
        if (refused !== undefined) leaveOut(index, key, "bad_spec", refused);
        else leaveOut(index, key, "not_listed", source.notListed(s.market));
      }
      continue;
    }
    try {
      out.push(makeInstrument(config, s, spec));
    } catch (err) {
      leaveOut(index, key, "bad_spec", badSpec(spec, err));
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
  return { instruments: out, problems, unresolved };
}

/** The words for a tick/lot that makeInstrument refused. */
export function badSpec(spec: InstrumentSpec, err: unknown): string {
  return `bad tick/lot ${spec.tickSize}/${spec.lotSize}: ${String(err)}`;
}

/** The merge last queued per cache path: merges of one file run one after the other. */
const merging = new Map<string, Promise<void>>();

/**
 * Adds or updates entries of the disk cache (a symbol resolved while running, a changed tick), keeping every other
 * entry. Merges of one path queue behind each other: two markets answered at once would otherwise both read the old
 * file and the second write would drop the first one's entries.
 */
export function mergeIntoInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  const done = (merging.get(path) ?? Promise.resolve()).then(() => mergeNow(path, venue, entries));
  const tail = done.catch(() => undefined);
  merging.set(path, tail);
  void tail.then(() => {
    if (merging.get(path) === tail) merging.delete(path);
  });
  return done;
}

async function mergeNow(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  const cache = await readInstrumentCache(path).catch(() => new Map<string, InstrumentSpec>());
  let dirty = false;
  for (const [key, spec] of entries) {
    const old = cache.get(key);
    if (old && old.tickSize === spec.tickSize && old.lotSize === spec.lotSize) continue;
    cache.set(key, spec);
    dirty = true;
  }
  if (dirty) await writeInstrumentCache(path, venue, cache);
}
