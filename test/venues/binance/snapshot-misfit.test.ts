/**
 * A REST snapshot the adapter cannot read reloads exchangeInfo only for a misfit: a price or quantity decimal that
 * does not fit the instrument's exponents (its tick or step may have changed). Told by the error's kind, not its text.
 */
import { describe, expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceSnapshotFetch } from "../../../src/venues/binance/snapshot-fetch.ts";
import type { BinanceTopic } from "../../../src/venues/binance/connection.ts";
import type { MarketBridges } from "../../../src/venues/binance/market-bridges.ts";
import type { BinanceRest } from "../../../src/venues/binance/rest.ts";

const PRICE_EXP = 2;
const QTY_EXP = 5;

/** A BinanceSnapshotFetch (one, for every body: its scanner is costly to make) and the body its REST call answers. */
function rig() {
  let body = "";
  let done: () => void = () => {};
  const seen = { misfits: 0, refused: [] as string[], supplied: 0, tapUs: -1, suppliedRecvUs: -1 };
  const config = { venue: "binance", restUrl: "http://127.0.0.1:1", markets: [], overrides: new Map() } as unknown as VenueConfig;
  const rest = { fetchOf: () => (async () => new Response(body, { status: 200 })) as unknown as typeof fetch } as unknown as BinanceRest;
  const bridge = {
    isBridging: () => true,
    requested: () => {},
    supply: (_t: unknown, u: BookUpdate) => {
      seen.supplied++;
      seen.suppliedRecvUs = u.tsRecvUs;
      done();
    },
  } as unknown as MarketBridges;
  const f = new BinanceSnapshotFetch({
    config,
    rest,
    now: () => 0,
    rawRestTap: (_m, _c, _url, _body, tsRecvUs) => void (seen.tapUs = tsRecvUs),
    bridge,
    instrumentOf: () => ({ priceExp: PRICE_EXP, qtyExp: QTY_EXP }) as never,
    stopping: () => false,
    misfit: () => void seen.misfits++,
    refused: (_t, detail) => {
      seen.refused.push(detail);
      done();
    },
  });
  // Waiting out its backoff: a refused snapshot is not asked again at once.
  const t = { market: "spot", symbol: "BTCUSDT", depth: 100, bridgeSeq: 0, fetching: false, fetchAbort: null, resyncDelayed: true, conn: { name: "c0" } } as unknown as BinanceTopic;
  /** One snapshot body through the fetch: whether it asked for a reload, and what was refused or supplied. */
  return async (b: string): Promise<typeof seen> => {
    body = b;
    seen.misfits = 0;
    seen.refused = [];
    seen.supplied = 0;
    const settled = new Promise<void>((r) => (done = r));
    f.start(t);
    await settled;
    return { ...seen };
  };
}
const fetchOnce = rig();

const body = (level: string) => `{"lastUpdateId":5,"bids":[["1.00","1.00000"],${level}],"asks":[["1.01","2"]]}`;

/** The reference: a misfit is a decimal (digits, optional fraction) that needs more decimals than `exp` or ≥ 2^53 there. */
function misfitRef(v: string, exp: number): boolean {
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(v);
  if (!m) return false;
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > exp) return true;
  return BigInt(m[1]! + frac.padEnd(exp, "0")) > BigInt(Number.MAX_SAFE_INTEGER);
}

describe("Binance snapshot misfit", () => {
  test("a decimal finer than the tick or step reloads exchangeInfo; a price or quantity that is no decimal does not", async () => {
    const misfitPrice = await fetchOnce(body('["1.001","2"]'));
    expect(misfitPrice.misfits).toBe(1);
    expect((await fetchOnce(body('["1.00","0.000001"]'))).misfits).toBe(1);
    // Before: "a price does not fit the instrument", taken for a misfit, one exchangeInfo (spot weight 20) each.
    const notNumber = await fetchOnce(body('["abc","2"]'));
    expect(notNumber.misfits).toBe(0);
    expect(misfitPrice.refused[0]).toBe('depth snapshot: a price does not fit the instrument (tick 2 / lot 5 decimals): bid 2 ["1.001","2"]');
    expect(notNumber.refused[0]).toBe('depth snapshot: bid 2 ["abc","2"] has a price that is not a decimal');
    const qty = await fetchOnce(body('["1.00","-1"]'));
    expect(qty.misfits).toBe(0);
    expect(qty.refused[0]).toBe('depth snapshot: bid 2 ["1.00","-1"] has a quantity that is not a decimal');
  });

  test("a snapshot read is stamped with its receipt: the time the capture records it at (replay stamps that one)", async () => {
    // Before: tsRecvUs stayed 0 live (the scanner's reset), so the published snapshot carried tsRecvNs 0.
    const r = await fetchOnce(body('["0.99","1"]'));
    expect(r.supplied).toBe(1);
    expect(r.tapUs).toBeGreaterThan(0);
    expect(r.suppliedRecvUs).toBe(r.tapUs);
  });

  test("the words 'does not fit' in a refused body's text ask for no reload", async () => {
    // Before: the fetch looked for "does not fit" in the error's text, which quotes the level or the venue's msg.
    const bodies = [body('["does not fit","2","3"]'), '{"code":-1121,"msg":"the level does not fit"}'];
    const seen = [];
    for (const b of bodies) seen.push(await fetchOnce(b));
    expect(seen.map((r) => r.misfits)).toEqual([0, 0]);
    expect(seen.map((r) => r.refused.length)).toEqual([1, 1]);
    for (const r of seen) expect(r.refused[0]).toContain("does not fit");
  });

  test("random prices and quantities: a reload exactly for a decimal that does not fit (a reference), the book read otherwise", async () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = "0000111999..-e a";
    const word = () => {
      const n = rnd(20);
      let s = "";
      for (let i = 0; i < n; i++) s += alphabet[rnd(alphabet.length)];
      return s;
    };
    let misfits = 0;
    let shapes = 0;
    for (let k = 0; k < 300; k++) {
      const p = rnd(3) === 0 ? word() : `${rnd(1000)}.${"0".repeat(rnd(4))}${rnd(3) === 0 ? rnd(10) : ""}`;
      const q = rnd(3) === 0 ? word() : `${rnd(100)}.${"0".repeat(rnd(7))}${rnd(3) === 0 ? rnd(10) : ""}`;
      const r = await fetchOnce(body(JSON.stringify([p, q])));
      const valid = (v: string) => /^[0-9]+(\.[0-9]+)?$/.test(v);
      // Price first: a quantity is looked at only once the price was read.
      const want = valid(p) ? misfitRef(p, PRICE_EXP) || (valid(q) && misfitRef(q, QTY_EXP)) : false;
      expect(r.misfits, `${p} ${q}`).toBe(want ? 1 : 0);
      const readable = valid(p) && valid(q) && !want;
      expect(r.supplied, `${p} ${q}`).toBe(readable ? 1 : 0);
      if (want) misfits++;
      else if (!readable) shapes++;
    }
    expect(misfits).toBeGreaterThan(20);
    expect(shapes).toBeGreaterThan(20);
  });
});
