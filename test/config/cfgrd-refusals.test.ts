/**
 * Values the loader took, or threw on, where it should have refused them naming the key:
 * - `shard = "0/99999999999999999999"` (or any n ≥ 2^32) threw a RangeError out of the share count (an array of n
 *   counters), not a ConfigError: a stack trace instead of exit 2 naming `shard`; n = 10^8 allocated 800 MB first.
 * - a destination's `market = "toString"` (or "constructor", "__proto__") was taken as a market (an `in` check saw
 *   Object.prototype), so its rule matched nothing; Deribit's `interval = "toString"` was refused as "(toString:
 *   function toString() { [native code] })".
 * - `publish.auth_key_file = ""` silently meant no authentication (a template whose variable was empty published
 *   unsigned, and subscribers holding the key dropped every datagram at run time).
 * - a destination with `symbols = []` was accepted and sent only heartbeats. (A `"*"` rule for a venue or market the
 *   file does not configure was refused too, until s-rdcfg: a market removed from a running file left its destination
 *   behind, exit 2 at the next start; it is taken, and check-config notes it.)
 * - `publish.retransmit.allow = []` was accepted: a server that answers no requester.
 * - a destination's `symbols = ["BTCUSDT", "BTCUSDT"]` was accepted (a market's symbols must be listed once).
 * - `http.bearer_token = "s3cret "` (or with a control character, or non-ASCII) was accepted, and no client could
 *   send it: HTTP strips a header value's spaces at its ends, so every request needing the token was 401.
 * - a ws_url or rest_url matching ws(s):// or http(s):// but no URL (`wss://host:99999/x`, `https://:443/v5`) was taken,
 *   and failed when the venue was first asked.
 * - an instrument_cache or [nats] file path holding a NUL was taken; every file call on it throws.
 * - a unicast destination with receivers off this host and the default interface 127.0.0.1 was taken: a socket bound
 *   to loopback cannot send there (EINVAL), so every datagram failed at run time.
 * - http.listen at an address no host can have (a multicast group, broadcast, 0.x.x.x) was taken: the start failed
 *   binding it (exit 1, restarted for ever), where the same mistake in publish.retransmit.listen is exit 2.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { checkConfigCommand } from "../../src/cli/commands/check-config.ts";
import { silentLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { ConfigError, HostAddressError } from "../../src/core/errors.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const ROOT = join(import.meta.dirname, "../..");
const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const dest = (body: string, channel: number) => `[[publish.destinations]]\nport = ${31000 + channel}\ngroup = "239.255.9.${channel}"\nchannel = ${channel}\n${body}\n`;

describe("refused, naming the key, never thrown", () => {
  test('shard = "i/n" with n above 65536 (n = 2^32 and more threw a RangeError); n = 65536 is checked as any other', () => {
    for (const shard of ["0/99999999999999999999", "1/4294967296", "0/65537"]) {
      expect(configProblems(`shard = "${shard}"\n[publish]\nsource_id = 7\n${VENUE}`)).toEqual([`shard: "${shard}" is not a string "i/n" with 0 ≤ i < n ≤ 65536, e.g. "0/2"`]);
    }
    const problems = configProblems(`shard = "65535/65536"\n[publish]\nsource_id = 7\n${VENUE}`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^shard: "65535\/65536" is not a share holding a configured symbol: none of the 1 configured has instrument id mod 65536 = 65535 \(fewer shards/);
  });

  test.each(["toString", "constructor", "__proto__", "hasOwnProperty"])("a destination's market = %j", (market) => {
    expect(configProblems(dest(`market = "${market}"`, 1) + dest("", 2) + VENUE)).toEqual([`publish.destinations[0].market: "${market}" is not "*" or one of spot, linear, inverse, option`]);
  });

  test("Deribit interval = \"toString\" is refused as any unknown value", () => {
    expect(configProblems('[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL"]\ninterval = "toString"\n')).toEqual(['venues.deribit.inverse.interval: "toString" is not one of 100ms, agg2']);
  });

  test('publish.auth_key_file = "" is refused (leave the key out for an unauthenticated feed)', () => {
    expect(configProblems(`[publish]\nauth_key_file = ""\n${VENUE}`)).toEqual(['publish.auth_key_file: "" is not a key file path (leave the key out for an unauthenticated feed)']);
    // The readers' view of the same file (listen --config, to-nats -c) says so too.
    expect(configProblems(`[publish]\nauth_key_file = ""\n`, { localAddresses: LOOPBACK_ONLY, requireVenue: false })).toEqual([
      'publish.auth_key_file: "" is not a key file path (leave the key out for an unauthenticated feed)',
    ]);
  });

  test("a destination with symbols = [] is refused", () => {
    expect(configProblems(dest("symbols = []", 1) + dest("", 2) + VENUE)).toEqual(['publish.destinations[0].symbols: [] is not a non-empty list of symbols ("*" for any)']);
  });

  test('a "*" rule for a venue or market the file does not configure is taken, and check-config notes it (s-rdcfg)', async () => {
    // The shipped example (installed as /etc/feeder/feeder.toml) with its [venues.bybit.spot] table removed keeps its
    // bybit-spot destination: it ran (heartbeats only on channel 1) until 55511aaf refused it, exit 2 after an
    // upgrade, which the unit does not restart. As an empty worker's share, noted, not refused.
    const example = readFileSync(join(ROOT, "config/feeder.example.toml"), "utf8");
    const noSpot = example.replace(/^\[venues\.bybit\.spot\]\n(?:[^[\n].*\n|\n)*/m, "");
    expect(noSpot).not.toContain("[venues.bybit.spot]");
    expect(configProblems(noSpot)).toEqual([]);
    expect(configProblems(dest('venue = "okx"', 1) + dest("", 2) + VENUE)).toEqual([]);
    expect(configProblems(dest('venue = "bybit"\nmarket = "spot"', 1) + dest("", 2) + VENUE)).toEqual([]);
    const path = join(makeTempDir("feeder-rdcfg-"), "no-spot.toml");
    writeFileSync(path, noSpot);
    const out: string[] = [];
    expect(await checkConfigCommand.run({ values: { config: path }, positionals: [], log: silentLogger, out: (t: string) => void out.push(t) } as unknown as CommandContext)).toBe(0);
    expect(out.join("")).toContain('# note: publish.destinations[1] ("bybit-spot": venue bybit, market spot) matches none of the markets this file configures (bybit linear): it will send heartbeats only\n');
  });

  test("check-config of a file whose path holds a line break (or DEL): its output still loads as the configuration it prints", async () => {
    for (const name of ["a\nworkers = 4\n.toml", "b\x7f.toml", "c\r.toml"]) {
      const path = join(makeTempDir("feeder-rdcfg-path-"), name);
      writeFileSync(path, VENUE);
      const out: string[] = [];
      expect(await checkConfigCommand.run({ values: { config: path }, positionals: [], log: silentLogger, out: (t: string) => void out.push(t) } as unknown as CommandContext)).toBe(0);
      expect(out.join("").split("\n")[0], JSON.stringify(name)).toBe(`# ${JSON.stringify(path).replace(/\x7f/g, "\\u007f")} is valid. The settings in effect, defaults filled in:`);
      expect(parseConfigText(out.join(""), "printed", { localAddresses: LOOPBACK_ONLY })).toEqual(parseConfigText(VENUE, "file", { localAddresses: LOOPBACK_ONLY }));
    }
  });

  test("a destination's symbol listed twice is refused, as a market's is", () => {
    expect(configProblems(dest('symbols = ["BTCUSDT", "BTCUSDT"]', 1) + dest("", 2) + VENUE)).toEqual(['publish.destinations[0].symbols[1]: "BTCUSDT" is not a symbol listed once']);
  });

  test("an http.bearer_token no client can send (space at an end, a control character, non-ASCII) is refused, not printed", () => {
    // The rule is src/config/bearer-token.ts (visible ASCII, 0x21–0x7E): each refusal names the key, never the token.
    for (const token of ["s3cret ", "\\ts3cret", "s3c\\nret", "sécret", "s3 cr~et/+="]) {
      const problems = configProblems(`[http]\nbearer_token = "${token}"\n${VENUE}`);
      expect(problems, token).toHaveLength(1);
      expect(problems[0]).toMatch(/^http\.bearer_token: /);
      expect(problems[0]).not.toContain("s3c");
    }
    expect(configProblems(`[http]\nbearer_token = "s3cr~et/+="\n${VENUE}`)).toEqual([]);
  });

  test("a venue's or market's URL that no URL parser reads (a port past 65535, no host) is refused", () => {
    const venue = (keys: string) => `[venues.bybit]\n${keys}\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n`;
    expect(configProblems(venue('ws_url = "wss://stream.bybit.com:99999/v5/public"'))).toEqual(['venues.bybit.ws_url: "wss://stream.bybit.com:99999/v5/public" is not a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment']);
    expect(configProblems(venue('rest_url = "https://:443/v5"'))).toEqual(['venues.bybit.rest_url: "https://:443/v5" is not an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)']);
    expect(configProblems(`[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nws_url = "ws://[::1"\nrest_url = "http://%zz"\n`)).toEqual([
      'venues.bybit.linear.ws_url: "ws://[::1" is not a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment',
      'venues.bybit.linear.rest_url: "http://%zz" is not an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)',
    ]);
    expect(configProblems(venue('ws_url = "ws://127.0.0.1:65535/x"\nrest_url = "http://[::1]:8080"'))).toEqual([]);
  });

  test("a file path holding a NUL character (no file can have it) is refused, naming the key", () => {
    expect(configProblems(`[venues.bybit]\ninstrument_cache = "var/a\\u0000b.json"\n${VENUE}`)).toEqual(['venues.bybit.instrument_cache: "var/a\\u0000b.json" is not a file path without a NUL character (no file has one; the instrument cache is written there)']);
    expect(configProblems(`[nats]\nca_file = "/etc/a\\u0000b"\n${VENUE}`)).toEqual(["nats.ca_file: (not shown) is not a file path without a NUL character"]);
  });

  test("a unicast destination sending from a loopback interface (the default) to a receiver off this host is refused", () => {
    const local = { localAddresses: [...LOOPBACK_ONLY, { name: "eth0", address: "10.0.0.5" }] };
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["127.0.0.1:31001", "10.1.2.3:31001"]\n${VENUE}`, local)).toEqual([
      'publish.destinations[0].interface: "127.0.0.1" is not an interface that reaches receiver 10.1.2.3:31001 (not an address of this host: it has 127.0.0.1 on lo, 10.0.0.5 on eth0; a socket bound to a loopback address sends to this host\'s addresses only, every datagram to another would fail): name this host\'s address on its network',
    ]);
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["127.0.0.1:31001", "10.1.2.3:31001"]\ninterface = "10.0.0.5"\n${VENUE}`, local)).toEqual([]);
    // A file no process here sends from (export --books), or whose interfaces are replaced (to-nats --iface): taken.
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["10.1.2.3:31001"]\n${VENUE}`, { ...local, publishesHere: false })).toEqual([]);
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["10.1.2.3:31001"]\n${VENUE}`, { ...local, destinationInterfacesUnused: true })).toEqual([]);
    // A reader of the file (listen -c, bridge to-nats -c: requireVenue false) sends nothing from it: taken, as its
    // unicast interface is not checked there. Until s-rd26c refused: listen -c exit 2, to-nats -c exit 1 for good.
    const beside = `[[publish.destinations]]\ngroup = "239.255.46.1"\nport = 31000\n[[publish.destinations]]\nreceivers = ["10.1.2.3:31001"]\n`;
    expect(configProblems(beside, { ...local, requireVenue: false })).toEqual([]);
  });

  test("a receiver at this host's own address is reached from a loopback interface: taken (s-rdcfg)", () => {
    // A socket bound to 127.0.0.1 sends to the host's own 10.0.0.5 (the route is local, through lo): a subscriber on
    // this host bound to its LAN address. Before, refused as "off this host" (any receiver outside 127/8 was).
    const local = { localAddresses: [...LOOPBACK_ONLY, { name: "eth0", address: "10.0.0.5" }] };
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["10.0.0.5:31001"]\n${VENUE}`, local)).toEqual([]);
    expect(configProblems(`[[publish.destinations]]\nreceivers = ["127.0.0.1:31001", "10.0.0.5:31002"]\ninterface = "127.0.0.1"\n${VENUE}`, local)).toEqual([]);
  });

  test("a receiver not (yet) an address of this host, from loopback: retried as an address not up yet (exit 1), the file's when no host has it", () => {
    const local = { localAddresses: [...LOOPBACK_ONLY, { name: "eth0", address: "10.0.0.5" }] };
    const thrown = (toml: string): unknown => {
      try {
        parseConfigText(toml, "t.toml", local);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    // The address may come up (a secondary or VRRP address of this host), as a destination's interface may.
    const err = thrown(`[[publish.destinations]]\nreceivers = ["10.1.2.3:31001"]\n${VENUE}`);
    expect(err).toBeInstanceOf(HostAddressError);
    // Named in the file, as loadConfigFile names it (one path: before, parseConfigText's errors named no file).
    expect((err as ConfigError).file).toBe("t.toml");
    expect((err as ConfigError).problems).toEqual([
      'publish.destinations[0].interface: "127.0.0.1" is not an interface that reaches receiver 10.1.2.3:31001 (not an address of this host: it has 127.0.0.1 on lo, 10.0.0.5 on eth0; a socket bound to a loopback address sends to this host\'s addresses only, every datagram to another would fail): name this host\'s address on its network',
    ]);
    // No host has it: the file's (exit 2).
    const broadcast = thrown(`[[publish.destinations]]\nreceivers = ["255.255.255.255:31001"]\n${VENUE}`);
    expect(broadcast).toBeInstanceOf(ConfigError);
    expect(broadcast).not.toBeInstanceOf(HostAddressError);
  });

  test("publish.retransmit.allow = [] is refused", () => {
    expect(configProblems(`[publish.retransmit]\nallow = []\n${VENUE}`)).toEqual(['publish.retransmit.allow: [] is not at least one IPv4 CIDR block (an empty list answers no requester)']);
  });
});

describe("http.listen at an address no host can have", () => {
  test("a multicast group, broadcast or 0.x.x.x is the file's (exit 2), as for the other listen addresses; 0.0.0.0 and HTTP off are taken", () => {
    const http = (listen: string, extra = "") => `[http]\nlisten = "${listen}"\nallow_non_loopback = true\nbearer_token = "abc"\n${extra}${VENUE}`;
    expect(["239.1.1.1:9464", "255.255.255.255:9464", "0.1.2.3:9464"].flatMap((l) => configProblems(http(l)))).toEqual([
      'http.listen: "239.1.1.1:9464" is not an IPv4 "address:port" of this host, or 0.0.0.0 (239.1.1.1 is a multicast group address: no host has it)',
      'http.listen: "255.255.255.255:9464" is not an IPv4 "address:port" of this host, or 0.0.0.0 (255.255.255.255 is a reserved or broadcast address: no host has it)',
      'http.listen: "0.1.2.3:9464" is not an IPv4 "address:port" of this host, or 0.0.0.0 (0.1.2.3 is in 0.0.0.0/8 ("this network"): no host has it)',
    ]);
    expect(configProblems(http("0.0.0.0:9464"))).toEqual([]);
    expect(configProblems(http("239.1.1.1:9464", "enabled = false\n"))).toEqual([]);
  });
});
