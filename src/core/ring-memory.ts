/**
 * What one retransmission ring (net/retransmit-ring.ts) preallocates, for the ring itself and for the config's check
 * of the rings' total (config/load.ts, which may not import net/): its byte ring, and an index of one slot per
 * smallest datagram it can hold. Until 2026-12-07 the check counted the byte ring only, though the index adds ~0.36×.
 * @module
 */

/** The smallest datagram the ring stores: a packet header (wire/layout.ts, 48 bytes) and one 8-byte message. */
export const RING_MIN_DATAGRAM_BYTES = 56;

/** One index slot: offset and length (Int32), first seqNum (Float64), message count (Int32). */
export const RING_INDEX_BYTES_PER_SLOT = 20;

/** Index slots of a ring of `capacityBytes`: as many datagrams as it can hold, and one. */
export function ringIndexSlots(capacityBytes: number): number {
  return Math.floor(capacityBytes / RING_MIN_DATAGRAM_BYTES) + 1;
}

/** Bytes a ring of `capacityBytes` preallocates: the byte ring and its index. */
export function ringMemoryBytes(capacityBytes: number): number {
  return capacityBytes + RING_INDEX_BYTES_PER_SLOT * ringIndexSlots(capacityBytes);
}

/** The largest capacity whose ring takes at most `memoryBytes` (0 when none does). */
export function largestRingWithin(memoryBytes: number): number {
  // ringMemoryBytes grows by ~76/56 per byte: start from that estimate, then step to the exact largest.
  let capacity = Math.max(0, Math.floor(((memoryBytes - RING_INDEX_BYTES_PER_SLOT) * RING_MIN_DATAGRAM_BYTES) / (RING_MIN_DATAGRAM_BYTES + RING_INDEX_BYTES_PER_SLOT)));
  while (capacity > 0 && ringMemoryBytes(capacity) > memoryBytes) capacity--;
  while (ringMemoryBytes(capacity + 1) <= memoryBytes) capacity++;
  return ringMemoryBytes(capacity) <= memoryBytes ? capacity : 0;
}
