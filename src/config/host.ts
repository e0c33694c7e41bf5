/**
 * This host's IPv4 addresses, for checking a configured or given interface before any socket is opened (a
 * multicast socket bound to an address the host does not have fails later, with a less helpful error).
 * @module
 */
import { networkInterfaces } from "node:os";
import { ipv4Problem } from "../core/ipv4.ts";

/**
 * Every IPv4 address assigned to an interface of this host, with the interface's name (config, listen, bridge and app
 * preflight alike). family is the string "IPv4" on Bun and Node >= 18.4 (package.json: node >= 20); only Node
 * 18.0–18.3 gave the number 4.
 */
export function localIpv4Addresses(): { name: string; address: string }[] {
  const out: { name: string; address: string }[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4") out.push({ name, address: a.address });
  }
  return out;
}

/**
 * Whether `addr` is this host's: one of `addresses`, or any of 127.0.0.0/8 while one of them is (Linux routes the
 * whole block to lo: a socket binds 127.0.0.2, and sends multicast from it, as from 127.0.0.1). Until 2026-12-06 only
 * the listed 127.0.0.1 was, so retransmit.listen or an interface at 127.0.0.2 was "not this host's address (yet)":
 * exit 1 and a restart every 5 s for ever.
 */
export function isHostAddress(addr: string, addresses: readonly string[]): boolean {
  return addresses.includes(addr) || (addr.startsWith("127.") && addresses.some((a) => a.startsWith("127.")));
}

/**
 * Why a well-formed IPv4 address can be no host's own (a multicast group or 240/4, broadcast included; 0/8), or null:
 * such an address is a mistake (a group written as the interface), never one that comes up later.
 */
export function neverAHostAddress(addr: string): string | null {
  const first = Number(addr.split(".")[0]);
  if (first >= 224 && first <= 239) return `${addr} is a multicast group address`;
  if (first >= 240) return `${addr} is a reserved or broadcast address`;
  if (first === 0) return `${addr} is in 0.0.0.0/8 ("this network")`;
  return null;
}

/**
 * Why `addr` cannot be used as the local interface of a multicast socket, or null when it can: it must be an IPv4
 * address (an interface name such as eth0 gets its address suggested) of this host (isHostAddress).
 */
export function interfaceProblem(addr: string, local: readonly { name: string; address: string }[] = localIpv4Addresses()): string | null {
  const list = local.length === 0 ? "it has none" : `it has ${local.map((l) => `${l.address} on ${l.name}`).join(", ")}`;
  const malformed = ipv4Problem(addr);
  if (malformed !== null) {
    const named = local.find((l) => l.name === addr);
    return named ? `an IPv4 address: ${addr} is an interface name, its address is ${named.address}` : `an IPv4 address of this host (${list}): ${malformed}`;
  }
  if (!isHostAddress(addr, local.map((l) => l.address))) return `an address of this host (${list})`;
  return null;
}
