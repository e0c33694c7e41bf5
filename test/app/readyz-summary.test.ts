/**
 * /readyz judges a ReadinessSummary (Feeder.readinessSummary: each rule's count, its first `named` items) instead of
 * every book's summary: it must say what the whole lists say (/status's evaluateReadiness of readinessInput()) through
 * any change of the books' states. Here, random changes (snapshots, invalidations of every kind, halts and expiries,
 * symbols resolving late, instrument changes, venues attaching late, connections dropping) to a Feeder whose pipelines
 * are attached by hand (no network: its venues are never started), checked after each against the whole lists: same
 * `ready`, every rule's count, and each rule's first `named` reasons in the same order. And the limited listing of the
 * adapters' unresolved symbols (LateInstruments.list(limit)) against the whole list, and a supervisor's dead worker:
 * its last books and share judged a chunk per turn of the main thread (turns counted), alike for both answers.
 * And /status?books=N made from its rows (StatusSource.statusRows: Feeder.statusRows, Supervisor.statusRows) against
 * the same answer made from every book, through random changes: in process, and a supervisor's workers.
 */
import { unpack } from "msgpackr";
import { afterEach, describe, expect, test } from "vitest";
import type { BookSummary } from "../../src/app/book-json.ts";
import { Feeder } from "../../src/app/feeder.ts";
import { startHttpServer, type StatusSource } from "../../src/app/http-server.ts";
import type { WorkerRequest } from "../../src/app/worker-protocol.ts";
import { LIST_ITEMS_PER_TURN } from "../../src/app/list-stream.ts";
import { localStatusSource } from "../../src/app/runtime.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { evaluateReadiness, evaluateReadinessInTurns, evaluateSummary, summaryOfInput, type NotReadyReason } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument, type VenueName } from "../../src/core/types.ts";
import type { BookBuilder } from "../../src/book/book-builder.ts";
import type { VenueConnectionState } from "../../src/venues/venue.ts";
import { LateInstruments } from "../../src/venues/common/late-instruments.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A small deterministic PRNG (mulberry32): a failing seed replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const instrument = (venue: VenueName, symbol: string, tick = 2): Instrument => ({
  instrumentId: instrumentIdOf(venue, "linear", symbol),
  venue,
  market: "linear",
  symbol,
  priceExp: tick,
  qtyExp: 3,
  tickSize: tick === 2 ? "0.01" : "0.1",
  lotSize: "0.001",
});

/** What the test reaches inside a Feeder that is never started. */
interface Pipeline {
  adapter: Record<string, unknown> & { venue: string };
  attached: boolean;
  builders: (BookBuilder | undefined)[];
  unresolved: unknown[];
  attach(instruments: (Instrument | undefined)[]): void;
  onInstrumentResolved(index: number, instrument: Instrument): void;
  onInstrumentChanged(index: number, instrument: Instrument): void;
}

function snapshot(priceExp: number): BookUpdate {
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  u.tsRecvUs = Date.now() * 1000;
  const scale = 10 ** priceExp;
  u.pushBid(100 * scale, 1000);
  u.pushAsk(101 * scale, 1000);
  return u;
}

/** The whole lists' reasons as /readyz names them: each rule's, the long lists' first `named` only. */
function namedOf(reasons: NotReadyReason[], named: number): NotReadyReason[] {
  const seen = new Map<string, number>();
  return reasons.filter((r) => {
    const n = (seen.get(r.check) ?? 0) + 1;
    seen.set(r.check, n);
    return !["book_not_live", "symbol_unresolved", "venue_down"].includes(r.check) || n <= named;
  });
}

function countsOf(reasons: NotReadyReason[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reasons) out[r.check] = (out[r.check] ?? 0) + 1;
  return out;
}

describe("/readyz's summary says what the whole lists say", () => {
  test("random state changes: ready, every rule's count and its first reasons as evaluateReadiness of readinessInput()", async () => {
    const { group, port } = uniqueDestination(391);
    const bybitSymbols = Array.from({ length: 14 }, (_, i) => `B${i}USDT`);
    const okxSymbols = Array.from({ length: 8 }, (_, i) => `O${i}-USDT-SWAP`);
    const config = validateConfig({
      log: { level: "error", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: {
        bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols: bybitSymbols } },
        okx: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 400, symbols: okxSymbols } },
      },
    });
    const seed = 20261206;
    const random = prng(seed);
    const markUnreadable = prng(seed + 1); // its own: the walk's steps are as before
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const feeder = new Feeder({ config, log: silentLogger });
    cleanups.push(() => feeder.stop());
    const inside = feeder as unknown as { createPipelines(): void; pipelines: Pipeline[] };
    inside.createPipelines();
    const symbolsOf = [bybitSymbols, okxSymbols];
    const venueOf: VenueName[] = ["bybit", "okx"];
    // The adapters' parts the app reads, as models: which closed books are past their expiry, and the connections.
    const expired = inside.pipelines.map(() => new Map<number, number>());
    const connections = inside.pipelines.map((_, v) => Array.from({ length: 3 }, (_, c): VenueConnectionState => ({ connection: `conn${c}`, market: "linear", url: `ws://127.0.0.1:9/${v}/${c}`, up: true, lastError: "", downSinceMs: 0 })));
    inside.pipelines.forEach((p, v) => {
      p.adapter.expiredInstruments = () => expired[v]!;
      p.adapter.connections = () => connections[v]!;
      // Never started, the adapter tracks no late instruments: the app's own list of those left out at attach.
      p.adapter.unresolvedInstruments = undefined;
      p.adapter.countUnresolved = undefined;
    });
    const states = [BookState.AWAITING_SNAPSHOT, BookState.RESYNCING, BookState.STALE, BookState.HALTED];
    const reasons = [StatusReason.SEQUENCE_GAP, StatusReason.DISCONNECTED, StatusReason.STALE_FEED, StatusReason.INSTRUMENT_CLOSED, StatusReason.INSTRUMENT_CLOSED];
    const nowMs = Date.now();
    const checked = { ready: 0, notReady: 0, cut: 0 };
    for (let step = 0; step < 300; step++) {
      const v = random() < 0.6 ? 0 : 1;
      const p = inside.pipelines[v]!;
      const symbols = symbolsOf[v]!;
      const built = p.builders.flatMap((b, i) => (b === undefined ? [] : [i]));
      const r = random();
      if (!p.attached) {
        // A venue whose instrument REST answers late: every symbol `resolving` until then; some left out.
        if (r < 0.2) p.attach(symbols.map((s) => (random() < 0.25 ? undefined : instrument(venueOf[v]!, s))));
      } else if (r < 0.4 && built.length > 0) {
        const i = pick(built);
        p.builders[i]!.applySnapshot(snapshot(p.builders[i]!.instrument.priceExp)); // LIVE
      } else if (r < 0.65 && built.length > 0) {
        const i = pick(built);
        p.builders[i]!.markInvalid(pick(states), pick(reasons));
      } else if (r < 0.72 && built.length > 0) {
        const i = pick(built);
        if (expired[v]!.has(i)) expired[v]!.delete(i);
        else expired[v]!.set(i, nowMs - 1000);
      } else if (r < 0.8 && p.unresolved.length > 0) {
        const i = pick(symbols.flatMap((_, k) => (p.builders[k] === undefined ? [k] : [])));
        p.onInstrumentResolved(i, instrument(venueOf[v]!, symbols[i]!));
      } else if (r < 0.85 && built.length > 0) {
        const i = pick(built);
        p.onInstrumentChanged(i, instrument(venueOf[v]!, symbols[i]!, random() < 0.5 ? 1 : 2));
      } else if (r < 0.95) {
        const c = Math.floor(random() * 3);
        const was = connections[v]![c]!;
        connections[v]![c] = was.up ? { ...was, up: false, lastError: "ECONNREFUSED: refused", downSinceMs: nowMs - 500 } : { ...was, up: true, lastError: "", downSinceMs: 0 };
      } else {
        // Everything well (so that the whole becomes ready): every venue attached, every symbol resolved, every book
        // live, every connection up.
        inside.pipelines.forEach((q, w) => {
          if (!q.attached) q.attach(symbolsOf[w]!.map((s) => instrument(venueOf[w]!, s)));
          symbolsOf[w]!.forEach((s, i) => q.builders[i] === undefined && q.onInstrumentResolved(i, instrument(venueOf[w]!, s)));
          for (const b of q.builders) b!.applySnapshot(snapshot(b!.instrument.priceExp));
          for (const c of connections[w]!.keys()) connections[w]![c] = { ...connections[w]![c]!, up: true, lastError: "", downSinceMs: 0 };
        });
      }
      const input = feeder.readinessInput();
      const whole = evaluateReadiness(input, nowMs);
      // /status judges the same input a chunk per turn: the same answer, `live` too, with some live books unreadable
      // (book-json.ts unreadableSummary: live, valid false). Until 2026-12-07 it counted those live.
      const unreadable = { ...input, books: input.books.map((b) => (b.state === "live" && markUnreadable() < 0.2 ? { ...b, valid: false } : b)) };
      expect(await evaluateReadinessInTurns(unreadable, async () => {}, 3, nowMs), `seed ${seed}, step ${step}, in turns`).toEqual(evaluateReadiness(unreadable, nowMs));
      for (const named of [2, 100]) {
        const at = `seed ${seed}, step ${step}, named ${named}`;
        const summary = feeder.readinessSummary(named);
        const answer = evaluateSummary(summary, nowMs);
        expect(answer.ready, at).toBe(whole.ready);
        expect([answer.books, answer.live], at).toEqual([whole.books, whole.live]);
        expect(answer.reasonCounts, at).toEqual(countsOf(whole.reasons));
        const shown = namedOf(whole.reasons, named);
        expect(answer.reasons, at).toEqual(shown);
        expect(answer.reasonsNotShown, at).toBe(whole.reasons.length - shown.length);
        // A source with the whole lists summarizes them alike (tests' sources, a supervisor's dead worker).
        expect(evaluateSummary(summaryOfInput(input, named), nowMs), at).toEqual(answer);
        if (answer.reasonsNotShown > 0) checked.cut++;
      }
      if (whole.ready) checked.ready++;
      else checked.notReady++;
    }
    // The runtime's in-process source (workers = 1) makes it in the /readyz turn itself: no turn asked for, no promise.
    const inProcess = localStatusSource(feeder).readyz!(() => Promise.reject(new Error("a turn asked for")));
    expect(inProcess).not.toBeInstanceOf(Promise);
    expect(inProcess).toEqual(feeder.readinessSummary());
    // The walk went through both answers, and through lists cut at `named`.
    expect(checked.ready).toBeGreaterThan(10);
    expect(checked.notReady).toBeGreaterThan(100);
    expect(checked.cut).toBeGreaterThan(100);
  });
});

describe("/status?books=N from its rows (Feeder.statusRows) says what it said from every book's summary", () => {
  // Before, every poll of the status page summarized every book (40 turns, ~16 ms at 20,000 books) to show 500; now
  // only its rows are summarized, after a pass over the books' states. The answer must be the same: here the runtime's
  // source against itself without statusRows (the rows picked from readiness()'s whole lists, as before), through
  // random state changes, for limits below and above the books' count and a chosen book (or symbol) of any kind.
  test("random state changes: the same rows, reasons, totals and readiness, JSON and MessagePack", async () => {
    const { group, port } = uniqueDestination(393);
    const symbols = [Array.from({ length: 12 }, (_, i) => `B${i}USDT`), Array.from({ length: 7 }, (_, i) => `O${i}-USDT-SWAP`)];
    const venues: VenueName[] = ["bybit", "okx"];
    const config = validateConfig({
      log: { level: "error", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: {
        bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols: symbols[0]! } },
        okx: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 400, symbols: symbols[1]! } },
      },
    });
    const seed = 20261207;
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const feeder = new Feeder({ config, log: silentLogger });
    cleanups.push(() => feeder.stop());
    const inside = feeder as unknown as { createPipelines(): void; pipelines: Pipeline[] };
    inside.createPipelines();
    const expired = inside.pipelines.map(() => new Map<number, number>());
    const connections = inside.pipelines.map((_, v) => [{ connection: "conn0", market: "linear", url: `ws://127.0.0.1:9/${v}`, up: true, lastError: "", downSinceMs: 0 } as VenueConnectionState]);
    inside.pipelines.forEach((p, v) => {
      p.adapter.expiredInstruments = () => expired[v]!;
      p.adapter.connections = () => connections[v]!;
      p.adapter.unresolvedInstruments = undefined;
      p.adapter.countUnresolved = undefined;
    });
    const rows = localStatusSource(feeder);
    expect(rows.statusRows).toBeDefined();
    const whole: StatusSource = { ...rows, statusRows: undefined };
    const http = [rows, whole].map((source) => startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger));
    cleanups.push(() => Promise.all(http.map((h) => h.stop())));
    // What differs between two answers made a moment apart: the clock's (nowMs, a book's age, a connection's downtime).
    const timeless = (key: string, value: unknown) => (key === "nowMs" || key === "downForMs" || (key === "recvAgeUs" && value !== null) ? "t" : value);
    const answer = async (h: (typeof http)[number], query: string, msgpack: boolean) => {
      const res = await fetch(`${h.url}/status?${query}`, { headers: msgpack ? { accept: "application/msgpack" } : {} });
      expect(res.status).toBe(200);
      const body = msgpack ? unpack(new Uint8Array(await res.arrayBuffer())) : await res.json();
      return JSON.parse(JSON.stringify(body, timeless));
    };
    const states = [BookState.AWAITING_SNAPSHOT, BookState.RESYNCING, BookState.STALE, BookState.HALTED];
    const reasons = [StatusReason.SEQUENCE_GAP, StatusReason.DISCONNECTED, StatusReason.INSTRUMENT_CLOSED];
    const nowMs = Date.now();
    const seen = { rowsFirst: 0, chosenUnusable: 0, chosenUsable: 0, chosenSymbol: 0, cut: 0, unreadable: 0 };
    for (let step = 0; step < 120; step++) {
      const v = random() < 0.6 ? 0 : 1;
      const p = inside.pipelines[v]!;
      const built = p.builders.flatMap((b, i) => (b === undefined ? [] : [i]));
      const r = random();
      let madeUnreadable = false;
      if (!p.attached) {
        if (r < 0.3) p.attach(symbols[v]!.map((s) => (random() < 0.25 ? undefined : instrument(venues[v]!, s))));
      } else if (r < 0.45 && built.length > 0) {
        const i = pick(built);
        p.builders[i]!.applySnapshot(snapshot(p.builders[i]!.instrument.priceExp)); // LIVE
      } else if (r < 0.7 && built.length > 0) {
        p.builders[pick(built)]!.markInvalid(pick(states), pick(reasons));
      } else if (r < 0.77 && built.length > 0) {
        const i = pick(built);
        if (expired[v]!.has(i)) expired[v]!.delete(i);
        else expired[v]!.set(i, nowMs - 1000);
      } else if (r < 0.85 && p.unresolved.length > 0) {
        const i = pick(symbols[v]!.flatMap((_, k) => (p.builders[k] === undefined ? [k] : [])));
        p.onInstrumentResolved(i, instrument(venues[v]!, symbols[v]![i]!));
      } else if (r < 0.9 && built.length > 0) {
        // A book whose summary throws (a bug): never usable. The answer from every book finds it first here; from
        // its rows, it is known from then on (as /readyz knows it).
        const i = pick(built);
        p.builders[i]!.applySnapshot(snapshot(p.builders[i]!.instrument.priceExp)); // LIVE: unreadable, it is not usable
        const b = p.builders[i]! as unknown as { bidPriceAt(): number };
        b.bidPriceAt = () => {
          throw new Error("unreadable");
        };
        madeUnreadable = true;
      } else {
        const was = connections[v]![0]!;
        connections[v]![0] = was.up ? { ...was, up: false, lastError: "ECONNREFUSED: refused", downSinceMs: nowMs - 500 } : { ...was, up: true, lastError: "", downSinceMs: 0 };
      }
      // Every configured symbol is a book or a symbol without one (not summarized here: that would find an unreadable one).
      const names = venues.flatMap((venue, w) => symbols[w]!.map((symbol) => `${venue}/linear/${symbol}`));
      const chosenName = random() < 0.7 ? pick(names) : undefined;
      const limit = madeUnreadable ? 40 : pick([1, 2, 3, 5, 8, 40]);
      const query = `books=${limit}` + (chosenName !== undefined ? `&book=${encodeURIComponent(chosenName)}` : "");
      const msgpack = random() < 0.3;
      // Asked from its rows first (when they are every book) just after a book was made unreadable: it is found among
      // them, and counted as not live by the summary taken after them.
      const rowsFirst = madeUnreadable || (limit >= names.length && random() < 0.3);
      const after = rowsFirst ? await answer(http[0]!, query, msgpack) : undefined;
      const before = await answer(http[1]!, query, msgpack);
      if (rowsFirst) seen.rowsFirst++;
      expect(after ?? (await answer(http[0]!, query, msgpack)), `seed ${seed}, step ${step}, ${query}`).toEqual(before);
      const listed = feeder.readinessInput();
      const isChosen = (b: { venue: string; market: string; symbol: string }) => `${b.venue}/${b.market}/${b.symbol}` === chosenName;
      const chosen = listed.books.find(isChosen);
      if (listed.unresolved.some(isChosen)) seen.chosenSymbol++;
      else if (chosen?.valid) seen.chosenUsable++;
      else if (chosen !== undefined) seen.chosenUnusable++;
      if (before.totals.books + before.totals.unresolved > before.books.length) seen.cut++;
      if (before.books.some((b: BookSummary) => b.detail?.startsWith("book unreadable"))) seen.unreadable++;
    }
    // What it costs: a summary for each of its rows (and again for each book found unreadable before, as /readyz reads
    // them), not one for every book as the answer from every book takes.
    const counted = inside.pipelines as unknown as { summaryOf(i: number): BookSummary; unreadable: Set<number> }[];
    let summaries = 0;
    for (const p of counted) {
      const summaryOf = p.summaryOf.bind(p);
      p.summaryOf = (i) => (summaries++, summaryOf(i));
    }
    const rereads = counted.reduce((n, p) => n + 2 * p.unreadable.size, 0);
    await answer(http[0]!, "books=2", false);
    expect(summaries).toBeLessThanOrEqual(2 + rereads);
    summaries = 0;
    await answer(http[1]!, "books=2", false);
    expect(summaries).toBe(inside.pipelines.reduce((n, p) => n + p.builders.filter((b) => b !== undefined).length, 0));
    expect(summaries).toBeGreaterThan(2 + rereads);
    // The walk went through chosen books of every kind, answers cut at the limit, and unreadable books shown.
    expect(seen.chosenUnusable).toBeGreaterThan(5);
    expect(seen.chosenUsable).toBeGreaterThan(5);
    expect(seen.chosenSymbol).toBeGreaterThan(5);
    expect(seen.cut).toBeGreaterThan(30);
    expect(seen.unreadable).toBeGreaterThan(5);
    expect(seen.rowsFirst).toBeGreaterThan(5);
  });
});

describe("a supervisor's /status?books=N from its workers' rows says what it said from every book", () => {
  // Each worker's statusRows (its rows summarized, not every book) merged against the whole lists (readiness(), each
  // worker's every book), with workers answering (Feeders in this process, their replies cloned as postMessage does),
  // one down (its last books and share) and one starting (its share): random state changes and chosen books.
  test("random state changes, workers answering, down and starting: the same answer", async () => {
    const seed = 20261208;
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const shares = [0, 1, 2, 3].map((w) => Array.from({ length: [9, 6, 12, 4][w]! }, (_, i) => `W${w}S${i}USDT`));
    const venues = { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols: shares.flat() } } };
    const feeders = [0, 1, 2].map((w) => {
      const { group, port } = uniqueDestination(394 + w);
      const destinations = [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }];
      const config = validateConfig({ log: { level: "error", format: "json" }, http: { enabled: false }, publish: { destinations }, venues: { ...venues, bybit: { ...venues.bybit, linear: { depth: 50, symbols: shares[w]! } } } });
      const feeder = new Feeder({ config, log: silentLogger });
      cleanups.push(() => feeder.stop());
      const inside = feeder as unknown as { createPipelines(): void; pipelines: Pipeline[] };
      inside.createPipelines();
      const p = inside.pipelines[0]!;
      p.adapter.connections = () => [];
      p.adapter.unresolvedInstruments = undefined;
      p.adapter.countUnresolved = undefined;
      p.attach(shares[w]!.map((s) => (random() < 0.2 ? undefined : instrument("bybit", s))));
      for (const b of p.builders) if (b !== undefined && random() < 0.6) b.applySnapshot(snapshot(2));
      return { feeder, p };
    });
    const { group, port } = uniqueDestination(398);
    const config = validateConfig({ workers: 4, log: { level: "error", format: "json" }, http: { enabled: false }, publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] }, venues });
    const supervisor = new Supervisor(config, silentLogger, "unused");
    const shareOf = (w: number) => shares[w]!.map((symbol) => ({ venue: "bybit", market: "linear", symbol, reason: "resolving", detail: "starting" }));
    const slots = (supervisor as unknown as { slots: unknown[] }).slots;
    for (const w of [0, 1]) slots.push({ index: w, worker: {}, answering: true, restarts: 0, lastHeardMs: 1, lastBooks: [], lastBooksAtMs: 0, share: shareOf(w), faultsLogged: new Map() });
    // Worker 2 down: its last books (all but some of its share) as it last answered them.
    slots.push({ index: 2, worker: undefined, restarts: 1, lastHeardMs: 1, lastBooks: feeders[2]!.feeder.bookSummaries(), lastBooksAtMs: performance.now(), share: shareOf(2), faultsLogged: new Map() });
    slots.push({ index: 3, worker: {}, answering: false, restarts: 0, lastHeardMs: 0, lastBooks: [], lastBooksAtMs: 0, share: shareOf(3), faultsLogged: new Map() });
    const now = async () => {};
    (supervisor as unknown as { request(slot: { index: number }, body: WorkerRequest): Promise<unknown> }).request = async (slot, body) => {
      const f = slot.index < 2 ? feeders[slot.index]!.feeder : undefined;
      if (f === undefined) return undefined;
      if (body.what === "readiness") return structuredClone(await f.readinessInputInTurns(now));
      if (body.what === "status") return structuredClone(await f.statusRows(body.limit, body.chosen, now));
      if (body.what === "latency") return f.latencySnapshot();
      return undefined;
    };
    const rows: StatusSource = {
      book: () => undefined,
      metricsText: () => "",
      readiness: (turn, signal) => supervisor.readiness(turn, signal),
      statusRows: (limit, chosen, turn, signal) => supervisor.statusRows(limit, chosen, turn, signal),
      latency: () => supervisor.latency(),
    };
    const whole: StatusSource = { ...rows, statusRows: undefined };
    const http = [rows, whole].map((source) => startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger));
    cleanups.push(() => Promise.all(http.map((h) => h.stop())));
    const timeless = (key: string, value: unknown) => (key === "nowMs" || (key === "recvAgeUs" && value !== null) ? "t" : value);
    const answer = async (h: (typeof http)[number], query: string) => {
      const res = await fetch(`${h.url}/status?${query}`);
      expect(res.status).toBe(200);
      return JSON.parse(JSON.stringify(await res.json(), timeless));
    };
    const names = shares.flat().map((symbol) => `bybit/linear/${symbol}`);
    const states = [BookState.AWAITING_SNAPSHOT, BookState.RESYNCING, BookState.STALE];
    let cut = 0;
    for (let step = 0; step < 60; step++) {
      const { p } = feeders[random() < 0.5 ? 0 : 1]!;
      const built = p.builders.flatMap((b, i) => (b === undefined ? [] : [i]));
      const r = random();
      if (r < 0.45) p.builders[pick(built)]!.applySnapshot(snapshot(2));
      else if (r < 0.9) p.builders[pick(built)]!.markInvalid(pick(states), StatusReason.SEQUENCE_GAP);
      else if (p.unresolved.length > 0) {
        const symbols = shares[feeders.findIndex((f) => f.p === p)]!;
        const i = pick(symbols.flatMap((_, k) => (p.builders[k] === undefined ? [k] : [])));
        p.onInstrumentResolved(i, instrument("bybit", symbols[i]!));
      }
      const chosen = random() < 0.7 ? pick(names) : undefined;
      const limit = pick([1, 2, 3, 5, 8, 13, 40]);
      const query = `books=${limit}` + (chosen !== undefined ? `&book=${encodeURIComponent(chosen)}` : "");
      const before = await answer(http[1]!, query);
      expect(await answer(http[0]!, query), `seed ${seed}, step ${step}, ${query}`).toEqual(before);
      if (before.books.length < before.totals.books + before.totals.unresolved) cut++;
    }
    expect(cut).toBeGreaterThan(30);
  });
});

describe("a down worker's rows for /status?books=N", () => {
  // Its last books' first `limit` (staleBooks skips an entry that is no book summary, so it copies past `limit`) and
  // the chosen one beyond them: before, a chosen book copied among the first was appended again (two rows of it).
  test("the chosen last book is listed once, stale, when an entry before it is no book", async () => {
    const { group, port } = uniqueDestination(399);
    const config = validateConfig({ workers: 2, log: { level: "error", format: "json" }, http: { enabled: false }, publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] }, venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols: ["AUSDT", "BUSDT", "CUSDT"] } } } });
    const supervisor = new Supervisor(config, silentLogger, "unused");
    const book = (symbol: string) => ({ venue: "bybit", market: "linear", symbol, state: "live", reason: "ok", valid: true, recvAgeUs: 5 }) as unknown as BookSummary;
    const share = ["AUSDT", "BUSDT", "CUSDT"].map((symbol) => ({ venue: "bybit", market: "linear", symbol, reason: "resolving", detail: "starting" }));
    const slots = (supervisor as unknown as { slots: unknown[] }).slots;
    slots.push({ index: 0, worker: undefined, restarts: 1, lastHeardMs: 1, lastBooks: [null, book("AUSDT"), book("BUSDT"), book("CUSDT")], lastBooksAtMs: performance.now(), share, faultsLogged: new Map() });
    (supervisor as unknown as { request(): Promise<unknown> }).request = async () => undefined;
    for (const chosen of ["BUSDT", "CUSDT"]) {
      const rows = await supervisor.statusRows(2, `bybit/linear/${chosen}`);
      const listed = rows.books.map((b) => [b.symbol, b.state, b.valid]);
      expect([chosen, listed]).toEqual([chosen, [["AUSDT", "stale", false], ["BUSDT", "stale", false], ...(chosen === "CUSDT" ? [["CUSDT", "stale", false]] : [])]]);
    }
  });
});

describe("LateInstruments.list(limit)", () => {
  test("the first `limit` of list(), in subscription order, whatever order the symbols were left out and resolved in", () => {
    const random = prng(7);
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(random() * 300);
      const subscriptions = Array.from({ length: n }, (_, i) => ({ market: "linear", symbol: `S${i}USDT`, depth: 50 }));
      const late = new LateInstruments({ venue: "bybit", subscriptions, now: () => 0 } as unknown as ConstructorParameters<typeof LateInstruments>[0]);
      const left = subscriptions.map((_, i) => i).filter(() => random() < 0.6);
      for (let i = left.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [left[i], left[j]] = [left[j]!, left[i]!];
      }
      late.track(null as never, left.map((index) => ({ index, kind: "not_listed", detail: "not listed" })) as never);
      const whole = late.list();
      for (const limit of [0, 1, 3, 100, n + 1]) expect(late.list(limit), `round ${round}, limit ${limit}`).toEqual(whole.slice(0, limit));
    }
  });
});

describe("a supervisor's dead worker", () => {
  // A slot whose worker is gone (no thread is started here): its last books and its share are judged on the main
  // thread, LIST_ITEMS_PER_TURN per turn of HTTP's queue (until 2026-12-06 in one turn: 20,000 copied, 2–4.5 ms).
  test("its last books and share are judged a chunk per turn, for /books and /status and for /readyz, and say the same", async () => {
    const { group, port } = uniqueDestination(392);
    const symbols = Array.from({ length: 2 * LIST_ITEMS_PER_TURN + 50 }, (_, i) => `S${i}USDT`);
    const config = validateConfig({
      workers: 2,
      log: { level: "error", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols } } },
    });
    const supervisor = new Supervisor(config, silentLogger, "unused");
    const shown = symbols.slice(0, -40); // its last answer had books for all but 40 (not listed, say)
    const lastBooks = shown.map((symbol, i) => ({ venue: "bybit", market: "linear", symbol, instrumentId: i, state: "live", reason: "snapshot_applied", valid: true, recvAgeUs: 5 }) as BookSummary);
    const share = symbols.map((symbol) => ({ venue: "bybit", market: "linear", symbol, reason: "resolving", detail: "starting" }));
    (supervisor as unknown as { slots: unknown[] }).slots.push({ index: 1, worker: undefined, restarts: 1, lastHeardMs: 1, lastBooks, lastBooksAtMs: performance.now(), share });
    let turns = 0;
    const turn = async () => void turns++;
    const chunks = (n: number) => Math.ceil(n / LIST_ITEMS_PER_TURN);
    const summary = await supervisor.readyz(turn);
    // Only its first READYZ_NAMED books are copied (no turn: fewer than a chunk); its share judged against its last
    // books, a chunk per turn (the set of their names, then the share).
    expect(turns, "turns of /readyz's summary").toBe(chunks(shown.length) + chunks(symbols.length));
    expect(evaluateSummary(summary).reasonCounts).toEqual({ worker_down: 1, symbol_unresolved: 40, book_not_live: shown.length });
    // Its last books and share do not change while it is down: the share it had no book for is judged once, not again
    // for every probe (until 2026-12-06 each /readyz made both passes again, ~80 turns at 20,000 books).
    turns = 0;
    const again = await supervisor.readyz(turn);
    expect(turns, "turns of the next /readyz with the same worker down").toBe(0);
    expect(evaluateSummary(again)).toEqual(evaluateSummary(summary));
    turns = 0;
    const whole = await supervisor.readiness(turn);
    // The whole lists copy its books as stale (their age goes on), a chunk per turn; the share as judged above.
    expect(turns, "turns of the whole lists").toBe(chunks(shown.length));
    expect(whole.workersDown).toEqual([1]);
    expect(whole.books.map((b) => [b.symbol, b.state, b.reason, b.valid])).toEqual(shown.map((s) => [s, "stale", "worker_unavailable", false]));
    expect(whole.unresolved.map((u) => [u.symbol, u.reason])).toEqual(symbols.slice(-40).map((s) => [s, "worker_unavailable"]));
    expect(evaluateSummary(summary)).toEqual(evaluateSummary(summaryOfInput(whole)));
    // Books it answered since (a newer answer before it went down again): its share judged again, against them, by
    // whichever asks first: here the whole lists (the stale copy and the set of names a chunk per turn each, the share).
    const slot = (supervisor as unknown as { slots: { lastBooks: BookSummary[] }[] }).slots[0]!;
    slot.lastBooks = lastBooks.slice(0, -10);
    turns = 0;
    const newerWhole = await supervisor.readiness(turn);
    expect(turns, "turns of the whole lists after a newer answer").toBe(chunks(shown.length - 10) * 2 + chunks(symbols.length));
    expect(newerWhole.unresolved.map((u) => u.symbol)).toEqual(symbols.slice(-50));
    turns = 0;
    const newer = await supervisor.readyz(turn);
    expect(turns, "turns of /readyz after them").toBe(0);
    expect(evaluateSummary(newer).reasonCounts).toEqual({ worker_down: 1, symbol_unresolved: 50, book_not_live: shown.length - 10 });
    expect(evaluateSummary(newer)).toEqual(evaluateSummary(summaryOfInput(newerWhole)));
  });
});
