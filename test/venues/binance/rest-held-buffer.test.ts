/**
 * A Binance book resyncing while its market's REST is held (a 418 ban, a 429's Retry-After) buffers nothing until
 * BUFFER_LEAD_MS before the hold ends (src/venues/binance/adapter.ts onDiffWhileSyncing). Before, every such stream
 * buffered its diffs for the whole hold (up to 1 h: MAX_BUFFERED_DIFFS copies each, with no overall cap). The REST
 * answers are scripted (418, Retry-After 3600) and the time is the test's: the books stay RESYNCING with nothing
 * buffered, buffering starts again shortly before the hold's end, nothing is sent into the hold, and once it is over
 * every book bridges and equals the simulator's.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter, BUFFER_LEAD_MS } from "../../../src/venues/binance/adapter.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("Binance: no diffs buffered while REST is held", () => {
  test("a 418 of an hour: books stay RESYNCING with empty buffers; buffering resumes shortly before the hold ends; then every book bridges", async () => {
    const symbols = ["AUSDT", "BUSDT", "CUSDT", "DUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 5 });
    let clock = 1_000_000;
    let banned = false;
    let sentWhileBanned = 0;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      if (banned && String(input).includes("/depth")) {
        sentWhileBanned++;
        return new Response('{"code":-1003,"msg":"banned"}', { status: 418, headers: { "retry-after": "3600" } });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const { adapter, sink, stepUntil } = await startQuiet(sim, symbols, "binance-held", { fetch: fetchFn, now: () => clock });
    const bridging = () => symbols.filter((_, i) => adapter.topicInfo(i).bridging).length;
    await stepUntil(() => adapter.stats().topicsLive === 4, "every book live");

    banned = true;
    for (let i = 0; i < symbols.length; i++) adapter.requestResync(i, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.stats().restBanned === 1, "a snapshot answered 418");
    // 40 more diffs of each stream while the hold runs.
    const before = adapter.stats().messages!;
    await stepUntil(() => adapter.stats().messages! >= before + 4 * 40, "diffs of the held books");
    expect(bridging()).toBe(0);
    expect(adapter.stats().bridgeBufferedBytes).toBe(0);
    expect(adapter.stats().diffsNotBufferedWhileHeld).toBeGreaterThan(4 * 30);
    expect(adapter.stats().topicsLive).toBe(0);
    expect(sentWhileBanned).toBe(1); // the requests behind the hold were not sent into it

    // Within BUFFER_LEAD_MS of the hold's end: buffering starts again, the snapshots queue behind the hold.
    banned = false;
    clock += 3_600_000 - BUFFER_LEAD_MS / 2;
    await stepUntil(() => bridging() === 4 && adapter.stats().bridgeBufferedBytes! > 0, "every stream buffering again");
    expect(sim.stats.depthRequests).toBe(4); // the first 4 snapshots only: nothing went out into the hold
    clock += BUFFER_LEAD_MS;
    await stepUntil(() => adapter.stats().topicsLive === 4, "every book live after the hold");
    sim.step(1);
    await until(() => symbols.every((s, i) => same(sink, i, sim.book("spot", s), sink.instruments[i]!)), "every book equal to the simulator's");
    expect(adapter.stats().bridgeBufferedBytes).toBe(0);
  }, 30_000);
});

describe("Binance: a REST hold on spot holds no USD-M request (api and fapi: separate weight limits)", () => {
  // One adapter serves both markets; each has its own weight budget, 429 / 418 hold and buffering rule (rest.ts,
  // adapter.ts onDiffWhileSyncing by t.market). Were the budget or the hold shared, B's snapshot would wait out spot's
  // ban (or B would buffer nothing during it) and B would stay RESYNCING on this clock.
  test("spot banned for an hour: the USD-M book resyncs and bridges meanwhile; spot's stays RESYNCING, buffering nothing", async () => {
    let banned = false;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (banned && url.includes("/api/v3/depth")) return new Response('{"code":-1003,"msg":"banned"}', { status: 418, headers: { "retry-after": "3600" } });
      return fetch(input, init);
    }) as typeof fetch;
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["AUSDT"] }, { market: "linear", symbols: ["BUSDT"] }], seed: 13 });
    const { adapter, sink, stepUntil } = await startQuiet(sim, ["AUSDT"], "binance-ban-spot", { fetch: fetchFn, now: () => 1_000_000, linear: ["BUSDT"] });
    await stepUntil(() => adapter.stats().topicsLive === 2, "both books live");
    banned = true;
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.stats().restBanned === 1, "spot's snapshot answered 418");
    adapter.requestResync(1, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.topicInfo(1).state === "live", "the USD-M book live again");
    sim.step(1);
    await until(() => same(sink, 1, sim.book("linear", "BUSDT"), sink.instruments[1]!), "B equal to the simulator's");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing", bridging: false });
    expect(adapter.stats().diffsNotBufferedWhileHeld).toBeGreaterThan(0);
    expect(adapter.stats().restBanned).toBe(1);
  }, 30_000);
});

describe("Binance: a bridge whose snapshot is answered keeps it through a hold that starts with the answer", () => {
  test("the answer that reaches 80 % of the weight (a hold to the minute's end): the book bridges with it, not after the hold", async () => {
    // Before, the next diff found the market held for more than BUFFER_LEAD_MS and dropped the bridge, snapshot and
    // all: the book stayed RESYNCING until the hold's end and asked again (the weight of the answer thrown away).
    const symbols = ["AUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 7 });
    const clock = 1_000_000;
    let block = false;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (!block || !String(input).includes("/depth")) return res;
      // The IP's weight used up, by an answer at the start of a minute (Binance's Date): REST held ~60 s.
      const headers = new Headers(res.headers);
      headers.set("x-mbx-used-weight-1m", "1000000");
      headers.set("date", "Sun, 06 Dec 2026 22:00:00 GMT");
      return new Response(await res.text(), { status: res.status, headers });
    }) as typeof fetch;
    const { adapter, sink, stepUntil } = await startQuiet(sim, symbols, "binance-held-answer", { fetch: fetchFn, now: () => clock });
    await stepUntil(() => adapter.stats().topicsLive === 1, "the book live");
    block = true;
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.stats().usedWeightBlocks === 1 || adapter.stats().topicsLive === 1, "the snapshot answered");
    expect(adapter.stats().usedWeightBlocks).toBe(1);
    await stepUntil(() => adapter.stats().topicsLive === 1 || adapter.stats().buffersDroppedWhileHeld! > 0, "the book live again, or its bridge dropped");
    expect(adapter.stats().buffersDroppedWhileHeld).toBe(0);
    expect(adapter.stats().topicsLive).toBe(1);
    expect(sim.stats.depthRequests).toBe(2); // the first snapshot and this one: nothing asked again
    sim.step(1);
    await until(() => same(sink, 0, sim.book("spot", "AUSDT"), sink.instruments[0]!), "the book equal to the simulator's");
    expect(adapter.stats().bridgeBufferedBytes).toBe(0);
  }, 30_000);
});

describe("Binance: a bridge whose request is already sent keeps buffering through a hold that starts meanwhile", () => {
  test("B's answer reaches 80 % of the weight while A's request is on the wire: A's answer still bridges A", async () => {
    // Before, A's next diff found the market held for more than BUFFER_LEAD_MS and dropped A's bridge, aborting the
    // request already sent (its weight spent): A stayed RESYNCING until the hold's end and asked again.
    const symbols = ["AUSDT", "BUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 9 });
    const clock = 1_000_000;
    let armed = false;
    let releaseA: (() => void) | null = null;
    const gateA = new Promise<void>((r) => (releaseA = r));
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (armed && url.includes("/depth") && url.includes("AUSDT")) {
        await gateA; // on the wire: answered once the test lets it
        return fetch(input, init);
      }
      const res = await fetch(input, init);
      if (!armed || !url.includes("/depth")) return res;
      const headers = new Headers(res.headers);
      headers.set("x-mbx-used-weight-1m", "1000000");
      headers.set("date", "Sun, 06 Dec 2026 22:00:00 GMT");
      return new Response(await res.text(), { status: res.status, headers });
    }) as typeof fetch;
    const { adapter, sink, stepUntil } = await startQuiet(sim, symbols, "binance-held-sent", { fetch: fetchFn, now: () => clock }, () => releaseA?.());
    await stepUntil(() => adapter.stats().topicsLive === 2, "both books live");
    armed = true;
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    adapter.requestResync(1, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.stats().usedWeightBlocks === 1, "B's snapshot answered at 80 %");
    const before = adapter.stats().messages!;
    await stepUntil(() => adapter.stats().messages! >= before + 2 * 20, "diffs of both books during the hold");
    releaseA!();
    await stepUntil(() => adapter.stats().topicsLive === 2 || adapter.stats().snapshotsAbandoned! > 0, "A live, or its request abandoned");
    expect(adapter.stats().snapshotsAbandoned).toBe(0);
    expect(adapter.stats().buffersDroppedWhileHeld).toBe(0);
    expect(adapter.stats().topicsLive).toBe(2);
    expect(adapter.stats().bridgeBufferedBytes).toBe(0);
  }, 30_000);
});

function same(sink: BookMaps, i: number, b: { bids: Map<string, string>; asks: Map<string, string>; u: number }, inst: { priceExp: number; qtyExp: number }): boolean {
  const eq = (a: Map<number, number> | undefined, x: Map<string, string>) =>
    a !== undefined && a.size === x.size && [...x].every(([p, q]) => a.get(parseFixed(p, inst.priceExp)) === parseFixed(q, inst.qtyExp));
  return sink.seq[i] === b.u && eq(sink.bids[i], b.bids) && eq(sink.asks[i], b.asks);
}

describe("Binance: over the byte budget, a refused snapshot's bridge gives way before one asked for since", () => {
  // A's bridge begins first, then B's; A's snapshot is refused (kept buffering, asked again after the backoff: at the
  // queue's end) while B's request, sent after A's, is still out. Before, the diff that did not fit dropped B's buffer (begun after
  // A's) and B's answer would be lost; now A, with no request out, gives way (adapter.ts: the refused hook's waits).
  test("A refused, B's answer pending: the first budget drop is A's, B keeps its buffer", async () => {
    const r = await refusedAndPending(false);
    expect(r.bAborted).toBe(false);
    expect(r.b).toMatchObject({ bridging: true, state: "resyncing" });
    expect(r.abandoned).toBe(0);
  });
  // A's snapshot is refused: A waits out its resync backoff (here for good), its buffer kept, no request out. B's
  // resync begins after that, its request out. Before, A's rank was renewed when refused, so B, asked for after it,
  // ranked behind it though REST served B first: A's diffs dropped B's buffer (its request abandoned, answer lost).
  // Now a bridge with no request out ranks behind every bridge with one (common/rest-bridge.ts WAITING_RANK).
  test("A refused and waiting, then B asked for: over the budget A gives way, B keeps its buffer", async () => {
    const r = await refusedAndPending(true);
    expect(r.bAborted).toBe(false);
    expect(r.b).toMatchObject({ bridging: true, state: "resyncing" });
    expect(r.abandoned).toBe(0);
  });
});

/**
 * A's resync, then B's, over a budget of 24 KiB; A's snapshot refused (its resync backoff never ends on this clock) before
 * or after B's is asked for; B's answer never comes. Diffs flow until a buffer is dropped over the budget: whether B's
 * request was given up (its bridge dropped), and B's state then.
 */
async function refusedAndPending(bAskedAfterRefusal: boolean) {
  const symbols = ["AUSDT", "BUSDT"];
  const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 7 });
  const clock = 1_000_000; // the resync backoff never ends: A asks nothing more here
  let scripted = false;
  let bAborted = false; // B's request given up: its bridge dropped, its answer lost
  let refuseA: (() => void) | null = null;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    if (scripted && url.includes("/depth") && url.includes("AUSDT")) {
      return new Promise<Response>((resolve) => (refuseA = () => resolve(new Response('{"code":-1000,"msg":"unknown"}', { status: 500 }))));
    }
    if (scripted && url.includes("/depth")) {
      // B's answer: not yet.
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener("abort", () => {
          bAborted = true;
          reject(new Error("aborted"));
        }),
      );
    }
    return fetch(input, init);
  }) as typeof fetch;
  const { adapter, sink, stepUntil } = await startQuiet(sim, symbols, "binance-asked-again", { fetch: fetchFn, now: () => clock, maxBufferedBytes: 24 * 1024 });
  await stepUntil(() => adapter.stats().topicsLive === 2, "both books live");
  scripted = true;
  adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
  await stepUntil(() => refuseA !== null, "A's snapshot asked for");
  const refuse = async () => {
    refuseA!();
    await until(() => adapter.stats().snapshotsRefused === 1, "A's snapshot refused");
  };
  if (bAskedAfterRefusal) await refuse();
  adapter.requestResync(1, StatusReason.SEQUENCE_GAP);
  await stepUntil(() => adapter.topicInfo(1).bridging, "B bridging, its snapshot asked for after A's");
  if (!bAskedAfterRefusal) await refuse();
  await stepUntil(() => adapter.stats().bridgeBudgetDrops! >= 1, "a buffer dropped over the byte budget");
  return { bAborted, b: adapter.topicInfo(1), abandoned: adapter.stats().snapshotsAbandoned };
}

describe("Binance: spot and USD-M keep their REST bridges apart (one adapter serves both markets)", () => {
  // Spot A's resync is asked for first, USD-M B's after it; B's buffer fills part of the byte budget, then A's
  // diffs overflow it while neither answer is in. Before, one budget and one rank order served both markets though
  // each has its own REST queue (api vs fapi): A's diffs dropped B's buffer (asked later in the shared order), B's
  // request to fapi was aborted and B resynced for spot's load. Now each market has its own part of the budget
  // (market-bridges.ts): A gives way within spot's part, B keeps its buffer and bridges with its answer.
  test("spot over the bridges' budget drops no USD-M buffer; B's answer bridges B", async () => {
    let scripted = false;
    let bAborted = false;
    let answerB: (() => void) | null = null;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (scripted && url.includes("/depth") && url.includes("AUSDT")) return new Promise<Response>(() => {}); // spot's answer: never
      if (scripted && url.includes("/depth") && url.includes("BUSDT")) {
        return new Promise<Response>((resolve, reject) => {
          answerB = () => void fetch(input).then(resolve, reject);
          init?.signal?.addEventListener("abort", () => {
            bAborted = true;
            reject(new Error("aborted"));
          });
        });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["AUSDT"] }, { market: "linear", symbols: ["BUSDT"] }], seed: 11 });
    const { adapter, sink, stepUntil } = await startQuiet(sim, ["AUSDT"], "binance-two-markets", { fetch: fetchFn, now: () => 1_000_000, maxBufferedBytes: 48 * 1024, linear: ["BUSDT"] });
    await stepUntil(() => adapter.stats().topicsLive === 2, "both books live");
    scripted = true;
    const stall = (market: "spot" | "linear", symbol: string, stallMs: number) => sim.inject("stall", { market, symbol }, { stallMs });
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await stepUntil(() => adapter.topicInfo(0).bridging && adapter.stats().bridgeBufferedBytes! > 0, "A bridging, its snapshot asked for");
    stall("spot", "AUSDT", 3_600_000);
    adapter.requestResync(1, StatusReason.SEQUENCE_GAP);
    const bytesA = adapter.stats().bridgeBufferedBytes!;
    // B's buffer: more than A's diffs could overflow alone, less than a market's part (a quarter of 48 KiB, 12 KiB).
    await stepUntil(() => answerB !== null && adapter.stats().bridgeBufferedBytes! - bytesA >= 6 * 1024, "B buffering, its snapshot asked for");
    stall("linear", "BUSDT", 3_600_000);
    stall("spot", "AUSDT", 1);
    await stepUntil(() => adapter.stats().bridgeBudgetDrops! >= 1, "a buffer dropped over the byte budget");
    expect(bAborted).toBe(false);
    expect(adapter.topicInfo(1)).toMatchObject({ bridging: true, state: "resyncing" });
    expect(adapter.topicInfo(0).bridging).toBe(false); // spot's own buffer gave way
    stall("linear", "BUSDT", 1);
    answerB!();
    await stepUntil(() => adapter.topicInfo(1).state === "live", "B live with its answer");
    sim.step(1);
    await until(() => same(sink, 1, sim.book("linear", "BUSDT"), sink.instruments[1]!), "B equal to the simulator's");
    expect(adapter.stats().snapshotsAbandoned).toBe(0);
  }, 30_000);
});

/**
 * The adapter on the simulator's spot books (and `linear` USD-M ones after them), started on a BookMaps, stopped (after beforeStop) with the simulator.
 * The test's clock jumps: no keepalive, dead-connection or staleness deadline is to fire meanwhile. stepUntil steps
 * the simulator a frame per check.
 */
async function startQuiet(
  sim: Awaited<ReturnType<typeof startBinanceSimulator>>,
  symbols: string[],
  tempDirName: string,
  opts: { fetch: typeof fetch; now: () => number; maxBufferedBytes?: number; linear?: string[] },
  beforeStop?: () => void,
) {
  const { linear = [], ...adapterOpts } = opts;
  const subs: Subscription[] = [...symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 100 })), ...linear.map((symbol) => ({ market: "linear" as const, symbol, depth: 100 }))];
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir(tempDirName), "i.json"),
    markets: [{ market: "spot", depth: 100, symbols }, ...(linear.length > 0 ? [{ market: "linear" as const, depth: 100, symbols: linear }] : [])],
    overrides: new Map(),
  };
  const quiet = { housekeepingMs: 10, pingIntervalMs: 1e9, deadConnectionMs: 1e9, staleAfterMs: () => 1e9, maxConnectionAgeMs: 1e12 };
  const adapter = new BinanceAdapter(config, subs, { log: silentLogger, ...adapterOpts, ...quiet });
  stops.push(async () => {
    beforeStop?.();
    await adapter.stop();
    await sim.stop();
  });
  const sink = new BookMaps(await adapter.loadInstruments());
  adapter.start(sink);
  const stepUntil = (cond: () => boolean, what: string) =>
    until(() => {
      sim.step(1);
      return cond();
    }, what);
  return { adapter, sink, stepUntil };
}
