/**
 * IPv4 addresses in the configuration are plain dotted decimal. An octet with a leading zero is not: the resolver
 * (inet_aton, which dgram falls back to for a string that is not an address) reads "010" as octal 8 and cannot
 * read "09" at all, so "239.255.0.010" was accepted by check-config and published to 239.255.0.8, and
 * "239.255.0.09" was accepted and failed at the first send with getaddrinfo ENOTFOUND.
 */
import { describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { configProblems } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

describe("IPv4 addresses with a leading zero in an octet are refused, naming the key", () => {
  test.each(["239.255.0.010", "239.255.0.09", "239.255.00.1", "0239.255.0.1"])("publish.destinations[0].group = %s", (group) => {
    expect(problemsOf(`[[publish.destinations]]\ngroup = "${group}"\nport = 31001\n${VENUE}`)).toEqual([
      `publish.destinations[0].group: "${group}" is not an IPv4 multicast address (224.0.0.0 – 239.255.255.255)`,
    ]);
  });

  test("receivers, http.listen and publish.retransmit.listen", () => {
    expect(problemsOf(`[[publish.destinations]]\nreceivers = ["10.1.2.03:31001"]\n${VENUE}`)).toEqual([
      'publish.destinations[0].receivers: "10.1.2.03:31001" is not IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001"',
    ]);
    expect(problemsOf(`[http]\nlisten = "127.0.0.01:9464"\n${VENUE}`)[0]).toMatch(/^http\.listen: "127\.0\.0\.01:9464" is not an IPv4 "address:port"/);
    expect(problemsOf(`[publish.retransmit]\nlisten = "127.000.0.1:31900"\n${VENUE}`)[0]).toMatch(/^publish\.retransmit\.listen: "127\.000\.0\.1:31900" is not an IPv4 "address:port"/);
  });

  test("a zero octet and three-digit octets are still addresses", () => {
    expect(problemsOf(`[[publish.destinations]]\ngroup = "239.255.0.100"\nport = 31001\n${VENUE}`)).toEqual([]);
    expect(problemsOf(`[[publish.destinations]]\nreceivers = ["127.0.0.100:31001"]\n${VENUE}`)).toEqual([]);
  });

  test("feeder listen --group refuses one too (it joined 239.255.0.8 for 239.255.0.010)", async () => {
    const err: string[] = [];
    const code = await main(["listen", "--group", "239.255.0.010:31001", "--duration", "0.1"], { out: () => {}, err: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err).toEqual(["feeder listen: 239.255.0.010 is not an IPv4 multicast group (see feeder listen --help)"]);
  });
});

test("feeder bridge --group refuses one too", async () => {
  const err: string[] = [];
  const code = await main(["bridge", "from-nats", "--nats", "nats://127.0.0.1:9", "--group", "239.255.0.010:31001"], { out: () => {}, err: (t) => err.push(t) });
  expect(code).toBe(2);
  expect(err[0]).toContain('--group "239.255.0.010:31001" is not an IPv4 multicast group:port');
});
