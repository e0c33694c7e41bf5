/**
 * Instrument metadata for Deribit: `GET /api/v2/public/get_instruments?currency=…&kind=…&expired=false`, one query
 * per (currency, kind) the configured symbols need (docs/venues/deribit.md, "Instruments"). The tick is the one
 * `tick_size` and every `tick_size_steps[].tick_size` are multiples of (a price-dependent tick: the exponent must
 * hold all of them); the lot is `min_trade_amount` (USD on inverse futures and perpetuals); `expiration_timestamp` is when its
 * book is halted (common/instrument-watch.ts). Numbers are read from the response text, never through a double. Resolution order and the disk cache are common (../common/instruments.ts). Cold.
 * @module
 */
import { exponentOf, formatFixed, parseJsonNumberCodes } from "../../core/fixed.ts";
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { requestTimeout } from "../common/budgets.ts";
import { asError, emptyListing, ListedUnreadable, listedValue, PartialAnswer, type InstrumentSource, type InstrumentSpec, unusableField } from "../common/instruments.ts";
import { parseJsonRaw, RawNumber, type RawJson } from "./parse-json.ts";
import { currencyOf, ERR_TOO_MANY_REQUESTS, kindOf } from "./protocol.ts";
import { boundedText } from "../../core/terminal-text.ts";

const REST_TIMEOUT_MS = 10_000;

/** A step as a plain decimal ("1e-4" → "0.0001"); throws naming the text when it is no positive step. */
export function plainStep(text: string): string {
  const exp = exponentOf(text);
  const m = parseJsonNumberCodes(text, 0, text.length, exp);
  if (m <= 0) throw new Error(`bad step ${text}`);
  return formatFixed(m, exp);
}

/**
 * The tick every price of a price-dependent tick is a multiple of: the greatest common divisor of the tick sizes, at
 * the largest exponent among them (a plain decimal). For Deribit's nested steps (0.0001, then 0.0005 above 0.005) it
 * is the finest; before 2026-12-06 it was the finest at the largest exponent, so steps 2.5 and 1 gave 2.5, a tick
 * prices of 101 are no multiple of. Throws naming a text that is no positive step.
 */
export function finestTick(ticks: readonly string[]): string {
  const exp = Math.max(...ticks.map((t) => exponentOf(t)));
  let g = 0;
  for (const t of ticks) {
    const m = parseJsonNumberCodes(t, 0, t.length, exp);
    if (m <= 0) throw new Error(`bad step ${t}`);
    for (let a = m; a !== 0; ) [g, a] = [a, g % a];
  }
  return formatFixed(g, exp);
}

/** Whether `text` reads as a positive step (plainStep does not throw). */
function isStep(text: string): boolean {
  try {
    plainStep(text);
    return true;
  } catch {
    return false;
  }
}

function obj(v: RawJson | undefined): Record<string, RawJson> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof RawNumber) ? (v as Record<string, RawJson>) : undefined;
}

/** A listed field's value as the error names it: a number as listed, anything else as common listedValue. */
function shown(v: RawJson | undefined): string {
  return v instanceof RawNumber ? boundedText(v.text, 40) : listedValue(v);
}

/** What one get_instruments item reads as: its spec, or why it is refused (named: a bad_spec, never a guessed spec). */
export type ItemReading = { symbol: string; instrumentType?: string } & ({ spec: InstrumentSpec } | { refused: string });

/**
 * One get_instruments item → its spec, or why it is refused (a field missing or of the wrong type, naming the field
 * and its value); null when it names no instrument. Before 2026-12-07 a wrong-typed `expiration_timestamp` read as no
 * expiry, `is_active` as active and a `tick_size_steps[].tick_size` was left out (the tick, and so the price
 * exponent, read from the other steps alone).
 */
export function specOfItem(item: RawJson): ItemReading | null {
  const it = obj(item);
  if (!it || typeof it.instrument_name !== "string") return null;
  const head = { symbol: it.instrument_name, ...(typeof it.instrument_type === "string" ? { instrumentType: it.instrument_type } : {}) };
  const refuse = (field: string, v: RawJson | undefined, want: string): ItemReading => ({ ...head, refused: unusableField(field, shown(v), want) });
  const positive = "not a positive number";
  if (!(it.tick_size instanceof RawNumber)) return refuse("tick_size", it.tick_size, positive);
  if (!(it.min_trade_amount instanceof RawNumber)) return refuse("min_trade_amount", it.min_trade_amount, positive);
  // Absent is active (the simulator's older listings); anything but a boolean is not read as either.
  if (it.is_active !== undefined && typeof it.is_active !== "boolean") return refuse("is_active", it.is_active, "not a boolean");
  const ticks = [it.tick_size.text];
  const steps = it.tick_size_steps;
  if (steps !== undefined && !Array.isArray(steps)) return refuse("tick_size_steps", steps, "not a list");
  for (const [i, step] of (steps ?? []).entries()) {
    const t = obj(step)?.tick_size;
    // A band left out would set the exponent from the other ticks: prices in that band misread or refused.
    if (!(t instanceof RawNumber)) return refuse(`tick_size_steps[${i}].tick_size`, obj(step) ? t : step, positive);
    ticks.push(t.text);
  }
  for (const [i, t] of ticks.entries()) if (!isStep(t)) return refuse(i === 0 ? "tick_size" : `tick_size_steps[${i - 1}].tick_size`, new RawNumber(t), positive);
  if (!isStep(it.min_trade_amount.text)) return refuse("min_trade_amount", it.min_trade_amount, positive);
  // When it expires (options daily at 08:00 UTC; perpetuals far in the future): its book is halted then. Absent is
  // no expiry; one that cannot be read is refused (read as none, the book would stay LIVE past it).
  const exp = it.expiration_timestamp;
  const expiresMs = exp instanceof RawNumber ? Number(exp.text) : NaN;
  if (exp !== undefined && !(Number.isSafeInteger(expiresMs) && expiresMs > 0)) return refuse("expiration_timestamp", exp, "not a time in ms");
  try {
    const tickSize = plainStep(finestTick(ticks));
    const lotSize = plainStep(it.min_trade_amount.text);
    return { ...head, spec: exp === undefined ? { tickSize, lotSize } : { tickSize, lotSize, expiresMs } };
  } catch {
    // Each tick reads alone, but no common tick holds them all at one exponent (past 2^53 there).
    return refuse("tick_size", it.tick_size, `no tick that ${ticks.join(", ")} are all multiples of`);
  }
}

/**
 * Specs of the instruments of `market` listed under the currencies the symbols need. Throws naming the URL.
 * `onTooManyRequests`: an answer saying 10028 without HTTP 429 (which the budgeted fetch reads itself), so the REST
 * budget waits as for a 429. `timeoutMs`: each request's timeout, from its send (tests shorten it).
 */
export async function fetchInstrumentSpecs(fetchFn: typeof fetch, restUrl: string, market: MarketName, symbols: readonly string[], onTooManyRequests?: () => void, timeoutMs = REST_TIMEOUT_MS, unreadable?: Map<string, string>, halted?: Map<string, string>): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  const base = restUrl.replace(/\/+$/, "");
  try {
    for (const currency of new Set(symbols.map((s) => currencyOf(market, s)))) {
      const url = `${base}/api/v2/public/get_instruments?currency=${encodeURIComponent(currency)}&kind=${kindOf(market)}&expired=false`;
      let res: Response;
      try {
        res = await fetchFn(url, { signal: requestTimeout(timeoutMs) });
      } catch (err) {
        throw new Error(`deribit REST ${url}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const text = await res.text();
      let body: Record<string, RawJson> | undefined;
      try {
        body = obj(parseJsonRaw(text));
      } catch {
        body = undefined;
      }
      if (!res.ok || !body || !Array.isArray(body.result)) {
        const err = obj(body?.error);
        if (res.status !== 429 && err?.code instanceof RawNumber && err.code.text === String(ERR_TOO_MANY_REQUESTS)) onTooManyRequests?.();
        // The server's text, bounded and its control characters escaped: it goes into /readyz, /status and logs.
        const why = err ? ` error ${boundedText(`${err.code instanceof RawNumber ? err.code.text : "?"} ${typeof err.message === "string" ? err.message : ""}`)}` : "";
        throw new Error(`deribit REST ${url}: HTTP ${res.status}${why}`);
      }
      // Nothing at all for the currency: maintenance or a broken answer, not every instrument of it expired.
      if (body.result.length === 0) throw emptyListing(`deribit REST ${url}`);
      for (const item of body.result) {
        const s = specOfItem(item);
        if (!s) continue; // names no instrument: nothing to subscribe or refuse
        // Linear (USDC/USDT-settled) and inverse futures share kind=future: keep each market's own where the venue says.
        if ((market === "linear" && s.instrumentType === "reversed") || (market === "inverse" && s.instrumentType === "linear")) continue;
        if (obj(item)?.is_active === false) {
          // Listed, but it cannot be traded now [D9] (a halt, not open yet): not_trading, asked for again, never taken
          // for a delisting or a bad spec. Before 2026-12-06 it was subscribed as any other.
          halted?.set(s.symbol, `listed with is_active false (not tradable now) by ${url}`);
          continue;
        }
        if ("refused" in s) {
          // Listed but a field unreadable: a bad_spec naming it, never taken as expired; the other items still count.
          unreadable?.set(s.symbol, s.refused);
          continue;
        }
        out.set(s.symbol, s.spec);
      }
    }
  } catch (err) {
    // A later currency failed after earlier ones answered: what they list is known, the rest is not (the currencies
    // after it are not asked: a 429 would hold them anyway).
    throw out.size > 0 ? new PartialAnswer(out, asError(err)) : err;
  }
  return out;
}

export function restUrlOf(config: VenueConfig, market: MarketName): string {
  return config.markets.find((m) => m.market === market)?.restUrl ?? config.restUrl;
}

export function deribitInstrumentSource(config: VenueConfig, fetchFn: typeof fetch, onTooManyRequests?: () => void): InstrumentSource {
  const unreadable = new ListedUnreadable();
  return {
    fetchSpecs: (market, symbols) => unreadable.track(market, (found, halted) => fetchInstrumentSpecs(fetchFn, restUrlOf(config, market), market, symbols, onTooManyRequests, undefined, found, halted)),
    whyNotTrading: (market, symbol) => unreadable.notTrading(market, symbol),
    // Listed but unreadable: a bad_spec at start, and never closed while running (not expired).
    whyRefused: (market, symbol) => {
      const why = unreadable.why(market, symbol);
      return why === undefined ? undefined : `${why} at ${restUrlOf(config, market)}/api/v2/public/get_instruments`;
    },
    notListed: (market) => `not listed by ${restUrlOf(config, market)}/api/v2/public/get_instruments (kind=${kindOf(market)}, expired=false); check the name and that it is active`,
  };
}
