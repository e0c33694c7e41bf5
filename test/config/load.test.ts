import { describe, expect, test } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULTS, loadConfigFile, parseConfigText, validateConfig } from "../../src/config/load.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { refusedProblems } from "../support/config-problems.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../config/feeder.example.toml");

function problemsOf(toml: string): string[] {
  return refusedProblems(toml);
}

describe("config", () => {
  test("the shipped example config is valid and resolves as documented", () => {
    const c = loadConfigFile(EXAMPLE);
    expect(c.workers).toBe(1);
    expect(c.shard).toEqual({ index: 0, count: 1 });
    expect(c.http).toMatchObject({ enabled: true, host: "127.0.0.1", port: 9464, allowNonLoopback: false });
    expect(c.publish.destinations.map((d) => [d.name, d.group, d.port, d.iface, d.ttl, d.channelId])).toEqual([
      ["bybit-linear", "239.255.0.2", 31002, "127.0.0.1", 1, 2],
      ["bybit-spot", "239.255.0.1", 31001, "127.0.0.1", 1, 1],
    ]);
    const bybit = c.venues.find((v) => v.venue === "bybit")!;
    expect(bybit.markets).toEqual([
      { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
      { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"], staleAfterMs: 0 },
    ]);
    expect(bybit.overrides.get("linear:BTCUSDT")).toEqual({ tickSize: "0.10", lotSize: "0.001" });
  });

  const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
  test("publish.source_id and publish.auth_key_file: defaults, range, the key file checked at load (wire v2)", () => {
    const d = parseConfigText(VENUE);
    expect([d.publish.sourceId, d.publish.authKeyFile]).toEqual([0, undefined]);
    const dir = mkdtempSync(join(tmpdir(), "feeder-config-key-"));
    const key = join(dir, "feed.key");
    writeFileSync(key, new Uint8Array(32).fill(7));
    const c = parseConfigText(`[publish]\nsource_id = 12\nauth_key_file = "${key}"\n${VENUE}`);
    expect([c.publish.sourceId, c.publish.authKeyFile]).toEqual([12, key]); // the path, never the key bytes
    expect(problemsOf(`[publish]\nsource_id = 70000\n${VENUE}`)).toEqual(["publish.source_id: 70000 is not an integer 0–65535"]);
    const short = join(dir, "short.key");
    writeFileSync(short, "abcd");
    const missing = join(dir, "missing.key");
    expect(problemsOf(`[publish]\nauth_key_file = "${short}"\nsnapshot_depth = -1\n${VENUE}`)).toEqual([
      "publish.snapshot_depth: -1 is not an integer 0–100000",
      `publish.auth_key_file: key file "${short}" holds a 2-byte key; at least 16 bytes are required`,
    ]);
    const [problem] = problemsOf(`[publish]\nauth_key_file = "${missing}"\n${VENUE}`);
    expect(problem).toMatch(new RegExp(`^publish\\.auth_key_file: cannot read key file "${missing.replace(/[.\\/]/g, "\\$&")}": `));
  });

  test("publish.max_datagram_bytes: at least 856, the smallest datagram every instrument definition fits, signed", () => {
    // Before, 256 was taken: a symbol, tick and lot of more than 168 bytes together (a venue's "0.1000…") then made the
    // publisher throw in register() and on every refresh tick after it (the process died).
    const why = "an integer 856–65507 (an instrument definition is up to 792 bytes: a symbol, tick and lot of up to 255 bytes each; it must fit one datagram with the 48-byte header and the 16-byte HMAC trailer)";
    for (const n of [0, 256, 855, 65508]) expect(problemsOf(`[publish]\nmax_datagram_bytes = ${n}\n${VENUE}`)).toEqual([`publish.max_datagram_bytes: ${n} is not ${why}`]);
    expect(problemsOf(`[publish]\nmax_datagram_bytes = 1400.5\n${VENUE}`)).toEqual([`publish.max_datagram_bytes: 1400.5 is not ${why}`]);
    for (const n of [856, 65507]) expect(parseConfigText(`[publish]\nmax_datagram_bytes = ${n}\n${VENUE}`).publish.maxDatagramBytes).toBe(n);
  });

  test("a file with only a venue market gives the documented defaults", () => {
    const c = parseConfigText('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(c.log).toEqual({ level: DEFAULTS.logLevel, format: DEFAULTS.logFormat });
    expect(c.publish.maxDatagramBytes).toBe(1400);
    expect(c.publish.heartbeatIntervalMs).toBe(1000);
    expect(c.publish.destinations).toHaveLength(1);
    expect(c.publish.destinations[0]).toMatchObject({ group: "239.255.0.1", iface: "127.0.0.1", ttl: 1 });
    expect(c.venues.map((v) => [v.venue, v.markets])).toEqual([["bybit", [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }]]]);
  });

  test("no venue configured is refused naming the key; listen's configs may have none", () => {
    const want = 'venues: missing (expected at least one venue market, e.g. [venues.bybit.linear] with symbols = ["BTCUSDT"])';
    expect(problemsOf("")).toEqual([want]);
    expect(problemsOf("[venues]\n")).toEqual([want]);
    expect(problemsOf("[venues.bybit]\n")).toEqual(["venues.bybit: (table) is not at least one market table: spot, linear, inverse, option"]);
    expect(parseConfigText("", "listen.toml", { requireVenue: false }).venues).toEqual([]);
  });

  test("empty strings are refused naming the key: group, tick_size, lot_size, name, instrument_cache", () => {
    const venue = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
    expect(problemsOf(`[[publish.destinations]]\ngroup = ""\nport = 30001\n${venue}`)).toEqual([
      'publish.destinations[0].group: "" is not an IPv4 multicast address (224.0.0.0 – 239.255.255.255): the address is empty',
    ]);
    expect(problemsOf(`[[publish.destinations]]\nname = ""\ngroup = "239.255.1.1"\nport = 30001\n${venue}`)).toEqual([
      'publish.destinations[0].name: "" is not a non-empty label (it names the destination in logs and metrics)',
    ]);
    expect(problemsOf(`${venue}[venues.bybit.overrides."linear:BTCUSDT"]\ntick_size = ""\nlot_size = "0.001"\n`)).toEqual([
      'venues.bybit.overrides."linear:BTCUSDT".tick_size: "" is not a positive decimal string such as "0.01"',
    ]);
    expect(problemsOf(`${venue}[venues.bybit.overrides."linear:BTCUSDT"]\ntick_size = "0.1"\nlot_size = ""\n`)).toEqual([
      'venues.bybit.overrides."linear:BTCUSDT".lot_size: "" is not a positive decimal string such as "0.01"',
    ]);
    expect(problemsOf(`[venues.bybit]\ninstrument_cache = ""\n${venue}`)).toEqual([
      'venues.bybit.instrument_cache: "" is not a file path (the instrument cache is written there)',
    ]);
  });

  test("a destination's interface must be an address of this host", () => {
    const dest = (iface: string) => `[[publish.destinations]]\ngroup = "239.255.1.1"\nport = 30001\ninterface = "${iface}"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n`;
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a real host.
    const [problem] = problemsOf(dest("192.0.2.1"));
    expect(problem).toMatch(/^publish\.destinations\[0\]\.interface: "192\.0\.2\.1" is not an address of this host \(it has .*127\.0\.0\.1 on lo/);
    expect(parseConfigText(dest("127.0.0.1")).publish.destinations[0]!.iface).toBe("127.0.0.1");
    // The host's list is what decides: an address it has is accepted.
    const host = [{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "192.0.2.1" }];
    expect(parseConfigText(dest("192.0.2.1"), "t", { localAddresses: host }).publish.destinations[0]!.iface).toBe("192.0.2.1");
    expect(problemsOf(dest("10.9.9.9"))[0]).toContain("is not an address of this host");
  });

  test("TOML syntax errors name the line and the column", () => {
    const cases: [string, string][] = [
      ["workers = = 1", "line 1, column 11: Expected a value but found '='"],
      ['[log]\nlevel = "info"\n[publish\nmax_datagram_bytes = 1400\n', "line 3, column 9: Expected ']' to close a table header but found the end of the line"],
      ['[http]\nenabled = true\nlisten = "127.0.0.1:9464" x\n', "line 3, column 27: Expected a newline or end of file after a key/value pair"],
      ["[log]\r\nlevel = info\r\n", 'line 2, column 9: Strings must be quoted: "info"'],
      ["workers = 1\nworkers = 2\n", "line 2, column 11: Cannot redefine key 'workers'"],
      ['[venues.bybit.linear]\nsymbols = ["BTCUSDT",\n', "line 3, column 1: Unterminated array; expected ']'"],
    ];
    for (const [toml, where] of cases) expect(problemsOf(toml)).toEqual([`test.toml: not valid TOML at ${where}`]);
  });

  test("check-config's TOML: the file's key names, every default filled in, and it loads back to the same configuration", () => {
    const example = loadConfigFile(EXAMPLE);
    const text = formatConfigToml(example);
    expect(parseConfigText(text)).toEqual(example);
    for (const k of ["max_datagram_bytes", "heartbeat_interval_ms", "interface", "channel", "tick_size", "lot_size", "stale_after_ms", "instrument_cache", "allow_non_loopback"]) {
      expect(text).toMatch(new RegExp(`^${k} = `, "m"));
    }
    expect(text).not.toMatch(/maxDatagramBytes|iface|channelId|tickSize|instrumentCachePath|staleAfterMs/);
    // Every setting non-default, and a token, which is never printed.
    const all = validateConfig({
      // Shard 0 of 2 holds both symbols (shard 1 none: refused), one per worker.
      workers: 2,
      shard: "0/2",
      log: { level: "debug", format: "json" },
      http: { enabled: false, listen: "127.0.0.1:0", allow_non_loopback: true, bearer_token: "s3cret" },
      publish: {
        max_datagram_bytes: 9000,
        heartbeat_interval_ms: 250,
        snapshot_interval_ms: 0,
        snapshot_depth: 20,
        source_id: 9, // a shard's own (required with shard = "i/n", n > 1)
        destinations: [
          { name: "a b", group: "239.255.9.9", port: 40000, interface: "127.0.0.1", ttl: 3, channel: 0, venue: "bybit", market: "option", symbols: ["BTC-27MAR26-70000-P"] },
          { name: "inverse", group: "239.255.9.10", port: 40001, channel: 1, market: "inverse" },
        ],
      },
      venues: {
        bybit: {
          ws_url: "ws://127.0.0.1:1/v5/public",
          rest_url: "http://127.0.0.1:1",
          instrument_cache: "/tmp/c \"q\".json",
          option: { depth: 100, symbols: ["BTC-27MAR26-70000-P"], stale_after_ms: 120000 },
          inverse: { depth: 1, symbols: ["BTCUSD"] },
          overrides: { "inverse:BTCUSD": { tick_size: "0.5", lot_size: "1" } },
        },
      },
    });
    const allText = formatConfigToml(all);
    expect(allText).not.toContain("s3cret");
    expect(parseConfigText(allText)).toEqual({ ...all, http: { ...all.http, bearerToken: undefined } });
  });

  test("check-config's TOML keeps publish.auth_key_file (before, left out: the output loaded back unauthenticated)", () => {
    const dir = mkdtempSync(join(tmpdir(), "feeder-format-key-"));
    const key = join(dir, "feed.key");
    writeFileSync(key, "00112233445566778899aabbccddeeff\n");
    const c = parseConfigText(`[publish]\nauth_key_file = ${JSON.stringify(key)}\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n`);
    expect(c.publish.authKeyFile).toBe(key);
    expect(parseConfigText(formatConfigToml(c))).toEqual(c);
  });

  // TC0: the example from the issue, word for word
  test("a bad depth names the key, the value and the allowed values", () => {
    expect(problemsOf('[venues.bybit.linear]\ndepth = 500\nsymbols = ["BTCUSDT"]\n')).toEqual([
      "venues.bybit.linear.depth: 500 is not one of 1, 50, 200, 1000",
    ]);
    expect(problemsOf('[venues.bybit.option]\ndepth = 50\nsymbols = ["BTC-27MAR26-70000-P"]\n')).toEqual([
      "venues.bybit.option.depth: 50 is not one of 25, 100",
    ]);
  });

  test("stale_after_ms per venue market: optional, 0 = the adapter's default, bounded, checked against the depth", () => {
    const c = parseConfigText(
      '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nstale_after_ms = 30000\n[venues.bybit.spot]\ndepth = 1\nsymbols = ["BTCUSDT"]\nstale_after_ms = 0\n[venues.bybit.inverse]\nsymbols = ["BTCUSD"]\n',
    );
    const byMarket = Object.fromEntries(c.venues[0]!.markets.map((m) => [m.market, m.staleAfterMs]));
    expect(byMarket).toEqual({ linear: 30_000, spot: 0, inverse: undefined });
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nstale_after_ms = "30s"\n')).toEqual([
      'venues.bybit.linear.stale_after_ms: "30s" is not an integer 0–3600000',
    ]);
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nstale_after_ms = 500\n')).toEqual([
      "venues.bybit.linear.stale_after_ms: 500 is not 0 (the default) or at least 1000",
    ]);
    expect(problemsOf('[venues.bybit.linear]\ndepth = 1\nsymbols = ["BTCUSDT"]\nstale_after_ms = 4000\n')).toEqual([
      "venues.bybit.linear.stale_after_ms: 4000 is not 0 (the default) or at least 6000 for depth 1 (it re-pushes every 3 s)",
    ]);
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nstale_after_ms = -1\n')).toEqual([
      "venues.bybit.linear.stale_after_ms: -1 is not an integer 0–3600000",
    ]);
  });

  test("a destination's interface is named: 0.0.0.0 and non-addresses are refused", () => {
    const dest = (iface: string) => `[[publish.destinations]]\ngroup = "239.255.1.1"\nport = 30001\ninterface = "${iface}"\n`;
    expect(problemsOf(dest("0.0.0.0")).filter((p) => p.includes("interface"))).toEqual([
      'publish.destinations[0].interface: "0.0.0.0" is not the IPv4 address of a local interface, e.g. 127.0.0.1 (not 0.0.0.0: the outgoing interface is always named)',
    ]);
    expect(problemsOf(dest("eth0")).filter((p) => p.includes("interface"))).toHaveLength(1);
    expect(parseConfigText(`${dest("127.0.0.1")}[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n`, "test.toml").publish.destinations[0]!.iface).toBe("127.0.0.1");
  });

  test("every bad key is reported at once", () => {
    const problems = problemsOf(
      [
        "workers = 0",
        'shard = "3/2"',
        "[log]",
        'level = "loud"',
        "[http]",
        'listen = "0.0.0.0:80"',
        "[publish]",
        "max_datagram_bytes = 70000",
        "[[publish.destinations]]",
        'group = "10.1.2.3"',
        "port = 0",
        "ttl = 0",
        "colour = 1",
        "[venues.bybit.linear]",
        'symbols = ["btcusdt", "ETHUSDT", "ETHUSDT"]',
        "[venues.kraken.spot]",
        'symbols = ["X"]',
      ].join("\n"),
    );
    const keys = problems.map((p) => p.split(":")[0]);
    expect(keys).toEqual(
      expect.arrayContaining([
        "workers",
        "shard",
        "log.level",
        "http.listen",
        "publish.max_datagram_bytes",
        "publish.destinations[0].group",
        "publish.destinations[0].port",
        "publish.destinations[0].ttl",
        "publish.destinations[0].colour",
        "venues.bybit.linear.symbols[0]",
        "venues.bybit.linear.symbols[2]",
        "venues.kraken",
      ]),
    );
    expect(problems.find((p) => p.startsWith("http.listen"))).toContain("allow_non_loopback");
  });

  test("binding HTTP beyond loopback needs the explicit setting", () => {
    const c = parseConfigText('[http]\nlisten = "0.0.0.0:9464"\nallow_non_loopback = true\nbearer_token = "s3cret"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(c.http).toMatchObject({ host: "0.0.0.0", allowNonLoopback: true, bearerToken: "s3cret" });
  });

  test("http.max_in_flight and http.idle_timeout_s: defaults, range, printed by check-config", () => {
    const d = parseConfigText('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(d.http).toMatchObject({ maxInFlight: 64, idleTimeoutS: 10 });
    expect(formatConfigToml(d)).toMatch(/^max_in_flight = 64\nidle_timeout_s = 10$/m);
    const c = parseConfigText('[http]\nmax_in_flight = 8\nidle_timeout_s = 30\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(c.http).toMatchObject({ maxInFlight: 8, idleTimeoutS: 30 });
    expect(parseConfigText(formatConfigToml(c)).http).toEqual(c.http);
    // 0 would be no bound at all (Bun's idleTimeout 0 disables the timeout: a client that stops reading holds its
    // answer for ever); under 8 Bun's 4 s timer steps could cut a connection at once.
    expect(problemsOf('[http]\nidle_timeout_s = 7\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n')).toEqual(["http.idle_timeout_s: 7 is not an integer 8–255"]);
    expect(problemsOf('[http]\nmax_in_flight = 0\nidle_timeout_s = 0\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n')).toEqual([
      "http.max_in_flight: 0 is not an integer 1–100000",
      "http.idle_timeout_s: 0 is not an integer 8–255",
    ]);
  });

  test("wrong types are named", () => {
    expect(problemsOf('workers = "two"\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n')).toEqual(['workers: "two" is not an integer 1–64']);
    expect(problemsOf("[venues.bybit]\nlinear = 5")).toContain("venues.bybit.linear: 5 is not a table");
    expect(problemsOf("[[publish.destinations]]\ngroup = 1\nport = 5")).toContain("publish.destinations[0].group: 1 is not a string");
  });

  test("duplicate channel ids and unparsable TOML are rejected", () => {
    const dup = problemsOf('[[publish.destinations]]\ngroup="239.255.0.1"\nport=1\nchannel=7\n[[publish.destinations]]\ngroup="239.255.0.2"\nport=2\nchannel=7\n');
    expect(dup[0]).toMatch(/^publish\.destinations\[1\]\.channel: 7 is not a channel id not already used/);
    expect(problemsOf("workers = = 1")[0]).toMatch(/^test\.toml: not valid TOML at line 1, column 11/);
  });

  test("a missing file is a config error naming the path", () => {
    expect(() => loadConfigFile("/nonexistent/feeder.toml")).toThrow(/\/nonexistent\/feeder.toml: cannot read the file \(ENOENT\)/);
  });
});
