/**
 * Bithumb frame → book → datagram on simulator frames (there is no genuine Bithumb recording): 300 DEFAULT-format
 * frames of 30 units for KRW-BTC and KRW-XRP from src/sim/upbit-sim-book.ts in Bithumb's dialect (µs timestamps,
 * 4-decimal sizes, some numbers in exponent form), beside ccxt and tardis-dev (`bun bench/bithumb.bench.ts`).
 * @module
 */
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument } from "../src/core/types.ts";
import { Rng } from "../src/sim/rng.ts";
import { CodeBook, defaultCodeSpec } from "../src/sim/upbit-sim-book.ts";
import { specFor } from "../src/venues/upbit/instruments.ts";
import { exponentOf } from "../src/core/fixed.ts";
import { runUpbitBench, type BenchFrame } from "./upbit-common.ts";

const CODES = ["KRW-BTC", "KRW-XRP"];
const rng = new Rng(5);
const enc = new TextEncoder();
const books = CODES.map((c) => new CodeBook(c, defaultCodeSpec(c), 4, 1_786_613_100_000_000, rng));
const frames: BenchFrame[] = [];
for (let i = 0; i < 150; i++) {
  for (const b of books) {
    b.ts += 100_000;
    b.regenerate();
    frames.push({ bytes: enc.encode(b.frame(30, false, "REALTIME", 1)), code: b.code });
  }
}
const instruments: Instrument[] = CODES.map((symbol) => {
  const spec = specFor(symbol, defaultCodeSpec(symbol).price, undefined);
  if (typeof spec === "string") throw new Error(spec);
  return { instrumentId: instrumentIdOf("bithumb", "spot", symbol), venue: "bithumb", market: "spot", symbol, priceExp: exponentOf(spec.tickSize), qtyExp: 8, tickSize: spec.tickSize, lotSize: spec.lotSize };
});
runUpbitBench("Bithumb, simulator frames", frames, instruments, 1);
