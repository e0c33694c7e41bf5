/**
 * IPv4 CIDR blocks ("127.0.0.0/8") for the retransmission server's allowed networks (publish.retransmit.allow).
 * @module
 */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits cleared). */
  readonly base: number;
  /** Mask as an unsigned 32-bit integer. */
  readonly mask: number;
  readonly text: string;
}

/** The u32 of a dotted-quad IPv4 address, or −1 when it is not one. */
export function ipv4ToU32(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return -1;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return -1;
    v = v * 256 + o;
  }
  return v;
}

/** Parses "a.b.c.d/n" (or a bare address = /32); throws a RangeError naming the text when it is not one. */
export function parseCidr(text: string): Cidr {
  const [addr, bits = "32", extra] = text.split("/");
  const n = Number(bits);
  const ip = ipv4ToU32(addr ?? "");
  if (extra !== undefined || ip < 0 || !/^\d{1,2}$/.test(bits) || n > 32) throw new RangeError(`${JSON.stringify(text)} is not an IPv4 CIDR block like "127.0.0.0/8"`);
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return { base: (ip & mask) >>> 0, mask, text };
}

/** True when the dotted-quad address lies in one of the blocks (an IPv4-mapped IPv6 "::ffff:a.b.c.d" counts). */
export function inCidrs(address: string, blocks: readonly Cidr[]): boolean {
  const ip = ipv4ToU32(address.startsWith("::ffff:") ? address.slice(7) : address);
  if (ip < 0) return false;
  for (const b of blocks) if (((ip & b.mask) >>> 0) === b.base) return true;
  return false;
}
