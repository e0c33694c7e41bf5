/**
 * The retransmission request server (docs/wire-protocol.md §11), MoldUDP64-style: a unicast UDP socket of its own
 * (never the live destinations' sockets, so an answer never queues behind or in front of live datagrams in one
 * sendmmsg) answers `(channel, source, session, seqNum, count)` with the original datagrams from the channel's
 * RetransmitRing, flagged RETRANSMIT (CRC and HMAC recomputed: wire/retransmit.ts markRetransmit), or with an
 * OUT_OF_RANGE / THROTTLED control packet. Requests are accepted only from publish.retransmit.allow, verified (CRC;
 * HMAC when the feed is keyed) and rate-limited per requester address (token buckets on requests and on bytes) and
 * for all requesters together (a bucket on bytes: a request's source address is whatever it claims, so per-address
 * buckets alone let spoofed addresses multiply what a small request makes the server send).
 * Requests are answered on the turn after the one that received them (`setImmediate`), at most REQUESTS_PER_TURN
 * per turn, round robin over requesters (the rest on the next turns, so a flood does not hold the live feed): with Bun
 * 1.4.5, a reply sent from inside the socket's own data callback (or a microtask of it) that bounces is reported to
 * the error handler twice, sent on a later turn once (test/net/review-bounce.test.ts). An answer's datagrams go out
 * at most ANSWER_DATAGRAMS_PER_TURN per turn over all answers, the shortest first among those begun together (later
 * short ones do not hold a long one back for good: sendAnswers), so a large answer never
 * holds the publisher's live feed (the same thread) for longer than that: before, a whole ring went out in one turn
 * (a request for ~5,900 datagrams held the thread ~100 ms on the project's VM). The checks that need no
 * state and answer nothing (allow, then the request's own validity) run in the data callback, so a flood of
 * refused datagrams costs no allocation and queues nothing.
 * Cold path: it runs only after a subscriber lost something; it allocates per request and per answer.
 * @module
 */
import { inCidrs, parseCidr, type Cidr } from "../core/cidr.ts";
import { errorText } from "../core/error-text.ts";
import { monoMs } from "../core/clock.ts";
import { RateLimitedLog, silentLogger, type Logger } from "../core/log.ts";
import type { RetransmitConfig } from "../config/types.ts";
import type { DatagramAuth } from "../wire/auth.ts";
import {
  decodeRetxControl,
  encodeRetxControl,
  markRetransmit,
  RETX_KIND_OUT_OF_RANGE,
  RETX_KIND_REQUEST,
  RETX_KIND_THROTTLED,
  RETX_MAX_COUNT,
  type RetxControl,
} from "../wire/retransmit.ts";
import type { RetransmitRing } from "./retransmit-ring.ts";
import { BatchSender, isBufferFull, type SendCounters } from "./send-batch.ts";

/**
 * Requester addresses with a bucket of their own at most. A new one takes the place of the least recently seen
 * only if that one's buckets have refilled to full (it loses nothing it was owed), starting no fuller than the
 * overflow bucket; otherwise new requesters share that one overflow bucket until a place frees. Before, the table was cleared at this bound: requests claiming 4,096
 * (spoofed) addresses gave every requester, the heaviest included, a full bucket again.
 */
export const MAX_REQUESTERS = 4096;
/** Datagrams per sendMany call of an answer. */
const ANSWER_BATCH = 64;
/**
 * Answer datagrams sent per turn of the event loop at most, over all answers in progress; the rest go on the next
 * turns, so live datagrams get out in between. Two batches: one turn's slice of 1,400-byte datagrams to a loopback
 * receiver took 0.7–2.7 ms (copies, checksums, sendmmsg; the project's VM at a load average of 7–10).
 */
export const ANSWER_DATAGRAMS_PER_TURN = 128;
/**
 * Requests held for the next turn at most; beyond it a request is dropped unanswered and counted throttled. A turn
 * reads the socket until it is empty, so a sender that keeps ahead of the data callback keeps one turn reading
 * (measured, Bun 1.4.5: 1792 datagrams in one turn, 7× what the 208 KiB receive buffer holds): without a bound, the
 * queue and the replies of the next turn would grow with the flood. The bound is shared fairly: when the queue is
 * full, a request from a requester that holds fewer than the largest holder takes that holder's newest place (see
 * enqueue), so one flooding address cannot keep every other requester's requests out.
 */
export const MAX_PENDING_REQUESTS = 4096;
/**
 * Queued requests handled per turn at most (each a THROTTLED or OUT_OF_RANGE reply, or an answer begun); the rest
 * keep their order and places for the next turns. Handling a full queue at once held the publisher's thread for
 * 57–80 ms (4,096 replies, measured on the project's VM).
 */
export const REQUESTS_PER_TURN = 128;
/**
 * Answers in progress at most (begun, not all sent); beyond it a request is answered THROTTLED. Without it, requests
 * handled faster than their answers go out (128 a turn, within their buckets: many requester addresses, which UDP
 * lets a request claim) queued answers without bound, and each turn's check of the waiting ones for eviction
 * (nextAnswerTurn) grew with them. Legitimate load is a few per subscriber that lost something.
 */
export const MAX_ANSWERS_IN_PROGRESS = 1024;
/**
 * A requester address is sent at most one THROTTLED reply per this many ms; its other requests over a bucket within
 * it are counted (throttled, throttledRepliesSuppressed) and not answered: they time out. Before, every request over
 * a bucket was answered one to one, so a requester flooding past its buckets made the server send a reply per
 * request (128 a turn), at an address a request can name at will.
 */
export const THROTTLED_REPLY_INTERVAL_MS = 100;

/**
 * What the server did. Every packet received ends in exactly one of refusedNetwork, badRequests, throttled,
 * outOfRange or answered (they add up to received), so /metrics exports them as one counter by result.
 */
export interface RetransmitServerCounters extends SendCounters {
  /**
   * Control packets received (any kind), counted with their result: refusedNetwork, badRequests and a full queue in
   * the data callback, the rest on the next turn.
   */
  received: number;
  /** From an address outside publish.retransmit.allow: dropped unanswered. */
  refusedNetwork: number;
  /** Not a valid request (magic, length, CRC, HMAC, kind, count, a u64 of 2^53 or more): dropped unanswered. */
  badRequests: number;
  /**
   * Over the requester's request or byte bucket, or the byte bucket of all requesters, or beyond
   * MAX_ANSWERS_IN_PROGRESS: answered THROTTLED (at most once per THROTTLED_REPLY_INTERVAL_MS per requester, else
   * unanswered); beyond MAX_PENDING_REQUESTS: dropped unanswered.
   */
  throttled: number;
  /** Another session or source, an unknown channel, or a range not (or no longer) in the ring: answered OUT_OF_RANGE. */
  outOfRange: number;
  /**
   * Requests answered with datagrams (one the live feed outran is cut: the rest of it is lost, see sendErrors, and
   * its requester is sent OUT_OF_RANGE).
   */
  answered: number;
  /**
   * Of throttled, those handled but sent no THROTTLED reply (within THROTTLED_REPLY_INTERVAL_MS of their requester's
   * last one): their requesters time out instead of falling back at once. Not a result of its own (not in the sum
   * above), and not the requests dropped beyond MAX_PENDING_REQUESTS (never handled, unanswered too).
   */
  throttledRepliesSuppressed: number;
  /**
   * Exceptions while a request or an answer was handled (a bug, or input no check foresaw): that request or answer
   * is dropped, its requester times out and falls back; the others are served. Not a result of its own (the request
   * may have been counted under one before it threw).
   */
  failures: number;
  // SendCounters: datagrams and bytes retransmitted (answer datagrams the kernel took, including any that came back
  // later); sendErrors, replies lost: refused twice or on a full socket buffer (answer datagrams, OUT_OF_RANGE and
  // THROTTLED replies alike), come back because the requester has gone, or answer datagrams the ring evicted before
  // their turn (ANSWER_DATAGRAMS_PER_TURN), or the rest of an answer one of whose datagrams was lost (either way their
  // requester is then told OUT_OF_RANGE). A requester whose reply is lost
  // times out and falls back.
}

interface Bucket {
  /** Its key in the table ("" for the overflow and total buckets). */
  address: string;
  requests: number;
  bytes: number;
  /** The last refill, on the monotonic clock (opts.monoNow). */
  lastMs: number;
  /** When this requester was last sent THROTTLED (same clock; −Infinity: never). */
  throttledReplyMs: number;
  /** Neighbours in the table's order of last use (intrusive, so a request moves it without allocating). */
  older: Bucket | undefined;
  newer: Bucket | undefined;
}

export interface RetransmitServerOptions {
  config: RetransmitConfig;
  /** Added to config.port (worker i: i + 1, its source id − publish.source_id), so every source of one host has its own server. */
  portOffset: number;
  /** The ring of each channel id this publisher sends on. */
  rings: ReadonlyMap<number, RetransmitRing>;
  sourceId: number;
  sessionId: number;
  auth: DatagramAuth | undefined;
  log?: Logger;
  /**
   * The buckets' clock, ms (default core/clock.ts monoMs). Monotonic: on Date.now a wall clock stepped forward
   * refilled every bucket at once (a full second's worth more sent), and one stepped back refilled nothing until the
   * next request (a requester throttled for up to a second of refill).
   */
  monoNow?: () => number;
}

type ServerSocket = Bun.udp.Socket<"uint8array">;

/** A valid request from an allowed address, answered on the next turn. */
interface Pending {
  req: RetxControl;
  port: number;
  address: string;
}

/** One requester address's requests waiting, oldest first from `head` (taken from the front, dropped from the back). */
class Waiting {
  readonly items: (Pending | undefined)[] = [];
  head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  /** The oldest, taken; the taken places are let go once they are half of the array (amortized O(1) per request). */
  take(): Pending {
    const p = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return p;
  }
}

/** An answer being sent: the next datagram starts at `seq`; `left` datagrams are still to go. */
interface Answer {
  /**
   * Its place among the answers in progress (smallest first, fixed when begun): the answer clock then plus its
   * datagrams, i.e. when it would end were it sent alone from its arrival (see sendAnswers).
   */
  finish: number;
  /** The request (an OUT_OF_RANGE reply names it when the answer is cut). */
  req: RetxControl;
  /** The requester's bucket charged for the whole answer when it began (refunded what a cut leaves unsent). */
  bucket: Bucket;
  /** Bytes charged to `bucket` and the total bucket not yet taken by the kernel. */
  unsentBytes: number;
  ring: RetransmitRing;
  /** The ring's generation when the answer began: once it differs, `seq` may name another sequence's datagram. */
  generation: number;
  seq: number;
  left: number;
  port: number;
  address: string;
}

export class RetransmitServer {
  readonly counters: RetransmitServerCounters = {
    received: 0,
    refusedNetwork: 0,
    badRequests: 0,
    throttled: 0,
    outOfRange: 0,
    answered: 0,
    throttledRepliesSuppressed: 0,
    failures: 0,
    datagrams: 0,
    bytes: 0,
    sendErrors: 0,
  };
  private readonly opts: RetransmitServerOptions;
  private readonly allow: Cidr[];
  private readonly buckets = new Map<string, Bucket>();
  /** The table's least and most recently used buckets (MAX_REQUESTERS at most). */
  private oldest: Bucket | undefined;
  private newest: Bucket | undefined;
  /**
   * Shared by new requesters while the table is full and its least recently used bucket is not (one requester's
   * rates for all of them, one THROTTLED reply per interval among them).
   */
  private readonly overflow: Bucket;
  /**
   * Bytes all requesters together may still be sent (total_bytes_per_sec, burst one second's worth). Before, only
   * per address: requests claiming many addresses (UDP: any in allow) each began with a full bucket, and what one
   * small request could make the server send (up to a whole ring) was multiplied by the addresses, towards the
   * hosts they named.
   */
  private readonly total: Bucket;
  private readonly log: Logger;
  private readonly monoNow: () => number;
  private readonly badLog: RateLimitedLog;
  private readonly refusedLog: RateLimitedLog;
  private readonly overflowLog: RateLimitedLog;
  private readonly lostLog: RateLimitedLog;
  private readonly failedLog: RateLimitedLog;
  private readonly reply = new Uint8Array(64);
  private socket: ServerSocket | undefined;
  /** Valid requests from allowed addresses not yet handled, over every requester: MAX_PENDING_REQUESTS at most. */
  private queued = 0;
  /** Per requester address with requests waiting, those requests (an address leaves when its last is taken). */
  private held = new Map<string, Waiting>();
  /**
   * The requesters with requests waiting, in the order they are served (from `lineHead`): each once, the one served
   * goes to the back while it has more. Kept from turn to turn, so a turn costs what it handles, not what waits.
   */
  private line: (Waiting | undefined)[] = [];
  private lineHead = 0;
  /** The requester found holding the most when the queue was last full (checked again before each use). */
  private largest: Waiting | undefined;
  /**
   * While the queue is full, no requester holds more than this (the last scan's answer): an eviction only shrinks a
   * holder, and the requester it admits holds fewer than the one evicted from.
   */
  private heldAtMost = Infinity;
  private drainTimer: ReturnType<typeof setImmediate> | undefined;
  /** Answers in progress, fewest datagrams left first (sendAnswers), and what this turn may still send of them. */
  private readonly answers: Answer[] = [];
  /** Answer datagrams sent so far (all answers): the clock an answer's `finish` is counted on. */
  private answerClock = 0;
  private answerBudget = ANSWER_DATAGRAMS_PER_TURN;
  /** Armed once this turn's budget is touched: gives the next turn its budget and sends on. */
  private answerTimer: ReturnType<typeof setImmediate> | undefined;
  /** Answers' sendMany: what the kernel did not take is resent or dropped, counted in sendErrors and logged. */
  private readonly sender = new BatchSender(this.counters, (error, datagrams) => this.lostLog.hit(`answer datagrams lost (${datagrams}): ${error}`), true);

  constructor(opts: RetransmitServerOptions) {
    this.opts = opts;
    this.allow = opts.config.allow.map(parseCidr);
    this.monoNow = opts.monoNow ?? monoMs;
    const nowMs = this.monoNow();
    this.total = { address: "", requests: 0, bytes: opts.config.totalBytesPerSec, lastMs: nowMs, throttledReplyMs: -Infinity, older: undefined, newer: undefined };
    const { requestsPerSec, bytesPerSec } = opts.config;
    this.overflow = { address: "", requests: requestsPerSec, bytes: bytesPerSec, lastMs: nowMs, throttledReplyMs: -Infinity, older: undefined, newer: undefined };
    this.log = opts.log ?? silentLogger;
    this.badLog = new RateLimitedLog(this.log, "warn", "retransmission request refused: not a valid request");
    this.refusedLog = new RateLimitedLog(this.log, "warn", "retransmission request refused: requester not in publish.retransmit.allow");
    this.lostLog = new RateLimitedLog(this.log, "warn", "retransmission reply lost");
    this.failedLog = new RateLimitedLog(this.log, "error", "exception while a retransmission request or answer was handled; that one dropped (its requester times out), the others served");
    this.overflowLog = new RateLimitedLog(this.log, "warn", `retransmission request dropped: ${MAX_PENDING_REQUESTS} already wait for the next turn`);
  }

  /** The bound port (config.port + offset, or the kernel's pick for port 0). */
  get port(): number {
    return this.socket?.port ?? 0;
  }

  get host(): string {
    return this.opts.config.host;
  }

  async start(): Promise<void> {
    const port = this.opts.config.port === 0 ? 0 : this.opts.config.port + this.opts.portOffset;
    try {
      this.socket = await Bun.udpSocket({
        hostname: this.opts.config.host,
        port,
        binaryType: "uint8array",
        socket: {
          // Nothing may throw out of a socket callback or a turn's callback: under Bun that ends the process.
          data: (_s, data, fromPort, fromAddr) => {
            try {
              this.enqueue(data, fromPort, fromAddr);
            } catch (err) {
              this.failed(err, fromAddr);
            }
          },
          error: (_s, err) => this.onSocketError(err),
        },
      });
    } catch (err) {
      // Named as the start-up checks name it; a worker's restart runs no such check, and its
      // replaced thread, not ended yet, may be what holds the port.
      const e = err as NodeJS.ErrnoException;
      const offset = this.opts.portOffset;
      const whose = port === 0 || offset === 0 ? "" : ` (worker ${offset - 1}'s server: port + ${offset})`;
      const holders = offset === 0 ? "another process given the same port, or an old one still closing" : "another process given the same port, an old one still closing, or this worker's replaced thread not ended yet";
      const why = e.code === "EADDRINUSE" ? `the port is held (EADDRINUSE: ${holders})` : e.message;
      throw new Error(`publish.retransmit.listen ${this.opts.config.host}:${port}${whose}: ${why}`);
    }
    this.log.info("retransmission server listening", { address: `${this.opts.config.host}:${this.port}`, ringBytes: this.opts.config.ringBytes });
  }

  stop(): void {
    this.socket?.close();
    this.socket = undefined;
    if (this.drainTimer !== undefined) clearImmediate(this.drainTimer);
    this.drainTimer = undefined;
    if (this.answerTimer !== undefined) clearImmediate(this.answerTimer);
    this.answerTimer = undefined;
    this.answers.length = 0;
    this.clearQueue();
  }

  private clearQueue(): void {
    this.queued = 0;
    this.held = new Map();
    this.line = [];
    this.lineHead = 0;
    this.largest = undefined;
    this.heldAtMost = Infinity;
  }

  /**
   * The socket's data callback: refuses what needs no state to refuse and never replies (see the module comment);
   * the decoded request outlives Bun's buffer.
   */
  private enqueue(data: Uint8Array, port: number, address: string): void {
    const req = this.screen(data, address);
    if (req === undefined) return;
    const mine = this.held.get(address);
    if (this.queued >= MAX_PENDING_REQUESTS) {
      // Full: a requester holding fewer than the largest holder (less one, so two equal holders do not trade places)
      // takes that holder's newest place; the one dropped is counted and logged under its own address. Otherwise
      // this request is the one dropped. Either way a dropped request is unanswered and its requester times out.
      const victim = this.largestHolder((mine?.size ?? 0) + 1);
      this.counters.received++;
      this.counters.throttled++;
      // The victim holds two or more (more than this requester's one more): it keeps a request, and its place in line.
      this.overflowLog.hit(undefined, victim === undefined ? address : victim.items.pop()!.address);
      if (victim === undefined) return;
      this.queued--;
    }
    this.place({ req, port, address });
    this.drainTimer ??= setImmediate(this.drain);
  }

  /** Appends a request to its requester's (the caller has made room); a requester new to the queue joins the line's back. */
  private place(p: Pending): void {
    let mine = this.held.get(p.address);
    if (mine === undefined) {
      this.held.set(p.address, (mine = new Waiting()));
      this.line.push(mine);
    }
    mine.items.push(p);
    this.queued++;
  }

  /**
   * The requests of a requester holding more than `than`, the one holding the most when it has to be looked for:
   * the last one found is kept while it still holds more, and a scan that found none above `than` is not repeated
   * for as much or more, so a flood from one address or from many costs no scan per request.
   */
  private largestHolder(than: number): Waiting | undefined {
    if (this.largest !== undefined && this.largest.size > than) return this.largest;
    if (than >= this.heldAtMost) return undefined;
    this.largest = undefined;
    for (const w of this.held.values()) if (w.size > (this.largest?.size ?? than)) this.largest = w;
    this.heldAtMost = this.largest?.size ?? than;
    return this.largest;
  }

  /**
   * One turn's share of the queue: REQUESTS_PER_TURN requests, round robin over the requester addresses, each one's
   * oldest: the requester at the front of the line is served one and goes to the back if it has more, so a flooder's
   * thousands queued ahead do not hold another requester's request back for the turns they take, and no requester is
   * served twice while another waits for its first. The line and the requests left stay as they are for the next
   * turn, new arrivals behind them: until 2026-12-06 each turn rebuilt the queue from what was left (0.25–0.4 ms with
   * 4,096 addresses waiting), and began its rounds again with the requester of the oldest request left, so a flooder
   * whose request was oldest was served once every turn ahead of requesters still waiting for their first.
   */
  private readonly drain = (): void => {
    this.drainTimer = undefined;
    // The queue shrinks here: the last scan's bound on holders (kept only while the queue stays full) is void.
    this.largest = undefined;
    this.heldAtMost = Infinity;
    const line = this.line;
    for (let handled = 0; handled < REQUESTS_PER_TURN && this.lineHead < line.length; handled++) {
      const w = line[this.lineHead]!;
      line[this.lineHead++] = undefined;
      const r = w.take();
      this.queued--;
      if (w.size > 0) line.push(w);
      else this.held.delete(r.address);
      try {
        this.handle(r.req, r.port, r.address);
      } catch (err) {
        this.failed(err, r.address); // that request alone: the turn goes on with the next requester's
      }
    }
    // Served places let go once they are half the line (amortized O(1) per request).
    if (this.lineHead >= 64 && this.lineHead * 2 >= line.length) {
      line.splice(0, this.lineHead);
      this.lineHead = 0;
    }
    if (this.queued > 0) this.drainTimer ??= setImmediate(this.drain);
  };

  /** Handles one request datagram at once: the data callback's checks, then the answer (public for tests of the checks). */
  onRequest(data: Uint8Array, fromPort: number, fromAddr: string): void {
    const req = this.screen(data, fromAddr);
    if (req !== undefined) this.handle(req, fromPort, fromAddr);
  }

  /**
   * The checks that need no state and answer nothing: the requester's network, then the request itself. Counts a
   * refused one (received and its result) and returns undefined; allocates nothing for a datagram from outside
   * allow or one that is not a well-formed control packet.
   */
  private screen(data: Uint8Array, fromAddr: string): RetxControl | undefined {
    if (!inCidrs(fromAddr, this.allow)) {
      this.counters.received++;
      this.counters.refusedNetwork++;
      this.refusedLog.hit(undefined, fromAddr);
      return undefined;
    }
    const req = decodeRetxControl(data, this.opts.auth);
    if (typeof req === "string" || req.kind !== RETX_KIND_REQUEST || req.count === 0 || req.count > RETX_MAX_COUNT) {
      this.counters.received++;
      this.counters.badRequests++;
      this.badLog.hit(typeof req === "string" ? req : `kind ${req.kind}, count ${req.count}`, fromAddr);
      return undefined;
    }
    return req;
  }

  /** Answers a valid request from an allowed address: THROTTLED, OUT_OF_RANGE or the datagrams. */
  private handle(req: RetxControl, fromPort: number, fromAddr: string): void {
    this.counters.received++;
    const bucket = this.refill(fromAddr);
    const ring = this.opts.rings.get(req.channelId);
    if (bucket.requests < 1) {
      this.throttle(req, ring, bucket, fromPort, fromAddr);
      return;
    }
    bucket.requests -= 1;
    const sameSource = req.sourceId === this.opts.sourceId && req.sessionId === this.opts.sessionId;
    const first = ring?.find(req.seqNum) ?? -1;
    const endSeq = req.seqNum + req.count;
    if (ring === undefined || !sameSource || first < 0 || endSeq > ring.nextSeq) {
      this.counters.outOfRange++;
      this.answerControl(RETX_KIND_OUT_OF_RANGE, req, ring?.firstSeq ?? 0, ring?.nextSeq ?? 0, fromPort, fromAddr);
      return;
    }
    // The scan stops once past what the buckets allow: a request is then THROTTLED after reading no more datagrams
    // than it could have been sent. Before, each read its whole range (up to 65,535 datagrams) first: 128 requests
    // for ranges of one-message datagrams, over the buckets, held the publisher's thread ~120 ms a turn.
    const total = this.refillTotal();
    const affordable = this.answers.length >= MAX_ANSWERS_IN_PROGRESS ? -1 : Math.min(bucket.bytes, total.bytes);
    let last = first;
    let bytes = 0;
    while (bytes <= affordable && last < ring.size && ring.seqOf(last) < endSeq) bytes += ring.lengthOf(last++);
    if (bytes > affordable) {
      this.throttle(req, ring, bucket, fromPort, fromAddr);
      return;
    }
    bucket.bytes -= bytes;
    total.bytes -= bytes;
    this.counters.answered++;
    // In order of finish (behind those with the same): see sendAnswers.
    const left = last - first;
    const answer: Answer = { finish: this.answerClock + left, req, bucket, unsentBytes: bytes, ring, generation: ring.generation, seq: req.seqNum, left, port: fromPort, address: fromAddr };
    const answers = this.answers;
    let at = answers.length;
    while (at > 0 && answers[at - 1]!.finish > answer.finish) at--;
    answers.splice(at, 0, answer);
    this.sendAnswers();
  }

  /**
   * A request over a bucket: THROTTLED, with what the ring holds (as every reply says, docs/wire-protocol.md §11.2;
   * before, the request bucket's said 0 and 0, "nothing held"), unless this requester was sent one less than
   * THROTTLED_REPLY_INTERVAL_MS ago (`bucket` was just refilled: its lastMs is now).
   */
  private throttle(req: RetxControl, ring: RetransmitRing | undefined, bucket: Bucket, port: number, address: string): void {
    this.counters.throttled++;
    if (bucket.lastMs - bucket.throttledReplyMs < THROTTLED_REPLY_INTERVAL_MS) {
      this.counters.throttledRepliesSuppressed++;
      return;
    }
    bucket.throttledReplyMs = bucket.lastMs;
    this.answerControl(RETX_KIND_THROTTLED, req, ring?.firstSeq ?? 0, ring?.nextSeq ?? 0, port, address);
  }

  /**
   * Sends what this turn's budget allows of the answers in progress, the one with the smallest `finish` first (the
   * answer clock, datagrams sent over all answers, when it began, plus its datagrams: when it would end had it been
   * sent alone since), and arms the next turn's budget once this one is touched. Among answers begun together that is
   * the shortest first, so a short answer is not kept behind long ones, and answers of equal length end one after the
   * other, each as early as it can: a batch of each in turn (before 2026-12-06) ended them all together, as late as
   * all of them, past their requesters' timeout for all where one at a time most would have made it. A later answer
   * goes ahead of one begun earlier only if it is shorter than what the earlier one would have left by now, so once
   * L more datagrams have gone after an answer of L came, nothing later goes ahead of it: ordered by datagrams left (until
   * 2026-12-06), a stream of shorter answers kept a long one waiting until the ring evicted it (its requester then
   * told OUT_OF_RANGE). Datagrams are found again by sequence number each time: the ring moves between turns (the
   * live feed pushes, the oldest are evicted).
   */
  private sendAnswers(): void {
    const answers = this.answers;
    while (this.answerBudget > 0 && answers.length > 0) {
      const a = answers[0]!;
      const n = Math.min(a.left, ANSWER_BATCH, this.answerBudget);
      let sent: boolean;
      try {
        sent = this.sendBatch(a, n);
        if (!sent) this.cut(a);
      } catch (err) {
        // That answer alone is dropped (kept, it would throw again at every turn, first in line).
        answers.shift();
        this.refund(a);
        this.failed(err, a.address);
        continue;
      }
      if (!sent) {
        answers.shift();
        continue;
      }
      this.answerClock += n;
      this.answerBudget -= n;
      if (a.left === 0) answers.shift();
    }
    if (this.answerBudget < ANSWER_DATAGRAMS_PER_TURN) this.answerTimer ??= setImmediate(this.nextAnswerTurn);
  }

  /** A turn's budget: first the answers waiting whose rest has left the ring meanwhile are cut, then sendAnswers. */
  private readonly nextAnswerTurn = (): void => {
    this.answerTimer = undefined;
    this.answerBudget = ANSWER_DATAGRAMS_PER_TURN;
    const answers = this.answers;
    let kept = 0;
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      try {
        if (a.ring.generation !== a.generation || a.ring.find(a.seq) < 0) this.cut(a);
        else answers[kept++] = a;
      } catch (err) {
        this.refund(a);
        this.failed(err, a.address); // dropped, as in sendAnswers
      }
    }
    answers.length = kept;
    this.sendAnswers();
  };

  /**
   * The live feed outran an answer: its rest has left the ring, lost. Its requester is told so, as for a range the
   * ring no longer holds (the request's own seqNum and count, which its open request is matched by), and falls back
   * to the refresh at once: before, nothing was sent and it waited out its timeout.
   */
  private cut(a: Answer, why = "left the ring before their turn"): void {
    this.refund(a);
    this.counters.sendErrors += a.left;
    if (a.left > 0) this.lostLog.hit(`answer cut: ${a.left} datagrams ${why}`, a.address);
    this.answerControl(RETX_KIND_OUT_OF_RANGE, a.req, a.ring.firstSeq, a.ring.nextSeq, a.port, a.address);
  }

  /**
   * An answer ends before all of it was sent: the bytes charged for it that the kernel never took go back to its
   * requester's bucket and the total one (each capped at its burst). Before, they stayed charged: a requester whose
   * answer the live feed outran, or lost a datagram of, was throttled for traffic it never received. A bucket since
   * given to another address (it had refilled: see refill) is not refunded.
   */
  private refund(a: Answer): void {
    const unsent = a.unsentBytes;
    a.unsentBytes = 0;
    if (!(unsent > 0)) return;
    const b = a.bucket;
    if (b === this.overflow || b.address === a.address) b.bytes = Math.min(this.opts.config.bytesPerSec, b.bytes + unsent);
    this.total.bytes = Math.min(this.opts.config.totalBytesPerSec, this.total.bytes + unsent);
  }

  /**
   * The next n datagrams of an answer: copies flagged RETRANSMIT, as [datagram, port, address] triples, in one
   * sendMany. False when its next datagram is no longer in the ring; when one of them is lost, the answer ends
   * there (cut: its requester told OUT_OF_RANGE). An answer to a requester that has gone bounces
   * and leaves an error pending on this socket, which fails its next send, maybe the first datagram of another
   * requester's answer when requests came together (measured, Bun 1.4.5: test/app/rev12-retransmit-bounce.test.ts):
   * send-batch.ts resends the rest from where sendMany stopped.
   */
  private sendBatch(a: Answer, n: number): boolean {
    const ring = a.ring;
    // A ring cleared since the answer began (its sequence started over: cannot happen within one publisher session
    // today) holds none of it, whatever seqNums it holds now: the answer ends (OUT_OF_RANGE). Before, its rest was
    // found again by seqNum and datagrams of the new sequence went out under the range asked. The ring only loses its
    // oldest otherwise, so once `seq` is found the answer's next n are there after it (checked all the same).
    if (ring.generation !== a.generation) return false;
    const first = ring.find(a.seq);
    if (first < 0 || first + n > ring.size) return false;
    const socket = this.socket;
    const args: (Uint8Array | number | string)[] = [];
    for (let i = first; i < first + n; i++) {
      const copy = ring.copyOf(i);
      markRetransmit(copy, copy.length, this.opts.auth);
      args.push(copy, a.port, a.address);
    }
    a.seq = ring.seqOf(first + n - 1) + ring.msgCountOf(first + n - 1);
    a.left -= n;
    const bytesBefore = this.counters.bytes;
    const taken = socket === undefined ? n : this.sender.send(socket, args, 3);
    a.unsentBytes -= this.counters.bytes - bytesBefore;
    if (taken < n) {
      // One of them lost (a full socket buffer, one refused twice): the requester takes only its gap's next
      // datagram, so nothing after the hole is of use to it. It is told now and the rest is not sent: before, the
      // rest went out (its buckets' worth) to be dropped, and the requester waited out its timeout.
      this.cut(a, "not sent: one before them was lost");
      a.left = 0;
    }
    return true;
  }

  /** Cold: handling a request or an answer threw; counted and logged (at most a line per 5 s), never rethrown. */
  private failed(err: unknown, address: string): void {
    this.counters.failures++;
    this.failedLog.hit(errorText(err), address);
  }

  /**
   * Bun calls this, with no error, once per reply that came back: its requester has gone (port unreachable). Nothing
   * says whether it was an answer datagram or a control reply, so it is a send error and `datagrams` (answer
   * datagrams the kernel took) is left as it is.
   */
  private onSocketError(err: Error | undefined): void {
    this.counters.sendErrors++;
    this.lostLog.hit(err?.message ?? "a reply came back: its requester has gone (port unreachable)");
  }

  /**
   * An OUT_OF_RANGE or THROTTLED reply. A send that throws may have met the error a requester that has gone left on
   * the socket (see sendBatch), though nothing is wrong with this reply: it is tried once more, as answer
   * datagrams are, so its requester falls back at once instead of timing out. Lost (a send error) when it fails
   * again, or at once on a full socket buffer.
   */
  private answerControl(kind: number, req: RetxControl, firstAvailable: number, nextSeq: number, port: number, address: string): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const reply = this.reply.subarray(0, encodeRetxControl(this.reply, { ...req, kind, firstAvailable, nextSeq }, this.opts.auth));
    let error = "";
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        if (socket.send(reply, port, address)) return;
        error = "socket buffer full";
        break;
      } catch (err) {
        error = (err as Error).message;
        if (isBufferFull(err)) break;
      }
    }
    this.counters.sendErrors++;
    this.lostLog.hit(`reply lost: ${error}`, address);
  }

  /** The all-requesters bucket refilled to now (bytes only: it holds no requests). */
  private refillTotal(): Bucket {
    return refillAt(this.total, this.monoNow(), 0, this.opts.config.totalBytesPerSec);
  }

  /** The requester's bucket refilled to now (a new requester's: its own full one, or the shared overflow bucket). */
  private refill(address: string): Bucket {
    const nowMs = this.monoNow();
    let b = this.buckets.get(address);
    if (b === undefined) {
      const { requestsPerSec, bytesPerSec } = this.opts.config;
      if (this.buckets.size < MAX_REQUESTERS) {
        b = { address, requests: requestsPerSec, bytes: bytesPerSec, lastMs: nowMs, throttledReplyMs: -Infinity, older: undefined, newer: undefined };
      } else {
        // Only a bucket that has refilled (and is past its THROTTLED interval) is let go: it holds nothing owed.
        const old = this.oldest!;
        this.refillBucket(old, nowMs);
        if (old.requests < requestsPerSec || old.bytes < bytesPerSec || nowMs - old.throttledReplyMs < THROTTLED_REPLY_INTERVAL_MS) {
          return this.refillBucket(this.overflow, nowMs);
        }
        // Its own bucket starts no fuller than the overflow one: a requester that spent the overflow bucket gains
        // nothing by a place freeing (outside a flood the overflow bucket is full, as a new bucket was).
        const o = this.refillBucket(this.overflow, nowMs);
        this.unlink(old);
        this.buckets.delete(old.address);
        b = old; // reused: no allocation per new requester in a flood
        b.address = address;
        b.requests = o.requests;
        b.bytes = o.bytes;
        b.throttledReplyMs = -Infinity;
      }
      this.buckets.set(address, b);
    } else {
      this.refillBucket(b, nowMs);
      this.unlink(b);
    }
    // The most recently used.
    b.older = this.newest;
    b.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = b;
    else this.oldest = b;
    this.newest = b;
    return b;
  }

  private refillBucket(b: Bucket, nowMs: number): Bucket {
    return refillAt(b, nowMs, this.opts.config.requestsPerSec, this.opts.config.bytesPerSec);
  }

  private unlink(b: Bucket): void {
    if (b.older !== undefined) b.older.newer = b.newer;
    else this.oldest = b.newer;
    if (b.newer !== undefined) b.newer.older = b.older;
    else this.newest = b.older;
    b.older = b.newer = undefined;
  }
}

/** `b` refilled to `nowMs` at the given rates per second, each capped at one second's worth (the burst). */
function refillAt(b: Bucket, nowMs: number, requestsPerSec: number, bytesPerSec: number): Bucket {
  const dtS = Math.max(0, nowMs - b.lastMs) / 1000;
  b.lastMs = nowMs;
  b.requests = Math.min(requestsPerSec, b.requests + dtS * requestsPerSec);
  b.bytes = Math.min(bytesPerSec, b.bytes + dtS * bytesPerSec);
  return b;
}
