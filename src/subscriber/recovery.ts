/**
 * Gap recovery by retransmission (docs/wire-protocol.md §11.4): when a stream's datagram skips sequence numbers, the
 * subscriber asks the publisher's request server for the missing range at once, holds the stream's later datagrams
 * (its books are not `usable` meanwhile: behind, not wrong), applies the answer in order and then the held datagrams.
 * A RETRANSMIT datagram is accepted only for a range asked for and only at the gap's next sequence number, and so is
 * the live datagram itself arriving late there, or held and now next (reordered: it fills the gap without the
 * server). When the
 * range is gone (OUT_OF_RANGE), the request is refused (THROTTLED), the answer does not come within timeoutMs or
 * too many datagrams wait (maxHeld on its stream; maxHeldTotal on all streams: the request holding the most), it
 * falls back: the held datagrams are processed as if no request had been made (the
 * gap invalidates the books, and the next refresh repairs them, §6.3).
 * Cold path: it runs only after a loss; holding a datagram copies it.
 * @module
 */
import type { DatagramAuth } from "../wire/auth.ts";
import { encodeRetxControl, RETX_KIND_REQUEST, RETX_MAX_COUNT, type RetxControl } from "../wire/retransmit.ts";
import type { InstrumentBooks } from "./instrument-books.ts";
import type { StreamState } from "./streams.ts";
import type { SubscriberCounters } from "./subscriber-types.ts";

export const DEFAULT_RETRANSMIT_TIMEOUT_MS = 250;
/** What Recovery.divert makes of a live datagram. */
export const Divert = { PROCESS: 0, HELD: 1, FILLS: 2 } as const;
export type Divert = (typeof Divert)[keyof typeof Divert];
export const DEFAULT_MAX_HELD_DATAGRAMS = 8192;
/** Datagrams held by all open requests together (≈ 46 MB at 1400 bytes). */
export const DEFAULT_MAX_HELD_DATAGRAMS_TOTAL = 32_768;

interface Pending {
  st: StreamState;
  sessionId: number;
  sessionStartUs: number;
  /** The gap [from, to): from = the stream's nextSeq when it was found, to = the seqNum that revealed it. */
  from: number;
  to: number;
  deadlineMs: number;
  held: Uint8Array[];
  heldRecvUs: number[];
  /** Each held datagram's seqNum and seqNum + msgCount, and how many of them lie wholly within the gap (reordered). */
  heldSeq: number[];
  heldEnd: number[];
  heldInGap: number;
  /** Set when done (recovered) or failed: the held datagrams are to be processed. */
  done: "" | "recovered" | "fallback";
}

export interface RecoveryHost {
  /** Sends a request packet to the source's request server. */
  send(packet: Uint8Array, sourceId: number): void;
  /** The source has a request server to ask (its port, port + sourceId − sourceIdBase, is within 1..65535). */
  canAsk(sourceId: number): boolean;
  /** Processes one held datagram as if just received. */
  replay(bytes: Uint8Array, recvTimeUs: number): void;
}

export class Recovery {
  private readonly pending = new Map<number, Pending>();
  /** Streams whose held datagrams are replayed after a fallback: no new request for their first gap. */
  private readonly suppressed = new Set<number>();
  private readonly ready: Pending[] = [];
  /**
   * Held live datagrams that became their gap's next piece (reordered by more than one): applied next, in order. Each
   * names its stream, so forget drops it (before 2026-12-06 one queued behind another stream's fill, whose listener
   * evicted its stream, was still applied: it made the stream again from a datagram held since the gap).
   */
  private readonly fills: { st: StreamState; bytes: Uint8Array; recvTimeUs: number }[] = [];
  private readonly out = new Uint8Array(64);
  /** replayReady is applying fills: a call from inside leaves the next to that loop (no recursion per datagram). */
  private drainingFills = false;
  /** Finished requests whose held datagrams replayReady is replaying (nested calls stack up): forget reaches them. */
  private readonly replaying: Pending[] = [];
  /** Datagrams held by the open requests (not those of finished ones, replayed at once): against maxHeldTotal. */
  private heldTotal = 0;

  constructor(
    private readonly counters: SubscriberCounters,
    private readonly books: InstrumentBooks,
    private readonly host: RecoveryHost,
    private readonly auth: DatagramAuth | undefined,
    private readonly timeoutMs: number,
    private readonly maxHeld: number,
    private readonly maxHeldTotal: number,
  ) {}

  /** Datagrams held by the open requests together. */
  get held(): number {
    return this.heldTotal;
  }

  /** Requests in flight. */
  get active(): number {
    return this.pending.size;
  }

  /** A request for this stream is in flight: its books are held (not usable) until it ends. */
  holds(key: number): boolean {
    return this.pending.has(key);
  }

  /**
   * A live datagram of the stream (its first `length` bytes of `bytes`, copied only when held): HELD while a request
   * for the stream is pending, or when it reveals a gap and starts one; FILLS when it is the pending gap's next piece
   * (reordered on the way: apply it into the gap as an answer, then afterApplied); PROCESS = process it now.
   */
  divert(st: StreamState, seqNum: number, msgCount: number, bytes: Uint8Array, length: number, recvTimeUs: number, nowMs: number): Divert {
    const p = this.pending.get(st.key);
    if (p !== undefined) {
      if (p.sessionId !== st.sessionId || p.sessionStartUs !== st.sessionStartUs) {
        this.finish(p, "fallback"); // the stream moved to another session: the range is of no use
        return Divert.PROCESS;
      }
      // The gap's own next datagram, late on the live path (reordered): as good as the answer, which is then not
      // needed (with the server down or throttling, waiting for it left the books invalid for nothing).
      if (msgCount > 0 && seqNum === st.nextSeq && seqNum + msgCount <= p.to) return Divert.FILLS;
      if (p.held.length >= this.maxHeld) this.overCap(p);
      else if (this.heldTotal >= this.maxHeldTotal) this.overCap(this.largest());
      // Onto a request just fallen back too: replayed after this datagram's turn, in order, as its others.
      if (p.done === "") this.heldTotal++;
      p.held.push(bytes.slice(0, length));
      p.heldRecvUs.push(recvTimeUs);
      p.heldSeq.push(seqNum);
      p.heldEnd.push(seqNum + msgCount);
      if (msgCount > 0 && seqNum + msgCount <= p.to) p.heldInGap++;
      return Divert.HELD;
    }
    // A gap on a stream whose line is established (altNext −1: no unproven jump pending, §6.3).
    if (seqNum <= st.nextSeq || st.altNext >= 0 || this.suppressed.has(st.key)) return Divert.PROCESS;
    const count = seqNum - st.nextSeq;
    if (count > RETX_MAX_COUNT) return Divert.PROCESS; // too much to ask: the refresh is the faster repair
    // No server to ask (before, counted as asked, nothing sent, and the books held until the timeout for nothing).
    if (!this.host.canAsk(st.sourceId)) return Divert.PROCESS;
    if (this.heldTotal >= this.maxHeldTotal) this.overCap(this.largest());
    const np: Pending = {
      st,
      sessionId: st.sessionId,
      sessionStartUs: st.sessionStartUs,
      from: st.nextSeq,
      to: seqNum,
      deadlineMs: nowMs + this.timeoutMs,
      held: [bytes.slice(0, length)],
      heldRecvUs: [recvTimeUs],
      heldSeq: [seqNum],
      heldEnd: [seqNum + msgCount],
      heldInGap: 0, // it starts where the gap ends
      done: "",
    };
    this.pending.set(st.key, np);
    this.heldTotal++;
    this.books.setStreamStale(st.key, true); // behind until the answer is applied: not usable
    this.counters.retransmitRequests++;
    this.ask(np);
    return Divert.HELD;
  }

  /**
   * Cold: a new request socket (start() after stop()): each open request is asked again on it, its timeout counted
   * from now. Before, it was not: the answer to the first went to the closed socket, so the gap always fell back at
   * the timeout (books invalid until their refresh) though the range was still there to ask for.
   */
  resend(nowMs: number): void {
    for (const p of this.pending.values()) {
      if (p.done !== "") continue;
      p.deadlineMs = nowMs + this.timeoutMs;
      this.ask(p);
    }
  }

  private ask(p: Pending): void {
    const st = p.st;
    const req: RetxControl = { kind: RETX_KIND_REQUEST, channelId: st.channelId, sourceId: st.sourceId, sessionId: p.sessionId, seqNum: p.from, count: p.to - p.from, firstAvailable: 0, nextSeq: 0 };
    const n = encodeRetxControl(this.out, req, this.auth);
    this.host.send(this.out.subarray(0, n), st.sourceId);
  }

  /**
   * A RETRANSMIT datagram: true when it is the next piece of a gap asked for on this stream and session (process it
   * normally: its seqNum is the stream's nextSeq); false = drop it (counted).
   */
  accept(st: StreamState, seqNum: number, msgCount: number): boolean {
    const p = this.pending.get(st.key);
    if (
      p === undefined ||
      p.done !== "" ||
      p.sessionId !== st.sessionId ||
      p.sessionStartUs !== st.sessionStartUs ||
      msgCount === 0 ||
      seqNum !== st.nextSeq ||
      seqNum < p.from ||
      seqNum + msgCount > p.to
    ) {
      this.counters.retransmitRejected++;
      return false;
    }
    this.counters.retransmitDatagrams++;
    return true;
  }

  /**
   * After a piece of the gap was applied: a gap whose range is now complete is recovered; otherwise a held live
   * datagram that is now its next piece (reordered by more than one) is taken out to be applied next (replayReady).
   */
  afterApplied(st: StreamState): void {
    const p = this.pending.get(st.key);
    if (p === undefined || p.done !== "") return;
    if (st.nextSeq >= p.to) {
      this.finish(p, "recovered");
      return;
    }
    if (p.heldInGap === 0) return; // none reordered into the gap (the usual case: no scan)
    const next = st.nextSeq;
    for (let i = 0; i < p.held.length; i++) {
      if (p.heldSeq[i] !== next || p.heldEnd[i]! <= next || p.heldEnd[i]! > p.to) continue;
      this.fills.push({ st, bytes: p.held[i]!, recvTimeUs: p.heldRecvUs[i]! });
      for (const a of [p.held, p.heldRecvUs, p.heldSeq, p.heldEnd] as unknown[][]) a.splice(i, 1);
      p.heldInGap--;
      this.heldTotal--;
      return;
    }
  }

  /**
   * Cold: the stream left the table (a full one evicted it, silent; or a bogus session undone took it) or a revert
   * took it off its request's session: its request ends and its held datagrams are dropped, also those of one being
   * replayed (the rest of them; before 2026-12-06 they were still replayed) and those queued to fill its gap. Kept, they held their share of
   * maxHeldTotal until the timeout and were then replayed, making the stream again as new, its books from datagrams
   * received that long ago (or taking the undone session again).
   */
  forget(st: StreamState): void {
    const p = this.pending.get(st.key);
    if (p !== undefined && p.st === st) {
      this.pending.delete(st.key);
      this.heldTotal -= p.held.length;
    }
    for (const r of this.ready) {
      if (r.st !== st) continue;
      // Its books as its stream now (a fallback's wait for its replay, which will not come for them), as before.
      if (r.done === "fallback" && r.held.length > 0) this.books.setStreamStale(st.key, st.stale);
      r.held.length = 0;
    }
    for (const r of this.replaying) if (r.st === st) r.held.length = 0; // its replay loop reads the length anew
    for (let i = this.fills.length - 1; i >= 0; i--) if (this.fills[i]!.st === st) this.fills.splice(i, 1);
    this.suppressed.delete(st.key);
  }

  /**
   * A reply of the request server (OUT_OF_RANGE or THROTTLED) for one stream's request: fall back. Matched on the
   * session id alone (a reply, as a request, carries no session start, §11.2), and that is enough: a publisher draws
   * its id at random at every start (FeedPublisher: non-zero u32, no setting fixes it), and divert() ends a request as
   * soon as its stream moves to another session, so a previous session's refusal could end this one's request only
   * when both runs drew the same id (2^-32 a restart) and it answers a request from the same seqNum; its server could
   * not tell those two sessions apart either (it answers by id). What it would cost is a fallback (the books invalid
   * until their next refresh), never a wrong book. It must name the request's first seqNum and its count: one of
   * another range answers another request (before 2026-12-07 the count was not compared, so a late refusal of an
   * older request from the same seqNum ended the open one, a fallback though its answer was on the way). False when
   * it ended no request (late: its request already ended; or another range).
   */
  refused(channelId: number, sourceId: number, sessionId: number, seqNum: number, count: number): boolean {
    let ended = false;
    for (const p of this.pending.values()) {
      if (p.st.channelId === channelId && p.st.sourceId === sourceId && p.sessionId === sessionId && p.from === seqNum && p.to - p.from === count && p.done === "") {
        this.counters.retransmitRefused++;
        this.finish(p, "fallback");
        ended = true;
      }
    }
    return ended;
  }

  /** Timer: requests unanswered for timeoutMs fall back. */
  checkTimeouts(nowMs: number): void {
    for (const p of this.pending.values()) {
      if (p.done === "" && nowMs >= p.deadlineMs) {
        this.counters.retransmitTimeouts++;
        this.finish(p, "fallback");
      }
    }
  }

  /** True when held datagrams wait to be replayed (call replayReady). */
  get hasReady(): boolean {
    return this.ready.length > 0 || this.fills.length > 0;
  }

  /**
   * Applies the held datagrams that fill their gap next, then replays those of finished requests, in arrival order.
   * Each fill's processing queues the next (afterApplied) and calls this again: that call leaves the fills to the
   * loop already draining them, so a long run reordered into a gap is a loop, not a stack frame set per datagram
   * (8000 of them overflowed Node's stack: 'Maximum call stack size exceeded', the rest left to the timeout).
   */
  replayReady(): void {
    if (!this.drainingFills) {
      this.drainingFills = true;
      try {
        while (this.fills.length > 0) {
          const f = this.fills.shift()!;
          this.host.replay(f.bytes, f.recvTimeUs); // a live datagram at the gap's next seq: divert says FILLS
        }
      } finally {
        this.drainingFills = false;
      }
    }
    while (this.ready.length > 0) {
      const p = this.ready.shift()!;
      const key = p.st.key;
      if (p.done === "fallback") this.suppressed.add(key);
      // Its books are held until its turn here, a fallback's too: made as its stream when it ended (before
      // 2026-12-07), a listener of an earlier one's replay read them usable, their gap not yet processed (a gap behind).
      if (p.done === "recovered" || p.held.length > 0) this.books.setStreamStale(key, p.st.stale); // else forget did
      this.replaying.push(p);
      try {
        for (let i = 0; i < p.held.length; i++) {
          if (i === 1) this.suppressed.delete(key); // only the datagram that revealed the gap goes the old way
          this.host.replay(p.held[i]!, p.heldRecvUs[i]!);
        }
      } finally {
        this.replaying.pop();
        this.suppressed.delete(key);
      }
    }
  }

  /**
   * Cold: too many datagrams wait (maxHeld on the request's stream, or maxHeldTotal on all): the request falls back,
   * its held datagrams replayed as if never asked (the gap invalidates its books until their refresh).
   */
  private overCap(p: Pending): void {
    this.counters.retransmitOverCap++;
    this.finish(p, "fallback");
  }

  /**
   * Cold: the open request holding the most datagrams, which falls back when all together reach maxHeldTotal (a
   * stream flooded with forged gaps, or a burst on one, costs the request of that stream, not those of the others).
   */
  private largest(): Pending {
    let most: Pending | undefined;
    for (const p of this.pending.values()) if (most === undefined || p.held.length > most.held.length) most = p;
    return most!;
  }

  private finish(p: Pending, how: "recovered" | "fallback"): void {
    p.done = how;
    this.pending.delete(p.st.key);
    this.heldTotal -= p.held.length;
    if (how === "recovered") this.counters.retransmitRecovered++;
    else this.counters.retransmitFallbacks++;
    this.ready.push(p); // its books stay held until replayReady reaches it
  }
}
