/**
 * A venue adapter whose messages the test writes itself (through `sink`), and a BookUpdate filler for them: for app
 * tests that need exact books (crossed books, refused prices) without a simulator.
 * @module
 */
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { Instrument, StatusReason } from "../../src/core/types.ts";
import type { BookSink, VenueAdapter } from "../../src/venues/venue.ts";

/** A venue whose messages the test writes itself. */
export class ScriptedVenue implements VenueAdapter {
  readonly venue = "okx" as const;
  sink: BookSink | null = null;
  readonly resyncs: StatusReason[] = [];
  constructor(readonly instrument: Instrument) {}
  loadInstruments(): Promise<(Instrument | undefined)[]> {
    return Promise.resolve([this.instrument]);
  }
  start(sink: BookSink): void {
    this.sink = sink;
  }
  startReplay(sink: BookSink): void {
    this.sink = sink;
  }
  ingestFrame(): boolean {
    return false;
  }
  requestResync(_index: number, reason: StatusReason): void {
    this.resyncs.push(reason);
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  stats(): Record<string, number> {
    return {};
  }
  connections() {
    return [];
  }
  metrics() {
    return [];
  }
}

export function update(u: BookUpdate, snapshot: boolean, seq: number, bids: [number, number][], asks: [number, number][]): BookUpdate {
  u.reset();
  u.isSnapshot = snapshot;
  u.venueSeq = seq;
  for (const [p, q] of bids) u.pushBid(p, q);
  for (const [p, q] of asks) u.pushAsk(p, q);
  return u;
}
