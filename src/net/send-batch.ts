/**
 * One sendMany of a batch of datagrams, and what to do when the kernel does not take all of it: resend the rest,
 * back off on a full socket buffer, count and name what was lost. Written once for both senders that meet the
 * same runtime behaviour: the publisher's destinations (publish-channel.ts) and the retransmission server's
 * answers (retransmit-server.ts).
 *
 * Measured with Bun 1.4.5 (test/app/review-bounds-send.test.ts, test/app/rev12-retransmit-bounce.test.ts): a
 * datagram to a unicast address whose port is closed goes out, comes back as ICMP port unreachable, and leaves an
 * error pending on the socket; the next datagram's send fails with it (ECONNREFUSED), so sendMany stops there,
 * returning the count sent, or throws when it was the first; Bun then calls the socket's error handler, without
 * an error, once per bounced datagram (`bounced`). The datagram that met the pending error, and every one after
 * it, were never sent, though nothing is wrong with them: they are sent again from where sendMany stopped, so one
 * receiver or requester that has gone costs the others nothing. A datagram that fails twice in a row (EMSGSIZE)
 * is counted as refused and skipped. Each round takes or skips at least one datagram, so a batch of n costs at
 * most 2n calls. A full socket buffer (EAGAIN, ENOBUFS: the interface is not keeping up) drops the rest of the
 * batch at once: trying again at once cannot help, and 2 failing calls per datagram would add work exactly when
 * there is too much. So does a route that is gone (ENETUNREACH, EHOSTUNREACH, ENETDOWN, EADDRNOTAVAIL, ENODEV: the
 * interface down or deleted, its address or route removed) on a connected socket (one entry per datagram: every datagram goes
 * the same way) once it failed twice in a row (the first may have been an error left pending): a batch costs 2
 * calls, not 2 per datagram. The publisher's destination then skips its sends for a while (publish-channel.ts).
 * On an unconnected socket ([data, port, address] triples: a unicast destination's receivers, a requester) a route
 * gone is the entry's own once it failed twice in a row: that address and port's later entries in the batch are
 * dropped with it (counted, named with `to`) and the rest sent on, so a receiver without a route costs a batch 3 or
 * 4 calls, not 3 per datagram each copying the rest (quadratic); the destination then leaves that receiver out of
 * its sends for a while (publish-channel.ts). A closed port (ECONNREFUSED) is not a lost route: resent as above.
 * @module
 */

/** What a sender counts; the publisher's and the retransmission server's counters both have these fields. */
export interface SendCounters {
  /** Datagrams the kernel took (the publisher: less those that came back, `bounced`; the retransmission server's include them). */
  datagrams: number;
  /** Bytes of those datagrams (UDP payload; one that came back taken off as the mean datagram's: `bounced`). */
  bytes: number;
  /** Datagrams refused, dropped on a full buffer, or come back. */
  sendErrors: number;
}

/** sendMany's argument: datagrams (a connected socket, 1 entry each) or [data, port, address] triples (3 each). */
export type SendArgs = readonly (Uint8Array | number | string)[];

/** The part of a Bun UDP socket the sender uses (tests substitute a stand-in). */
export interface SendManySocket {
  sendMany(args: never): number;
}

/** Error codes of a send that found the socket buffer full. */
const BUFFER_FULL = new Set(["EAGAIN", "EWOULDBLOCK", "ENOBUFS"]);

/** True when a send threw because the socket buffer was full (trying again at once cannot help). */
export function isBufferFull(err: unknown): boolean {
  return BUFFER_FULL.has(codeOf(err));
}

/** True for an error code of a send that found the socket buffer full (see isBufferFull). */
export function isBufferFullCode(code: string): boolean {
  return BUFFER_FULL.has(code);
}

/**
 * Error codes of a send that found no way to its destination (interface down, address or route gone; ENODEV: the
 * interface a multicast socket was set to was deleted, publish-channel.ts makes a new socket).
 */
const ROUTE_GONE = new Set(["ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EADDRNOTAVAIL", "ENODEV"]);

/** True for an error code of a send that found no route (see ROUTE_GONE). */
export function isRouteGone(code: string): boolean {
  return ROUTE_GONE.has(code);
}

function codeOf(err: unknown): string {
  return (err as { code?: unknown } | undefined)?.code?.toString() ?? "";
}

/** Where the datagrams of a refusal were going: an unconnected socket's entry (`onRefused`). */
export interface RefusedTo {
  port: number;
  address: string;
}

/**
 * Sends batches on behalf of one owner (a destination, the retransmission server): its counters, and `onRefused`
 * to name a loss (`datagrams` lost with `error`, whose code is `code`, "" when it has none; `to`: the address and
 * port they were for, when that is one triple entry's (refused twice, or its route gone; undefined for a full buffer's
 * rest of the batch and for a connected socket; reused object: read it in the call); cold, after counters.sendErrors
 * has been counted).
 */
export class BatchSender {
  /** Cold, after a refusal: sendMany argument arrays by entry count for the rest of a batch (created once each). */
  private readonly resendArgs: (Uint8Array | number | string)[][] = [];
  /** Cold, after a route gone on an unconnected socket: the rest of a batch without that address (by entry count). */
  private readonly compactArgs: (Uint8Array | number | string)[][] = [];
  private readonly refusedTo: RefusedTo = { port: 0, address: "" };

  constructor(
    private readonly counters: SendCounters,
    private readonly onRefused: (error: string, datagrams: number, code: string, to: RefusedTo | undefined) => void,
    /**
     * Empty the resend arrays after use, so they do not keep datagrams alive until the next resend of that length:
     * for datagrams made per send (the retransmission server's copies). The publisher's are views of its pool,
     * kept anyway, so it saves the pass (~3 % of the resend path's CPU per message, split-ab.ts).
     */
    private readonly releaseDatagrams = false,
  ) {}

  /**
   * HOT PATH (allocates nothing when the kernel takes the batch): one sendMany of `args`, `per` entries a datagram
   * (1 or 3); what it does not take goes to the cold resend. Returns how many datagrams the kernel took.
   */
  send(socket: SendManySocket, args: SendArgs, per: number): number {
    const total = args.length / per;
    let sent: number;
    try {
      sent = socket.sendMany(args as never);
    } catch (err) {
      return this.resend(socket, args, per, -1, err as Error);
    }
    if (sent !== total) return this.resend(socket, args, per, sent, undefined);
    const counters = this.counters;
    counters.datagrams += sent;
    for (let i = 0; i < sent; i++) counters.bytes += (args[i * per] as Uint8Array).byteLength;
    return sent;
  }

  /**
   * The socket's error handler: a datagram sendMany had counted as sent came back (see the module comment): taken off
   * `datagrams` and, as the mean datagram's, off `bytes` (which one came back is not told). Until 2026-12-07 its bytes
   * stayed counted: feeder_sent_bytes_total counted bounced datagrams that feeder_datagrams_sent_total did not.
   */
  bounced(error: string): void {
    const counters = this.counters;
    if (counters.datagrams > 0) {
      counters.bytes -= Math.min(counters.bytes, Math.round(counters.bytes / counters.datagrams));
      counters.datagrams--;
    }
    this.refused(error, 1, "");
  }

  /**
   * Cold: a sendMany that stopped before the end of its batch (`result` datagrams taken, or -1: it threw `err`).
   * Returns how many datagrams of the batch the kernel took in all.
   */
  private resend(socket: SendManySocket, args: SendArgs, per: number, result: number, err: Error | undefined): number {
    const counters = this.counters;
    let total = args.length / per;
    let done = 0;
    let taken = 0;
    let failedHere = false;
    for (;;) {
      if (result > 0) {
        counters.datagrams += result;
        for (let i = done; i < done + result; i++) counters.bytes += (args[i * per] as Uint8Array).byteLength;
        done += result;
        taken += result;
        failedHere = false;
      } else if (err !== undefined && isBufferFull(err)) {
        this.refused(err.message, total - done, codeOf(err));
        this.release(args);
        return taken;
      } else if (failedHere && per === 1 && isRouteGone(codeOf(err))) {
        this.refused(err!.message, total - done, codeOf(err)); // connected: the rest would go the same way
        return taken;
      } else if (failedHere && isRouteGone(codeOf(err))) {
        args = this.leaveOut(args, done, total, err!); // unconnected: that address's rest would go the same way
        total = args.length / 3;
        done = 0;
        failedHere = false;
      } else if (failedHere) {
        this.refused(err?.message ?? "sendMany took no datagram", 1, codeOf(err), per === 3 ? this.entryTo(args, done) : undefined);
        done++;
        failedHere = false;
      } else {
        failedHere = true; // maybe an error left pending by the datagram before: this one is tried once more
      }
      if (done >= total) {
        this.release(args);
        return taken;
      }
      let rest = this.resendArgs[(total - done) * per];
      if (rest === undefined) {
        rest = new Array<Uint8Array | number | string>((total - done) * per);
        this.resendArgs[rest.length] = rest;
      }
      for (let i = 0; i < rest.length; i++) rest[i] = args[done * per + i]!;
      try {
        result = socket.sendMany(rest as never);
        err = undefined;
      } catch (e) {
        result = -1;
        err = e as Error;
      }
      if (this.releaseDatagrams) rest.fill(0);
    }
  }

  /**
   * Cold: triple entry `done` of `args` met a route gone twice: it and every later entry to its address and port are
   * refused (one call of onRefused naming them); returns the other entries after `done`, in order.
   */
  private leaveOut(args: SendArgs, done: number, total: number, err: Error): SendArgs {
    const port = args[done * 3 + 1] as number;
    const address = args[done * 3 + 2] as string;
    let lost = 0;
    for (let i = done; i < total; i++) if (args[i * 3 + 1] === port && args[i * 3 + 2] === address) lost++;
    const length = (total - done - lost) * 3;
    let kept = this.compactArgs[length];
    if (kept === undefined) {
      kept = new Array<Uint8Array | number | string>(length);
      this.compactArgs[length] = kept;
    }
    let k = 0;
    for (let i = done; i < total; i++) {
      if (args[i * 3 + 1] === port && args[i * 3 + 2] === address) continue;
      kept[k++] = args[i * 3]!;
      kept[k++] = args[i * 3 + 1]!;
      kept[k++] = args[i * 3 + 2]!;
    }
    // (a second leaveOut in one batch copies from a longer compact array into a shorter one: never into itself)
    this.release(args);
    this.refusedTo.port = port;
    this.refusedTo.address = address;
    this.refused(err.message, lost, codeOf(err), this.refusedTo);
    return kept;
  }

  /** Cold: where triple entry `i` of `args` was going (the reused refusedTo). */
  private entryTo(args: SendArgs, i: number): RefusedTo {
    this.refusedTo.port = args[i * 3 + 1] as number;
    this.refusedTo.address = args[i * 3 + 2] as string;
    return this.refusedTo;
  }

  /** Cold: empties a compact array after use when the datagrams are made per send (see releaseDatagrams). */
  private release(args: SendArgs): void {
    if (this.releaseDatagrams && this.compactArgs[args.length] === args) (args as unknown[]).fill(0);
  }

  private refused(error: string, datagrams: number, code: string, to?: RefusedTo): void {
    this.counters.sendErrors += datagrams;
    this.onRefused(error, datagrams, code, to);
  }
}
