/**
 * Instrument metadata for Coinbase Advanced Trade: the public `GET /api/v3/brokerage/market/products` filtered by
 * `product_ids`, at most PRODUCTS_PER_REQUEST a request (docs/venues/coinbase.md, "Instruments") → `price_increment` (tick) and `base_increment` (lot).
 * A product that is not online or is disabled is left out (named by the common resolver). Cold path.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { requestTimeout } from "../common/budgets.ts";
import { asError, emptyListing, ListedUnreadable, PartialAnswer, type InstrumentSource, type InstrumentSpec } from "../common/instruments.ts";
import { PRODUCTS_PATH, PRODUCTS_PER_REQUEST } from "./protocol.ts";

const REST_TIMEOUT_MS = 10_000;

/** Why a listed product cannot be subscribed, or "" when it can. */
export function unusableReason(p: Record<string, unknown>): string {
  if (p.status !== undefined && p.status !== "online") return `status ${String(p.status)}`;
  if (p.is_disabled === true) return "is_disabled";
  if (p.trading_disabled === true) return "trading_disabled";
  return "";
}

export function productsUrl(restUrl: string, productIds: readonly string[]): string {
  const q = productIds.map((id) => `product_ids=${encodeURIComponent(id)}`).join("&");
  return `${restUrl.replace(/\/+$/, "")}${PRODUCTS_PATH}${q ? "?" + q : ""}`;
}

/**
 * Specs of `productIds` (those the answers list and that are usable), asked PRODUCTS_PER_REQUEST ids a request, one
 * request after another (each through the caller's REST budget): every id in one URL would pass the length servers
 * accept (414) with a few hundred products. A failed request ends the query, naming its URL: with earlier requests
 * answered it throws PartialAnswer (their products are known; any other is unknown, not delisted: the watch closes
 * no book for it and it is asked again), else the error.
 * Several ids asked and nothing listed by any request is no answer (emptyListing); one request listing none of its
 * ids while another lists some is those products not listed (a page of typos or removed products must not fail
 * the rest). `timeoutMs`: each request's timeout, from its send (tests shorten it).
 */
export async function fetchProductSpecs(fetchFn: typeof fetch, restUrl: string, productIds: readonly string[], log?: Logger, timeoutMs = REST_TIMEOUT_MS, unreadable?: Map<string, string>, halted?: Map<string, string>, warned?: Map<string, string>): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  const requests = Math.max(1, Math.ceil(productIds.length / PRODUCTS_PER_REQUEST));
  let listed = 0;
  let firstUrl = "";
  for (let i = 0; i < requests; i++) {
    const ids = productIds.slice(i * PRODUCTS_PER_REQUEST, (i + 1) * PRODUCTS_PER_REQUEST);
    const url = productsUrl(restUrl, ids);
    if (i === 0) firstUrl = url;
    try {
      listed += await fetchProductsOnce(fetchFn, url, ids, out, log, timeoutMs, unreadable, halted, warned);
    } catch (err) {
      throw out.size > 0 ? new PartialAnswer(out, asError(err)) : err;
    }
  }
  // Asked for several products and none listed in any status (a delisted one is listed, not online): a broken answer.
  // (One product asked and not listed may be one Coinbase removed: not listed, as before, not a failure every minute.)
  if (productIds.length > 1 && listed === 0) throw emptyListing(`coinbase REST ${firstUrl}`);
  // But an empty answer cannot say it does not exist either (maintenance answers so too): at start not a configuration
  // error (never exit 2), retried; while running nothing changes (whyNotTrading is read at start and by the retrier).
  if (productIds.length === 1 && listed === 0) halted?.set(productIds[0]!, `the answer at ${firstUrl} listed no product at all (maintenance, or an id Coinbase does not have)`);
  return out;
}

/**
 * One products request for `ids` into `out`; returns how many products it lists (in any status). Throws naming the URL
 * on failure. `warned`: per product, the reason it was last warned about as not usable (warned again only when that
 * changes, or after it was usable).
 */
async function fetchProductsOnce(fetchFn: typeof fetch, url: string, ids: readonly string[], out: Map<string, InstrumentSpec>, log: Logger | undefined, timeoutMs: number, unreadable?: Map<string, string>, halted?: Map<string, string>, warned?: Map<string, string>): Promise<number> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal: requestTimeout(timeoutMs) });
  } catch (err) {
    throw new Error(`coinbase REST ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`coinbase REST ${url}: HTTP ${res.status}`);
  const body = (await res.json().catch(() => null)) as { products?: unknown } | null;
  if (!body || !Array.isArray(body.products)) throw new Error(`coinbase REST ${url}: no products array in the answer`);
  for (const item of body.products as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const p = item as Record<string, unknown>;
    const id = p.product_id;
    if (typeof id !== "string") continue;
    const why = unusableReason(p);
    if (why !== "") {
      // Once per product and reason: a closed product is asked for every minute while it stays so (and on each
      // re-check); before, each answer warned again.
      if (ids.includes(id) && warned?.get(id) !== why) {
        warned?.set(id, why);
        log?.warn("coinbase: product listed but not usable; leaving it out", { product: id, why });
      }
      // Delisted is for good (not listed, a configuration error at start); offline or disabled may clear.
      if (p.status !== "delisted") halted?.set(id, `listed with ${why}, not trading, by ${url}`);
      continue;
    }
    if (typeof p.price_increment !== "string" || typeof p.base_increment !== "string") {
      unreadable?.set(id, "listed online without price_increment and base_increment"); // listed: never closed for it
      continue;
    }
    out.set(id, { tickSize: p.price_increment, lotSize: p.base_increment });
    warned?.delete(id);
  }
  return body.products.length;
}

/** Coinbase as an instrument source for common/instruments.ts; the REST base is the market's (`rest_url`). */
export function coinbaseInstrumentSource(config: VenueConfig, fetchFn: typeof fetch, log: Logger): InstrumentSource {
  const unreadable = new ListedUnreadable();
  const warned = new Map<string, string>(); // configured products only (fetchProductsOnce)
  return {
    fetchSpecs: (market: MarketName, symbols) => unreadable.track(market, (found, halted) => fetchProductSpecs(fetchFn, restUrlOf(config, market), symbols, log, undefined, found, halted, warned)),
    whyNotTrading: (market, symbol) => unreadable.notTrading(market, symbol),
    // Listed online but unreadable: a bad_spec at start, and never closed while running (not delisted).
    whyRefused: (market, symbol) => {
      const why = unreadable.why(market, symbol);
      return why === undefined ? undefined : `${why} at ${restUrlOf(config, market)}${PRODUCTS_PATH}`;
    },
    notListed: (market) => `not listed (or not online) by ${restUrlOf(config, market)}${PRODUCTS_PATH}; check the product id, e.g. BTC-USD`,
  };
}

export function restUrlOf(config: VenueConfig, market: MarketName): string {
  return config.markets.find((m) => m.market === market)?.restUrl ?? config.restUrl;
}
