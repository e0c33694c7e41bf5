/**
 * Instruments for Upbit and Bithumb (cold; docs/venues/upbit.md "Instruments", docs/venues/bithumb.md). Both list
 * markets at `/v1/market/all` and price them at `/v1/ticker?markets=`; Upbit also publishes the current tick at
 * `/v1/orderbook/instruments?markets=` (`tick_size`), Bithumb has no tick endpoint (the price-band table below).
 *
 * KRW and USDT ticks depend on the price band, so the price exponent must hold every price the market can reach
 * before the next refresh: the tick of the band at PRICE_REACH × below the last trade (and never coarser than the
 * tick Upbit names), so a 90 % fall stays exact; a price finer than that is a parse error that re-checks the
 * instrument. There is no lot step: sizes have up to QTY_DECIMALS decimals, so the quantity exponent is 8, which holds
 * sizes up to MAX_QTY_TEXT ((2^53 − 1) / 10^8) exactly. Every size is read exactly or refused (a parse error: the book is
 * not shown until a book that fits), so the start-up check only keeps out a market whose books would keep being
 * refused: one where LEVEL_NOTIONAL of the quote currency at the last trade price passes it (KRW-SHIB). It is not
 * applied to a code already running (a re-check after a price that did not fit): its sizes fit or not whatever the
 * tick, and refusing kept the coarser tick, under which every price of the finer band was refused too.
 * @module
 */
import { exponentOf, formatFixed, MAX_MANTISSA } from "../../core/fixed.ts";
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { requestTimeout } from "../common/budgets.ts";
import { asError, emptyListing, PartialAnswer, type InstrumentSource, type InstrumentSpec } from "../common/instruments.ts";

/** Sizes carry up to 8 decimals (Upbit and Bithumb order quantities; docs/venues/upbit.md). */
export const QTY_DECIMALS = 8;
export const LOT_SIZE = "0.00000001";
/** The price may fall to 1/PRICE_REACH of the last trade (or rise PRICE_REACH ×) before the daily refresh. */
export const PRICE_REACH = 10;
/**
 * The largest notional one price level is assumed to hold, per quote currency (the overflow check's bound): about
 * US$7–10 M in each (10^10 KRW, 10^7 USDT, 100 BTC), far above the levels Upbit's books show.
 */
export const LEVEL_NOTIONAL: Readonly<Record<string, number>> = { KRW: 1e10, USDT: 1e7, BTC: 1e2 };
/** The largest size the quantity exponent holds exactly: (2^53 − 1) / 10^8 units, as text. */
export const MAX_QTY_TEXT = formatFixed(MAX_MANTISSA, QTY_DECIMALS); // 90071992.54740991

/** [lower bound of the price band, tick]: Upbit's KRW table (2024-01-29 policy, the finest it has published). */
export const KRW_TICKS: readonly (readonly [number, string])[] = [
  [2_000_000, "1000"], [1_000_000, "500"], [500_000, "100"], [100_000, "50"], [10_000, "10"], [1_000, "1"], [100, "0.1"],
  [10, "0.01"], [1, "0.001"], [0.1, "0.0001"], [0.01, "0.00001"], [0.001, "0.000001"], [0.0001, "0.0000001"], [0, "0.00000001"],
];
/** Upbit's USDT market table (2024-08-19 policy). */
export const USDT_TICKS: readonly (readonly [number, string])[] = [
  [10, "0.01"], [1, "0.001"], [0.1, "0.0001"], [0.01, "0.00001"], [0.001, "0.000001"], [0.0001, "0.0000001"], [0, "0.00000001"],
];
/** BTC markets: one tick whatever the price. */
export const BTC_TICKS: readonly (readonly [number, string])[] = [[0, "0.00000001"]];

export function tickTableOf(quote: string): readonly (readonly [number, string])[] | undefined {
  return quote === "KRW" ? KRW_TICKS : quote === "USDT" ? USDT_TICKS : quote === "BTC" ? BTC_TICKS : undefined;
}

export function tickAt(table: readonly (readonly [number, string])[], price: number): string {
  for (const [lower, tick] of table) if (price >= lower) return tick;
  return table[table.length - 1]![1];
}

/**
 * The spec of a market from its last trade price (and Upbit's current tick, when it names one), or why it is
 * refused. `running`: the code has an instrument already (a re-check): the size rule is not applied (module doc).
 * Cold, pure: tested on its own.
 */
export function specFor(symbol: string, lastPrice: number, venueTick: string | undefined, running = false): InstrumentSpec | string {
  const quote = symbol.split("-")[0]!;
  const table = tickTableOf(quote);
  if (!table) return `quote currency ${quote} has no tick table`;
  if (!(lastPrice > 0)) return `no last trade price to place it in a price band`;
  const floor = lastPrice / PRICE_REACH;
  let tick = tickAt(table, floor);
  if (venueTick !== undefined) {
    // The venue's answer: a malformed one refuses this code alone (thrown, it failed the whole market's answer).
    const problem = tickSizeProblem(venueTick);
    if (problem !== undefined) return problem;
    if (exponentOf(venueTick) > exponentOf(tick)) tick = venueTick;
  }
  const priceExp = exponentOf(tick);
  const ceil = lastPrice * PRICE_REACH;
  if (ceil * 10 ** priceExp > MAX_MANTISSA) return `prices up to ${ceil} at ${priceExp} decimals (tick ${tick}) pass 2^53`;
  // At the last price, not at the floor: a size past MAX_QTY_TEXT is refused where it comes (never rounded), so this
  // only keeps out a market whose usual levels would not fit; at the floor (two bounds stacked) it refused any KRW
  // code under ~1,100 KRW: KRW-DOGE, BTC-XRP and USDT-DOGE, whose levels are far below it.
  // Not for a code running: until s-upbtick a KRW code that fell under ~111 KRW (into a finer band) was refused here
  // at its re-check, kept its coarser tick and stayed RESYNCING for good (every finer price a misfit).
  const notional = LEVEL_NOTIONAL[quote] ?? 1e10;
  const maxQty = notional / lastPrice;
  if (!running && maxQty * 10 ** QTY_DECIMALS > MAX_MANTISSA) {
    return `no quantity exponent fits: sizes have ${QTY_DECIMALS} decimals, so at most ${MAX_QTY_TEXT} fit 2^53, and a level of ${notional} ${quote} at the last price ${lastPrice} is ${maxQty.toExponential(2)} ${symbol.split("-")[1]} (a lot_size override holds larger sizes only if they have fewer decimals: one with more is refused, never rounded)`;
  }
  return { tickSize: tick, lotSize: LOT_SIZE };
}

/** Why the venue's `tick_size` is not a usable step ("0", "1,000", more than 22 decimals), or undefined. */
export function tickSizeProblem(venueTick: string): string | undefined {
  try {
    exponentOf(venueTick);
    return undefined;
  } catch (err) {
    return `tick_size ${JSON.stringify(venueTick)} is not a usable step (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** Each REST request's timeout, from its send (budgetedFetch): an endpoint that never answers fails it, naming the URL. */
const REST_TIMEOUT_MS = 10_000;

async function getJson(fetchFn: typeof fetch, url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal: requestTimeout(timeoutMs) });
  } catch (err) {
    throw new Error(`GET ${url} → ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`GET ${url} → HTTP ${res.status}`);
  try {
    return await res.json();
  } catch (err) {
    throw new Error(`GET ${url} → not JSON: ${String(err)}`);
  }
}

function rows(body: unknown, url: string): Record<string, unknown>[] {
  if (!Array.isArray(body)) throw new Error(`GET ${url} → expected a JSON array`);
  return body.filter((r): r is Record<string, unknown> => r !== null && typeof r === "object");
}

/** Markets per query string (URLs stay short). */
const MARKETS_PER_QUERY = 100;

export interface UpbitInstrumentSource extends InstrumentSource {
  /** Symbols REST listed but the spec rule refused, and why (named in the unresolved error). */
  readonly refused: Map<string, string>;
}

/**
 * `withTickEndpoint`: Upbit's /v1/orderbook/instruments; Bithumb has none. `level` > 0 (grouped books): a code whose
 * `supported_levels` there does not include it is refused, naming them (Upbit would send it no data [U§2]).
 * `timeoutMs`: each request's timeout, from its send (tests shorten it). `running(symbol)`: whether the code has an
 * instrument now (its re-check is not held to the size rule: specFor).
 */
export function upbitInstrumentSource(config: VenueConfig, fetchFn: typeof fetch, withTickEndpoint: boolean, level = 0, timeoutMs = REST_TIMEOUT_MS, running: (symbol: string) => boolean = () => false): UpbitInstrumentSource {
  const refused = new Map<string, string>();
  /** Of `refused`, those the answers left without a price or tick (an empty ticker, a code not in the tick list): may clear. */
  const unanswered = new Set<string>();
  const restOf = (market: MarketName) => (config.markets.find((m) => m.market === market)?.restUrl ?? config.restUrl).replace(/\/+$/, "");
  return {
    refused,
    whyRefused: (_market, symbol) => refused.get(symbol),
    // Listed, but answered without its price or tick: not "no such code", so never exit 2 for it.
    whyNotTrading: (_market, symbol) => (unanswered.has(symbol) ? refused.get(symbol) : undefined),
    notListed: (market) => `not listed by ${restOf(market)}/v1/market/all; check the code (QUOTE-BASE, upper case)`,
    async fetchSpecs(market, symbols) {
      for (const s of symbols) {
        refused.delete(s); // asked again (a retry while running): only this answer counts
        unanswered.delete(s);
      }
      const base = restOf(market);
      const listUrl = `${base}/v1/market/all`;
      const listed = new Set(rows(await getJson(fetchFn, listUrl, timeoutMs), listUrl).map((r) => r.market).filter((m): m is string => typeof m === "string"));
      // No market at all: maintenance or a broken answer, not every code delisted.
      if (listed.size === 0) throw emptyListing(`GET ${listUrl}`);
      const wanted = symbols.filter((s) => listed.has(s));
      const price = new Map<string, number>();
      const tick = new Map<string, string>();
      const levels = new Map<string, string[]>();
      // Codes whose ticker (and tick) requests answered; a failed chunk ends the asking (a 429 would hold the rest).
      let asked = 0;
      let failure: Error | undefined;
      for (let i = 0; i < wanted.length; i += MARKETS_PER_QUERY) {
        const chunk = wanted.slice(i, i + MARKETS_PER_QUERY).join(",");
        const tUrl = `${base}/v1/ticker?markets=${chunk}`;
        try {
          const tickers = rows(await getJson(fetchFn, tUrl, timeoutMs), tUrl);
          const instruments = withTickEndpoint ? rows(await getJson(fetchFn, `${base}/v1/orderbook/instruments?markets=${chunk}`, timeoutMs), `${base}/v1/orderbook/instruments?markets=${chunk}`) : [];
          for (const r of tickers) if (typeof r.market === "string" && typeof r.trade_price === "number") price.set(r.market, r.trade_price);
          for (const r of instruments) {
            if (typeof r.market !== "string") continue;
            if (typeof r.tick_size === "string") tick.set(r.market, r.tick_size);
            if (Array.isArray(r.supported_levels)) levels.set(r.market, r.supported_levels.map(String));
          }
        } catch (err) {
          failure = asError(err);
          break;
        }
        asked = Math.min(wanted.length, i + MARKETS_PER_QUERY);
      }
      const out = new Map<string, InstrumentSpec>();
      for (const s of wanted.slice(0, asked)) {
        if (withTickEndpoint && !tick.has(s)) {
          refused.set(s, `no tick_size for it at ${base}/v1/orderbook/instruments`);
          unanswered.add(s);
          continue;
        }
        // A malformed tick is the venue's answer gone wrong, not the configuration's: "listed, not usable now" (the
        // venue starts and asks again), never bad_spec, which with every code so refused exits 2 and is not restarted.
        const badTick = tickSizeProblem(tick.get(s) ?? "1");
        if (badTick !== undefined) {
          refused.set(s, `${badTick} at ${base}/v1/orderbook/instruments`);
          unanswered.add(s);
          continue;
        }
        const supported = levels.get(s);
        if (level > 0 && supported !== undefined && !supported.some((l) => Number(l) === level)) {
          refused.set(s, `level ${level} is not one of its supported_levels (${supported.join(", ")}) at ${base}/v1/orderbook/instruments`);
          continue;
        }
        const spec = specFor(s, price.get(s) ?? 0, tick.get(s), running(s));
        if (typeof spec !== "string") {
          out.set(s, spec);
          continue;
        }
        refused.set(s, spec);
        // No trade price in the ticker's answer (a quote with a tick table): the answer's gap, not the code's fault.
        if (tickTableOf(s.split("-")[0]!) !== undefined && !((price.get(s) ?? 0) > 0)) unanswered.add(s);
      }
      // A chunk failed after others answered: those codes are known; the rest (listed, unpriced) are not.
      if (failure !== undefined) throw out.size > 0 || refused.size > 0 ? new PartialAnswer(out, failure) : failure;
      return out;
    },
  };
}
