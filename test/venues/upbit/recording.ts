/**
 * The genuine Upbit recording (test/fixtures/cryptofeed/UPBIT.ws.62.0: cryptofeed, 2021-04-17, SIMPLE format,
 * binary frames written as Python byte literals) and an independent reference for it: units matched by a regex
 * on the frame text and converted with BigInt, never through the scanner or core/fixed.ts.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const UPBIT_FIXTURE = resolve(import.meta.dirname, "../../fixtures/cryptofeed/UPBIT.ws.62.0");

export interface RecordedFrame {
  tsRecvUs: number;
  /** The frame's text (the byte literal's content: ASCII JSON, no escapes in this file). */
  text: string;
}

/** Every received frame (trades included), in order. */
export function upbitFrames(): RecordedFrame[] {
  const out: RecordedFrame[] = [];
  for (const line of readFileSync(UPBIT_FIXTURE, "utf8").split("\n")) {
    const m = /^(\d+\.\d+): b'(.*)'$/.exec(line);
    if (!m) continue;
    if (m[2]!.includes("\\")) throw new Error("escape in a byte literal: decode it before use");
    out.push({ tsRecvUs: Math.round(Number(m[1]) * 1e6), text: m[2]! });
  }
  return out;
}

/** Exponents per code, given as config overrides (the recording's venue is 2021's; REST is not consulted). */
export const UPBIT_RECORDING_SPECS: Record<string, { tickSize: string; lotSize: string }> = {
  "BTC-ITAM": { tickSize: "0.00000001", lotSize: "0.00000001" },
  "BTC-PAX": { tickSize: "0.00000001", lotSize: "0.00000001" },
  "BTC-XTZ": { tickSize: "0.00000001", lotSize: "0.00000001" },
  "KRW-LAMB": { tickSize: "1", lotSize: "0.00000001" },
  "KRW-WAVES": { tickSize: "0.01", lotSize: "0.00000001" },
};
export const UPBIT_RECORDING_CODES = Object.keys(UPBIT_RECORDING_SPECS);

/** BigInt oracle: a JSON number's text at exp decimals (null if it is not exact or not a number). */
export function exactMantissa(s: string, exp: number): bigint | null {
  const m = /^(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return null;
  const digits = BigInt(m[1]! + (m[2] ?? ""));
  const shift = exp + Number(m[3] ?? "0") - (m[2] ?? "").length;
  if (shift >= 0) return digits * 10n ** BigInt(shift);
  const p = 10n ** BigInt(-shift);
  return digits % p === 0n ? digits / p : null;
}

export interface RefBook {
  code: string;
  timestamp: number;
  bids: Map<number, number>;
  asks: Map<number, number>;
}

/** The reference reading of one orderbook frame (SIMPLE keys in the recorded order), or null for other frames. */
export function referenceBook(text: string, priceExp: (code: string) => number, qtyExp: number): RefBook | null {
  if (!text.startsWith('{"ty":"orderbook"')) return null;
  const code = /"cd":"([A-Z-]+)"/.exec(text)![1]!;
  const timestamp = Number(/"tms":(\d+)/.exec(text)![1]);
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const num = "([0-9.eE+-]+)";
  const re = new RegExp(`\\{"ap":${num},"bp":${num},"as":${num},"bs":${num}\\}`, "g");
  const pe = priceExp(code);
  for (const u of text.matchAll(re)) {
    const [ap, bp, as, bs] = [exactMantissa(u[1]!, pe), exactMantissa(u[2]!, pe), exactMantissa(u[3]!, qtyExp), exactMantissa(u[4]!, qtyExp)];
    if (ap === null || bp === null || as === null || bs === null) throw new Error(`inexact unit in ${code}`);
    if (ap > 0n && as > 0n) asks.set(Number(ap), Number(as));
    if (bp > 0n && bs > 0n) bids.set(Number(bp), Number(bs));
  }
  return { code, timestamp, bids, asks };
}
