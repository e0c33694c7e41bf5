/**
 * Keyed datagram authentication (wire flag AUTHENTICATED, docs/wire-protocol.md §3.3): the 16-byte trailer is
 * the first 16 bytes of HMAC-SHA256(key, bytes [0, pktLength − 16) with the checksum field taken as 0). node:crypto,
 * so the subscriber runs under Node as well as Bun. createHmac allocates a few small objects per datagram (no
 * allocation-free HMAC exists in node:crypto; precomputed pad states via Hash.copy() measured no faster); its cost
 * per datagram is in bench/wire.bench.ts. Only segments that enable a key pay it.
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { AUTH_TRAILER_BYTES, MIN_AUTH_KEY_BYTES, PACKET_HEADER_BYTES, PKT_CHECKSUM_OFFSET } from "./layout.ts";

/** Key files are read by core (the config check needs it too); re-exported for publisher and subscriber. */
export { readAuthKeyFile } from "../core/auth-key.ts";

export class DatagramAuth {
  private readonly key: Uint8Array;

  /** `key`: at least MIN_AUTH_KEY_BYTES bytes (copied). */
  constructor(key: Uint8Array) {
    if (key.length < MIN_AUTH_KEY_BYTES) throw new RangeError(`auth key is ${key.length} bytes; at least ${MIN_AUTH_KEY_BYTES} are required`);
    this.key = Uint8Array.from(key);
  }

  /** Writes the trailer into bytes [pktLength − 16, pktLength). The checksum field must still be 0 (the CRC comes after). */
  sign(bytes: Uint8Array, pktLength: number): void {
    const mac = createHmac("sha256", this.key).update(bytes.subarray(0, pktLength - AUTH_TRAILER_BYTES)).digest();
    bytes.set(mac.subarray(0, AUTH_TRAILER_BYTES), pktLength - AUTH_TRAILER_BYTES);
  }

  /**
   * True when bytes[0, length) end in a valid trailer over everything before it, no checksum field taken as 0 (the
   * NATS bridge's signed envelopes, subscriber/nats-envelope.ts). Constant-time compare.
   */
  verifyTrailer(bytes: Uint8Array, length: number): boolean {
    if (length < AUTH_TRAILER_BYTES || length > bytes.length) return false;
    const mac = createHmac("sha256", this.key).update(bytes.subarray(0, length - AUTH_TRAILER_BYTES)).digest();
    return timingSafeEqual(mac.subarray(0, AUTH_TRAILER_BYTES), bytes.subarray(length - AUTH_TRAILER_BYTES, length));
  }

  /**
   * True when the trailer of bytes[0, pktLength) is valid (constant-time compare). The checksum field is zeroed for the
   * computation and restored, so `bytes` is unchanged afterwards.
   */
  verify(bytes: Uint8Array, pktLength: number, crcOffset: number = PKT_CHECKSUM_OFFSET): boolean {
    // (crcOffset: retransmission control packets keep their CRC at another offset, wire/retransmit.ts)
    if (pktLength < PACKET_HEADER_BYTES + AUTH_TRAILER_BYTES || pktLength > bytes.length) return false;
    const c0 = bytes[crcOffset]!;
    const c1 = bytes[crcOffset + 1]!;
    const c2 = bytes[crcOffset + 2]!;
    const c3 = bytes[crcOffset + 3]!;
    bytes.fill(0, crcOffset, crcOffset + 4);
    let mac: Uint8Array;
    try {
      mac = createHmac("sha256", this.key).update(bytes.subarray(0, pktLength - AUTH_TRAILER_BYTES)).digest();
    } finally {
      bytes[crcOffset] = c0;
      bytes[crcOffset + 1] = c1;
      bytes[crcOffset + 2] = c2;
      bytes[crcOffset + 3] = c3;
    }
    return timingSafeEqual(mac.subarray(0, AUTH_TRAILER_BYTES), bytes.subarray(pktLength - AUTH_TRAILER_BYTES, pktLength));
  }
}
