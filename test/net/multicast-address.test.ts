/**
 * isMulticastV4, the publisher's only check of a destination's group (feed-publisher.ts) and listen/bridge's: the
 * config's grammar (core/ipv4.ts). Before, "239.255.0.010" passed here though inet_aton reads its "010" as octal 8.
 */
import { expect, test } from "vitest";
import { isAdminScopedV4, isMulticastV4 } from "../../src/net/multicast.ts";

test("a multicast group is four decimal octets without leading zeros, 224–239 first", () => {
  for (const g of ["224.0.0.1", "239.255.0.10", "239.0.0.0", "231.1.2.3"]) expect(isMulticastV4(g), g).toBe(true);
  for (const g of ["239.255.0.010", "0239.1.1.1", "239.255.0.256", "223.255.255.255", "240.0.0.1", "239.1.1", "239.1.1.1.1", "239.1.1.x", "", "239..1.1"]) {
    expect(isMulticastV4(g), g).toBe(false);
  }
  expect(isAdminScopedV4("239.1.2.3")).toBe(true);
  expect(isAdminScopedV4("239.01.2.3")).toBe(false);
  expect(isAdminScopedV4("224.0.0.1")).toBe(false);
});
