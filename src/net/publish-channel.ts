// HOT PATH: no allocation (flush and the sends under it; opening, closing and failures are cold).
/**
 * One destination of the publisher, a channel: its packer (pending datagrams, sequence numbers), its socket, its
 * retransmit ring and its record of refused datagrams, and the send path from sealed datagrams to the kernel.
 * Apart from feed-publisher.ts (what goes into the packers, and when it is flushed) so that sending reads in one
 * place: a multicast destination's socket is connected to its group (one entry per datagram); a unicast
 * destination's (`receivers`) sends each datagram to every receiver in the same sendMany ([data, port, address]
 * triples), so its cost grows per receiver. What the kernel does not take is resent or dropped and counted by
 * send-batch.ts, so one refused datagram or unicast receiver costs the others nothing.
 *
 * A multicast destination whose route is gone (send-batch.ts isRouteGone: interface down, address or route removed)
 * is not sent to for ROUTE_BACKOFF_FIRST_MS, doubling on each refused try to ROUTE_BACKOFF_MAX_MS: each try costs
 * two throwing sendMany calls, and without the pause every flush (every datagram, at a low rate) paid them for as long
 * as the route stayed gone, in the same turn as every other destination's sends. Its datagrams meanwhile are skipped,
 * counted as refused (sendErrors, here and the publisher's), kept in the retransmit ring and logged (rate-limited);
 * its sequence numbers go on, so its subscribers see the loss as a gap. The first try the kernel takes a datagram
 * of ends the pause (logged). The other destinations have their own sockets, sequences and pauses: unaffected.
 * Its interface address removed and put back (DHCP), the same socket sends again (the kernel checks the source at
 * each send); its interface deleted and made again, the socket cannot (ENODEV, remakeSocket): a new one is made.
 *
 * A unicast receiver whose route is gone is paused the same way, on its own: send-batch.ts drops that receiver's
 * datagrams of the batch after two failing calls (one throwing sendMany per datagram before, each copying the rest
 * of the batch), and the destination then leaves it out of its sendMany arguments until its pause ends (the
 * arguments built once per change of the receivers sent to, not per flush); its datagrams are counted as refused
 * meanwhile (its subscribers see a gap), the other receivers get every one. When the pause ends it is sent to again:
 * a send with no route refusal for it that the kernel took at least one of its own datagrams of (not merely another
 * receiver's), and no full buffer cut short, ends the pause (logged); a route refusal doubles it; a send that took
 * none of its datagrams (refused for another reason: EPERM) leaves it paused, tried again at the next send. A closed
 * port (ECONNREFUSED) is not a lost route: resent, never paused.
 * Both pauses are a RoutePause (route-pause.ts: its length, end, skipped count), one per destination and receiver.
 * @module
 */
import { monoMs } from "../core/clock.ts";
import { getU64 } from "../core/i64.ts";
import { RateLimitedLog, type Logger } from "../core/log.ts";
import type { DestinationConfig, UnicastReceiver } from "../config/types.ts";
import { PKT_MSG_COUNT_OFFSET, PKT_SEQ_NUM_OFFSET } from "../wire/layout.ts";
import type { ChannelPacker } from "../wire/packer.ts";
import { openMulticastSender, openUnicastSender } from "./multicast.ts";
import type { RetransmitRing } from "./retransmit-ring.ts";
import { RoutePause } from "./route-pause.ts";
import { BatchSender, isBufferFullCode, isRouteGone, type RefusedTo, type SendCounters } from "./send-batch.ts";

/** Datagrams per sendMany call: one sendmmsg per call; bounded so the reused argument arrays stay small. */
export const MAX_DATAGRAMS_PER_SEND = 64;

/** Test hook: return true to drop (not send) a datagram (counted as dropped on purpose). */
export type DropFilter = (channelId: number, seqNum: number, bytes: Uint8Array) => boolean;

/** A destination the kernel refused datagrams for recently (FeedPublisher.sendFailures). */
export interface SendFailure {
  /** The destination's name and where it sends ("group:port" or its receivers). */
  readonly destination: string;
  readonly target: string;
  /** Datagrams refused since start, the last refusal (ms since the epoch) and its error. */
  readonly errors: number;
  readonly lastErrorMs: number;
  readonly lastError: string;
  /**
   * How long before the check the last refusal was (monotonic ms): what /readyz says. lastErrorMs against the wall
   * clock of /readyz said "the last 3600000 ms ago" of a refusal a moment old after a step forward of an hour.
   */
  readonly lastErrorAgoMs: number;
}

type SendSocket = Bun.udp.Socket<"uint8array">;
type Entry = Uint8Array | number | string;
const EMPTY = new Uint8Array(0);

/** "group:port", or the unicast receivers "host:port,host:port". */
export function destinationText(d: DestinationConfig): string {
  return d.group !== undefined ? `${d.group}:${d.port}` : d.receivers!.map((r) => `${r.host}:${r.port}`).join(",");
}

export class PublishChannel {
  socket: SendSocket | undefined = undefined;
  /**
   * When the last datagram was handed to the socket (or the socket opened): monotonic ms (core/clock.ts monoMs), as
   * the idle heartbeat compares it. On Date.now a wall clock stepped back an hour put it an hour ahead and an idle
   * channel sent no heartbeat for the hour (its subscribers saw the stream stale).
   */
  lastSendMs = 0;
  /**
   * The last flush offered the kernel datagrams and it took none (all skipped in a route pause, or refused): the
   * events it carried were not sent (FeedPublisher's receipt → send histogram leaves them out). Set by each flush
   * (flush, or passFlush when a flush passes this channel by).
   */
  get sentNone(): boolean {
    return this.lastFlushSentNone;
  }
  private lastFlushSentNone = false;
  /** Datagrams of this destination the kernel refused; the last refusal's time (ms since the epoch, 0 = none; shown) and error. */
  sendErrors = 0;
  lastSendErrorMs = 0;
  /** The last refusal on the monotonic clock (0 = none): what the failure window counts from. */
  private lastSendErrorMonoMs = 0;
  lastSendError = "";
  /** The pause of a multicast destination whose route is gone: see the module comment. */
  private readonly pause = new RoutePause();
  /** Route refusals since start: a try that also met one does not end the pause. */
  private routeRefusals = 0;
  /** A new socket is being made for a multicast destination whose interface was re-created (remakeSocket). */
  private remaking = false;
  /** Unicast receivers (undefined: multicast). */
  private readonly receivers: readonly UnicastReceiver[] | undefined;
  /**
   * Per unicast receiver (by index in `receivers`), the pause of one whose route is gone (module comment); a
   * receiver is in `sendTo` unless its pause is skipping.
   */
  private readonly receiverPauses: RoutePause[] = [];
  /** Receivers paused (0: the hot path looks no further); the receivers sent to, rebuilt when that set changes. */
  private receiversPaused = 0;
  private sendTo: readonly UnicastReceiver[] = [];
  /** A full buffer cut the current send short: it shows nothing of a paused receiver's route. */
  private sendCutShort = false;
  /** The datagrams of one sendMany, then sendMany argument arrays by datagram count: created once per count. */
  private readonly stage: Uint8Array[] = new Array<Uint8Array>(MAX_DATAGRAMS_PER_SEND).fill(EMPTY);
  private readonly exactArgs: Uint8Array[][] = [];
  private readonly unicastArgs: Entry[][] = [];
  private readonly sender: BatchSender;
  private readonly errorLog: RateLimitedLog;
  private readonly log: Logger;

  constructor(
    readonly dest: DestinationConfig,
    readonly packer: ChannelPacker,
    /** The last sent datagrams, for the request server (publish.retransmit); undefined without it. */
    readonly ring: RetransmitRing | undefined,
    /** The publisher's counters, shared by its channels. */
    private readonly counters: SendCounters & { droppedOnPurpose: number },
    private readonly dropFilter: DropFilter | undefined,
    log: Logger,
  ) {
    this.receivers = dest.receivers;
    if (this.receivers !== undefined) {
      this.sendTo = this.receivers;
      for (let j = 0; j < this.receivers.length; j++) this.receiverPauses.push(new RoutePause());
    }
    this.log = log;
    this.errorLog = new RateLimitedLog(log, "warn", "send failed; datagrams dropped");
    this.sender = new BatchSender(counters, (error, datagrams, code, to) => this.refused(error, datagrams, code, to));
  }

  /** Opens the destination's socket (interface and TTL verified; a multicast one connected to its group). */
  async open(): Promise<void> {
    this.socket = await this.openSocket();
    this.lastSendMs = monoMs();
  }

  private openSocket(): Promise<SendSocket> {
    const dest = this.dest;
    // A datagram sendMany had counted as sent came back (a unicast receiver's port closed): send-batch.ts.
    const onError = (err: Error) => this.sender.bounced(err.message);
    return dest.group !== undefined
      ? openMulticastSender({ iface: dest.iface, connectTo: { group: dest.group, port: dest.port }, ttl: dest.ttl, onError })
      : openUnicastSender({ iface: dest.iface, onError });
  }

  /**
   * Cold: a multicast send met ENODEV: the interface IP_MULTICAST_IF named when the socket was made (the kernel keeps
   * its index, not the address) was deleted and made again (the address is back on a new index): this socket can
   * never send again, a new one made for the address can. Made in the background (the destination paused
   * meanwhile); while the address is not on any interface the new socket cannot be made (bind fails) and the old
   * one stays, to be made again at the next try that meets ENODEV (at most one try per ROUTE_BACKOFF_MAX_MS).
   */
  private remakeSocket(): void {
    const old = this.socket;
    if (this.remaking || old === undefined) return;
    this.remaking = true;
    const target = destinationText(this.dest);
    this.openSocket().then(
      (socket) => {
        this.remaking = false;
        if (this.socket !== old) return socket.close(); // closed (a stop) or made anew meanwhile
        old.close();
        this.socket = socket;
        this.log.info("destination socket made anew: its interface was re-created", { destination: this.dest.name, target, iface: this.dest.iface });
      },
      (err: unknown) => {
        this.remaking = false;
        this.errorLog.hit(`destination ${this.dest.name} (${target}): socket not made anew (${(err as Error).message}); tried again at the next send that meets ENODEV`);
      },
    );
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  /**
   * HOT PATH: seals the pending datagrams (send time, HMAC trailer if keyed, CRC-32), sends them (sendMany,
   * ≤ MAX_DATAGRAMS_PER_SEND per call), copies them into the retransmit ring and clears the packer. The socket
   * must be open and the packer hold at least one datagram. Returns lastSendMs (monoMs after the send): the caller's
   * "sent" instant too, so a flush reads the clock once after sending (FeedPublisher.observePending).
   */
  flush(sendTimeUs: number): number {
    const packer = this.packer;
    const count = packer.count;
    packer.seal(sendTimeUs);
    const stage = this.stage;
    const dropFilter = this.dropFilter;
    let batched = 0;
    let offered = 0;
    let taken = 0;
    for (let i = 0; i < count; i++) {
      // The exact-length view sendMany takes, reused across flushes (wire/exact-views.ts): a flush allocates nothing.
      const data = packer.exactView(i);
      if (dropFilter !== undefined && dropFilter(this.dest.channelId, getU64(packer.views[i], PKT_SEQ_NUM_OFFSET), data)) {
        this.counters.droppedOnPurpose++;
        continue;
      }
      stage[batched] = data;
      batched++;
      if (batched === MAX_DATAGRAMS_PER_SEND) {
        taken += this.sendStaged(batched);
        offered += batched;
        batched = 0;
      }
    }
    if (batched > 0) {
      taken += this.sendStaged(batched);
      offered += batched;
    }
    this.lastFlushSentNone = offered > 0 && taken === 0;
    const ring = this.ring;
    if (ring !== undefined) {
      // After the send, so the copy never delays a live datagram; heartbeats (no message) are not kept.
      for (let i = 0; i < count; i++) {
        const view = packer.views[i];
        const msgCount = view.getUint16(PKT_MSG_COUNT_OFFSET, true);
        // The exact-length view sent above (cached per length): the ring copies it without making a view of its own.
        if (msgCount > 0) ring.push(packer.exactView(i), packer.lengths[i], getU64(view, PKT_SEQ_NUM_OFFSET), msgCount);
      }
    }
    packer.clear();
    return (this.lastSendMs = monoMs());
  }

  /**
   * HOT PATH: a flush passes this channel by (nothing pending, or no socket): with datagrams pending none was sent.
   * FeedPublisher.flush calls it so that sentNone is written here only.
   */
  passFlush(): void {
    this.lastFlushSentNone = this.packer.count !== 0;
  }

  /** A multicast destination's route pause (ms; 0: sending): see the module comment. */
  get routeBackoffMs(): number {
    return this.pause.backoffMs;
  }

  /** This destination if it had a refusal in the last `windowMs` (nowMonoMs: monoMs(); cold, /readyz). */
  failure(nowMonoMs: number, windowMs: number): SendFailure | undefined {
    if (this.lastSendErrorMonoMs === 0 || nowMonoMs - this.lastSendErrorMonoMs > windowMs) return undefined;
    return { destination: this.dest.name, target: destinationText(this.dest), errors: this.sendErrors, lastErrorMs: this.lastSendErrorMs, lastError: this.lastSendError, lastErrorAgoMs: Math.max(0, Math.round(nowMonoMs - this.lastSendErrorMonoMs)) };
  }

  /**
   * HOT PATH: the first n staged datagrams, in one sendMany; skipped while the route is gone (module comment).
   * Returns how many the kernel took (0 when skipped).
   */
  private sendStaged(n: number): number {
    const pause = this.pause;
    if (pause.skipping && pause.skips(monoMs())) {
      this.skip(n);
      return 0;
    }
    const pausedBefore = pause.paused;
    const routeRefusals = this.routeRefusals;
    const taken = this.sendStagedNow(n);
    if (pausedBefore && taken > 0 && this.routeRefusals === routeRefusals) this.resumed();
    return taken;
  }

  /** HOT PATH: sendStaged's send; returns how many datagrams the kernel took. */
  private sendStagedNow(n: number): number {
    const receivers = this.receivers;
    if (receivers !== undefined) return this.sendStagedUnicast(receivers, n);
    // sendMany takes the whole array: a short final batch is copied into the array of its exact size.
    let args = this.stage;
    if (n !== MAX_DATAGRAMS_PER_SEND) {
      let exact = this.exactArgs[n];
      if (exact === undefined) {
        exact = new Array<Uint8Array>(n).fill(EMPTY); // cold: once per batch size
        this.exactArgs[n] = exact;
      }
      for (let i = 0; i < n; i++) exact[i] = args[i]!;
      args = exact;
    }
    return this.sender.send(this.socket!, args, 1);
  }

  /**
   * HOT PATH: the first n staged datagrams to every receiver of a unicast destination, in one sendMany; a receiver
   * whose route is gone is left out during its pause (module comment).
   */
  private sendStagedUnicast(all: readonly UnicastReceiver[], n: number): number {
    if (this.receiversPaused !== 0) this.skipReceivers(all, n);
    const receivers = this.sendTo;
    const r = receivers.length;
    if (r === 0) return 0;
    const stage = this.stage;
    let args = this.unicastArgs[n];
    if (args === undefined) {
      args = new Array<Entry>(n * r * 3).fill(0); // cold: once per batch size
      this.unicastArgs[n] = args;
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
    this.sendCutShort = false;
    const taken = this.sender.send(this.socket!, args, 3);
    if (this.receiversPaused !== 0) this.receiversTried(all, n);
    return taken;
  }

  /**
   * HOT PATH while a receiver is paused (allocates nothing unless a pause ends): each receiver left out skips the n
   * datagrams (counted as refused, logged rate-limited); one whose pause has ended is sent to again from this send.
   */
  private skipReceivers(all: readonly UnicastReceiver[], n: number): void {
    const nowMonoMs = monoMs();
    let changed = false;
    for (let j = 0; j < all.length; j++) {
      const pause = this.receiverPauses[j]!;
      if (!pause.skipping) continue;
      if (!pause.skips(nowMonoMs)) {
        changed = true;
        continue;
      }
      this.counters.sendErrors += n;
      this.sendErrors += n;
      pause.skip(n);
      this.lastSendErrorMs = Date.now();
      this.lastSendErrorMonoMs = nowMonoMs;
      this.errorLog.hit(pause.detail);
    }
    if (changed) this.rebuildSendTo(all);
  }

  /** Cold: the receivers sent to changed; the sendMany arguments are made anew for them (once per batch size). */
  private rebuildSendTo(all: readonly UnicastReceiver[]): void {
    this.sendTo = all.filter((_, j) => !this.receiverPauses[j]!.skipping);
    this.unicastArgs.length = 0;
  }

  /**
   * After each send of n datagrams while a receiver is paused (allocates nothing unless a pause ends): a receiver
   * tried after its pause whose send met no route refusal, no full buffer, and took at least one of its own n
   * datagrams is sent to as before. Before, any datagram taken (another receiver's) ended the pause: a receiver
   * whose own were all refused (EPERM) was logged as "its route is back".
   */
  private receiversTried(all: readonly UnicastReceiver[], n: number): void {
    const cutShort = this.sendCutShort;
    for (let j = 0; j < all.length; j++) {
      const pause = this.receiverPauses[j]!;
      const refusedOwn = pause.refusedInTry;
      pause.refusedInTry = 0;
      if (!pause.paused || pause.skipping || cutShort || refusedOwn >= n) continue;
      const rc = all[j]!;
      this.log.info("unicast receiver sent to again; its route is back", { destination: this.dest.name, receiver: `${rc.host}:${rc.port}`, skipped: pause.resume(), lastError: this.lastSendError });
      this.receiversPaused--;
    }
  }

  /** Cold: a unicast receiver's route is gone (send-batch.ts dropped its datagrams of the batch): its pause starts or doubles. */
  private receiverRouteGone(all: readonly UnicastReceiver[], to: RefusedTo, error: string, where: string): void {
    for (let j = 0; j < all.length; j++) {
      const rc = all[j]!;
      if (rc.port !== to.port || rc.host !== to.address) continue;
      const pause = this.receiverPauses[j]!;
      if (!pause.paused) this.receiversPaused++;
      pause.refused(this.lastSendErrorMonoMs);
      pause.detail = `${where}: receiver ${rc.host}:${rc.port}: ${error}; its datagrams skipped for ${pause.backoffMs} ms, then tried again`;
      this.errorLog.hit(pause.detail);
    }
    this.rebuildSendTo(all);
  }

  /** Cold: datagrams to one receiver refused for another reason than its route: a paused one's try did not get through. */
  private receiverRefused(all: readonly UnicastReceiver[], to: RefusedTo, datagrams: number): void {
    for (let j = 0; j < all.length; j++) {
      const rc = all[j]!;
      if (rc.port === to.port && rc.host === to.address) this.receiverPauses[j]!.refusedInTry += datagrams;
    }
  }

  /**
   * Cold: datagrams the kernel refused (already counted overall by the sender): per destination, logged (rate-limited)
   * naming it. A route gone starts or doubles the pause of a multicast destination, or of the one unicast receiver
   * it was for (each receiver has its own route: one gone must not cost the others their datagrams).
   */
  private refused(error: string, datagrams: number, code: string, to: RefusedTo | undefined): void {
    this.sendErrors += datagrams;
    this.lastSendErrorMs = Date.now();
    this.lastSendErrorMonoMs = monoMs();
    this.lastSendError = error;
    const where = `destination ${this.dest.name} (${destinationText(this.dest)})`;
    if (isBufferFullCode(code)) this.sendCutShort = true;
    if (this.receivers !== undefined && to !== undefined) {
      if (isRouteGone(code)) return this.receiverRouteGone(this.receivers, to, error, where);
      if (this.receiversPaused !== 0) this.receiverRefused(this.receivers, to, datagrams);
    }
    if (this.receivers === undefined && isRouteGone(code)) {
      const pause = this.pause;
      this.routeRefusals++;
      pause.refused(this.lastSendErrorMonoMs);
      pause.detail = `${where}: ${error}; its datagrams skipped for ${pause.backoffMs} ms, then tried again`;
      this.errorLog.hit(pause.detail);
      if (code === "ENODEV") this.remakeSocket();
      return;
    }
    this.errorLog.hit(`${where}: ${error}`);
  }

  /** HOT PATH while paused (allocates nothing): n datagrams not sent, counted as refused, logged rate-limited. */
  private skip(n: number): void {
    this.counters.sendErrors += n;
    this.sendErrors += n;
    this.pause.skip(n);
    this.lastSendErrorMs = Date.now();
    this.lastSendErrorMonoMs = monoMs();
    this.errorLog.hit(this.pause.detail);
  }

  /**
   * Cold: the next send is tried even within a pause (the publisher's stop(): the END_OF_SESSION heartbeat is the
   * last datagram, and a route back before the pause's end would otherwise not carry it).
   */
  tryNextSend(): void {
    this.pause.tryNow();
    for (const pause of this.receiverPauses) pause.tryNow();
  }

  /** Cold: a try after a pause got through: sending as before. */
  private resumed(): void {
    this.log.info("destination sends again; its route is back", { destination: this.dest.name, target: destinationText(this.dest), skipped: this.pause.resume(), lastError: this.lastSendError });
  }
}
