// HOT PATH: no allocation (OkxConnection.onFrame → OkxAdapter.onBook)
/**
 * One OKX WebSocket connection: the common connection state (../common/connection.ts) plus its topic table,
 * scanner and reused BookUpdate, and its frame entry point. The adapter owns sequencing and resync.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { frameText, handlerThrew, VenueConnection, type TopicState } from "../common/connection.ts";
import type { OkxAdapter } from "./adapter.ts";
import { isBookObject, parseBookObject } from "./parse-json.ts";
import { OkxScanner, SCAN_ERR_SYNTAX, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import { OkxTopicTable } from "./topic-table.ts";

export type OkxTopic = TopicState<OkxConnection>;

export class OkxConnection extends VenueConnection {
  readonly table = new OkxTopicTable();
  readonly scanner = new OkxScanner();
  readonly update = new BookUpdate();
  /**
   * Times of subscribe/unsubscribe requests sent in the last hour, per socket (OKX counts 480 per hour per
   * connection): a new socket (reconnect, replacement) starts afresh, and the old socket of a failed planned
   * reconnect, the connection's again, still has its own (keyed by socket, not generation: going back gives it a
   * new generation).
   */
  private readonly requestTimesBySocket = new WeakMap<WebSocket, number[]>();
  /** While there is no socket: nothing is sent, nothing is kept. */
  private readonly noSocketTimes: number[] = [];

  /** The current socket's request times. Cold (a request, a resync's budget check). */
  get requestTimesMs(): number[] {
    const ws = this.ws;
    if (!ws) {
      this.noSocketTimes.length = 0;
      return this.noSocketTimes;
    }
    let times = this.requestTimesBySocket.get(ws);
    if (!times) this.requestTimesBySocket.set(ws, (times = []));
    return times;
  }

  constructor(
    readonly adapter: OkxAdapter,
    id: number,
    market: MarketName,
    url: string,
  ) {
    super(id, market, url);
    // The update is consumed before the next frame is scanned: the scanner's module writes its levels in place.
    this.scanner.shareSides(this.update);
  }

  /**
   * OKX frames name their book as `"arg":{"channel":"books","instId":"BTC-USDT"}`, never by the topic's name
   * (`books:BTC-USDT`): the first topic whose channel and instId appear so. Cold (parse errors, frame faults): until
   * 2026-12-06 a frame whose handling threw was matched by the topic's name, found none, and resynced every book of
   * the connection (up to 29, each resubscribe spending the connection's 480 requests an hour).
   */
  override topicOfFrame(frame: string): TopicState<this> | undefined {
    for (const t of this.topics) {
      const colon = t.topic.indexOf(":");
      if (frame.includes(`"channel":"${t.topic.slice(0, colon)}","instId":"${t.symbol}"`)) return t;
    }
    return undefined;
  }

  /** As topicOfFrame: a name `channel:instId` (protocol.ts topicName) is named by its channel and instId. Cold. */
  override namesOneOf(names: ReadonlySet<string>, frame: string): boolean {
    for (const name of names) {
      const colon = name.indexOf(":");
      if (colon > 0 && frame.includes(`"channel":"${name.slice(0, colon)}","instId":"${name.slice(colon + 1)}"`)) return true;
    }
    return false;
  }

  bindMessages(ws: WebSocket, gen: number): void {
    ws.onmessage = (ev: MessageEvent) => {
      const data: unknown = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed); so is a
      // binary frame that is no UTF-8 (frameText).
      if (gen === this.generation) {
        try {
          this.onFrame(frameText(data));
        } catch (err) {
          handlerThrew(this, data, err, this.adapter);
        }
        return;
      }
      if (gen !== this.retiringGeneration) return;
      this.fromRetiring = true;
      try {
        this.onFrame(frameText(data));
      } catch (err) {
        handlerThrew(this, data, err, this.adapter);
      } finally {
        this.fromRetiring = false;
      }
    };
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
      this.adapter.onBook(this, r, this.update, data);
      return;
    }
    this.onSlowFrame(data, r, recvUs);
  }

  /**
   * A book frame kept by the REST bridge, read again into `update` as it was read on arrival: the scanner, else the
   * JSON path (a frame the scanner declined was buffered from there). The subscription index, or a negative code. Cold.
   */
  readAgain(data: string): number {
    const r = this.scanner.scan(data, this.table, this.update);
    if (r >= 0 || r === SCAN_UNKNOWN_TOPIC || r === SCAN_NOT_BOOK) return r;
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return SCAN_ERR_SYNTAX;
    }
    return isBookObject(msg) ? parseBookObject(msg, data, this.table, this.update, this.scanner) : SCAN_ERR_SYNTAX;
  }

  /** Everything the scanner did not take: control frames, text pong, the JSON path, errors. Cold. */
  private onSlowFrame(data: string, scanCode: number, recvUs: number): void {
    if (scanCode === SCAN_UNKNOWN_TOPIC) {
      this.adapter.onUnknownTopic(this, data);
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      if (this.adapter.onText(this, data)) return;
      this.adapter.onParseError(this, -1, SCAN_ERR_SYNTAX, data);
      return;
    }
    if (isBookObject(msg)) {
      const r = parseBookObject(msg, data, this.table, this.update, this.scanner);
      if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onBook(this, r, this.update, data);
      } else if (r === SCAN_UNKNOWN_TOPIC) {
        this.adapter.onUnknownTopic(this, data);
      } else {
        this.adapter.onParseError(this, this.scanner.entry, r, data);
      }
      return;
    }
    // The scanner hands over every frame beginning `{"arg":{"channel":"` it cannot read (not ASCII, no instId next):
    // one naming a book of ours but no push of it is malformed, that book's alone; any other is what JSON says, a
    // control frame (until 2026-12-07 a parse error naming no book, which resynced every book of the connection).
    const entry = scanCode === SCAN_NOT_BOOK ? -1 : this.entryNamed(msg);
    if (entry >= 0) {
      this.adapter.onParseError(this, entry, SCAN_ERR_SYNTAX, data);
      return;
    }
    this.adapter.onControl(this, msg);
  }

  /** The topic-table entry a parsed frame's `arg` names (channel, instId), else -1. Cold. */
  private entryNamed(msg: unknown): number {
    const arg = typeof msg === "object" && msg !== null ? (msg as { arg?: unknown }).arg : undefined;
    if (typeof arg !== "object" || arg === null) return -1;
    const { channel, instId } = arg as { channel?: unknown; instId?: unknown };
    return typeof channel === "string" && typeof instId === "string" ? this.table.entryOf(channel + ":" + instId) : -1;
  }
}
