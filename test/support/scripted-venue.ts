/**
 * A venue adapter whose messages the test writes itself (through `sink`), and a BookUpdate filler for them: for app
 * tests that need exact books (crossed books, refused prices) without a simulator.
 * @module
 */
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig, PublishConfig } from "../../src/config/types.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { Instrument, MarketName, StatusReason, VenueName } from "../../src/core/types.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import type { BookSink, VenueAdapter } from "../../src/venues/venue.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";

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

/**
 * A Feeder serving `venue` as OKX spot (depth 400, `symbols`, book 0 the first) to `dest`, and a FeedSubscriber on
 * it (staleAfterMs 0), both started; their stops are pushed onto `cleanups`. `publish` may change the publish config.
 */
export async function startScriptedOkxSpot(o: {
  venue: ScriptedVenue;
  symbols: string[];
  dest: { group: string; port: number };
  cleanups: (() => Promise<void> | void)[];
  log?: Logger;
  publish?: (p: PublishConfig) => PublishConfig;
}): Promise<{ feeder: Feeder; subscriber: FeedSubscriber }> {
  const { group, port } = o.dest;
  const scripted = scriptedFeederConfig({ venue: o.venue, venueName: "okx", market: "spot", depth: 400, symbols: o.symbols, group, port });
  const config = o.publish === undefined ? scripted.config : { ...scripted.config, publish: o.publish(scripted.config.publish) };
  const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], staleAfterMs: 0 });
  await subscriber.start();
  o.cleanups.push(() => subscriber.stop());
  const feeder = new Feeder({ config, log: o.log ?? silentLogger, venues: { okx: scripted.spec } });
  o.cleanups.push(() => feeder.stop());
  await feeder.start();
  return { feeder, subscriber };
}
