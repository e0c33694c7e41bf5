/**
 * The venue contract suite: behaviour every VenueAdapter must show against its simulator, whatever the venue.
 * A venue's test file calls runVenueContract with a harness; a skipped case must give its reason
 * (docs/add-venue.md). Real WebSocket connections on 127.0.0.1 only; assertions on behaviour, never on timing.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import type { BookSink, Subscription, VenueAdapter } from "../../src/venues/venue.ts";

export type ContractFault = "gap" | "reset" | "disconnect" | "malformed" | "duplicate";
export type ContractCase = "books" | ContractFault | "requestResync";

/** One running simulator + adapter pair. */
export interface VenueRun {
  readonly adapter: VenueAdapter;
  /** Emits n book messages per subscribed topic. */
  step(n: number): void;
  /** Injects a fault on the subscription's symbol (or everything when index is undefined). */
  inject(fault: ContractFault, index?: number): void;
  /** The simulator's true book for a subscription, in mantissas of `instrument`, and its venue sequence. */
  expected(index: number, instrument: Instrument): { bids: Map<number, number>; asks: Map<number, number>; seq: number };
  stop(): Promise<void>;
}

export interface VenueHarness {
  readonly venue: string;
  /** At least two subscriptions; faults hit the first, the second must stay untouched. */
  readonly subscriptions: Subscription[];
  start(subscriptions: Subscription[]): Promise<VenueRun>;
  readonly skip?: Partial<Record<ContractCase, string>>;
}

/** Applies a BookUpdate's levels to price → qty maps (qty 0 deletes): the simplest possible book. */
export function applyToMaps(u: BookUpdate, bids: Map<number, number>, asks: Map<number, number>): void {
  for (let i = 0; i < u.bidCount; i++) if (u.bidQty[i] === 0) bids.delete(u.bidPx[i]!); else bids.set(u.bidPx[i]!, u.bidQty[i]!);
  for (let i = 0; i < u.askCount; i++) if (u.askQty[i] === 0) asks.delete(u.askPx[i]!); else asks.set(u.askPx[i]!, u.askQty[i]!);
}

class ContractSink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  readonly invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  deltaWithoutBook = 0;
  constructor(public instruments: Instrument[]) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    if (u.isSnapshot) {
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    } else if (!this.bids[index]) {
      this.deltaWithoutBook++;
      return;
    }
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.seq[index] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
    this.asks[index] = undefined;
  }
  onInstrumentChanged(index: number, instrument: Instrument): void {
    this.instruments[index] = instrument;
  }
  matches(run: VenueRun, index: number): boolean {
    const e = run.expected(index, this.instruments[index]!);
    return this.seq[index] === e.seq && same(this.bids[index], e.bids) && same(this.asks[index], e.asks);
  }
}

function same(a: Map<number, number> | undefined, b: Map<number, number>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function runVenueContract(h: VenueHarness): void {
  const runs: VenueRun[] = [];
  afterEach(async () => {
    while (runs.length > 0) await runs.pop()!.stop().catch(() => undefined);
  });

  async function live(): Promise<{ run: VenueRun; sink: ContractSink; all: number[] }> {
    const run = await h.start(h.subscriptions);
    runs.push(run);
    const loaded = await run.adapter.loadInstruments();
    expect(loaded.every((i) => i !== undefined)).toBe(true);
    const sink = new ContractSink(loaded as Instrument[]);
    run.adapter.start(sink);
    const all = h.subscriptions.map((_, i) => i);
    run.step(1);
    await until(() => all.every((i) => sink.matches(run, i)), "every book live and equal to the simulator's");
    return { run, sink, all };
  }

  const cases: [ContractCase, string][] = [
    ["books", "books equal the simulator's after many messages"],
    ["gap", "a lost message resyncs only its book (RESYNCING, SEQUENCE_GAP)"],
    ["duplicate", "a duplicated message never corrupts a book"],
    ["malformed", "a malformed frame is counted and never corrupts a book"],
    ["reset", "a venue sequence reset leaves a correct book"],
    ["disconnect", "a dropped connection invalidates its books, reconnects and recovers"],
    ["requestResync", "requestResync resyncs only that book"],
  ];

  describe(`venue contract: ${h.venue}`, { timeout: 20_000 }, () => {
    for (const [name, title] of cases) {
      const reason = h.skip?.[name];
      if (reason !== undefined) {
        test.skip(`${title} (skipped: ${reason})`, () => {});
        continue;
      }
      test(title, async () => {
        const { run, sink, all } = await live();
        const others = all.slice(1);
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
        if (name !== "disconnect" && name !== "books") expect(sink.invalid.filter((e) => others.includes(e.index))).toEqual([]);
        expect(run.adapter.stats().messages).toBeGreaterThan(0);
      });
    }
  });
}
