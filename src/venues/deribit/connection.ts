// HOT PATH: no allocation (DeribitConnection.onFrame → DeribitAdapter.onBook)
/**
 * One Deribit WebSocket connection: the common connection state (../common/connection.ts) plus its channel table,
 * scanner and reused BookUpdate, and its frame entry point. The scanner fills the update and hands it to the
 * adapter, which owns sequencing and resync; everything the scanner does not take goes to the JSON path (cold).
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { frameText, handlerThrew, VenueConnection, type TopicState } from "../common/connection.ts";
import type { DeribitAdapter } from "./adapter.ts";
import { ChannelTable } from "./channel-table.ts";
import { isBookObject, parseBookObject, parseJsonRaw, type RawJson } from "./parse-json.ts";
import { DeribitScanner, SCAN_ERR_SYNTAX, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";

export type DeribitTopic = TopicState<DeribitConnection>;

export class DeribitConnection extends VenueConnection {
  readonly table = new ChannelTable();
  readonly scanner = new DeribitScanner();
  readonly update = new BookUpdate();
  private readonly info = { entry: -1, prev: -1, detail: "" };
  /** Sockets whose close listener is installed (bindMessages runs again for a socket gone back to). */
  private readonly listened = new WeakSet<WebSocket>();
  /** The socket set_heartbeat was last sent for (DeribitAdapter.askHeartbeat: once a socket, before its subscribes). */
  heartbeatAskedOn: WebSocket | null = null;
  /** The id of the set_heartbeat last sent on heartbeatAskedOn: a refusal of it is that socket's (an older one's is not). */
  heartbeatAskId = -1;
  /** When a refused set_heartbeat is asked again on heartbeatAskedOn (adapter clock, ms; -1 = none due). */
  heartbeatRetryDueMs = -1;
  /** Refusals of set_heartbeat on heartbeatAskedOn in a row (the retry backoff's exponent). */
  heartbeatRefusedInRow = 0;
  /** set_heartbeat answered with an error on this connection (`heartbeat_refused_total`, per connection). */
  heartbeatRefused = 0;

  constructor(
    readonly adapter: DeribitAdapter,
    id: number,
    market: MarketName,
    url: string,
  ) {
    super(id, market, url);
  }

  /**
   * Frames of this socket's generation go straight to onFrame. Bound again with a new generation when a planned
   * reconnect goes back to the old socket: the handler is replaced, the close listener is added once per socket (the
   * listeners used to pile up, two per fallback). set_heartbeat is asked by the lifecycle's socketInUse hook, before
   * the socket's subscribes (until 2026-12-07 an open listener here sent it after them).
   */
  bindMessages(ws: WebSocket, gen: number): void {
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation && gen !== this.retiringGeneration) return;
      const data: unknown = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed); so is a
      // binary frame that is no UTF-8 (frameText).
      try {
        this.onFrame(frameText(data));
      } catch (err) {
        handlerThrew(this, data, err, this.adapter);
      }
    };
    if (this.listened.has(ws)) return;
    this.listened.add(ws);
    // Whatever closed it (the venue, a recycle, the old socket of a make-before-break): its requests die with it,
    // whichever generation they went out under.
    ws.addEventListener("close", () => this.adapter.onSocketClosed(this, ws));
  }


  // HOT PATH: one call per WebSocket frame.
  onFrame(data: string): void {
    this.onFrameAt(data, turnReceiptUs());
  }

  /** A frame received at recvUs (now, or the recorded time when replaying). HOT PATH. */
  onFrameAt(data: string, recvUs: number): void {
    const tap = this.adapter.rawFrameTap;
    if (tap !== undefined) tap(this.market, this.name, data, recvUs);
    this.messages++;
    this.bytes += data.length;
    const r = this.scanner.scan(data, this.table, this.update);
    if (r >= 0) {
      this.update.tsRecvUs = recvUs;
      this.adapter.onBook(r, this.update, this.scanner.prevChangeId);
      return;
    }
    this.onSlowFrame(data, r, recvUs);
  }

  /** Everything the scanner did not take: control frames, other key orders, errors. Cold. */
  private onSlowFrame(data: string, scanCode: number, recvUs: number): void {
    const scanEntry = this.scanner.entry;
    if (scanCode === SCAN_UNKNOWN_TOPIC) {
      this.adapter.onUnknownTopic(this, data);
      return;
    }
    let msg: RawJson;
    try {
      msg = parseJsonRaw(data);
    } catch (err) {
      // The parser's reason ("nesting too deep at 70", "bad string at 6") goes into the log line.
      this.adapter.onParseError(this, scanEntry, SCAN_ERR_SYNTAX, data, err instanceof Error ? err.message : String(err));
      return;
    }
    if (isBookObject(msg)) {
      const r = parseBookObject(msg, this.table, this.update, this.info);
      if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onBook(r, this.update, this.info.prev);
      } else if (r === SCAN_UNKNOWN_TOPIC) {
        this.adapter.onUnknownTopic(this, data);
      } else {
        this.adapter.onParseError(this, this.info.entry, r, data, this.info.detail);
      }
      return;
    }
    if (scanCode !== SCAN_NOT_BOOK) {
      // The scanner read one of our book channels, but the frame is not a book notification.
      this.adapter.onParseError(this, scanEntry, SCAN_ERR_SYNTAX, data);
      return;
    }
    this.adapter.onControl(this, JSON.parse(data) as unknown);
  }
}
