/**
 * Multicast socket helpers for the publisher (Bun.udpSocket). Every sender sets the outgoing interface explicitly
 * (without it the kernel picks the default route, e.g. eth0) and checks the return value, because
 * `setMulticastInterface("nonsense")` returns false instead of throwing (docs/runtime-costs.md §8).
 * @module
 */
import { isIpv4 } from "../core/ipv4.ts";

/**
 * True for a dotted-quad IPv4 address in 224.0.0.0/4, written as the config requires (core/ipv4.ts: no leading zero,
 * which inet_aton would read as octal): the publisher relies on this check alone for a destination's group.
 */
export function isMulticastV4(address: string): boolean {
  if (!isIpv4(address)) return false;
  const first = Number(address.slice(0, address.indexOf(".")));
  return first >= 224 && first <= 239;
}

/** True for 239.0.0.0/8, the administratively scoped range (RFC 2365) that never leaves the organisation. */
export function isAdminScopedV4(address: string): boolean {
  return isMulticastV4(address) && address.startsWith("239.");
}

/**
 * Bun (1.4.5) calls a UDP socket's error handler with no argument when a datagram it sent came back as an error
 * (a unicast receiver whose port is closed: ICMP port unreachable): the handler gets this instead.
 */
const NO_DETAIL = (): Error => new Error("a sent datagram came back as an error, e.g. a receiver's port unreachable (the runtime gives no detail)");

export interface SenderSocketOptions {
  /** Local interface address for IP_MULTICAST_IF, e.g. "127.0.0.1". */
  iface: string;
  ttl: number;
  /**
   * Connect the socket to this group:port: sends then carry no address, which measured ~1–1.5 µs less per send
   * than addressed sends (p50 7.2–9.6 against 8.6–10.6 µs, one loopback datagram to a sleeping subscriber). The
   * socket is then bound to `iface`, so connect() routes through that interface even where no route covers
   * the group (a namespace with only `lo`); the kernel still honours IP_MULTICAST_IF on every multicast send.
   */
  connectTo?: { group: string; port: number };
  /** A datagram that came back after sendMany counted it as sent (never undefined: see NO_DETAIL). */
  onError?: (err: Error) => void;
  onDrain?: () => void;
}

/** Opens a UDP socket for sending multicast (connected when opts.connectTo), with interface and TTL set and verified. */
export async function openMulticastSender(opts: SenderSocketOptions): Promise<Bun.udp.Socket<"uint8array">> {
  if (!(Number.isInteger(opts.ttl) && opts.ttl >= 1 && opts.ttl <= 255)) throw new RangeError(`multicast TTL ${opts.ttl} outside 1..255`);
  const connectTo = opts.connectTo;
  let socket: Bun.udp.Socket<"uint8array">;
  try {
    socket = await openSocket(opts, connectTo);
  } catch (err) {
    const to = connectTo ? ` for ${connectTo.group}:${connectTo.port}` : "";
    throw new Error(`multicast sender on interface ${JSON.stringify(opts.iface)}${to}: ${(err as Error).message} (the interface must be a local IPv4 address)`);
  }
  try {
    if (socket.setMulticastInterface(opts.iface) !== true) {
      throw new Error(`setMulticastInterface(${JSON.stringify(opts.iface)}) failed: not a local IPv4 interface address`);
    }
    const ttl = socket.setMulticastTTL(opts.ttl);
    if (ttl !== opts.ttl) throw new Error(`setMulticastTTL(${opts.ttl}) returned ${ttl}`);
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/**
 * Opens an unconnected UDP socket bound to `iface` for a unicast destination: every send names its receiver
 * (sendMany with [data, port, address] triples), so one socket serves all the destination's receivers.
 */
export async function openUnicastSender(opts: { iface: string; onError?: (err: Error) => void; onDrain?: () => void }): Promise<Bun.udp.Socket<"uint8array">> {
  try {
    return await Bun.udpSocket({
      hostname: opts.iface,
      port: 0,
      binaryType: "uint8array",
      socket: {
        error(_s, err) {
          opts.onError?.(err ?? NO_DETAIL());
        },
        drain() {
          opts.onDrain?.();
        },
      },
    });
  } catch (err) {
    throw new Error(`unicast sender on interface ${JSON.stringify(opts.iface)}: ${(err as Error).message} (the interface must be a local IPv4 address)`);
  }
}

/** Bound to the interface address when connecting (see SenderSocketOptions.connectTo), else to any. */
function openSocket(opts: SenderSocketOptions, connectTo: SenderSocketOptions["connectTo"]): Promise<Bun.udp.Socket<"uint8array">> {
  const onError = opts.onError;
  const onDrain = opts.onDrain;
  return Bun.udpSocket({
    hostname: connectTo ? opts.iface : "0.0.0.0",
    port: 0,
    binaryType: "uint8array",
    ...(connectTo ? { connect: { hostname: connectTo.group, port: connectTo.port } } : {}),
    socket: {
      error(_s, err) {
        onError?.(err ?? NO_DETAIL());
      },
      drain() {
        onDrain?.();
      },
    },
  });
}
