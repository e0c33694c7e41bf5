/**
 * When `books` starts with an update instead of its snapshot (OKX announced it would stop pushing the initial
 * snapshot; docs/venues/okx.md, "No initial snapshot"), the updates are buffered and a REST snapshot
 * `GET /api/v5/market/books?instId=&sz=400` is bridged to them by seqId, as for Binance: buffered updates with
 * seqId ≤ the snapshot's are dropped, the first one kept must have prevSeqId ≤ snapshot seqId < seqId (it may
 * straddle: sizes are absolute), the rest chain as usual; one stamped before the REST book (both ts known) contradicts
 * it and the book resyncs (book-hooks.ts updateBeforeBridgedSnapshot). A refused request (HTTP error, code ≠ 0, 429) or a
 * snapshot older than the buffer (no bridge) is fetched again after a backoff; only that book waits (a price or
 * size not fitting the tick or lot also has the instruments re-checked). Cold path.
 *
 * Memory is bounded across books: the buffered frames of all of them count against `maxBytes` (2 bytes a character
 * plus BUFFERED_FRAME_OVERHEAD_BYTES each); a frame that would pass it drops the whole buffers of the bridges whose
 * snapshot was asked for after its book's, last asked first, or (when those cannot free enough) its own book's, and
 * each such book resyncs, as an overflow of MAX_BUFFERED does (common/rest-bridge.ts RankOrder.makeRoom). The bridge asked for
 * first, whose snapshot is due first, so keeps its buffer; one whose request failed goes behind every bridge with a
 * request out while it waits out its backoff (WAITING_RANK), and behind those asked since once it asks again. While the REST budget is held (a 429's Retry-After) for more than BUFFER_LEAD_MS more, nothing is
 * buffered: the book waits, and its bridge starts again shortly before the hold ends.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { nowUs } from "../../core/clock.ts";
import { FixedPointError } from "../../core/errors.ts";
import { parseFixed } from "../../core/fixed.ts";
import { RateLimitedLog } from "../../core/log.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import { equalJitterMs } from "../common/backoff.ts";
import { RestWeightBudget, splitBudget } from "../common/budgets.ts";
import { DEFAULT_MAX_BUFFERED_BYTES, type RankNode, RankOrder, WAITING_RANK } from "../common/rest-bridge.ts";
import { isDecimalText } from "../common/decimal-text.ts";
import type { BudgetLink } from "../common/budget-ledger.ts";
import type { OkxAdapter } from "./adapter.ts";
import type { OkxConnection, OkxTopic } from "./connection.ts";
import { updateBeforeBridgedSnapshot } from "./book-hooks.ts";
import { restUrlOf } from "./instruments.ts";
import { REST_REQUESTS_PER_WINDOW, REST_WINDOW_MS } from "./protocol.ts";
import { MAX_TS_US } from "./scanner.ts";
import { integerLiteral } from "./parse-json.ts";
import { boundedText } from "../../core/terminal-text.ts";

/** More buffered updates than this (≈ 100 s of `books`) without a bridge: start over with a resync. */
export const MAX_BUFFERED = 1_000;
/** Per buffered frame beyond its characters: the string's header and its slots in frames / recvUs (estimate). */
export const BUFFERED_FRAME_OVERHEAD_BYTES = 64;
/** Updates are buffered again only from this long before a REST hold ends (the snapshot goes out as it ends). */
export const BUFFER_LEAD_MS = 5_000;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 10_000;
const REST_TIMEOUT_MS = 10_000;

interface Bridge extends RankNode<Bridge> {
  readonly t: OkxTopic;
  readonly frames: string[];
  /** Each buffered frame's receive time (µs), replayed with it: the wire's local timestamp and the latency figures. */
  readonly recvUs: number[];
  /** What the frames take (bytesOfFrame), counted in RestBridge.bufferedBytes. */
  bytes: number;
  /** When its snapshot was last asked for (RestBridge.asked; WAITING_RANK + it during a retry's backoff): the last asked give way (makeRoom). */
  askedSeq: number;
  attempt: number;
  /** Its snapshot was refused (failed or unusable) before: the next refusals go to RestBridge.refusedAgainLog. */
  refusedBefore: boolean;
  fetching: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

export class RestBridge {
  private readonly bridges: (Bridge | undefined)[];
  private readonly budget: RestWeightBudget;
  private readonly snapshot = new BookUpdate();
  private stopped = false;
  /** Snapshots asked for or waited for so far (each Bridge's askedSeq: when it began, at each retry and its end). */
  private asked = 0;
  /** The bridges in makeRoom's order: a frame over the budget reads only the ones it drops (before: every book's). */
  private readonly order = new RankOrder<Bridge>();
  // Counters (cold).
  fetched = 0;
  bridged = 0;
  refused = 0;
  noBridge = 0;
  overflows = 0;
  /** Answers (or failed requests) whose bridge ended meanwhile (a resync, a dropped connection): neither used nor recorded. */
  dropped = 0;
  /** Bytes the buffered frames of every book take now (at most maxBytes), and the most they have. */
  bufferedBytes = 0;
  peakBufferedBytes = 0;
  /** Books whose buffer was dropped (and resynced) because a frame did not fit in maxBytes. */
  budgetDrops = 0;
  /** Bridges read by makeRoom over the budget, all calls together (cold: tests). */
  get budgetVisits(): number {
    return this.order.visits;
  }
  /** The book snapshots' REST budget: Retry-After values not held as given (out of range or unreadable), each logged. */
  get retryAfterOutOfRange(): number {
    return this.budget.retryAfterOutOfRange;
  }
  /** Updates not buffered, and bridges dropped, because the REST budget was held past BUFFER_LEAD_MS. */
  notBufferedWhileHeld = 0;
  droppedWhileHeld = 0;
  /**
   * A bridge's refusals after its first (logged in full, each): at most a line per 5 s for all books, with the count.
   * Before, each retry of each book logged (one every 5–10 s per book refused for good: hundreds of lines a minute).
   */
  private readonly refusedAgainLog: RateLimitedLog;

  constructor(
    private readonly a: OkxAdapter,
    n: number,
    budgetShare: number | undefined,
    budgetIndex: number | undefined,
    link?: BudgetLink,
    /**
     * The byte budget of all books' buffered frames together, 2 bytes a character plus the overhead (the config's
     * venues.okx.rest_bridge_buffer_bytes; 256 MiB, DEFAULT_MAX_BUFFERED_BYTES, shared with common/rest-bridge.ts).
     */
    readonly maxBytes = DEFAULT_MAX_BUFFERED_BYTES,
  ) {
    this.bridges = new Array<Bridge | undefined>(n);
    this.refusedAgainLog = new RateLimitedLog(a.log, "warn", "okx: REST book snapshots refused again; retrying (count: refusals since the last line, each book's first logged on its own)");
    // A 429 without Retry-After waits one rate-limit window (OKX counts per 2 s), not the generic minute.
    this.budget = RestWeightBudget.split(splitBudget(REST_REQUESTS_PER_WINDOW, REST_WINDOW_MS, budgetShare, budgetIndex, a.now), REST_WINDOW_MS).track(link).logTo(a.log, "okx REST");
  }

  /** An update for a book that has no snapshot: keep it, and fetch a REST snapshot if none is on its way. */
  buffer(t: OkxTopic, frame: string): void {
    let b = this.bridges[t.index];
    if (!b?.fetching && !this.a.books.replaying && this.budget.heldUntilMs(this.a.now()) - this.a.now() > BUFFER_LEAD_MS) {
      // No snapshot can come before the hold ends (one already sent may: its bridge keeps buffering): buffering till
      // then is memory for nothing. The book waits (not LIVE); the first update within BUFFER_LEAD_MS of the hold's
      // end starts the bridge and its request.
      this.notBufferedWhileHeld++;
      if (b) {
        this.droppedWhileHeld++;
        this.drop(t.index);
      }
      return;
    }
    if (!b) {
      b = { t, frames: [], recvUs: [], bytes: 0, attempt: 0, refusedBefore: false, fetching: false, timer: null, askedSeq: 0, rankPrev: null, rankNext: null };
      this.bridges[t.index] = b;
      this.order.rank(b, ++this.asked);
      this.fetch(b);
    }
    const bytes = frame.length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES;
    const full = b.frames.length >= MAX_BUFFERED;
    if (!full && this.bufferedBytes + bytes > this.maxBytes) {
      const fits = this.order.makeRoom(this, b, bytes, (o) => this.dropOverBudget(o));
      if (this.bridges[t.index] !== b) return; // a resync of another book ended this one meanwhile
      if (!fits) {
        // Dropping this update alone would leave a hole: the whole buffer goes, and the book starts over.
        this.dropOverBudget(b);
        return;
      }
    }
    if (full) {
      this.overflows++;
      this.a.log.warn("okx: no REST snapshot bridged before the update buffer filled; resyncing", {
        topic: t.topic,
        buffered: b.frames.length,
        bufferedBytes: this.bufferedBytes,
        maxBytes: this.maxBytes,
      });
      this.drop(t.index);
      this.a.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
      return;
    }
    b.frames.push(frame);
    // The connection set its update's receive time before handing it over (connection.ts).
    b.recvUs.push(t.conn.update.tsRecvUs);
    b.bytes += bytes;
    this.bufferedBytes += bytes;
    if (this.bufferedBytes > this.peakBufferedBytes) this.peakBufferedBytes = this.bufferedBytes;
  }

  private dropOverBudget(b: Bridge): void {
    this.budgetDrops++;
    this.a.log.warn("okx: buffered updates of all books over the byte budget; resyncing", {
      topic: b.t.topic,
      buffered: b.frames.length,
      bufferedBytes: this.bufferedBytes,
      maxBytes: this.maxBytes,
    });
    this.drop(b.t.index);
    this.a.books.resync(b.t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /** Books waiting for a REST snapshot (cold: tests and stats). */
  get pending(): number {
    let n = 0;
    for (const b of this.bridges) if (b) n++;
    return n;
  }

  /** Updates buffered for one book (cold: tests). */
  buffered(index: number): number {
    return this.bridges[index]?.frames.length ?? 0;
  }

  drop(index: number): void {
    const b = this.bridges[index];
    if (!b) return;
    if (b.timer) clearTimeout(b.timer);
    this.bridges[index] = undefined;
    this.order.remove(b);
    this.bufferedBytes -= b.bytes;
    b.bytes = 0;
  }

  stop(): void {
    this.stopped = true;
    for (let i = 0; i < this.bridges.length; i++) this.drop(i);
  }

  /** A refused snapshot: the bridge's first logged as `msg` with `fields`, the next ones counted (refusedAgainLog). */
  private logRefused(b: Bridge, msg: string, fields: { topic: string; error: string; url?: string; body?: string }): void {
    if (!b.refusedBefore) {
      b.refusedBefore = true;
      this.a.log.warn(msg, fields);
    } else this.refusedAgainLog.hit(`${fields.topic}: ${fields.error}`);
  }

  private retry(b: Bridge): void {
    if (this.bridges[b.t.index] !== b || this.stopped) return;
    const delay = equalJitterMs(b.attempt++, RETRY_BASE_MS, RETRY_MAX_MS, this.a.random);
    // No request out until the backoff ends, then asked again at the end of the REST queue: over the byte budget it
    // gives way before the bridges with a request out, then before those asked since. Before, it kept the place it
    // began at (one failing every time kept its buffer while theirs were dropped), then, until 2026-12-07, the place
    // of its failure (a bridge asked for during its backoff, served first, ranked behind it).
    this.order.rank(b, WAITING_RANK + ++this.asked);
    b.timer = setTimeout(() => {
      b.timer = null;
      this.order.rank(b, ++this.asked);
      this.fetch(b);
    }, delay);
  }

  private fetch(b: Bridge): void {
    if (this.stopped || this.bridges[b.t.index] !== b || b.fetching || this.a.books.replaying) return;
    const wait = this.budget.waitMs(this.a.now(), 1);
    if (wait > 0) {
      b.timer = setTimeout(() => {
        b.timer = null;
        this.fetch(b);
      }, wait);
      return;
    }
    this.budget.take(this.a.now(), 1);
    const t = b.t;
    const url = `${restUrlOf(this.a.configOf(), t.market).replace(/\/+$/, "")}/api/v5/market/books?instId=${encodeURIComponent(t.symbol)}&sz=${t.depth}`;
    b.fetching = true;
    this.fetched++;
    void (async () => {
      let body: string;
      try {
        const res = await this.a.fetchFn(url, { signal: AbortSignal.timeout(REST_TIMEOUT_MS) });
        this.budget.onResponse(this.a.now(), res.status, res.headers.get("retry-after"), res.headers.get("date"), this.a.wallNow());
        body = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        b.fetching = false;
        if (this.stopped) return; // the adapter stopped (its RestStop aborted this request): nothing failed
        if (this.bridges[t.index] !== b) {
          this.dropped++; // its bridge ended (a resync, a dropped connection): nothing to retry, the next bridge asks anew
          return;
        }
        this.refused++;
        this.logRefused(b, "okx: REST book snapshot failed; retrying", { topic: t.topic, url, error: String(err) });
        this.retry(b);
        return;
      }
      b.fetching = false;
      if (this.stopped) return;
      if (this.bridges[t.index] !== b) {
        this.dropped++;
        return;
      }
      this.a.rawRestTap?.(t.market, t.conn.name, url, body, nowUs());
      this.onBody(b, body);
    })();
  }

  /**
   * Replay: a recorded REST answer (received at recvUs) for a book waiting for one, bridged as live. False (a skipped
   * record) for one naming no book of ours, also for a URL that does not parse (a damaged capture): before, its
   * TypeError ended the replay or export.
   */
  ingest(conn: OkxConnection, url: string, body: string, recvUs: number): boolean {
    let instId: string | null;
    try {
      instId = new URL(url, "http://x").searchParams.get("instId");
    } catch {
      return false;
    }
    const t = conn.topics.find((x) => x.symbol === instId && x.depth === 400);
    if (!t) return false;
    const b = this.bridges[t.index];
    if (b) this.onBody(b, body, recvUs);
    return true;
  }

  private onBody(b: Bridge, body: string, recvUs = nowUs()): void {
    const t = b.t;
    const inst = this.a.instrumentOf(t.index);
    let seqId: number;
    const u = this.snapshot;
    try {
      const msg = JSON.parse(body) as { code?: unknown; data?: { asks?: unknown; bids?: unknown; seqId?: unknown; ts?: unknown }[] };
      const d = msg.data?.[0];
      if (String(msg.code) !== "0" || !d || !Array.isArray(d.asks) || !Array.isArray(d.bids)) throw new Error(`code ${boundedText(String(msg.code))}`);
      // Its snapshot's venueSeq on the wire, which subscribers read only in 0 … 2^53 − 1; an integer literal in the
      // body, as the socket's JSON path reads it (10.0 or 1e1 was taken as 10, 1.0000000000000001 as 1).
      if (!integerLiteral(body, "seqId", d.seqId) || (d.seqId as number) < 0) throw new Error("seqId is not an integer in 0 … 2^53 − 1");
      seqId = d.seqId as number;
      u.reset();
      u.isSnapshot = true;
      for (const [side, bid] of [[d.bids, true], [d.asks, false]] as const) {
        for (const [i, level] of (side as unknown[]).entries()) {
          // As the socket's JSON path requires (parse-json.ts); read as one, a number failed inside parseFixed
          // ("s.charCodeAt is not a function") and a string's characters were taken for its fields.
          if (!Array.isArray(level) || level.length < 2 || !level.every((x) => typeof x === "string")) {
            throw new Error(`${bid ? "bids" : "asks"} level ${i} is not [price, size, …] strings: ${boundedText(JSON.stringify(level) ?? String(level))}`);
          }
          const px = parseFixed(level[0]!, inst.priceExp);
          const qty = parseFixed(level[1]!, inst.qtyExp);
          if (bid) u.pushBid(px, qty);
          else u.pushAsk(px, qty);
        }
      }
      u.venueSeq = seqId;
      // The socket's shape (parse-json.ts): 1-15 digits, µs below 2^53; anything else is unknown (0) here. Number()
      // read "abc" as NaN, "1e3" as 1 s.
      const tsUs = typeof d.ts === "string" && /^\d{1,15}$/.test(d.ts) ? Number(d.ts) * 1000 : 0;
      u.tsExchangeUs = tsUs < MAX_TS_US ? tsUs : 0;
      u.tsRecvUs = recvUs;
    } catch (err) {
      this.refused++;
      this.logRefused(b, "okx: REST book snapshot unusable; retrying", { topic: t.topic, error: String(err), body: body.slice(0, 160) });
      // A number that does not fit the tick or lot: the instrument may have changed (as for a frame, parse-errors.ts).
      // Only retried before, the bridge asked again every 10 s at the old exponents until the next periodic reload.
      // A negative price or size ("-1", also out_of_range) is no decimal: nothing the listing answers (until 2026-12-07 re-checked).
      if (err instanceof FixedPointError && (err.reason === "too_many_decimals" || err.reason === "out_of_range") && isDecimalText(err.input)) this.a.recheckInstrument(t);
      this.retry(b);
      return;
    }
    const conn = t.conn;
    // A maintenance reset among the buffered updates (seqId < prevSeqId): a REST book whose seqId lies between the
    // reset's seqId and its prevSeqId may be from before it or after it, and seqIds cannot tell which. Bridged on the
    // wrong side, the book went LIVE at levels the venue no longer had (and then ignored the next updates as ones
    // the REST book held). Only below or above that range is it placed; inside it the book resyncs (live, a fresh
    // subscribe starts after the reset). Decided on the buffer and the answer alone, so replay decides the same.
    for (const f of b.frames) {
      if (conn.readAgain(f) < 0) continue;
      const sc = conn.scanner;
      if (sc.seqId < sc.prevSeqId && sc.seqId <= seqId && seqId <= sc.prevSeqId) {
        this.a.c.gaps++;
        this.a.log.warn("okx: REST snapshot may be from either side of a buffered maintenance reset; resyncing", {
          topic: t.topic,
          snapshotSeqId: seqId,
          resetPrevSeqId: sc.prevSeqId,
          resetSeqId: sc.seqId,
        });
        this.drop(t.index);
        this.a.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
        return;
      }
    }
    // Drop what the snapshot already holds; the first update kept must reach back to it. Each buffered frame is read
    // again as on arrival (conn.readAgain: the scanner, else the JSON path, which some were buffered from).
    let first = 0;
    for (; first < b.frames.length; first++) {
      const f = b.frames[first]!;
      if (conn.readAgain(f) < 0) continue;
      if (conn.scanner.seqId > seqId) break;
    }
    if (first < b.frames.length && conn.scanner.prevSeqId > seqId) {
      this.noBridge++;
      this.a.log.info("okx: REST snapshot older than the buffered updates; fetching again", { topic: t.topic, snapshotSeqId: seqId, firstPrevSeqId: conn.scanner.prevSeqId });
      for (const f of b.frames.splice(0, first)) {
        const bytes = f.length * 2 + BUFFERED_FRAME_OVERHEAD_BYTES;
        b.bytes -= bytes;
        this.bufferedBytes -= bytes;
      }
      b.recvUs.splice(0, first);
      this.retry(b);
      return;
    }
    // The kept updates describe states after the REST book's: the first one stamped (keepalives aside) before it,
    // both times known, contradicts the bridge (a REST book from after a reset the socket has not delivered, a
    // pre-reset update straddling it): the book resyncs rather than go LIVE on it. One stamped at or after it ends the
    // check; an unknown time (0) on either side leaves the seqIds alone to decide (adapter.ts onBook checks the next).
    const restTsUs = u.tsExchangeUs;
    for (let i = first; restTsUs !== 0 && i < b.frames.length; i++) {
      if (conn.readAgain(b.frames[i]!) !== t.index) continue;
      const sc = conn.scanner;
      const tsUs = conn.update.tsExchangeUs;
      if (sc.seqId === sc.prevSeqId || tsUs === 0) continue;
      if (tsUs < restTsUs) {
        this.drop(t.index);
        updateBeforeBridgedSnapshot(this.a, t, seqId, restTsUs, sc.seqId, tsUs);
        return;
      }
      break;
    }
    const rest = b.frames.slice(first);
    const restRecvUs = b.recvUs.slice(first);
    this.drop(t.index);
    this.bridged++;
    this.a.applyRestSnapshot(t, u);
    for (let i = 0; i < rest.length; i++) {
      if (t.book !== BookState.LIVE) break;
      const f = rest[i]!;
      const r = conn.readAgain(f);
      if (r !== t.index) continue;
      conn.update.tsRecvUs = restRecvUs[i]!;
      this.a.onBook(conn, r, conn.update, f);
    }
  }
}
