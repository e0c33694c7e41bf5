/**
 * OKX instruments (docs/venues/okx.md, "Instruments") with a fake REST: instTypes per market, `ctType` splitting
 * SWAP / FUTURES into linear and inverse, OPTION per `instFamily`, `state` filtering, `upcChg` collected for a reload,
 * errors naming the URL; and the unresolved-symbol error through the adapter.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { INSTRUMENT_REQUESTS_PER_WINDOW, INSTRUMENT_WINDOW_MS, InstrumentRequestPacer, fetchOkxSpecs, type UpcomingChange } from "../../../src/venues/okx/instruments.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { tempCachePath } from "./helpers.ts";

const LISTING: Record<string, object[]> = {
  SPOT: [
    { instId: "BTC-USDT", tickSz: "0.1", lotSz: "0.00000001", state: "live" },
    { instId: "OLD-USDT", tickSz: "0.1", lotSz: "1", state: "suspend" },
  ],
  SWAP: [
    { instId: "BTC-USDT-SWAP", tickSz: "0.1", lotSz: "0.01", state: "live", ctType: "linear", upcChg: [{ param: "tickSz", newValue: "0.01", effTime: "1900000000000" }] },
    { instId: "BTC-USD-SWAP", tickSz: "0.1", lotSz: "1", state: "live", ctType: "inverse" },
  ],
  FUTURES: [{ instId: "BTC-USD-261225", tickSz: "0.1", lotSz: "1", state: "preopen", ctType: "inverse" }],
  OPTION: [{ instId: "BTC-USD-261225-100000-C", tickSz: "0.0005", lotSz: "1", state: "live" }],
};

function fakeFetch(urls: string[]): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    urls.push(url.pathname + url.search);
    const type = url.searchParams.get("instType")!;
    if (type === "OPTION" && !url.searchParams.get("instFamily")) return Response.json({ code: "50014", msg: "instFamily", data: [] });
    if (type === "DOWN") return new Response("", { status: 503 });
    return Response.json({ code: "0", msg: "", data: LISTING[type] ?? [] });
  }) as typeof fetch;
}

describe("okx instruments", () => {
  test("instTypes per market, ctType, state, instFamily, upcChg", async () => {
    const urls: string[] = [];
    const f = fakeFetch(urls);
    const upcoming: UpcomingChange[] = [];
    expect([...(await fetchOkxSpecs(f, "http://x", "spot", ["BTC-USDT"]))]).toEqual([["BTC-USDT", { tickSize: "0.1", lotSize: "0.00000001" }]]);
    expect([...(await fetchOkxSpecs(f, "http://x", "linear", ["BTC-USDT-SWAP"], upcoming)).keys()]).toEqual(["BTC-USDT-SWAP"]);
    expect([...(await fetchOkxSpecs(f, "http://x", "inverse", ["BTC-USD-SWAP"])).keys()]).toEqual(["BTC-USD-SWAP", "BTC-USD-261225"]);
    expect([...(await fetchOkxSpecs(f, "http://x", "option", ["BTC-USD-261225-100000-C"])).keys()]).toEqual(["BTC-USD-261225-100000-C"]);
    expect(upcoming).toEqual([{ market: "linear", symbol: "BTC-USDT-SWAP", effTimeMs: 1900000000000 }]);
    expect(urls).toEqual([
      "/api/v5/public/instruments?instType=SPOT",
      "/api/v5/public/instruments?instType=SWAP",
      "/api/v5/public/instruments?instType=FUTURES",
      "/api/v5/public/instruments?instType=SWAP",
      "/api/v5/public/instruments?instType=FUTURES",
      "/api/v5/public/instruments?instType=OPTION&instFamily=BTC-USD",
    ]);
  });

  test("state: live, post_only and preopen are listed, suspend, rebase and test are not; expTime is the expiry in ms", async () => {
    const listing = [
      { instId: "A-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "live", ctType: "linear", expTime: "" },
      { instId: "B-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "post_only", ctType: "linear", expTime: "" },
      { instId: "C-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "suspend", ctType: "linear" },
      { instId: "D-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "rebase", ctType: "linear" },
      { instId: "E-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "test", ctType: "linear" },
      // A delisting announced: the offline time as expTime, on a SWAP too.
      { instId: "F-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "live", ctType: "linear", expTime: "1900000000000" },
    ];
    const futures = [{ instId: "BTC-USDT-261225", tickSz: "0.1", lotSz: "1", state: "preopen", ctType: "linear", expTime: "1798185600000" }];
    const f = (async (input: string | URL | Request) => {
      const type = new URL(String(input)).searchParams.get("instType");
      return Response.json({ code: "0", msg: "", data: type === "SWAP" ? listing : futures });
    }) as typeof fetch;
    const specs = await fetchOkxSpecs(f, "http://x", "linear", []);
    expect(Object.fromEntries(specs)).toEqual({
      "A-USDT-SWAP": { tickSize: "0.1", lotSize: "1" },
      "B-USDT-SWAP": { tickSize: "0.1", lotSize: "1" },
      "F-USDT-SWAP": { tickSize: "0.1", lotSize: "1", expiresMs: 1900000000000 },
      "BTC-USDT-261225": { tickSize: "0.1", lotSize: "1", expiresMs: 1798185600000 },
    });
  });

  test("a suspended or unknown instId is named as unresolved; the others start", async () => {
    const subs = [
      { market: "spot" as const, symbol: "BTC-USDT", depth: 400 },
      { market: "spot" as const, symbol: "OLD-USDT", depth: 400 },
    ];
    const config = { venue: "okx" as const, wsUrl: "ws://127.0.0.1:9/ws/v5/public", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 400, symbols: ["BTC-USDT", "OLD-USDT"] }], overrides: new Map() };
    const errors: string[] = [];
    const log = { ...silentLogger, error: (msg: string) => errors.push(msg) };
    const adapter = new OkxAdapter(config, subs, { log, fetch: fakeFetch([]) });
    const inst = await adapter.loadInstruments();
    expect(inst[0]?.priceExp).toBe(1);
    expect(inst[1]).toBeUndefined();
    expect(errors.join("\n")).toContain("spot:OLD-USDT");
    expect(adapter.stats().instrumentsUnresolved).toBe(1);
  });

  test("an upcChg re-checks its instrument just after effTime: the new tick swaps the exponents and the app is told", async () => {
    const effTimeMs = Date.now() + 200;
    let calls = 0;
    // The listing announces 0.1 → 0.01 at effTime, and lists 0.01 from then on.
    const f = (async () => {
      calls++;
      const after = Date.now() >= effTimeMs;
      const upcChg = after ? [] : [{ param: "tickSz", newValue: "0.01", effTime: String(effTimeMs) }];
      return Response.json({ code: "0", msg: "", data: [{ instId: "BTC-USDT", tickSz: after ? "0.01" : "0.1", lotSz: "0.0001", state: "live", upcChg }] });
    }) as unknown as typeof fetch;
    const subs = [{ market: "spot" as const, symbol: "BTC-USDT", depth: 400 }];
    // No server behind ws_url: the connection keeps failing, which the instrument re-check does not need.
    const config = { venue: "okx" as const, wsUrl: "ws://127.0.0.1:9/ws/v5/public", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 400, symbols: ["BTC-USDT"] }], overrides: new Map() };
    const adapter = new OkxAdapter(config, subs, { log: silentLogger, fetch: f });
    expect((await adapter.loadInstruments())[0]?.priceExp).toBe(1);
    const changed: Instrument[] = [];
    adapter.start({ onBookUpdate: () => {}, onBookInvalid: () => {}, onInstrumentChanged: (_i, inst) => void changed.push(inst) });
    try {
      const deadline = Date.now() + 10_000;
      while (changed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await adapter.stop();
    }
    expect(changed.map((i) => [i.tickSize, i.priceExp])).toEqual([["0.01", 2]]);
    expect(adapter.stats().instrumentChanges).toBe(1);
    expect(calls).toBe(2);
  });

  test(`instrument requests stay within ${INSTRUMENT_REQUESTS_PER_WINDOW} per ${INSTRUMENT_WINDOW_MS} ms of the adapter's clock: 25 takes, 20 at once, 5 when the window moves`, async () => {
    const clock = { ms: 1_000_000 };
    const pacer = new InstrumentRequestPacer(() => clock.ms);
    const grantedAtMs: number[] = [];
    const all = Promise.all(Array.from({ length: 25 }, () => pacer.take().then(() => void grantedAtMs.push(clock.ms))));
    // Every take that fits is granted without waiting for a timer: once the immediate queue has run, those are done.
    await new Promise((r) => setImmediate(r));
    expect(grantedAtMs.length).toBe(INSTRUMENT_REQUESTS_PER_WINDOW);
    clock.ms += INSTRUMENT_WINDOW_MS;
    await all;
    expect(grantedAtMs).toEqual([...Array<number>(20).fill(1_000_000), ...Array<number>(5).fill(1_000_000 + INSTRUMENT_WINDOW_MS)]);
  });

  test("fetchOkxSpecs takes one budget unit per request (an option market: one per instFamily)", async () => {
    let taken = 0;
    const pacer = { take: async () => void taken++ } as unknown as InstrumentRequestPacer;
    const urls: string[] = [];
    await fetchOkxSpecs(fakeFetch(urls), "http://x", "option", ["BTC-USD-261225-100000-C", "ETH-USD-261225-3000-C"], undefined, pacer);
    expect([taken, urls.length]).toEqual([2, 2]);
  });
});
