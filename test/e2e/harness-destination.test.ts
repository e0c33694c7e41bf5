/**
 * uniqueDestination's ports stay below the ephemeral port range: a publisher's sender (a UDP socket on an ephemeral
 * port, of any file running beside) holding a destination's port makes a subscriber's bind of group:port fail
 * (EADDRINUSE). Before, ports went up to 49999, two thirds of them inside 32768–60999.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { DESTINATION_PORT_END, uniqueDestination } from "./harness.ts";

/** The first ephemeral port of this host (Linux), 32768 where it cannot be read. */
function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

test("every seed's port is below the ephemeral range, with room for the ports rigs add (port + source)", () => {
  expect(DESTINATION_PORT_END + 8).toBeLessThanOrEqual(ephemeralStart());
  const ports = Array.from({ length: 1000 }, (_, seed) => uniqueDestination(seed).port);
  expect(ports.filter((p) => p < 20_000 || p >= DESTINATION_PORT_END)).toEqual([]);
  // Distinct seeds of one file never share a port.
  expect(new Set(ports).size).toBe(ports.length);
});
