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

/**
 * The u32 of a dotted-quad IPv4 address (four decimal octets 0–255 without leading zeros, as core/ipv4.ts isIpv4:
 * inet_aton reads "010" as octal 8, so such a block would mean another network to other tools) from index `from`
 * of `s`, or −1 when it is not one. Allocates nothing: the retransmission server checks every datagram's sender
 * with it (the kernel never reports a leading zero).
 */
export function ipv4ToU32(s: string, from = 0): number {
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      if (++digits > 3) return -1;
      octet = octet * 10 + (c - 48);
    } else if (c === 46 && digits > 0 && dots < 3) {
      if (octet > 255) return -1;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return -1;
  return v * 256 + octet;
}

/**
 * A block written with host bits set ("10.0.0.1/8"): which of the two it may mean is named, never guessed. Clearing
 * them silently (as before) turned a host meant as /32 with a mistyped prefix into 16 million requesters.
 */
export class CidrHostBitsError extends RangeError {
  constructor(
    readonly text: string,
    /** The block the address lies in, host bits cleared: "10.0.0.0/8". */
    readonly network: string,
    /** The address alone: "10.0.0.1/32". */
    readonly host: string,
  ) {
    super(`${JSON.stringify(text)} has host bits set: the network is "${network}", the one host "${host}"`);
  }
}

function dotted(u32: number): string {
  return `${u32 >>> 24}.${(u32 >>> 16) & 255}.${(u32 >>> 8) & 255}.${u32 & 255}`;
}

/**
 * Parses "a.b.c.d/n" (or a bare address = /32); throws a RangeError naming the text when it is not one, and a
 * CidrHostBitsError when the address has bits set beyond the prefix (as `ip route` and Python's ipaddress refuse it).
 */
export function parseCidr(text: string): Cidr {
  const [addr, bits = "32", extra] = text.split("/");
  const n = Number(bits);
  const ip = ipv4ToU32(addr ?? "");
  if (extra !== undefined || ip < 0 || !/^\d{1,2}$/.test(bits) || n > 32) throw new RangeError(`${JSON.stringify(text)} is not an IPv4 CIDR block like "127.0.0.0/8"`);
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  const base = (ip & mask) >>> 0;
  if (base !== ip) throw new CidrHostBitsError(text, `${dotted(base)}/${n}`, `${addr}/32`);
  return { base, mask, text };
}

/** True when the dotted-quad address lies in one of the blocks (an IPv4-mapped IPv6 "::ffff:a.b.c.d" counts). */
export function inCidrs(address: string, blocks: readonly Cidr[]): boolean {
  const ip = ipv4ToU32(address, address.startsWith("::ffff:") ? 7 : 0);
  if (ip < 0) return false;
  for (const b of blocks) if (((ip & b.mask) >>> 0) === b.base) return true;
  return false;
}
