/**
 * Experiment support (docs/performance.md §10, "The ladder in WebAssembly: an upper bound"): the recordings (the
 * bench's own loader, bench/binance-adapter-path.ts), today's diff path and the two peers, copied from
 * bench/binance.bench.ts (which runs when imported) with two additions:
 * a fixed session start (so that two packers write the same bytes) and an optional copy of each sealed datagram.
 * @module
 */
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { type BinanceRecording, type Lvl, loadBinanceRecording } from "../../binance-adapter-path.ts";
import { OrderBook as CcxtOrderBook } from "../../../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { BookBuilder } from "../../../src/book/book-builder.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import { BinanceScanner } from "../../../src/venues/binance/scanner.ts";
import { StreamTable } from "../../../src/venues/binance/topic-table.ts";
import { packBookDelta, packBookSnapshot } from "../../../src/wire/encoder.ts";
import { ChannelPacker } from "../../../src/wire/packer.ts";

export type { Lvl };
/** The recording (bench/binance-adapter-path.ts loadBinanceRecording, one loader for the bench and this experiment). */
export type Rec = BinanceRecording;
export const load = loadBinanceRecording;

/** The bench's send time, and one session start for every packer here (the bench's default is Date.now()). */
export const SEND_TIME_US = 1_700_000_000_000_000;
export const SESSION_START_US = 1_699_999_000_000_000;

/** bench/binance.bench.ts's OursPath: scan → applyDelta → packBookDelta → seal → clear, snapshots likewise. */
export class OursPath {
  readonly table = new StreamTable();
  readonly scanner = new BinanceScanner();
  readonly update = new BookUpdate();
  readonly snap = new BookUpdate();
  readonly builders: BookBuilder[] = [];
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed, { sessionStartUs: SESSION_START_US });
  bytesOut = 0;
  lastU: number[] = [];
  /** When set, each sealed datagram's bytes are copied here (verify.ts); lastLength its length. */
  capture: Uint8Array | null = null;
  lastLength = 0;
  constructor(readonly rec: Rec) {
    let i = 0;
    for (const [sym, e] of rec.symbols) {
      const inst: Instrument = { instrumentId: instrumentIdOf("binance", rec.market, sym), venue: "binance", market: rec.market, symbol: sym, priceExp: e.priceExp, qtyExp: e.qtyExp, tickSize: "1", lotSize: "1" };
      this.builders.push(new BookBuilder(inst));
      this.table.addStream(e.stream, sym, i++, e.priceExp, e.qtyExp);
      this.lastU.push(0);
    }
    this.scanner.shareSides(this.update);
  }
  onSnapshot(index: number, body: string): void {
    const e = [...this.rec.symbols.values()][index]!;
    if (this.scanner.scanSnapshot(body, e.priceExp, e.qtyExp, this.snap) !== 0) throw new Error("snapshot scan failed");
    const b = this.builders[index]!;
    b.applySnapshot(this.snap);
    this.lastU[index] = this.snap.venueSeq;
    packBookSnapshot(this.packer, b, 0, false);
    this.flush(false);
  }
  onDiff(frame: string): void {
    const u = this.update;
    const i = this.scanner.scan(frame, this.table, u);
    if (i < 0) throw new Error(`scan failed at ${this.scanner.errorPos}`);
    if (u.venueSeq <= this.lastU[i]!) this.bytesOut++;
    this.lastU[i] = u.venueSeq;
    const b = this.builders[i]!;
    b.applyDelta(u);
    packBookDelta(this.packer, b, b.changes);
    this.flush(true);
  }
  private flush(diff: boolean): void {
    const p = this.packer;
    p.stampSendTime(SEND_TIME_US);
    for (let k = 0; k < p.count; k++) this.bytesOut += p.lengths[k]!;
    if (diff && this.capture !== null) {
      if (p.count !== 1) throw new Error(`expected one datagram per flush, got ${p.count}`);
      this.lastLength = p.lengths[0]!;
      this.capture.set(p.bytes[0]!.subarray(0, this.lastLength));
    }
    p.clear();
  }
}

export type CcxtBook = InstanceType<typeof CcxtOrderBook> & {
  bids: { storeArray(l: number[]): void; length: number };
  asks: { storeArray(l: number[]): void; length: number };
};
export { CcxtOrderBook, TardisOrderBook };

export function ccxtDiff(books: Map<string, CcxtBook>, frame: string): void {
  const d = (JSON.parse(frame) as { data: { s: string; U: number; u: number; b: Lvl[]; a: Lvl[] } }).data;
  const book = books.get(d.s)!;
  for (let i = 0; i < d.b.length; i++) book.bids.storeArray([parseFloat(d.b[i]![0]), parseFloat(d.b[i]![1])]);
  for (let i = 0; i < d.a.length; i++) book.asks.storeArray([parseFloat(d.a[i]![0]), parseFloat(d.a[i]![1])]);
}

export function ccxtSnapshot(book: CcxtBook, body: string): void {
  const m = JSON.parse(body) as { lastUpdateId: number; bids: Lvl[]; asks: Lvl[] };
  const bids = m.bids.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
  const asks = m.asks.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
  bids.sort((x, y) => y[0]! - x[0]!);
  asks.sort((x, y) => x[0]! - y[0]!);
  book.reset({ bids, asks, nonce: m.lastUpdateId, timestamp: undefined, datetime: undefined } as never);
}

export function tardisDiff(books: Map<string, TardisOrderBook>, frame: string): void {
  const d = (JSON.parse(frame) as { data: { s: string; E: number; b: Lvl[]; a: Lvl[] } }).data;
  const level = (l: Lvl) => ({ price: Number(l[0]), amount: Number(l[1]) });
  books.get(d.s)!.update({ type: "book_change", symbol: d.s, exchange: "binance", isSnapshot: false, bids: d.b.map(level), asks: d.a.map(level), timestamp: new Date(d.E), localTimestamp: new Date() } as never);
}

export function tardisSnapshot(book: TardisOrderBook, body: string): void {
  const m = JSON.parse(body) as { bids: Lvl[]; asks: Lvl[] };
  const level = (l: Lvl) => ({ price: Number(l[0]), amount: Number(l[1]) });
  book.update({ type: "book_change", symbol: "X", exchange: "binance", isSnapshot: true, bids: m.bids.map(level), asks: m.asks.map(level), timestamp: new Date(), localTimestamp: new Date() } as never);
}
