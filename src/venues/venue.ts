/**
 * The contract between a venue adapter (WebSocket protocol, sequencing, resync) and the app (books, wire, net).
 * Venues import only `core`; the app implements BookSink and wires adapters to books.
 * @module
 */
import type { BookUpdate } from "../core/book-update.ts";
import type { BookState, Instrument, MarketName, StatusReason, VenueName } from "../core/types.ts";

export interface BookSink {
  /** A sequence-checked book message for subscription `index`: u.isSnapshot ? replace book : apply delta. The update object is reused: consume synchronously. */
  onBookUpdate(index: number, update: BookUpdate): void;
  /** The book at `index` can no longer be trusted (gap, venue reset, disconnect, stale, rejected subscribe, parse error); the adapter is already resyncing it (or gave up: SUBSCRIBE_REJECTED). */
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void;
  /** Instrument metadata changed (tick-size change → new exponents). The next message for index will be a snapshot. */
  onInstrumentChanged(index: number, instrument: Instrument): void;
}

export interface Subscription {
  readonly market: MarketName;
  readonly symbol: string;
  readonly depth: number;
}

/** One venue metric sample, read at scrape time (cold). The app prefixes `feeder_venue_` and adds the `venue` label. */
export interface VenueMetric {
  /** snake_case; counters end in `_total`; base units (`_seconds`, `_bytes`). E.g. "messages_received_total". */
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  /** Label values (e.g. { market: "linear", connection: "linear-0" }). The series of one name are disjoint:
   *  never a total beside its parts, so sum() never double-counts. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One venue connection as /readyz and the status page report it (cold). */
export interface VenueConnectionState {
  /** The connection's name in metrics and logs (e.g. "conn0"). */
  readonly connection: string;
  readonly market: string;
  readonly url: string;
  readonly up: boolean;
  /** While down: why the last attempt failed, with the OS error code when there is one ("ECONNREFUSED: …"); "" while up or still connecting. */
  readonly lastError: string;
  /** While down: since when (ms since the epoch); 0 while up. */
  readonly downSinceMs: number;
}

export interface VenueAdapter {
  readonly venue: VenueName;
  /**
   * Resolves instruments (REST, disk cache, config overrides) for the subscriptions, in order. A symbol it cannot
   * resolve is undefined (logged as an error naming it and why; never subscribed); throws when none resolves.
   */
  loadInstruments(): Promise<(Instrument | undefined)[]>;
  /** Opens connections and subscribes everything; returns when connections are initiated (not when books are live). */
  start(sink: BookSink): void;
  /** The app found the book bad (e.g. crossed after apply): resync just this topic. */
  requestResync(index: number, reason: StatusReason): void;
  /** Replay instead of start: no connections; frames arrive through ingestFrame with their recorded receive times. */
  startReplay(sink: BookSink): void;
  /** Feeds one recorded raw frame; false when no connection of that market exists. */
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean;
  stop(): Promise<void>;
  /** Cold: counters for metrics (messages, bytes, parseErrors, gaps, resyncs, reconnects, ignoredBeforeSnapshot, staleResyncs, subscribeRejected ...), per connection where sensible. */
  stats(): Record<string, number>;
  /** Cold: every venue counter and gauge as metric samples (Prometheus conventions). */
  metrics(): VenueMetric[];
  /** Cold: every connection the adapter opens (none when replaying), so /readyz can say which venue is down and why. */
  connections(): VenueConnectionState[];
}
