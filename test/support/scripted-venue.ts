/**
 * A venue adapter whose messages the test writes itself (through `sink`), and a BookUpdate filler for them: for app
 * tests that need exact books (crossed books, refused prices) without a simulator.
 * @module
 */
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { Instrument, MarketName, StatusReason, VenueName } from "../../src/core/types.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
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

/**
 * A registry entry that serves `venue` as `venueName`'s `market` (one depth, client pings, resubscribe), and a
 * FeederConfig with that market's `symbols`, publishing to group:port on 127.0.0.1 (TTL 1), periodic snapshots off.
 */
export function scriptedFeederConfig(o: { venue: ScriptedVenue; venueName: VenueName; market: MarketName; depth: number; symbols: string[]; group: string; port: number }): { spec: VenueSpec; config: FeederConfig } {
  const spec: VenueSpec = {
    venue: o.venueName,
    wsUrl: "ws://127.0.0.1:1/",
    restUrl: "http://127.0.0.1:1",
    marketWsUrl: (base) => base,
    markets: { [o.market]: { depths: [o.depth], defaultDepth: o.depth, staleAfterMs: () => 60_000, staleFloor: () => ({ ms: 1000 }) } },
    keepalive: "client_ping",
    resync: "resubscribe",
    sequenceScope: "topic",
    create: () => o.venue,
  };
  const base = validateConfig({ publish: { destinations: [{ group: o.group, port: o.port, interface: "127.0.0.1", ttl: 1, channel: 5 }], snapshot_interval_ms: 0 } }, { requireVenue: false });
  const config: FeederConfig = {
    ...base,
    venues: [{ venue: o.venueName, wsUrl: spec.wsUrl, restUrl: spec.restUrl, instrumentCachePath: "", markets: [{ market: o.market, depth: o.depth, symbols: o.symbols }], overrides: new Map() }],
  };
  return { spec, config };
}
