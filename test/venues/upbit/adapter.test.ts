/**
 * Upbit / Bithumb adapter against the simulator on 127.0.0.1: the venue's own faults (older timestamp, zero-size
 * units, error frames bisected to the code they refuse, HTTP 429 on connect), the keepalive answer, frames in
 * binary and text, no Origin header, instruments that cannot fit refused by name. Assertions on behaviour only.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseFixed } from "../../../src/core/fixed.ts";
import { createLogger, silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startUpbitSimulator, type UpbitSim } from "../../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { specFor, upbitInstrumentSource } from "../../../src/venues/upbit/instruments.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { CodeTable, SCAN_ERR_QTY, UpbitScanner } from "../../../src/venues/upbit/scanner.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { venueSpec, type VenueSpec } from "../../../src/venues/registry.ts";
import { validateConfig } from "../../../src/config/load.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath } from "../bybit/helpers.ts";
import { until } from "../../support/until.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** RecordingSink takes snapshots; these books are replaces: keep them the same way. */
class ReplaceSink extends RecordingSink {
  override onBookUpdate(index: number, u: Parameters<RecordingSink["onBookUpdate"]>[1]): void {
    if (u.replace) {
      this.bids[index] = new Map();
      this.asks[index] = new Map();
      for (let i = 0; i < u.bidCount; i++) this.bids[index]!.set(u.bidPx[i]!, u.bidQty[i]!);
      for (let i = 0; i < u.askCount; i++) this.asks[index]!.set(u.askPx[i]!, u.askQty[i]!);
      this.lastU[index] = u.venueSeq;
      this.updates[index] = (this.updates[index] ?? 0) + 1;
      return;
    }
    super.onBookUpdate(index, u);
  }
}

/** Where a test's stop goes: the shared afterEach list, or (a concurrent test) its own context's onTestFinished. */
type OnFinished = (stop: () => Promise<void>) => void;
const afterThisTest: OnFinished = (stop) => void cleanups.push(stop);

async function setup(spec: VenueSpec, subs: Subscription[], opts: Record<string, unknown> = {}, simOpts: Record<string, unknown> = {}, onFinished = afterThisTest) {
  const venue = spec.venue as "upbit" | "bithumb";
  const sim = await startUpbitSimulator({ venue, codes: subs.map((s) => s.symbol), seed: 3, ...simOpts });
  const config = { venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 30, symbols: subs.map((s) => s.symbol) }], overrides: new Map() };
  const adapter = spec.create(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, errorWaitMs: 700, ...opts }) as VenueAdapter;
  onFinished(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const instruments = allResolved(await adapter.loadInstruments());
  const sink = new ReplaceSink(instruments);
  adapter.start(sink);
  const matches = (i: number) => {
    const b = sim.book(subs[i]!.symbol, subs[i]!.depth);
    const inst: Instrument = sink.instruments[i]!;
    const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, inst.priceExp), parseFixed(q, inst.qtyExp)] as [number, number]));
    const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
    return sink.lastU[i] === b.ts && same(sink.bids[i], conv(b.bids)) && same(sink.asks[i], conv(b.asks));
  };
  return { sim, adapter, sink, matches };
}

describe("venues.upbit.spot.level from the config", { timeout: 20_000 }, () => {
  it("goes with every request (the venue echoes it); a code whose supported_levels lack it is refused by name", async () => {
    const subs: Subscription[] = [
      { market: "spot", symbol: "KRW-BTC", depth: 15 },
      { market: "spot", symbol: "KRW-XRP", depth: 15 },
    ];
    // The simulator lists 10, 100, 1000 and 10 000 ticks: KRW-BTC (tick 1000) takes 100 000, KRW-XRP (tick 1) does not.
    const sim = await startUpbitSimulator({ venue: "upbit", codes: subs.map((s) => s.symbol), seed: 4 });
    const config = validateConfig({
      venues: { upbit: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: tempCachePath(), spot: { depth: 15, symbols: ["KRW-BTC", "KRW-XRP"], level: 100_000 } } },
    });
    const errors: string[] = [];
    const log = { ...silentLogger, error: (msg: string) => void errors.push(msg), child: () => log };
    const frames: string[] = [];
    const adapter = venueSpec("upbit")!.create(config.venues[0]!, subs, { log, reconnectBaseMs: 5, onRawFrame: (_m: string, _c: string, f: string) => void frames.push(f) }) as UpbitAdapter;
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    expect(adapter.level).toBe(100_000);
    const instruments = await adapter.loadInstruments();
    expect(instruments[0]).toBeDefined();
    expect(instruments[1]).toBeUndefined();
    expect(errors.join("\n")).toContain("spot:KRW-XRP (level 100000 is not one of its supported_levels (0, 10, 100, 1000, 10000)");
    const sink = new ReplaceSink(instruments as Instrument[]); // only index 0 is ever written
    adapter.start(sink);
    await until(() => (sink.updates[0] ?? 0) >= 1, "KRW-BTC's first book");
    sim.step(2);
    await until(() => (sink.updates[0] ?? 0) >= 3, "two more books");
    // Every book frame says the level it was asked for, and the book is the simulator's book grouped by it.
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames.filter((x) => x.includes('"orderbook"'))) expect(f).toContain('"level":100000');
    expect(sim.subscribed()).toEqual(["KRW-BTC"]);
    const inst = instruments[0]!;
    const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, inst.priceExp), parseFixed(q, inst.qtyExp)] as [number, number]));
    const want = () => sim.book("KRW-BTC", 15, 100_000);
    const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
    await until(() => sink.lastU[0] === want().ts && same(sink.bids[0], conv(want().bids)) && same(sink.asks[0], conv(want().asks)), "the grouped book");
    const step = Math.round(100_000 * 10 ** inst.priceExp);
    for (const p of [...sink.bids[0]!.keys(), ...sink.asks[0]!.keys()]) expect(p % step).toBe(0);
    // Grouping merged levels: the ungrouped top 15 has more of them than the grouped book.
    const raw = sim.book("KRW-BTC", 15);
    expect(sink.bids[0]!.size + sink.asks[0]!.size).toBeLessThan(raw.bids.size + raw.asks.size);
  });
});

const SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-BTC", depth: 30 },
  { market: "spot", symbol: "KRW-XRP", depth: 5 },
  { market: "spot", symbol: "USDT-BTC", depth: 15 },
];

// Each venue's tests at once (vitest's maxConcurrency: 5 at a time): each test has its own simulator (port 0) and
// adapter, stopped by its own onTestFinished (the shared afterEach would stop the others'), and most of each test is
// the adapter's own waits (errorWaitMs, stalls), not the CPU. One after another the two groups took ~24 s.
for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe.concurrent(`${spec.venue} adapter`, { timeout: 20_000 }, () => {
    it("ignores and counts a book older than the last; applies units minus zero sizes", async ({ onTestFinished, expect }) => {
      const { sim, adapter, sink, matches } = await setup(spec, SUBS, {}, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      sim.inject("older", "KRW-BTC");
      sim.inject("zero_size", "KRW-XRP");
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i)) && adapter.stats().olderTimestamps === 1, "older ignored, books equal");
      expect(sink.invalid).toEqual([]);
      // The zero-size unit is left out of the book (the simulator's expected book has it out too).
      expect(sim.book("KRW-XRP", 5).asks.size).toBeLessThanOrEqual(5);
    });

    it("a book older than the newest applied is ignored also while the book waits for its next (after a malformed frame; chaos seed 706)", async ({ onTestFinished, expect }) => {
      const { sim, adapter, sink, matches } = await setup(spec, SUBS, {}, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      const newest = sink.lastU[0]!;
      const parseErrors = adapter.stats().parseErrors;
      sim.inject("malformed", "KRW-BTC"); // the book is RESYNCING until its next full book
      await until(() => adapter.stats().parseErrors > parseErrors, "the malformed frame met");
      sim.inject("older", "KRW-BTC"); // a book stamped before the newest: never the venue's book now
      await until(() => adapter.stats().olderTimestamps === 1 || sink.lastU[0]! < newest, "the older book met");
      expect(sink.lastU[0]).toBe(newest);
      expect((adapter as UpbitAdapter).topicInfo(0).state).toBe("resyncing");
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i)), "the next book applied");
    });

    it("bisects an error frame to the code it refuses; the other books carry on", async ({ onTestFinished, expect }) => {
      const subs: Subscription[] = [...SUBS, { market: "spot", symbol: "BTC-ETH", depth: 5 }, { market: "spot", symbol: "KRW-ETH", depth: 5 }];
      const { sim, adapter, sink, matches } = await setup(spec, subs, process.env.DBG ? { log: createLogger({ level: "debug" }) } : {}, {}, onTestFinished);
      await until(() => subs.every((_, i) => matches(i)), "books live");
      sim.inject("error_frame", "BTC-ETH");
      sim.inject("disconnect"); // the reconnect's request names BTC-ETH: refused, bisected
      await until(() => sink.invalid.some((e) => e.index === 3 && e.state === BookState.HALTED), "BTC-ETH rejected", 15_000);
      sim.step(1);
      await until(() => [0, 1, 2, 4].every(matches), "the others recover");
      // Codes a probe left out were RESYNCING meanwhile; the refused one alone is HALTED.
      expect(sink.invalid.filter((e) => e.state === BookState.HALTED)).toEqual([{ index: 3, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
      expect(adapter.stats().subscribeRejected).toBe(1);
      expect(adapter.stats().bisectProbes).toBeGreaterThan(0);
      expect(sim.stats.overRate).toBe(0); // the probes kept 5 requests a second and 100 a minute per connection
    });

    it("an error frame no code of the request caused rejects nothing: the last code left is probed alone first (chaos seed 702)", async ({ onTestFinished, expect }) => {
      const { sim, adapter, sink, matches } = await setup(spec, SUBS, {}, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      const before = sim.stats.requests;
      sim.inject("error_frame"); // an error frame, no code refused: every probe passes
      // Old: one probe, then the last code left was refused unprobed. Now: two probes, then the full list again.
      await until(() => adapter.stats().subscribeRejected > 0 || sim.stats.requests >= before + 3, "the bisection over", 15_000);
      expect(adapter.stats().subscribeRejected).toBe(0);
      expect(sink.invalid.filter((e) => e.state === BookState.HALTED)).toEqual([]);
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i)), "every book carries on");
      expect(adapter.stats().bisectProbes).toBe(2);
    });

    it("a code a bisect probe leaves out is not LIVE while the probe is the venue's subscription (each request replaces the last)", async ({ onTestFinished, expect }) => {
      const { sim, adapter, sink, matches } = await setup(spec, SUBS, { errorWaitMs: 1_500 }, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      const info = (i: number) => (adapter as UpbitAdapter).topicInfo(i).state;
      const subscribed = (codes: string[]) => sim.subscribed().sort().join() === [...codes].sort().join();
      sim.inject("error_frame"); // no code caused it: probes of [KRW-BTC, KRW-XRP], then [USDT-BTC], then the whole list
      await until(() => subscribed(["KRW-BTC", "KRW-XRP"]), "the first probe is the venue's subscription");
      // Old: USDT-BTC stayed LIVE, its book frozen while the venue sent it nothing.
      expect(info(2)).not.toBe("live");
      sim.step(1);
      await until(() => matches(0) && matches(1), "the probed codes' books");
      await until(() => subscribed(["USDT-BTC"]), "the second probe is the venue's subscription");
      expect([info(0), info(1)]).toEqual(["resyncing", "resyncing"]);
      sim.step(1); // the venue sends the probed code only; the others' frames would be ignored
      await until(() => subscribed(["KRW-BTC", "KRW-XRP", "USDT-BTC"]), "the whole list again");
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i) && info(i) === "live"), "every book back");
      expect(adapter.stats().subscribeRejected).toBe(0);
      expect(sink.invalid.filter((e) => e.state === BookState.HALTED)).toEqual([]);
      expect(sink.invalid.filter((e) => e.index === 2)[0]).toEqual({ index: 2, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED });
    }, 30_000);

    it("another error frame no code caused, landing while one code is probed alone, rejects nothing (chaos bithumb seed 802)", async ({ onTestFinished, expect }) => {
      const { sim, adapter, sink, matches } = await setup(spec, SUBS, { errorWaitMs: 2_000 }, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      const before = sim.stats.requests;
      // Spontaneous error frames, each while the last probe waits: 3 codes → probe of 2 → probe of 1.
      sim.inject("error_frame");
      await until(() => sim.stats.requests >= before + 1, "the probe of two codes out");
      sim.inject("error_frame");
      await until(() => sim.stats.requests >= before + 2, "the probe of one code out");
      sim.inject("error_frame"); // Old: that code was refused here, its book halted for good.
      await until(() => sim.stats.requests >= before + 3, "the same code probed alone once more");
      expect(adapter.stats().subscribeRejected).toBe(0);
      // No further error: that probe passes (2 s) and the whole list goes out again.
      await until(() => sim.stats.requests >= before + 4, "the bisection over", 20_000);
      expect(adapter.stats().subscribeRejected).toBe(0);
      expect(sink.invalid.filter((e) => e.state === BookState.HALTED)).toEqual([]);
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i)), "every book carries on");
    }, 40_000);

    it("a book gone stale again and again is in the next reconnect's request (no resync backoff for next_full_book)", async ({ onTestFinished, expect }) => {
      const subs = SUBS.slice(0, 2);
      const { sim, adapter, matches } = await setup(spec, subs, { staleAfterMs: () => 100, resyncBackoffBaseMs: 60_000, resyncBackoffMaxMs: 60_000 }, {}, onTestFinished);
      await until(() => subs.every((_, i) => matches(i)), "books live");
      await until(() => adapter.stats().staleResyncs >= 6, "several stale resyncs in a row");
      sim.inject("disconnect");
      await until(() => adapter.stats().reconnects >= 1 && sim.subscribed().length === 2, "both codes asked for again");
      sim.step(1);
      await until(() => subs.every((_, i) => matches(i)), "books back");
    });

    it("a request lost on the way (no ack) is sent again once its books go silent", async ({ onTestFinished, expect }) => {
      const subs = SUBS.slice(0, 2);
      // A resend that falls in the stall is lost too; the next waits resendMinMs (500 > the stall, not the 5 s default).
      const { sim, adapter, matches } = await setup(spec, subs, { staleAfterMs: () => 200, resendMinMs: 500 }, {}, onTestFinished);
      await until(() => subs.every((_, i) => matches(i)), "books live");
      sim.inject("stall", undefined, { stallMs: 400 }); // the reconnect's request arrives while the server drops everything
      sim.inject("disconnect");
      await until(() => adapter.stats().requestResends >= 1 && sim.subscribed().length === 2, "the list sent again", 15_000);
      sim.step(1);
      await until(() => subs.every((_, i) => matches(i)), "books back");
    });

    it("connects again after HTTP 429 on the upgrade; sends no Origin header; PING is answered", async ({ onTestFinished, expect }) => {
      // The hold after a refused upgrade (10 s, then 20 s: connect-hold.ts) shortened to 50 ms.
      const { sim, adapter, matches } = await setup(spec, SUBS, { pingIntervalMs: 50, connectHoldMs: { 429: 50 } }, {}, onTestFinished);
      await until(() => SUBS.every((_, i) => matches(i)), "books live");
      sim.inject("429", undefined, { count: 2 });
      sim.inject("disconnect");
      await until(() => sim.stats.refused429 === 2, "two upgrades refused");
      sim.step(1);
      await until(() => SUBS.every((_, i) => matches(i)), "books back after the 429s");
      await until(() => adapter.stats().pongs > 0, "a PING answered");
      expect(sim.stats.originHeaders).toBe(0);
    });
  });
}

describe("a number that does not fit", { timeout: 20_000 }, () => {
  it("asks for its instrument's re-check twice a minute at most while the answer changes nothing, not on every frame", async () => {
    // Bithumb derives its tick from the ticker (30 000 → tick 1 at a tenth: exponent 0); the books come at tick 0.001,
    // so every book misfits and no answer cures it. Before, each misfit asked: the venue's whole REST budget, for good.
    let clock = 1_000_000;
    const subs: Subscription[] = [{ market: "spot", symbol: "KRW-XRP", depth: 30 }];
    const errors: string[] = [];
    const log = { ...silentLogger, error: (msg: string, f?: Record<string, unknown>) => void errors.push(`${msg} ${JSON.stringify(f ?? {})}`) };
    const { sim, adapter } = await setup(BITHUMB_VENUE, subs, { now: () => clock, log }, { specs: { "KRW-XRP": { price: 30_000, tick: "0.001" } } });
    const a = adapter as unknown as UpbitAdapter;
    const stat = (k: string) => a.stats()[k] ?? 0;
    await until(() => stat("parseErrors") >= 1 && stat("instrumentReloads") >= 1, "the SNAPSHOT refused and its re-check answered");
    for (let k = 2; k <= 6; k++) {
      sim.step(1);
      await until(() => stat("parseErrors") >= k, `misfit ${k}`);
    }
    expect(stat("instrumentRechecks")).toBe(2);
    expect(stat("misfitRechecksHeld")).toBe(4);
    // The stuck book is said once (not per held misfit), naming the code and the override that cures it.
    expect(errors.filter((e) => e.includes("keep coming after 2 instrument re-checks"))).toHaveLength(1);
    expect(errors.join("\n")).toMatch(/set tick_size \/ lot_size in an override.*"topic":"KRW-XRP"/);
    clock += 60_000; // a minute on: the next misfit asks again
    sim.step(1);
    await until(() => stat("parseErrors") >= 7, "misfit 7");
    expect(stat("instrumentRechecks")).toBe(3);
    expect(a.topicInfo(0).state).toBe("resyncing"); // topicInfo's names are lower case: "LIVE" never matched
  });

  for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
    it(`${spec.venue}: a KRW code whose price falls into a finer tick band is rebuilt at the finer exponent and comes back LIVE`, async () => {
      // Listed at 1,500 KRW: the exponent holds a fall to 150 (tick 0.1). It trades at ~95 (tick 0.01) since, so every
      // book misfits; the re-check at 95 derives tick 0.001 (a fall to 9.5), where a level of 10^10 KRW is 1.05·10^8
      // units, past the start-up size rule's bound. Until s-upbtick that rule refused the re-check: the book kept tick
      // 0.1 and stayed RESYNCING for good (an override the only way out).
      let tickerAnswers = 0;
      const fetchFn = (async (url: string) => {
        const path = new URL(url).pathname;
        const first = path !== "/v1/ticker" || tickerAnswers++ === 0;
        const body =
          path === "/v1/market/all" ? [{ market: "KRW-XRP" }]
          : path === "/v1/ticker" ? [{ market: "KRW-XRP", trade_price: first ? 1500 : 95 }]
          : [{ market: "KRW-XRP", tick_size: tickerAnswers <= 1 ? "1" : "0.01" }];
        return new Response(JSON.stringify(body));
      }) as unknown as typeof fetch;
      const subs: Subscription[] = [{ market: "spot", symbol: "KRW-XRP", depth: 15 }];
      const { sim, adapter, sink, matches } = await setup(spec, subs, { fetch: fetchFn }, { specs: { "KRW-XRP": { price: 95, tick: "0.01" } } });
      const a = adapter as unknown as UpbitAdapter;
      const stat = (k: string) => a.stats()[k] ?? 0;
      // Its SNAPSHOT misfits (prices at 0.01 against tick 0.1) and asks for the re-check; the next book is the test.
      await until(() => stat("parseErrors") >= 1 && stat("instrumentReloads") >= 1, "the SNAPSHOT refused and its re-check answered");
      sim.step(1);
      await until(() => (a.topicInfo(0).state === "live" && matches(0)) || stat("parseErrors") >= 2, "the next book applied or refused");
      expect(stat("parseErrors")).toBe(1);
      expect(sink.changed.map((c) => [c.instrument.tickSize, c.instrument.priceExp])).toEqual([["0.001", 3]]);
      sim.step(2);
      await until(() => matches(0), "the next books at the finer exponent");
      expect(a.topicInfo(0).state).toBe("live");
    });
  }
});

describe("instrument rule", () => {
  it("places the price exponent where a 90 % fall stays exact, and refuses a code whose sizes could pass 2^53", () => {
    expect(specFor("KRW-BTC", 100_000_000, "1000")).toEqual({ tickSize: "1000", lotSize: "0.00000001" });
    expect(specFor("KRW-XRP", 3000, "1")).toEqual({ tickSize: "0.1", lotSize: "0.00000001" });
    expect(specFor("BTC-ETH", 0.03, "0.00000001")).toEqual({ tickSize: "0.00000001", lotSize: "0.00000001" });
    const refused = specFor("KRW-SHIB", 0.02, "0.00001");
    expect(typeof refused).toBe("string");
    expect(refused).toMatch(/no quantity exponent fits/);
    expect(specFor("EUR-BTC", 1, undefined)).toMatch(/no tick table/);
  });

  it("a code running (a re-check) is not held to the size rule: it gets the finer band's tick; a new one still is", () => {
    // KRW-XRP fallen to 95 KRW: tick 0.001 holds a fall to 9.5; 10^10 KRW there is 1.05·10^8 units, past 2^53 at 8 decimals.
    expect(specFor("KRW-XRP", 95, "0.01")).toMatch(/no quantity exponent fits/);
    expect(specFor("KRW-XRP", 95, "0.01", true)).toEqual({ tickSize: "0.001", lotSize: "0.00000001" });
    expect(specFor("KRW-SHIB", 0.02, "0.00001", true)).toEqual({ tickSize: "0.000001", lotSize: "0.00000001" });
    // The price rule still holds for it: prices past 2^53 at the exponent are refused.
    expect(specFor("KRW-BTC", 1e15, undefined, true)).toMatch(/pass 2\^53/);
  });

  it("a malformed tick_size from /v1/orderbook/instruments refuses that code alone, naming it; the others resolve", async () => {
    const answers: Record<string, unknown> = {
      "/v1/market/all": [{ market: "KRW-BTC" }, { market: "KRW-XRP" }, { market: "KRW-ETH" }],
      "/v1/ticker": [{ market: "KRW-BTC", trade_price: 100_000_000 }, { market: "KRW-XRP", trade_price: 3000 }, { market: "KRW-ETH", trade_price: 5_000_000 }],
      "/v1/orderbook/instruments": [{ market: "KRW-BTC", tick_size: "1000" }, { market: "KRW-XRP", tick_size: "0" }, { market: "KRW-ETH", tick_size: "1,000" }],
    };
    const fetchFn = (async (url: string) => new Response(JSON.stringify(answers[new URL(url).pathname]))) as unknown as typeof fetch;
    const config = { venue: "upbit", restUrl: "http://127.0.0.1:9", wsUrl: "ws://127.0.0.1:9", markets: [{ market: "spot", depth: 15, symbols: ["KRW-BTC", "KRW-XRP", "KRW-ETH"] }], overrides: new Map() } as unknown as VenueConfig;
    const source = upbitInstrumentSource(config, fetchFn, true);
    // Before 2026-12-06 the tick's FixedPointError left fetchSpecs: the whole answer failed, every code unresolved.
    const specs = await source.fetchSpecs("spot", ["KRW-BTC", "KRW-XRP", "KRW-ETH"]);
    expect([...specs.keys()]).toEqual(["KRW-BTC"]);
    expect(source.whyRefused!("spot", "KRW-XRP")).toMatch(/tick_size "0" is not a usable step/);
    expect(source.whyRefused!("spot", "KRW-ETH")).toMatch(/tick_size "1,000" is not a usable step/);
  });

  it("a venue whose every code gets a malformed tick_size starts and waits for a usable one: the venue's answer, not a configuration error", async () => {
    const tickSize = "0";
    const answers = () => ({
      "/v1/market/all": [{ market: "KRW-BTC" }],
      "/v1/ticker": [{ market: "KRW-BTC", trade_price: 100_000_000 }],
      "/v1/orderbook/instruments": [{ market: "KRW-BTC", tick_size: tickSize }],
    }) as Record<string, unknown>;
    const fetchFn = (async (url: string) => new Response(JSON.stringify(answers()[new URL(url).pathname]))) as unknown as typeof fetch;
    const config = { venue: "upbit", restUrl: "http://127.0.0.1:9", wsUrl: "ws://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot", depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map() } as unknown as VenueConfig;
    const adapter = UPBIT_VENUE.create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger, fetch: fetchFn }) as VenueAdapter;
    cleanups.push(() => adapter.stop());
    // Before: bad_spec, every code so: SymbolsUnusableError ('run' exits 2, the unit not restarted) for a venue's glitch.
    expect(await adapter.loadInstruments()).toEqual([undefined]);
    const left = adapter.unresolvedInstruments!();
    expect(left.map((u) => [u.symbol, u.kind])).toEqual([["KRW-BTC", "not_trading"]]);
    expect(left[0]!.detail).toMatch(/tick_size "0" is not a usable step .* at http:\/\/127\.0\.0\.1:9\/v1\/orderbook\/instruments/);
  });

  it("takes KRW-DOGE, BTC-XRP and USDT-DOGE at 8 decimals (each size exact or refused, never rounded); KRW-SHIB refused", () => {
    // Real markets at prices they traded at (BTC-XRP's 2024 low, 5.5e-6 BTC, included): until 2026-12-06 each was
    // refused, the bound taken at a tenth of the price (so every KRW code under ~1,100 KRW).
    const cases: [string, number, string, string][] = [
      ["KRW-DOGE", 250, "0.1", "0.01"],
      ["BTC-XRP", 0.0000055, "0.00000001", "0.00000001"],
      ["BTC-XRP", 0.000024, "0.00000001", "0.00000001"],
      ["USDT-DOGE", 0.17, "0.0001", "0.00001"],
    ];
    for (const [code, price, venueTick, tick] of cases) expect(specFor(code, price, venueTick), code).toEqual({ tickSize: tick, lotSize: "0.00000001" });
    // 90,071,992.54740991 SHIB is ~1.8 M KRW at 0.02: its levels pass it.
    expect(specFor("KRW-SHIB", 0.02, "0.00001")).toMatch(/at most 90071992\.54740991 fit 2\^53/);
    // What takes over from the start-up check: the scanner at these exponents reads a size exactly (against BigInt)
    // or refuses it, also past 2^53 at 8 decimals (then the book waits for one that fits: a parse error).
    const table = new CodeTable();
    table.add("KRW-DOGE", 0, 2, 8, 30);
    const scanner = new UpbitScanner(1000);
    const u = new BookUpdate();
    let seed = 0x5eed;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let refusedSeen = 0;
    for (let i = 0; i < 3000; i++) {
      // Mantissas around 2^53 and across the decades below it, written plain or in Java's exponent form.
      const m = rnd() < 0.4 ? 9007199254740991n + BigInt(Math.floor(rnd() * 2000)) - 1000n : BigInt(Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * 16))));
      const digits = m.toString().padStart(9, "0");
      const plain = `${digits.slice(0, -8).replace(/^0+(?=\d)/, "")}.${digits.slice(-8)}`;
      const text = rnd() < 0.5 ? plain : `${m}E-8`;
      const frame = new TextEncoder().encode(`{"type":"orderbook","code":"KRW-DOGE","timestamp":1,"orderbook_units":[{"ask_price":250.5,"bid_price":250.4,"ask_size":${text},"bid_size":1.0}]}`);
      const r = scanner.scan(frame, frame.length, table, u);
      if (m > 9007199254740991n) {
        expect(r, text).toBe(SCAN_ERR_QTY);
        refusedSeen++;
      } else {
        expect(r, text).toBe(0);
        expect(u.askCount === 0 ? 0n : BigInt(u.askQty[0]!), text).toBe(m);
      }
    }
    expect(refusedSeen).toBeGreaterThan(100);
  });
});
