/**
 * What a valid configuration does that is probably not what was meant, though harmless: said, never refused (a file
 * that has run for months must not stop loading at the next restart for it). check-config prints each as a
 * `# note:` line; run and record log each as a warning at start.
 * @module
 */
import type { FeederConfig } from "./types.ts";

/**
 * A multicast destination with `ttl` above 1 sending from a loopback interface: datagrams sent from loopback never
 * leave this host, whatever the TTL, so a TTL set for routers to pass suggests an `interface` left at its default
 * (127.0.0.1) where this host's address on the network was meant. Not refused: on loopback the TTL changes nothing.
 */
export function loopbackTtlNotes(config: FeederConfig): string[] {
  return config.publish.destinations.flatMap((d, i) =>
    d.group !== undefined && d.ttl > 1 && d.iface.startsWith("127.")
      ? [`publish.destinations[${i}] (${JSON.stringify(d.name)}): ttl = ${d.ttl} with interface ${d.iface}: datagrams sent from loopback never leave this host, whatever the TTL; to reach subscribers on other hosts, set interface to this host's address on their network`]
      : [],
  );
}
