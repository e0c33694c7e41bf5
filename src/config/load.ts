/**
 * Reads and validates the TOML configuration. Every problem names the key, the value and what was expected;
 * all problems are collected and thrown together as one ConfigError, before anything opens a socket.
 * The keys and defaults are documented in README.md ("Configuration") and config/feeder.example.toml.
 * @module
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "../core/errors.ts";
import { MARKET_IDS, type MarketName, type VenueName } from "../core/types.ts";
import { supportedVenues, venueSpec } from "../venues/registry.ts";
import type {
  DestinationConfig,
  FeederConfig,
  HttpConfig,
  InstrumentOverride,
  LogFormat,
  LogLevel,
  MarketConfig,
  PublishConfig,
  VenueConfig,
} from "./types.ts";

export const DEFAULTS = {
  logLevel: "info" as LogLevel,
  logFormat: "auto" as LogFormat,
  httpListen: "127.0.0.1:9464",
  maxDatagramBytes: 1400,
  heartbeatIntervalMs: 1000,
  snapshotIntervalMs: 5000,
  snapshotDepth: 0,
  destination: { name: "default", group: "239.255.0.1", port: 31001, iface: "127.0.0.1", ttl: 1, channelId: 1 },
} as const;

/** Smallest datagram that still holds a packet header, a message header, a delta root block and one level. */
const MIN_DATAGRAM_BYTES = 256;
/** IPv4 UDP payload limit. */
const MAX_DATAGRAM_BYTES = 65507;
/** A venue symbol, optionally `@depth` for a further depth of it beside the market's (venues/venue.ts). */
const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9_\-]{0,63}(@\d{1,6})?$/;
const DECIMAL_STEP_PATTERN = /^(0|[1-9]\d*)(\.\d+)?$/;
const STALE_MAX_MS = 3_600_000;

type Table = Record<string, unknown>;

export function loadConfigFile(path: string): FeederConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, source = "config"): FeederConfig {
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (err) {
    throw new ConfigError([`${source}: not valid TOML: ${(err as Error).message}`]);
  }
  return validateConfig(raw);
}

/** Validates an already-parsed TOML document (also used by tests and the demo, which build configs in code). */
export function validateConfig(raw: unknown): FeederConfig {
  const v = new Validator();
  const root = v.table(raw, "");
  v.knownKeys(root, "", ["workers", "shard", "log", "http", "publish", "venues"]);

  const workers = v.int(root.workers, "workers", 1, 1, 64);
  const shard = parseShard(v, root.shard);

  const logT = v.table(root.log ?? {}, "log");
  v.knownKeys(logT, "log", ["level", "format"]);
  const log = {
    level: v.oneOf(logT.level, "log.level", DEFAULTS.logLevel, ["debug", "info", "warn", "error"] as const),
    format: v.oneOf(logT.format, "log.format", DEFAULTS.logFormat, ["auto", "json", "pretty"] as const),
  };

  const http = parseHttp(v, v.table(root.http ?? {}, "http"));
  const publish = parsePublish(v, v.table(root.publish ?? {}, "publish"));
  const venues = parseVenues(v, v.table(root.venues ?? {}, "venues"));

  v.throwIfAny();
  return { log, http, publish, venues, workers, shard };
}

function parseShard(v: Validator, value: unknown): { index: number; count: number } {
  if (value === undefined) return { index: 0, count: 1 };
  const m = typeof value === "string" ? /^(\d+)\/(\d+)$/.exec(value) : null;
  if (!m) {
    v.problem("shard", value, 'a string "i/n" with 0 ≤ i < n, e.g. "0/2"');
    return { index: 0, count: 1 };
  }
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) {
    v.problem("shard", value, 'a string "i/n" with 0 ≤ i < n, e.g. "0/2"');
    return { index: 0, count: 1 };
  }
  return { index, count };
}

function parseHttp(v: Validator, t: Table): HttpConfig {
  v.knownKeys(t, "http", ["enabled", "listen", "allow_non_loopback", "bearer_token"]);
  const enabled = v.bool(t.enabled, "http.enabled", true);
  const listen = v.str(t.listen, "http.listen", DEFAULTS.httpListen);
  const allowNonLoopback = v.bool(t.allow_non_loopback, "http.allow_non_loopback", false);
  const token = v.str(t.bearer_token, "http.bearer_token", "");
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost):(\d{1,5})$/.exec(listen);
  let host = "127.0.0.1";
  let port = 9464;
  if (!m || !(m[1] === "localhost" || isIpv4(m[1])) || Number(m[2]) > 65535) {
    v.problem("http.listen", listen, 'an IPv4 "address:port", e.g. "127.0.0.1:9464" (port 0 picks a free port)');
  } else {
    host = m[1] === "localhost" ? "127.0.0.1" : m[1];
    port = Number(m[2]);
    if (enabled && !isLoopback(host) && !allowNonLoopback) {
      v.problem("http.listen", listen, "a loopback address (127.x.x.x); set http.allow_non_loopback = true to bind beyond loopback");
    }
  }
  return { enabled, host, port, allowNonLoopback, bearerToken: token === "" ? undefined : token };
}

function parsePublish(v: Validator, t: Table): PublishConfig {
  v.knownKeys(t, "publish", ["max_datagram_bytes", "heartbeat_interval_ms", "snapshot_interval_ms", "snapshot_depth", "destinations"]);
  const maxDatagramBytes = v.int(t.max_datagram_bytes, "publish.max_datagram_bytes", DEFAULTS.maxDatagramBytes, MIN_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES);
  const heartbeatIntervalMs = v.int(t.heartbeat_interval_ms, "publish.heartbeat_interval_ms", DEFAULTS.heartbeatIntervalMs, 10, 60_000);
  const snapshotIntervalMs = v.int(t.snapshot_interval_ms, "publish.snapshot_interval_ms", DEFAULTS.snapshotIntervalMs, 0, 3_600_000);
  const snapshotDepth = v.int(t.snapshot_depth, "publish.snapshot_depth", DEFAULTS.snapshotDepth, 0, 100_000);
  const destinations: DestinationConfig[] = [];
  if (t.destinations === undefined) {
    destinations.push({ ...DEFAULTS.destination, match: { venue: "*", market: "*", symbols: ["*"] } });
  } else if (!Array.isArray(t.destinations) || t.destinations.length === 0) {
    v.problem("publish.destinations", t.destinations, "a non-empty array of tables ([[publish.destinations]])");
  } else {
    const channels = new Map<number, string>();
    t.destinations.forEach((d, i) => {
      const key = `publish.destinations[${i}]`;
      const dt = v.table(d, key);
      v.knownKeys(dt, key, ["name", "group", "port", "interface", "ttl", "channel", "venue", "market", "symbols"]);
      const group = v.str(dt.group, `${key}.group`, undefined);
      if (group !== "" && !isMulticast(group)) v.problem(`${key}.group`, group, "an IPv4 multicast address (224.0.0.0 – 239.255.255.255)");
      const iface = v.str(dt.interface, `${key}.interface`, DEFAULTS.destination.iface);
      if (!isIpv4(iface) || iface === "0.0.0.0") v.problem(`${key}.interface`, iface, "the IPv4 address of a local interface, e.g. 127.0.0.1 (not 0.0.0.0: the outgoing interface is always named)");
      const channelId = v.int(dt.channel, `${key}.channel`, i + 1, 0, 65535);
      const name = v.str(dt.name, `${key}.name`, `destination-${i}`);
      const prev = channels.get(channelId);
      if (prev !== undefined) v.problem(`${key}.channel`, channelId, `a channel id not already used (destination "${prev}" has it)`);
      channels.set(channelId, name);
      const venue = v.str(dt.venue, `${key}.venue`, "*");
      if (venue !== "*" && !venueSpec(venue)) v.problem(`${key}.venue`, venue, `"*" or one of ${supportedVenues().join(", ")}`);
      const market = v.str(dt.market, `${key}.market`, "*");
      if (market !== "*" && !(market in MARKET_IDS)) v.problem(`${key}.market`, market, `"*" or one of ${Object.keys(MARKET_IDS).join(", ")}`);
      destinations.push({
        name,
        group,
        port: v.int(dt.port, `${key}.port`, undefined, 1, 65535),
        iface,
        ttl: v.int(dt.ttl, `${key}.ttl`, 1, 1, 255),
        channelId,
        match: { venue, market, symbols: v.strList(dt.symbols, `${key}.symbols`, ["*"]) },
      });
    });
  }
  return { maxDatagramBytes, heartbeatIntervalMs, snapshotIntervalMs, snapshotDepth, destinations };
}

function parseVenues(v: Validator, t: Table): VenueConfig[] {
  const out: VenueConfig[] = [];
  for (const [venueName, value] of Object.entries(t)) {
    const key = `venues.${venueName}`;
    const spec = venueSpec(venueName);
    if (!spec) {
      v.problem(key, "(table)", `a supported venue: ${supportedVenues().join(", ")}`);
      continue;
    }
    const vt = v.table(value, key);
    const marketNames = Object.keys(spec.markets);
    v.knownKeys(vt, key, ["ws_url", "rest_url", "instrument_cache", "overrides", ...marketNames]);
    const wsUrl = v.str(vt.ws_url, `${key}.ws_url`, spec.wsUrl);
    if (!/^wss?:\/\/[^\s]+$/.test(wsUrl)) v.problem(`${key}.ws_url`, wsUrl, "a ws:// or wss:// URL");
    const restUrl = v.str(vt.rest_url, `${key}.rest_url`, spec.restUrl);
    if (!/^https?:\/\/[^\s]+$/.test(restUrl)) v.problem(`${key}.rest_url`, restUrl, "an http:// or https:// URL");
    const markets: MarketConfig[] = [];
    for (const market of marketNames as MarketName[]) {
      if (vt[market] === undefined) continue;
      const mk = `${key}.${market}`;
      const mt = v.table(vt[market], mk);
      v.knownKeys(mt, mk, ["depth", "symbols", "stale_after_ms", "ws_url", "rest_url"]);
      const ms = spec.markets[market]!;
      const allowed = ms.depths;
      const depth = v.int(mt.depth, `${mk}.depth`, ms.defaultDepth, 0, Number.MAX_SAFE_INTEGER);
      if (!allowed.includes(depth)) v.problem(`${mk}.depth`, depth, `one of ${allowed.join(", ")}`);
      const symbols = v.strList(mt.symbols, `${mk}.symbols`, undefined);
      const seen = new Set<string>();
      symbols.forEach((s, i) => {
        const wellFormed = SYMBOL_PATTERN.test(s);
        if (!wellFormed) v.problem(`${mk}.symbols[${i}]`, s, "an upper-case venue symbol such as BTCUSDT or BTC-27MAR26-70000-P, optionally with @depth for a further depth (BTCUSDT@1)");
        const at = s.indexOf("@");
        if (wellFormed && at > 0) {
          const extra = Number(s.slice(at + 1));
          if (!allowed.includes(extra)) v.problem(`${mk}.symbols[${i}]`, s, `a further depth that is one of ${allowed.join(", ")}`);
          else if (extra === depth) v.problem(`${mk}.symbols[${i}]`, s, `a depth other than the market's (${depth}): list the symbol without @`);
        }
        if (seen.has(s)) v.problem(`${mk}.symbols[${i}]`, s, "a symbol listed once");
        seen.add(s);
      });
      const marketWsUrl = mt.ws_url === undefined ? undefined : v.str(mt.ws_url, `${mk}.ws_url`, undefined);
      if (marketWsUrl !== undefined && !/^wss?:\/\/[^\s]+$/.test(marketWsUrl)) v.problem(`${mk}.ws_url`, marketWsUrl, "a ws:// or wss:// URL");
      const marketRestUrl = mt.rest_url === undefined ? undefined : v.str(mt.rest_url, `${mk}.rest_url`, undefined);
      if (marketRestUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(marketRestUrl)) v.problem(`${mk}.rest_url`, marketRestUrl, "an http:// or https:// URL");
      if (symbols.length === 0 && mt.symbols !== undefined) v.problem(`${mk}.symbols`, "[]", "at least one symbol");
      let staleAfterMs: number | undefined;
      if (mt.stale_after_ms !== undefined) {
        staleAfterMs = v.int(mt.stale_after_ms, `${mk}.stale_after_ms`, 0, 0, STALE_MAX_MS);
        // The floor of the smallest depth configured in this market (a further depth may be smaller than the market's).
        const depths = [depth, ...symbols.filter((s) => s.includes("@")).map((s) => Number(s.slice(s.indexOf("@") + 1)))];
        const floor = depths.map((d) => ms.staleFloor(d)).reduce((a, b) => (b.ms > a.ms ? b : a));
        if (staleAfterMs !== 0 && staleAfterMs < floor.ms) {
          v.problem(`${mk}.stale_after_ms`, staleAfterMs, `0 (the default) or at least ${floor.ms}${floor.why ? " " + floor.why : ""}`);
        }
      }
      markets.push({
        market,
        depth,
        symbols,
        ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
        ...(marketWsUrl === undefined ? {} : { wsUrl: marketWsUrl }),
        ...(marketRestUrl === undefined ? {} : { restUrl: marketRestUrl }),
      });
    }
    if (markets.length === 0) v.problem(key, "(table)", `at least one market table: ${marketNames.join(", ")}`);
    const overrides = new Map<string, InstrumentOverride>();
    const ot = v.table(vt.overrides ?? {}, `${key}.overrides`);
    for (const [name, o] of Object.entries(ot)) {
      const ok = `${key}.overrides."${name}"`;
      const [market, symbol] = name.split(":");
      if (!symbol || !(market! in spec.markets)) v.problem(ok, name, `a key "market:SYMBOL" with market one of ${marketNames.join(", ")}`);
      const otab = v.table(o, ok);
      v.knownKeys(otab, ok, ["tick_size", "lot_size"]);
      const tickSize = v.str(otab.tick_size, `${ok}.tick_size`, undefined);
      const lotSize = v.str(otab.lot_size, `${ok}.lot_size`, undefined);
      for (const [k, s] of [["tick_size", tickSize], ["lot_size", lotSize]] as const) {
        if (s !== "" && (!DECIMAL_STEP_PATTERN.test(s) || !/[1-9]/.test(s))) v.problem(`${ok}.${k}`, s, 'a positive decimal string such as "0.01"');
      }
      overrides.set(name, { tickSize, lotSize });
    }
    out.push({
      venue: venueName as VenueName,
      wsUrl,
      restUrl,
      instrumentCachePath: v.str(vt.instrument_cache, `${key}.instrument_cache`, `var/instruments-${venueName}.json`),
      markets,
      overrides,
    });
  }
  return out;
}

/** Collects problems instead of stopping at the first, so one run shows every bad key. */
class Validator {
  private readonly problems: string[] = [];

  problem(key: string, value: unknown, expected: string): void {
    this.problems.push(`${key || "(top level)"}: ${show(value)} is not ${expected}`);
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }

  table(value: unknown, key: string): Table {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Table;
    this.problem(key, value, "a table");
    return {};
  }

  knownKeys(t: Table, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (!allowed.includes(k)) this.problems.push(`${key ? key + "." : ""}${k}: unknown key (expected one of ${allowed.join(", ")})`);
    }
  }

  int(value: unknown, key: string, dflt: number | undefined, min: number, max: number): number {
    if (value === undefined) {
      if (dflt !== undefined) return dflt;
      this.problems.push(`${key}: missing (expected an integer ${min}–${max})`);
      return min;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.problem(key, value, `an integer ${min}–${max}`);
      return dflt ?? min;
    }
    return value;
  }

  bool(value: unknown, key: string, dflt: boolean): boolean {
    if (value === undefined) return dflt;
    if (typeof value !== "boolean") {
      this.problem(key, value, "true or false");
      return dflt;
    }
    return value;
  }

  str(value: unknown, key: string, dflt: string | undefined): string {
    if (value === undefined) {
      if (dflt !== undefined) return dflt;
      this.problems.push(`${key}: missing (expected a string)`);
      return "";
    }
    if (typeof value !== "string") {
      this.problem(key, value, "a string");
      return dflt ?? "";
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, key: string, dflt: T, allowed: readonly T[]): T {
    if (value === undefined) return dflt;
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      this.problem(key, value, `one of ${allowed.join(", ")}`);
      return dflt;
    }
    return value as T;
  }

  strList(value: unknown, key: string, dflt: string[] | undefined): string[] {
    if (value === undefined) {
      if (dflt !== undefined) return dflt;
      this.problems.push(`${key}: missing (expected an array of strings)`);
      return [];
    }
    if (!Array.isArray(value) || value.some((x) => typeof x !== "string")) {
      this.problem(key, value, "an array of strings");
      return dflt ?? [];
    }
    return value as string[];
  }
}

function show(value: unknown): string {
  if (typeof value === "string") return value === "(table)" || value === "[]" ? value : JSON.stringify(value);
  if (value === undefined) return "(missing)";
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function isIpv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isMulticast(s: string): boolean {
  if (!isIpv4(s)) return false;
  const first = Number(s.split(".")[0]);
  return first >= 224 && first <= 239;
}

function isLoopback(host: string): boolean {
  return host.startsWith("127.");
}
