/** Test helpers shared by wire, subscriber and net tests: a reference book, a seeded PRNG, random events. */
import type { BookView } from "../../src/core/book-view.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type Instrument, type MarketName, type VenueName } from "../../src/core/types.ts";
import { datagramCrc32Ts } from "../../src/wire/crc32.ts";
import { datagramCrc32c } from "../../src/wire/crc32c.ts";
import { PKT_CHECKSUM_OFFSET, PKT_LENGTH_OFFSET, PKT_VERSION_OFFSET, WIRE_VERSION_V2 } from "../../src/wire/layout.ts";
import type { DatagramAuth } from "../../src/wire/auth.ts";
import { crc32c } from "../../src/wire/crc32c.ts";
import { until } from "../support/until.ts";
import { encodeRetxControl, RETX_CRC32C_OFFSET, RETX_FIRST_AVAILABLE_OFFSET, RETX_NEXT_SEQ_OFFSET, RETX_SEQ_NUM_OFFSET } from "../../src/wire/retransmit.ts";

export { rng } from "../support/mulberry32.ts";

export function randInt(r: () => number, lo: number, hiInclusive: number): number {
  return lo + Math.floor(r() * (hiInclusive - lo + 1));
}

export function makeInstrument(venue: VenueName, market: MarketName, symbol: string, priceExp = 2, qtyExp = 3): Instrument {
  return {
    instrumentId: instrumentIdOf(venue, market, symbol),
    venue,
    market,
    symbol,
    priceExp,
    qtyExp,
    tickSize: stepOf(priceExp),
    lotSize: stepOf(qtyExp),
  };
}

function stepOf(exp: number): string {
  return exp <= 0 ? "1" + "0".repeat(-exp) : "0." + "0".repeat(exp - 1) + "1";
}

/** A straightforward BookView over two Maps; sorted rank arrays are rebuilt lazily. */
export class TestBook implements BookView {
  state: BookState = BookState.LIVE;
  reason: StatusReason = StatusReason.NONE;
  instrSeq = 0;
  venueSeq = 0;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  private sortedBids: number[] = [];
  private sortedAsks: number[] = [];
  private dirty = true;

  constructor(readonly instrument: Instrument) {}

  private sort(): void {
    if (!this.dirty) return;
    this.sortedBids = [...this.bids.keys()].sort((a, b) => b - a);
    this.sortedAsks = [...this.asks.keys()].sort((a, b) => a - b);
    this.dirty = false;
  }
  get bidCount(): number {
    return this.bids.size;
  }
  get askCount(): number {
    return this.asks.size;
  }
  bidPriceAt(rank: number): number {
    this.sort();
    return this.sortedBids[rank]!;
  }
  bidQtyAt(rank: number): number {
    return this.bids.get(this.bidPriceAt(rank))!;
  }
  askPriceAt(rank: number): number {
    this.sort();
    return this.sortedAsks[rank]!;
  }
  askQtyAt(rank: number): number {
    return this.asks.get(this.askPriceAt(rank))!;
  }

  /** Applies a change set (qty 0 deletes) and advances instrSeq as the builder would. */
  apply(cs: ChangeSet, venueSeq: number, tsUs: number): void {
    for (let i = 0; i < cs.bidCount; i++) setLevel(this.bids, cs.bidPx[i]!, cs.bidQty[i]!);
    for (let i = 0; i < cs.askCount; i++) setLevel(this.asks, cs.askPx[i]!, cs.askQty[i]!);
    this.dirty = true;
    this.instrSeq++;
    this.venueSeq = venueSeq;
    this.tsExchangeUs = tsUs;
    this.tsEventUs = tsUs - 3;
    this.tsRecvUs = tsUs + 250;
  }

  /** Replaces the whole book (a venue snapshot) and advances instrSeq. */
  load(bids: [number, number][], asks: [number, number][], venueSeq: number, tsUs: number): void {
    this.bids.clear();
    this.asks.clear();
    for (const [p, q] of bids) this.bids.set(p, q);
    for (const [p, q] of asks) this.asks.set(p, q);
    this.dirty = true;
    this.instrSeq++;
    this.venueSeq = venueSeq;
    this.tsExchangeUs = tsUs;
    this.tsEventUs = tsUs - 3;
    this.tsRecvUs = tsUs + 250;
  }

  topBids(n = Infinity): [number, number][] {
    this.sort();
    return this.sortedBids.slice(0, n).map((p) => [p, this.bids.get(p)!]);
  }
  topAsks(n = Infinity): [number, number][] {
    this.sort();
    return this.sortedAsks.slice(0, n).map((p) => [p, this.asks.get(p)!]);
  }
}

function setLevel(side: Map<number, number>, price: number, qty: number): void {
  if (qty === 0) side.delete(price);
  else side.set(price, qty);
}

/** Every level of a BookView, best first, as [price, qty] pairs. */
export function levelsOf(view: BookView): { bids: [number, number][]; asks: [number, number][] } {
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < view.bidCount; i++) bids.push([view.bidPriceAt(i), view.bidQtyAt(i)]);
  for (let i = 0; i < view.askCount; i++) asks.push([view.askPriceAt(i), view.askQtyAt(i)]);
  return { bids, asks };
}

/** A random full book of `levels` per side around midTicks (bids below, asks above, distinct prices). */
export function randomBookSides(r: () => number, levels: number, midTicks: number): { bids: [number, number][]; asks: [number, number][] } {
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  let p = midTicks - 1;
  for (let i = 0; i < levels; i++) {
    bids.push([p, randInt(r, 1, 5_000_000)]);
    p -= randInt(r, 1, 3);
  }
  p = midTicks + 1;
  for (let i = 0; i < levels; i++) {
    asks.push([p, randInt(r, 1, 5_000_000)]);
    p += randInt(r, 1, 3);
  }
  return { bids, asks };
}

/** Fills cs with a random event against book: updates, inserts and deletes of up to maxLevels levels. */
export function randomChanges(r: () => number, book: TestBook, cs: ChangeSet, maxLevels: number, midTicks: number): void {
  cs.clear();
  const n = randInt(r, 0, maxLevels);
  const usedB = new Set<number>();
  const usedA = new Set<number>();
  for (let i = 0; i < n; i++) {
    const bid = r() < 0.5;
    const price = bid ? midTicks - randInt(r, 1, 300) : midTicks + randInt(r, 1, 300);
    const used = bid ? usedB : usedA;
    if (used.has(price)) continue;
    used.add(price);
    const exists = (bid ? book.bids : book.asks).has(price);
    const qty = exists && r() < 0.4 ? 0 : randInt(r, 1, 9_000_000);
    if (bid) cs.addBid(price, qty);
    else cs.addAsk(price, qty);
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ""), "hex"));
}

/** test/support/until.ts's until, in this file's older argument order (bound before what) and 5 s default. */
export function waitFor(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  return until(cond, what, timeoutMs);
}

/**
 * Recomputes the checksum field of a (mutated) datagram as its version computes it (CRC-32 in v3, CRC-32C in v2), so
 * a test reaches the structural check it means to hit instead of stopping at `bad_checksum`. Mutates and returns
 * `bytes`.
 */
export function resealCrc(bytes: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pktLength = Math.min(dv.getUint16(PKT_LENGTH_OFFSET, true), bytes.byteLength);
  dv.setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(bytes, pktLength), true);
  return bytes;
}

/** The checksum a datagram of bytes[0, pktLength) must carry for its version byte (test helper, any view). */
export function datagramChecksum(bytes: Uint8Array, pktLength: number): number {
  return bytes[PKT_VERSION_OFFSET] === WIRE_VERSION_V2 ? datagramCrc32c(bytes, pktLength) : datagramCrc32Ts(bytes, pktLength);
}

/**
 * A retransmission control packet (channel 3, source 0, session 77, count 1 unless `o` says) with seqNum,
 * firstAvailable and nextSeq set to `values` (any u64: forged), its HMAC (when `auth`) and CRC-32C made for them.
 */
export function forgedControl(
  kind: number,
  values: readonly bigint[],
  auth?: DatagramAuth,
  o: { channelId?: number; sourceId?: number; sessionId?: number; count?: number } = {},
): Uint8Array {
  const { channelId = 3, sourceId = 0, sessionId = 77, count = 1 } = o;
  const out = new Uint8Array(64);
  const length = encodeRetxControl(out, { kind, channelId, sourceId, sessionId, seqNum: 1, count, firstAvailable: 0, nextSeq: 0 }, auth);
  const dv = new DataView(out.buffer);
  [RETX_SEQ_NUM_OFFSET, RETX_FIRST_AVAILABLE_OFFSET, RETX_NEXT_SEQ_OFFSET].forEach((off, i) => dv.setBigUint64(off, values[i]!, true));
  dv.setUint32(RETX_CRC32C_OFFSET, 0, true);
  if (auth !== undefined) auth.sign(out, length);
  dv.setUint32(RETX_CRC32C_OFFSET, crc32c(out, 0, length), true);
  return out.slice(0, length);
}
