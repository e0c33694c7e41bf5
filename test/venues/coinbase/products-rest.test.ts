/**
 * The products REST with many products. Before, every product id went into one URL (`product_ids=…&product_ids=…`):
 * 400 products made a ~9 KB request target, which servers refuse (414; the simulator's limit is 8 KB), so every
 * product was left without an instrument. Now the ids go PRODUCTS_PER_REQUEST a request, one request after another
 * through the REST budget; a request that fails ends the query (naming its URL): the earlier requests' products
 * are known (PartialAnswer), the rest unknown, not delisted, so nothing is taken as not listed. A request listing
 * none of its ids is those products not listed, unless no request lists anything (s-rev40: before, it failed the
 * whole query).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { MAX_REQUEST_TARGET_CHARS, startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseInstrumentSource, fetchProductSpecs } from "../../../src/venues/coinbase/instruments.ts";
import { captureLog } from "../../support/capture-log.ts";
import { PartialAnswer } from "../../../src/venues/common/instruments.ts";
import { PRODUCTS_PER_REQUEST } from "../../../src/venues/coinbase/protocol.ts";
import { coinbaseConfig, subsOf } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `PROD${i}-USD`);

describe("coinbase products REST with many products", { timeout: 30_000 }, () => {
  test("400 products resolve, in requests of at most PRODUCTS_PER_REQUEST ids, each URL within the simulator's limit", async () => {
    const products = ids(400);
    expect(products.map((p) => `product_ids=${p}&`).join("").length).toBeGreaterThan(MAX_REQUEST_TARGET_CHARS); // one URL would be refused
    const sim = await startCoinbaseSimulator({ products, seed: 3, levels: 2 });
    const urls: string[] = [];
    const recording = (async (url: string, init?: RequestInit) => {
      urls.push(url);
      return fetch(url, init);
    }) as unknown as typeof fetch;
    const adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log: silentLogger, fetch: recording });
    cleanup.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const loaded = await adapter.loadInstruments();
    expect(loaded.filter((x) => x === undefined)).toHaveLength(0);
    expect(adapter.unresolvedInstruments()).toEqual([]);
    expect(urls).toHaveLength(Math.ceil(400 / PRODUCTS_PER_REQUEST));
    for (const u of urls) expect(new URL(u).searchParams.getAll("product_ids").length).toBeLessThanOrEqual(PRODUCTS_PER_REQUEST);
    expect(new Set(urls.flatMap((u) => new URL(u).searchParams.getAll("product_ids")))).toEqual(new Set(products));
  });

  test("a request whose ids are all not listed is no broken answer while another request lists products: the listed resolve, those not listed are named", async () => {
    // Before (s-coinb), each request of several ids with nothing listed threw emptyListing, which fails the whole
    // query: with the last PRODUCTS_PER_REQUEST page holding only products Coinbase does not list (typos, removed),
    // every product went unresolved, at start and on every retry.
    const listed = ids(PRODUCTS_PER_REQUEST);
    const products = [...listed, "NOPE1-USD", "NOPE2-USD"];
    const sim = await startCoinbaseSimulator({ products: listed, seed: 3, levels: 2 });
    const adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log: silentLogger });
    cleanup.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const loaded = await adapter.loadInstruments();
    expect(loaded.slice(0, PRODUCTS_PER_REQUEST).every((x) => x !== undefined)).toBe(true);
    expect(loaded.slice(PRODUCTS_PER_REQUEST)).toEqual([undefined, undefined]);
    expect(adapter.unresolvedInstruments().map((u) => u.symbol)).toEqual(["NOPE1-USD", "NOPE2-USD"]);
    // Nothing listed by any request is still no answer (a venue in maintenance), not every product delisted.
    await expect(fetchProductSpecs(fetch, sim.restUrl, ["NOPE1-USD", "NOPE2-USD"], silentLogger)).rejects.toThrow(/the listing is empty/);
  });

  test("one request of several failing: the answered ones' products are known, the rest not taken as unlisted; its URL named", async () => {
    const products = ids(PRODUCTS_PER_REQUEST + 20);
    const sim = await startCoinbaseSimulator({ products, seed: 3, levels: 2 });
    cleanup.push(() => sim.stop());
    let n = 0;
    const secondFails = (async (url: string, init?: RequestInit) => (++n === 2 ? new Response("unavailable", { status: 503 }) : fetch(url, init))) as unknown as typeof fetch;
    const err = await fetchProductSpecs(secondFails, sim.restUrl, products, silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialAnswer);
    expect((err as PartialAnswer).message).toMatch(new RegExp(`product_ids=PROD${PRODUCTS_PER_REQUEST}-USD.*HTTP 503`));
    expect([...(err as PartialAnswer).specs.keys()]).toEqual(products.slice(0, PRODUCTS_PER_REQUEST));
    // Answered in full, every product resolves.
    expect((await fetchProductSpecs(fetch, sim.restUrl, products, silentLogger)).size).toBe(products.length);
  });

  test("a product listed but not usable is warned about once per reason, not on every query", async () => {
    // A closed product is asked for every minute while it stays so; before, each answer logged the warning again.
    const { log, lines } = captureLog();
    let status = "offline";
    const answering = (async () =>
      Response.json({
        products: [
          { product_id: "BTC-USD", status, price_increment: "0.01", base_increment: "0.00000001" },
          { product_id: "ETH-USD", status: "online", price_increment: "0.01", base_increment: "0.00000001" },
        ],
      })) as unknown as typeof fetch;
    const source = coinbaseInstrumentSource(coinbaseConfig({ wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1" }, ["BTC-USD", "ETH-USD"]), answering, log);
    const ask = () => source.fetchSpecs("spot", ["BTC-USD", "ETH-USD"]);
    const warned = () => lines.filter((l) => l.msg.includes("not usable")).map((l) => l.fields.why);
    for (let i = 0; i < 3; i++) expect([...(await ask()).keys()]).toEqual(["ETH-USD"]);
    expect(warned()).toEqual(["status offline"]); // before: three
    status = "delisted";
    await ask();
    await ask();
    expect(warned()).toEqual(["status offline", "status delisted"]); // a new reason: warned
    status = "online";
    expect([...(await ask()).keys()]).toEqual(["BTC-USD", "ETH-USD"]);
    status = "offline";
    await ask();
    expect(warned()).toEqual(["status offline", "status delisted", "status offline"]); // closed again after trading
  });
});
