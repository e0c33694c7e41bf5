/**
 * Bybit's option and inverse categories where they differ from spot and linear (docs/venues/bybit.md): option
 * instruments are listed one base coin per query, option symbols carry a strike (decimal for small coins). Also what
 * instruments-info's answer is when it is not Bybit's envelope (any category): an error naming the URL and the body;
 * and an item with a field of the wrong type: refused (bad_spec naming the field and its value); a page cursor that
 * names no next page (no text, or the one just sent): the query failed after the pages read; a cursor's raw `&`, `#`,
 * `+` or space never changes the query.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { bybitInstrumentSource, fetchInstrumentSpecs, specOf } from "../../../src/venues/bybit/instruments.ts";
import { PartialAnswer, resolveInstruments } from "../../../src/venues/common/instruments.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

type Markets = { market: MarketName; depth: number; symbols: string[] }[];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** instruments-info answering per option base coin: `byCoin[coin]` lists those symbols, any other coin nothing. */
function optionListing(byCoin: Record<string, string[]>): typeof fetch {
  return (async (input: string | URL | Request) => {
    const coin = new URL(String(input)).searchParams.get("baseCoin") ?? "BTC";
    const list = (byCoin[coin] ?? []).map((symbol) => ({ symbol, status: "Trading", priceFilter: { tickSize: "5" }, lotSizeFilter: { qtyStep: "0.01" }, deliveryTime: "1774598400000" }));
    return Response.json({ retCode: 0, retMsg: "OK", result: { category: "option", list, nextPageCursor: "" } });
  }) as unknown as typeof fetch;
}

describe("option instruments, one query per base coin", { timeout: 30_000 }, () => {
  // Before: an empty first page of any base coin threw emptyListing for the whole option market, so a coin whose
  // options are all delivered (or not launched, or misspelt) left every other option unresolved (or never re-checked).
  test("a base coin listing nothing is that coin's symbols not listed, not a failed query; all empty still is", async () => {
    const btc = "BTC-27MAR26-70000-P-USDT";
    const sol = "SOL-27MAR26-200-C-USDT";
    const specs = await fetchInstrumentSpecs(optionListing({ BTC: [btc] }), "http://127.0.0.1:1", "option", [btc, sol]);
    expect([...specs.keys()]).toEqual([btc]);
    await expect(fetchInstrumentSpecs(optionListing({}), "http://127.0.0.1:1", "option", [btc, sol])).rejects.toThrow(/baseCoin=BTC.*listing is empty/);
  });

  test("a base coin with more options than a page (limit 1000): every page is read, none dropped", async () => {
    // 2,345 BTC options over three pages of at most 1000 (the cursor as Bybit sends it, URL-encoded), 3 ETH ones.
    const strikes = (coin: string, n: number) => Array.from({ length: n }, (_, i) => `${coin}-27MAR26-${1000 + i * 5}-${i % 2 === 0 ? "C" : "P"}-USDT`);
    const byCoin: Record<string, string[]> = { BTC: strikes("BTC", 2345), ETH: strikes("ETH", 3) };
    const asked: string[] = [];
    const paged = (async (input: string | URL | Request) => {
      const url = new URL(String(input));
      asked.push(url.search);
      const all = byCoin[url.searchParams.get("baseCoin") ?? "BTC"] ?? [];
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 500), 1000);
      const offset = Number(/^next=(\d+)$/.exec(url.searchParams.get("cursor") ?? "next=0")![1]);
      const list = all.slice(offset, offset + limit).map((symbol) => ({ symbol, status: "Trading", priceFilter: { tickSize: "5" }, lotSizeFilter: { qtyStep: "0.01" }, deliveryTime: "1774598400000" }));
      const nextPageCursor = offset + limit < all.length ? encodeURIComponent(`next=${offset + limit}`) : "";
      return Response.json({ retCode: 0, retMsg: "OK", result: { category: "option", list, nextPageCursor } });
    }) as unknown as typeof fetch;
    const wanted = [byCoin.BTC![0]!, byCoin.BTC![1500]!, byCoin.BTC![2344]!, byCoin.ETH![2]!];
    const specs = await fetchInstrumentSpecs(paged, "http://127.0.0.1:1", "option", wanted);
    expect(specs.size).toBe(2348);
    for (const symbol of wanted) expect(specs.has(symbol), symbol).toBe(true);
    expect(asked.filter((q) => q.includes("baseCoin=BTC"))).toHaveLength(3);
    expect(asked.every((q) => q.includes("limit=1000"))).toBe(true);
  });

  test("against the simulator: the listed coin's option starts, the other is named as not listed", async () => {
    const markets: Markets = [{ market: "option", depth: 25, symbols: ["BTC-27MAR26-70000-P-USDT", "SOL-27MAR26-200-C-USDT"] }];
    const sim = await startBybitSimulator({ markets: [{ market: "option", symbols: ["BTC-27MAR26-70000-P-USDT"] }], seed: 7 });
    cleanups.push(() => sim.stop());
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (msg: string, fields?: unknown) => void errors.push(msg + " " + JSON.stringify(fields ?? {})), child: () => log };
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log, pingIntervalMs: 200, pongTimeoutMs: 5_000 });
    cleanups.push(() => adapter.stop());
    const instruments = await adapter.loadInstruments();
    expect(instruments.map((i) => i?.symbol)).toEqual(["BTC-27MAR26-70000-P-USDT", undefined]);
    expect(errors.join("\n")).toMatch(/option:SOL-27MAR26-200-C-USDT \(not listed/);
    adapter.start(new RecordingSink([instruments[0]!]));
    await waitFor(() => adapter.topicInfo(0).state === "live", "the BTC option live");
  });
});

describe("inverse instruments, paged by nextPageCursor", () => {
  // Before: a nextPageCursor of another type than text (a number, null, an object) read as the last page, so the symbols
  // of the pages never asked counted as not listed: left out at start, their live books closed by a re-check. And a
  // cursor answered again (the page it names names itself) asked the same page up to 50 times.
  test("a nextPageCursor that is no text, or the one just sent, fails the query after the pages read (never 'not listed')", async () => {
    const all = ["BTCUSD", "ETHUSD", "SOLUSD"];
    for (const [what, cursorAfter, why] of [
      ["a number", () => 2, /nextPageCursor 2: not a text/],
      ["null", () => null, /nextPageCursor null: not a text/],
      ["an object", () => ({ next: 2 }), /nextPageCursor an object: not a text/],
      ["the cursor just sent", (sent: string | null) => sent ?? "p%3D1", /nextPageCursor p%3D1 again/],
    ] as const) {
      const asked: string[] = [];
      const paged = (async (input: string | URL | Request) => {
        const url = new URL(String(input));
        asked.push(url.search);
        const page = url.searchParams.get("cursor") === null ? 0 : 1;
        const list = [{ symbol: all[page]!, status: "Trading", priceFilter: { tickSize: "0.5" }, lotSizeFilter: { qtyStep: "1" } }];
        const sent = /cursor=([^&]*)/.exec(url.search)?.[1] ?? null;
        return Response.json({ retCode: 0, retMsg: "OK", result: { category: "inverse", list, nextPageCursor: page === 0 ? "p%3D1" : cursorAfter(sent) } });
      }) as unknown as typeof fetch;
      const err = await fetchInstrumentSpecs(paged, "http://127.0.0.1:1", "inverse", all).then(() => undefined, (e: unknown) => e);
      expect(err, what).toBeInstanceOf(PartialAnswer);
      expect((err as PartialAnswer).message, what).toMatch(why);
      expect([...(err as PartialAnswer).specs.keys()], what).toEqual(["BTCUSD", "ETHUSD"]);
      expect(asked, what).toHaveLength(2);
    }
  });

  // Before: the cursor went into the URL as it came, so a raw `&`, `#`, `+` or space in it changed the query (a second
  // `limit`, a fragment cutting the rest off, a space for a plus); an escape Bybit sent (`%3D`) must stay one, not `%253D`.
  test("the page cursor is sent back as Bybit wrote its escapes, anything else in it encoded: it never changes the query", async () => {
    for (const [cursor, sent, search] of [
      ["p%3D1%26q%3D2", "p=1&q=2", "&cursor=p%3D1%26q%3D2"], // Bybit's own form: as-is
      ["a&limit=1#x+y z%3D5%", "a&limit=1#x+y z=5%", "&cursor=a%26limit%3D1%23x%2By%20z%3D5%25"], // raw delimiters, a lone % encoded
    ] as const) {
      const asked: URL[] = [];
      const paged = (async (input: string | URL | Request) => {
        const url = new URL(String(input));
        asked.push(url);
        const page = asked.length - 1;
        const list = [{ symbol: ["BTCUSD", "ETHUSD"][page]!, status: "Trading", priceFilter: { tickSize: "0.5" }, lotSizeFilter: { qtyStep: "1" } }];
        return Response.json({ retCode: 0, retMsg: "OK", result: { category: "inverse", list, nextPageCursor: page === 0 ? cursor : "" } });
      }) as unknown as typeof fetch;
      const specs = await fetchInstrumentSpecs(paged, "http://127.0.0.1:1", "inverse", ["BTCUSD", "ETHUSD"]);
      expect([...specs.keys()], cursor).toEqual(["BTCUSD", "ETHUSD"]);
      expect([...asked[1]!.searchParams], cursor).toEqual([["category", "inverse"], ["limit", "1000"], ["cursor", sent]]);
      expect(asked[1]!.search.endsWith(search) && asked[1]!.hash === "", cursor).toBe(true);
    }
  });
});

describe("option symbols with a decimal strike", { timeout: 30_000 }, () => {
  // The symbol holds a dot after the topic's own `orderbook.25.`: the topic table, the scanner's `data.s` check and
  // the simulator's topic parsing split at the first dot after the depth only.
  test("XRP-30OCT26-0.4-P-USDT at depths 25 and 100: live, equal to the simulator's books through deltas", async () => {
    const symbol = "XRP-30OCT26-0.4-P-USDT";
    const markets: Markets = [{ market: "option", depth: 25, symbols: [symbol] }, { market: "option", depth: 100, symbols: [symbol] }];
    const sim = await startBybitSimulator({ markets: [{ market: "option", symbols: [symbol] }], seed: 11, specs: { [`option:${symbol}`]: { tickSize: "0.0001", lotSize: "10", priceDecimals: 4, mid: 0.05 } } });
    cleanups.push(() => sim.stop());
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, pingIntervalMs: 200, pongTimeoutMs: 5_000 });
    cleanups.push(() => adapter.stop());
    const instruments = await adapter.loadInstruments();
    expect(instruments.map((i) => [i?.symbol, i?.tickSize, i?.lotSize])).toEqual([[symbol, "0.0001", "10"], [symbol, "0.0001", "10"]]);
    const sink = new RecordingSink(instruments.map((i) => i!));
    adapter.start(sink);
    await waitFor(() => adapter.stats().topicsLive === 2, "both depths live");
    sim.step(20);
    await waitFor(() => sink.matches(sim, 0, 25) && sink.matches(sim, 1, 100), "both books equal the simulator's");
    expect(adapter.stats()).toMatchObject({ gaps: 0, parseErrors: 0, subscribeRejected: 0 });
  });
});


describe("instruments-info answers that are not Bybit's envelope", () => {
  // Before: `await res.json()` threw JSON's own SyntaxError ("JSON Parse error: Unrecognized token '<'"), a JSON null
  // a TypeError ("null is not an object (evaluating 'body.retCode')"), and a body cut off its stream's error alone:
  // none named the URL or what came, which the start-up error and the re-check's retry log showed as the reason.
  const answering = (body: () => Response) => (async () => body()) as unknown as typeof fetch;
  const URL_RE = "bybit REST http://127\\.0\\.0\\.1:1/v5/market/instruments-info\\?category=linear&limit=1000";
  test.each([
    ["an HTML page", () => new Response("<html>maintenance</html>"), "not JSON: <html>maintenance</html>"],
    ["JSON null", () => new Response("null"), "not an instruments-info answer: null"],
    ["a JSON array", () => new Response("[1,2]"), "not an instruments-info answer: \\[1,2\\]"],
    ["a body cut off", () => new Response(new ReadableStream({ pull: (c) => c.error(new Error("socket closed")) })), "body unreadable: socket closed"],
  ] as const)("%s: an error naming the URL and what came", async (_what, body, why) => {
    await expect(fetchInstrumentSpecs(answering(body), "http://127.0.0.1:1", "linear", ["BTCUSDT"])).rejects.toThrow(new RegExp(`^${URL_RE}: ${why}$`));
  });
});

describe("an instruments-info item with a field of the wrong type", () => {
  test("is refused, naming the field and its value (every field × value against what each takes)", () => {
    // Before 2026-12-07: a status that is no string read as Trading, a deliveryTime that is no ms text as no expiry
    // (the book LIVE past it); a tick or step that is no positive decimal passed on to be refused by its value alone.
    const values: [unknown, string][] = [["Trading", '"Trading"'], ["0.5", '"0.5"'], ["5", '"5"'], ["1e-4", '"1e-4"'], ["0", '"0"'], ["-1", '"-1"'], ["", '""'], ["abc", '"abc"'], [5, "5"], [true, "true"], [null, "null"], [[], "a list"], [{ a: 1 }, "an object"], [undefined, "missing"]];
    const fields = ["status", "priceFilter.tickSize", "lotSizeFilter.qtyStep", "deliveryTime"] as const;
    // The reference: what each field takes (a string status that does not trade is no refusal: not listed, null).
    const positive = (v: unknown) => typeof v === "string" && /^(\d+(\.\d*)?|\d+e-\d+)$/.test(v) && /[1-9]/.test(v.split("e")[0]!);
    const takes = (field: (typeof fields)[number], v: unknown): "spec" | "null" | "refused" =>
      field === "status" ? (v === undefined || v === "Trading" ? "spec" : typeof v === "string" ? "null" : "refused")
        : field === "deliveryTime" ? (v === undefined || (typeof v === "string" && /^\d+$/.test(v)) ? "spec" : "refused")
          : positive(v) ? "spec" : "refused";
    for (const field of fields) {
      for (const [v, named] of values) {
        const f: Record<string, unknown> = { status: "Trading", "priceFilter.tickSize": "0.10", "lotSizeFilter.qtyStep": "0.001", deliveryTime: "1774598400000" };
        f[field] = v;
        const item = { symbol: "BTCUSDT", status: f.status, priceFilter: { tickSize: f["priceFilter.tickSize"] }, lotSizeFilter: { qtyStep: f["lotSizeFilter.qtyStep"] }, deliveryTime: f.deliveryTime };
        const got = specOf("linear", item);
        const want = takes(field, v);
        const label = `${field} = ${named}`;
        if (want === "spec") expect(got, label).toMatchObject({ symbol: "BTCUSDT" });
        else if (want === "null") expect(got, label).toBeNull();
        else expect(got, label).toBe(`listed without a usable ${field} (${named}: not a ${field === "status" ? "string" : field === "deliveryTime" ? "time in ms" : "positive decimal text"})`);
      }
    }
    // Spot's step is basePrecision (no qtyStep), no deliveryTime; "0" on a perpetual is no expiry.
    expect(specOf("spot", { symbol: "BTCUSDT", status: "Trading", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { basePrecision: 1e-6 } })).toBe("listed without a usable lotSizeFilter.basePrecision (0.000001: not a positive decimal text)");
    expect(specOf("spot", { symbol: "BTCUSDT", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { basePrecision: "0.000001" } })).toEqual({ symbol: "BTCUSDT", tickSize: "0.1", lotSize: "0.000001", expiresMs: 0 });
    expect(specOf("linear", { symbol: "BTCUSDT", status: "Trading", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { qtyStep: "1" }, deliveryTime: "0" })).toMatchObject({ expiresMs: 0 });
    expect(specOf("linear", { status: "Trading", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { qtyStep: "1" } })).toBeNull();
  });

  test("an instrument refused for a wrong-typed field is bad_spec naming it; the listing's others resolve", async () => {
    const good = { status: "Trading", priceFilter: { tickSize: "5" }, lotSizeFilter: { qtyStep: "0.01" }, deliveryTime: "1774598400000" };
    const list = [
      { ...good, symbol: "BTC-27MAR26-70000-C" },
      { ...good, symbol: "BTC-27MAR26-70000-P", deliveryTime: 1774598400000 },
      { ...good, symbol: "BTC-27MAR26-80000-C", status: true },
      { ...good, symbol: "BTC-27MAR26-80000-P", priceFilter: { tickSize: "0" } },
      { ...good, symbol: "BTC-27MAR26-90000-C" },
    ];
    const fetchFn = (async () => Response.json({ retCode: 0, retMsg: "OK", result: { category: "option", list, nextPageCursor: "" } })) as unknown as typeof fetch;
    const cfg = { venue: "bybit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 25, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
    const symbols = list.map((i) => i.symbol);
    const { instruments, unresolved } = await resolveInstruments(cfg, symbols.map((symbol) => ({ market: "option" as const, symbol, depth: 25 })), bybitInstrumentSource(cfg, fetchFn), silentLogger);
    expect(instruments.map((i) => i?.symbol)).toEqual([symbols[0], undefined, undefined, undefined, symbols[4]]);
    expect(unresolved.map((u) => [symbols[u.index], u.kind])).toEqual([1, 2, 3].map((i) => [symbols[i], "bad_spec"]));
    expect(unresolved[0]!.detail).toContain("deliveryTime (1774598400000: not a time in ms)");
    expect(unresolved[1]!.detail).toContain("status (true: not a string)");
    expect(unresolved[2]!.detail).toContain('priceFilter.tickSize ("0": not a positive decimal text)');
  });
});
