// HOT PATH: no allocation (BinanceConnection.onFrameAt → BinanceAdapter.onDiff)
/**
 * One Binance combined-stream connection: the common connection state (../common/connection.ts) plus its stream
 * table, scanner and reused BookUpdate, and its frame entry point: the scanner fills the update and hands it with
 * its ids (U, pu) to the adapter, which owns bridging and sequencing.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { frameText, handlerThrew, TopicState, VenueConnection } from "../common/connection.ts";
import type { BinanceAdapter } from "./adapter.ts";
import { type DiffIds, isDiffObject, parseDiffObject, parseFrameJson, strayDiffStream } from "./parse-json.ts";
import { BinanceScanner, SCAN_ERR_FIRST_AFTER_LAST, SCAN_ERR_MISSING, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import { StreamTable } from "./topic-table.ts";

export { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING } from "../common/connection.ts";

/** A Binance diff stream on a connection, with what bridging and the depth rule need. */
export class BinanceTopic extends TopicState<BinanceConnection> {
  /** The next diff is the one the REST bridge checked: it continues the snapshot whatever its U / pu. */
  awaitingFirst = false;
  /**
   * Levels beyond the snapshot's depth are unknown (docs/venues/binance.md, "Depth"): a full snapshot side sets
   * the worst price it covered, and diff levels beyond it are dropped. -1 / Infinity: the whole side is known.
   */
  bidFloor = -1;
  askCeiling = Infinity;
  /** Diff levels dropped as beyond the snapshot's depth (cold read). */
  beyondDepth = 0;
  /** A make-before-break refresh of the LIVE book runs (depth-band.ts): its diffs are also buffered for a new snapshot. */
  refreshing = false;
  /** No refresh starts before this (the adapter's clock): one per second at most, also after one that failed. */
  refreshNotBeforeMs = 0;
  /** The current bridge's snapshot request went out (during a resync backoff diffs are buffered, nothing fetched). */
  fetching = false;
  /** Bumped per bridge: a late snapshot of an older one is dropped. */
  bridgeSeq = 0;
  /** Aborts the current bridge's snapshot request: one still queued behind the weight budget never spends it. */
  fetchAbort: AbortController | null = null;
}

/**
 * What a USD-M diff without `pu` lacks, in its parse error. Until 2026-12-07 every reader took the absent pu as -1 and the
 * adapter called it a sequence gap (gaps, SEQUENCE_GAP), not a malformed frame.
 */
const NO_PU = "USD-M diff without pu";

export class BinanceConnection extends VenueConnection {
  readonly table = new StreamTable();
  readonly scanner = new BinanceScanner();
  readonly update = new BookUpdate();
  private readonly ids: DiffIds = { first: 0, prev: -1, entry: -1, puGiven: false };
  /** USD-M chains its diffs by `pu` (the adapter's onDiff): one without it is malformed, not a gap. Spot has none. */
  private readonly needsPu: boolean;

  constructor(
    readonly adapter: BinanceAdapter,
    id: number,
    market: MarketName,
    url: string,
  ) {
    super(id, market, url);
    this.needsPu = market !== "spot";
    // The update is consumed before the next frame is scanned: the scanner's diff module writes its levels in place.
    this.scanner.shareSides(this.update);
  }

  bindMessages(ws: WebSocket, gen: number): void {
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation && gen !== this.retiringGeneration) return;
      const data: unknown = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed); so is a
      // binary frame that is no UTF-8 (frameText).
      try {
        this.onFrameAt(frameText(data), turnReceiptUs());
      } catch (err) {
        handlerThrew(this, data, err, this.adapter);
      }
    };
  }


  /** A frame received at recvUs (now, or the recorded time in replay). HOT PATH. */
  onFrameAt(data: string, recvUs: number): void {
    const tap = this.adapter.rawFrameTap;
    if (tap !== undefined) tap(this.market, this.name, data, recvUs);
    this.messages++;
    this.bytes += data.length;
    const sc = this.scanner;
    const r = sc.scan(data, this.table, this.update);
    if (r >= 0) {
      // Every scanner reader leaves prevId -1 only when pu is absent (an explicit -1 goes to the JSON path).
      if (sc.prevId < 0 && this.needsPu) return this.adapter.onParseError(this, sc.entry, SCAN_ERR_MISSING, data, -1, NO_PU);
      this.update.tsRecvUs = recvUs;
      this.adapter.onDiff(r, this.update, sc.firstId, sc.prevId);
      return;
    }
    this.onSlowFrame(data, r, recvUs);
  }

  /** Everything the scanner did not accept: control frames, fallbacks, errors (confirmed by the JSON path). Cold. */
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
      // Not JSON: a price or quantity the scanner refused on the way is unconfirmed (it may be "abc", no decimal), so
      // the frame is a syntax error and reloads no exchangeInfo (a misfit reloads once a whole frame shows it); one it
      // handed over (fallback: an escape, an exponent) is no error of its own, so syntax too.
      const code = scanCode === SCAN_NOT_BOOK || scanCode === SCAN_FALLBACK || scanCode === SCAN_ERR_PRICE || scanCode === SCAN_ERR_QTY ? SCAN_ERR_SYNTAX : scanCode;
      // The scanner's offset only with its own code: where it handed over says nothing of JSON's syntax error.
      this.adapter.onParseError(this, scanEntry, code, data, code === scanCode ? this.scanner.errorPos : -1);
      return;
    }
    if (isDiffObject(msg)) {
      const r = parseDiffObject(msg, this.table, this.update, this.ids, inexactInteger);
      if (r >= 0 && !this.ids.puGiven && this.needsPu) {
        this.adapter.onParseError(this, this.ids.entry, SCAN_ERR_MISSING, data, -1, NO_PU);
      } else if (r >= 0) {
        this.fallbacks++;
        this.update.tsRecvUs = recvUs;
        this.adapter.onDiff(r, this.update, this.ids.first, this.ids.prev);
      } else if (r === SCAN_UNKNOWN_TOPIC) {
        this.adapter.onUnknownTopic(this, data);
      } else {
        // A range refused: its ids named in the log (the frame's first 160 characters may not reach them).
        const detail = r === SCAN_ERR_FIRST_AFTER_LAST ? `U ${this.ids.first} > u ${this.update.venueSeq}` : undefined;
        this.adapter.onParseError(this, this.ids.entry, r, data, -1, detail);
      }
      return;
    }
    // A depth update whose stream is no depth name of ours (garbled, or absent) is a diff lost, as a frame unreadable
    // down to its stream: until s-binleft it was an unhandled control frame, a LIVE book left LIVE without it until the
    // next diff broke the chain, a bridging one's buffer kept with the hole.
    const stray = strayDiffStream(msg);
    if (stray !== null) {
      if (stray.stream !== null) this.adapter.onUnknownTopic(this, data);
      else this.adapter.onParseError(this, -1, SCAN_ERR_MISSING, data);
      return;
    }
    // A frame the scanner handed over (an escape in its stream: it could not tell) is what JSON says, as unescaped.
    if (scanCode !== SCAN_NOT_BOOK && scanCode !== SCAN_FALLBACK) {
      this.adapter.onParseError(this, scanEntry, scanCode, data, this.scanner.errorPos);
      return;
    }
    this.adapter.onControl(this, msg);
  }
}
