// HOT PATH: no allocation (BybitConnection.onFrame → BybitAdapter.onBook)
/**
 * One Bybit WebSocket connection's state (its topics, pending requests, counters) and its frame entry point:
 * the scanner fills a reused BookUpdate and hands it to the adapter, which owns sequencing and resync.
 * connection-lifecycle.ts opens, closes and watches connections; subscription-control.ts sends their requests.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import { BookState, type MarketName } from "../../core/types.ts";
import type { BybitAdapter } from "./adapter.ts";
import { isBookObject, parseBookObject } from "./parse-json.ts";
import { BybitScanner, SCAN_ERR_SYNTAX, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import { TopicTable } from "./topic-table.ts";

// Subscription phase of a topic on its connection.
export const SUB_IDLE = 0;
export const SUB_PENDING = 1;
export const SUB_ACTIVE = 2;
export const SUB_UNSUBSCRIBING = 3;
export const SUB_REJECTED = 4;

export class TopicState {
  book: BookState = BookState.AWAITING_SNAPSHOT;
  sub = SUB_IDLE;
  lastU = 0;
  lastMsgMs = 0;
  entry = -1;
  /** Subscribe again once the unsubscribe ack arrives (a resync in progress). */
  resubscribeAfterUnsub = false;
  /** A resync was requested while the subscribe was in flight: resync once it is acked. */
  resyncAfterAck = false;
  checkingInstrument = false;
  resyncs = 0;
  /** When the current snapshot made the book LIVE (-1 = not live); a long enough live spell resets the resync backoff. */
  liveSinceMs = -1;
  /** Resyncs since the book was last live for resyncBackoffResetMs; 0 = the next resync goes out immediately. */
  resyncAttempt = 0;
  /** A resync is waiting out its backoff: unsubscribed (or unsubscribing), no subscribe before resyncDueMs. */
  resyncDelayed = false;
  resyncDueMs = 0;

  constructor(
    readonly index: number,
    readonly market: MarketName,
    readonly symbol: string,
    readonly depth: number,
    readonly topic: string,
    readonly conn: BybitConnection,
  ) {}
}

export interface PendingRequest {
  readonly reqId: string;
  readonly op: "subscribe" | "unsubscribe";
  topics: TopicState[];
  readonly sentMs: number;
}

export class BybitConnection {
  readonly table = new TopicTable();
  readonly scanner = new BybitScanner();
  readonly update = new BookUpdate();
  readonly topics: TopicState[] = [];
  readonly byTopic = new Map<string, TopicState>();
  readonly pending = new Map<string, PendingRequest>();
  argsChars = 0;
  /**
   * Set by start()/startReplay() when at least one topic resolved to an instrument. A connection whose topics all
   * failed to resolve is never opened, pinged or counted in the connect budget, and is left out of stats().
   */
  used = false;
  ws: WebSocket | null = null;
  open = false;
  generation = 0;
  attempt = 0;
  reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  lastPingMs = 0;
  /** 0 = no ping outstanding. */
  pongDeadlineMs = 0;
  openedMs = 0;
  connectStartedMs = 0;
  /** While down: why the last attempt failed ("ECONNREFUSED: …"), since when, and how many attempts in a row failed. */
  lastError = "";
  downSinceMs = 0;
  failedConnects = 0;
  // Counters (cold reads).
  messages = 0;
  bytes = 0;
  parseErrors = 0;
  fallbacks = 0;
  unknownTopic = 0;
  connects = 0;
  reconnects = 0;
  pongTimeouts = 0;
  ackTimeouts = 0;
  pongs = 0;

  constructor(
    readonly adapter: BybitAdapter,
    readonly id: number,
    readonly market: MarketName,
    readonly url: string,
  ) {}

  /** "conn<id>.<market>": names this connection in stats and in capture files. */
  get name(): string {
    return `conn${this.id}.${this.market}`;
  }

  // HOT PATH: one call per WebSocket frame. Frames of one socket read share its receipt time (core/clock.ts).
  onFrame(data: string): void {
    this.onFrameAt(data, turnReceiptUs());
  }

  /** A frame received at recvUs (now, or the recorded time when replaying a capture). HOT PATH. */
  onFrameAt(data: string, recvUs: number): void {
    const tap = this.adapter.rawFrameTap;
    if (tap !== undefined) tap(this.market, this.name, data, recvUs);
    this.messages++;
    this.bytes += data.length;
    const r = this.scanner.scan(data, this.table, this.update);
    if (r >= 0) {
      this.update.tsRecvUs = recvUs;
      this.adapter.onBook(r, this.update);
      return;
    }
    this.onSlowFrame(data, r, recvUs);
  }

  /** Everything the scanner did not accept: control frames, fallbacks, errors. Cold. */
  private onSlowFrame(data: string, scanCode: number, recvUs: number): void {
    const scanEntry = this.scanner.entry;
    if (scanCode === SCAN_UNKNOWN_TOPIC) {
      this.unknownTopic++;
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      this.adapter.onParseError(this, scanEntry, scanCode === SCAN_NOT_BOOK ? SCAN_ERR_SYNTAX : scanCode, data);
      return;
    }
    if (isBookObject(msg)) {
      const entryOut = { entry: -1 };
      const r = parseBookObject(msg, this.table, this.update, entryOut);
      if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onBook(r, this.update);
      } else if (r === SCAN_UNKNOWN_TOPIC) {
        this.unknownTopic++;
      } else {
        this.adapter.onParseError(this, entryOut.entry, r, data);
      }
      return;
    }
    if (scanCode !== SCAN_NOT_BOOK) {
      // The scanner saw an order-book topic but JSON says it is not one: count it as malformed.
      this.adapter.onParseError(this, scanEntry, scanCode, data);
      return;
    }
    this.adapter.onControl(this, msg);
  }
}
