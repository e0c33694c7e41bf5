// HOT PATH: no allocation (UpbitConnection.onBytesAt → UpbitAdapter.onBook; text frames are copied into a reused buffer)
/**
 * One Upbit / Bithumb WebSocket connection: the common state (../common/connection.ts) plus its code table,
 * scanner and reused BookUpdate. JSON arrives in binary frames (Bithumb: text or binary): the scanner reads the
 * bytes as they come, with no decode per frame; a text frame is encoded into a reused buffer first.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { failedFrame, VenueConnection, type TopicState } from "../common/connection.ts";
import type { UpbitAdapter } from "./adapter.ts";
import { garbledBookEntry, isBookObject, misfitTimestamp, parseBookObject, parseRawJson, type RawJson } from "./parse-json.ts";
import { CodeTable, SCAN_ERR_DEPTH, SCAN_ERR_FIELD, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_CODE, setTimestamp, tsOutOfRange, UpbitScanner } from "./scanner.ts";

export type UpbitTopic = TopicState<UpbitConnection>;

const decoder = new TextDecoder();

export class UpbitConnection extends VenueConnection {
  readonly table = new CodeTable();
  readonly scanner: UpbitScanner;
  readonly update = new BookUpdate();
  /** Text frames' UTF-8, written by Buffer#write (TextEncoder.encodeInto made a result object per frame). */
  private textBuf = Buffer.alloc(64 * 1024);

  constructor(
    readonly adapter: UpbitAdapter,
    id: number,
    market: MarketName,
    url: string,
    tsUnitUs: number,
    /** The level subscribed, each book's `level` checked against it; -1: not checked (UpbitScanner). */
    level = -1,
  ) {
    super(id, market, url);
    this.scanner = new UpbitScanner(tsUnitUs, level);
  }

  bindMessages(ws: WebSocket, gen: number): void {
    // Bun's Buffer per binary frame is the frame itself; with "arraybuffer" we made a Uint8Array view of each (a
    // cell per frame) on top of its ArrayBuffer. A socket that still hands an ArrayBuffer gets the view.
    ws.binaryType = "nodebuffer";
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation && gen !== this.retiringGeneration) return;
      const data = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed).
      try {
        if (typeof data === "string") this.onTextAt(data, turnReceiptUs());
        else {
          const b = data instanceof Uint8Array ? data : new Uint8Array(data as ArrayBuffer);
          this.onBytesAt(b, b.length, turnReceiptUs(), null);
        }
      } catch (err) {
        // Not handlerThrew: no frameText decode here (the scanner reads bytes), and the tap already has the frame.
        this.frameFailed(failedFrame(data), err);
      }
    };
  }

  /** A text frame (or a recorded frame when replaying). HOT PATH. */
  onTextAt(text: string, recvUs: number): void {
    if (this.textBuf.length < text.length * 3) this.textBuf = Buffer.alloc(text.length * 3);
    this.onBytesAt(this.textBuf, this.textBuf.write(text, 0), recvUs, text);
  }

  /** A recorded frame (replay: common/connection.ts replayFrame, which marks the old socket's). HOT PATH. */
  onFrameAt(text: string, recvUs: number): void {
    this.onTextAt(text, recvUs);
  }

  /** A frame's UTF-8 bytes b[0, len); `text` when it came as text. HOT PATH. */
  onBytesAt(b: Uint8Array, len: number, recvUs: number, text: string | null): void {
    const tap = this.adapter.rawFrameTap;
    if (tap !== undefined) tap(this.market, this.name, text ?? decoder.decode(b.subarray(0, len)), recvUs);
    this.messages++;
    this.bytes += len;
    const r = this.scanner.scan(b, len, this.table, this.update);
    if (r >= 0) {
      this.update.tsRecvUs = recvUs;
      this.adapter.onBook(r, this.update, this.scanner.tsUs);
      return;
    }
    this.onSlowFrame(text ?? decoder.decode(b.subarray(0, len)), r, recvUs);
  }

  /** Control frames, escapes, errors. Cold. */
  private onSlowFrame(text: string, scanCode: number, recvUs: number): void {
    const scanEntry = this.scanner.entry;
    if (scanCode === SCAN_UNKNOWN_CODE) {
      this.adapter.onUnknownCode(this, text);
      return;
    }
    let msg: RawJson;
    try {
      msg = parseRawJson(text);
    } catch (err) {
      if (this.adapter.onText(this, text)) return;
      // Else the scanner found no fault: JSON's. A price or size it refused is unconfirmed in a frame that is not JSON
      // (`1.2.3`, `01`: no number), so that frame is syntax and asks for no re-check (until 2026-12-07 price / qty); so
      // is a count of units past the depth in it (over_depth).
      const scanned = scanCode !== SCAN_NOT_BOOK && scanCode !== SCAN_FALLBACK && scanCode !== SCAN_ERR_PRICE && scanCode !== SCAN_ERR_QTY && scanCode !== SCAN_ERR_DEPTH;
      this.adapter.onParseError(this, scanEntry, scanned ? scanCode : SCAN_ERR_SYNTAX, text, scanned ? undefined : String(err));
      return;
    }
    if (isBookObject(msg)) {
      if (scanCode !== SCAN_FALLBACK) {
        // The scanner refused what JSON reads as a book (a bad number, a missing field): malformed.
        this.misfitStamp(msg, scanEntry, scanCode);
        this.adapter.onParseError(this, scanEntry, scanCode, text);
        return;
      }
      const entryOut: { entry: number; tsUs: boolean; field?: string } = { entry: -1, tsUs: false };
      const r = parseBookObject(msg, this.table, this.update, this.scanner.tsUnitUs, entryOut, this.scanner);
      if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onBook(r, this.update, entryOut.tsUs);
      } else if (r === SCAN_UNKNOWN_CODE) this.adapter.onUnknownCode(this, text);
      else {
        this.misfitStamp(msg, entryOut.entry, r);
        this.adapter.onParseError(this, entryOut.entry, r, text, entryOut.field);
      }
      return;
    }
    if (scanCode !== SCAN_NOT_BOOK && scanCode !== SCAN_FALLBACK) {
      this.adapter.onParseError(this, scanEntry, scanCode, text);
      return;
    }
    const garbled = garbledBookEntry(msg, this.table); // (a string with an escape: the scanner did not get that far)
    if (garbled >= 0) {
      this.adapter.onParseError(this, garbled, SCAN_ERR_FIELD, text, `"type" not "orderbook"`);
      return;
    }
    this.adapter.onControl(this, JSON.parse(text));
  }

  /**
   * Cold: a book refused only for a number that does not fit (`code` SCAN_ERR_PRICE / SCAN_ERR_QTY) or for more units
   * than its depth (SCAN_ERR_DEPTH) is the venue's book at its stamp: told to the adapter, so a book stamped before it
   * is ignored as older. Until 2026-12-07 only applied books' stamps counted: a stray older book after it made the
   * book LIVE at levels the venue had left.
   */
  private misfitStamp(msg: RawJson, entry: number, code: number): void {
    if ((code !== SCAN_ERR_PRICE && code !== SCAN_ERR_QTY && code !== SCAN_ERR_DEPTH) || !isBookObject(msg)) return;
    const ts = misfitTimestamp(msg, this.table, entry);
    if (ts < 0) return;
    const u = this.update; // the refused book's levels are not used: its stamp is written over them
    const tsUs = setTimestamp(u, ts, this.scanner.tsUnitUs);
    if (!tsOutOfRange(u)) this.adapter.onMisfitStamp(this.table.index[entry]!, u.venueSeq, u.tsExchangeUs, tsUs);
  }
}
