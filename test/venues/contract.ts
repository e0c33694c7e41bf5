/**
 * The venue contract suite: behaviour every VenueAdapter must show against its simulator, whatever the venue.
 * A venue's test file calls runVenueContract with a harness; a skipped case must give its reason
 * (docs/add-venue.md). Real WebSocket connections on 127.0.0.1 only; assertions on behaviour, never on timing.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import type { BookSink, Subscription, VenueAdapter } from "../../src/venues/venue.ts";
import { until } from "../support/until.ts";

export type ContractFault = "gap" | "reset" | "disconnect" | "malformed" | "duplicate" | "stall";
export type ContractCase =
  | "books"
  | Exclude<ContractFault, "stall">
  | "requestResync"
  | "sequenceScope"
  | "keepalive"
  | "plannedReconnect"
  | "restSnapshot"
  | "checksum"
  | "snapshotOnly"
  | "resyncBackoff"
  | "reconnectBackoff"
  | "lateInstruments"
  | "stopDuringLoad";

/** Adapter options a case needs (short deadlines), passed by the harness to the venue's factory. */
export interface ContractRunOptions {
  deadConnectionMs?: number;
  maxConnectionAgeMs?: number;
  /** The adapter's clock (the backoff cases drive it) and jitter source (0: every wait is exactly half its step). */
  now?: () => number;
  random?: () => number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  /** The late-instruments case: start with nothing resolved, retry fast (common/late-instruments.ts). */
  allowNoInstruments?: boolean;
  lateRetryBaseMs?: number;
  lateRetryMaxMs?: number;
  listingRetryMs?: number;
  lateCheckMs?: number;
  /** The adapter's REST client (the stop-during-load case holds every request). */
  fetch?: typeof fetch;
}

/**
 * The backoff cases' step: with random 0 the first retry waits half of it, the next one all of it. A test value,
 * passed through the adapters' options (production keeps its own defaults): each harness waits 1.5 steps of real
 * time for the reconnects and moves its clock 1.5 steps for the resyncs. Half a step (250 ms) is still ~50 clock
 * steps, far more than a retry that does not wait takes (it comes back within a round trip, a few steps); it was
 * 2 s, which cost ~4 s per harness of waiting.
 */
const BACKOFF_BASE_MS = 500;
/**
 * How far the backoff cases move the adapter's clock per look (every ~2 ms): well below the waits they check, and
 * slow enough that a quiet connection's keepalive is answered long before the clock calls it dead.
 */
const CLOCK_STEP_MS = 5;

/** One running simulator + adapter pair. */
export interface VenueRun {
  readonly adapter: VenueAdapter;
  /** Emits n book messages per subscribed topic. */
  step(n: number): void;
  /**
   * Injects a fault on the subscription's symbol (or everything when index is undefined). `stall`: the server
   * sends and answers nothing (not even the keepalive) for a while, then resumes.
   */
  inject(fault: ContractFault, index?: number): void;
  /** The name of the connection carrying a subscription (sequence scope "connection": a gap resyncs all of it). */
  connectionOf?(index: number): string;
  /** REST-snapshot venues: the next depth snapshot for the subscription is refused (HTTP 429/5xx) or does not bridge. */
  restFault?(kind: "refuse" | "no_bridge", index: number): void;
  /** REST faults set and not yet served by the simulator: each must have been met by a fetch. */
  restFaultsPending?(): number;
  /** The simulator's instruments REST answers 503 while false (the venue's instrument listing unreachable). */
  instrumentsAvailable?(ok: boolean): void;
  /** The adapter's instrument disk cache (the late-join case removes a symbol from it). */
  readonly instrumentCachePath?: string;
  /** Checksum venues: the next update of the subscription carries a wrong checksum. */
  corruptChecksum?(index: number): void;
  /** The simulator's true book for a subscription, in mantissas of `instrument`, and its venue sequence. */
  expected(index: number, instrument: Instrument): { bids: Map<number, number>; asks: Map<number, number>; seq: number };
  stop(): Promise<void>;
}

export interface VenueHarness {
  readonly venue: string;
  /**
   * At least two subscriptions; faults hit the first, the others outside its scope must stay untouched (sequence
   * scope "connection": put at least one subscription on another connection than the first).
   */
  readonly subscriptions: Subscription[];
  /** From the venue's registry entry (src/venues/registry.ts). */
  readonly sequenceScope: "topic" | "connection";
  /** Every message is a full book applied as replace (Upbit, Bithumb, OKX books5): no deltas, no gaps. */
  readonly snapshotOnly?: boolean;
  start(subscriptions: Subscription[], opts?: ContractRunOptions): Promise<VenueRun>;
  readonly skip?: Partial<Record<ContractCase, string>>;
}

/** Applies a BookUpdate's levels to price → qty maps (qty 0 deletes): the simplest possible book. */
export function applyToMaps(u: BookUpdate, bids: Map<number, number>, asks: Map<number, number>): void {
  for (let i = 0; i < u.bidCount; i++) if (u.bidQty[i] === 0) bids.delete(u.bidPx[i]!); else bids.set(u.bidPx[i]!, u.bidQty[i]!);
  for (let i = 0; i < u.askCount; i++) if (u.askQty[i] === 0) asks.delete(u.askPx[i]!); else asks.set(u.askPx[i]!, u.askQty[i]!);
}

/**
 * Keeps each book the way the app does (snapshot and replace replace, deltas apply), and like the app asks the
 * adapter's verify() after each update: a refusal is RESYNCING with its reason (CHECKSUM_MISMATCH, …) and a requestResync.
 */
class ContractSink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  readonly invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  deltaWithoutBook = 0;
  deltas = 0;
  replaces = 0;
  adapter: VenueAdapter | undefined;
  constructor(public instruments: Instrument[]) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    if (u.isSnapshot || u.replace) {
      if (u.replace) this.replaces++;
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    } else if (!this.bids[index]) {
      this.deltaWithoutBook++;
      return;
    } else this.deltas++;
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.seq[index] = u.venueSeq;
    const why = this.adapter?.verify?.(index, mapsView(this.instruments[index]!, this.bids[index]!, this.asks[index]!, u.venueSeq)) ?? StatusReason.NONE;
    if (why !== StatusReason.NONE) {
      this.onBookInvalid(index, BookState.RESYNCING, why);
      this.adapter!.requestResync(index, why);
    }
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
    this.asks[index] = undefined;
  }
  onInstrumentChanged(index: number, instrument: Instrument): void {
    this.instruments[index] = instrument;
  }
  readonly resolvedLate: number[] = [];
  onInstrumentResolved(index: number, instrument: Instrument): void {
    this.resolvedLate.push(index);
    this.instruments[index] = instrument;
  }
  matches(run: VenueRun, index: number): boolean {
    const e = run.expected(index, this.instruments[index]!);
    return this.seq[index] === e.seq && same(this.bids[index], e.bids) && same(this.asks[index], e.asks);
  }
}

/** A BookView over two maps (sorted per call: a test helper, not a hot path). */
function mapsView(instrument: Instrument, bids: Map<number, number>, asks: Map<number, number>, venueSeq: number): BookView {
  const b = [...bids].sort((x, y) => y[0] - x[0]);
  const a = [...asks].sort((x, y) => x[0] - y[0]);
  return {
    instrument,
    state: BookState.LIVE,
    reason: StatusReason.SNAPSHOT_APPLIED,
    instrSeq: 0,
    venueSeq,
    tsExchangeUs: 0,
    tsEventUs: 0,
    tsRecvUs: 0,
    bidCount: b.length,
    askCount: a.length,
    bidPriceAt: (r) => b[r]![0],
    bidQtyAt: (r) => b[r]![1],
    askPriceAt: (r) => a[r]![0],
    askQtyAt: (r) => a[r]![1],
  };
}

function same(a: Map<number, number> | undefined, b: Map<number, number>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

export function runVenueContract(h: VenueHarness): void {
  const runs: VenueRun[] = [];
  afterEach(async () => {
    while (runs.length > 0) await runs.pop()!.stop().catch(() => undefined);
  });

  async function live(opts?: ContractRunOptions): Promise<{ run: VenueRun; sink: ContractSink; all: number[] }> {
    const run = await h.start(h.subscriptions, opts);
    runs.push(run);
    const loaded = await run.adapter.loadInstruments();
    expect(loaded.every((i) => i !== undefined)).toBe(true);
    const sink = new ContractSink(loaded as Instrument[]);
    sink.adapter = run.adapter;
    run.adapter.start(sink);
    const all = h.subscriptions.map((_, i) => i);
    run.step(1);
    await until(() => all.every((i) => sink.matches(run, i)), "every book live and equal to the simulator's");
    return { run, sink, all };
  }

  const cases: ["books" | "requestResync" | Exclude<ContractFault, "stall">, string][] = [
    ["books", "books equal the simulator's after many messages"],
    ["gap", "a lost message resyncs only its book (RESYNCING, SEQUENCE_GAP)"],
    ["duplicate", "a duplicated message never corrupts a book"],
    ["malformed", "a malformed frame is counted and never corrupts a book"],
    ["reset", "a venue sequence reset leaves a correct book"],
    ["disconnect", "a dropped connection invalidates its books, reconnects and recovers"],
    ["requestResync", "requestResync resyncs only that book"],
  ];
  type CaseContext = Awaited<ReturnType<typeof live>> & { clock: { ms: number } };
  const extraCases: [ContractCase, string, (ctx: CaseContext) => Promise<void>][] = [
    ["sequenceScope", "a gap resyncs the books of its sequence scope (its topic, or every book of its connection) and no other", sequenceScopeCase],
    ["keepalive", "an unanswered keepalive (a silent server) is a dead connection: its books go DISCONNECTED, reconnect and recover", keepaliveCase],
    ["plannedReconnect", "a planned reconnect is make-before-break: no book leaves LIVE and every book stays equal", plannedReconnectCase],
    ["restSnapshot", "a REST snapshot that is refused or does not bridge is retried; only its book waits", restSnapshotCase],
    ["checksum", "a checksum mismatch marks only that book RESYNCING / CHECKSUM_MISMATCH and it recovers", checksumCase],
    ["snapshotOnly", "a snapshot-only venue publishes every message as a full-book replace", snapshotOnlyCase],
    ["resyncBackoff", "a book that keeps failing is resynced after its backoff, by the adapter's clock: at once, then ≥ base/2, then ≥ base", resyncBackoffCase],
    ["reconnectBackoff", "a connection that keeps dropping reconnects after its backoff, by the adapter's clock: ≥ base/2, then ≥ base", reconnectBackoffCase],
  ];
  const optionsOf: Partial<Record<ContractCase, ContractRunOptions>> = {
    keepalive: { deadConnectionMs: 400 },
    plannedReconnect: { maxConnectionAgeMs: 300 },
    resyncBackoff: { random: () => 0, resyncBackoffBaseMs: BACKOFF_BASE_MS, resyncBackoffMaxMs: 8 * BACKOFF_BASE_MS },
    reconnectBackoff: { random: () => 0, reconnectBaseMs: BACKOFF_BASE_MS, reconnectMaxMs: 8 * BACKOFF_BASE_MS },
  };
  /** Cases whose adapter runs on a clock the test moves (it stands still unless moved). */
  const drivenClock = new Set<ContractCase>(["resyncBackoff", "reconnectBackoff"]);

  /**
   * Moves the adapter's clock CLOCK_STEP_MS at a time, and never less than real time passes (a venue may wait on a
   * real timer, as the common reconnect does), the simulator stepping so a REST snapshot has updates to bridge to,
   * until cond holds; returns the clock then. A wait kept against either clock cannot end before this one has moved
   * past it; a retry that does not wait comes back within a round trip, a few steps.
   */
  /**
   * Steps the venue and moves the adapter's clock until cond holds; returns the clock then. The clock never falls
   * behind the real time passed since `from` (the case's start, before it waited for the fault to be noticed): the
   * reconnect delay is a real timer, and a clock that stood still while the disconnect was being noticed read less
   * than the real wait on a loaded machine (985 < 1000 with two test files at once).
   */
  async function advanceUntil(run: VenueRun, clock: { ms: number }, from: { ms: number; realMs: number }, cond: () => boolean, what: string): Promise<number> {
    const deadline = Date.now() + 15_000;
    const fromMs = from.ms;
    const fromRealMs = from.realMs;
    for (;;) {
      run.step(1);
      if (cond()) return clock.ms;
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      clock.ms = Math.max(clock.ms + CLOCK_STEP_MS, fromMs + (Date.now() - fromRealMs));
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async function recovers(run: VenueRun, sink: ContractSink, all: number[], what: string): Promise<void> {
    for (let round = 0; round < 3; round++) {
      run.step(5);
      await until(() => all.every((i) => sink.matches(run, i)), `books equal after ${what}`);
    }
    expect(sink.deltaWithoutBook).toBe(0);
  }

  async function sequenceScopeCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    run.inject("gap", 0);
    run.step(1);
    await until(() => sink.invalid.some((e) => e.index === 0), "the gap noticed");
    await recovers(run, sink, all, "gap");
    const scope = h.sequenceScope === "topic" ? [0] : all.filter((i) => run.connectionOf!(i) === run.connectionOf!(0));
    expect(new Set(sink.invalid.map((e) => e.index))).toEqual(new Set(scope));
  }

  async function keepaliveCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    run.inject("stall");
    await until(() => all.every((i) => sink.invalid.some((e) => e.index === i && e.reason === StatusReason.DISCONNECTED)), "every book DISCONNECTED", 15_000);
    await until(() => all.every((i) => sink.matches(run, i)), "books back after the stall", 15_000);
    await recovers(run, sink, all, "the stall");
    expect(new Set(sink.invalid.map((e) => e.reason))).toEqual(new Set([StatusReason.DISCONNECTED]));
  }

  async function plannedReconnectCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    await until(() => {
      run.step(1);
      return (run.adapter.stats().plannedReconnects ?? 0) >= 2;
    }, "two planned reconnects");
    await recovers(run, sink, all, "planned reconnects");
    expect(sink.invalid).toEqual([]);
  }

  async function restSnapshotCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    for (const kind of ["refuse", "no_bridge"] as const) {
      run.restFault!(kind, 0);
      run.inject("gap", 0);
      run.step(1);
      await until(() => sink.invalid.some((e) => e.index === 0), `resync with a ${kind} snapshot started`);
      await recovers(run, sink, all, `a ${kind} snapshot`);
      // The book recovered through a REST snapshot that met the fault, not some other way.
      expect(run.restFaultsPending!()).toBe(0);
    }
    expect(sink.invalid.filter((e) => e.index !== 0)).toEqual([]);
  }

  async function checksumCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    run.corruptChecksum!(0);
    run.step(1);
    await until(() => sink.invalid.length > 0, "the mismatch noticed");
    await recovers(run, sink, all, "a checksum mismatch");
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.CHECKSUM_MISMATCH }]);
  }

  async function resyncBackoffCase({ run, sink, all, clock }: CaseContext): Promise<void> {
    // The first resync goes out at once: the book recovers while the clock stands still.
    run.adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    await until(() => sink.invalid.length === 1, "the first resync");
    await recovers(run, sink, all, "the first resync");
    // Failing again before it stayed live for long: each further resync waits min(max, base · 2^(n-1)) · ½…1.
    for (const [n, waitMs] of [[2, BACKOFF_BASE_MS / 2], [3, BACKOFF_BASE_MS]] as const) {
      const from = { ms: clock.ms, realMs: Date.now() };
      run.adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
      await until(() => sink.invalid.length === n, `resync ${n}`);
      const at = await advanceUntil(run, clock, from, () => sink.bids[0] !== undefined, `a book again after resync ${n}`);
      expect(at - from.ms, `resync ${n}: waited by the adapter's clock`).toBeGreaterThanOrEqual(waitMs);
    }
    await recovers(run, sink, all, "the backoffs");
    expect(sink.invalid).toEqual([1, 2, 3].map(() => ({ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP })));
  }

  async function reconnectBackoffCase({ run, sink, all, clock }: CaseContext): Promise<void> {
    // A connection that drops soon after it opened: each reconnect waits min(max, base · 2^(n-1)) · ½…1. (A venue's
    // connect budget can delay it too: OKX's 3 per second covers most of the wait for three connections at once.)
    for (const [n, waitMs] of [[1, BACKOFF_BASE_MS / 2], [2, BACKOFF_BASE_MS]] as const) {
      const from = { ms: clock.ms, realMs: Date.now() };
      run.inject("disconnect");
      await until(() => all.every((i) => sink.invalid.filter((e) => e.index === i && e.reason === StatusReason.DISCONNECTED).length === n), `disconnect ${n} noticed`);
      const at = await advanceUntil(run, clock, from, () => all.every((i) => sink.bids[i] !== undefined), `books again after disconnect ${n}`);
      expect(at - from.ms, `reconnect ${n}: waited by the adapter's clock`).toBeGreaterThanOrEqual(waitMs);
    }
    await recovers(run, sink, all, "the reconnects");
    expect(new Set(sink.invalid.map((e) => e.reason))).toEqual(new Set([StatusReason.DISCONNECTED]));
  }

  /**
   * Instruments REST down at start: nothing resolves, no connection opens, every symbol is reported and retried;
   * once REST answers, each is handed to the sink once, subscribed, and its book equals the simulator's.
   */
  async function lateInstrumentsCase(): Promise<void> {
    const all = h.subscriptions.map((_, i) => i);
    const run = await h.start(h.subscriptions, { allowNoInstruments: true, lateRetryBaseMs: 40, lateRetryMaxMs: 160, listingRetryMs: 160, lateCheckMs: 5 });
    runs.push(run);
    run.instrumentsAvailable!(false);
    const loaded = await run.adapter.loadInstruments();
    expect(loaded.every((i) => i === undefined)).toBe(true);
    const sink = new ContractSink([]);
    sink.adapter = run.adapter;
    run.adapter.start(sink);
    expect(run.adapter.unresolvedInstruments!().map((u) => [u.index, u.kind])).toEqual(all.map((i) => [i, "rest_unreachable"]));
    // /metrics' count of them (counted, not listed) is the list's per market.
    const counted = new Map<string, number>();
    run.adapter.countUnresolved!(counted);
    const perMarket = new Map<string, number>();
    for (const i of all) perMarket.set(h.subscriptions[i]!.market, (perMarket.get(h.subscriptions[i]!.market) ?? 0) + 1);
    expect(counted).toEqual(perMarket);
    expect(run.adapter.connections().filter((c) => c.up)).toEqual([]);
    const failures = () => run.adapter.metrics().find((m) => m.name === "instrument_retry_failures_total")?.value ?? 0;
    await until(() => failures() >= 2, "two failed retries while REST is down");
    expect(sink.resolvedLate).toEqual([]);
    run.instrumentsAvailable!(true);
    // Stepping, so a venue whose book starts from the first diff (Binance) or the next full book (Upbit) gets one.
    await until(() => {
      run.step(1);
      return all.every((i) => sink.bids[i] !== undefined);
    }, "a book for every symbol resolved late", 15_000);
    await recovers(run, sink, all, "the late join");
    expect([...sink.resolvedLate].sort((a, b) => a - b)).toEqual(all);
    expect(run.adapter.unresolvedInstruments!()).toEqual([]);
    const countedAfter = new Map<string, number>();
    run.adapter.countUnresolved!(countedAfter);
    expect(countedAfter.size).toBe(0);
    expect(run.adapter.stats().instrumentsResolvedLate).toBe(all.length);
    expect(sink.invalid).toEqual([]);
  }

  /**
   * One symbol left out at start while the others start from the disk cache (REST down): they go LIVE; once REST
   * answers, the late one is subscribed (on its market's connection, open by then) and joins, and no other book
   * ever leaves LIVE.
   */
  async function lateJoinCase(): Promise<void> {
    const all = h.subscriptions.map((_, i) => i);
    // A symbol of the first one's market (most venues: on its open connection), else the second.
    const late = all.find((i) => i > 0 && h.subscriptions[i]!.market === h.subscriptions[0]!.market) ?? 1;
    const run = await h.start(h.subscriptions, { lateRetryBaseMs: 40, lateRetryMaxMs: 160, listingRetryMs: 160, lateCheckMs: 5 });
    runs.push(run);
    expect((await run.adapter.loadInstruments()).every((i) => i !== undefined)).toBe(true); // REST up: the cache holds every symbol
    const path = run.instrumentCachePath!;
    const cache = JSON.parse(readFileSync(path, "utf8")) as { instruments: Record<string, unknown> };
    const lateKey = `${h.subscriptions[late]!.market}:${h.subscriptions[late]!.symbol}`;
    expect(Object.keys(cache.instruments)).toContain(lateKey);
    delete cache.instruments[lateKey];
    writeFileSync(path, JSON.stringify(cache));
    run.instrumentsAvailable!(false);
    const loaded = await run.adapter.loadInstruments(); // as a restart while REST is down: the others from the cache
    expect(loaded.map((i) => i === undefined)).toEqual(all.map((i) => i === late));
    const sink = new ContractSink(loaded as Instrument[]);
    sink.adapter = run.adapter;
    run.adapter.start(sink);
    const others = all.filter((i) => i !== late);
    await until(() => {
      run.step(1);
      return others.every((i) => sink.bids[i] !== undefined);
    }, "the other books");
    await recovers(run, sink, others, "the start without one symbol");
    expect(run.adapter.unresolvedInstruments!().map((u) => [u.index, u.kind])).toEqual([[late, "rest_unreachable"]]);
    run.instrumentsAvailable!(true);
    await until(() => {
      run.step(1);
      return sink.bids[late] !== undefined;
    }, "the late symbol's book", 15_000);
    await recovers(run, sink, all, "the late join");
    expect(sink.resolvedLate).toEqual([late]);
    expect(sink.invalid).toEqual([]); // no other book ever left LIVE (nor the late one, once live)
  }

  /**
   * stop() while loadInstruments waits for the venue's instrument REST (a SIGTERM during start-up): the request is
   * ended at once (no socket left to the REST timeout), loadInstruments rejects, and nothing is written to the cache.
   * The REST client holds every request until its signal aborts: without the stop it would wait for the timeout.
   */
  async function stopDuringLoadCase(): Promise<void> {
    let sent = 0;
    let aborted = 0;
    const held = ((_input: string | URL | Request, init?: RequestInit) => {
      sent++;
      return new Promise<Response>((_, reject) => {
        const signal = init?.signal;
        signal?.addEventListener("abort", () => {
          aborted++;
          reject(signal.reason);
        });
      });
    }) as typeof fetch;
    const run = await h.start(h.subscriptions, { fetch: held });
    runs.push(run);
    let outcome = "";
    void run.adapter.loadInstruments().then(
      () => void (outcome = "resolved"),
      (err: unknown) => void (outcome = `rejected: ${String(err)}`),
    );
    await until(() => sent > 0, "an instrument request sent");
    await run.adapter.stop();
    await until(() => outcome !== "", "loadInstruments to end once the adapter stopped (its request still unanswered)", 5_000);
    expect(outcome).toMatch(/^rejected: .*stopped/);
    expect(aborted).toBe(sent);
    if (run.instrumentCachePath) expect(existsSync(run.instrumentCachePath)).toBe(false);
  }

  async function snapshotOnlyCase({ run, sink, all }: Awaited<ReturnType<typeof live>>): Promise<void> {
    await recovers(run, sink, all, "full books");
    expect(sink.deltas).toBe(0);
    expect(sink.replaces).toBeGreaterThan(0);
  }

  describe(`venue contract: ${h.venue}`, { timeout: 20_000 }, () => {
    for (const [name, title] of cases) {
      const reason = h.skip?.[name];
      if (reason !== undefined) {
        test.skip(`${title} (skipped: ${reason})`, () => {});
        continue;
      }
      test(title, async () => {
        const { run, sink, all } = await live();
        // A fault's own scope: its book, or (sequence scope "connection") every book of its connection.
        const others = h.sequenceScope === "connection" && run.connectionOf ? all.filter((i) => run.connectionOf!(i) !== run.connectionOf!(0)) : all.slice(1);
        if (name !== "books") {
          if (name === "requestResync") run.adapter.requestResync(0, StatusReason.CROSSED_BOOK);
          else run.inject(name, name === "disconnect" ? undefined : 0);
          if (name !== "disconnect") run.step(1);
          else await until(() => all.every((i) => sink.invalid.some((e) => e.index === i && e.reason === StatusReason.DISCONNECTED)), "disconnect noticed");
        }
        for (let round = 0; round < 3; round++) {
          run.step(5);
          await until(() => all.every((i) => sink.matches(run, i)), `books equal after ${name}`);
        }
        expect(sink.deltaWithoutBook).toBe(0);
        if (name === "books") expect(sink.invalid).toEqual([]);
        if (name === "gap") expect(sink.invalid).toContainEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP });
        if (name === "requestResync") expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
        if (name === "disconnect") expect(new Set(sink.invalid.map((e) => e.reason))).toEqual(new Set([StatusReason.DISCONNECTED]));
        if (name === "duplicate") expect(sink.invalid).toEqual([]); // a repeat is ignored, never a resync
        if (name === "malformed") expect(run.adapter.stats().parseErrors ?? 0).toBeGreaterThan(0); // counted, as the title says
        if (name !== "disconnect" && name !== "books") expect(sink.invalid.filter((e) => others.includes(e.index))).toEqual([]);
        expect(run.adapter.stats().messages).toBeGreaterThan(0);
      });
    }
    {
      const reason = h.skip?.lateInstruments;
      const title = "instruments REST down at start: every symbol is reported and retried, and joins once REST answers";
      if (reason !== undefined) test.skip(`${title} (skipped: ${reason})`, () => {});
      else test(title, lateInstrumentsCase);
      const joinTitle = "one symbol left out at start (REST down, not cached) joins once REST answers; no other book leaves LIVE";
      if (reason !== undefined) test.skip(`${joinTitle} (skipped: ${reason})`, () => {});
      else test(joinTitle, lateJoinCase);
    }
    {
      const reason = h.skip?.stopDuringLoad;
      const title = "stop() while instruments load ends their REST request at once; loading rejects and writes nothing";
      if (reason !== undefined) test.skip(`${title} (skipped: ${reason})`, () => {});
      else test(title, stopDuringLoadCase);
    }
    for (const [name, title, body] of extraCases) {
      const reason = h.skip?.[name];
      if (reason !== undefined) {
        test.skip(`${title} (skipped: ${reason})`, () => {});
        continue;
      }
      test(title, async () => {
        const clock = { ms: Date.now() };
        const ctx = { ...(await live({ ...optionsOf[name], ...(drivenClock.has(name) ? { now: () => clock.ms } : {}) })), clock };
        await body(ctx);
        expect(ctx.run.adapter.metrics().length).toBeGreaterThan(0);
      });
    }
  });
}
