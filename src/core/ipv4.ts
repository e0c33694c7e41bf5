/**
 * The IPv4 address grammar of the configuration and the command line: dotted decimal, four octets 0–255 without
 * leading zeros. The resolver behind dgram (inet_aton) reads "010" as octal 8 and cannot read "09", so such a string
 * would name another address, or none. core/cidr.ts ipv4ToU32 is the same grammar without allocation (hot path).
 * @module
 */

/**
 * Why `s` is not such an address, as a clause naming it ("239.255.0.010 has a leading zero in octet …"), or null when
 * it is one. A refusal says this before any range or locality check: before, "239.255.0.010" was "not an IPv4
 * multicast address (224.0.0.0 – 239.255.255.255)", which it seemed to be.
 */
export function ipv4Problem(s: string): string | null {
  if (s === "") return "the address is empty";
  const parts = s.split(".");
  if (/^[A-Za-z0-9.-]+$/.test(s) && !parts.some((p) => /^\d+$/.test(p))) return `${s} is a name, not a dotted-decimal address`;
  for (const p of parts) {
    if (p === "") return `${s} has an empty octet`;
    if (!/^\d+$/.test(p)) return `${s} has "${p}" where a decimal octet belongs`;
  }
  if (parts.length !== 4) return `${s} has ${parts.length} octet${parts.length === 1 ? "" : "s"}, not 4`;
  for (const p of parts) {
    if (p.length > 1 && p.startsWith("0")) {
      const octal = /^[0-7]+$/.test(p) ? `octal ${parseInt(p, 8)}` : "no octal number";
      return `${s} has a leading zero in octet "${p}", which is ambiguous: ${octal} to inet_aton (which the socket calls use), decimal ${Number(p)} to most tools`;
    }
    if (Number(p) > 255) return `${s} has octet ${p}, over 255`;
  }
  return null;
}

export function isIpv4(s: string): boolean {
  return ipv4Problem(s) === null;
}
