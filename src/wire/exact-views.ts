// HOT PATH: no allocation in steady state
/**
 * Exact-length views of one reused datagram buffer: the native CRC-32 (wire/crc32.ts) and `sendMany` both take a
 * view whose length is the datagram's. One view per length / 8 (the packer's datagrams are multiples of 8 long),
 * created the first time the buffer holds that length (cold) and reused after, so a flush or a verify allocates
 * nothing once the lengths have been seen.
 * @module
 */
export class ExactViews {
  private readonly byEighth: (Uint8Array | undefined)[] = [];

  constructor(readonly bytes: Uint8Array) {}

  /** bytes[0, length) as a view of its own. `length` must be a multiple of 8 to be reused (others still work). */
  of(length: number): Uint8Array {
    const slot = length >>> 3;
    let view = this.byEighth[slot];
    if (view === undefined || view.length !== length) {
      view = this.bytes.subarray(0, length); // cold: the first datagram of this length in this buffer
      this.byEighth[slot] = view;
    }
    return view;
  }
}
