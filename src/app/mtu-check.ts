/**
 * Start-up warning: a destination's interface whose MTU cannot carry a full datagram (publish.max_datagram_bytes, its
 * multiple of 8 at or below as the packer sends it, + the 28 bytes of IPv4 and UDP headers) unfragmented. Fragmented, a
 * datagram is lost whole when any one of its fragments is. A warning, not a failure: the feed still works, only less
 * reliably. Nothing when the MTU cannot be read (not Linux, no such interface file). Cold.
 * @module
 */
import { readFileSync } from "node:fs";
import { localIpv4Addresses } from "../config/host.ts";
import type { PublishConfig } from "../config/types.ts";
import type { Logger } from "../core/log.ts";
import { MIN_PUBLISH_DATAGRAM_BYTES } from "../core/symbol-text.ts";

/** IPv4 (20, without options) and UDP (8) headers around each datagram. */
export const IPV4_UDP_HEADER_BYTES = 28;

/** Where the check looks (injectable: a test changes no real interface). */
export interface MtuProbe {
  /** This host's IPv4 addresses with their interface names (default: os.networkInterfaces()). */
  readonly interfaces?: () => readonly { name: string; address: string }[];
  /** An interface's MTU in bytes, or undefined when it cannot be read (default: Linux's /sys/class/net/<name>/mtu). */
  readonly readMtu?: (ifname: string) => number | undefined;
}

/** Linux: /sys/class/net/<ifname>/mtu; undefined elsewhere or when it holds no positive integer. */
export function sysfsMtu(ifname: string): number | undefined {
  if (ifname.includes("/") || ifname === "." || ifname === "..") return undefined; // a name, not a path
  try {
    const text = readFileSync(`/sys/class/net/${ifname}/mtu`, "utf8").trim();
    const mtu = Number(text);
    return /^\d+$/.test(text) && mtu > 0 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Logs one warning per interface some destination sends from whose MTU is below a full datagram + 28, naming the
 * interface, its MTU, the setting, and a value that would fit (MTU − 28: not always the largest, the multiple of 8 being
 * sent). An address in 127/8 that no interface lists (Linux routes the block to lo: config/host.ts isHostAddress) is
 * taken as the interface holding another 127 address.
 */
export function warnSmallMtu(publish: PublishConfig, log: Logger, probe: MtuProbe = {}): void {
  // The packer sends at most the setting's multiple of 8 (wire/packer.ts): 1479 sends 1472, which 1500 carries whole.
  const sentBytes = publish.maxDatagramBytes & ~7;
  const needBytes = sentBytes + IPV4_UDP_HEADER_BYTES;
  const setting = `publish.max_datagram_bytes ${publish.maxDatagramBytes}${sentBytes === publish.maxDatagramBytes ? "" : ` (datagrams of at most ${sentBytes}: its multiple of 8)`}`;
  const local = (probe.interfaces ?? localIpv4Addresses)();
  const readMtu = probe.readMtu ?? sysfsMtu;
  const byInterface = new Map<string, string[]>();
  for (const d of publish.destinations) {
    const found = local.find((l) => l.address === d.iface) ?? (d.iface.startsWith("127.") ? local.find((l) => l.address.startsWith("127.")) : undefined);
    if (found === undefined) continue; // not this host's: checkDestinations names it
    const names = byInterface.get(found.name) ?? [];
    names.push(d.name);
    byInterface.set(found.name, names);
  }
  for (const [ifname, destinations] of byInterface) {
    const mtu = readMtu(ifname);
    if (mtu === undefined || mtu >= needBytes) continue;
    const fits = mtu - IPV4_UDP_HEADER_BYTES;
    const advice = fits >= MIN_PUBLISH_DATAGRAM_BYTES ? `max_datagram_bytes = ${fits} would fit` : `even the smallest max_datagram_bytes, ${MIN_PUBLISH_DATAGRAM_BYTES}, does not fit (${fits} would)`;
    log.warn(
      `interface ${ifname} has MTU ${mtu}, below ${setting} + ${IPV4_UDP_HEADER_BYTES} (IPv4 and UDP headers): ` +
        `full datagrams sent from it are IP-fragmented, and one lost fragment loses the whole datagram; ${advice}`,
      { interface: ifname, mtu, maxDatagramBytes: publish.maxDatagramBytes, fitsMaxDatagramBytes: fits, destinations },
    );
  }
}
