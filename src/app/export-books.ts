/**
 * Books for `feeder export --books`: the capture's frames go through the venue adapter's replay path (the same
 * scanner and sequencing as `feeder replay`) into the project's BookBuilders, with no publisher; every book
 * change (or every grid point of recorded time) becomes one row of the top N levels per side.
 * @module
 */
import { ApplyResult, BookBuilder } from "../book/book-builder.ts";
import type { BookUpdate } from "../core/book-update.ts";
import { errorText } from "../core/error-text.ts";
import { formatFixed } from "../core/fixed.ts";
import type { Logger } from "../core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type Instrument } from "../core/types.ts";
import type { FeederConfig } from "../config/types.ts";
import { venueSpec } from "../venues/registry.ts";
import { configuredSubscriptions } from "./feeder.ts";
import { csvField } from "./csv-field.ts";
import { ReplayClock } from "./replay-clock.ts";
import { type BookSink, type Subscription, type VenueAdapter } from "../venues/venue.ts";
import { ingestRecordedRest, type RecordedStopHalt } from "./recorded-rest.ts";

export type ExportFormat = "jsonl" | "csv";

/** One venue's adapter in replay mode and its builders, by subscription index (exported for tests). */
export class BookSinkForExport implements BookSink {
  readonly builders: (BookBuilder | undefined)[];
  adapter!: VenueAdapter;

  constructor(
    instruments: readonly (Instrument | undefined)[],
    private readonly onChange: (b: BookBuilder) => void,
    private readonly log: Logger,
  ) {
    this.builders = instruments.map((i) => i && new BookBuilder(i));
  }

  onBookUpdate(index: number, update: BookUpdate): void {
    const b = this.builders[index];
    if (!b) return;
    try {
      // As the Feeder: a whole book (Upbit, Bithumb) replaces the book, and is its snapshot while it is not live.
      const r = update.replace ? b.applyReplace(update) : update.isSnapshot ? b.applySnapshot(update) : b.applyDelta(update);
      // As the Feeder: a book the venue's check refuses (OKX's checksum, a Binance side bounded by its snapshot's
      // depth left empty) is not live. Unchecked, its rows said "live" where replay's published book was RESYNCING.
      const why = r === ApplyResult.APPLIED && this.adapter.verify !== undefined ? this.adapter.verify(index, b) : StatusReason.NONE;
      if (why !== StatusReason.NONE) {
        b.markInvalid(BookState.RESYNCING, why);
        this.onChange(b);
        this.adapter.requestResync(index, why);
        return;
      }
      if (r === ApplyResult.CROSSED) this.adapter.requestResync(index, StatusReason.CROSSED_BOOK);
      if (r !== ApplyResult.IGNORED_NOT_LIVE) this.onChange(b);
    } catch (err) {
      // As in the Feeder: contained, the book resyncs from the capture's next snapshot.
      this.log.error("exception while applying a book message; book resyncs", { symbol: b.instrument.symbol, error: errorText(err) });
      if (b.markInvalid(BookState.RESYNCING, StatusReason.PARSE_ERROR)) this.onChange(b);
      this.adapter.requestResync(index, StatusReason.PARSE_ERROR);
    }
  }

  /** As Feeder.onBookResumed: a STALE book whose sequence continues exactly is LIVE again (a row says so). */
  onBookResumed(index: number): boolean {
    const b = this.builders[index];
    if (b === undefined || !b.resumeStale()) return false;
    this.onChange(b);
    return true;
  }

  /** The adapter is handling a recorded stop's `ws:close` (ingestRecordedRest): its books are halted already. */
  replayStopping = false;

  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    if (this.replayStopping) return;
    const b = this.builders[index];
    if (b === undefined) return;
    // As Feeder's: a halted book's new reason (refused, then closed by its listing) is a change of its own.
    if (b.markInvalid(state, reason) || (state === BookState.HALTED && b.restate(state, reason))) this.onChange(b);
  }

  /** As Feeder.captureGap: every book LIVE or STALE leaves it (RESYNCING / sequence_gap) and resyncs. */
  captureGap(): void {
    this.adapter.replayCaptureGap?.(); // as Feeder's: what it matched by the capture's order starts over
    this.builders.forEach((b, index) => {
      if (b === undefined || (b.state !== BookState.LIVE && b.state !== BookState.STALE)) return;
      // The adapter's resync invalidates the book through onBookInvalid; marked here only if not.
      this.adapter.requestResync(index, StatusReason.SEQUENCE_GAP);
      if (b.state === BookState.LIVE || b.state === BookState.STALE) this.onBookInvalid(index, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    });
  }

  onInstrumentChanged(index: number, instrument: Instrument): void {
    if (!this.builders[index]) return;
    const b = new BookBuilder(instrument);
    b.markInvalid(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
    this.builders[index] = b;
    this.onChange(b);
  }
}

const byTime = (a: { tsUs: number }, b: { tsUs: number }): number => a.tsUs - b.tsUs;

/** Rebuilds the configured books from recorded frames and formats their top levels as rows. */
export class BookReconstructor {
  private readonly sinks = new Map<string, BookSinkForExport>();
  private readonly adapters = new Map<string, VenueAdapter>();
  /** Each adapter's stop, once: the one a stop finds resolving is stopped then, and stop() waits for that same call. */
  private readonly stopping = new Map<VenueAdapter, Promise<void>>();
  /** Receive time of the frame being fed, or the time of the stale round running (onRound), for the rows it produces. */
  private currentUs = 0;
  /** The adapters' clock, the capture's receive times, as in replay (a book silent past its stale time goes STALE). */
  private readonly clock = new ReplayClock();

  constructor(
    private readonly config: FeederConfig,
    private readonly depth: number,
    private readonly format: ExportFormat,
    /** Called with each row (no newline); null = rows only on demand (grid sampling). */
    private readonly onRow: ((row: string) => void) | null,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves instruments (overrides, cache, REST) and starts each venue's adapter in replay mode, venue by venue.
   * `stopSignal` resolving meanwhile (SIGINT) stops the adapter resolving: its instrument REST requests end at once
   * (RestStop) and this returns false, nothing started. Before, a stop waited for every venue's REST in turn (up to
   * 10 s each) and then threw "instrument not resolved" when the REST had not answered: "export failed", exit 1.
   */
  async start(stopSignal?: Promise<unknown>): Promise<boolean> {
    let stopped = false;
    let resolving: VenueAdapter | undefined;
    void stopSignal?.then(() => {
      stopped = true;
      if (resolving) void this.stopAdapter(resolving);
    });
    for (const v of this.config.venues) {
      // As run and replay read them: "SYMBOL@depth" is SYMBOL's further depth (until 2026-12-06 it went to the adapter
      // as a venue symbol, which resolved nowhere). Every configured book, whatever the config's shard, as before.
      const subs: Subscription[] = configuredSubscriptions({ ...this.config, shard: { index: 0, count: 1 } }, v);
      if (subs.length === 0) continue;
      const spec = venueSpec(v.venue);
      if (!spec) throw new Error(`venue ${v.venue} has no adapter`);
      if (stopped) return false;
      const adapter = spec.create(v, subs, { log: this.log.child({ venue: v.venue }), recheckInstruments: false, now: this.clock.now, wallNow: Date.now, replayRoundAt: this.onRound });
      this.adapters.set(v.venue, adapter); // stopped by stop(), started or not
      resolving = adapter;
      let instruments: (Instrument | undefined)[];
      try {
        instruments = await adapter.loadInstruments();
      } catch (err) {
        if (stopped) return false; // the stop's RestStopped, or a failure it cut short: no failure of the export
        throw err;
      }
      resolving = undefined;
      if (stopped) return false;
      const sink = new BookSinkForExport(instruments, (b) => this.onChange(b), this.log);
      sink.adapter = adapter;
      adapter.startReplay(sink);
      this.sinks.set(v.venue, sink);
    }
    return true;
  }

  /**
   * A venue's stale round runs at `atMs` (CommonAdapterOptions.replayRoundAt): a book it makes STALE went so then, so
   * its row says that time (whole µs), not the next record's. Until s-stalestamp it carried the record's receive time:
   * a lookup between the two read LIVE where live (and replay) had the book STALE.
   */
  private readonly onRound = (atMs: number): void => {
    this.currentUs = Math.round(atMs * 1000);
  };

  /** A book's row, stamped currentUs: handed on, or held while several venues' rounds run (advance). */
  private onChange(b: BookBuilder): void {
    if (this.onRow === null) return;
    const row = this.row(b, this.currentUs);
    if (this.holding) this.held.push({ tsUs: this.currentUs, row });
    else this.onRow(row);
  }

  /** Rows of the stale rounds before one record, while more than one venue runs them (cold: only books gone STALE). */
  private readonly held: { tsUs: number; row: string }[] = [];
  private holding = false;

  /**
   * The clock to a record's receive time, and what every venue's housekeeping decides by then, each round's rows
   * stamped with its time (onRound); then the record's rows with its own. The venues' rounds run venue by venue, each
   * venue's in time order: with several venues their rows are held and handed on in time order (stable: a venue's
   * rows of one round keep their order), so the rows' times never go back.
   */
  private advance(tsRecvUs: number): void {
    const nowMs = this.clock.advance(tsRecvUs);
    this.holding = this.onRow !== null && this.sinks.size > 1;
    for (const sink of this.sinks.values()) sink.adapter?.replayClockAt?.(nowMs);
    this.holding = false;
    if (this.held.length > 0) {
      if (this.held.length > 1) this.held.sort(byTime);
      for (const h of this.held) this.onRow!(h.row);
      this.held.length = 0;
    }
    this.currentUs = tsRecvUs;
  }

  /** Feeds one recorded frame; false when no configured venue/market takes it. */
  ingest(venue: string, market: string, connection: string, frame: string, tsRecvUs: number): boolean {
    this.advance(tsRecvUs);
    const adapter = this.adapters.get(venue);
    if (!adapter) return false;
    return adapter.ingestFrame(market as Subscription["market"], connection, frame, tsRecvUs);
  }

  /** Feeds one recorded REST answer (a depth snapshot a book bridges to); false when no adapter takes it. */
  ingestRest(venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    this.advance(tsRecvUs);
    const adapter = this.adapters.get(venue);
    if (!adapter) return false;
    // A recorded connection open/close: the books do what the live run's did, or it is ignored; the recorder's stop
    // halts every book (a row each): one rule with replay's (Feeder.ingestRest).
    return ingestRecordedRest(adapter, this.sinks.get(venue), this.recordedStopHalt, market, connection, url, body, tsRecvUs);
  }

  /** The recorder stopped (ingestRecordedRest): every book HALTED / shutdown as live's stop, a row each. */
  private readonly recordedStopHalt: RecordedStopHalt = {
    haltForRecordedStop: (): void => {
      for (const s of this.sinks.values()) {
        for (const b of s.builders) if (b?.markInvalid(BookState.HALTED, StatusReason.SHUTDOWN)) this.onChange(b);
      }
    },
  };

  /**
   * Records of the capture were lost before what comes next (a file that ended early, with another after it): every
   * book LIVE or STALE goes RESYNCING / sequence_gap, its rows stamped `tsUs` (the last record read), and resyncs
   * from the capture's next snapshot, as in replay (Feeder.captureGap).
   */
  captureGap(tsUs: number): void {
    this.currentUs = tsUs;
    for (const sink of this.sinks.values()) sink.captureGap();
  }

  /** A time jump to `tsRecvUs` (after captureGap): the adapters' clock starts again there, no housekeeping over the jump. */
  rebaseClock(tsRecvUs: number): void {
    const nowMs = this.clock.rebase(tsRecvUs);
    for (const sink of this.sinks.values()) sink.adapter?.replayClockAt?.(nowMs, true);
    this.currentUs = tsRecvUs;
  }

  /**
   * One row per book that has had a snapshot, stamped `tsUs` (grid sampling): the books at `tsUs`, so the clock goes
   * there first (a book silent past its stale time by then is STALE, as live's housekeeping and replay's recorded
   * pace made it; until s-rdexp grid rows in a quiet stretch said LIVE until the next record). A `tsUs` at or before
   * the clock (rows up to a damage point) changes nothing. One row at a time, so the caller hands them on chunk by
   * chunk: a grid point of 20,000 books at --depth 1000 is gigabytes (until s-rdexp built whole, then written at once).
   */
  *rowsAt(tsUs: number): Generator<string, void, undefined> {
    this.advance(tsUs);
    for (const sink of this.sinks.values()) {
      for (const b of sink.builders) if (b && b.counters.snapshots > 0) yield this.row(b, tsUs);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.adapters.values()].map((a) => this.stopAdapter(a)));
  }

  private stopAdapter(a: VenueAdapter): Promise<void> {
    let p = this.stopping.get(a);
    if (p === undefined) this.stopping.set(a, (p = a.stop().catch(() => undefined)));
    return p;
  }

  header(): string {
    const cols = ["ts_us", "ts_exchange_us", "ts_event_us", "venue", "market", "symbol", "state", "reason", "venue_seq"];
    for (const side of ["bid", "ask"]) for (let i = 1; i <= this.depth; i++) cols.push(`${side}_px_${i}`, `${side}_qty_${i}`);
    return cols.join(",");
  }

  private row(b: BookBuilder, tsUs: number): string {
    const i = b.instrument;
    const state = BOOK_STATE_NAMES[b.state] ?? String(b.state);
    // Why the book is in that state, by the wire's name (wire-protocol §4.8; as `listen --format ndjson` says it):
    // e.g. sequence_gap, checksum_mismatch, disconnected; a live book's is snapshot_applied.
    const reason = STATUS_REASON_NAMES[b.reason] ?? String(b.reason);
    // 0 is the wire's "unknown" (§4.2: a venue that sends no such time, e.g. OKX's cts, a Binance spot REST snapshot's
    // E): null / an empty cell, which research tools read as missing, not as 1970-01-01.
    const tsExchangeUs = b.tsExchangeUs === 0 ? null : b.tsExchangeUs;
    const tsEventUs = b.tsEventUs === 0 ? null : b.tsEventUs;
    // Only a LIVE book's levels are the venue's: a resyncing, stale or halted book's kept levels (a crossed update's,
    // the ones from before a gap) would read as the book in a table that drops the state column. Its row keeps state
    // and reason, no levels (until 2026-12-07 they were written).
    const usable = b.state === BookState.LIVE;
    const bids = usable ? Math.min(this.depth, b.bidCount) : 0;
    const asks = usable ? Math.min(this.depth, b.askCount) : 0;
    if (this.format === "jsonl") {
      const side = (n: number, px: (r: number) => number, qty: (r: number) => number) =>
        Array.from({ length: n }, (_, r) => [formatFixed(px(r), i.priceExp), formatFixed(qty(r), i.qtyExp)]);
      return JSON.stringify({
        tsUs: tsUs,
        tsExchangeUs,
        tsEventUs,
        venue: i.venue,
        market: i.market,
        symbol: i.symbol,
        state,
        reason,
        venueSeq: b.venueSeq,
        bids: side(bids, (r) => b.bidPriceAt(r), (r) => b.bidQtyAt(r)),
        asks: side(asks, (r) => b.askPriceAt(r), (r) => b.askQtyAt(r)),
      });
    }
    // Quoted where they hold `,`, `"` or a line break (RFC 4180; until 2026-12-07 written as they were).
    const cells: (string | number)[] = [tsUs, tsExchangeUs ?? "", tsEventUs ?? "", csvField(i.venue), csvField(i.market), csvField(i.symbol), state, reason, b.venueSeq];
    for (let r = 0; r < this.depth; r++) cells.push(r < bids ? formatFixed(b.bidPriceAt(r), i.priceExp) : "", r < bids ? formatFixed(b.bidQtyAt(r), i.qtyExp) : "");
    for (let r = 0; r < this.depth; r++) cells.push(r < asks ? formatFixed(b.askPriceAt(r), i.priceExp) : "", r < asks ? formatFixed(b.askQtyAt(r), i.qtyExp) : "");
    return cells.join(",");
  }
}
