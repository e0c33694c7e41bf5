/**
 * The resolved configuration as TOML with the file's own key names (what `feeder check-config` prints): every
 * setting in effect, defaults filled in. Loading the output gives the same configuration, except that a bearer
 * token is never printed (a comment says one is set), nor a [nats] file key's value that is no path (it may be the
 * secret itself), nor a ws_url / rest_url holding credentials (a comment shows it without them).
 * @module
 */
import { instrumentIdOf } from "../core/instrument-id.ts";
import { looksLikePath, whyNotShown } from "../core/secret-path.ts";
import { redactUrl } from "../core/redact-url.ts";
import { venueSpec } from "../venues/registry.ts";
import { DEFAULTS } from "./load.ts";
import { restBridgeBytesPerWorker, shardOfId, workerOfId } from "./share.ts";
import type { DestinationConfig, FeederConfig, MarketConfig, VenueConfig } from "./types.ts";
import type { MarketName } from "../core/types.ts";

/**
 * A TOML basic string: JSON's escapes are TOML's, but JSON leaves DEL (U+007F) as it is, which TOML refuses in a
 * string (before, a name or path holding one, given escaped, was printed raw: the output did not load).
 */
function quoted(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, "\\u007f");
}

/** A TOML value: strings quoted, arrays inline. */
function value(v: string | number | boolean | readonly string[]): string {
  if (typeof v === "string") return quoted(v);
  if (Array.isArray(v)) return `[${v.map((x) => quoted(x)).join(", ")}]`;
  return String(v);
}

/** A key as TOML allows it bare, or quoted. */
function key(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : quoted(k);
}

function destination(d: DestinationConfig): string[] {
  return [
    "[[publish.destinations]]",
    `name = ${value(d.name)}`,
    ...(d.receivers !== undefined ? [`receivers = ${value(d.receivers.map((r) => `${r.host}:${r.port}`))}`] : [`group = ${value(d.group!)}`, `port = ${d.port}`]),
    `interface = ${value(d.iface)}`,
    `ttl = ${d.ttl}`,
    `channel = ${d.channelId}`,
    `venue = ${value(d.match.venue)}`,
    `market = ${value(d.match.market)}`,
    `symbols = ${value(d.match.symbols)}`,
  ];
}

/**
 * A ws_url / rest_url line; one with credentials (user:pw@) as a comment showing it without them, as the bearer
 * token: the output then loads with the venue's default URL there, so set it back to use the output as a file.
 */
function url(k: string, u: string): string {
  const shown = redactUrl(u);
  return shown === u ? `${k} = ${value(u)}` : `# ${k} is set (not shown in full: it holds credentials): ${value(shown)}`;
}

/**
 * The streams each worker of this shard takes, by market, as the app assigns them (config/share.ts: the shard's ids,
 * then the worker's), for the venue's own check-config lines (VenueSpec.describeConfig).
 */
function streamsOfWorker(v: VenueConfig, workers: number, shard: FeederConfig["shard"]): Map<MarketName, number>[] {
  const streams = Array.from({ length: workers }, () => new Map<MarketName, number>());
  for (const m of v.markets) {
    for (const sym of m.symbols) {
      const id = instrumentIdOf(v.venue, m.market, sym);
      if (shard.count > 1 && shardOfId(id, shard.count) !== shard.index) continue;
      const w = streams[workerOfId(id, workers)]!;
      w.set(m.market, (w.get(m.market) ?? 0) + 1);
    }
  }
  return streams;
}

/**
 * A descriptor's check-config line as comments whatever it holds, so the output still loads as the configuration it
 * prints: a line without `#` would be read as a key, a line break would start one, and TOML refuses control
 * characters (but tab) in a comment (shown as \xNN).
 */
function asComments(text: string): string[] {
  return text.split(/\r\n|\r|\n/).map((line) => {
    const shown = line.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    return shown.startsWith("#") ? shown : `# ${shown}`;
  });
}

function venue(v: VenueConfig, workers: number, shard: FeederConfig["shard"]): string[] {
  const base = `venues.${key(v.venue)}`;
  const out = [`[${base}]`, url("ws_url", v.wsUrl), url("rest_url", v.restUrl), `instrument_cache = ${value(v.instrumentCachePath)}`];
  // 0 is the file's way of saying "the venue layer's default" (absent), so it round-trips.
  out.push(`dead_connection_ms = ${v.deadConnectionMs ?? 0}`);
  if (v.instrumentReloadMs !== undefined) out.push(`instrument_reload_ms = ${v.instrumentReloadMs}`);
  // What each adapter keeps (app/feeder.ts): with workers, each worker's part of the key, its books' buffers.
  const part = v.restBridgeBufferBytes === undefined ? undefined : restBridgeBytesPerWorker(v.restBridgeBufferBytes, workers);
  if (part !== undefined) {
    out.push(`rest_bridge_buffer_bytes = ${v.restBridgeBufferBytes}`);
    if (workers > 1) out.push(`# each of the ${workers} workers keeps ${part} of it for its books`);
  }
  // The venue's own lines (its descriptor's, Binance's budgets): this file names no venue (docs/add-venue.md).
  const spec = venueSpec(v.venue);
  if (spec?.describeConfig !== undefined) {
    for (const line of spec.describeConfig(v, { workers, streamsOfWorker: streamsOfWorker(v, workers, shard), restBridgeBytesPerWorker: part })) out.push(...asComments(line));
  }
  for (const m of v.markets) {
    out.push("", `[${base}.${key(m.market)}]`, `depth = ${m.depth}`, `symbols = ${value(m.symbols)}`);
    if (m.wsUrl !== undefined) out.push(url("ws_url", m.wsUrl));
    if (m.restUrl !== undefined) out.push(url("rest_url", m.restUrl));
    if (m.symbolsPerConnection !== undefined) out.push(`symbols_per_connection = ${m.symbolsPerConnection}`);
    // Only a market whose spec has a default reads it (Coinbase): the adapter's default, so absent stays absent.
    else {
      const perConnection = spec?.markets[m.market]?.defaultSymbolsPerConnection;
      if (perConnection !== undefined) out.push(`# symbols_per_connection not set: the adapter's default (${perConnection})`);
    }
    for (const [k, o] of Object.entries(m.options ?? {})) out.push(`${key(k)} = ${value(o)}`);
    // Absent means the adapter's default for the depth; printing 0 would say the same, but not round-trip.
    if (m.staleAfterMs !== undefined) out.push(`stale_after_ms = ${m.staleAfterMs}`);
    if (m.staleAfterMs === undefined || m.staleAfterMs === 0) out.push(`# stale_after_ms ${m.staleAfterMs === undefined ? "not set" : "0"}: the adapter's default for each depth, ${staleDefaults(v, m)}`);
  }
  for (const [name, o] of v.overrides) {
    out.push("", `[${base}.overrides.${key(name)}]`, `tick_size = ${value(o.tickSize)}`, `lot_size = ${value(o.lotSize)}`);
  }
  return out;
}

/**
 * What a market's stale_after_ms left at 0 means, from the registry the adapters' defaults come from (MarketSpec
 * staleAfterMs): each depth's figure, the market's and each further SYMBOL@N's. Before, only "the adapter's default".
 */
function staleDefaults(v: VenueConfig, m: MarketConfig): string {
  const spec = venueSpec(v.venue)?.markets[m.market];
  if (spec === undefined) return "unknown";
  const depths = new Set([m.depth, ...m.symbols.filter((s) => s.includes("@")).map((s) => Number(s.slice(s.indexOf("@") + 1)))]);
  return [...depths].map((d) => `${spec.staleAfterMs(d)} ms at depth ${d}`).join(", ");
}

export function formatConfigToml(c: FeederConfig): string {
  const lines = [
    `workers = ${c.workers}`,
    `shard = ${value(`${c.shard.index}/${c.shard.count}`)}`,
    "",
    "[log]",
    `level = ${value(c.log.level)}`,
    `format = ${value(c.log.format)}`,
    "",
    "[http]",
    `enabled = ${c.http.enabled}`,
    `listen = ${value(`${c.http.host}:${c.http.port}`)}`,
    `allow_non_loopback = ${c.http.allowNonLoopback}`,
    c.http.bearerToken === undefined ? 'bearer_token = ""' : "# bearer_token is set (not shown)",
    `max_in_flight = ${c.http.maxInFlight ?? DEFAULTS.httpMaxInFlight}`,
    `idle_timeout_s = ${c.http.idleTimeoutS ?? DEFAULTS.httpIdleTimeoutS}`,
    "",
    "[publish]",
    `max_datagram_bytes = ${c.publish.maxDatagramBytes}`,
    `heartbeat_interval_ms = ${c.publish.heartbeatIntervalMs}`,
    `snapshot_interval_ms = ${c.publish.snapshotIntervalMs}`,
    `snapshot_depth = ${c.publish.snapshotDepth}`,
    `source_id = ${c.publish.sourceId ?? 0}`,
    `startup_listen_ms = ${c.publish.startupListenMs ?? Math.ceil(1.5 * c.publish.heartbeatIntervalMs)}`,
    // A path the loader read the key from (never the key). Before, left out: the output loaded back unauthenticated.
    ...(c.publish.authKeyFile === undefined ? [] : [`auth_key_file = ${value(c.publish.authKeyFile)}`]),
  ];
  for (const d of c.publish.destinations) lines.push("", ...destination(d));
  const rt = c.publish.retransmit;
  if (rt !== undefined) {
    lines.push(
      "",
      "[publish.retransmit]",
      `listen = ${value(`${rt.host}:${rt.port}`)}`,
      `ring_bytes = ${rt.ringBytes}`,
      `allow = ${value(rt.allow)}`,
      `requests_per_sec = ${rt.requestsPerSec}`,
      `bytes_per_sec = ${rt.bytesPerSec}`,
      `total_bytes_per_sec = ${rt.totalBytesPerSec}`,
    );
  } else lines.push("", "# [publish.retransmit] not set: no retransmission server");
  for (const v of c.venues) lines.push("", ...venue(v, c.workers, c.shard));
  const n = c.nats;
  if (n !== undefined) {
    // Paths only (the secrets are in the files, never here). A file key whose value is no path may hold the secret
    // itself, put there by mistake: said to be set, not printed (core/secret-path.ts), as the bearer token.
    lines.push("", "[nats]");
    const file = (k: string, val: string) => (looksLikePath(val) ? `${k} = ${value(val)}` : `# ${k} is set (not shown: ${whyNotShown()})`);
    const keys: [string, string | undefined][] = [["creds_file", n.credsFile], ["user", n.user], ["password_file", n.passwordFile], ["token_file", n.tokenFile], ["nkey_file", n.nkeyFile]];
    for (const [k, val] of keys) if (val !== undefined) lines.push(k === "user" ? `${k} = ${value(val)}` : file(k, val));
    lines.push(`tls = ${n.tls}`);
    for (const [k, val] of [["ca_file", n.caFile], ["cert_file", n.certFile], ["key_file", n.keyFile]] as const) if (val !== undefined) lines.push(file(k, val));
  }
  return lines.join("\n") + "\n";
}
