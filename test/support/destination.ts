/**
 * A multicast group:port per test file (files run side by side, each in its own process): the port below Linux's
 * ephemeral range (32768–60999), where no other file's UDP sender or WebSocket client can hold it by chance. @module
 */

/** uniqueDestination's ports end before this (Linux's ip_local_port_range starts at 32768 by default); rigs add up to a few. */
export const DESTINATION_PORT_END = 32_000;

/**
 * A group:port per test file and seed, in the administratively scoped range. The port is below Linux's ephemeral
 * range (32768–60999, DESTINATION_PORT_END): every publisher's sender is a UDP socket on an ephemeral port, and a
 * subscriber cannot bind group:port while any socket holds that port on 0.0.0.0 (EADDRINUSE). Distinct seeds of one
 * file are 131 ports apart (mod 12000): a file may use its port + a few. Before, ports up to 49999 could meet another
 * file's sender there.
 */
export function uniqueDestination(seed: number): { group: string; port: number } {
  const port = 20_000 + ((process.pid * 7 + seed * 131) % (DESTINATION_PORT_END - 20_000));
  return { group: `239.255.${60 + (seed % 100)}.${1 + (process.pid % 250)}`, port };
}
