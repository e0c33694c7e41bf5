/**
 * Upbit frame → book → datagram on the genuine recording (test/fixtures/cryptofeed/UPBIT.ws.62.0: 145 SIMPLE
 * orderbook frames, 15 units, 5 codes), beside ccxt and tardis-dev (`bun bench/upbit.bench.ts`; see upbit-common.ts).
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { exponentOf } from "../src/core/fixed.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument } from "../src/core/types.ts";
import { runUpbitBench, type BenchFrame } from "./upbit-common.ts";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/cryptofeed/UPBIT.ws.62.0", import.meta.url));
const TICKS: Record<string, string> = { "BTC-ITAM": "0.00000001", "BTC-PAX": "0.00000001", "BTC-XTZ": "0.00000001", "KRW-LAMB": "1", "KRW-WAVES": "0.01" };
const enc = new TextEncoder();
const frames: BenchFrame[] = [];
for (const line of readFileSync(FIXTURE, "utf8").split("\n")) {
  const m = /^\d+\.\d+: b'(\{"ty":"orderbook".*)'$/.exec(line);
  if (m) frames.push({ bytes: enc.encode(m[1]!), code: /"cd":"([A-Z-]+)"/.exec(m[1]!)![1]! });
}
const instruments: Instrument[] = Object.entries(TICKS).map(([symbol, tick]) => ({
  instrumentId: instrumentIdOf("upbit", "spot", symbol), venue: "upbit", market: "spot", symbol,
  priceExp: exponentOf(tick), qtyExp: 8, tickSize: tick, lotSize: "0.00000001",
}));
runUpbitBench("Upbit, genuine recording", frames, instruments, 1000);
