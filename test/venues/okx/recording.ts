/** The genuine OKX recording (test/fixtures/cryptofeed/OKX.ws.1.0) as frames, and its instruments' tick and lot. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { MarketName } from "../../../src/core/types.ts";

export const FIXTURE = resolve(import.meta.dirname, "../../fixtures/cryptofeed/OKX.ws.1.0");

/** Tick and lot of the recorded instruments (OKX instruments of 2022; the largest decimals seen in the file fit). */
export const OKX_RECORDING_INSTRUMENTS: { market: MarketName; symbol: string; tickSize: string; lotSize: string }[] = [
  { market: "inverse", symbol: "BTC-USD-220527", tickSize: "0.1", lotSize: "1" },
  { market: "inverse", symbol: "UNI-USD-SWAP", tickSize: "0.001", lotSize: "1" },
  { market: "spot", symbol: "BTC-USDT", tickSize: "0.1", lotSize: "0.00000001" },
];

export interface Recorded {
  tsRecvUs: number;
  frame: string;
  instId: string;
  checksum: number;
}

/** Every received frame of the file with its receive time; `books` ones with their instId and checksum. */
export function okxRecordingFrames(): { all: { tsRecvUs: number; frame: string }[]; books: Recorded[] } {
  const all: { tsRecvUs: number; frame: string }[] = [];
  const books: Recorded[] = [];
  for (const line of readFileSync(FIXTURE, "utf8").split(/\r?\n/)) {
    const m = /^(\d+\.\d+): (.*)$/.exec(line);
    if (!m) continue;
    const tsRecvUs = Math.round(Number(m[1]) * 1e6);
    all.push({ tsRecvUs, frame: m[2]! });
    const msg = JSON.parse(m[2]!) as { arg?: { channel?: string; instId?: string }; data?: { checksum: number }[] };
    if (msg.arg?.channel === "books" && msg.data) books.push({ tsRecvUs, frame: m[2]!, instId: msg.arg.instId!, checksum: msg.data[0]!.checksum });
  }
  return { all, books };
}

