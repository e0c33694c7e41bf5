/**
 * OKX instruments (docs/venues/okx.md, "Instruments") with a fake REST: instTypes per market, `ctType` splitting
 * SWAP / FUTURES into linear and inverse, OPTION per `instFamily`, `state` filtering, `upcChg` collected for a reload,
 * errors naming the URL; and the unresolved-symbol error through the adapter.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { INSTRUMENT_REQUESTS_PER_WINDOW, INSTRUMENT_WINDOW_MS, InstrumentRequestPacer, fetchOkxSpecs, okxInstrumentSource, readItem, type UpcomingChange } from "../../../src/venues/okx/instruments.ts";
import { resolveInstruments } from "../../../src/venues/common/instruments.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { tempCachePath } from "./helpers.ts";
import { AFTER_EFF_TIME_MS, announceUpcoming } from "../../../src/venues/okx/instrument-watch.ts";

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

  test("a field of the wrong type refuses the instrument, naming the field and its value (every field × value)", async () => {
    // Before 2026-12-07: a state that is no string read as live, an expTime that is no ms text as no expiry (the book
    // LIVE past it), a ctType that is no string as the other market's (not listed); a tick or lot that is no positive
    // decimal passed on to be refused by its value alone.
    const values: [unknown, string][] = [["live", '"live"'], ["linear", '"linear"'], ["0.5", '"0.5"'], ["5", '"5"'], ["1e-4", '"1e-4"'], ["0", '"0"'], ["-1", '"-1"'], ["", '""'], ["abc", '"abc"'], ["9007199254740992", '"9007199254740992"'], [5, "5"], [true, "true"], [null, "null"], [[], "a list"], [{ a: 1 }, "an object"], [undefined, "missing"]];
    const fields = ["state", "ctType", "tickSz", "lotSz", "expTime"] as const;
    // The reference: what each field takes (a string state that does not trade is listed as halted, not refused).
    const positive = (v: unknown) => typeof v === "string" && /^(\d+(\.\d*)?|\d+e-\d+)$/.test(v) && /[1-9]/.test(v.split("e")[0]!);
    const want = { state: "not a string", ctType: "not linear or inverse", tickSz: "not a positive decimal text", lotSz: "not a positive decimal text", expTime: "not a time in ms" };
    const takes = (field: (typeof fields)[number], v: unknown): "spec" | "halted" | "refused" =>
      field === "state" ? (v === undefined || v === "live" ? "spec" : typeof v === "string" ? "halted" : "refused")
        : field === "ctType" ? (v === "linear" ? "spec" : "refused") // "inverse": the other market's (below)
          : field === "expTime" ? (v === undefined || v === "" || v === "0" || (typeof v === "string" && /^\d+$/.test(v) && Number(v) > 0 && Number.isSafeInteger(Number(v))) ? "spec" : "refused")
            : positive(v) ? "spec" : "refused";
    for (const field of fields) {
      for (const [v, named] of values) {
        const item: Record<string, unknown> = { instId: "BTC-USDT-261225", state: "live", ctType: "linear", tickSz: "0.1", lotSz: "1", expTime: "1798185600000", [field]: v };
        // Read as the linear market's listing reads it: FUTURES lists the item, SWAP nothing.
        const fetchFn = (async (input: string | URL | Request) => Response.json({ code: "0", msg: "", data: String(input).includes("FUTURES") ? [item] : [] })) as unknown as typeof fetch;
        const [unreadable, halted] = [new Map<string, string>(), new Map<string, string>()];
        const specs = await fetchOkxSpecs(fetchFn, "http://x", "linear", [], undefined, undefined, unreadable, halted);
        const got = { spec: specs.has("BTC-USDT-261225"), halted: halted.has("BTC-USDT-261225"), refused: unreadable.get("BTC-USDT-261225") };
        const label = `${field} = ${named}`;
        const w = takes(field, v);
        expect(got, label).toEqual({ spec: w === "spec", halted: w === "halted", refused: w === "refused" ? `listed without a usable ${field} (${named}: ${want[field]})` : undefined });
      }
    }
    // The other market's ctType is no refusal; spot (no ctType query) reads none; an expTime is the expiry in ms.
    expect(readItem({ instId: "BTC-USD-261225", ctType: "inverse", tickSz: "0.1", lotSz: "1" }, "linear")).toBeNull();
    expect(readItem({ instId: "BTC-USDT", tickSz: "0.1", lotSz: "0.0001", state: "live", expTime: "" })).toEqual({ instId: "BTC-USDT", spec: { tickSize: "0.1", lotSize: "0.0001" } });
    // "0" is no expiry (as Bybit's perpetuals' "0"), not a close at start nor a refusal.
    expect(readItem({ instId: "BTC-USDT-SWAP", ctType: "linear", tickSz: "0.1", lotSz: "1", state: "live", expTime: "0" }, "linear")).toEqual({ instId: "BTC-USDT-SWAP", spec: { tickSize: "0.1", lotSize: "1" } });
    expect(readItem({ instId: "BTC-USDT-261225", ctType: "linear", tickSz: "0.1", lotSz: "1", expTime: "1798185600000" }, "linear")).toEqual({ instId: "BTC-USDT-261225", spec: { tickSize: "0.1", lotSize: "1", expiresMs: 1798185600000 } });
    expect(readItem({ tickSz: "0.1", lotSz: "1" })).toBeNull();
    // At 2^53 or more a ms text is no exact time (as upcChg's effTime): until s-smallleft it was the expiry, rounded.
    expect(readItem({ instId: "BTC-USDT-261225", ctType: "linear", tickSz: "0.1", lotSz: "1", expTime: "9999999999999999" }, "linear")).toEqual({
      instId: "BTC-USDT-261225",
      refused: 'listed without a usable expTime ("9999999999999999": not a time in ms)',
    });
  });

  test("an instrument refused for a wrong-typed field is bad_spec naming it; the listing's others resolve", async () => {
    const good = { tickSz: "0.1", lotSz: "1", state: "live", ctType: "linear", expTime: "1798185600000" };
    const futures = [
      { ...good, instId: "BTC-USDT-261225" },
      { ...good, instId: "ETH-USDT-261225", expTime: 1798185600000 },
      { ...good, instId: "SOL-USDT-261225", state: null },
      { ...good, instId: "XRP-USDT-261225", ctType: 1 },
      { ...good, instId: "DOGE-USDT-261225" },
    ];
    const f = (async (input: string | URL | Request) => {
      const type = new URL(String(input)).searchParams.get("instType");
      return Response.json({ code: "0", msg: "", data: type === "FUTURES" ? futures : [] });
    }) as unknown as typeof fetch;
    const cfg = { venue: "okx", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "linear", depth: 400, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
    const symbols = futures.map((i) => i.instId);
    const { instruments, unresolved } = await resolveInstruments(cfg, symbols.map((symbol) => ({ market: "linear" as const, symbol, depth: 400 })), okxInstrumentSource(cfg, f, []), silentLogger);
    expect(instruments.map((i) => i?.symbol)).toEqual([symbols[0], undefined, undefined, undefined, symbols[4]]);
    expect(unresolved.map((u) => [symbols[u.index], u.kind])).toEqual([1, 2, 3].map((i) => [symbols[i], "bad_spec"]));
    expect(unresolved[0]!.detail).toContain("expTime (1798185600000: not a time in ms)");
    expect(unresolved[1]!.detail).toContain("state (null: not a string)");
    expect(unresolved[2]!.detail).toContain("ctType (1: not linear or inverse)");
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

  test("an upcChg effTime that is no ms text is warned of naming the instId, field and value, and left to the periodic reload (not dropped unsaid)", async () => {
    // Before: read with Number(), "", "0" and "1.5" were changes long in effect and "abc", "-5", a number or one past
    // 2^53 none: each dropped with no word (the market reloaded at the periodic reload only, unsaid).
    const bad: unknown[] = ["", "0", "abc", "1.5", "-5", "9007199254740993", 1900000000000, null];
    const upcChg = [{ param: "tickSz", newValue: "0.01", effTime: "1900000000000" }, ...bad.map((effTime) => ({ param: "lotSz", newValue: "1", effTime }))];
    const listing = [{ instId: "A-USDT", tickSz: "0.1", lotSz: "1", state: "live", upcChg }];
    const f = (async () => Response.json({ code: "0", msg: "", data: listing })) as unknown as typeof fetch;
    const upcoming: UpcomingChange[] = [];
    expect([...(await fetchOkxSpecs(f, "http://x", "spot", ["A-USDT"], upcoming)).keys()]).toEqual(["A-USDT"]); // the spec stands
    const warned: string[] = [];
    const log = { ...silentLogger, warn: (msg: string, fields?: Record<string, unknown>) => void warned.push(`${msg}: ${String(fields?.detail)}`) };
    const announced: number[] = [];
    announceUpcoming(upcoming, "spot", ["A-USDT"], 1_000_000, (_m, atMs) => void announced.push(atMs), log);
    expect(announced).toEqual([1900000000000 + AFTER_EFF_TIME_MS]); // the readable one, as before
    const shown = ['""', '"0"', '"abc"', '"1.5"', '"-5"', '"9007199254740993"', "1900000000000", "null"];
    expect(warned).toEqual(shown.map((v, k) => `okx: upcChg unreadable: spot A-USDT listed without a usable upcChg[${k + 1}].effTime (${v}: not a time in ms); its change is read at the next periodic reload`));
    expect(upcoming).toEqual([]);
  });

  test("an upcChg re-checks its instrument just after effTime: the new tick swaps the exponents and the app is told", async () => {
    // effTime is 200 ms after the first listing is asked for (not after the test starts: under load the start-up
    // took longer than 200 ms once, and the first listing already gave the new tick).
    let effTimeMs = Infinity;
    let calls = 0;
    // The listing announces 0.1 → 0.01 at effTime, and lists 0.01 from then on.
    const f = (async () => {
      if (calls++ === 0) effTimeMs = Date.now() + 200;
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
