// HOT PATH: no allocation (publishDelta, flush; the rest is cold), with an auth key too (a reused Bun.CryptoHasher).
/**
 * Publishes books as wire v3 datagrams to multicast destinations (docs/wire-protocol.md): the publisher's session
 * (id, start, source), which book goes to which destination, encoding each event into the destinations' packers,
 * and when they are flushed. The rest is in files of their own:
 * - publish-channel.ts: one destination (channel) with its own Bun.udpSocket, sequence space and packer, and the
 *   send path from sealed datagrams to the kernel (multicast: a connected socket; unicast `receivers`: every
 *   datagram to each receiver in the same sendMany); send-batch.ts: one sendMany and what the kernel did not take
 *   (resent, or dropped and counted: sendErrors, and per destination for /readyz: sendFailures), shared with the
 *   retransmission server.
 * - publisher-recovery.ts: heartbeats on idle channels and the periodic refresh (definitions + snapshots of every
 *   book, each once per snapshot_interval_ms, spread evenly), so late joiners and subscribers that lost datagrams
 *   recover without any request.
 * - publish* only append messages to the channels' pending datagrams; one flush per event-loop turn
 *   (core/clock.ts armTurnEnd: one setImmediate per turn, shared with the receipt stamp) hands them to the kernel
 *   with sendMany, so a turn's messages share as few datagrams as fit.
 * - Every datagram carries the session start, the heartbeat interval and a CRC-32; with publish.auth_key_file
 *   an HMAC trailer too (ChannelPacker.seal, once per flush).
 * - With publish.retransmit, every sent data datagram is copied into its channel's RetransmitRing after the
 *   sendMany (preallocated: no allocation), and a RetransmitServer on its own socket answers re-requests.
 * Publishing never blocks and never calls back into a book builder.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import type { ChangeSet } from "../core/change-set.ts";
import { addTurnEndHook, armTurnEnd, monoMs, nowUs, nowUsAtMonoMs } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import { silentLogger, type Logger } from "../core/log.ts";
import { BookState, StatusReason, type Instrument } from "../core/types.ts";
import type { DestinationRule, PublishConfig } from "../config/types.ts";
import { DatagramAuth, readAuthKeyFile } from "../wire/auth.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../wire/encoder.ts";
import { MIN_PUBLISH_DATAGRAM_BYTES, PKT_FLAG_END_OF_SESSION } from "../wire/layout.ts";
import { ChannelPacker } from "../wire/packer.ts";
import { isMulticastV4 } from "./multicast.ts";
import { destinationText, PublishChannel, type DropFilter, type SendFailure } from "./publish-channel.ts";
import { PublisherRecovery, type PublishedBooks } from "./publisher-recovery.ts";
import { RetransmitRing } from "./retransmit-ring.ts";
import { RetransmitServer, type RetransmitServerCounters } from "./retransmit-server.ts";
import type { SendCounters } from "./send-batch.ts";

export { MAX_DATAGRAMS_PER_SEND, type SendFailure } from "./publish-channel.ts";
export { REFRESH_TICK_MS } from "./publisher-recovery.ts";

export interface FeedPublisherOptions {
  publish: PublishConfig;
  /**
   * Added to publish.source_id for the sourceId in every packet header (each source has its own sequence space
   * per channel): a worker passes its number (worker index + 1), a single process nothing (0).
   */
  sourceId?: number;
  /** HMAC key instead of publish.auth_key_file (read once by a supervisor for all its workers; tests). */
  authKey?: Uint8Array;
  /** Session start in µs since the epoch (sessionStartNs in every header); now unless given (tests). */
  sessionStartUs?: number;
  log?: Logger;
  /** Random non-zero u32 per start unless given (tests). */
  sessionId?: number;
  /** Test hook: return true to drop (not send) a datagram (counted as dropped on purpose). */
  dropFilter?: DropFilter;
  /**
   * Observes, per published delta or snapshot event, µs from the frame's local receipt (view.tsRecvUs) to the end
   * of the flush that handed its datagrams to the kernel. The Feeder passes its receiptToSend histogram. Not observed:
   * an event published before start() (sent by start(): the wait is the start-up's, not the send path's; until
   * 2026-12-06 it was counted as time to send), one of a book that matches no destination (nothing is sent), and
   * one whose flush had the kernel take no datagram of any of its destinations (skipped in a route pause, refused:
   * PublishChannel.sentNone; until 2026-12-07 counted as sent).
   */
  receiptToSend?: { observe(us: number): void };
  /**
   * A registered book's periodic refresh threw (its definition or snapshot could not be encoded): nothing of it was
   * sent, the other books' refreshes went on. The Feeder marks that book RESYNCING / parse_error and resyncs it;
   * without this, the publisher logs it (rate-limited). Called from the refresh timer.
   */
  onRefreshFailed?: (view: BookView, error: unknown) => void;
}

/** datagrams, bytes and sendErrors (SendCounters) over every destination: what the kernel took, and what was lost. */
export interface PublisherCounters extends SendCounters {
  /** Datagrams the test hook dropped. */
  droppedOnPurpose: number;
  /** Messages encoded (a split delta or a chunked snapshot counts each message). */
  messages: number;
}

/**
 * A destination is reported failing (sendFailures, /readyz) while a refusal is at most this many heartbeat
 * intervals old: a failing destination still refuses at least its heartbeat once per interval.
 */
export const SEND_FAILURE_HEARTBEATS = 3;

/** True when the rule matches the instrument ("*" = any). */
export function ruleMatches(rule: DestinationRule, instrument: Instrument): boolean {
  if (rule.venue !== "*" && rule.venue !== instrument.venue) return false;
  if (rule.market !== "*" && rule.market !== instrument.market) return false;
  return rule.symbols.includes("*") || rule.symbols.includes(instrument.symbol);
}

/** Every channel's messages since its mark() dropped (an encoder threw halfway through one book's messages). Cold. */
export function rewindAll(chans: readonly PublishChannel[]): void {
  for (let i = 0; i < chans.length; i++) chans[i].packer.rewind();
}

function randomSessionId(): number {
  const a = new Uint32Array(1);
  while (a[0] === 0) crypto.getRandomValues(a);
  return a[0]!;
}

export class FeedPublisher {
  readonly sessionId: number;
  readonly sessionStartUs: number;
  readonly sourceId: number;
  /** True when every datagram carries an HMAC trailer (publish.auth_key_file). */
  readonly authenticated: boolean;
  readonly counters: PublisherCounters = { datagrams: 0, bytes: 0, sendErrors: 0, droppedOnPurpose: 0, messages: 0 };
  private readonly publish: PublishConfig;
  private readonly log: Logger;
  private readonly receiptToSend: FeedPublisherOptions["receiptToSend"];
  /** tsRecvUs and handle of the events waiting for the next flush (only with receiptToSend); grow by doubling (cold). */
  private pendingRecvUs = new Float64Array(256);
  private pendingHandles = new Int32Array(256);
  private pendingCount = 0;
  private readonly channels: PublishChannel[];
  /** Registered books by handle (register): view, destinations, definition. */
  private readonly books: PublishedBooks = { views: [], channels: [], defs: [] };
  /**
   * Handle by instrumentId (register's lookup for an instrument change). A venue's books are registered in one turn:
   * a search through every earlier book made that turn quadratic (20,000 books: seconds of a blocked thread at start).
   */
  private readonly handleById = new Map<number, number>();
  /** publishBareStatus's view, reused (no book behind it: no levels). */
  private readonly bareStatus = new BareStatusView();
  /** books.channels, one load nearer for publish* (HOT PATH). */
  private readonly handleChannels = this.books.channels;
  private readonly recovery: PublisherRecovery;
  private readonly turnEndBound: () => void;
  private removeTurnEndHook: (() => void) | undefined;
  private flushScheduled = false;
  /** open() succeeded: the sockets are bound (closed again by stop()). */
  private opened = false;
  /** The open() under way: a second call shares it (two would each bind, the first's sockets left open for good). */
  private opening: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private readonly auth: DatagramAuth | undefined;
  private readonly portOffset: number;
  private retransmitServer: RetransmitServer | undefined;

  constructor(opts: FeedPublisherOptions) {
    this.publish = opts.publish;
    this.log = opts.log ?? silentLogger;
    this.receiptToSend = opts.receiptToSend;
    this.sourceId = (this.publish.sourceId ?? 0) + (opts.sourceId ?? 0);
    if (!(Number.isInteger(this.sourceId) && this.sourceId >= 0 && this.sourceId <= 0xffff)) {
      throw new RangeError(`sourceId ${this.sourceId} (publish.source_id + worker number) outside 0..65535`);
    }
    // The configuration refuses less; checked here too, for a PublishConfig built otherwise: with less room a long
    // definition threw in register() after its book was added, and then on every refresh tick (from a timer: the end
    // of the process).
    if (!(this.publish.maxDatagramBytes >= MIN_PUBLISH_DATAGRAM_BYTES)) {
      throw new RangeError(
        `publish.max_datagram_bytes ${this.publish.maxDatagramBytes} is below ${MIN_PUBLISH_DATAGRAM_BYTES}, the smallest datagram that holds every instrument definition`,
      );
    }
    this.sessionId = opts.sessionId !== undefined ? opts.sessionId >>> 0 : randomSessionId();
    if (this.sessionId === 0) throw new RangeError("sessionId must be non-zero");
    this.sessionStartUs = opts.sessionStartUs ?? nowUs();
    let auth: DatagramAuth | undefined;
    if (opts.authKey !== undefined) {
      auth = new DatagramAuth(opts.authKey, new Bun.CryptoHasher("sha256"));
    } else if (this.publish.authKeyFile !== undefined) {
      try {
        auth = new DatagramAuth(readAuthKeyFile(this.publish.authKeyFile, "publish.auth_key_file"), new Bun.CryptoHasher("sha256"));
      } catch (err) {
        throw new ConfigError([(err as Error).message]); // a bad key file is a configuration problem (exit 2)
      }
    }
    this.authenticated = auth !== undefined;
    this.auth = auth;
    this.portOffset = opts.sourceId ?? 0;
    const retx = this.publish.retransmit;
    const packerOptions = { sessionStartUs: this.sessionStartUs, heartbeatIntervalMs: this.publish.heartbeatIntervalMs, auth };
    this.channels = this.publish.destinations.map((dest) => {
      if (dest.receivers !== undefined) {
        if (dest.receivers.length === 0) throw new RangeError(`destination ${dest.name}: a unicast destination needs at least one receiver`);
      } else if (dest.group === undefined || !isMulticastV4(dest.group)) {
        throw new RangeError(`destination ${dest.name}: ${dest.group} is not an IPv4 multicast group`);
      }
      return new PublishChannel(
        dest,
        new ChannelPacker(this.publish.maxDatagramBytes, dest.channelId, this.sourceId, this.sessionId, packerOptions),
        retx !== undefined ? new RetransmitRing(retx.ringBytes, this.publish.maxDatagramBytes) : undefined,
        this.counters,
        opts.dropFilter,
        this.log,
      );
    });
    this.recovery = new PublisherRecovery(this.publish, this.channels, this.books, this.counters, () => this.flush(), this.log, opts.onRefreshFailed);
    this.turnEndBound = () => this.onTurnEnd();
  }

  /**
   * Opens one socket per destination (interface + TTL verified) and binds the retransmission server, sending
   * nothing: the Feeder calls it before its venues' REST, so a start that cannot bind (a port held) costs no REST.
   * On a failure nothing stays open (a later call tries again). Calls while one is under way share it. A stop()
   * meanwhile wins: what was still being bound is closed as it comes, and this resolves with nothing open. After
   * stop() it throws (a stopped publisher does not open again; a new one does). start() opens, if this has not.
   */
  async open(): Promise<void> {
    if (this.stopped) throw new Error("publisher: open() after stop(): a stopped publisher does not open again; create a new one");
    if (this.opened) return;
    this.opening ??= this.bind().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async bind(): Promise<void> {
    // After each await: a stop() that came meanwhile closed what was open then, not what this goes on to bind.
    // Before, those sockets (and the retransmission server's port) stayed open for good: stop() does not run twice.
    const stoppedMeanwhile = () => {
      if (this.stopped) this.closeSockets();
      return this.stopped;
    };
    try {
      for (const ch of this.channels) {
        await ch.open();
        if (stoppedMeanwhile()) return;
      }
      const retx = this.publish.retransmit;
      if (retx !== undefined) {
        const rings = new Map<number, RetransmitRing>();
        for (const ch of this.channels) rings.set(ch.dest.channelId, ch.ring!);
        const server = new RetransmitServer({
          config: retx,
          portOffset: this.portOffset,
          rings,
          sourceId: this.sourceId,
          sessionId: this.sessionId,
          auth: this.auth,
          log: this.log,
        });
        this.retransmitServer = server;
        await server.start();
        // Closed by this reference: a stop() during start() let go of this.retransmitServer while its socket was
        // not bound yet (before, that port stayed held, and re-requests answered, after the END_OF_SESSION).
        if (this.stopped) server.stop();
        if (stoppedMeanwhile()) return;
      }
    } catch (err) {
      this.closeSockets();
      throw err;
    }
    this.opened = true;
  }

  /** The destinations' sockets and the retransmission server, closed (each may be open or not). */
  private closeSockets(): void {
    for (const ch of this.channels) ch.close();
    this.retransmitServer?.stop();
    this.retransmitServer = undefined;
  }

  /**
   * Opens (open()) and starts the heartbeat and refresh timers; sends what was registered before. After stop() it
   * throws, as open() (before, it bound the sockets again and sent heartbeats for a publisher that had ended its
   * session); a stop() while it opens leaves it not started.
   */
  async start(): Promise<void> {
    if (this.started) return;
    await this.open();
    if (this.started || this.stopped) return; // another start() came first, or a stop() while opening
    this.started = true;
    this.removeTurnEndHook = addTurnEndHook(this.turnEndBound);
    this.recovery.start();
    this.log.info("publisher started", {
      sessionId: this.sessionId,
      sessionStartUs: this.sessionStartUs,
      sourceId: this.sourceId,
      authenticated: this.authenticated,
      destinations: this.channels.map((c) => `${c.dest.name}=${destinationText(c.dest)}/ch${c.dest.channelId}@${c.dest.iface}`),
    });
    this.flush(); // anything registered before start
  }

  /**
   * Routes the instrument to every matching destination and queues its InstrumentDefinition. Returns a handle.
   * Registering an instrumentId again (instrument changed: new exponents, new builder) replaces the view and
   * definition behind the existing handle, so refreshes never repeat a stale book, and returns that handle.
   * The new definition is queued at once, so on every channel it precedes any book message at the new exponents
   * (the caller's status and the snapshot that makes the book valid again): docs/wire-protocol.md §5.8.
   * After stop() the book is still recorded (its handle as before) but nothing is packed or counted, as publish*.
   */
  register(instrument: Instrument, view: BookView): number {
    const def = new EncodedDefinition(instrument);
    const chans = this.channels.filter((ch) => ruleMatches(ch.dest.match, instrument));
    const books = this.books;
    const instrumentId = instrument.instrumentId;
    let handle = this.handleById.get(instrumentId);
    if (handle !== undefined) {
      books.views[handle] = view;
      books.channels[handle] = chans;
      books.defs[handle] = def;
    } else {
      handle = books.views.length;
      books.views.push(view);
      books.channels.push(chans);
      books.defs.push(def);
      this.handleById.set(instrumentId, handle);
    }
    // Before, packed after stop() too: messages counted that were never sent, left in the packers for good.
    if (this.stopped) return handle;
    if (chans.length === 0) this.log.warn("instrument matches no destination; not published", { symbol: instrument.symbol });
    for (const ch of chans) packInstrumentDefinition(ch.packer, def, false);
    this.counters.messages += chans.length;
    this.schedule();
    return handle;
  }

  /**
   * HOT PATH: appends the changed levels of one book event to every destination of the handle. An encoder that
   * throws (a broken view) leaves nothing of this event in any packer (ChannelPacker.mark / rewind) and rethrows:
   * the caller contains it to the book (Feeder: RESYNCING / parse_error).
   */
  publishDelta(handle: number, view: BookView, changes: ChangeSet): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    for (let i = 0; i < chans.length; i++) chans[i].packer.mark();
    // Counted once all are packed: a throw on a later destination takes the earlier ones' messages back out too.
    let messages = 0;
    try {
      for (let i = 0; i < chans.length; i++) messages += packBookDelta(chans[i].packer, view, changes);
    } catch (err) {
      rewindAll(chans);
      throw err;
    }
    this.counters.messages += messages;
    if (this.receiptToSend !== undefined && this.started && chans.length > 0) this.notePending(handle, view.tsRecvUs);
    this.schedule();
  }

  /** The full book (or its top publish.snapshotDepth) after a venue snapshot; instrSeq as the view has it. */
  publishSnapshot(handle: number, view: BookView): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    const depth = this.publish.snapshotDepth;
    for (let i = 0; i < chans.length; i++) chans[i].packer.mark();
    let messages = 0;
    try {
      for (let i = 0; i < chans.length; i++) messages += packBookSnapshot(chans[i].packer, view, depth, false);
    } catch (err) {
      rewindAll(chans); // as publishDelta
      throw err;
    }
    this.counters.messages += messages;
    if (this.receiptToSend !== undefined && this.started && chans.length > 0) this.notePending(handle, view.tsRecvUs);
    this.schedule();
  }

  /** State and reason from the view. */
  publishStatus(handle: number, view: BookView): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    for (let i = 0; i < chans.length; i++) chans[i].packer.mark();
    try {
      for (let i = 0; i < chans.length; i++) packBookStatus(chans[i].packer, view);
    } catch (err) {
      rewindAll(chans); // as publishDelta
      throw err;
    }
    this.counters.messages += chans.length;
    this.schedule();
  }

  /**
   * A status that reads nothing of the book: for when publishStatus threw on a broken view (the Feeder's
   * publishStatusContained). Instrument and exponents from the registered definition, the given state, reason and
   * instrSeq; venueSeq and the three times 0 (unknown). Subscribers see the state and stop showing the book usable.
   * Cold.
   */
  publishBareStatus(handle: number, state: BookState, reason: StatusReason, instrSeq: number): void {
    const bare = this.bareStatus;
    bare.instrument = this.books.defs[handle]!.instrument;
    bare.state = state;
    bare.reason = reason;
    bare.instrSeq = instrSeq;
    this.publishStatus(handle, bare);
  }

  /** Sends every pending datagram of every channel (PublishChannel.flush: sealed, then sendMany). */
  flush(): void {
    if (!this.started) return;
    const channels = this.channels;
    let sendTimeUs = -1;
    // The monotonic time read after the last channel's send: the flush's end for observePending (no read of its own).
    let sentMonoMs = -1;
    for (let c = 0; c < channels.length; c++) {
      const ch = channels[c];
      if (ch.packer.count === 0 || ch.socket === undefined) {
        ch.passFlush();
        continue;
      }
      if (sendTimeUs < 0) sendTimeUs = nowUs();
      sentMonoMs = ch.flush(sendTimeUs);
    }
    if (this.pendingCount > 0) this.observePending(sentMonoMs < 0 ? nowUs() : nowUsAtMonoMs(sentMonoMs));
  }

  /**
   * Flushes, sends an END_OF_SESSION heartbeat on every channel and closes the sockets. A destination paused for a
   * lost route (publish-channel.ts) is tried again for these, pause or not.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.recovery.stop();
    if (this.started) {
      for (const ch of this.channels) ch.tryNextSend(); // a destination paused for a lost route: its route may be back
      this.flush();
      for (const ch of this.channels) ch.packer.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
      this.flush();
    }
    this.closeSockets(); // an open() under way closes what it binds after this (bind)
    this.opened = false;
    this.started = false;
    this.removeTurnEndHook?.();
    this.removeTurnEndHook = undefined;
    this.log.info("publisher stopped", { sessionId: this.sessionId, ...this.counters });
  }

  /** Sends definitions and refresh snapshots of every registered book now (tests, operator request); nothing after stop(). */
  refreshAll(): void {
    if (this.stopped) return; // as publish*: packed, nothing of it would be sent
    this.recovery.refreshAll();
  }

  /** Where the retransmission server listens (from open() to stop()), undefined without publish.retransmit. */
  retransmitAddress(): { host: string; port: number } | undefined {
    const s = this.retransmitServer;
    return s === undefined ? undefined : { host: s.host, port: s.port };
  }

  /** The retransmission server's counters (undefined without publish.retransmit, or before open() and after stop()). */
  get retransmitCounters(): RetransmitServerCounters | undefined {
    return this.retransmitServer?.counters;
  }

  /**
   * What each channel's retransmit ring holds (publish.retransmit; empty without it): datagrams, and messages by
   * sequence number from the oldest held to the next, i.e. how far back a gap can still be repaired. Cold (/metrics).
   */
  retransmitHistory(): { channel: string; datagrams: number; messages: number }[] {
    const out: { channel: string; datagrams: number; messages: number }[] = [];
    for (const ch of this.channels) {
      const ring = ch.ring;
      if (ring === undefined) continue;
      out.push({ channel: ch.dest.name, datagrams: ring.size, messages: ring.size === 0 ? 0 : ring.nextSeq - ring.firstSeq });
    }
    return out;
  }

  /** Datagrams each destination did not get through since start (PublishChannel.sendErrors), by name: /metrics. Cold. */
  destinationSendErrors(): { destination: string; sendErrors: number }[] {
    return this.channels.map((ch) => ({ destination: ch.dest.name, sendErrors: ch.sendErrors }));
  }

  /** Channel ids and their next sequence numbers (diagnostics, /status). */
  channelInfo(): { name: string; channelId: number; group: string; port: number; nextSeq: number; instruments: number }[] {
    return this.channels.map((ch) => ({
      name: ch.dest.name,
      channelId: ch.dest.channelId,
      group: ch.dest.group ?? destinationText(ch.dest),
      port: ch.dest.port,
      nextSeq: ch.packer.nextSeq,
      instruments: this.books.channels.filter((cs) => cs.includes(ch)).length,
    }));
  }

  /**
   * Destinations with a refused datagram in the last SEND_FAILURE_HEARTBEATS heartbeat intervals (at least 1 s),
   * for /readyz: their subscribers see gaps, or nothing. On the monotonic clock: a wall clock stepped back kept a
   * destination that stopped failing "failing" (/readyz 503) for the step's length. Cold.
   */
  sendFailures(nowMonoMs: number = monoMs()): SendFailure[] {
    const windowMs = Math.max(1000, SEND_FAILURE_HEARTBEATS * this.publish.heartbeatIntervalMs);
    const out: SendFailure[] = [];
    for (const ch of this.channels) {
      const failure = ch.failure(nowMonoMs, windowMs);
      if (failure !== undefined) out.push(failure);
    }
    return out;
  }

  private schedule(): void {
    if (this.flushScheduled || !this.started) return;
    // (before start, messages wait in the packers and start() flushes them)
    this.flushScheduled = true;
    armTurnEnd();
  }

  /** End of an event-loop turn someone armed: send what is pending, if this publisher asked. */
  private onTurnEnd(): void {
    if (!this.flushScheduled) return;
    this.flushScheduled = false; // only here: a flush from elsewhere leaves this turn-end request standing
    this.flush();
  }

  private notePending(handle: number, tsRecvUs: number): void {
    if (tsRecvUs <= 0) return;
    if (this.pendingCount === this.pendingRecvUs.length) {
      const grown = new Float64Array(this.pendingCount * 2); // cold: more events in one turn than ever before
      grown.set(this.pendingRecvUs);
      this.pendingRecvUs = grown;
      const handles = new Int32Array(this.pendingCount * 2);
      handles.set(this.pendingHandles);
      this.pendingHandles = handles;
    }
    this.pendingHandles[this.pendingCount] = handle;
    this.pendingRecvUs[this.pendingCount++] = tsRecvUs;
  }

  /**
   * After a flush that ended at `doneUs` (nowUs after its last send): receipt → sent for every event it carried,
   * but one none of whose destinations' sockets took a datagram of the flush (skipped in a route pause, refused):
   * not sent, so not a time to send (before, observed as if sent).
   */
  private observePending(doneUs: number): void {
    const hist = this.receiptToSend!;
    for (let i = 0; i < this.pendingCount; i++) {
      if (!this.sentAny(this.handleChannels[this.pendingHandles[i]])) continue;
      const us = doneUs - this.pendingRecvUs[i];
      hist.observe(us > 0 ? us : 0);
    }
    this.pendingCount = 0;
  }

  /** HOT PATH (observePending): whether the kernel took a datagram of the last flush of any of these destinations. */
  private sentAny(chans: readonly PublishChannel[]): boolean {
    for (let c = 0; c < chans.length; c++) if (!chans[c].sentNone) return true;
    return false;
  }
}

/** publishBareStatus's view: a status's fields, none read from a book (no levels). */
class BareStatusView implements BookView {
  instrument!: Instrument;
  state: BookState = BookState.RESYNCING;
  reason: StatusReason = StatusReason.NONE;
  instrSeq = 0;
  readonly venueSeq = 0;
  readonly tsExchangeUs = 0;
  readonly tsEventUs = 0;
  readonly tsRecvUs = 0;
  readonly bidCount = 0;
  readonly askCount = 0;
  bidPriceAt(): number {
    return 0;
  }
  bidQtyAt(): number {
    return 0;
  }
  askPriceAt(): number {
    return 0;
  }
  askQtyAt(): number {
    return 0;
  }
}
