/**
 * Randomized: one key of a valid configuration is changed (a value of another type, out of range, NaN, ±Infinity,
 * -0, huge, missing, a table where a value goes, or an unknown key beside it). The loader must either refuse the file
 * with problems that all name that key, or accept it with that key's setting equal to what the simple model below
 * says (the value, or its default when left out); never throw anything but a ConfigError. What loads, printed as
 * `feeder check-config` prints it, loads back to the same configuration. The model is each key's documented rule
 * (README.md, Configuration reference), written out here, not read from the loader.
 */
import { describe, expect, test } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import { formatConfigToml } from "../../src/config/format.ts";
import { ConfigError } from "../../src/core/errors.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { LOOPBACK_ONLY } from "../support/config-problems.ts";
import { rng } from "../support/mulberry32.ts"; // seeded: the seed is in the test name, so a failure can be replayed

const MUTATIONS = 1000;

/** A valid file using the keys below (as parsed TOML). */
function base(): Record<string, any> {
  return {
    workers: 1,
    shard: "0/1",
    log: { level: "info", format: "auto" },
    http: { enabled: true, listen: "127.0.0.1:9464", allow_non_loopback: false, max_in_flight: 64, idle_timeout_s: 10 },
    publish: {
      max_datagram_bytes: 1400,
      heartbeat_interval_ms: 1000,
      snapshot_interval_ms: 5000,
      snapshot_depth: 0,
      source_id: 10,
      destinations: [
        { name: "a", group: "239.255.7.1", port: 31001, interface: "127.0.0.1", ttl: 1, channel: 1, venue: "*", market: "*", symbols: ["*"] },
        { name: "b", group: "239.255.7.2", port: 31002, channel: 2 },
      ],
      retransmit: { listen: "127.0.0.1:31900", ring_bytes: 1 << 20, allow: ["127.0.0.0/8"], requests_per_sec: 100, bytes_per_sec: 1 << 20, total_bytes_per_sec: 1 << 22 },
    },
    venues: {
      bybit: { dead_connection_ms: 0, instrument_cache: "var/cfgrd-bybit.json", linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }, spot: { symbols: ["SOLUSDT"], stale_after_ms: 30_000 } },
      okx: { instrument_reload_ms: 3_600_000, spot: { symbols: ["BTC-USDT"] } },
      coinbase: { spot: { symbols: ["BTC-USD"], symbols_per_connection: 20 } },
    },
  };
}

type Model =
  /** `dflt` undefined: required; null: absent in the result (the adapter's default). */
  | { kind: "int"; min: number; max: number; dflt: number | null | undefined; also?: (n: number) => boolean }
  | { kind: "enum"; values: readonly string[]; dflt: string }
  | { kind: "bool"; dflt: boolean }
  /** Any string but those refused. */
  | { kind: "text"; refused: readonly string[]; dflt: string }
  /** Anything not listed is refused; `dflt` undefined: required; `near`: refused values tried as often as `ok`'s. */
  | { kind: "listed"; ok: readonly unknown[]; dflt: unknown; near?: readonly unknown[] };

interface Key {
  readonly path: readonly (string | number)[];
  readonly model: Model;
  /** The setting in the loaded configuration. */
  get(c: FeederConfig): unknown;
  /** Keys whose value must differ from this one's: a clash may be named on them (the later one in the file). */
  readonly unique?: readonly string[];
}

const dest = (c: FeederConfig) => c.publish.destinations[0]!;
const bybit = (c: FeederConfig) => c.venues.find((v) => v.venue === "bybit")!;
const market = (c: FeederConfig, venue: string, m: string) => c.venues.find((v) => v.venue === venue)!.markets.find((x) => x.market === m)!;
const rt = (c: FeederConfig) => c.publish.retransmit!;
const int = (min: number, max: number, dflt: number | null | undefined, also?: (n: number) => boolean): Model => ({ kind: "int", min, max, dflt, ...(also ? { also } : {}) });

/** Every key mutated, with its documented rule. Cross-key rules are written for the base file's other values. */
const KEYS: Key[] = [
  // At most the symbols this instance takes (5 in the base file).
  { path: ["workers"], model: int(1, 64, 1, (n) => n <= 5), get: (c) => c.workers },
  { path: ["log", "level"], model: { kind: "enum", values: ["debug", "info", "warn", "error"], dflt: "info" }, get: (c) => c.log.level },
  { path: ["log", "format"], model: { kind: "enum", values: ["auto", "json", "pretty"], dflt: "auto" }, get: (c) => c.log.format },
  { path: ["http", "enabled"], model: { kind: "bool", dflt: true }, get: (c) => c.http.enabled },
  { path: ["http", "allow_non_loopback"], model: { kind: "bool", dflt: false }, get: (c) => c.http.allowNonLoopback },
  { path: ["http", "max_in_flight"], model: int(1, 100_000, 64), get: (c) => c.http.maxInFlight },
  { path: ["http", "idle_timeout_s"], model: int(8, 255, 10), get: (c) => c.http.idleTimeoutS },
  { path: ["http", "listen"], model: { kind: "listed", ok: ["127.0.0.1:9464", "127.0.0.1:0", "localhost:9000", "127.9.9.9:65535"], dflt: "127.0.0.1:9464" }, get: (c) => `${c.http.host}:${c.http.port}`.replace("127.0.0.1:9000", "localhost:9000") },
  { path: ["publish", "max_datagram_bytes"], model: int(856, 65507, 1400, (n) => n <= 1 << 20), get: (c) => c.publish.maxDatagramBytes },
  { path: ["publish", "heartbeat_interval_ms"], model: int(10, 60_000, 1000), get: (c) => c.publish.heartbeatIntervalMs },
  { path: ["publish", "snapshot_interval_ms"], model: int(0, 3_600_000, 5000, (n) => n === 0 || n >= 100), get: (c) => c.publish.snapshotIntervalMs },
  { path: ["publish", "snapshot_depth"], model: int(0, 100_000, 0), get: (c) => c.publish.snapshotDepth },
  { path: ["publish", "source_id"], model: int(0, 65535, 0), get: (c) => c.publish.sourceId },
  { path: ["publish", "startup_listen_ms"], model: int(0, 90_000, 1500, (n) => n === 0 || n >= 1250), get: (c) => c.publish.startupListenMs },
  { path: ["publish", "destinations", 0, "port"], model: int(1, 65535, undefined), get: (c) => dest(c).port },
  { path: ["publish", "destinations", 0, "ttl"], model: int(1, 255, 1), get: (c) => dest(c).ttl },
  // Unique (destination 1 has 2).
  { path: ["publish", "destinations", 0, "channel"], model: int(0, 65535, 1, (n) => n !== 2), get: (c) => dest(c).channelId },
  { path: ["publish", "destinations", 0, "group"], model: { kind: "listed", ok: ["239.255.7.1", "224.0.1.0", "239.255.7.2", "230.1.2.3"], dflt: undefined }, get: (c) => dest(c).group },
  { path: ["publish", "destinations", 0, "interface"], model: { kind: "listed", ok: ["127.0.0.1"], dflt: "127.0.0.1" }, get: (c) => dest(c).iface },
  { path: ["publish", "destinations", 0, "name"], model: { kind: "text", refused: ["", "b"], dflt: "destination-0" }, get: (c) => dest(c).name, unique: ["publish.destinations[1].name"] },
  // Configured venues and markets only.
  { path: ["publish", "destinations", 0, "venue"], model: { kind: "listed", ok: ["*", "bybit", "okx", "coinbase"], dflt: "*" }, get: (c) => dest(c).match.venue },
  { path: ["publish", "destinations", 0, "market"], model: { kind: "listed", ok: ["*", "linear", "spot"], dflt: "*" }, get: (c) => dest(c).match.market },
  { path: ["publish", "destinations", 0, "symbols"], model: { kind: "listed", ok: [["*"], ["BTCUSDT"], ["BTC-USDT", "SOLUSDT"]], dflt: ["*"] }, get: (c) => dest(c).match.symbols },
  { path: ["publish", "retransmit", "ring_bytes"], model: int(65_536, 1 << 30, 8 << 20), get: (c) => rt(c).ringBytes },
  { path: ["publish", "retransmit", "requests_per_sec"], model: int(1, 1_000_000, 100), get: (c) => rt(c).requestsPerSec },
  { path: ["publish", "retransmit", "bytes_per_sec"], model: int(1400, 1 << 30, 16 << 20), get: (c) => rt(c).bytesPerSec },
  { path: ["publish", "retransmit", "total_bytes_per_sec"], model: int(1400, 1 << 30, 64 << 20), get: (c) => rt(c).totalBytesPerSec },
  // A bare address is a /32.
  { path: ["publish", "retransmit", "allow"], model: { kind: "listed", ok: [["127.0.0.0/8"], ["10.0.0.0/8", "127.0.0.1/32"], ["0.0.0.0/0"], ["1.2.3.4"]], dflt: ["127.0.0.0/8"] }, get: (c) => rt(c).allow },
  { path: ["venues", "bybit", "dead_connection_ms"], model: int(0, 600_000, 0, (n) => n === 0 || n >= 1000), get: (c) => bybit(c).deadConnectionMs ?? 0 },
  // URLs: a ws_url may have a query (never a #fragment: WebSocket throws), a rest_url neither (paths are appended).
  // A query is taken; one naming a secret (?token=x) is shown as *** in a comment by check-config, so its output
  // does not load back the same by design (test/app/url-query-secrets.test.ts): the model's query names none.
  { path: ["venues", "bybit", "ws_url"], model: { kind: "listed", ok: ["wss://stream.bybit.com/v5/public", "ws://127.0.0.1:1/v5/public", "wss://relay:9443/v5/public?group=x"], dflt: "wss://stream.bybit.com/v5/public", near: ["wss://relay/v5#f", "wss://relay:99999/v5", "https://relay/v5", "ws://"] }, get: (c) => bybit(c).wsUrl },
  { path: ["venues", "bybit", "rest_url"], model: { kind: "listed", ok: ["https://api.bybit.com", "http://127.0.0.1:1", "https://relay:8443/prefix/"], dflt: "https://api.bybit.com", near: ["https://relay/?q=1", "https://relay/x#f", "wss://relay", "http://a b"] }, get: (c) => bybit(c).restUrl },
  { path: ["venues", "okx", "instrument_reload_ms"], model: int(0, 7 * 86_400_000, 3_600_000, (n) => n === 0 || n >= 60_000), get: (c) => c.venues.find((v) => v.venue === "okx")!.instrumentReloadMs },
  // Bybit linear's depths; the floor of stale_after_ms is 1000 for spot's default depth.
  { path: ["venues", "bybit", "linear", "depth"], model: int(0, Number.MAX_SAFE_INTEGER, 50, (n) => [1, 50, 200, 500, 1000].includes(n)), get: (c) => market(c, "bybit", "linear").depth },
  { path: ["venues", "bybit", "spot", "stale_after_ms"], model: int(0, 3_600_000, 0, (n) => n === 0 || n >= 1000), get: (c) => market(c, "bybit", "spot").staleAfterMs ?? 0 },
  { path: ["venues", "coinbase", "spot", "symbols_per_connection"], model: int(1, 1000, null), get: (c) => market(c, "coinbase", "spot").symbolsPerConnection ?? null },
  { path: ["venues", "bybit", "instrument_cache"], model: { kind: "text", refused: ["", "var/instruments-okx.json", "var/instruments-coinbase.json"], dflt: "var/instruments-bybit.json" }, get: (c) => bybit(c).instrumentCachePath, unique: ["venues.okx.instrument_cache", "venues.coinbase.instrument_cache"] },
  // Bybit linear: letters and digits, or a dated future (BTC-27DEC24); "1.2.3.4" was taken until s-cfg8 gave Bybit a shape.
  { path: ["venues", "bybit", "linear", "symbols"], model: { kind: "listed", ok: [["BTCUSDT"], ["BTCUSDT", "ETHUSDT"], ["BTCUSDT", "BTCUSDT@1"], ["BTC-27DEC24"]], dflt: undefined }, get: (c) => market(c, "bybit", "linear").symbols },
  { path: ["shard"], model: { kind: "listed", ok: ["0/1", "00/1", "0/01"], dflt: "0/1" }, get: (c) => `${c.shard.index}/${c.shard.count}` },
];

/** Values of every kind; the model decides which a key takes. */
const ODD: unknown[] = [
  "", "1000", "x", " 1", "*", "0x10", "1e3", "toString", "__proto__", "constructor", "239.255.7.1", "127.0.0.1", "0.0.0.0", "BTCUSDT",
  true, false, null, [], [1], ["*"], [""], ["BTCUSDT", "BTCUSDT"], ["btcusdt"], [["*"]], {}, { a: 1 },
  NaN, Infinity, -Infinity, 1e400, -1e400, -0, 0, 1, -1, 1.5, 0.1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e3,
  "1/1", "0/0", "0/65537", "0/99999999999999999999", "a/b", "-1/2",
  "127.0.0.1:65536", "127.0.0.1:-1", "0.0.0.0:9464", "10.1.2.3:9464", "224.0.0.1", "239.255.0.010", "255.255.255.255",
  ["10.0.0.1/33"], ["10.0.0.1/8"], ["1.2.3.4"], ["127.0.0.0/8", 5], ["1.2.3.4", "1.2.3.4"], ["BTC-USDT"], ["XRP_USDC-30JUN23-0d625-C"],
];

const MISSING = Symbol("missing");

/** A value for `key`: near its bounds, inside, or anything from ODD; sometimes the key left out. */
function valueFor(key: Key, r: () => number): unknown {
  const m = key.model;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const roll = r();
  if (roll < 0.1) return MISSING;
  if (roll < 0.5) return pick(ODD);
  if (m.kind === "int") {
    const span = Math.min(m.max, 10_000_000) - m.min;
    return pick([m.min - 1, m.min, m.min + 1, m.max - 1, m.max, m.max + 1, m.min + Math.floor(r() * (span + 1)), Math.floor(r() * 2_000_000) - 1000, m.min + r()]);
  }
  if (m.kind === "enum") return pick([...m.values, m.values[0]!.toUpperCase(), `${m.values[0]} `]);
  if (m.kind === "bool") return pick([true, false, "true", 1]);
  // DEL and other control characters are escaped in TOML, and printed so by check-config.
  if (m.kind === "text") return pick([...m.refused, "x", "é/ü.json", " ", "a\u007fb", "tab\there", "\u0085\u2028\"'\\"]);
  return structuredClone(pick([...m.ok, ...(m.near ?? [])]));
}

/** What the model says: refused, or the setting loaded. */
function expected(key: Key, value: unknown): { refused: true } | { refused: false; setting: unknown } {
  const m = key.model;
  if (value === MISSING) return m.dflt === undefined ? { refused: true } : { refused: false, setting: m.dflt };
  switch (m.kind) {
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= m.min && value <= m.max && (m.also?.(value) ?? true) ? { refused: false, setting: value } : { refused: true };
    case "enum":
      return typeof value === "string" && m.values.includes(value) ? { refused: false, setting: value } : { refused: true };
    case "bool":
      return typeof value === "boolean" ? { refused: false, setting: value } : { refused: true };
    case "text":
      return typeof value === "string" && !m.refused.includes(value) ? { refused: false, setting: value } : { refused: true };
    case "listed": {
      const ok = m.ok.find((x) => JSON.stringify(x) === JSON.stringify(value));
      return ok === undefined ? { refused: true } : { refused: false, setting: key.path[0] === "shard" ? "0/1" : ok };
    }
  }
}

/** The key as problems name it: `publish.destinations[0].port`. */
function keyName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function set(raw: Record<string, any>, path: readonly (string | number)[], value: unknown): void {
  let t: any = raw;
  for (const p of path.slice(0, -1)) t = t[p];
  const last = path[path.length - 1]!;
  if (value === MISSING) delete t[last];
  else t[last] = value;
}

/** The configuration as text, for comparing (a Map as its entries, -0 told from 0, undefined as absent). */
function canonical(c: FeederConfig): string {
  return JSON.stringify(c, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : Object.is(v, -0) ? "-0" : v));
}

function load(raw: unknown): { config: FeederConfig } | { problems: readonly string[] } {
  try {
    return { config: validateConfig(raw, { localAddresses: LOOPBACK_ONLY }) };
  } catch (err) {
    // Anything but a ConfigError (a RangeError, a TypeError) is a failure of the test.
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(err)}`);
    return { problems: err.problems };
  }
}

describe("one key of a valid file changed: refused naming that key, or loaded as the model says", () => {
  test("the base file loads, each key as the model has it", () => {
    const loaded = load(base());
    expect(loaded).toHaveProperty("config");
    const c = (loaded as { config: FeederConfig }).config;
    for (const key of KEYS) {
      let v: any = base();
      for (const p of key.path) v = v[p];
      if (v === undefined) v = MISSING;
      expect([keyName(key.path), key.get(c)]).toEqual([keyName(key.path), expected(key, v).refused ? "refused" : (expected(key, v) as { setting: unknown }).setting]);
    }
  });

  const seed = Number(process.env.CFG_MUTATION_SEED ?? 20261206);
  test(`${MUTATIONS} mutations (seed ${seed}; CFG_MUTATION_SEED replays another)`, () => {
    const r = rng(seed);
    const failures: string[] = [];
    for (let i = 0; i < MUTATIONS && failures.length < 5; i++) {
      const key = KEYS[Math.floor(r() * KEYS.length)]!;
      const name = keyName(key.path);
      const raw = base();
      // One in ten: an unknown key beside it (its table named), else the key's own value.
      if (r() < 0.1) {
        set(raw, [...key.path.slice(0, -1), "no_such_key"], 1);
        const got = load(raw);
        const table = keyName(key.path.slice(0, -1));
        if (!("problems" in got) || got.problems.length !== 1 || !got.problems[0]!.startsWith(`${table ? table + "." : ""}no_such_key: unknown key`)) failures.push(`no_such_key beside ${name}: ${JSON.stringify(got)}`);
        continue;
      }
      const value = valueFor(key, r);
      set(raw, key.path, value);
      const want = expected(key, value);
      const got = load(raw);
      const shown = value === MISSING ? "(missing)" : Object.is(value, -0) ? "-0" : typeof value === "number" ? String(value) : JSON.stringify(value);
      if (want.refused) {
        // Each problem is about the key: starts with it, or with a key its value must differ from.
        const names = (p: string) => [name, ...(key.unique ?? [])].some((k) => p.startsWith(`${k}:`) || p.startsWith(`${k}[`) || p.startsWith(`${k}.`));
        if (!("problems" in got)) failures.push(`${name} = ${shown}: loaded, the model refuses it`);
        else if (!got.problems.every(names)) failures.push(`${name} = ${shown}: problems not all naming it: ${JSON.stringify(got.problems)}`);
      } else if ("problems" in got) failures.push(`${name} = ${shown}: refused (${JSON.stringify(got.problems)}), the model takes it`);
      else if (JSON.stringify(key.get(got.config)) !== JSON.stringify(want.setting)) failures.push(`${name} = ${shown}: loaded as ${JSON.stringify(key.get(got.config))}, not ${JSON.stringify(want.setting)}`);
      else {
        const back = load(Bun.TOML.parse(formatConfigToml(got.config)));
        if (!("config" in back) || canonical(back.config) !== canonical(got.config)) failures.push(`${name} = ${shown}: check-config's output does not load back the same: ${JSON.stringify(back).slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
