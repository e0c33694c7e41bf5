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

/** ipv4Problem's words for a leading zero in `octet` of `addr`. */
function leadingZero(addr: string, octet: string, octal: string, decimal: number): string {
  return `${addr} has a leading zero in octet "${octet}", which is ambiguous: ${octal} to inet_aton (which the socket calls use), decimal ${decimal} to most tools`;
}

const GROUP_EXPECTED = "an IPv4 multicast address (224.0.0.0 – 239.255.255.255)";

// Until s-cfgaddr each was refused as "not an IPv4 multicast address (224.0.0.0 – 239.255.255.255)" (or "not the
// IPv4 address of a local interface"), which 239.255.0.010 seemed to be: the refusal now says what is wrong with it.
describe("IPv4 addresses with a leading zero in an octet are refused, naming the key and the octet", () => {
  test.each([
    ["239.255.0.010", "010", "octal 8", 10],
    ["239.255.0.09", "09", "no octal number", 9],
    ["239.255.00.1", "00", "octal 0", 0],
    ["0239.255.0.1", "0239", "no octal number", 239],
  ])("publish.destinations[0].group = %s", (group, octet, octal, decimal) => {
    expect(problemsOf(`[[publish.destinations]]\ngroup = "${group}"\nport = 31001\n${VENUE}`)).toEqual([
      `publish.destinations[0].group: "${group}" is not ${GROUP_EXPECTED}: ${leadingZero(group, octet, octal, decimal)}`,
    ]);
  });

  test("interface, receivers, http.listen, publish.retransmit.listen and publish.retransmit.allow", () => {
    expect(problemsOf(`[[publish.destinations]]\ngroup = "239.255.0.1"\nport = 31001\ninterface = "127.0.0.01"\n${VENUE}`)).toEqual([
      `publish.destinations[0].interface: "127.0.0.01" is not the IPv4 address of a local interface, e.g. 127.0.0.1: ${leadingZero("127.0.0.01", "01", "octal 1", 1)}`,
    ]);
    expect(problemsOf(`[[publish.destinations]]\nreceivers = ["10.1.2.03:31001"]\n${VENUE}`)).toEqual([
      `publish.destinations[0].receivers: "10.1.2.03:31001" is not IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001": ${leadingZero("10.1.2.03", "03", "octal 3", 3)}`,
    ]);
    expect(problemsOf(`[http]\nlisten = "127.0.0.01:9464"\n${VENUE}`)).toEqual([
      `http.listen: "127.0.0.01:9464" is not an IPv4 "address:port", e.g. "127.0.0.1:9464" (port 0 picks a free port): ${leadingZero("127.0.0.01", "01", "octal 1", 1)}`,
    ]);
    expect(problemsOf(`[publish.retransmit]\nlisten = "127.000.0.1:31900"\n${VENUE}`)).toEqual([
      `publish.retransmit.listen: "127.000.0.1:31900" is not an IPv4 "address:port" of this host, e.g. "127.0.0.1:31900" (port 0 picks a free port): ${leadingZero("127.000.0.1", "000", "octal 0", 0)}`,
    ]);
    expect(problemsOf(`[publish.retransmit]\nallow = ["010.0.0.0/8"]\n${VENUE}`)).toEqual([
      `publish.retransmit.allow: "010.0.0.0/8" is not IPv4 CIDR blocks like "10.0.0.0/8" (requesters outside them are not answered): ${leadingZero("010.0.0.0", "010", "octal 8", 10)}`,
    ]);
  });

  test("a zero octet and three-digit octets are still addresses", () => {
    expect(problemsOf(`[[publish.destinations]]\ngroup = "239.255.0.100"\nport = 31001\n${VENUE}`)).toEqual([]);
    expect(problemsOf(`[[publish.destinations]]\nreceivers = ["127.0.0.100:31001"]\n${VENUE}`)).toEqual([]);
  });
});

test.each([
  ["239.256.0.1", "239.256.0.1 has octet 256, over 255"],
  ["239.255.1", "239.255.1 has 3 octets, not 4"],
  ["239.255.0.1.2", "239.255.0.1.2 has 5 octets, not 4"],
  ["239.255.0.x", '239.255.0.x has "x" where a decimal octet belongs'],
  ["239..0.1", "239..0.1 has an empty octet"],
  ["", "the address is empty"],
])("a group %j that is no address at all is refused saying why", (group, why) => {
  expect(problemsOf(`[[publish.destinations]]\ngroup = "${group}"\nport = 31001\n${VENUE}`)).toEqual([`publish.destinations[0].group: "${group}" is not ${GROUP_EXPECTED}: ${why}`]);
});

test("a well-formed address out of range gets the range alone", () => {
  expect(problemsOf(`[[publish.destinations]]\ngroup = "10.0.0.1"\nport = 31001\n${VENUE}`)).toEqual([`publish.destinations[0].group: "10.0.0.1" is not ${GROUP_EXPECTED}`]);
});

describe("feeder listen and bridge say why too", () => {
  async function refusal(args: string[]): Promise<string[]> {
    const err: string[] = [];
    const code = await main(args, { out: () => {}, err: (t) => err.push(t) });
    expect(code).toBe(2);
    return err;
  }

  test("listen --group (it joined 239.255.0.8 for 239.255.0.010)", async () => {
    expect(await refusal(["listen", "--group", "239.255.0.010:31001", "--duration", "0.1"])).toEqual([
      `feeder listen: --group "239.255.0.010:31001": 239.255.0.010 is not an IPv4 multicast group: ${leadingZero("239.255.0.010", "010", "octal 8", 10)} (see feeder listen --help)`,
    ]);
  });

  test("listen --iface and --bind", async () => {
    expect((await refusal(["listen", "--iface", "127.0.0.01", "--duration", "0.1"]))[0]).toContain(`--iface "127.0.0.01" is not an IPv4 address of this host (it has `);
    expect((await refusal(["listen", "--iface", "127.0.0.01", "--duration", "0.1"]))[0]).toContain(`): ${leadingZero("127.0.0.01", "01", "octal 1", 1)}`);
    expect((await refusal(["listen", "--bind", "127.0.0.01:31001", "--duration", "0.1"]))[0]).toContain(`): ${leadingZero("127.0.0.01", "01", "octal 1", 1)}`);
  });

  test("bridge --group and --iface", async () => {
    expect((await refusal(["bridge", "from-nats", "--nats", "nats://127.0.0.1:9", "--group", "239.255.0.010:31001"]))[0]).toContain(
      `--group "239.255.0.010:31001" is not an IPv4 multicast group:port: ${leadingZero("239.255.0.010", "010", "octal 8", 10)}`,
    );
    expect((await refusal(["bridge", "to-nats", "--nats", "nats://127.0.0.1:9", "--iface", "127.0.0.01"]))[0]).toContain(`): ${leadingZero("127.0.0.01", "01", "octal 1", 1)}`);
  });
});
