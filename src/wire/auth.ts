/**
 * Keyed datagram authentication (wire flag AUTHENTICATED, docs/wire-protocol.md §3.3): the 16-byte trailer is
 * the first 16 bytes of HMAC-SHA256(key, bytes [0, pktLength − 16) with the checksum field taken as 0).
 *
 * Two ways to compute it, same bytes:
 * - node:crypto `createHmac` (the default, so the subscriber runs under Node as well as Bun): a few small objects per
 *   datagram (its Hmac, the digest, views).
 * - a reusable SHA-256 given by the caller (`ReusableSha256`; the publisher passes `new Bun.CryptoHasher("sha256")`,
 *   the subscriber `runtimeSha256()`, Bun's found on globalThis, none under Node; src/wire calls no Bun API): HMAC as H(opad ‖ H(ipad ‖ message)) with the pad blocks made once, digests
 *   written into scratch and exact-length message views reused per buffer, so a datagram allocates nothing.
 *   (A pure-TypeScript SHA-256 was measured 2-8× slower than createHmac; a Bun HMAC hasher cannot be reused after its
 *   digest, and `copy()` makes one per call.) Costs in performance.md §19.
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ExactViews } from "./exact-views.ts";
import { AUTH_TRAILER_BYTES, MIN_AUTH_KEY_BYTES, PACKET_HEADER_BYTES, PKT_CHECKSUM_OFFSET } from "./layout.ts";

/** Key files are read by core (the config check needs it too); re-exported for publisher and subscriber. */
export { readAuthKeyFile } from "../core/auth-key.ts";

/**
 * A SHA-256 that is reused: `digest(into)` writes the 32-byte hash at into[0, 32) and starts a new hash (Bun's
 * `CryptoHasher("sha256")` does; it asks for an `into` of at least 64 bytes).
 */
export interface ReusableSha256 {
  update(data: Uint8Array): unknown;
  digest(into: Uint8Array): unknown;
}

/**
 * The runtime's ReusableSha256: a new `CryptoHasher("sha256")` under Bun, undefined under Node (createHmac then).
 * Looked up on globalThis, so nothing here (nor the subscriber that calls it) touches a Bun API under Node.
 */
export function runtimeSha256(): ReusableSha256 | undefined {
  const bun = (globalThis as { Bun?: { CryptoHasher: new (algorithm: "sha256") => ReusableSha256 } }).Bun;
  return bun === undefined ? undefined : new bun.CryptoHasher("sha256");
}

/**
 * An option's hasher: `null` is createHmac (whatever the runtime), undefined the runtime's (runtimeSha256), else the
 * one given.
 */
export function sha256Option(given: ReusableSha256 | null | undefined): ReusableSha256 | undefined {
  return given === null ? undefined : (given ?? runtimeSha256());
}

const SHA256_BLOCK_BYTES = 64;
const SHA256_BYTES = 32;

export class DatagramAuth {
  private readonly key: Uint8Array;
  private readonly sha256: ReusableSha256 | undefined;
  /** key ⊕ 0x36 and key ⊕ 0x5c, one block each (RFC 2104), when `sha256` is given. */
  private readonly ipad = new Uint8Array(SHA256_BLOCK_BYTES);
  private readonly opad = new Uint8Array(SHA256_BLOCK_BYTES);
  /** Digest scratch (64 bytes: what CryptoHasher#digest(into) requires) and its first 32 bytes as a view of its own. */
  private readonly digestBuf = new Uint8Array(2 * SHA256_BYTES);
  private readonly innerDigest = this.digestBuf.subarray(0, SHA256_BYTES);
  /** Exact-length views of each buffer signed or verified (the packer's and the ring's buffers are reused). */
  private readonly views = new WeakMap<Uint8Array, ExactViews>();

  /**
   * `key`: at least MIN_AUTH_KEY_BYTES bytes (copied). `sha256`: a reusable SHA-256 (see ReusableSha256) for an
   * allocation-free MAC; without it node:crypto's createHmac.
   */
  constructor(key: Uint8Array, sha256?: ReusableSha256) {
    if (key.length < MIN_AUTH_KEY_BYTES) throw new RangeError(`auth key is ${key.length} bytes; at least ${MIN_AUTH_KEY_BYTES} are required`);
    this.key = Uint8Array.from(key);
    this.sha256 = sha256;
    // RFC 2104: a key longer than the block is hashed first; a shorter one is padded with zeros.
    const k = key.length > SHA256_BLOCK_BYTES ? createHash("sha256").update(key).digest() : key;
    for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
      const b = i < k.length ? k[i]! : 0;
      this.ipad[i] = b ^ 0x36;
      this.opad[i] = b ^ 0x5c;
    }
  }

  /**
   * Writes the trailer into bytes [pktLength − 16, pktLength). The checksum field must still be 0 (the CRC comes after).
   * A RangeError when [0, pktLength) does not hold a trailer within `bytes` (before 2026-12-06 the reusable-hasher path
   * signed what lay within the buffer and wrote no trailer, silently; createHmac's threw).
   */
  sign(bytes: Uint8Array, pktLength: number): void {
    if (!(Number.isInteger(pktLength) && pktLength >= AUTH_TRAILER_BYTES && pktLength <= bytes.length)) {
      throw new RangeError(`cannot sign ${pktLength} bytes of a ${bytes.length}-byte buffer: a datagram of ${AUTH_TRAILER_BYTES} to ${bytes.length} bytes, its trailer included`);
    }
    const at = pktLength - AUTH_TRAILER_BYTES;
    if (this.sha256 !== undefined) {
      const mac = this.macOf(this.sha256, bytes, at);
      for (let i = 0; i < AUTH_TRAILER_BYTES; i++) bytes[at + i] = mac[i]!;
      return;
    }
    const mac = createHmac("sha256", this.key).update(bytes.subarray(0, at)).digest();
    bytes.set(mac.subarray(0, AUTH_TRAILER_BYTES), at);
  }

  /**
   * True when bytes[0, length) end in a valid trailer over everything before it, no checksum field taken as 0 (the
   * NATS bridge's signed envelopes, subscriber/nats-envelope.ts). Constant-time compare.
   */
  verifyTrailer(bytes: Uint8Array, length: number): boolean {
    if (length < AUTH_TRAILER_BYTES || length > bytes.length) return false;
    return this.trailerMatches(bytes, length);
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
    try {
      return this.trailerMatches(bytes, pktLength);
    } finally {
      bytes[crcOffset] = c0;
      bytes[crcOffset + 1] = c1;
      bytes[crcOffset + 2] = c2;
      bytes[crcOffset + 3] = c3;
    }
  }

  /** The MAC of bytes[0, length − 16) against the trailer at [length − 16, length), in constant time. */
  private trailerMatches(bytes: Uint8Array, length: number): boolean {
    const at = length - AUTH_TRAILER_BYTES;
    if (this.sha256 === undefined) {
      const mac = createHmac("sha256", this.key).update(bytes.subarray(0, at)).digest();
      return timingSafeEqual(mac.subarray(0, AUTH_TRAILER_BYTES), bytes.subarray(at, length));
    }
    const mac = this.macOf(this.sha256, bytes, at);
    let diff = 0; // no early exit: the time does not tell how many bytes matched
    for (let i = 0; i < AUTH_TRAILER_BYTES; i++) diff |= mac[i]! ^ bytes[at + i]!;
    return diff === 0;
  }

  /**
   * HMAC-SHA256(key, bytes[0, length)) in this.digestBuf[0, 32), by the reusable hasher. No allocation once warm.
   * The hasher keeps what it was fed until its next digest: a throw between two digests (a detached buffer's view, a
   * hasher's own error) would leave a half-fed hash that the next datagram's MAC started from (signed wrong, or a
   * genuine one refused). So the view is taken before the first update, and a throw digests the rest away.
   */
  private macOf(h: ReusableSha256, bytes: Uint8Array, length: number): Uint8Array {
    let views = this.views.get(bytes);
    if (views === undefined) this.views.set(bytes, (views = new ExactViews(bytes))); // cold: a buffer not seen before
    const message = views.of(length);
    try {
      h.update(this.ipad);
      h.update(message);
      h.digest(this.digestBuf);
      h.update(this.opad);
      h.update(this.innerDigest);
      h.digest(this.digestBuf);
    } catch (err) {
      try {
        h.digest(this.digestBuf); // starts a new hash (see ReusableSha256)
      } catch {
        // the hasher's own failure: the first error is the one to report
      }
      throw err;
    }
    return this.digestBuf;
  }
}
