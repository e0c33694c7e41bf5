// HOT PATH: push() runs in the publisher's flush for every data datagram; it copies into preallocated memory only.
/**
 * The last data datagrams of one (channel, source), bounded in bytes (publish.retransmit.ring_bytes), for the
 * request server (retransmit-server.ts). Datagrams are stored contiguously in one preallocated byte ring (a datagram
 * that does not fit before the end starts again at 0); an index ring holds each one's offset, length, first seqNum
 * and message count. The oldest datagrams are evicted as the bytes are reused. Heartbeats are not stored (they carry
 * no message). Sequence numbers of stored datagrams are contiguous: a lookup is an index computation after a
 * binary search.
 * @module
 */
import { copyRange } from "../core/copy-range.ts";
import { ringIndexSlots } from "../core/ring-memory.ts";

export class RetransmitRing {
  readonly capacityBytes: number;
  private readonly bytes: Uint8Array;
  /** Index ring: slot i of `entries` slots; head = oldest, count live. */
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly seqs: Float64Array;
  private readonly msgCounts: Int32Array;
  private readonly slots: number;
  private head = 0;
  private count = 0;
  /** Byte position where the next datagram is written. */
  private writePos = 0;
  /**
   * Times the ring was emptied (clear). Its sequence numbers may start over after a clear, so a reader that keeps a
   * seqNum across turns (an answer in progress) must compare this before finding it again: the same seqNum may then
   * name another datagram.
   */
  private clears = 0;

  constructor(capacityBytes: number, maxDatagramBytes: number) {
    if (!(Number.isInteger(capacityBytes) && capacityBytes >= maxDatagramBytes)) {
      throw new RangeError(`retransmit ring of ${capacityBytes} bytes cannot hold one datagram of ${maxDatagramBytes}`);
    }
    this.capacityBytes = capacityBytes;
    this.bytes = new Uint8Array(capacityBytes);
    // Every stored datagram carries at least a header and one 8-byte message (RING_MIN_DATAGRAM_BYTES): what the
    // config counts of the index (core/ring-memory.ts) is what is allocated here.
    this.slots = ringIndexSlots(capacityBytes);
    this.offsets = new Int32Array(this.slots);
    this.lengths = new Int32Array(this.slots);
    this.seqs = new Float64Array(this.slots);
    this.msgCounts = new Int32Array(this.slots);
  }

  /** Datagrams held. */
  get size(): number {
    return this.count;
  }

  /** First seqNum held (0 when empty). */
  get firstSeq(): number {
    return this.count === 0 ? 0 : this.seqs[this.head];
  }

  /** The seqNum after the last message held (0 when empty). */
  get nextSeq(): number {
    if (this.count === 0) return 0;
    const last = (this.head + this.count - 1) % this.slots;
    return this.seqs[last] + this.msgCounts[last];
  }

  /**
   * HOT PATH: stores a copy of one sent data datagram (seqNum of its first message, msgCount ≥ 1). A seqNum that
   * does not continue the held ones (cannot happen within one publisher session) empties the ring first. `src` should
   * be exactly `length` long (the packer's cached exact-length view): a longer one costs a view per call.
   */
  push(src: Uint8Array, length: number, seqNum: number, msgCount: number): void {
    if (this.count > 0 && seqNum !== this.nextSeq) this.clear();
    let pos = this.writePos;
    // On a wrap, the datagrams from the old write position to the end are the oldest: they go first (what is held
    // stays the newest datagrams, contiguous in sequence).
    const wrapFrom = pos + length > this.capacityBytes ? pos : this.capacityBytes + 1;
    if (wrapFrom <= this.capacityBytes) pos = 0;
    const end = pos + length;
    // Evict the oldest datagrams whose bytes overlap [pos, end), and the oldest slot when the index is full.
    while (this.count > 0) {
      const h = this.head;
      const o = this.offsets[h];
      const overlaps = (o < end && o + this.lengths[h] > pos) || o >= wrapFrom;
      if (!overlaps && this.count < this.slots) break;
      this.head = (h + 1) % this.slots;
      this.count--;
    }
    copyRange(src, this.bytes, pos, 0, length); // src.subarray(0, length) was ~64 B of heap per datagram
    const slot = (this.head + this.count) % this.slots;
    this.offsets[slot] = pos;
    this.lengths[slot] = length;
    this.seqs[slot] = seqNum;
    this.msgCounts[slot] = msgCount;
    this.count++;
    this.writePos = end;
  }

  /** How many times the ring was emptied (see `clears`). */
  get generation(): number {
    return this.clears;
  }

  clear(): void {
    this.clears++;
    this.head = 0;
    this.count = 0;
    this.writePos = 0;
  }

  /**
   * Index (0 = oldest) of the datagram whose first message is seqNum, or −1 when no held datagram starts there
   * (older than the ring, not sent yet, or inside a datagram: requests start at datagram boundaries).
   */
  find(seqNum: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.seqs[(this.head + mid) % this.slots];
      if (s === seqNum) return mid;
      if (s < seqNum) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Datagram i (0 = oldest): a view into the ring (valid until the next push); copy before changing it. */
  datagram(i: number): Uint8Array {
    const slot = (this.head + i) % this.slots;
    const o = this.offsets[slot];
    return this.bytes.subarray(o, o + this.lengths[slot]);
  }

  /** Datagram i's length (no view). */
  lengthOf(i: number): number {
    return this.lengths[(this.head + i) % this.slots];
  }

  /** A copy of datagram i (one allocation: no view of the ring first). */
  copyOf(i: number): Uint8Array {
    const slot = (this.head + i) % this.slots;
    const o = this.offsets[slot];
    return this.bytes.slice(o, o + this.lengths[slot]);
  }

  seqOf(i: number): number {
    return this.seqs[(this.head + i) % this.slots];
  }

  msgCountOf(i: number): number {
    return this.msgCounts[(this.head + i) % this.slots];
  }
}
