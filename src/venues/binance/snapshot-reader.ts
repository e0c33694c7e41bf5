// HOT PATH: no allocation
/**
 * The REST depth snapshot reader of the Binance scanner: `{"lastUpdateId":…,["E":…,"T":…,]"bids":[…],"asks":[…]}`
 * (any key order, whitespace, unknown keys) into a BookUpdate. The body is copied into the memory of the WebAssembly
 * side reader (levels-wasm.ts), which reads each side in Binance's compact layout; a side it does not accept is read
 * by level-reader.ts from the same place, which decides and names any error. Split from scanner.ts (its subclass,
 * the diff reader) to keep each file readable.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { CH_COMMA, CH_LBRACE, CH_LBRACKET, CH_RBRACE, TWO_53 } from "./json-cursor.ts";
import { LevelReader } from "./level-reader.ts";
import { WasmLevels } from "../common/levels-wasm.ts";
import { SCAN_ERR_MISSING, SCAN_ERR_NUMBER, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK } from "./scan-codes.ts";

// Snapshot keys, as bits (a duplicate key goes to the JSON path, which keeps the last one).
const K_ID = 1; // lastUpdateId
const K_BIDS = 2;
const K_ASKS = 4;
const K_E = 8; // E
const K_T = 16; // T

export class SnapshotReader extends LevelReader {
  /** Offset where the last scan stopped with an error (for logs). */
  errorPos = 0;
  /** The WebAssembly side reader: created on the first snapshot; null when unavailable or not wanted. */
  private wasm: WasmLevels | null | undefined = undefined;
  /** The side reader while the body is in its memory (during scanSnapshot), else null. */
  private sideReader: WasmLevels | null = null;

  /** `useWasm` false: snapshots are read by the TypeScript reader alone (the reference the tests compare with). */
  constructor(protected readonly useWasm = true) {
    super();
  }

  /**
   * Scans a REST depth snapshot body `{"lastUpdateId":…,["E":…,"T":…,]"bids":[…],"asks":[…]}` into `out`
   * (isSnapshot, venueSeq = lastUpdateId): 0, or a negative code (the caller then uses parse-json.ts
   * parseDepthSnapshot, which decides and names the problem). Same strictness as scan().
   */
  scanSnapshot(s: string, priceExp: number, qtyExp: number, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    // The body goes into the side reader's memory (the diff path's is another instance: scan() sets its own).
    if (this.wasm === undefined) this.wasm = this.useWasm ? WasmLevels.create() : null;
    const w = this.wasm;
    this.bytes = this.ownBytes;
    this.view = this.ownView;
    if (w !== null && w.ensure(s.length)) {
      this.bytes = w.bytes;
      this.view = w.view;
      this.sideReader = w;
    }
    this.encodeFrame();
    out.reset();
    const r = this.snapshotTop(priceExp, qtyExp, out);
    if (r < 0) this.errorPos = this.pos;
    this.s = "";
    this.sideReader = null;
    return r;
  }

  protected keyIs(ks: number, kl: number, key: string): boolean {
    if (kl !== key.length) return false;
    const b = this.bytes;
    for (let i = 0; i < kl; i++) if (b[ks + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private snapshotTop(priceExp: number, qtyExp: number, out: BookUpdate): number {
    const b = this.bytes;
    this.ws();
    if (this.pos >= this.end || b[this.pos] !== CH_LBRACE) return SCAN_NOT_BOOK;
    this.pos++;
    let seen = 0;
    let id = -1;
    let eMs = 0;
    let tMs = 0;
    for (;;) {
      this.ws();
      const k = this.readKey();
      if (k < 0) return k;
      const ks = Math.floor(k / 256);
      const kl = k & 0xff;
      let bit = 0;
      if (this.keyIs(ks, kl, "lastUpdateId")) bit = K_ID;
      else if (this.keyIs(ks, kl, "bids")) bit = K_BIDS;
      else if (this.keyIs(ks, kl, "asks")) bit = K_ASKS;
      else if (kl === 1 && b[ks] === 69) bit = K_E; // E
      else if (kl === 1 && b[ks] === 84) bit = K_T; // T
      // Binance's error answer key: the JSON path refuses a numeric one naming it (until 2026-12-07 it was skipped
      // here as unknown, so a body with both a code and a book was taken as the book the JSON path refused).
      else if (this.keyIs(ks, kl, "code")) return SCAN_FALLBACK;
      const col = this.colon();
      if (col < 0) return col;
      if ((seen & bit) !== 0) return SCAN_FALLBACK;
      seen |= bit;
      let r = 0;
      if (bit === K_BIDS || bit === K_ASKS) r = this.scanSide(bit === K_BIDS, priceExp, qtyExp, out);
      else if (bit === K_ID) r = id = this.readUint();
      else if (bit === K_E) r = eMs = this.readUint();
      else if (bit === K_T) r = tMs = this.readUint();
      else r = this.skipValue(1);
      if (r < 0) return r;
      this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_RBRACE) break;
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
    }
    this.ws();
    if (this.pos !== this.end) return SCAN_ERR_SYNTAX;
    if ((seen & (K_ID | K_BIDS | K_ASKS)) !== (K_ID | K_BIDS | K_ASKS)) return SCAN_ERR_MISSING;
    // lastUpdateId 0 (the adapter's "none"; a snapshot is asked for after a diff, whose u ≥ 1): the JSON path names it.
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53 || id === 0) return SCAN_ERR_NUMBER;
    out.isSnapshot = true;
    out.venueSeq = id;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    return 0;
  }

  /**
   * One side: the WebAssembly reader when the body is in its memory and the side starts in Binance's compact layout
   * (`[[`), else (or when it does not accept the side) scanLevels from the same place, which also names any error.
   */
  private scanSide(bids: boolean, priceExp: number, qtyExp: number, out: BookUpdate): number {
    const w = this.sideReader;
    const p = this.pos;
    if (w !== null && this.bytes[p] === CH_LBRACKET && this.bytes[p + 1] === CH_LBRACKET) {
      const end = w.readSide(p + 1, bids, priceExp, qtyExp, out);
      if (end >= 0) {
        this.pos = end;
        return 0;
      }
    }
    return this.scanLevels(bids, priceExp, qtyExp, out);
  }
}
