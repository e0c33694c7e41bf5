/**
 * The subscriber's public shapes: options, the events it emits and their payloads, counters and per-stream
 * sequencing state. Re-exported by feed-subscriber.ts and index.ts. docs/wire-protocol.md §6 is the algorithm.
 * @module
 */
import type { BookState, Instrument, StatusReason } from "../core/types.ts";
import type { ReusableSha256 } from "../wire/auth.ts";
import type { WireDecodeError } from "../wire/decoder.ts";
import type { SubscriberBook } from "./subscriber-book.ts";

export interface GroupSpec {
  /** Multicast group to join; omit (with `bind`) for a unicast destination's receiver. */
  group?: string;
  port: number;
  /** Local interface address to join on. Defaults to "127.0.0.1". */
  iface?: string;
  /**
   * Unicast receive: the local IPv4 address to bind (a publisher destination lists this host's `address:port` in
   * `receivers`). Used only without `group`.
   */
  bind?: string;
}

/** Where and how to ask for lost datagrams again (docs/wire-protocol.md §11). */
export interface RetransmitOptions {
  /** The publisher's request server (publish.retransmit.listen). */
  host: string;
  port: number;
  /**
   * publish.source_id of the publisher: with workers, source s asks the server on port + (s − sourceIdBase), the
   * port each worker's server listens on. Default 0; an integer 0..65535 (the constructor throws otherwise).
   */
  sourceIdBase?: number;
  /** Without an answer this long, fall back to the refresh. Default 250 ms. */
  timeoutMs?: number;
  /** Datagrams held per stream while waiting; more makes it fall back. Default 8192. */
  maxHeldDatagrams?: number;
  /**
   * Datagrams held by all streams' requests together (`sub.heldDatagrams`); more makes the request holding the most
   * fall back (`retransmitOverCap`). Default 32 768 (≈ 46 MB of 1400-byte datagrams).
   */
  maxHeldDatagramsTotal?: number;
}

export interface FeedSubscriberOptions {
  groups: GroupSpec[];
  /** Ask the publisher's request server for lost ranges at once instead of waiting for the refresh. */
  retransmit?: RetransmitOptions;
  /** SO_RCVBUF request (the kernel doubles it). Defaults to 8 MiB. */
  recvBufferBytes?: number;
  /**
   * A (channel, source) silent this long is stale: its books are not `usable` until it speaks again. Default
   * (undefined): 3 × the heartbeat interval the publisher advertises in every header (no detection when it
   * advertises 0). 0 disables.
   */
  staleAfterMs?: number;
  /**
   * A datagram sent more than this ahead of its receipt (its send time against this host's wall clock: the publisher's
   * and this host's clocks are taken as synced) raises the highest send time its stream had, by which the numbering
   * going back is told from a copy (docs/wire-protocol.md §6.3), to its receipt plus this only, and is counted
   * (`sendTimesAhead`): without a key, one forged far ahead hid every going back after it (now: for at most this
   * long). A publisher whose clock runs further ahead than this (or this host's stepped back): its going back is still
   * seen, and its copies and reordered datagrams are taken for one too (books invalid until their refresh):
   * `sendTimesAhead` climbing says so. Default 5000; ≥ 0.
   */
  sendAheadMaxMs?: number;
  /** Largest datagram accepted; must be ≥ the publisher's maxDatagramBytes. Defaults to 1400. */
  maxDatagramBytes?: number;
  /** HMAC key (≥ 16 bytes): every datagram must carry a valid AUTHENTICATED trailer, else it is dropped (`bad_auth`). */
  authKey?: Uint8Array;
  /**
   * File holding the HMAC key (raw bytes or hex text), read at construction; the alternative to `authKey`. A FIFO is
   * read once (`<(pass show feed-key)`); one no process opens to write within 1 s, or a file over 1 MiB, makes the
   * constructor throw.
   */
  authKeyFile?: string;
  /**
   * The SHA-256 the HMAC check runs on (wire/auth.ts ReusableSha256). By default Bun's `CryptoHasher("sha256")`
   * under Bun (nothing allocated per datagram) and node:crypto's `createHmac` under Node (a few objects a
   * datagram); `null`: `createHmac` under Bun too. Same results either way.
   */
  authSha256?: ReusableSha256 | null;
  /**
   * Without a key: told once, at the first datagram read that carries an AUTHENTICATED trailer (unchecked): the
   * publisher signs and this subscriber was given no key, so nothing is verified though the feed is meant to be.
   * Fed by a keyed NATS reader (attachNats with authKey), which signs what it repacks, it would be told of those.
   * Called as a listener is, while that datagram is processed: one that throws is reported ('error'), and a datagram
   * it feeds to ingest() is processed after that one.
   */
  onSignedUnverified?: () => void;
  /**
   * The publisher's publish.snapshot_depth, needed only for a publisher from before 2026-12-06: later ones mark each
   * snapshot side they cut (cutFlags, docs/wire-protocol.md §4.4), and the mark decides. For an unmarked snapshot
   * with N > 0, a side of N levels is taken as cut: known only down to its last price, deltas below it are not
   * applied (the book stays the publisher's top levels exactly, fewer than N after removals until the next snapshot)
   * and a refresh is compared that far only. Not told, such a book applies deltas below the cut and can show,
   * usable, a level at a rank where the publisher has another until its next refresh repairs it. Unmarked sides of
   * 65,535 levels (the wire's most) are taken as cut always. Default 0.
   */
  snapshotDepth?: number;
  /**
   * Books (instrument ids) kept at most. Full, a new id takes the place of the book whose stream left the table or
   * has been silent longest (as for maxStreams; `booksEvicted`, 'evict' event); when every book's stream is live,
   * its messages are dropped and counted (`booksOverCap`). Default 10 000.
   */
  maxBooks?: number;
  /**
   * Streams (channel, source) tracked at most. Full, a new stream takes the place of the one silent longest — nothing
   * heard for staleAfterMs and 3 of its heartbeat intervals (0 or over 60 s counted as 60 s: the most a publisher
   * may use), since its last datagram or the last start() — whose books go with it (`streamsEvicted`, 'session' event
   * `evicted`); when none is silent (or staleAfterMs is 0), its datagrams are dropped (`streamsOverCap`). Default 1024.
   * An evicted stream's line is remembered: a late copy of what it had brought is a duplicate, not the stream again.
   */
  maxStreams?: number;
  /**
   * Levels per side of one book, one snapshot or one split delta. A snapshot announcing more is refused
   * (`levelsOverCap`). A book side growing beyond it keeps its best levels, known down to the last of them (as a
   * cut snapshot side: still exact and valid) when the cap is 65,535 or more, which every snapshot side fits; under
   * that the book is emptied and invalid until a snapshot within the cap. Default 65 535.
   */
  maxLevelsPerSide?: number;
  /**
   * Levels held in all unfinished snapshot and split-delta assemblies together; an assembly that would exceed it,
   * after the scratch books keep between assemblies and assemblies untouched for 10 s (`assembliesExpired`) are
   * taken back, is abandoned (`assemblyOverBudget`). Default 2 000 000 (32 MB of scratch).
   */
  maxAssemblyLevels?: number;
  /**
   * Levels in all books together, both sides (`sub.bookLevels`). A book whose growth takes them past it is emptied
   * and invalid until a snapshot that fits (`bookLevelsOverCap`), with the `update` of the delta or snapshot. Default 50 000 000 (at least 800 MB of levels;
   * 10 000 books 1000 deep a side are 20 000 000). Without it: maxBooks × 2 × maxLevelsPerSide.
   */
  maxBookLevels?: number;
}

export type UpdateKind = "delta" | "snapshot" | "status";

/** Passed to 'update' listeners. The object is reused: copy what you keep beyond the callback. */
export interface UpdateEvent {
  kind: UpdateKind;
  instrument: Instrument;
  book: SubscriberBook;
  /** Receive time minus the packet's send time, µs (cross-host: includes clock offset). */
  latencyUs: number;
  sendTimeUs: number;
  /** When the datagram was received, µs since the epoch on the wall clock (mono-clock.ts shownUs: follows a step). */
  recvTimeUs: number;
  channelId: number;
  sourceId: number;
  /** The snapshot was a periodic refresh. */
  refresh: boolean;
}
export interface GapEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  /** Channel sequence number expected next. */
  expected: number;
  /** Sequence number received instead. */
  got: number;
  /** Messages lost (got − expected). */
  lost: number;
  /** Books invalidated by this gap. */
  booksInvalidated: number;
}
export interface SessionEvent {
  /**
   * new: first datagram of a stream; restarted: a newer session on a known stream; ended: END_OF_SESSION;
   * reverted: the newer session was proved bogus by the old one's next datagrams (previousSessionId = the bogus one;
   * with `removed`, the stream had no session but undone ones and left the table: sessionId = the one its source went
   * back to, its books stay, back on that session; told once the source, its streams and books are all back);
   * evicted: the stream, silent (see maxStreams), left the full table (maxStreams) for a new one, its books with it.
   */
  kind: "new" | "restarted" | "ended" | "reverted" | "evicted";
  channelId: number;
  sourceId: number;
  sessionId: number;
  previousSessionId: number | undefined;
  /** The stream left the table (`evicted`, or `reverted` of a stream only undone sessions had); absent otherwise. */
  removed?: true;
}
export interface StatusEvent {
  book: SubscriberBook;
  state: BookState;
  reason: StatusReason;
  previousState: BookState;
  /** The reason before this event: a status event comes for a new state or, in the same state, a new reason. */
  previousReason: StatusReason;
}
export interface StaleEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  silentMs: number;
  /** Books whose last stream this is (now not `usable`). */
  books: number;
  /** stop() was called: the subscriber hears nothing now (not the stream's own silence; silentMs is the time since its last datagram). */
  stopped: boolean;
}
/**
 * A snapshot with the book's own instrSeq (a refresh, or the same event on another channel) differed from it and
 * replaced it, the book's levels having come from a snapshot and every one of its events since: a divergence. A book
 * never loaded (a late joiner's deltas) or that lost events of its own taking a snapshot is no repair.
 */
export interface RepairEvent {
  book: SubscriberBook;
  instrSeq: number;
  refresh: boolean;
  /** The levels differed (else only the state or reason did). */
  levelsDiffered: boolean;
  channelId: number;
  sourceId: number;
}
/** A newer publisher session took over an instrument: the book from the older session is dropped (invalid, emptied of sequence). */
export interface SupersedeEvent {
  book: SubscriberBook;
  previousSessionId: number;
  sessionId: number;
  channelId: number;
  sourceId: number;
}
/**
 * A full book table (maxBooks) or stream table (maxStreams) made room for a new id: the book, whose stream was
 * silent longest (or had left the table), was removed. It is emptied, invalid and stale for good; a later message
 * for its instrument id makes a new book.
 */
export interface EvictEvent {
  book: SubscriberBook;
  /** The stream that last carried it (−1: none in the table). */
  channelId: number;
  sourceId: number;
}
/** The instrument's exponents changed: the book was emptied (old mantissas are never shown in new units). */
export interface ExponentEvent {
  book: SubscriberBook;
  previousPriceExp: number;
  previousQtyExp: number;
  priceExp: number;
  qtyExp: number;
}
export interface SubscriberErrorEvent {
  /**
   * A WireDecodeError for a datagram that failed the decode checks (see its `code`). A plain Error for the rest: a
   * retransmission reply from an address not asked, and a RETRANSMIT datagram on a group or bind socket (both dropped,
   * counted in retransmitRejected; the first at once, then at most one per 5 s with the count since); a control packet
   * on the request socket that is no reply; two publishers sharing a source id; a snapshot refused for listing a
   * price twice (snapshotsRepeatingPrice: at once, then at most one per 5 s); a socket's or a listener's failure.
   */
  error: WireDecodeError | Error;
  /**
   * "address:port" of the sender when known; else what it concerns: "listener", "retransmit" (the request socket's
   * failure), "channel C source S" (a shared source id, a snapshot repeating a price), "" (a group or bind socket's failure).
   */
  from: string;
}

export interface FeedSubscriberEvents {
  update: (e: UpdateEvent) => void;
  gap: (e: GapEvent) => void;
  session: (e: SessionEvent) => void;
  status: (e: StatusEvent) => void;
  stale: (e: StaleEvent) => void;
  repair: (e: RepairEvent) => void;
  supersede: (e: SupersedeEvent) => void;
  evict: (e: EvictEvent) => void;
  exponent: (e: ExponentEvent) => void;
  definition: (book: SubscriberBook) => void;
  error: (e: SubscriberErrorEvent) => void;
}

/** Every drop and every recovery has its counter (docs/wire-protocol.md §6 names when each moves). */
export interface SubscriberCounters {
  datagrams: number;
  bytes: number;
  heartbeats: number;
  messages: number;
  /** Datagrams rejected by the decoder (all reasons); `rejected` splits them by DecodeErrorCode name. */
  errors: number;
  /** Rejected datagrams by reason: truncated, oversized, bad_magic, unknown_version, bad_checksum, bad_auth, … */
  rejected: Record<string, number>;
  /** Channel gaps detected (events), and messages lost in them. */
  gaps: number;
  lostMessages: number;
  /** Datagrams (or their leading messages) already received: channel sequence behind the expected one. */
  duplicates: number;
  /** Datagrams behind the expected sequence that continue the line before a jump (not applied; see seqJumpsReverted). */
  lateDatagrams: number;
  /** Channel sequence jumps undone: the datagrams after the jump continued the old line, so the jump was bogus. */
  seqJumpsReverted: number;
  /**
   * A stream's numbering went back within its session: a datagram (partly) behind the line sent after every one the
   * stream had (no copy of one it had); its books were invalidated (once until the line goes on).
   */
  seqLinesBack: number;
  /**
   * Datagrams of a stream sent more than sendAheadMaxMs ahead of their receipt (a forged send time, no key, or a
   * publisher clock ahead of this host's): the mark seqLinesBack is judged by rose to their receipt plus that only. Each
   * counted once, when received (a copy, a RETRANSMIT answer too; a held datagram replayed into its gap not again).
   */
  sendTimesAhead: number;
  /** Datagrams of an older session than the newest seen on their stream (never applied). */
  oldSessionDatagrams: number;
  /** Book messages and definitions of an older session than the newest seen for their instrument. */
  oldSessionMessages: number;
  /** Books taken over by a newer publisher session ('supersede' events). */
  superseded: number;
  /** Newer sessions undone: datagrams of the session they replaced kept coming before theirs did (a bogus header). */
  sessionsReverted: number;
  /**
   * Streams still sending an older session of their source long after a newer one took over (SHARED_SOURCE_AFTER_MS):
   * two live publisher processes with one source id, which a subscriber cannot tell apart. Reported as an 'error'.
   */
  sharedSourceIds: number;
  /** Messages with a template id this subscriber does not know (skipped). */
  unknownTemplates: number;
  /** Book events whose instrSeq was already applied (the same event on another channel, or a repeat). */
  duplicateEvents: number;
  /** Per-instrument instrSeq jumps (lost events of one instrument): the book becomes invalid. */
  instrSeqJumps: number;
  /** instrSeq went backwards on the stream that set it: the book's sequence was bogus and is forgotten. */
  instrSeqBackwards: number;
  /** Snapshots older than a valid book (another channel lagging), ignored. */
  olderSnapshots: number;
  /**
   * Snapshots older than the highest instrSeq an invalid book applied (a lagging channel, a reordered or late
   * refresh), refused: loaded, they showed the book usable behind what it had already applied. It stays invalid
   * until a current one.
   */
  staleSnapshots: number;
  /**
   * Snapshot chunk sets abandoned (missing or out-of-order chunk, chunks that disagree, or over a cap), and each chunk
   * dropped of a set not assembled (its chunk 0 lost, or an older set's while a newer one is under way): such a set
   * counts once per chunk. Copies of a set already applied are duplicateEvents.
   */
  snapshotsAbandoned: number;
  /**
   * Complete snapshots refused because a side lists a price twice, which no publisher sends (a corrupt or forged
   * datagram): the book is emptied and invalid until its next good snapshot; said in an 'error' (at once, then at most
   * one per 5 s with the count since).
   */
  snapshotsRepeatingPrice: number;
  /** Split-delta parts out of order (index ahead of the next expected one; the other channel's copy may fill in). */
  partsOutOfOrder: number;
  /** Unfinished split deltas dropped because a later event or snapshot of the instrument arrived. */
  partialEventsDiscarded: number;
  /** Books whose chain from a snapshot was whole replaced by a snapshot at their own instrSeq that differed ('repair' events). */
  repairs: number;
  /** Exponent changes ('exponent' events): the book was emptied. */
  exponentChanges: number;
  /** Messages for new instrument ids beyond maxBooks, dropped (every book's stream live: none to evict). */
  booksOverCap: number;
  /** Datagrams of new streams beyond maxStreams, dropped (every stream live: none to evict). */
  streamsOverCap: number;
  /**
   * Streams and books removed from a full table for a new one: a stream the stale check found silent (silent
   * longest first), a book whose stream left the table or was silent longest ('session' `evicted`, 'evict' events).
   */
  streamsEvicted: number;
  booksEvicted: number;
  /** Snapshots over maxLevelsPerSide (refused) and book sides over it (kept to their best levels, or emptied: the option). */
  levelsOverCap: number;
  /** Assemblies abandoned because all unfinished ones together would exceed maxAssemblyLevels. */
  assemblyOverBudget: number;
  /**
   * Unfinished snapshot and split-delta assemblies untouched for 10 s, dropped when another needed their room in
   * maxAssemblyLevels (a dropped split delta leaves its book invalid until its next snapshot).
   */
  assembliesExpired: number;
  /** Books emptied (invalid) because their growth took all books together past maxBookLevels. */
  bookLevelsOverCap: number;
  /** Exceptions thrown by event listeners (caught and reported as 'error'). */
  listenerErrors: number;
  /** Retransmission (options.retransmit): ranges asked for, recovered, and fallen back to the refresh. */
  retransmitRequests: number;
  retransmitRecovered: number;
  retransmitFallbacks: number;
  /** Of the fallbacks: the server said the range is gone or refused (OUT_OF_RANGE, THROTTLED); no answer in time. */
  retransmitRefused: number;
  retransmitTimeouts: number;
  /** Of the fallbacks: too many datagrams waited (retransmit.maxHeldDatagrams on the stream, maxHeldDatagramsTotal on all). */
  retransmitOverCap: number;
  /**
   * RETRANSMIT datagrams applied into a gap, and dropped (not asked for, not the gap's next, no retransmit option, or
   * received on a group or bind socket, where no server answers: also said in an 'error', at most one per 5 s);
   * retransmitRejected also counts the request socket's control packets that end no request (damaged, not a reply, or
   * a reply for no open request: late, its request already ended, or of another range), and anything on that socket
   * from an address the requests did not go to (also said in an 'error', at most one per 5 s).
   */
  retransmitDatagrams: number;
  retransmitRejected: number;
  /**
   * Rounds of the stale check and of the retransmission timeouts that judged nothing because they ran right after a
   * stall of this thread (a GC pause, a slow listener): the datagrams and answers that arrived meanwhile were still
   * unread. The next round judges.
   */
  stalledRounds: number;
  /**
   * Datagrams a listener fed to ingest() while MAX_FED_DATAGRAMS already waited their turn (fed meanwhile): dropped,
   * a loss like the network's (the stream's next datagram is a gap; its books invalid until recovered).
   */
  fedOverCap: number;
}

export interface StreamInfo {
  channelId: number;
  sourceId: number;
  sessionId: number;
  /** When the stream's session started, µs since the epoch (from the header). */
  sessionStartUs: number;
  /** The publisher's advertised heartbeat interval, ms (0 = none). */
  heartbeatIntervalMs: number;
  nextSeq: number;
  /** When its last datagram was read, epoch ms on the monotonic clock (mono-clock.ts: a wall-clock step moves it not). */
  lastRecvMs: number;
  stale: boolean;
  ended: boolean;
}
