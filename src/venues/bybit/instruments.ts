/**
 * Instrument metadata for Bybit v5: `GET /v5/market/instruments-info` (docs/venues/bybit.md, "Instruments") → tick
 * size and lot step, Trading (and PreLaunch) symbols only, and `deliveryTime` (options, dated futures: when the
 * book is halted, common/instrument-watch.ts). Resolution order and the disk cache are common (../common/instruments.ts). Cold path.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { requestTimeout } from "../common/budgets.ts";
import { asError, emptyListing, isStepText, listedValue, ListedUnreadable, PartialAnswer, type InstrumentSource, type InstrumentSpec, unusableField } from "../common/instruments.ts";
import { optionBaseCoin } from "./protocol.ts";
import { boundedText } from "../../core/terminal-text.ts";

/** linear/inverse list more than 500 symbols: ask for the maximum page size and follow the cursor [§1.3]. */
const PAGE_LIMIT = 1000;
/** Guard against a cursor that never ends. */
const MAX_PAGES = 50;
const REST_TIMEOUT_MS = 10_000;

interface RestEnvelope {
  retCode?: number;
  retMsg?: string;
  result?: { list?: unknown[]; nextPageCursor?: unknown };
}

/**
 * Fetches specs for a category. `symbols` narrows option queries to their base coins (a re-check, after `u = 1` too,
 * asks for its market's listing: common/instrument-watch.ts). Throws with the URL and Bybit's retCode/retMsg on failure.
 */
export async function fetchInstrumentSpecs(
  fetchFn: typeof fetch,
  restUrl: string,
  market: MarketName,
  symbols: readonly string[],
  /** Filled with the symbols listed as trading whose fields could not be read (specOf refused them), and why. */
  unreadable?: Map<string, string>,
): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  const base = `${restUrl.replace(/\/+$/, "")}/v5/market/instruments-info?category=${market}`;
  const queries: string[] = [];
  if (market === "spot") {
    queries.push(base); // spot does not paginate; limit and cursor are invalid there [§1.3]
  } else if (market === "option") {
    // The option default baseCoin is BTC, so every other base coin needs its own query [§1.3].
    for (const coin of new Set(symbols.map(optionBaseCoin))) queries.push(`${base}&baseCoin=${encodeURIComponent(coin)}&limit=${PAGE_LIMIT}`);
  } else {
    queries.push(`${base}&limit=${PAGE_LIMIT}`);
  }
  // Items listed over every query: an option base coin may list nothing (its options all delivered, none launched yet,
  // a misspelt coin) while the others answer; only nothing in any of them is no answer (emptyListing).
  let listed = 0;
  let emptyUrl = "";
  try {
    for (const first of queries) {
      let url = first;
      for (let page = 0; ; page++) {
        if (page >= MAX_PAGES) throw new Error(`bybit REST ${first}: more than ${MAX_PAGES} pages`);
        let res: Response;
        try {
          res = await fetchFn(url, { signal: requestTimeout(REST_TIMEOUT_MS) });
        } catch (err) {
          // Name the URL beside the OS error (Bun's message carries the code: "ECONNREFUSED: Unable to connect …").
          throw new Error(`bybit REST ${url}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (!res.ok) throw new Error(`bybit REST ${url}: HTTP ${res.status}`);
        const body = await envelopeOf(url, res);
        if (body.retCode !== 0 || !body.result || !Array.isArray(body.result.list)) {
          throw new Error(`bybit REST ${url}: retCode ${boundedText(`${String(body.retCode)} ${String(body.retMsg ?? "")}`)}`);
        }
        if (page === 0 && body.result.list.length === 0) emptyUrl ||= url;
        listed += body.result.list.length;
        for (const item of body.result.list) {
          const spec = specOf(market, item);
          if (typeof spec === "string") {
            unreadable?.set((item as { symbol: string }).symbol, spec);
            continue;
          }
          if (spec) out.set(spec.symbol, spec.expiresMs > 0 ? { tickSize: spec.tickSize, lotSize: spec.lotSize, expiresMs: spec.expiresMs } : { tickSize: spec.tickSize, lotSize: spec.lotSize });
        }
        const cursor = body.result.nextPageCursor;
        if (market === "spot" || cursor === undefined || cursor === "") break;
        // One that is no text, or the one just sent, names no next page: an error after the pages read (PartialAnswer
        // below), not the last page. Until s-rdbybit it was the last page, so the symbols of the pages never asked
        // counted as not listed: left out at start, their live books closed by a re-check; a repeat asked 50 times.
        if (typeof cursor !== "string") throw new Error(`bybit REST ${url}: nextPageCursor ${listedValue(cursor)}: not a text`);
        const sent = cursorParam(url, cursor);
        if (url.endsWith(`&cursor=${sent}`)) throw new Error(`bybit REST ${url}: nextPageCursor ${boundedText(cursor, 80)} again (the page just read)`);
        url = `${first}&cursor=${sent}`;
      }
    }
  } catch (err) {
    // A later page or option base coin failed after earlier ones answered: what they list is known, the rest is not
    // (what comes after it is not asked: a 429 would hold it anyway).
    throw out.size > 0 ? new PartialAnswer(out, asError(err)) : err;
  }
  // A listing that holds nothing at all: maintenance or a broken answer, not every symbol delisted.
  if (listed === 0 && queries.length > 0) throw emptyListing(`bybit REST ${emptyUrl}`);
  return out;
}

/**
 * The cursor as a query value: it comes URL-encoded already, so its escapes go back as-is (no `%253D`) [§1.3], and
 * anything else that is not unreserved is encoded: a raw `&`, `#`, `+` or space never changes the query (until
 * 2026-12-07 the whole cursor went in as it came). A lone surrogate, which has no UTF-8, throws naming the cursor.
 */
function cursorParam(url: string, cursor: string): string {
  try {
    return cursor.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~%]/gu, encodeURIComponent);
  } catch {
    throw new Error(`bybit REST ${url}: nextPageCursor ${boundedText(cursor, 80)}: not sendable (no UTF-8 form)`);
  }
}

/**
 * The answer's body as Bybit's envelope object; anything else (a maintenance page, `null`, a body cut off) throws an
 * error naming the URL and what came. Before 2026-12-06 JSON's own error ("Unrecognized token '<'") or a TypeError
 * ("null is not an object") went up as the reason, naming neither.
 */
async function envelopeOf(url: string, res: Response): Promise<RestEnvelope> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new Error(`bybit REST ${url}: body unreadable: ${boundedText(err instanceof Error ? err.message : String(err), 200)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`bybit REST ${url}: not JSON: ${boundedText(text, 200)}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error(`bybit REST ${url}: not an instruments-info answer: ${boundedText(text, 200)}`);
  return body as RestEnvelope;
}

/**
 * `status` values whose book we subscribe: Trading, and PreLaunch (a pre-market contract: no feed until continuous
 * trading, so its book waits for its first snapshot). The option list also holds Delivering (settling at expiry), and
 * a query that names its status may return Settling or Closed: none of them trades, so none is "listed" for us.
 */
const TRADING_STATUSES = new Set(["Trading", "PreLaunch"]);

/**
 * One instruments-info item → its spec; why it is refused (a field of the wrong type or out of range, naming the
 * field and its value: a bad_spec, never a guessed spec, never closed while running); or null when it names no symbol
 * or is listed in a status that does not trade. Spot has no qtyStep: its quantity step is lotSizeFilter.basePrecision
 * [§1.3]. An absent `status` is Trading (the default query lists only Trading, options also PreLaunch and Delivering)
 * and an absent `deliveryTime` no expiry (spot has none). Before 2026-12-07 a `status` that is no string read as
 * Trading, a `deliveryTime` that is no ms text as no expiry (the book LIVE past it), and a tick or step that is no
 * positive decimal passed on (refused later, by its value alone).
 */
export function specOf(market: MarketName, item: unknown): { symbol: string; tickSize: string; lotSize: string; expiresMs: number } | string | null {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return null;
  const it = item as { symbol?: unknown; status?: unknown; deliveryTime?: unknown; priceFilter?: { tickSize?: unknown }; lotSizeFilter?: { qtyStep?: unknown; basePrecision?: unknown } };
  if (typeof it.symbol !== "string") return null;
  const refuse = (field: string, v: unknown, want: string) => unusableField(field, listedValue(v), want);
  if (it.status !== undefined && typeof it.status !== "string") return refuse("status", it.status, "not a string");
  if (typeof it.status === "string" && !TRADING_STATUSES.has(it.status)) return null;
  const tickSize = it.priceFilter?.tickSize;
  const lotField = market === "spot" ? "basePrecision" : "qtyStep";
  const lotSize = it.lotSizeFilter?.[lotField];
  // Listed as trading but unreadable: why (the caller keeps it: not delisted, so never closed for it).
  if (!isStepText(tickSize)) return refuse("priceFilter.tickSize", tickSize, "not a positive decimal text");
  if (!isStepText(lotSize)) return refuse(`lotSizeFilter.${lotField}`, lotSize, "not a positive decimal text");
  // Options and dated futures settle at deliveryTime (ms text; "0" on perpetuals, none on spot): the book is halted
  // then. One that cannot be read is refused: read as none, the book would stay LIVE past it.
  const delivery = it.deliveryTime;
  if (delivery !== undefined && !(typeof delivery === "string" && /^\d{1,16}$/.test(delivery))) return refuse("deliveryTime", delivery, "not a time in ms");
  return { symbol: it.symbol, tickSize, lotSize, expiresMs: delivery === undefined ? 0 : Number(delivery) };
}

/** Bybit as an instrument source for common/instruments.ts; the REST base is the market's (`rest_url`). */
export function bybitInstrumentSource(config: VenueConfig, fetchFn: typeof fetch): InstrumentSource {
  const unreadable = new ListedUnreadable();
  return {
    fetchSpecs: (market, symbols) => unreadable.track(market, (found) => fetchInstrumentSpecs(fetchFn, restUrlOf(config, market), market, symbols, found)),
    // Listed as trading but unreadable: a bad_spec at start, and never closed while running (not delisted).
    whyRefused: (market, symbol) => {
      const why = unreadable.why(market, symbol);
      return why === undefined ? undefined : `${why} at ${restUrlOf(config, market)}/v5/market/instruments-info`;
    },
    notListed: (market) => `not listed by ${restUrlOf(config, market)}/v5/market/instruments-info?category=${market}; check the symbol and that it is Trading`,
  };
}

/** The market's REST base: its own `rest_url` where configured, else the venue's. */
export function restUrlOf(config: VenueConfig, market: MarketName): string {
  return config.markets.find((m) => m.market === market)?.restUrl ?? config.restUrl;
}
