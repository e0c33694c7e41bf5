/**
 * Record → replay of one live run, as `feeder record` then `feeder replay` do it, for a venue test: the live adapter's
 * taps keep every record (frame, REST answer, connection event), the replaying adapter (same config, started with
 * startReplay) is fed them in order. Each sink notes every book event with how many records live had written (live)
 * or replay had fed (replay) when it came, so two equal timelines mean the same events at the same records.
 */
import { isConnectionEventUrl, type BookSink, type CommonAdapterOptions, type VenueAdapter } from "../../../src/venues/venue.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES, type MarketName } from "../../../src/core/types.ts";

export type Recorded = { market: MarketName; connection: string; tsRecvUs: number } & ({ frame: string; url?: undefined; body?: undefined } | { frame?: undefined; url: string; body: string });

/** A sink noting each book event with `at()` (the records so far): a run's timeline. */
export function timelineSink(at: () => number): { sink: BookSink; events: string[] } {
  const events: string[] = [];
  const sink: BookSink = {
    onBookUpdate: (i, u) => void events.push(`${at()}: ${i} ${u.isSnapshot ? "snapshot" : "change"} ${u.venueSeq}`),
    onBookInvalid: (i, state, reason) => void events.push(`${at()}: ${i} ${BOOK_STATE_NAMES[state]}/${STATUS_REASON_NAMES[reason]}`),
    onInstrumentChanged: () => {},
  };
  return { sink, events };
}

/** The live run's taps (as `feeder record` passes them) and what they recorded, and its timeline sink. */
export function recordingTaps(): { records: Recorded[]; taps: Pick<CommonAdapterOptions, "onRawFrame" | "onRawRest">; sink: BookSink; events: string[] } {
  const records: Recorded[] = [];
  const taps: Pick<CommonAdapterOptions, "onRawFrame" | "onRawRest"> = {
    onRawFrame: (market, connection, frame, tsRecvUs) => void records.push({ market, connection, frame, tsRecvUs }),
    onRawRest: (market, connection, url, body, tsRecvUs) => void records.push({ market, connection, url, body, tsRecvUs }),
  };
  return { records, taps, ...timelineSink(() => records.length) };
}

/**
 * Starts `adapter` (loaded, not started) as a replay; `feed()` then gives it every record not fed yet, each taken
 * (true) as `feeder replay` takes it, and returns the replay's timeline.
 */
export function replayer(adapter: VenueAdapter, records: readonly Recorded[]): { feed(): string[] } {
  let fed = 0;
  const { sink, events } = timelineSink(() => fed);
  adapter.startReplay(sink);
  return {
    feed() {
      while (fed < records.length) {
        const r = records[fed++]!;
        let ok: boolean | undefined;
        if (r.frame !== undefined) ok = adapter.ingestFrame(r.market, r.connection, r.frame, r.tsRecvUs);
        else if (isConnectionEventUrl(r.url)) ok = adapter.ingestConnectionEvent?.(r.market, r.connection, r.url, r.tsRecvUs, r.body);
        else ok = adapter.ingestRest?.(r.market, r.connection, r.url, r.body, r.tsRecvUs);
        if (ok !== true) throw new Error(`replay did not take record ${fed - 1}: ${r.url ?? r.frame.slice(0, 120)}`);
      }
      return events;
    },
  };
}
