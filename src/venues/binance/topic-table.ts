// HOT PATH: no allocation (find, in the common NameTable; the rest is cold)
/**
 * The stream table of one Binance connection: stream name (`btcusdt@depth@100ms`) → subscription entry
 * (common/name-table.ts), plus the symbol as the payload's `s` spells it (upper case) for the scanner's check.
 * @module
 */
import { NameTable } from "../common/name-table.ts";

export { FNV_OFFSET, hashOf } from "../common/name-table.ts";

export class StreamTable extends NameTable {
  /** The symbol as the payload's `s` spells it (upper case). */
  readonly symbols: string[] = [];

  /** Adds (or updates) a stream; returns its entry id. Cold. */
  addStream(stream: string, symbol: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const before = this.size;
    const entry = super.add(stream, subscriptionIndex, priceExp, qtyExp);
    if (this.size > before) this.symbols.push(symbol);
    return entry;
  }

  /** Every entry needs its payload symbol: adding through the base would leave `symbols` short. */
  override add(): number {
    throw new Error("StreamTable: use addStream(stream, symbol, …)");
  }
}
