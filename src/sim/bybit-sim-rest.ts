/**
 * The Bybit simulator's REST endpoint `/v5/market/instruments-info` (§1.3): category and baseCoin filters, option's
 * default base coin BTC, the default status filter (Trading; options also PreLaunch and Delivering), cursor pagination except on spot, and each category's item shape.
 * @module
 */
import type { MarketName } from "../core/types.ts";
import { BYBIT_DEPTHS, optionBaseCoin } from "../venues/bybit/protocol.ts";

/** One instrument the simulator serves (generated or replayed). */
export interface SimInstrument {
  market: MarketName;
  symbol: string;
  tickSize: string;
  lotSize: string;
  priceDecimals: number;
  /** Trading status (default Trading). */
  status?: string;
  /** deliveryTime in ms: options default 2100-01-01 (never reached in a test), linear and inverse 0 (perpetual). */
  deliveryMs?: number;
}

/** The statuses a query without `status` lists (§1.3): Trading only, and for options PreLaunch, Trading, Delivering. */
function listedByDefault(category: MarketName, status: string): boolean {
  return category === "option" ? status === "PreLaunch" || status === "Trading" || status === "Delivering" : status === "Trading";
}

/** Answers one instruments-info request over `instruments` (every market); `pageLimit` caps the page size. */
export function instrumentsInfo(url: URL, instruments: readonly SimInstrument[], pageLimit: number): Response {
  const category = url.searchParams.get("category") as MarketName | null;
  if (!category || !(category in BYBIT_DEPTHS)) return json({ retCode: 10001, retMsg: "params error: category is invalid", result: {}, retExtInfo: {}, time: Date.now() });
  const symbol = url.searchParams.get("symbol");
  const baseCoin = url.searchParams.get("baseCoin") ?? (category === "option" ? "BTC" : null); // option default is BTC (§1.3)
  let items = instruments.filter((i) => i.market === category && (symbol === null || i.symbol === symbol) && (baseCoin === null || baseOf(category, i.symbol) === baseCoin) && listedByDefault(category, i.status ?? "Trading"));
  items.sort((a, b) => a.symbol.localeCompare(b.symbol));
  let nextPageCursor = "";
  if (category !== "spot") {
    // Spot does not paginate (§1.3). The cursor is opaque and URL-encoded like Bybit's ("first%3D…").
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 500) || 500, 1000, pageLimit);
    const cursor = url.searchParams.get("cursor");
    let offset = 0;
    if (cursor !== null) {
      const m = /^next=(\d+)$/.exec(cursor);
      if (!m) return json({ retCode: 10001, retMsg: "params error: cursor invalid", result: {}, retExtInfo: {}, time: Date.now() });
      offset = Number(m[1]);
    }
    const page = items.slice(offset, offset + limit);
    if (offset + limit < items.length) nextPageCursor = encodeURIComponent(`next=${offset + limit}`);
    items = page;
  }
  const list = items.map((i) => instrumentItem(category, i));
  return json({ retCode: 0, retMsg: "OK", result: { category, list, nextPageCursor }, retExtInfo: {}, time: Date.now() });
}

function baseOf(category: MarketName, symbol: string): string {
  if (category === "option") return optionBaseCoin(symbol);
  return symbol.replace(/(USDT|USDC|USD|PERP|EUR|BTC)$/, "") || symbol;
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

function instrumentItem(category: MarketName, i: SimInstrument): Record<string, unknown> {
  const base = baseOf(category, i.symbol);
  if (category === "spot") {
    return {
      symbol: i.symbol,
      baseCoin: base,
      quoteCoin: i.symbol.slice(base.length) || "USDT",
      innovation: "0",
      status: i.status ?? "Trading",
      marginTrading: "utaOnly",
      lotSizeFilter: { basePrecision: i.lotSize, quotePrecision: "0.0000001", minOrderQty: i.lotSize, maxOrderQty: "10000", minOrderAmt: "1", maxOrderAmt: "4000000" },
      priceFilter: { tickSize: i.tickSize },
    };
  }
  if (category === "option") {
    return {
      symbol: i.symbol,
      optionsType: i.symbol.split("-")[3] === "C" ? "Call" : "Put",
      status: i.status ?? "Trading",
      baseCoin: base,
      quoteCoin: "USD",
      settleCoin: "USDT",
      launchTime: "1700000000000",
      deliveryTime: String(i.deliveryMs ?? 4_102_444_800_000),
      deliveryFeeRate: "0.00015",
      priceFilter: { minPrice: i.tickSize, maxPrice: "10000000", tickSize: i.tickSize },
      lotSizeFilter: { maxOrderQty: "10000", minOrderQty: i.lotSize, qtyStep: i.lotSize },
    };
  }
  return {
    symbol: i.symbol,
    contractType: category === "inverse" ? "InversePerpetual" : "LinearPerpetual",
    status: i.status ?? "Trading",
    baseCoin: base,
    quoteCoin: category === "inverse" ? "USD" : "USDT",
    launchTime: "1585526400000",
    // Dated futures deliver, perpetuals being delisted stop, at deliveryTime; "0" otherwise (INSTR).
    deliveryTime: String(i.deliveryMs ?? 0),
    priceScale: String(i.priceDecimals),
    priceFilter: { minPrice: i.tickSize, maxPrice: "1999999.80", tickSize: i.tickSize },
    lotSizeFilter: { maxOrderQty: "1190.000", minOrderQty: i.lotSize, qtyStep: i.lotSize, postOnlyMaxOrderQty: "1190.000", maxMktOrderQty: "500.000", minNotionalValue: "5" },
    unifiedMarginTrade: true,
    fundingInterval: 480,
    settleCoin: category === "inverse" ? base : "USDT",
  };
}

