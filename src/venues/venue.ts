/**
 * The contract between a venue adapter (WebSocket protocol, sequencing, resync) and the app (books, wire, net),
 * and the vocabulary every venue shares (docs/add-venue.md). Venues import only `core` and config types; the
 * app implements BookSink, asks the registry (registry.ts) for adapters and wires them to books.
 * @module
 */
import { monoEpochMs } from "../core/clock.ts";
import type { BookUpdate } from "../core/book-update.ts";
import type { BookView } from "../core/book-view.ts";
import type { Logger } from "../core/log.ts";
import type { BookState, Instrument, MarketName, StatusReason, VenueName } from "../core/types.ts";
import type { BudgetLedger } from "./common/budget-ledger.ts";
import type { UnresolvedInstrument } from "./common/late-instruments.ts";

export type { UnresolvedInstrument } from "./common/late-instruments.ts";

export interface BookSink {
  /**
   * A sequence-checked book message for subscription `index`, applied by its kind (`update.kind`): SNAPSHOT
   * replaces the book and is published whole; DELTA applies absolute sizes; REPLACE replaces the book and is
   * published as the delta from the previous one (snapshot-only venues). The update object is reused: consume
   * synchronously.
   */
  onBookUpdate(index: number, update: BookUpdate): void;
  /** The book at `index` can no longer be trusted (gap, venue reset, disconnect, stale, rejected subscribe, parse error); the adapter is already resyncing it (or gave up: SUBSCRIBE_REJECTED). */
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void;
  /** Instrument metadata changed (tick-size change → new exponents). The next message for index will be a snapshot. */
  onInstrumentChanged(index: number, instrument: Instrument): void;
  /**
   * A symbol left out at start (its instrument unresolved) resolved while running (common/late-instruments.ts): build
   * and publish its book now; the adapter subscribes it right after, so the next message for index is its snapshot.
   * Optional: an adapter retries late symbols only for a sink that has it (not replay or export).
   */
  onInstrumentResolved?(index: number, instrument: Instrument): void;
  /**
   * Replay: the STALE book at `index` continues its venue sequence exactly at the message the adapter passes next (no
   * message missed since its last one), within one housekeeping round of the time its silence passed its stale time,
   * where live's round may not have come yet (ConnectionLifecycle.replayMayResume). The sink makes it LIVE at its kept
   * levels and publishes them whole; false: it did not (not STALE, no book, or a sink without it; or the Feeder could
   * not encode that snapshot: the book is then RESYNCING / parse_error and its resync asked), and the adapter
   * ignores the message.
   */
  onBookResumed?(index: number): boolean;
}

export interface Subscription {
  readonly market: MarketName;
  /** The venue's symbol, as the venue spells it in requests (no depth suffix). */
  readonly symbol: string;
  /** Levels per side of the subscribed channel; 0 = the venue's full book. */
  readonly depth: number;
  /**
   * Set when this is a further depth of a symbol beside the market's configured one (config `"SYMBOL@depth"`):
   * the instrument is then published as `SYMBOL@depth` with its own stable id (instrumentSymbolOf).
   */
  readonly extraDepth?: boolean;
}

/**
 * The symbol an instrument carries on the wire and in its id: the venue symbol at the market's depth, or
 * `SYMBOL@depth` for an extra depth, so two depths of one symbol are two instruments a subscriber tells apart
 * (id = instrumentIdOf(venue, market, instrumentSymbolOf(sub)); the default depth keeps its earlier id).
 */
export function instrumentSymbolOf(sub: Subscription): string {
  return sub.extraDepth === true ? `${sub.symbol}@${sub.depth}` : sub.symbol;
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

/** Receives every raw frame: market, connection name, the frame text, receive time µs (feeder record). */
export type RawFrameTap = (market: MarketName, connection: string, frame: string, tsRecvUs: number) => void;

/**
 * Receives every REST response a book depends on (a depth snapshot a diff stream is bridged to), so a capture
 * holds it and replay can feed it back through VenueAdapter.ingestRest.
 */
export type RawRestTap = (market: MarketName, connection: string, url: string, body: string, tsRecvUs: number) => void;

/**
 * Pseudo-URLs under which the RawRestTap also reports a connection's open and unplanned close (body: the reason),
 * so a capture holds them where they happened and replay does for that connection's books what the live run did
 * (VenueAdapter.ingestConnectionEvent). A REST-shaped record: readers without them count it as a skipped REST answer.
 */
export const CONNECTION_OPENED_URL = "ws:open";
export const CONNECTION_CLOSED_URL = "ws:close";
/**
 * The body of the CONNECTION_CLOSED_URL `feeder record` writes at its stop (since s-recstop) for every connection the
 * capture has open, before its sockets close (a planned close: onDisconnected records nothing then). Live, the stop
 * halts every book (HALTED / shutdown); replay and export do the same at this record (Feeder.ingestRest,
 * BookReconstructor.ingestRest) and keep them so until the next run's frames, where before they stayed LIVE at the
 * old run's levels across the time the recorder was down. A reader before it takes it as any close (RESYNCING /
 * disconnected): not usable either.
 */
export const RECORDER_STOPPED_WHY = "feeder stopped: the recorder's run ended here";

/** A recorded connection event that is the recorder's stop (RECORDER_STOPPED_WHY), not a socket lost. */
export function isRecordedStop(url: string, body: string): boolean {
  return url === CONNECTION_CLOSED_URL && body === RECORDER_STOPPED_WHY;
}

/**
 * The connection's sockets, recorded since 2026-12-06 so replay can tell them apart as the live run did (body "", but RETIRED's):
 * SOCKETS right after every CONNECTION_OPENED_URL (from here on this connection's planned reconnects are recorded; a
 * capture without it, or a file begun after it without a head until SOCKETS_STATE_URL, leaves replay to its older heuristics), SWAP when a planned
 * reconnect's replacement became the connection's socket (the old one still delivers: the overlap), OLD before each
 * frame the old socket delivered during the overlap, RETIRED when the old socket closed (the replacement carries on;
 * body since 2026-12-07: the topics, space-separated, of the books the old socket was the only feed of, which then
 * left LIVE as on a disconnect: planned-reconnect.ts retired),
 * BACK when the replacement failed and the old socket is the connection's again. An unplanned close is
 * CONNECTION_CLOSED_URL. Readers before them count them as skipped REST answers.
 */
export const SOCKETS_RECORDED_URL = "ws:sockets";
/**
 * Said again every SOCKETS_STATE_EVERY_MS while the connection has one socket, and at the head of every capture file
 * begun then (app/capture-sockets.ts): a replay begun in a later capture file (the run's first one rotated away or not
 * given) learns from it that the sockets are recorded, and that there is one now. Once known, replay takes it as the end of any overlap it still sees (its ws:retired or ws:back was in a
 * capture block that was lost).
 */
export const SOCKETS_STATE_URL = "ws:state";
export const SOCKETS_STATE_EVERY_MS = 60_000;
/**
 * Written by `feeder record` only at the head of a capture file begun during a planned reconnect's overlap (the
 * replacement is the connection's socket, the old one still delivers; app/capture-sockets.ts), where a file begun with
 * one socket has SOCKETS_STATE_URL: a replay of that file alone knows the sockets from its first record. A replay that
 * knows them and sees no overlap takes it as the overlap's start (its SWAP was in a capture block that was lost).
 */
export const SOCKETS_OVERLAP_URL = "ws:overlap";
export const SOCKET_SWAP_URL = "ws:swap";
export const SOCKET_OLD_FRAME_URL = "ws:old";
/**
 * Since s-binframe, right before the frame record of a binary frame that is no UTF-8 (common/connection.ts
 * handlerThrew): its text there is the bytes with U+FFFD for what is no UTF-8, and the body is the decoder's error.
 * Replay hands that frame to the connection's frame fault as live did (its books resync), never reads it. Readers
 * before it ignore the event and read the U+FFFD text as a frame (as every reader did before s-bybleft).
 */
export const SOCKET_UNDECODABLE_URL = "ws:undecodable";
export const SOCKET_RETIRED_URL = "ws:retired";
export const SOCKET_BACK_URL = "ws:back";
/**
 * Since s-heldback, right after a SOCKET_BACK_URL (and the requests written with it) whose resubscribe of books the
 * old socket did not serve waits for the venue's request count (OKX: its hourly 480 used up on that socket) or, since
 * s-rd27a, for the pacing budget (Deribit's per-IP one; before, replay held such a book RESYNCING until its `ws:req`
 * seconds on where live had it LIVE from the old socket's stream); body: their topics, space-separated. Not written, that subscribe has no `ws:req` until it goes (up to an hour on), and
 * live takes the book's frames meanwhile (SUB_PENDING: the old socket may still stream its channel,
 * TopicState.streamedOn; a snapshot there makes it LIVE). Replay ends the book's hold here (a recorded unsubscribe
 * still out at the go-back: TopicState.replayUnsubscribing) and marks its subscribe held as live's: before, it held
 * the book RESYNCING until that `ws:req` where live had it LIVE. Readers before it ignore it as a socket event they do
 * not know (and keep that hold).
 */
export const SOCKET_BACK_HELD_URL = "ws:back-held";

/**
 * A subscribe or unsubscribe request written to the connection's socket (common/subscription-control.ts), recorded
 * since 2026-12-07 as this prefix and its JSON `[id, op, [topic, …]]` (body ""; a tagged subscribe naming no topic,
 * RequestProtocol.recordedTags, as `[tag, "subscribe", []]`: Coinbase's heartbeats), so replay matches the venue's answer
 * to the request as live did: a refusal halts the book it names (`subscribe_rejected`) where live halted it. Before,
 * requests were not recorded and replay ignored every answer (the book stayed LIVE until its stale time). Readers
 * before it count it as a skipped REST answer. An unsubscribe of a venue whose replay holds unsubscribed topics
 * (RequestProtocol.replayHoldsUnsubscribed) is recorded when it is asked for, even if it then waits for the pacing
 * budget (Deribit), as live ignores the topic's frames from there (since 2026-12-07; before, when written). Since
 * s-replaymark a subscribe naming books closed when it was written (queued for the pacing budget before their closure)
 * names them again in a fourth element, `[id, "subscribe", [topic, …], [topic, …]]`: replay leaves those closed
 * (readers before it ignore the element; INSTRUMENTS_CLOSED_URL right after closes them again there).
 */
export const SOCKET_REQUEST_URL_PREFIX = "ws:req ";

/**
 * Books of the connection closed because the venue's listing no longer names their instrument as trading (an answered
 * instrument query or a listed expiry: common/instrument-watch.ts, ConnectionLifecycle.retireAll), recorded since
 * s-reprec after the `ws:req` of the unsubscribe written with it, before the books halt (body: their topics, space-separated, TopicState.topic), so replay halts
 * them there as live did (`halted` / `instrument_closed`). Replay asks no instrument REST: before, a closure was not
 * replayed (a book refused then found delisted stayed `resyncing` where live had it halted). Their reopening needs no
 * record: its subscribe's `ws:req` brings them back. Since s-rd15a also right after a subscribe's `ws:req` naming
 * books closed while it waited for the pacing budget (written whole later, those still closed live: replay's recorded
 * subscribe would bring them back; ConnectionLifecycle.recordWritten; since s-replaymark that `ws:req` names them
 * still closed itself, and a reader since then finds them closed here already: no second HALTED told). Readers before it ignore it as a socket event they do not know
 * (ConnectionLifecycle.replaySocketEvent; readers older than socket events count it as a skipped REST answer).
 */
export const INSTRUMENTS_CLOSED_URL = "ws:closed";
/**
 * Closed books of the connection listed as trading again while the subscribe they had before their closure was still
 * unanswered (ConnectionLifecycle.activateAll), recorded since s-repleft (body: their topics, space-separated): live
 * writes no second subscribe then (it would be refused as already subscribed), that one's ack makes them active, so
 * no `ws:req` brings them back in replay. Replay subscribes them again here, as a recorded subscribe does
 * (SubscriptionControl.replayResubscribed): before, they stayed HALTED in replay where live had them LIVE on that
 * subscribe's snapshot. Readers before it ignore it as a socket event they do not know. Since 2026-12-07 also books
 * listed again while their closure's unsubscribe had not gone (held for the venue's request count, OKX's hour, or
 * refused as over the rate limit; since s-rd19c also waiting for the pacing budget): the venue still streams them, live takes their frames from their subscribe on, which
 * may itself wait for that count; replay takes them from here. Since s-rd19c also right before the INSTRUMENTS_CLOSED_URL
 * of books live reopened and closes again before any record told that reopening (their subscribe not written yet):
 * replay tells them HALTED again and counts the reopening, as live (ConnectionLifecycle.retireAll).
 */
export const INSTRUMENTS_REOPENED_URL = "ws:reopened";
/**
 * A capture file's head (app/capture-sockets.ts), since s-replaymark: the connection's books closed by their listing
 * when the file began, as its earlier files' INSTRUMENTS_CLOSED_URL, INSTRUMENTS_REOPENED_URL and subscribes left them
 * (body: their topics, space-separated; none: no record). Replay closes those it does not have closed
 * (ConnectionLifecycle.replayClosedSet), so a replay begun in that file shows them halted as live did; one begun
 * earlier has them closed already and nothing changes. Not a live closure: it decides no refusal held (a head can come
 * between a refusing frame and its `ws:back`). Readers before it ignore it as a socket event they do not know, but
 * for a replacement's refusal held there, which they take for the venue's (as at any such event).
 */
export const INSTRUMENTS_CLOSED_SET_URL = "ws:closedset";
/**
 * A capture file's head (app/capture-sockets.ts), since s-headask: the topics every request written on the
 * connection's sockets named since its last `ws:open` or `ws:close` (SOCKET_REQUEST_URL_PREFIX's third element, as
 * replay reads them: VenueConnection.replayAsked), one record per open connection whose open the recorder saw
 * (body: a JSON array of the names, `[]` when they named none, Coinbase's heartbeats; `null` when none was written
 * since: the next one begins the set). Replay takes them as the connection's asked topics
 * (ConnectionLifecycle.replaySocketEvent), so a replay begun in that file decides a frame of a topic none of them
 * named as live did (every book of the connection resyncs) instead of ignoring such frames until the connection's
 * next open or close; one begun earlier has the same set already. Readers before it ignore it as a socket event they
 * do not know, but for a replacement's refusal held there, which they take for the venue's (as at any such event).
 */
export const SOCKET_ASKED_URL = "ws:asked";
/**
 * OKX (okx/budget-wait.ts): recorded (`feeder record`, as a connection event, body: the topic) when a resync starts
 * waiting for the request budget, and when that wait is over (its restart follows at once: its requests, or a wait
 * again). Nothing is written
 * to the socket meanwhile, yet live ignores the book's frames: replay ignores them between the two as well
 * (okx/budget-wait.ts BudgetWaits.replaying). A reader before 2026-12-07 ignores them (an unknown socket event).
 */
export const BUDGET_WAIT_URL = "ws:wait";
export const BUDGET_WAITED_URL = "ws:waited";
/**
 * A file head's record (`feeder record`, app/capture-sockets.ts): the connection's topics whose resync waited for the
 * budget when the file began (body: space-separated), as its `ws:wait`s and what ended them left them, so a file
 * replayed alone ignores their frames as live did (before, it took them from its first record: a snapshot made the
 * book LIVE there, where live's stayed RESYNCING up to an hour). Like the head's other records it decides nothing else.
 */
export const BUDGET_WAIT_SET_URL = "ws:waitset";
/**
 * File heads' records (`feeder record`, app/capture-sockets.ts; since s-rd27a), per open connection, body: topics,
 * space-separated. `ws:unsubset`: the books a recorded unsubscribe still holds (its `ws:req` with no subscribe, reopening,
 * `ws:back-held`, close or new socket of the connection since: TopicState.replayUnsubscribing; written before the
 * head's `ws:state` / `ws:overlap`, where Bybit's replay ends a hold once answered, which a head cannot see: a Bybit
 * file alone ends them there, as before); `ws:back-heldset`: the books whose go-back
 * resubscribe `ws:back-held` named and no `ws:req` wrote since. A file begun inside either, replayed alone, marks them
 * as the replay of every file does: before, it took a held book's frames live ignored (a snapshot in flight, a channel
 * the old socket still streamed after a go-back, Deribit's unsubscribe waiting for the message budget: the book LIVE
 * there only) and judged a held subscribe's silence live did not. Like the head's other records they decide nothing
 * else; a reader before them ignores them, but for a refusal held there, as for `ws:closedset`.
 */
export const SOCKET_UNSUBSCRIBED_SET_URL = "ws:unsubset";
export const SOCKET_BACK_HELD_SET_URL = "ws:back-heldset";

/** True for a recorded connection event (every `ws:` pseudo-URL above) rather than a REST answer. */
export function isConnectionEventUrl(url: string): boolean {
  return url.startsWith("ws:");
}

/**
 * Options every adapter takes, filled by the app (tests override single fields). A venue's own options extend
 * this interface.
 */
export interface CommonAdapterOptions {
  log: Logger;
  /** REST client (tests pass one bound to the simulator). Defaults to the global fetch. */
  fetch?: typeof fetch;
  /**
   * The deadline clock in ms: heartbeats, pong/ack/handshake deadlines, staleness, resync and reconnect backoff,
   * connection age, connect and request budgets, REST weight windows and holds, instrument retry and reload intervals.
   * Defaults to monoEpochMs (core/clock.ts: monotonic, reads like epoch ms), so a step of the host's wall clock (NTP,
   * a VM resumed, `date -s`) neither drops every connection at once nor stretches a deadline. Tests pass their own
   * and jump it to make a deadline come; replay passes the capture's receive times (app/replay-clock.ts).
   */
  now?: () => number;
  /**
   * The wall clock in ms, for what is compared with the venue's own times or shown as a time of day: listed expiries
   * (delivery, exercise, delisting), OKX `upcChg` `effTime`, an HTTP-date `Retry-After` without a `Date` header,
   * Binance's weight minute, a connection's downSinceMs. Defaults to `now` when that is given (a test's one clock),
   * else Date.now.
   */
  wallNow?: () => number;
  /**
   * Replay: called with a stale round's time (ms, at or before the clock's) just before it runs, before the record
   * that brought the clock past it (ConnectionLifecycle.replayUntil): what that round changes happened then, not at
   * the record (`export --books` stamps its rows so).
   */
  replayRoundAt?: (atMs: number) => void;
  /** Jitter source in [0, 1). Defaults to Math.random. */
  random?: () => number;
  /** Called with every raw frame received, before parsing (feeder record). */
  onRawFrame?: RawFrameTap;
  /** Called with every REST response a book depends on (feeder record). */
  onRawRest?: RawRestTap;
  /**
   * This process's share (0 < share ≤ 1) of the venue's per-IP budgets: connects per window, outgoing
   * messages per IP, REST weight. Workers on one host pass 1 / workers, so together they stay within the limits.
   */
  budgetShare?: number;
  /**
   * This worker's index (0 ≤ index < workers) among those sharing the IP: where a share is below one event a window,
   * its events go in a slot of their own (common/budgets.ts splitBudget), so the workers neither add up past the
   * venue's limit nor all go at t = 0. Default 0.
   */
  budgetIndex?: number;
  /**
   * With workers: the supervisor's record of this worker slot's budget usage (common/budget-ledger.ts). The budgets
   * start from what the slot's previous worker spent and report what they spend, so a restart gets no fresh budget.
   */
  budgetLedger?: BudgetLedger;
  /**
   * A connection from which nothing at all (data, pong, ack) arrives for this long is dead: closed, its books
   * invalid (DISCONNECTED), reconnected. Default DEAD_CONNECTION_MS (7 s: found within 8 s) on every venue: the keepalive probes
   * an idle connection well before that.
   */
  deadConnectionMs?: number;
  /**
   * Replace a connection make-before-break once it is this old (no book leaves LIVE). Venues that close
   * connections at a fixed age set their own default (Binance 24 h); others never, unless set here.
   */
  maxConnectionAgeMs?: number;
  /**
   * A connection still not replaced this long after maxConnectionAgeMs (every replacement failed, or none could
   * start) takes the ordinary reconnect (its books DISCONNECTED, then resynced). Default PLANNED_AGE_GRACE_MS
   * (10 min: Binance's 24 h lifetime, its age limit being 23 h 50).
   */
  plannedAgeGraceMs?: number;
  /** A failed planned reconnect is tried again after reconnectBaseMs doubling to this (equal jitter). Default 5 min. */
  plannedRetryMaxMs?: number;
  /**
   * The first hold of every connect after a handshake answered 429, 418 or 403, by status (doubling while refused in
   * a row, to 10 min). Default CONNECT_HOLD_MS (common/connect-hold.ts: 10 s, 60 s, 60 s); tests shorten it.
   */
  connectHoldMs?: Readonly<Record<number, number>>;
  /** Re-check an instrument over REST after a venue reset or a price/qty that does not fit. Default true. */
  recheckInstruments?: boolean;
  /**
   * Start even when none of the symbols resolves (logged as an error, no connection opened). A worker or shard
   * sets it: its share may hold only bad symbols while the whole config has good ones. Default false: throw.
   */
  allowNoInstruments?: boolean;
  /**
   * Symbols left out at start are retried while running (common/late-instruments.ts): REST unreachable after
   * lateRetryBaseMs (5 s) doubling to lateRetryMaxMs (5 min); REST answered without the symbol every
   * listingRetryMs (5 min). Closed instruments (common/closed-schedule.ts) are asked for again 15 s doubling to
   * 1 min, never slower than listingRetryMs (so a test's short listingRetryMs shortens those too) unless their
   * queries fail in a row (backing off to 30 min). Tests shorten them.
   */
  lateRetryBaseMs?: number;
  lateRetryMaxMs?: number;
  listingRetryMs?: number;
  lateCheckMs?: number;
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
   * resolve is undefined (logged as an error naming it and why; not subscribed until it resolves while running, see
   * BookSink.onInstrumentResolved); throws when none resolves.
   */
  loadInstruments(): Promise<(Instrument | undefined)[]>;
  /** Opens connections and subscribes everything; returns when connections are initiated (not when books are live). */
  start(sink: BookSink): void;
  /** The app found the book bad (e.g. crossed after apply, checksum mismatch): resync just this book. */
  requestResync(index: number, reason: StatusReason): void;
  /** Replay instead of start: no connections; frames arrive through ingestFrame with their recorded receive times. */
  startReplay(sink: BookSink): void;
  /**
   * Replay: the capture's clock (the adapter's `now` in replay, app/replay-clock.ts) has reached `nowMs`, the next
   * record's receive time: the housekeeping due by then runs as live's did (a book silent past its stale time goes
   * STALE; nothing is sent). Called before each record. `rebase`: a time jump (a damage point): the clock starts again
   * at `nowMs`, either way, and no housekeeping runs for the time jumped over. Optional: an adapter without it never
   * goes stale in replay.
   */
  replayClockAt?(nowMs: number, rebase?: boolean): void;
  /** Feeds one recorded raw frame; false when no connection of that market exists. */
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean;
  /** Feeds one recorded REST response (see RawRestTap); false when the venue takes none. Optional. */
  ingestRest?(market: MarketName, connection: string, url: string, body: string, tsRecvUs: number): boolean;
  /**
   * Replay: a recorded connection event (url CONNECTION_OPENED_URL, CONNECTION_CLOSED_URL or a socket event,
   * SOCKETS_RECORDED_URL …). A close does what the live unplanned disconnect did to that connection's books
   * (RESYNCING / DISCONNECTED, then the normal resync on the next frames). An open invalidates, as that close would
   * have, a book still LIVE or STALE on the connection (its socket's close lost from the capture; live, no book is
   * LIVE at an open): ConnectionLifecycle.replayOpened, called by every adapter. The socket events let the venues
   * that follow them (OKX, Deribit, Bybit, Binance, Upbit and Bithumb) tell the connection's sockets apart as live
   * did, and the books a SOCKET_RETIRED_URL's or SOCKET_BACK_URL's `body` names leave LIVE as live's did (ConnectionLifecycle.replaySocketEvent;
   * Coinbase ignores them: a Coinbase connection never has two sockets). False when no connection of that name exists.
   * Optional: a venue without it ignores the events.
   */
  ingestConnectionEvent?(market: MarketName, connection: string, url: string, tsRecvUs: number, body?: string): boolean;
  /**
   * Replay: records of the capture were lost before the next one (a file that ended early or could not be read, with
   * another after it; a time jump): called before the books leave LIVE there (app Feeder.captureGap, export --books).
   * What the adapter matched by the capture's order is unknown past it: every venue forgets its requests still
   * unanswered and matches no answer naming no request until the connection's next `ws:open` or `ws:close`
   * (common ConnectionLifecycle.replayCaptureGap; Coinbase, whose answers carry no request id, its answer queue too).
   * Optional: a venue that matches nothing by order needs none.
   */
  replayCaptureGap?(): void;
  /**
   * Integrity hook, optional: the app calls it after every applied update of `index`, before publishing. NONE = the
   * book may be published; any other reason = it differs, or may differ, from the venue's (CHECKSUM_MISMATCH: OKX's
   * checksum; DEPTH_EXHAUSTED: a Binance side bounded by its snapshot's depth left empty): the update is not
   * published, the app marks the book RESYNCING with that reason and asks requestResync(index, reason). Venues
   * without such a check leave it out, so the app pays nothing for it.
   */
  verify?(index: number, book: BookView): StatusReason;
  stop(): Promise<void>;
  /**
   * Cold: the configured symbols still without an instrument, why, and when they are retried (status page,
   * /readyz), in subscription order; the first `limit` only when given (/readyz names no more, of 20,000). Optional:
   * without it the app reports the symbols that were unresolved at start.
   */
  unresolvedInstruments?(limit?: number): UnresolvedInstrument[];
  /**
   * Cold: adds how many unresolvedInstruments() lists per market to `into`, without building the list (/metrics'
   * count on every scrape). Optional: without it the app counts unresolvedInstruments()' list.
   */
  countUnresolved?(into: Map<string, number>): void;
  /**
   * Cold: books closed (HALTED / instrument_closed) past the expiry their listing gave, by subscription index, with
   * that expiry (ms): an expired future or option never trades again, so it is no readiness failure; /books shows
   * it. Optional: venues whose listings give no expiry leave it out.
   */
  expiredInstruments?(): ReadonlyMap<number, number>;
  /** Cold: counters for the status JSON (messages, bytes, parseErrors, gaps, resyncs, reconnects, …). */
  stats(): Record<string, number>;
  /** Cold: every venue counter and gauge as metric samples (Prometheus conventions). */
  metrics(): VenueMetric[];
  /** Cold: every connection the adapter opens (none when replaying), so /readyz can say which venue is down and why. */
  connections(): VenueConnectionState[];
}

/** The adapter's two clocks from its options (CommonAdapterOptions.now, wallNow). */
export function adapterClocks(opts: Pick<CommonAdapterOptions, "now" | "wallNow">): { now: () => number; wallNow: () => number } {
  return { now: opts.now ?? monoEpochMs, wallNow: opts.wallNow ?? opts.now ?? Date.now };
}
