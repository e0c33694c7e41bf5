/**
 * A recorded REST answer or connection event given to its venue's adapter, one rule for `feeder replay`
 * (Feeder.ingestRest) and `feeder export --books` (BookReconstructor.ingestRest), so the two cannot disagree on the
 * recorder's stop.
 * @module
 */
import { isConnectionEventUrl, isRecordedStop, type Subscription, type VenueAdapter } from "../venues/venue.ts";

/** The venue's book sink while its adapter takes a recorded stop's `ws:close`: its invalidations are not news then. */
export interface ReplayStoppingSink {
  replayStopping: boolean;
}

/** Halts every book of the run (HALTED / shutdown; one already halted is no news), as live's stop did. */
export interface RecordedStopHalt {
  haltForRecordedStop(): void;
}

/**
 * A connection event goes to ingestConnectionEvent (true when the adapter has none: nothing to do), anything else
 * to ingestRest (false when the adapter takes none). The recorder's stop (a `ws:close` of RECORDER_STOPPED_WHY, one
 * per connection it had open) halts every book first, not LIVE across the time it was down, until the next run's
 * snapshots; the adapter still takes the record as its connection's close (its socket's requests and overlap end),
 * the RESYNCING / disconnected that close would report held back by `sink`: live reported one status, the halt.
 */
export function ingestRecordedRest(
  adapter: VenueAdapter,
  sink: ReplayStoppingSink | undefined,
  halt: RecordedStopHalt,
  market: string,
  connection: string,
  url: string,
  body: string,
  tsRecvUs: number,
): boolean {
  const m = market as Subscription["market"];
  if (!isConnectionEventUrl(url)) return adapter.ingestRest !== undefined && adapter.ingestRest(m, connection, url, body, tsRecvUs);
  if (!isRecordedStop(url, body)) return adapter.ingestConnectionEvent?.(m, connection, url, tsRecvUs, body) ?? true;
  halt.haltForRecordedStop();
  if (sink !== undefined) sink.replayStopping = true;
  try {
    return adapter.ingestConnectionEvent?.(m, connection, url, tsRecvUs, body) ?? true;
  } finally {
    if (sink !== undefined) sink.replayStopping = false;
  }
}
