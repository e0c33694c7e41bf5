// HOT PATH: no allocation (publishDelta, flush; the rest is cold). With an auth key, node:crypto allocates per datagram.
/**
 * Publishes books as wire v3 datagrams to multicast destinations (docs/wire-protocol.md).
 * - Each destination is one channel with its own Bun.udpSocket, sequence space and packer. A multicast
 *   destination's socket is connected to its group; a unicast destination's (`receivers`) sends each datagram to
 *   every receiver in the same sendMany ([data, port, address] triples), so its cost grows per receiver.
 * - publish* only append messages to the channel's pending datagrams; one flush per event-loop turn
 *   (core/clock.ts armTurnEnd: one setImmediate per turn, shared with the receipt stamp) hands them to the kernel
 *   with sendMany, so a turn's messages share as few datagrams as fit.
 * - Heartbeats on idle channels and a periodic refresh (definitions + snapshots of every book, each book once per
 *   snapshot_interval_ms, spread evenly: refresh-schedule.ts) let late joiners and subscribers that lost datagrams
 *   recover without any request.
 * - Every datagram carries the session start, the heartbeat interval and a CRC-32; with publish.auth_key_file
 *   an HMAC trailer too (ChannelPacker.seal, once per flush).
 * - With publish.retransmit, every sent data datagram is copied into its channel's RetransmitRing after the
 *   sendMany (preallocated: no allocation), and a RetransmitServer on its own socket answers re-requests.
 * - A datagram the kernel does not take is dropped and counted (sendErrors, and per destination for /readyz:
 *   sendFailures); the rest of its batch is still sent (resend), so one refused datagram or unicast receiver costs
 *   the others nothing. Publishing never blocks and never calls back into a book builder.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import type { ChangeSet } from "../core/change-set.ts";
import { addTurnEndHook, armTurnEnd, nowUs } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import { getU64 } from "../core/i64.ts";
import { RateLimitedLog, silentLogger, type Logger } from "../core/log.ts";
import type { Instrument } from "../core/types.ts";
import type { DestinationConfig, DestinationRule, PublishConfig, UnicastReceiver } from "../config/types.ts";
import { DatagramAuth, readAuthKeyFile } from "../wire/auth.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION, PKT_MSG_COUNT_OFFSET, PKT_SEQ_NUM_OFFSET } from "../wire/layout.ts";
import { ChannelPacker } from "../wire/packer.ts";
import { isMulticastV4, openMulticastSender, openUnicastSender } from "./multicast.ts";
import { RefreshSchedule } from "./refresh-schedule.ts";
import { RetransmitRing } from "./retransmit-ring.ts";
import { RetransmitServer, type RetransmitServerCounters } from "./retransmit-server.ts";

export interface FeedPublisherOptions {
  publish: PublishConfig;
  /**
   * Added to publish.source_id for the sourceId in every packet header (each source has its own sequence space
   * per channel): a worker passes its number (worker index + 1), a single process nothing (0).
   */
  sourceId?: number;
  /** HMAC key instead of publish.auth_key_file (tests). */
  authKey?: Uint8Array;
  /** Session start in µs since the epoch (sessionStartNs in every header); now unless given (tests). */
  sessionStartUs?: number;
  log?: Logger;
  /** Random non-zero u32 per start unless given (tests). */
  sessionId?: number;
  /** Test hook: return true to drop (not send) a datagram (counted as dropped on purpose). */
  dropFilter?: (channelId: number, seqNum: number, bytes: Uint8Array) => boolean;
  /**
   * Observes, per published delta or snapshot event, µs from the frame's local receipt (view.tsRecvUs) to the end
   * of the flush that handed its datagrams to the kernel. The Feeder passes its receiptToSend histogram.
   */
  receiptToSend?: { observe(us: number): void };
}

export interface PublisherCounters {
  /** Datagrams the kernel accepted. */
  datagrams: number;
  /** Bytes of those datagrams (UDP payload). */
  bytes: number;
  /** Datagrams the kernel refused or that failed to send (dropped, never retried; the rest of their batch is sent). */
  sendErrors: number;
  /** Datagrams the test hook dropped. */
  droppedOnPurpose: number;
  /** Messages encoded (a split delta or a chunked snapshot counts each message). */
  messages: number;
}

/** Datagrams per sendMany call: one sendmmsg per call; bounded so the reused argument arrays stay small. */
export const MAX_DATAGRAMS_PER_SEND = 64;
/**
 * The refresh is spread over its interval in ticks of at most this length, so a large universe does not send
 * all its snapshots in one burst (which would delay live deltas behind thousands of datagrams).
 */
export const REFRESH_TICK_MS = 50;
/** Heartbeat check runs this many times per heartbeat interval, so an idle channel beats within 1.25 intervals. */
const HEARTBEAT_TICKS_PER_INTERVAL = 4;
/**
 * A destination is reported failing (sendFailures, /readyz) while a refusal is at most this many heartbeat
 * intervals old: a failing destination still refuses at least its heartbeat once per interval.
 */
export const SEND_FAILURE_HEARTBEATS = 3;

type SendSocket = Bun.udp.Socket<"uint8array">;
/** Error codes of a send that found the socket buffer full (resend drops the rest of its batch at once). */
const BUFFER_FULL = new Set(["EAGAIN", "EWOULDBLOCK", "ENOBUFS"]);
const EMPTY = new Uint8Array(0);

interface Channel {
  readonly dest: DestinationConfig;
  readonly packer: ChannelPacker;
  socket: SendSocket | undefined;
  /** ms timestamp of the last datagram handed to the socket (or of start). */
  lastSendMs: number;
  /** The last sent datagrams, for the request server (publish.retransmit); undefined without it. */
  ring: RetransmitRing | undefined;
  /** Unicast receivers (undefined: multicast), and sendMany argument arrays by datagram count (created once each). */
  readonly receivers: readonly UnicastReceiver[] | undefined;
  readonly unicastArgs: (Uint8Array | number | string)[][];
  /** Cold, after a refusal: sendMany argument arrays by entry count for the rest of a batch (resend). */
  readonly resendArgs: (Uint8Array | number | string)[][];
  /** Datagrams of this destination the kernel refused; the last refusal's time (ms, 0 = none) and error. */
  sendErrors: number;
  lastSendErrorMs: number;
  lastSendError: string;
  readonly errorLog: RateLimitedLog;
}

/** A destination the kernel refused datagrams for recently (FeedPublisher.sendFailures). */
export interface SendFailure {
  /** The destination's name and where it sends ("group:port" or its receivers). */
  readonly destination: string;
  readonly target: string;
  /** Datagrams refused since start, the last refusal (ms since the epoch) and its error. */
  readonly errors: number;
  readonly lastErrorMs: number;
  readonly lastError: string;
}

/** True when the rule matches the instrument ("*" = any). */
export function ruleMatches(rule: DestinationRule, instrument: Instrument): boolean {
  if (rule.venue !== "*" && rule.venue !== instrument.venue) return false;
  if (rule.market !== "*" && rule.market !== instrument.market) return false;
  return rule.symbols.includes("*") || rule.symbols.includes(instrument.symbol);
}

/** "group:port", or the unicast receivers "host:port,host:port". */
function destinationText(d: DestinationConfig): string {
  return d.group !== undefined ? `${d.group}:${d.port}` : d.receivers!.map((r) => `${r.host}:${r.port}`).join(",");
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
  private readonly dropFilter: FeedPublisherOptions["dropFilter"];
  private readonly receiptToSend: FeedPublisherOptions["receiptToSend"];
  /** tsRecvUs of the events waiting for the next flush (only with receiptToSend); grows by doubling (cold). */
  private pendingRecvUs = new Float64Array(256);
  private pendingCount = 0;
  private readonly channels: Channel[];
  private readonly handleViews: BookView[] = [];
  private readonly handleChannels: Channel[][] = [];
  private readonly handleDefs: EncodedDefinition[] = [];
  /** sendMany argument arrays by datagram count, one datagram per entry (sockets are connected); created once per count. */
  private readonly sendArgs: Uint8Array[][] = [];
  private readonly turnEndBound: () => void;
  private removeTurnEndHook: (() => void) | undefined;
  private flushScheduled = false;
  private refreshSchedule: RefreshSchedule | undefined;
  private readonly refreshBound = (h: number) => this.refreshHandle(h);
  private started = false;
  private stopped = false;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private readonly auth: DatagramAuth | undefined;
  private readonly portOffset: number;
  private retransmitServer: RetransmitServer | undefined;

  constructor(opts: FeedPublisherOptions) {
    this.publish = opts.publish;
    this.log = opts.log ?? silentLogger;
    this.dropFilter = opts.dropFilter;
    this.receiptToSend = opts.receiptToSend;
    this.sourceId = (this.publish.sourceId ?? 0) + (opts.sourceId ?? 0);
    if (!(Number.isInteger(this.sourceId) && this.sourceId >= 0 && this.sourceId <= 0xffff)) {
      throw new RangeError(`sourceId ${this.sourceId} (publish.source_id + worker number) outside 0..65535`);
    }
    this.sessionId = opts.sessionId !== undefined ? opts.sessionId >>> 0 : randomSessionId();
    if (this.sessionId === 0) throw new RangeError("sessionId must be non-zero");
    this.sessionStartUs = opts.sessionStartUs ?? nowUs();
    let auth: DatagramAuth | undefined;
    if (opts.authKey !== undefined) {
      auth = new DatagramAuth(opts.authKey);
    } else if (this.publish.authKeyFile !== undefined) {
      try {
        auth = new DatagramAuth(readAuthKeyFile(this.publish.authKeyFile, "publish.auth_key_file"));
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
      return {
        dest,
        packer: new ChannelPacker(this.publish.maxDatagramBytes, dest.channelId, this.sourceId, this.sessionId, packerOptions),
        socket: undefined,
        lastSendMs: 0,
        ring: retx !== undefined ? new RetransmitRing(retx.ringBytes, this.publish.maxDatagramBytes) : undefined,
        receivers: dest.receivers,
        unicastArgs: [],
        resendArgs: [],
        sendErrors: 0,
        lastSendErrorMs: 0,
        lastSendError: "",
        errorLog: new RateLimitedLog(this.log, "warn", "send failed; datagrams dropped"),
      };
    });
    this.turnEndBound = () => this.onTurnEnd();
  }

  /** Opens one socket per destination (interface + TTL verified) and starts the heartbeat and refresh timers. */
  async start(): Promise<void> {
    if (this.started) return;
    try {
      for (const ch of this.channels) {
        ch.socket =
          ch.dest.group !== undefined
            ? await openMulticastSender({
                iface: ch.dest.iface,
                connectTo: { group: ch.dest.group, port: ch.dest.port },
                ttl: ch.dest.ttl,
                onError: (err) => this.onSocketError(ch, err),
              })
            : await openUnicastSender({ iface: ch.dest.iface, onError: (err) => this.onSocketError(ch, err) });
        ch.lastSendMs = Date.now();
      }
      const retx = this.publish.retransmit;
      if (retx !== undefined) {
        const rings = new Map<number, RetransmitRing>();
        for (const ch of this.channels) rings.set(ch.dest.channelId, ch.ring!);
        this.retransmitServer = new RetransmitServer({
          config: retx,
          portOffset: this.portOffset,
          rings,
          sourceId: this.sourceId,
          sessionId: this.sessionId,
          auth: this.auth,
          maxDatagramBytes: this.publish.maxDatagramBytes,
          log: this.log,
        });
        await this.retransmitServer.start();
      }
    } catch (err) {
      for (const ch of this.channels) ch.socket?.close();
      this.retransmitServer?.stop();
      this.retransmitServer = undefined;
      throw err;
    }
    this.started = true;
    this.removeTurnEndHook = addTurnEndHook(this.turnEndBound);
    const hbMs = this.publish.heartbeatIntervalMs;
    if (hbMs > 0) {
      this.heartbeatTimer = setInterval(() => this.heartbeatTick(), Math.max(1, Math.floor(hbMs / HEARTBEAT_TICKS_PER_INTERVAL)));
      this.heartbeatTimer.unref?.();
    }
    if (this.publish.snapshotIntervalMs > 0) {
      this.refreshSchedule = new RefreshSchedule(this.publish.snapshotIntervalMs);
      this.refreshTimer = setInterval(() => this.refreshTick(), Math.min(REFRESH_TICK_MS, this.publish.snapshotIntervalMs));
      this.refreshTimer.unref?.();
    }
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
   */
  register(instrument: Instrument, view: BookView): number {
    const def = new EncodedDefinition(instrument);
    const chans = this.channels.filter((ch) => ruleMatches(ch.dest.match, instrument));
    let handle = this.handleDefs.findIndex((d) => d.instrument.instrumentId === instrument.instrumentId);
    if (handle >= 0) {
      this.handleViews[handle] = view;
      this.handleChannels[handle] = chans;
      this.handleDefs[handle] = def;
    } else {
      handle = this.handleViews.length;
      this.handleViews.push(view);
      this.handleChannels.push(chans);
      this.handleDefs.push(def);
    }
    if (chans.length === 0) this.log.warn("instrument matches no destination; not published", { symbol: instrument.symbol });
    for (const ch of chans) packInstrumentDefinition(ch.packer, def, false);
    this.counters.messages += chans.length;
    this.schedule();
    return handle;
  }

  /** HOT PATH: appends the changed levels of one book event to every destination of the handle. */
  publishDelta(handle: number, view: BookView, changes: ChangeSet): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    for (let i = 0; i < chans.length; i++) this.counters.messages += packBookDelta(chans[i].packer, view, changes);
    if (this.receiptToSend !== undefined) this.notePending(view.tsRecvUs);
    this.schedule();
  }

  /** The full book (or its top publish.snapshotDepth) after a venue snapshot; instrSeq as the view has it. */
  publishSnapshot(handle: number, view: BookView): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    const depth = this.publish.snapshotDepth;
    for (let i = 0; i < chans.length; i++) this.counters.messages += packBookSnapshot(chans[i].packer, view, depth, false);
    if (this.receiptToSend !== undefined) this.notePending(view.tsRecvUs);
    this.schedule();
  }

  /** State and reason from the view. */
  publishStatus(handle: number, view: BookView): void {
    if (this.stopped) return; // nothing may pile up in the packers after stop()
    const chans = this.handleChannels[handle];
    for (let i = 0; i < chans.length; i++) packBookStatus(chans[i].packer, view);
    this.counters.messages += chans.length;
    this.schedule();
  }

  /** Sends every pending datagram of every channel (sendMany, ≤ MAX_DATAGRAMS_PER_SEND per call). */
  flush(): void {
    if (!this.started) return;
    const channels = this.channels;
    let sendTimeUs = -1;
    for (let c = 0; c < channels.length; c++) {
      const ch = channels[c];
      const packer = ch.packer;
      const count = packer.count;
      if (count === 0 || ch.socket === undefined) continue;
      if (sendTimeUs < 0) sendTimeUs = nowUs();
      packer.seal(sendTimeUs); // send time, HMAC trailer (if keyed), CRC-32
      const stage = this.argsFor(MAX_DATAGRAMS_PER_SEND);
      let batched = 0;
      for (let i = 0; i < count; i++) {
        // The exact-length view sendMany takes, reused across flushes (wire/exact-views.ts): a flush allocates nothing.
        const data = packer.exactView(i);
        if (this.dropFilter !== undefined && this.dropFilter(ch.dest.channelId, getU64(packer.views[i], PKT_SEQ_NUM_OFFSET), data)) {
          this.counters.droppedOnPurpose++;
          continue;
        }
        stage[batched] = data;
        batched++;
        if (batched === MAX_DATAGRAMS_PER_SEND) {
          this.sendBatchTo(ch, batched);
          batched = 0;
        }
      }
      if (batched > 0) this.sendBatchTo(ch, batched);
      const ring = ch.ring;
      if (ring !== undefined) {
        // After the send, so the copy never delays a live datagram; heartbeats (no message) are not kept.
        for (let i = 0; i < count; i++) {
          const view = packer.views[i];
          const msgCount = view.getUint16(PKT_MSG_COUNT_OFFSET, true);
          if (msgCount > 0) ring.push(packer.bytes[i], packer.lengths[i], getU64(view, PKT_SEQ_NUM_OFFSET), msgCount);
        }
      }
      packer.clear();
      ch.lastSendMs = Date.now();
    }
    if (this.pendingCount > 0) this.observePending();
  }

  /** Flushes, sends an END_OF_SESSION heartbeat on every channel and closes the sockets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    if (this.started) {
      this.flush();
      for (const ch of this.channels) ch.packer.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
      this.flush();
    }
    for (const ch of this.channels) {
      ch.socket?.close();
      ch.socket = undefined;
    }
    this.retransmitServer?.stop();
    this.retransmitServer = undefined;
    this.started = false;
    this.removeTurnEndHook?.();
    this.removeTurnEndHook = undefined;
    this.log.info("publisher stopped", { sessionId: this.sessionId, ...this.counters });
  }

  /** Sends definitions and refresh snapshots of every registered book now (tests, operator request). */
  refreshAll(): void {
    for (let h = 0; h < this.handleViews.length; h++) this.refreshHandle(h);
    this.flush();
  }

  /** One refresh tick: the books that came due (each book once per interval, spread evenly: RefreshSchedule). */
  private refreshTick(): void {
    if (this.refreshSchedule === undefined) return;
    if (this.refreshSchedule.tick(Date.now(), this.handleViews.length, this.refreshBound) > 0) this.flush();
  }

  private refreshHandle(h: number): void {
    const view = this.handleViews[h];
    const chans = this.handleChannels[h];
    const depth = this.publish.snapshotDepth;
    for (let i = 0; i < chans.length; i++) {
      packInstrumentDefinition(chans[i].packer, this.handleDefs[h], true);
      this.counters.messages += 1 + packBookSnapshot(chans[i].packer, view, depth, true);
    }
  }

  /** Where the retransmission server listens (after start), undefined without publish.retransmit. */
  retransmitAddress(): { host: string; port: number } | undefined {
    const s = this.retransmitServer;
    return s === undefined ? undefined : { host: s.host, port: s.port };
  }

  /** The retransmission server's counters (undefined without publish.retransmit or before start). */
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

  /** Channel ids and their next sequence numbers (diagnostics, /status). */
  channelInfo(): { name: string; channelId: number; group: string; port: number; nextSeq: number; instruments: number }[] {
    return this.channels.map((ch) => ({
      name: ch.dest.name,
      channelId: ch.dest.channelId,
      group: ch.dest.group ?? destinationText(ch.dest),
      port: ch.dest.port,
      nextSeq: ch.packer.nextSeq,
      instruments: this.handleChannels.filter((cs) => cs.includes(ch)).length,
    }));
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

  private heartbeatTick(): void {
    const nowMs = Date.now();
    const intervalMs = this.publish.heartbeatIntervalMs;
    let any = false;
    for (const ch of this.channels) {
      if (ch.packer.count === 0 && nowMs - ch.lastSendMs >= intervalMs) {
        ch.packer.appendHeartbeat(0);
        any = true;
      }
    }
    if (any) this.flush();
  }

  private notePending(tsRecvUs: number): void {
    if (tsRecvUs <= 0) return;
    if (this.pendingCount === this.pendingRecvUs.length) {
      const grown = new Float64Array(this.pendingCount * 2); // cold: more events in one turn than ever before
      grown.set(this.pendingRecvUs);
      this.pendingRecvUs = grown;
    }
    this.pendingRecvUs[this.pendingCount++] = tsRecvUs;
  }

  /** After a flush: receipt → sent for every event it carried. */
  private observePending(): void {
    const doneUs = nowUs();
    const hist = this.receiptToSend!;
    for (let i = 0; i < this.pendingCount; i++) {
      const us = doneUs - this.pendingRecvUs[i];
      hist.observe(us > 0 ? us : 0);
    }
    this.pendingCount = 0;
  }

  private argsFor(n: number): Uint8Array[] {
    let args = this.sendArgs[n];
    if (args === undefined) {
      args = new Array<Uint8Array>(n).fill(EMPTY);
      this.sendArgs[n] = args;
    }
    return args;
  }

  private sendBatchTo(ch: Channel, n: number): void {
    if (ch.receivers === undefined) this.sendBatch(ch, n);
    else this.sendBatchUnicast(ch, ch.receivers, n);
  }

  /** HOT PATH: the staged datagrams to every receiver of a unicast destination, in one sendMany. */
  private sendBatchUnicast(ch: Channel, receivers: readonly UnicastReceiver[], n: number): void {
    const stage = this.sendArgs[MAX_DATAGRAMS_PER_SEND]!;
    const r = receivers.length;
    let args = ch.unicastArgs[n];
    if (args === undefined) {
      args = new Array<Uint8Array | number | string>(n * r * 3).fill(0); // cold: once per batch size
      ch.unicastArgs[n] = args;
    }
    let k = 0;
    for (let i = 0; i < n; i++) {
      const data = stage[i]!;
      for (let j = 0; j < r; j++) {
        const rc = receivers[j]!;
        args[k] = data;
        args[k + 1] = rc.port;
        args[k + 2] = rc.host;
        k += 3;
      }
    }
    let sent: number;
    try {
      sent = ch.socket!.sendMany(args as never);
    } catch (err) {
      return this.resend(ch, args, 3, -1, err as Error);
    }
    if (sent !== n * r) return this.resend(ch, args, 3, sent, undefined);
    this.counters.datagrams += sent;
    for (let i = 0; i < sent; i++) this.counters.bytes += (args[i * 3] as Uint8Array).byteLength;
  }

  private sendBatch(ch: Channel, n: number): void {
    // sendMany takes the whole array: a short final batch is copied into the array of its exact size.
    let args = this.sendArgs[MAX_DATAGRAMS_PER_SEND];
    if (n !== MAX_DATAGRAMS_PER_SEND) {
      const exact = this.argsFor(n);
      for (let i = 0; i < n; i++) exact[i] = args[i]!;
      args = exact;
    }
    let sent: number;
    try {
      sent = ch.socket!.sendMany(args);
    } catch (err) {
      return this.resend(ch, args, 1, -1, err as Error);
    }
    if (sent !== n) return this.resend(ch, args, 1, sent, undefined);
    this.counters.datagrams += sent;
    for (let i = 0; i < sent; i++) this.counters.bytes += args[i]!.byteLength;
  }

  /**
   * Cold: a sendMany that stopped before the end of its batch (`result` datagrams taken, or -1: it threw `err`).
   * Measured with Bun 1.4.5 (test/app/review-bounds-send.test.ts): a datagram to a unicast receiver whose port is
   * closed goes out, comes back as ICMP port unreachable, and leaves an error pending on the socket; the next
   * datagram's send fails with it (ECONNREFUSED), so sendMany stops there, returning the count sent, or throws when
   * it was the first; Bun then calls the socket's error handler, without an error, once per bounced datagram
   * (onSocketError counts it). The datagram that met the pending error, and every one after it, were never sent,
   * though nothing is wrong with them: they are sent again from where sendMany stopped, so one receiver that is
   * down costs the destination's other receivers (and the channel's other instruments) nothing. A datagram that
   * fails twice in a row (EMSGSIZE) is counted as refused and skipped. Each round takes or skips at least one
   * datagram, so a batch of n costs at most 2n calls. A full socket buffer (EAGAIN, ENOBUFS: the interface is
   * not keeping up) drops the rest of the batch at once: trying again at once cannot help, and 2 failing calls per
   * datagram would add work exactly when there is too much.
   */
  private resend(ch: Channel, args: readonly (Uint8Array | number | string)[], per: number, result: number, err: Error | undefined): void {
    const total = args.length / per;
    let done = 0;
    let failedHere = false;
    for (;;) {
      if (result > 0) {
        this.counters.datagrams += result;
        for (let i = done; i < done + result; i++) this.counters.bytes += (args[i * per] as Uint8Array).byteLength;
        done += result;
        failedHere = false;
      } else if (err !== undefined && BUFFER_FULL.has((err as { code?: string }).code ?? "")) {
        return this.refused(ch, err.message, total - done);
      } else if (failedHere) {
        this.refused(ch, err?.message ?? "sendMany took no datagram");
        done++;
        failedHere = false;
      } else {
        failedHere = true; // maybe an error left pending by the datagram before: this one is tried once more
      }
      if (done >= total) return;
      let rest = ch.resendArgs[(total - done) * per];
      if (rest === undefined) {
        rest = new Array<Uint8Array | number | string>((total - done) * per);
        ch.resendArgs[rest.length] = rest;
      }
      for (let i = 0; i < rest.length; i++) rest[i] = args[done * per + i]!;
      try {
        result = ch.socket!.sendMany(rest as never);
        err = undefined;
      } catch (e) {
        result = -1;
        err = e as Error;
      }
    }
  }

  /** Cold: datagrams of `ch` the kernel refused (one unless given): counted overall and per destination, logged (rate-limited) naming it. */
  private refused(ch: Channel, error: string, datagrams = 1): void {
    this.counters.sendErrors += datagrams;
    ch.sendErrors += datagrams;
    ch.lastSendErrorMs = Date.now();
    ch.lastSendError = error;
    ch.errorLog.hit(`destination ${ch.dest.name} (${destinationText(ch.dest)}): ${error}`);
  }

  /** The socket's error handler: a datagram sendMany had counted as sent came back (see resend). */
  private onSocketError(ch: Channel, err: Error): void {
    if (this.counters.datagrams > 0) this.counters.datagrams--;
    this.refused(ch, err.message);
  }

  /**
   * Destinations with a refused datagram in the last SEND_FAILURE_HEARTBEATS heartbeat intervals (at least 1 s),
   * for /readyz: their subscribers see gaps, or nothing. Cold.
   */
  sendFailures(nowMs: number): SendFailure[] {
    const windowMs = Math.max(1000, SEND_FAILURE_HEARTBEATS * this.publish.heartbeatIntervalMs);
    const out: SendFailure[] = [];
    for (const ch of this.channels) {
      if (ch.lastSendErrorMs === 0 || nowMs - ch.lastSendErrorMs > windowMs) continue;
      out.push({ destination: ch.dest.name, target: destinationText(ch.dest), errors: ch.sendErrors, lastErrorMs: ch.lastSendErrorMs, lastError: ch.lastSendError });
    }
    return out;
  }
}
