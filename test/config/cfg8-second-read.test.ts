/**
 * Second read of s-rdcfg / s-cfgrd (s-cfg8): configurations still taken that could never work.
 * - A ws_url with a #fragment: WebSocket throws on it (SyntaxError), so every connect failed, retried for ever.
 * - A rest_url with a ?query or #fragment: the venue's paths are appended to it ("<rest_url>/v5/market/…"), and
 *   after either they were no path at all (every instrument request went to the base).
 * - A unicast receiver no host can have (255.255.255.255, 240/4, 0/8) from a LAN interface: every send failed
 *   (EACCES for broadcast, EINVAL), while check-config called the file valid.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkConfigCommand } from "../../src/cli/commands/check-config.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { starRuleSymbolNotes } from "../../src/config/notes.ts";
import { silentLogger } from "../../src/core/log.ts";
import { configProblems } from "../support/config-problems.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const LAN = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "10.1.2.1" }];
const MARKET = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const WS = "a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment";
const HTTP = "an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)";

describe("URLs that could never be used", () => {
  test("a ws_url with a fragment, a rest_url with a query or fragment, venue- or market-level, are refused", () => {
    const toml = `[venues.bybit]\nws_url = "wss://relay/v5/public#x"\nrest_url = "https://relay/?k=v"\n${MARKET}ws_url = "wss://relay/v5/public/linear#"\nrest_url = "https://relay/base#frag"\n`;
    expect(configProblems(toml)).toEqual([
      `venues.bybit.ws_url: "wss://relay/v5/public#x" is not ${WS}`,
      `venues.bybit.rest_url: "https://relay/?k=v" is not ${HTTP}`,
      `venues.bybit.linear.ws_url: "wss://relay/v5/public/linear#" is not ${WS}`,
      `venues.bybit.linear.rest_url: "https://relay/base#frag" is not ${HTTP}`,
    ]);
  });

  test("a ws_url with a query, a path or a port is taken (the venue's own URLs among them)", () => {
    expect(configProblems(`[venues.bybit]\nws_url = "wss://relay:9443/v5/public?token=abc"\nrest_url = "https://relay:8443/prefix/"\n${MARKET}`)).toEqual([]);
    expect(configProblems(`[venues.okx]\nws_url = "wss://ws.okx.com:8443/ws/v5/public"\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n`)).toEqual([]);
  });
});

describe("unicast receivers no host can have", () => {
  test.each([
    ["255.255.255.255", "255.255.255.255 is a reserved or broadcast address"],
    ["240.1.2.3", "240.1.2.3 is a reserved or broadcast address"],
    ["0.1.2.3", '0.1.2.3 is in 0.0.0.0/8 ("this network")'],
  ])("%s is refused, from a LAN interface too", (host, why) => {
    const toml = `[[publish.destinations]]\nname = "u"\nreceivers = ["${host}:31001"]\ninterface = "10.1.2.1"\n${MARKET}`;
    expect(configProblems(toml, { localAddresses: LAN })).toEqual([`publish.destinations[0].receivers: "${host}:31001" is not IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001" (${why}: no host has it)`]);
  });

  test("a receiver elsewhere on the LAN is taken", () => {
    expect(configProblems(`[[publish.destinations]]\nname = "u"\nreceivers = ["10.1.2.9:31001"]\ninterface = "10.1.2.1"\n${MARKET}`, { localAddresses: LAN })).toEqual([]);
  });
});

describe("a routing rule's symbol listed beside \"*\"", () => {
  // Before s-cfg8, any rule holding "*" skipped the check of its listed symbols: ["*", "BTCUSDX"] was taken unseen.
  // s-cfg8 refused it; but "*" routes every configured symbol, so the listed one changes nothing, and a destination
  // that kept a symbol taken out of its venue made the file stop loading at the next restart (exit 2, not restarted).
  // s-rdcfg8: taken, and named (check-config's # note:, run's and record's warning: cfg8-loopback-ttl.test.ts).
  const dest = (symbols: string[]) => `[[publish.destinations]]\nname = "a"\ngroup = "239.255.9.1"\nport = 31001\nsymbols = ${JSON.stringify(symbols)}\n${MARKET}`;
  const notes = (toml: string) => starRuleSymbolNotes(parseConfigText(toml, "t.toml", { localAddresses: LAN }));

  test("is taken and named; one configured, or \"*\" alone, is not named", () => {
    expect(configProblems(dest(["*", "BTCUSDX"]))).toEqual([]);
    expect(notes(dest(["*", "BTCUSDX"]))).toEqual(['publish.destinations[0] ("a"): symbols lists "BTCUSDX" beside "*", and no configured market of venue *, market * has it (BTCUSDT): "*" routes every configured symbol; remove it, or correct it if another was meant']);
    expect(notes(dest(["*", "BTCUSDT"]))).toEqual([]);
    expect(notes(dest(["*"]))).toEqual([]);
  });

  test("without \"*\" a listed symbol no configured market has is still refused", () => {
    expect(configProblems(dest(["BTCUSDT", "BTCUSDX"]))).toEqual(['publish.destinations[0].symbols[1]: "BTCUSDX" is not a symbol configured for venue *, market * (BTCUSDT)']);
  });

  test("check-config takes the file (exit 0) and prints the note", async () => {
    const path = join(makeTempDir("rdcfg8-star-"), "feeder.toml");
    writeFileSync(path, dest(["*", "BTCUSDX"]));
    let out = "";
    const code = await checkConfigCommand.run({ values: { config: path }, positionals: [], log: silentLogger, out: (s: string) => void (out += s), stopSignal: new Promise(() => {}) });
    expect(code).toBe(0);
    expect(out).toContain('# note: publish.destinations[0] ("a"): symbols lists "BTCUSDX" beside "*"');
  });
});

describe("publish.auth_key_file with a NUL character", () => {
  // The message said "its value not shown", then the runtime's reason quoted the value, escaped: shown whole.
  test("is refused without showing the value", () => {
    const problems = configProblems(`[publish]\nauth_key_file = "/etc/feeder/k\\u0000ey-SECRETISH"\n${MARKET}`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^publish\.auth_key_file: cannot read key file/);
    expect(problems[0]).not.toContain("SECRETISH");
  });
});

/**
 * s-rdcfg8: Linux routes all of 127.0.0.0/8 to lo, so a socket binds 127.0.0.2 (and sends multicast from it) as it
 * binds 127.0.0.1. Only the listed 127.0.0.1 was "this host's": retransmit.listen or an interface at 127.0.0.2 was an
 * address not up yet, exit 1 and a restart every 5 s for ever (and the start-up check refused it the same way).
 */
describe("any 127/8 address is this host's while it has a loopback address", () => {
  const LOOPBACK = [{ name: "lo", address: "127.0.0.1" }];
  test.each([
    ["publish.retransmit.listen", '[publish]\nretransmit = { listen = "127.0.0.2:31900" }\n'],
    ["a multicast destination's interface", '[[publish.destinations]]\ngroup = "239.255.9.1"\nport = 31001\ninterface = "127.0.0.2"\n'],
    ["a unicast destination's interface", '[[publish.destinations]]\nreceivers = ["127.0.0.1:31001", "10.1.2.1:31001"]\ninterface = "127.3.4.5"\n'],
  ])("%s at another 127/8 address loads", (_what, toml) => {
    expect(configProblems(toml + MARKET, { localAddresses: LAN })).toEqual([]);
    expect(configProblems(toml.replace(', "10.1.2.1:31001"', "") + MARKET, { localAddresses: LOOPBACK })).toEqual([]);
  });

  test("without a loopback address it is not this host's (an interface not up yet, as before)", () => {
    const problems = configProblems('[publish]\nretransmit = { listen = "127.0.0.2:31900" }\n' + MARKET, { localAddresses: [{ name: "eth0", address: "10.1.2.1" }] });
    expect(problems).toEqual(['publish.retransmit.listen: "127.0.0.2:31900" is not an address of this host (it has 10.1.2.1 on eth0), or 0.0.0.0']);
  });

  test("the start-up check opens the destination's socket on 127.0.0.2", async () => {
    const { checkDestinations } = await import("../../src/app/preflight.ts");
    const { parseConfigText } = await import("../../src/config/load.ts");
    const config = parseConfigText('[[publish.destinations]]\ngroup = "239.255.9.1"\nport = 31001\ninterface = "127.0.0.2"\nttl = 1\n' + MARKET, "t.toml", { localAddresses: LOOPBACK });
    await expect(checkDestinations(config.publish, ["127.0.0.1"])).resolves.toBeUndefined();
  });
});

/**
 * s-rd3d (second read of s-rdcli2): a unicast destination's interface is skipped for a reader of the file (listen -c,
 * to-nats), but the publisher's own load (run, record and check-config: a venue required) must still refuse a typo.
 */
test("a unicast destination's typo'd interface: refused when the file is a publisher's, not when only read for [publish]", () => {
  const toml = '[[publish.destinations]]\nreceivers = ["10.1.2.7:31001"]\ninterface = "10.1.2.9"\n';
  expect(configProblems(toml + MARKET, { localAddresses: LAN })).toEqual([expect.stringMatching(/^publish\.destinations\[0\]\.interface: "10\.1\.2\.9" is not an address of this host/)]);
  expect(configProblems(toml, { localAddresses: LAN, requireVenue: false })).toEqual([]);
});
