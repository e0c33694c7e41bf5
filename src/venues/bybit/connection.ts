// HOT PATH: no allocation (BybitConnection.onFrame → BybitAdapter.onBook)
/**
 * One Bybit WebSocket connection: the common connection state (../common/connection.ts) plus its topic table,
 * scanner and reused BookUpdate, and its frame entry point: the scanner fills the update and hands it to the
 * adapter, which owns sequencing and resync. ../common/connection-lifecycle.ts opens, closes and watches
 * connections; ../common/subscription-control.ts sends their requests.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { frameText, handlerThrew, VenueConnection, type TopicState } from "../common/connection.ts";
import type { BybitAdapter } from "./adapter.ts";
import { isBookObject, parseBookObject, parseFrameJson } from "./parse-json.ts";
import { BybitScanner, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import { TopicTable } from "./topic-table.ts";

export { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, TopicState } from "../common/connection.ts";

/** A topic of a Bybit connection. */
export type BybitTopic = TopicState<BybitConnection>;

export class BybitConnection extends VenueConnection {
  readonly table = new TopicTable();
  readonly scanner = new BybitScanner();
  readonly update = new BookUpdate();
  /** Characters of the args array so far (the 21,000-character rule, §2.3). */
  argsChars = 0;
  constructor(
    readonly adapter: BybitAdapter,
    id: number,
    market: MarketName,
    url: string,
  ) {
    super(id, market, url);
  }

  /**
   * Frames of this socket's generation go straight to onFrame (the hot path stays in this class). Bybit sends text; a
   * binary frame is decoded inside the try (common/connection.ts frameText): bytes that are no UTF-8 are a frame fault.
   */
  bindMessages(ws: WebSocket, gen: number): void {
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation && gen !== this.retiringGeneration) return;
      const data: unknown = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed).
      try {
        this.onFrame(frameText(data));
      } catch (err) {
        handlerThrew(this, data, err, this.adapter);
      }
    };
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
      this.adapter.onUnknownTopic(this, data, this.scanner.errorPos);
      return;
    }
    let msg: unknown;
    let inexactInteger = false;
    try {
      ({ msg, inexactInteger } = parseFrameJson(data));
    } catch {
      if (this.adapter.onText(this, data)) return;
      // Not JSON: a price or qty the scanner refused on the way is unconfirmed (it may be "abc", no decimal), so the
      // frame is a syntax error and asks for no instrument re-check (a misfit re-checks once a whole frame shows it);
      // one it handed over (fallback: an escape, an exponent) is no error of its own, so syntax too.
      const code = scanCode === SCAN_NOT_BOOK || scanCode === SCAN_FALLBACK || scanCode === SCAN_ERR_PRICE || scanCode === SCAN_ERR_QTY ? SCAN_ERR_SYNTAX : scanCode;
      // The scanner's offset only with its own code: where it handed over says nothing of JSON's syntax error.
      this.adapter.onParseError(this, scanEntry, code, data, code === scanCode ? this.scanner.errorPos : -1);
      return;
    }
    if (isBookObject(msg)) {
      const entryOut = { entry: -1 };
      const r = parseBookObject(msg, this.table, this.update, entryOut, inexactInteger);
      if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onBook(r, this.update);
      } else if (r === SCAN_UNKNOWN_TOPIC) {
        this.adapter.onUnknownTopic(this, data);
      } else {
        this.adapter.onParseError(this, entryOut.entry, r, data);
      }
      return;
    }
    if (scanCode !== SCAN_NOT_BOOK && scanCode !== SCAN_FALLBACK) {
      // The scanner saw an order-book topic but JSON says it is not one: count it as malformed. A frame it handed over
      // (an escape in its topic: it could not tell) is what JSON says, a control frame, as it is unescaped.
      this.adapter.onParseError(this, scanEntry, scanCode, data, this.scanner.errorPos);
      return;
    }
    this.adapter.onControl(this, msg);
  }
}
