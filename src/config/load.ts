/**
 * Reads and validates the TOML configuration. Every problem names the key, the value and what was expected;
 * all problems are collected and thrown together as one ConfigError, before anything opens a socket.
 * The keys and defaults are documented in README.md ("Configuration") and config/feeder.example.toml.
 * @module
 */
import { statSync } from "node:fs";
import { readAuthKeyFile } from "../core/auth-key.ts";
import { ConfigError, HostAddressError } from "../core/errors.ts";
import { EmptyPipeError, FifoWithoutWriterError, FileTooLargeError, NotRegularFileError, readRegularFileSync } from "../core/regular-file.ts";
import { MAX_FIXED_EXP } from "../core/fixed.ts";
import { jsonForTerminal } from "../core/terminal-text.ts";
import { instrumentIdOf } from "../core/instrument-id.ts";
import { redactUrl } from "../core/redact-url.ts";
import { MAX_DEF_STRING_BYTES, MAX_SYMBOL_BYTES, MIN_PUBLISH_DATAGRAM_BYTES, SYMBOL_NON_ASCII, utf8Bytes } from "../core/symbol-text.ts";
import { CidrHostBitsError, parseCidr } from "../core/cidr.ts";
import { ipv4Problem, isIpv4 } from "../core/ipv4.ts";
import { largestRingWithin, ringMemoryBytes } from "../core/ring-memory.ts";
import { bearerTokenProblem } from "./bearer-token.ts";
import { interfaceProblem, localIpv4Addresses, neverAHostAddress } from "./host.ts";
import { retransmitServerPorts } from "./retransmit-ports.ts";
import { fileIdentity } from "./same-file.ts";
import { restBridgeBytesPerWorker, shardOfId } from "./share.ts";
import { usableMemory, type UsableMemory } from "./memory-limit.ts";
import { locateTomlError } from "./toml-position.ts";
import { MARKET_IDS, type MarketName, type VenueName } from "../core/types.ts";
import { supportedVenues, VENUE_KEYS, venueSpec, type MarketOptionSpec } from "../venues/registry.ts";
import { INSTRUMENT_RELOAD_MS } from "../venues/common/instrument-reload.ts";
import { DEFAULT_MAX_BUFFERED_BYTES } from "../venues/common/rest-bridge.ts";

/** `venues.okx.instrument_reload_ms`, `venues.binance.instrument_reload_ms`: 0 (never) or 1 minute to 7 days. */
const MIN_INSTRUMENT_RELOAD_MS = 60_000;
const MAX_INSTRUMENT_RELOAD_MS = 7 * 86_400_000;
/**
 * `venues.okx.rest_bridge_buffer_bytes`, `venues.binance.rest_bridge_buffer_bytes`: 1 MiB to 16 GiB. Below a few
 * diffs' worth every bridge would drop its own buffer and no book bridge; the bound is a typo's, not a host's.
 */
const MIN_REST_BRIDGE_BUFFER_BYTES = 1024 * 1024;
const MAX_REST_BRIDGE_BUFFER_BYTES = 16 * 1024 ** 3;
import type {
  DestinationConfig,
  RetransmitConfig,
  UnicastReceiver,
  FeederConfig,
  HttpConfig,
  InstrumentOverride,
  LogFormat,
  LogLevel,
  MarketConfig,
  NatsConfig,
  PublishConfig,
  VenueConfig,
} from "./types.ts";

export const DEFAULTS = {
  logLevel: "info" as LogLevel,
  logFormat: "auto" as LogFormat,
  httpListen: "127.0.0.1:9464",
  /** Room for the status page, a few scrapers and 20-odd deep-book readers; what 64 bodies held at once may cost is bounded. */
  httpMaxInFlight: 64,
  /** Bun's own default: a client that neither sends nor takes a byte for this long is cut (and its body released). */
  httpIdleTimeoutS: 10,
  maxDatagramBytes: 1400,
  heartbeatIntervalMs: 1000,
  snapshotIntervalMs: 5000,
  snapshotDepth: 0,
  sourceId: 0,
  destination: { name: "default", group: "239.255.0.1", port: 31001, iface: "127.0.0.1", ttl: 1, channelId: 1 },
} as const;

/**
 * The most a configuration file may hold: far above any real one (6,000 subscriptions with 200 overrides are
 * ~200 KB), so a log file given as -c, /dev/stdin fed without end or `-c <(yes)` is refused having read at most this
 * (and one chunk), not read whole into memory (and again on every SIGHUP, on the thread that publishes).
 */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Most Bun Workers one process runs (each adds its number to publish.source_id). */
const MAX_WORKERS = 64;
/** Most shards: each needs a source id of its own (a u16). Before, n ≥ 2^32 threw a RangeError counting the shares. */
const MAX_SHARDS = 65536;
/** IPv4 UDP payload limit. */
const MAX_DATAGRAM_BYTES = 65507;
/**
 * A venue symbol, optionally `@depth` for a further depth of it beside the market's (venues/venue.ts). A dot is a
 * decimal strike: Bybit's USDT options on small coins (XRP-30OCT26-0.4-P-USDT, docs/venues/bybit.md). The depth has
 * no leading zero: the instrument is published as SYMBOL@<depth as a number>, so "BTCUSDT@050" beside "BTCUSDT@50"
 * passed as two symbols and built two books of one instrument id. The one lower-case letter is a "d" between digits:
 * Deribit's decimal point in a linear option's strike (XRP_USDC-30JUN23-0d625-C; before, such a real name was refused).
 * Letters without case beyond ASCII (core/symbol-text.ts: Binance's 币安人生USDT) are taken too, in NFC (and NFKC) and at most
 * MAX_SYMBOL_BYTES of UTF-8 before the @; each venue's symbolShape says whether it lists such names (only Binance).
 */
const SYMBOL_PATTERN = new RegExp(String.raw`^(?:[A-Z0-9]|${SYMBOL_NON_ASCII})(?:[A-Z0-9_.\-]|(?<=\d)d(?=\d)|${SYMBOL_NON_ASCII}){0,63}(@(0|[1-9]\d{0,5}))?$`, "u");
const DECIMAL_STEP_PATTERN = /^(0|[1-9]\d*)(\.\d+)?$/;
const STALE_MAX_MS = 3_600_000;
/** publish.snapshot_interval_ms above 0: every book refreshed at most 10 times a second. */
const MIN_SNAPSHOT_INTERVAL_MS = 100;
/** The default startup window follows heartbeat_interval_ms (≤ 60 s), so 1.5 × that is the useful ceiling. */
const STARTUP_LISTEN_MAX_MS = 90_000;

type Table = Record<string, unknown>;

export interface ValidateOptions {
  /**
   * Refuse a configuration without any venue market (default true: run, record, replay, check-config). `feeder
   * listen --config` reads only [publish], so it accepts one; false also leaves publish.retransmit.listen unchecked
   * against this host's addresses (for a subscriber it is the publisher's server to ask).
   */
  readonly requireVenue?: boolean;
  /** This host's IPv4 addresses, which a destination's `interface` must be one of (default: os.networkInterfaces()). */
  readonly localAddresses?: readonly { name: string; address: string }[];
  /**
   * The destinations' `interface`s are not this process's to use (`bridge to-nats -c FILE --iface ADDR` joins the
   * groups on its own): checked for their form only, not for being this host's, so another host's file is taken.
   */
  readonly destinationInterfacesUnused?: boolean;
  /**
   * publish.auth_key_file is not this process's key (`--auth-key-file` given to listen -c or to-nats -c replaces
   * it): its file is not read nor checked here (before, a file's key missing on this host refused the command though
   * the flag named the key it uses).
   */
  readonly authKeyFileUnused?: boolean;
  /**
   * The file is read again while the process runs (SIGHUP's re-check, config-reload.ts): a FIFO is refused then, as a
   * device or a directory always is (its read would wait for a writer on the thread that publishes).
   */
  readonly reread?: boolean;
  /**
   * The workers the command runs whatever the file says (`record`, `replay`: 1, one process). What depends on them is
   * checked for these: the share per worker, the request servers' ports (one process: retransmit.listen's port itself,
   * which a unicast receiver of the file must not be) and source ids. The file's `workers` is still range-checked and
   * kept in the result (record warns it is ignored; a reload compares it). Default: the file's.
   */
  readonly runWorkers?: number;
  /**
   * False (`export --books`): the file is read for its venues, symbols and instruments, and nothing is published from
   * it by this process. What only a publisher here needs is not checked: its destinations' interfaces and
   * publish.retransmit.listen as this host's addresses, publish.auth_key_file, its request servers' ports and its
   * workers and shard against its symbols (export takes every configured book). Before, the recorder's own file
   * exported on another host was refused (exit 2: "not an address of this host"), as was one whose `workers` record
   * ignores. Default true.
   */
  readonly publishesHere?: boolean;
  /**
   * False (`replay`): no HTTP server runs from the file, so http.listen is not checked as this host's address (its
   * form still is). Default true: `run` and `record` bind it at start.
   */
  readonly servesHttp?: boolean;
  /** This host's memory, which the retransmission rings together must not exceed (given: it, as "this host's memory"; else memoryLimit). */
  readonly hostMemoryBytes?: number;
  /** The memory the rings together must not exceed and what it is (default: usableMemory(), os.totalmem() or a smaller cgroup limit). */
  readonly memoryLimit?: UsableMemory;
  /** The file the configuration was read from (loadConfigFile's path): no instrument_cache may name it. */
  readonly configFile?: string;
}

const TOP_LEVEL_KEYS = ["workers", "shard", "log", "http", "publish", "venues", "nats"];

export function loadConfigFile(path: string, opts: ValidateOptions = {}): FeederConfig {
  return parseConfigText(readConfigText(path, opts), path, { ...opts, configFile: path });
}

/**
 * The loader's problems name keys, not the file: the error carries it, for `feeder <command>: invalid configuration
 * in FILE` (before, the file was named only when it could not be read or parsed). The class is kept (HostAddressError).
 */
function inFile(err: unknown, path: string): unknown {
  if (!(err instanceof ConfigError) || err.file !== undefined) return err;
  return err instanceof HostAddressError ? new HostAddressError(err.problems, path) : new ConfigError(err.problems, path);
}

/**
 * What a NATS reader (`bridge from-nats -c`, `listen --nats -c`) takes from a configuration file: its `[nats]`
 * section (undefined: none) and `publish.auth_key_file`, the feed's key, which the reader verifies envelopes with, as
 * `to-nats -c` signs them with it (before, readers ignored it: given the bridge's own file they checked nothing,
 * while the operator believed the feed verified end to end). The file must be TOML with known top-level sections;
 * [nats] is checked as loadConfigFile checks it, auth_key_file for being a string (the reader reads the key itself,
 * naming the key). The rest is not looked at: a file written for another host (its [publish] interfaces not here)
 * is taken (before, they loaded the whole file and refused it though they use none of it).
 */
export function loadReaderSections(path: string): { nats: NatsConfig | undefined; authKeyFile: string | undefined } {
  const raw = parseToml(readConfigText(path, {}), path);
  const v = new Validator();
  const root = v.table(raw, "");
  v.knownKeys(root, "", TOP_LEVEL_KEYS);
  const nats = root.nats === undefined ? undefined : parseNats(v, v.table(root.nats, "nats"));
  const authKeyFile = authKeyFileOf(v, v.table(root.publish ?? {}, "publish").auth_key_file);
  try {
    v.throwIfAny();
  } catch (err) {
    throw inFile(err, path);
  }
  return { nats, authKeyFile: authKeyFile === "" ? undefined : authKeyFile };
}

/**
 * publish.auth_key_file, "" when absent (no authentication). Given as "" it is refused: before, it meant no key, so a
 * template whose variable was empty published unsigned, and subscribers holding the key dropped every datagram.
 */
function authKeyFileOf(v: Validator, raw: unknown): string {
  const path = v.str(raw, "publish.auth_key_file", "");
  if (raw === "") v.problem("publish.auth_key_file", raw, "a key file path (leave the key out for an unauthenticated feed)");
  return path;
}

/** The file's text (a regular file, or a FIFO with a writer), UTF-8. */
function readConfigText(path: string, opts: ValidateOptions): string {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFileSync(path, { fifo: opts.reread !== true, maxBytes: MAX_CONFIG_BYTES });
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new ConfigError([`${path}: larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB: not a feeder configuration (a log or data file given as the config?)`]);
    if (err instanceof NotRegularFileError) throw new ConfigError([`${path}: ${err.message}: the configuration must be a regular file`]);
    if (err instanceof EmptyPipeError) throw new ConfigError([`${path}: ${err.message}`]);
    if (err instanceof FifoWithoutWriterError) {
      throw new ConfigError([`${path}: ${err.message}: the configuration must be a regular file, or a FIFO with a writer (-c <(render-config))`]);
    }
    throw new ConfigError([`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return utf8Text(bytes, path);
}

/**
 * The file as text; TOML is UTF-8. A lenient decode would turn a Latin-1 "é" into U+FFFD, silently changing a path
 * or a token in a string (a comment would hide it), so a byte that is not UTF-8 is an error naming where it is.
 */
function utf8Text(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Where: the longest prefix that decodes (a cut inside a valid character fails too, so step back to its start).
    let good = 0;
    while (good < bytes.byteLength && bytes[good]! < 0x80) good++;
    for (let end = good + 1; end <= bytes.byteLength; end++) {
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end));
        good = end;
      } catch {
        if (end - good >= 4) break; // no character is longer than 4 bytes: the byte at `good` starts no valid one
      }
    }
    const before = new TextDecoder().decode(bytes.subarray(0, good));
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    const hex = bytes[good]!.toString(16).toUpperCase().padStart(2, "0");
    throw new ConfigError([`${path}: not UTF-8 text (TOML is UTF-8): byte 0x${hex} at line ${line}, column ${column}`]);
  }
}

/** The configuration in `text`, read from `source` (a file's path): loadConfigFile's path after the read, so tests take it too. */
export function parseConfigText(text: string, source = "config", opts: ValidateOptions = {}): FeederConfig {
  const raw = parseToml(text, source);
  try {
    return validateConfig(raw, opts);
  } catch (err) {
    throw inFile(err, source);
  }
}

function parseToml(text: string, source: string): unknown {
  try {
    return Bun.TOML.parse(text);
  } catch (err) {
    // Bun's message carries no position: find the line and column (toml-position.ts).
    const at = locateTomlError(text);
    if (at === null) throw new ConfigError([`${source}: not valid TOML: ${(err as Error).message}`]);
    throw new ConfigError([`${source}: not valid TOML at line ${at.line}, column ${at.column}: ${at.message}`]);
  }
}

/** Validates an already-parsed TOML document (also used by tests and the demo, which build configs in code). */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): FeederConfig {
  const v = new Validator();
  const root = v.table(raw, "");
  v.knownKeys(root, "", TOP_LEVEL_KEYS);

  const fileWorkers = v.int(root.workers, "workers", 1, 1, MAX_WORKERS);
  // Before, record (one process) was checked with the file's workers: a unicast receiver on the port its single
  // request server binds passed, as worker i's servers are on port + i + 1.
  const publishesHere = opts.publishesHere ?? true;
  const workers = publishesHere ? (opts.runWorkers ?? fileWorkers) : 1;
  const shard = parseShard(v, root.shard);

  const logT = v.table(root.log ?? {}, "log");
  v.knownKeys(logT, "log", ["level", "format"]);
  const log = {
    level: v.oneOf(logT.level, "log.level", DEFAULTS.logLevel, ["debug", "info", "warn", "error"] as const),
    format: v.oneOf(logT.format, "log.format", DEFAULTS.logFormat, ["auto", "json", "pretty"] as const),
  };

  const localAddresses = opts.localAddresses ?? localIpv4Addresses();
  // The file configures this host's publisher; false: read for its [publish] alone (listen --config, bridge).
  const publisher = opts.requireVenue ?? true;
  const http = parseHttp(v, v.table(root.http ?? {}, "http"), publisher && publishesHere && opts.servesHttp !== false ? localAddresses : undefined);
  const publish = parsePublish(v, v.table(root.publish ?? {}, "publish"), publishesHere && opts.destinationInterfacesUnused !== true ? localAddresses : undefined, publisher, publishesHere && opts.authKeyFileUnused !== true);
  const venuesTable = v.table(root.venues ?? {}, "venues");
  // Files that are no cache: each start would find one there, refuse it as not this venue's (left as it is) and never
  // cache; one not there yet (a key file where the key is not read) would be made the cache.
  const notCaches: [what: string, path: string][] = [];
  if (opts.configFile !== undefined) notCaches.push(["the configuration file", opts.configFile]);
  if (publish.authKeyFile !== undefined) notCaches.push(["publish.auth_key_file", publish.authKeyFile]);
  const venues = parseVenues(v, venuesTable, notCaches);
  // An empty [venues] or none at all; a venue table without markets is reported by parseVenues.
  if (publisher && Object.keys(venuesTable).length === 0) {
    v.missing("venues", 'at least one venue market, e.g. [venues.bybit.linear] with symbols = ["BTCUSDT"]');
  }
  // A routing rule's symbol that no configured instrument of its venue and market has routes nothing: a typo, whose
  // instrument then goes elsewhere or nowhere. Checked when the file has venues (listen --config reads [publish] alone).
  if (venues.length > 0) {
    publish.destinations.forEach((d, i) => {
      const m = d.match;
      // A "*" rule whose venue and market match no configured market sends heartbeats only. Taken (check-config notes
      // it): a market removed from a running file (the shipped example without [venues.bybit.spot]) leaves its
      // destination behind, and refusing that made the next start exit 2, not restarted. Names are checked above.
      // A symbol listed beside "*" routes nothing "*" does not: named (config/notes.ts), not refused (briefly refused on
      // 2026-12-06: a file whose destination kept a symbol taken out of its venue stopped loading).
      if (m.symbols.includes("*")) return;
      // A venue or market no configuration can have is named above: its symbols are not named again as unconfigured.
      if (!ruleCanMatch(m.venue, m.market)) return;
      const known = new Set(
        venues
          .filter((vc) => m.venue === "*" || vc.venue === m.venue)
          .flatMap((vc) => vc.markets.filter((mc) => m.market === "*" || mc.market === m.market).flatMap((mc) => mc.symbols)),
      );
      m.symbols.forEach((sym, j) => {
        if (!known.has(sym)) v.problem(`publish.destinations[${i}].symbols[${j}]`, sym, `a symbol configured for venue ${m.venue}, market ${m.market} (${[...known].join(", ") || "none"})`);
      });
    });
    // The other way round: an instrument no rule matches is built and fed, and never published (FeedPublisher
    // warns once running). Not said when the destinations themselves could not be read.
    if (publish.destinations.length > 0) {
      for (const vc of venues) {
        for (const mc of vc.markets) {
          mc.symbols.forEach((sym, j) => {
            const routed = publish.destinations.some(({ match: r }) => (r.venue === "*" || r.venue === vc.venue) && (r.market === "*" || r.market === mc.market) && (r.symbols.includes("*") || r.symbols.includes(sym)));
            if (!routed) v.problem(`venues.${vc.venue}.${mc.market}.symbols[${j}]`, sym, "a symbol some publish.destinations rule matches (its book would be built and never published)");
          });
        }
      }
    }
  }
  // Each worker keeps its part of a venue's REST-bridge budget (share.ts): a part under the floor is the key's too small.
  for (const vc of venues) {
    const total = vc.restBridgeBufferBytes;
    if (total !== undefined && workers > 1 && restBridgeBytesPerWorker(total, workers) < MIN_REST_BRIDGE_BUFFER_BYTES) {
      v.problem(`venues.${vc.venue}.rest_bridge_buffer_bytes`, total, `at least ${MIN_REST_BRIDGE_BUFFER_BYTES * workers} with workers = ${workers} (each worker keeps 1/${workers} of it, at least ${MIN_REST_BRIDGE_BUFFER_BYTES})`);
    }
  }
  // Worker i's request server listens on port + i + 1 (port 0: each its own free port); Bun refuses a port past 65535.
  const rt = publish.retransmit;
  if (workers > 1 && rt !== undefined && rt.port !== 0 && rt.port + workers > 65535) {
    v.problem("publish.retransmit.listen", `${rt.host}:${rt.port}`, `an address:port whose port leaves room for the workers: at most ${65535 - workers} with workers = ${workers} (worker i listens on port + i + 1)`);
  }
  if (rt !== undefined && publisher && publishesHere) checkOwnRetransmitPorts(v, publish, rt, workers, localAddresses);
  if (rt !== undefined && publisher && publishesHere) checkRingTotal(v, rt.ringBytes, minRingBytes(publish.maxDatagramBytes), publish.destinations.length, workers, opts.hostMemoryBytes !== undefined ? { bytes: opts.hostMemoryBytes, what: "this host's memory" } : (opts.memoryLimit ?? usableMemory()));
  // Instrument ids are a 32-bit hash of venue:market:SYMBOL (a further depth's symbol is SYMBOL@N): two alike made the
  // start fail (app/feeder.ts checkIdCollisions) after check-config had called the file valid. A symbol listed twice
  // is one instrument, named once as "listed once" by parseVenues (before, also as an id "another" symbol had: itself).
  const ids = new Map<number, string>();
  for (const vc of venues) {
    for (const mc of vc.markets) {
      mc.symbols.forEach((sym, j) => {
        const id = instrumentIdOf(vc.venue, mc.market, sym);
        const other = ids.get(id);
        if (other === `${vc.venue}:${mc.market}:${sym}`) return;
        if (other !== undefined) v.problem(`venues.${vc.venue}.${mc.market}.symbols[${j}]`, sym, `a symbol whose instrument id (${id}) no other has (${other} has it; remove one of them)`);
        else ids.set(id, `${vc.venue}:${mc.market}:${sym}`);
      });
    }
  }
  // What this instance takes of the configured instruments (shard, then workers): an instance that takes none, or
  // more workers than it has symbols, cannot do what the file asks. Said at check-config (exit 2), never a start that
  // publishes heartbeats for ever. Only for a file otherwise valid: a half-read symbol list would count wrongly.
  // Not for a file read for its [publish] alone (listen --config, bridge): its shard and workers are not theirs.
  // An address this host lacks (yet) reads no symbol: counted beside it, so such a file with an empty share is still a
  // configuration error (exit 2), not an address to wait for (exit 1, then exit 2 once the address is up).
  // Named as the file writes it: "01/2" is taken as 1/2, and a problem naming "1/2" is not found by searching the file.
  const shardText = typeof root.shard === "string" ? root.shard : `${shard.index}/${shard.count}`;
  if (publisher && publishesHere && venues.length > 0 && !v.hasFileProblems()) checkShares(v, [...ids.keys()], shard, shardText, workers);
  // Shards are separate processes, each with its own file: left at the default source id, every shard publishes as
  // source 0, and shards sharing a destination (or joined by one subscriber) are two publishers of one stream. Two
  // started together hear nothing of each other in the start-up window, so nothing refuses the second.
  if (publisher && publishesHere && shard.count > 1 && (root.publish as Table | undefined)?.source_id === undefined) {
    v.missing("publish.source_id", `a source id set for shard = "${shardText}": each shard needs ids of its own (source_id, or with workers = N source_id + 1 … source_id + N) that no other shard of the same destinations or subscribers uses`);
  }
  // Workers publish as source_id + worker index + 1 (docs/operations.md, "Workers and shards"): all must fit a u16.
  if (workers > 1 && publish.sourceId! + workers > 65535) {
    v.problem("publish.source_id", publish.sourceId, `at most ${65535 - workers} with workers = ${workers} (worker i publishes as source_id + i + 1, a u16)`);
  }

  const nats = root.nats === undefined ? undefined : parseNats(v, v.table(root.nats, "nats"));

  v.throwIfAny();
  return { log, http, publish, venues, workers: fileWorkers, shard, ...(nats === undefined ? {} : { nats }) };
}

/**
 * `[nats]` (feeder bridge's credentials and TLS): each a file path, never a secret itself (a file can be 0600, a
 * systemd credential; the configuration is often world-readable). The shape is checked here; the files are read
 * and checked by the bridge at its start (cli/commands/nats-credentials.ts), their errors naming these keys.
 */
function parseNats(v: Validator, t: Table): NatsConfig {
  v.knownKeys(t, "nats", ["creds_file", "user", "password_file", "token_file", "nkey_file", "tls", "ca_file", "cert_file", "key_file"]);
  const path = (key: string): string | undefined => {
    if (t[key] === undefined) return undefined;
    const s = v.str(t[key], `nats.${key}`, "");
    if (s === "") v.problem(`nats.${key}`, t[key], "a file path");
    // Not shown (it may be the secret itself, as format.ts says); no file has a NUL: every file call on it throws.
    else if (s.includes("\0")) v.raw(`nats.${key}: (not shown) is not a file path without a NUL character`);
    return s === "" ? undefined : s;
  };
  const c: NatsConfig = {
    credsFile: path("creds_file"),
    user: t.user === undefined ? undefined : v.str(t.user, "nats.user", ""),
    passwordFile: path("password_file"),
    tokenFile: path("token_file"),
    nkeyFile: path("nkey_file"),
    tls: v.bool(t.tls, "nats.tls", false),
    caFile: path("ca_file"),
    certFile: path("cert_file"),
    keyFile: path("key_file"),
  };
  if (c.user !== undefined && (c.user === "" || /[\s\0]/.test(c.user))) v.problem("nats.user", t.user, "a user name without spaces");
  const kinds = (["creds_file", "user", "token_file", "nkey_file"] as const).filter((k) => t[k] !== undefined);
  if (kinds.length > 1) v.raw(`nats.${kinds[0]} and nats.${kinds[1]}: both give NATS credentials (give one kind)`);
  if (t.user !== undefined && t.password_file === undefined) v.missing("nats.password_file", "the file of nats.user's password (never in the configuration itself)");
  if (t.password_file !== undefined && t.user === undefined) v.missing("nats.user", "the user whose password nats.password_file holds");
  if ((t.cert_file === undefined) !== (t.key_file === undefined)) v.raw("nats.cert_file and nats.key_file: give both (the client certificate and its private key) or neither");
  return c;
}

/**
 * The most the retransmission rings may take together, their byte rings and indexes (core/ring-memory.ts, ~1.36 ×
 * ring_bytes each) × destinations × workers (each worker's publisher preallocates one ring per destination): 1 GiB
 * per ring with 64 workers took up to 64 GiB per destination, taken until 2026-12-07 and failing (or killed for
 * memory) once running.
 */
export const MAX_RING_TOTAL_BYTES = 16 * 2 ** 30;

/**
 * publish.retransmit.ring_bytes against MAX_RING_TOTAL_BYTES and the host's memory (os.totalmem(), or the process's cgroup
 * memory limit when smaller: memory-limit.ts), indexes counted
 * (until 2026-12-07 not: rings totalling the host's memory passed, needing ~1.36× it). The largest ring_bytes that
 * fits is suggested only when the loader takes it (at least `minRingBytes`); else the product is what is too large.
 */
function checkRingTotal(v: Validator, ringBytes: number, minRingBytes: number, destinations: number, workers: number, memory: UsableMemory): void {
  const rings = destinations * workers;
  const total = ringMemoryBytes(ringBytes) * rings;
  const limit = Math.min(MAX_RING_TOTAL_BYTES, memory.bytes);
  if (total <= limit) return;
  // Names what bounds it: until s-rd19d a cgroup's limit (the smaller) was called "this host's memory" too.
  const what = limit === MAX_RING_TOTAL_BYTES ? `the cap of ${gib(MAX_RING_TOTAL_BYTES)} for the rings together` : `${memory.what} (${gib(memory.bytes)})`;
  const each = `${destinations} destination${destinations === 1 ? "" : "s"} × ${workers} worker${workers === 1 ? "" : "s"}`;
  const largest = largestRingWithin(Math.floor(limit / rings));
  const hint = largest >= minRingBytes ? `at most ${largest} here` : `even the least ring_bytes (${minRingBytes}) is over it: ${each} is too many rings here`;
  v.problem("publish.retransmit.ring_bytes", ringBytes, `a size whose rings fit: ${each} preallocate one each (with its index), ${gib(total)} in all, over ${what}: ${hint}`);
}

function gib(bytes: number): string {
  return `${Number((bytes / 2 ** 30).toFixed(2))} GiB`;
}

/**
 * The file's own request servers (retransmit-ports.ts) against what the same file sends to and listens on. A unicast
 * receiver that is one of them gets every live datagram, refused there as a bad request, and no subscriber does. A
 * server on 0.0.0.0 with a multicast destination's port: the publish guard's watcher holds group:port (SO_REUSEADDR)
 * from the start-up checks on, and a bind of 0.0.0.0 on that port without it is refused, so every start failed
 * when the publisher opened (exit 1, retried for ever). Not a clash: http.listen's port (TCP; the servers are UDP).
 */
function checkOwnRetransmitPorts(v: Validator, publish: PublishConfig, rt: RetransmitConfig, workers: number, local: readonly { address: string }[]): void {
  const ports = retransmitServerPorts(rt, workers);
  const serverOf = (port: number) => {
    const s = ports.find((p) => p.port === port);
    return s === undefined ? undefined : s.worker === undefined ? `its server listens on ${port}` : `worker ${s.worker}'s server listens on ${port}`;
  };
  const everyAddress = rt.host === "0.0.0.0";
  const ours = (host: string) => host === rt.host || (everyAddress && (host.startsWith("127.") || local.some((l) => l.address === host)));
  const listen = `publish.retransmit.listen ("${rt.host}:${rt.port}"`;
  publish.destinations.forEach((d, i) => {
    for (const r of d.receivers ?? []) {
      const server = serverOf(r.port);
      if (server !== undefined && ours(r.host)) {
        v.problem(`publish.destinations[${i}].receivers`, `${r.host}:${r.port}`, `a receiver other than this feeder's own retransmission server, ${listen}: ${server}): every live datagram would go to it, refused as a bad request, and to no subscriber`);
      }
    }
    const server = d.group !== undefined && everyAddress ? serverOf(d.port) : undefined;
    if (server !== undefined) {
      v.problem(`publish.destinations[${i}].port`, d.port, `a port apart from ${listen}: ${server} on every address, the group's too): the start-up checks listen on ${d.group}:${d.port} for other publishers, so the server could never bind it (every start would fail as its publisher opened)`);
    }
  });
}

/** An instance's share of the configured instrument ids must hold a symbol, and at least one per worker. */
function checkShares(v: Validator, ids: readonly number[], shard: { index: number; count: number }, shardText: string, workers: number): void {
  // What each shard takes, named when they are few (an array of n counters only then).
  const perShard = new Array<number>(shard.count <= 64 ? shard.count : 0).fill(0);
  if (shard.count > 1 && shard.count <= 64) for (const id of ids) perShard[shardOfId(id, shard.count)]!++;
  const mine = ids.filter((id) => shardOfId(id, shard.count) === shard.index).length;
  const spec = shardText;
  if (mine === 0) {
    const split = shard.count <= 64 ? `; the shards take ${perShard.join(", ")}` : "";
    v.problem("shard", spec, `a share holding a configured symbol: none of the ${ids.length} configured has instrument id mod ${shard.count} = ${shard.index}${split} (fewer shards, or more symbols)`);
  } else if (workers > mine) {
    const of = shard.count > 1 ? `shard ${spec} takes` : "are configured";
    v.problem("workers", workers, `at most the number of symbols this instance publishes (${mine} ${of}): a worker takes a share of them, and more workers than symbols leaves some with none`);
  }
}

function parseShard(v: Validator, value: unknown): { index: number; count: number } {
  if (value === undefined) return { index: 0, count: 1 };
  const m = typeof value === "string" ? /^(\d+)\/(\d+)$/.exec(value) : null;
  const expected = `a string "i/n" with 0 ≤ i < n ≤ ${MAX_SHARDS}, e.g. "0/2"`;
  if (!m) {
    v.problem("shard", value, expected);
    return { index: 0, count: 1 };
  }
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS || index >= count) {
    v.problem("shard", value, expected);
    return { index: 0, count: 1 };
  }
  return { index, count };
}

/** `localAddresses`: this host's, which http.listen must be one of (undefined: no HTTP server runs from the file here). */
function parseHttp(v: Validator, t: Table, localAddresses: readonly { name: string; address: string }[] | undefined): HttpConfig {
  v.knownKeys(t, "http", ["enabled", "listen", "allow_non_loopback", "bearer_token", "max_in_flight", "idle_timeout_s"]);
  const enabled = v.bool(t.enabled, "http.enabled", true);
  const listen = v.str(t.listen, "http.listen", DEFAULTS.httpListen);
  const allowNonLoopback = v.bool(t.allow_non_loopback, "http.allow_non_loopback", false);
  const token = v.str(t.bearer_token, "http.bearer_token", "");
  const tokenProblem = bearerTokenProblem(token);
  if (tokenProblem !== undefined) v.raw(tokenProblem);
  const maxInFlight = v.int(t.max_in_flight, "http.max_in_flight", DEFAULTS.httpMaxInFlight, 1, 100_000);
  // 0 would disable Bun's idle timeout: a client that stops reading would then hold its answer for ever. Bun's timer
  // moves in 4 s steps on one clock for all sockets, so a value closes after between (steps - 1) and steps × 4 s:
  // under 8 a connection could be cut at once (measured: 1 s closed one 90 ms after its answer). 255 is Bun's most.
  const idleTimeoutS = v.int(t.idle_timeout_s, "http.idle_timeout_s", DEFAULTS.httpIdleTimeoutS, 8, 255);
  const m = /^([^:]*):(\d{1,5})$/.exec(listen);
  let host = "127.0.0.1";
  let port = 9464;
  if (!m || !(m[1] === "localhost" || isIpv4(m[1]!)) || Number(m[2]) > 65535) {
    v.problem("http.listen", listen, orWhy('an IPv4 "address:port", e.g. "127.0.0.1:9464" (port 0 picks a free port)', m?.[1] === "localhost" ? undefined : m?.[1]));
  } else {
    host = m[1] === "localhost" ? "127.0.0.1" : m[1]!;
    port = Number(m[2]);
    // 0.0.0.0 is every address; any other no host can have (a group, broadcast) is the file's to change. Before, it
    // was taken and the start failed binding it (exit 1, restarted for ever), as the other listen addresses are not.
    const never = !enabled || host === "0.0.0.0" ? null : neverAHostAddress(host);
    if (never !== null) {
      v.problem("http.listen", listen, `an IPv4 "address:port" of this host, or 0.0.0.0 (${never}: no host has it)`);
    } else if (enabled && !isLoopback(host) && !allowNonLoopback) {
      v.problem("http.listen", listen, "a loopback address (127.x.x.x); set http.allow_non_loopback = true to bind beyond loopback");
    } else if (enabled && !isLoopback(host) && token === "") {
      // The HTTP server refuses this too (checkHttpExposure); here it is reported with the other problems, so
      // check-config says what run would refuse.
      v.missing("http.bearer_token", `a token: required when http.listen (${listen}) is beyond loopback`);
    } else if (enabled && localAddresses !== undefined && host !== "0.0.0.0" && !isLoopback(host)) {
      // As publish.retransmit.listen: before, taken, and the start failed binding it (exit 1, "cannot listen") while
      // check-config called the file valid. Loopback is every host's (lo), whatever list is given.
      const why = interfaceProblem(host, localAddresses);
      if (why !== null) v.problem("http.listen", listen, `${why}, or 0.0.0.0`, "host");
    }
  }
  return { enabled, host, port, allowNonLoopback, bearerToken: token === "" ? undefined : token, maxInFlight, idleTimeoutS };
}

/**
 * `publisher`: the file configures this host's publisher (not read for its [publish] alone, as listen --config does).
 * `localAddresses` undefined: no process publishes from it here (export --books), or its destinations' interfaces are
 * replaced (destinationInterfacesUnused: to-nats --iface): its addresses are not this host's to check. `checkKeyFile`:
 * auth_key_file is read here (the key this host's process uses; not for export --books, nor beside --auth-key-file).
 */
function parsePublish(v: Validator, t: Table, localAddresses: readonly { name: string; address: string }[] | undefined, publisher: boolean, checkKeyFile: boolean): PublishConfig {
  v.knownKeys(t, "publish", [
    "max_datagram_bytes",
    "heartbeat_interval_ms",
    "snapshot_interval_ms",
    "snapshot_depth",
    "source_id",
    "startup_listen_ms",
    "auth_key_file",
    "destinations",
    "retransmit",
  ]);
  const maxDatagramBytes = datagramBytes(v, t.max_datagram_bytes);
  const heartbeatIntervalMs = v.int(t.heartbeat_interval_ms, "publish.heartbeat_interval_ms", DEFAULTS.heartbeatIntervalMs, 10, 60_000);
  const snapshotIntervalMs = v.int(t.snapshot_interval_ms, "publish.snapshot_interval_ms", DEFAULTS.snapshotIntervalMs, 0, 3_600_000);
  // Under 100 ms is seconds written as milliseconds far more often than a wish to refresh every book 10+ times a second.
  if (snapshotIntervalMs > 0 && snapshotIntervalMs < MIN_SNAPSHOT_INTERVAL_MS) {
    v.problem("publish.snapshot_interval_ms", snapshotIntervalMs, `0 (off) or ${MIN_SNAPSHOT_INTERVAL_MS}–3600000 milliseconds (5000 is 5 s)`);
  }
  const snapshotDepth = v.int(t.snapshot_depth, "publish.snapshot_depth", DEFAULTS.snapshotDepth, 0, 100_000);
  const sourceId = v.int(t.source_id, "publish.source_id", DEFAULTS.sourceId, 0, 65535);
  // 1.5 heartbeat intervals: an idle channel of a live publisher beats within 1.25 intervals (publisher-recovery.ts).
  const startupListenMs = v.int(t.startup_listen_ms, "publish.startup_listen_ms", Math.ceil(heartbeatIntervalMs * 1.5), 0, STARTUP_LISTEN_MAX_MS);
  // A shorter window can end before a running instance's idle channel beats: the start it should refuse goes ahead.
  const heardWithinMs = Math.ceil(heartbeatIntervalMs * 1.25);
  if (startupListenMs > 0 && startupListenMs < heardWithinMs) {
    v.problem("publish.startup_listen_ms", startupListenMs, `0 (no window) or ${heardWithinMs}–${STARTUP_LISTEN_MAX_MS} milliseconds (a running publisher's idle channel beats within 1.25 × heartbeat_interval_ms = ${heardWithinMs})`);
  }
  const authKeyFile = authKeyFileOf(v, t.auth_key_file);
  if (authKeyFile !== "" && checkKeyFile) {
    // Checked here so check-config and run report a bad key file with the other problems (exit 2, no socket
    // opened); the publisher reads the key itself at start. The key never enters the config object.
    try {
      readAuthKeyFile(authKeyFile, "publish.auth_key_file");
    } catch (err) {
      v.raw((err as Error).message);
    }
  }
  const destinations: DestinationConfig[] = [];
  if (t.destinations === undefined) {
    destinations.push({ ...DEFAULTS.destination, match: { venue: "*", market: "*", symbols: ["*"] } });
  } else if (!Array.isArray(t.destinations) || t.destinations.length === 0) {
    v.problem("publish.destinations", t.destinations, "a non-empty array of tables ([[publish.destinations]])");
  } else {
    const channels = new Map<number, string>();
    const names = new Map<string, number>();
    t.destinations.forEach((d, i) => {
      const key = `publish.destinations[${i}]`;
      const dt = v.table(d, key);
      v.knownKeys(dt, key, ["name", "group", "receivers", "port", "interface", "ttl", "channel", "venue", "market", "symbols"]);
      const unicast = dt.receivers !== undefined;
      if (unicast && dt.group !== undefined) v.problem(`${key}.receivers`, "(with group)", "either group (multicast) or receivers (unicast), not both");
      if (unicast && dt.port !== undefined) v.problem(`${key}.port`, dt.port, "absent for a unicast destination (each receiver is host:port)");
      const receivers = unicast ? parseReceivers(v, dt.receivers, `${key}.receivers`) : undefined;
      const group = unicast ? undefined : v.str(dt.group, `${key}.group`, undefined);
      // A missing group is already reported by str(); a present one, "" included, must be a multicast address.
      if (!unicast && typeof dt.group === "string" && !isMulticast(group!)) v.problem(`${key}.group`, group, orWhy("an IPv4 multicast address (224.0.0.0 – 239.255.255.255)", group));
      else if (!unicast && group!.startsWith("224.0.0.")) {
        v.problem(`${key}.group`, group, "a multicast group outside 224.0.0.0/24 (reserved for local network control: all hosts, routers and mDNS listen there)");
      }
      const iface = v.str(dt.interface, `${key}.interface`, DEFAULTS.destination.iface);
      if (!isIpv4(iface)) v.problem(`${key}.interface`, iface, orWhy("the IPv4 address of a local interface, e.g. 127.0.0.1", iface));
      else if (iface === "0.0.0.0") v.problem(`${key}.interface`, iface, "the IPv4 address of a local interface, e.g. 127.0.0.1 (not 0.0.0.0: the outgoing interface is always named)");
      else if (neverAHostAddress(iface)) v.problem(`${key}.interface`, iface, `the IPv4 address of a local interface, e.g. 127.0.0.1 (${neverAHostAddress(iface)}: no host has it, so it is the file's to change, not an address to wait for)`);
      // A unicast destination's interface is the publisher's to send from: a reader of the file (listen -c on the
      // receiver host; to-nats reads multicast only) does not use it. Checked there, the publisher's own file was
      // refused on every receiver host (and --iface beside it refused too: no group to join).
      else if (localAddresses !== undefined && (publisher || !unicast)) {
        const why = interfaceProblem(iface, localAddresses);
        if (why !== null) v.problem(`${key}.interface`, iface, why, "host");
      }
      // A unicast socket is bound to the interface: from loopback, a send off this host fails (EINVAL) every time,
      // while one to any of this host's own addresses is routed locally and arrives (a subscriber here bound to the
      // LAN address; before, every receiver outside 127/8 was refused). A receiver that is not (yet) one of them is
      // retried as an interface not up yet is (it may be a secondary or VRRP address), unless no host can have it.
      // Not when no process publishes from the file here, or its interfaces are replaced, nor for a reader of the file
      // (listen -c binds its receivers, to-nats -c reads multicast): as the check above. Until s-rd26c a reader was
      // refused for it (listen -c exit 2, to-nats -c exit 1 retried for good) on any host but the receiver's.
      const here = publisher ? localAddresses : undefined;
      const offHost = here !== undefined && isIpv4(iface) && isLoopback(iface) ? receivers?.find((r) => !isLoopback(r.host) && !here.some((l) => l.address === r.host)) : undefined;
      if (here !== undefined && offHost !== undefined) {
        const list = here.length === 0 ? "it has none" : `it has ${here.map((l) => `${l.address} on ${l.name}`).join(", ")}`;
        const why = neverAHostAddress(offHost.host) ?? `not an address of this host: ${list}`;
        const about = neverAHostAddress(offHost.host) === null ? "host" : "file";
        v.problem(`${key}.interface`, iface, `an interface that reaches receiver ${offHost.host}:${offHost.port} (${why}; a socket bound to a loopback address sends to this host's addresses only, every datagram to another would fail): name this host's address on its network`, about);
      }
      const channelId = v.int(dt.channel, `${key}.channel`, i + 1, 0, 65535);
      const name = v.str(dt.name, `${key}.name`, `destination-${i}`);
      if (name === "") v.problem(`${key}.name`, name, "a non-empty label (it names the destination in logs and metrics)");
      // The name labels the destination in logs, /readyz and metric series: two alike could not be told apart.
      const sameName = names.get(name);
      if (sameName !== undefined && name !== "") v.problem(`${key}.name`, name, `a name not already used (destination ${sameName} has it)`);
      names.set(name, i);
      const prev = channels.get(channelId);
      if (prev !== undefined) v.problem(`${key}.channel`, channelId, `a channel id not already used (destination "${prev}" has it)`);
      channels.set(channelId, name);
      const venue = v.str(dt.venue, `${key}.venue`, "*");
      if (venue !== "*" && !venueSpec(venue)) v.problem(`${key}.venue`, venue, `"*" or one of ${supportedVenues().join(", ")}`);
      const market = v.str(dt.market, `${key}.market`, "*");
      if (market !== "*" && !Object.hasOwn(MARKET_IDS, market)) v.problem(`${key}.market`, market, `"*" or one of ${Object.keys(MARKET_IDS).join(", ")}`);
      // A market the named venue does not have (Binance inverse, Coinbase linear): no file could configure it, so unlike
      // a market taken out of the file (noted, config/notes.ts) the rule can never route a book. Before, taken: a "*"
      // rule sent heartbeats only, noted as a market "this file" lacks; a listed symbol was "not configured" there.
      else if (venueSpec(venue) !== undefined && !ruleCanMatch(venue, market)) {
        v.problem(`${key}.market`, market, `"*" or one of venue ${venue}'s markets: ${Object.keys(venueSpec(venue)!.markets).join(", ")}`);
      }
      const symbols = v.strList(dt.symbols, `${key}.symbols`, ["*"]);
      if (Array.isArray(dt.symbols) && dt.symbols.length === 0) v.problem(`${key}.symbols`, "[]", 'a non-empty list of symbols ("*" for any)');
      // As a market's symbols: one listed twice is most likely another misspelt (it routes nothing more).
      symbols.forEach((sym, j) => {
        if (symbols.indexOf(sym) < j) v.problem(`${key}.symbols[${j}]`, sym, "a symbol listed once");
      });
      destinations.push({
        name,
        group,
        port: unicast ? 0 : v.int(dt.port, `${key}.port`, undefined, 1, 65535),
        ...(receivers !== undefined ? { receivers } : {}),
        iface,
        ttl: v.int(dt.ttl, `${key}.ttl`, 1, 1, 255),
        channelId,
        match: { venue, market, symbols },
      });
    });
  }
  const retransmit = t.retransmit === undefined ? undefined : parseRetransmit(v, v.table(t.retransmit, "publish.retransmit"), maxDatagramBytes, publisher ? localAddresses : undefined);
  return { maxDatagramBytes, heartbeatIntervalMs, snapshotIntervalMs, snapshotDepth, sourceId, startupListenMs, authKeyFile: authKeyFile === "" ? undefined : authKeyFile, destinations, retransmit };
}

/** Whether a routing rule's venue and market ("*" = any) are a venue and one of its markets, or any: else it routes nothing, ever. */
function ruleCanMatch(venue: string, market: string): boolean {
  const spec = venue === "*" ? undefined : venueSpec(venue);
  if (venue !== "*" && spec === undefined) return false;
  if (market === "*") return true;
  return spec === undefined ? Object.hasOwn(MARKET_IDS, market) : Object.hasOwn(spec.markets, market);
}

/** A unicast destination's receivers: a non-empty list of distinct IPv4 "host:port". */
function parseReceivers(v: Validator, raw: unknown, key: string): UnicastReceiver[] {
  const list = v.strList(raw, key, []);
  // Only for a list: one that is not (a string) is named once, by strList (as a market's symbols).
  if (Array.isArray(raw) && raw.length === 0) v.problem(key, raw, 'a non-empty list of IPv4 "host:port" receivers');
  const out: UnicastReceiver[] = [];
  for (const r of list) {
    const m = /^([^:]*):(\d{1,5})$/.exec(r);
    const port = m ? Number(m[2]) : 0;
    if (!m || !isIpv4(m[1]!) || m[1] === "0.0.0.0" || isMulticast(m[1]!) || port < 1 || port > 65535) {
      v.problem(key, r, orWhy('IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001"', m?.[1]));
      continue;
    }
    // 255.255.255.255 and the rest of 240/4, or 0/8: no host has it. Before, taken from a LAN interface, and every
    // send failed (EACCES for broadcast without SO_BROADCAST, EINVAL otherwise) while the feed looked configured.
    const never = neverAHostAddress(m[1]!);
    if (never !== null) {
      v.problem(key, r, `IPv4 unicast "host:port" receivers, e.g. "10.1.2.3:31001" (${never}: no host has it)`);
      continue;
    }
    if (out.some((o) => o.host === m[1] && o.port === port)) v.problem(key, r, "each receiver once (a duplicate would get every datagram twice)");
    out.push({ host: m[1]!, port });
  }
  return out;
}

/**
 * publish.max_datagram_bytes: at least MIN_PUBLISH_DATAGRAM_BYTES, so that every instrument definition fits one
 * datagram. Before 2026-12-06 the floor was 256: a venue's long tick string ("0.1000…") then threw in the publisher's
 * register and on every refresh after it, which ended the process.
 */
function datagramBytes(v: Validator, value: unknown): number {
  if (value === undefined) return DEFAULTS.maxDatagramBytes;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_PUBLISH_DATAGRAM_BYTES || value > MAX_DATAGRAM_BYTES) {
    const defBytes = MIN_PUBLISH_DATAGRAM_BYTES - 64;
    v.problem(
      "publish.max_datagram_bytes",
      value,
      `an integer ${MIN_PUBLISH_DATAGRAM_BYTES}–${MAX_DATAGRAM_BYTES} (an instrument definition is up to ${defBytes} bytes: a symbol, tick and lot of up to ${MAX_DEF_STRING_BYTES} bytes each; it must fit one datagram with the 48-byte header and the 16-byte HMAC trailer)`,
    );
    return DEFAULTS.maxDatagramBytes;
  }
  return value;
}

/** The least ring_bytes taken: 64 KiB, or one datagram of the largest size if more. */
function minRingBytes(maxDatagramBytes: number): number {
  return Math.max(65_536, maxDatagramBytes);
}

/** publish.retransmit (docs/operations.md "Retransmission"): present = the request server runs. */
function parseRetransmit(v: Validator, t: Table, maxDatagramBytes: number, localAddresses: readonly { name: string; address: string }[] | undefined): RetransmitConfig {
  v.knownKeys(t, "publish.retransmit", ["listen", "ring_bytes", "allow", "requests_per_sec", "bytes_per_sec", "total_bytes_per_sec"]);
  const listen = v.str(t.listen, "publish.retransmit.listen", "127.0.0.1:31900");
  const m = /^([^:]*):(\d{1,5})$/.exec(listen);
  let host = "127.0.0.1";
  let port = 0; // while malformed: no port for the checks on the workers' room and our own ports (it is named once)
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 65535) v.problem("publish.retransmit.listen", listen, orWhy('an IPv4 "address:port" of this host, e.g. "127.0.0.1:31900" (port 0 picks a free port)', m?.[1]));
  else {
    host = m[1]!;
    port = Number(m[2]);
    // The server binds it when the publisher opens, after the venues resolved: an address this host lacks failed then.
    // Not for a file read for its [publish] alone (listen --config, bridge): there it is the server to ask, elsewhere.
    const why = host === "0.0.0.0" || localAddresses === undefined ? null : interfaceProblem(host, localAddresses);
    const never = host === "0.0.0.0" ? null : neverAHostAddress(host);
    if (never !== null) v.problem("publish.retransmit.listen", listen, `an IPv4 "address:port" of this host, or 0.0.0.0 (${never}: no host has it, so it is the file's to change, not an address to wait for)`);
    else if (why !== null) v.problem("publish.retransmit.listen", listen, `${why}, or 0.0.0.0`, "host");
  }
  const ringBytes = v.int(t.ring_bytes, "publish.retransmit.ring_bytes", 8 * 1024 * 1024, minRingBytes(maxDatagramBytes), 1 << 30);
  const allow = v.strList(t.allow, "publish.retransmit.allow", ["127.0.0.0/8"]);
  if (Array.isArray(t.allow) && t.allow.length === 0) v.problem("publish.retransmit.allow", "[]", "at least one IPv4 CIDR block (an empty list answers no requester)");
  for (const a of allow) {
    try {
      parseCidr(a);
    } catch (err) {
      // Host bits set: refused, both readings named (an allow list is not the place to guess which was meant).
      if (err instanceof CidrHostBitsError) v.problem("publish.retransmit.allow", a, `an IPv4 CIDR block with its host bits clear: write "${err.network}" for the network it lies in, or "${err.host}" for the one host`);
      else v.problem("publish.retransmit.allow", a, orWhy('IPv4 CIDR blocks like "10.0.0.0/8" (requesters outside them are not answered)', a.split("/")[0]));
    }
  }
  const requestsPerSec = v.int(t.requests_per_sec, "publish.retransmit.requests_per_sec", 100, 1, 1_000_000);
  const bytesPerSec = v.int(t.bytes_per_sec, "publish.retransmit.bytes_per_sec", 16 * 1024 * 1024, 1400, 1 << 30);
  const totalBytesPerSec = v.int(t.total_bytes_per_sec, "publish.retransmit.total_bytes_per_sec", 64 * 1024 * 1024, 1400, 1 << 30);
  // A bucket holds one second's worth: under one full datagram, a request for one is THROTTLED every time, for ever.
  for (const [key, rate] of [["bytes_per_sec", bytesPerSec], ["total_bytes_per_sec", totalBytesPerSec]] as const) {
    if (rate < maxDatagramBytes) {
      v.problem(`publish.retransmit.${key}`, rate, `at least publish.max_datagram_bytes (${maxDatagramBytes}): its bucket holds one second's worth, so a full-size datagram could never be resent (always THROTTLED)`);
    }
  }
  return { host, port, ringBytes, allow, requestsPerSec, bytesPerSec, totalBytesPerSec };
}

/** `notCaches`: files no instrument_cache may name, each with what it is (a key, or "the configuration file"). */
function parseVenues(v: Validator, t: Table, notCaches: readonly [what: string, path: string][]): VenueConfig[] {
  const out: VenueConfig[] = [];
  /** Each instrument_cache's file (fileIdentity), and the venue that has it. */
  const caches = new Map<string, string>();
  for (const [venueName, value] of Object.entries(t)) {
    const key = `venues.${venueName}`;
    const spec = venueSpec(venueName);
    if (!spec) {
      v.problem(key, "(table)", `a supported venue: ${supportedVenues().join(", ")}`);
      continue;
    }
    const vt = v.table(value, key);
    const marketNames = Object.keys(spec.markets);
    // A venue-level key only some adapters read is the descriptor's to take (VenueSpec.venueKeys): elsewhere it would
    // be a silent no-op, so it is an unknown key there. Named in VENUE_KEYS' order whatever the descriptor's.
    const venueKeys = VENUE_KEYS.filter((k) => spec.venueKeys?.includes(k) === true);
    v.knownKeys(vt, key, ["ws_url", "rest_url", "instrument_cache", "overrides", "dead_connection_ms", ...venueKeys, ...marketNames]);
    const wsUrl = v.str(vt.ws_url, `${key}.ws_url`, spec.wsUrl);
    // A URL may carry credentials (user:pw@): never shown (core/redact-url.ts).
    if (!isUrl(wsUrl, WS_URL)) v.problem(`${key}.ws_url`, redactUrl(wsUrl), WS_URL_EXPECTED);
    const restUrl = v.str(vt.rest_url, `${key}.rest_url`, spec.restUrl);
    if (!isUrl(restUrl, HTTP_URL)) v.problem(`${key}.rest_url`, redactUrl(restUrl), HTTP_URL_EXPECTED);
    const markets: MarketConfig[] = [];
    for (const market of marketNames as MarketName[]) {
      if (vt[market] === undefined) continue;
      const mk = `${key}.${market}`;
      const mt = v.table(vt[market], mk);
      const ms = spec.markets[market]!;
      // symbols_per_connection: taken where the descriptor gives the adapter's default (Coinbase: its sequence_num
      // counts per connection); elsewhere it would be a silent no-op, so it is an unknown key there.
      const takesPerConnection = ms.defaultSymbolsPerConnection !== undefined;
      const perConnection = takesPerConnection ? ["symbols_per_connection"] : [];
      v.knownKeys(mt, mk, ["depth", "symbols", "stale_after_ms", "ws_url", "rest_url", ...perConnection, ...Object.keys(ms.options ?? {})]);
      const allowed = ms.depths;
      // One of the venue's depths whatever was given: before, "50" (a string) or 50.5 was "not an integer
      // 0–9007199254740991", a range no venue takes.
      let depth = ms.defaultDepth;
      if (mt.depth !== undefined) {
        if (typeof mt.depth === "number" && allowed.includes(mt.depth)) depth = mt.depth + 0; // -0 is 0 (Deribit's full book)
        else v.problem(`${mk}.depth`, mt.depth, `one of ${allowed.join(", ")}`);
      }
      const symbols = v.strList(mt.symbols, `${mk}.symbols`, undefined);
      const seen = new Set<string>();
      symbols.forEach((s, i) => {
        const at = s.indexOf("@");
        const base = at > 0 ? s.slice(0, at) : s;
        let wellFormed = SYMBOL_PATTERN.test(s);
        if (!wellFormed) v.problem(`${mk}.symbols[${i}]`, s, "an upper-case venue symbol such as BTCUSDT, BTC-27MAR26-70000-P or XRP-30OCT26-0.4-P-USDT (letters without case too, as in 币安人生USDT), optionally with @depth for a further depth (BTCUSDT@1)");
        // A decomposed Hangul name (NFD: jamo, each a letter) is another string than the venue's NFC one: never listed.
        else if (s.normalize("NFC") !== s) v.problem(`${mk}.symbols[${i}]`, s, `a symbol in Unicode NFC, as venues spell it (${JSON.stringify(s.normalize("NFC"))})`);
        // Halfwidth ｱ beside ア, one name to a reader: the compatibility form (NFKC changes it) is never the listing.
        else if (s.normalize("NFKC") !== s) v.problem(`${mk}.symbols[${i}]`, s, `a symbol without compatibility forms such as halfwidth or fullwidth letters (${JSON.stringify(s.normalize("NFKC"))})`);
        else if (utf8Bytes(base) > MAX_SYMBOL_BYTES) v.problem(`${mk}.symbols[${i}]`, s, `a symbol of at most ${MAX_SYMBOL_BYTES} bytes of UTF-8 before any @depth (it has ${utf8Bytes(base)})`);
        wellFormed &&= s.normalize("NFKC") === s && utf8Bytes(base) <= MAX_SYMBOL_BYTES;
        const shape = ms.symbolShape;
        if (wellFormed && shape !== undefined && !shape.pattern.test(base)) v.problem(`${mk}.symbols[${i}]`, s, shape.expected);
        else if (wellFormed && ms.refusedSymbol?.(base) !== undefined) v.problem(`${mk}.symbols[${i}]`, s, ms.refusedSymbol(base)!);
        if (wellFormed && at > 0) {
          const extra = Number(s.slice(at + 1));
          if (!allowed.includes(extra)) v.problem(`${mk}.symbols[${i}]`, s, `a further depth that is one of ${allowed.join(", ")}`);
          else if (extra === depth) v.problem(`${mk}.symbols[${i}]`, s, `a depth other than the market's (${depth}): list the symbol without @`);
        }
        if (seen.has(s)) v.problem(`${mk}.symbols[${i}]`, s, "a symbol listed once");
        seen.add(s);
      });
      const marketWsUrl = mt.ws_url === undefined ? undefined : v.str(mt.ws_url, `${mk}.ws_url`, undefined);
      if (marketWsUrl !== undefined && !isUrl(marketWsUrl, WS_URL)) v.problem(`${mk}.ws_url`, redactUrl(marketWsUrl), WS_URL_EXPECTED);
      const marketRestUrl = mt.rest_url === undefined ? undefined : v.str(mt.rest_url, `${mk}.rest_url`, undefined);
      if (marketRestUrl !== undefined && !isUrl(marketRestUrl, HTTP_URL)) v.problem(`${mk}.rest_url`, redactUrl(marketRestUrl), HTTP_URL_EXPECTED);
      if (Array.isArray(mt.symbols) && mt.symbols.length === 0) v.problem(`${mk}.symbols`, "[]", "at least one symbol");
      let staleAfterMs: number | undefined;
      if (mt.stale_after_ms !== undefined) {
        staleAfterMs = v.int(mt.stale_after_ms, `${mk}.stale_after_ms`, 0, 0, STALE_MAX_MS);
        // The highest floor of the depths configured in this market (a further depth's may be higher than the market's).
        const depths = [depth, ...symbols.filter((s) => s.includes("@")).map((s) => Number(s.slice(s.indexOf("@") + 1)))];
        const floor = depths.map((d) => ms.staleFloor(d)).reduce((a, b) => (b.ms > a.ms ? b : a));
        if (staleAfterMs !== 0 && staleAfterMs < floor.ms) {
          v.problem(`${mk}.stale_after_ms`, staleAfterMs, `0 (the default) or at least ${floor.ms}${floor.why ? " " + floor.why : ""}`);
        }
      }
      // Books sharing one connection: for venues whose sequence counts per connection (Coinbase), a gap resyncs all
      // of them, so fewer per connection bounds the damage; absent = the venue's default.
      const symbolsPerConnection = mt.symbols_per_connection === undefined || !takesPerConnection ? undefined : v.int(mt.symbols_per_connection, `${mk}.symbols_per_connection`, 0, 1, 1000);
      const options = ms.options === undefined ? undefined : parseMarketOptions(v, mt, mk, ms.options, symbols);
      markets.push({
        market,
        depth,
        symbols,
        ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
        ...(symbolsPerConnection === undefined ? {} : { symbolsPerConnection }),
        ...(options === undefined ? {} : { options }),
        ...(marketWsUrl === undefined ? {} : { wsUrl: marketWsUrl }),
        ...(marketRestUrl === undefined ? {} : { restUrl: marketRestUrl }),
      });
    }
    if (markets.length === 0) v.problem(key, "(table)", `at least one market table: ${marketNames.join(", ")}`);
    const overrides = new Map<string, InstrumentOverride>();
    const configured = new Set(markets.flatMap((m) => m.symbols.map((sym) => `${m.market}:${sym.split("@")[0]}`)));
    const ot = v.table(vt.overrides ?? {}, `${key}.overrides`);
    for (const [name, o] of Object.entries(ot)) {
      const ok = `${key}.overrides."${name}"`;
      const [market, symbol] = name.split(":");
      if (!symbol || !Object.hasOwn(spec.markets, market!)) v.problem(ok, name, `a key "market:SYMBOL" with market one of ${marketNames.join(", ")}`);
      // Looked up by "market:SYMBOL" of a configured symbol (its @depth left out): any other key is never read, so a
      // typo would silently leave the symbol to REST (or, in a replay, unresolved).
      else if (!configured.has(name)) v.problem(ok, name, `a configured symbol as "market:SYMBOL" (${[...configured].join(", ") || "none configured"})`);
      const otab = v.table(o, ok);
      v.knownKeys(otab, ok, ["tick_size", "lot_size"]);
      const tickSize = v.str(otab.tick_size, `${ok}.tick_size`, undefined);
      const lotSize = v.str(otab.lot_size, `${ok}.lot_size`, undefined);
      for (const [k, s] of [["tick_size", tickSize], ["lot_size", lotSize]] as const) {
        // Missing keys are reported by str(); a present string, "" included, must be a positive decimal.
        if (typeof otab[k] === "string" && (!DECIMAL_STEP_PATTERN.test(s) || !/[1-9]/.test(s))) v.problem(`${ok}.${k}`, s, 'a positive decimal string such as "0.01"');
        // Its decimals are the instrument's exponent (makeInstrument): beyond MAX_FIXED_EXP the symbol was left out at start.
        else if (typeof otab[k] === "string" && s.length > MAX_DEF_STRING_BYTES) v.problem(`${ok}.${k}`, s, `a step of at most ${MAX_DEF_STRING_BYTES} characters (the wire's instrument definition holds no more)`);
        else if (typeof otab[k] === "string" && decimalsOf(s) > MAX_FIXED_EXP) v.problem(`${ok}.${k}`, s, `a step with at most ${MAX_FIXED_EXP} decimals (it needs ${decimalsOf(s)})`);
      }
      overrides.set(name, { tickSize, lotSize });
    }
    const instrumentCachePath = v.str(vt.instrument_cache, `${key}.instrument_cache`, `var/instruments-${venueName}.json`);
    if (instrumentCachePath === "") v.problem(`${key}.instrument_cache`, instrumentCachePath, "a file path (the instrument cache is written there)");
    // NUL: no file has it (every file call on it throws).
    else if (instrumentCachePath.includes("\0")) v.problem(`${key}.instrument_cache`, instrumentCachePath, "a file path without a NUL character (no file has one; the instrument cache is written there)");
    // A directory: its read warned at every start and every write failed (temporary file and lock inside it, the rename
    // over it refused), so nothing was ever cached, while the start-up check saw only its parent writable.
    else if (namesDirectory(instrumentCachePath)) v.problem(`${key}.instrument_cache`, instrumentCachePath, `a file path (it names a directory: the instrument cache is a file, e.g. "var/instruments-${venueName}.json")`);
    else if (isDirectory(instrumentCachePath)) v.problem(`${key}.instrument_cache`, instrumentCachePath, `a file path (it is a directory: the instrument cache is a file, e.g. "${instrumentCachePath.replace(/\/+$/, "")}/instruments-${venueName}.json")`);
    else {
      // Entries are keyed market:SYMBOL, one venue's per file: a second venue would find "another venue's" file
      // at every start and write, and never cache (docs/operations.md, the instrument cache with several writers).
      // The same file by any name: a symlink or hard link to the configuration file got through a resolved path.
      const identity = fileIdentity(instrumentCachePath);
      const sharedWith = caches.get(identity);
      const other = notCaches.find(([, path]) => fileIdentity(path) === identity);
      if (sharedWith !== undefined) v.problem(`${key}.instrument_cache`, instrumentCachePath, `a file of its own (venues.${sharedWith}.instrument_cache is the same file: a cache holds one venue's instruments)`);
      // There (an identity by inode), a merge reads it first and leaves it alone; not there yet (a key file where the key
      // is not read: export --books, whose merges write), the first merge makes it the cache.
      else if (other !== undefined && identity.startsWith("inode ")) v.problem(`${key}.instrument_cache`, instrumentCachePath, `a file of its own (${other[0]} is the same file: the cache would never be read or written there, and every start would warn)`);
      else if (other !== undefined) v.problem(`${key}.instrument_cache`, instrumentCachePath, `a file of its own (${other[0]} is the same file, not there yet: the first cache write would make it a cache, where that file belongs)`);
      caches.set(identity, venueName);
    }
    // 0 = the venue layer's default (7 s); a quiet connection is probed at half the time, so not below 1 s.
    const deadMs = v.int(vt.dead_connection_ms, `${key}.dead_connection_ms`, 0, 0, 600_000);
    if (deadMs !== 0 && deadMs < 1_000) v.problem(`${key}.dead_connection_ms`, deadMs, "0 (the default, 7 s) or 1000 to 600000");
    // A venue that reloads its instruments while running (OKX, Binance) takes instrument_reload_ms; the others
    // re-check an instrument when a number does not fit (docs/add-venue.md, "Instruments").
    let instrumentReloadMs: number | undefined;
    if (venueKeys.includes("instrument_reload_ms")) {
      instrumentReloadMs = v.int(vt.instrument_reload_ms, `${key}.instrument_reload_ms`, INSTRUMENT_RELOAD_MS, 0, MAX_INSTRUMENT_RELOAD_MS);
      if (instrumentReloadMs !== 0 && instrumentReloadMs < MIN_INSTRUMENT_RELOAD_MS) v.problem(`${key}.instrument_reload_ms`, instrumentReloadMs, `0 (never) or ${MIN_INSTRUMENT_RELOAD_MS} to ${MAX_INSTRUMENT_RELOAD_MS}`);
    }
    // A venue that bridges a REST snapshot to buffered updates (OKX, Binance) takes rest_bridge_buffer_bytes; the
    // others get their snapshot on the socket.
    let restBridgeBufferBytes: number | undefined;
    if (venueKeys.includes("rest_bridge_buffer_bytes")) {
      restBridgeBufferBytes = v.int(vt.rest_bridge_buffer_bytes, `${key}.rest_bridge_buffer_bytes`, DEFAULT_MAX_BUFFERED_BYTES, MIN_REST_BRIDGE_BUFFER_BYTES, MAX_REST_BRIDGE_BUFFER_BYTES);
    }
    out.push({
      venue: venueName as VenueName,
      wsUrl,
      restUrl,
      instrumentCachePath,
      markets,
      overrides,
      ...(deadMs > 0 ? { deadConnectionMs: deadMs } : {}),
      ...(instrumentReloadMs !== undefined ? { instrumentReloadMs } : {}),
      ...(restBridgeBufferBytes !== undefined ? { restBridgeBufferBytes } : {}),
    });
  }
  return out;
}

/** A market's venue-specific keys (registry MarketSpec.options), every one filled in with its default when absent. */
function parseMarketOptions(v: Validator, mt: Table, mk: string, specs: Readonly<Record<string, MarketOptionSpec>>, symbols: readonly string[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const key = `${mk}.${name}`;
    const raw = mt[name];
    if (spec.kind === "string") {
      // Own keys only: "toString" is no refused value (before, Object.prototype's function was named as the reason).
      const why = typeof raw === "string" && spec.refused !== undefined && Object.hasOwn(spec.refused, raw) ? spec.refused[raw] : undefined;
      if (why !== undefined) {
        v.problem(key, raw, `one of ${spec.values.join(", ")} (${raw}: ${why})`);
        out[name] = spec.default;
      } else out[name] = v.oneOf(raw, key, spec.default, spec.values);
      continue;
    }
    let n = spec.default;
    if (raw !== undefined) {
      const fits = typeof raw === "number" && Number.isFinite(raw) && raw >= spec.min && raw <= spec.max && Number(raw.toFixed(spec.decimals)) === raw;
      if (!fits) v.problem(key, raw, `a number ${spec.min}–${spec.max}${spec.decimals === 0 ? " without decimals" : ` with at most ${spec.decimals} decimals`}`);
      else n = raw;
    }
    const expected = raw === undefined ? undefined : spec.check?.(n, symbols);
    if (expected !== undefined) v.problem(key, n, expected);
    out[name] = n;
  }
  return out;
}

/** Collects problems instead of stopping at the first, so one run shows every bad key. */
class Validator {
  private readonly problems: string[] = [];

  /** Problems that are this host's addresses (an interface not up yet), not the file's: see HostAddressError. */
  private hostProblems = 0;

  /** `about` "host": the value is well formed and this host lacks the address (it may come up). */
  problem(key: string, value: unknown, expected: string, about: "file" | "host" = "file"): void {
    this.problems.push(`${key || "(top level)"}: ${show(value)} is not ${expected}`);
    if (about === "host") this.hostProblems++;
  }

  missing(key: string, expected: string): void {
    this.problems.push(`${key}: missing (expected ${expected})`);
  }

  /** A problem already phrased in full (it names its key). */
  raw(message: string): void {
    this.problems.push(message);
  }

  /** Problems of the file itself (not addresses this host lacks: those read no other key). */
  hasFileProblems(): boolean {
    return this.problems.length > this.hostProblems;
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw this.hostProblems === this.problems.length ? new HostAddressError(this.problems) : new ConfigError(this.problems);
  }

  table(value: unknown, key: string): Table {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Table;
    this.problem(key, value, "a table");
    return {};
  }

  knownKeys(t: Table, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(t)) {
      // Quoted unless TOML takes it bare: before, ["venues.bybit.linear"] (one quoted key) was named as the path
      // venues.bybit.linear, "depth " as depth with a space no one sees, "" as nothing.
      const shown = /^[A-Za-z0-9_-]+$/.test(k) ? k : show(k);
      if (!allowed.includes(k)) this.problems.push(`${key ? key + "." : ""}${shown}: unknown key (expected one of ${allowed.join(", ")})`);
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
    return value + 0; // -0 (a parsed document can hold it) is 0: printed as 0 by check-config, it loaded back unequal
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

/** A value as a problem quotes it: JSON, with what JSON leaves raw and a terminal acts on (C1, U+2028, a bidi override) escaped. */
function show(value: unknown): string {
  return jsonForTerminal(showJson(value));
}

function showJson(value: unknown): string {
  if (typeof value === "string") return value === "(table)" || value === "[]" ? value : JSON.stringify(value);
  if (value === undefined) return "(missing)";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value); // TOML nan / inf (JSON says null)
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** A path that can only be a directory's: ending in "/", or in "." or "..". */
function namesDirectory(path: string): boolean {
  return path.endsWith("/") || /(^|\/)\.\.?$/.test(path);
}

/** Whether a directory is at `path` now (one that cannot be looked at is left to the start's own checks). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

/** Decimals a plain positive step needs, trailing zeros aside: "0.10" → 1, "10" → 0 (core/fixed.ts exponentOf, without its limit). */
function decimalsOf(step: string): number {
  const dot = step.indexOf(".");
  return dot < 0 ? 0 : step.slice(dot + 1).replace(/0+$/, "").length;
}

const WS_URL = /^wss?:\/\/[^\s]+$/;
const HTTP_URL = /^https?:\/\/[^\s]+$/;
/** What a refused URL had to be: its scheme alone may be right (wss://host:99999 is refused for its port). */
const WS_URL_EXPECTED = "a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment";
const HTTP_URL_EXPECTED = "an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)";

/**
 * A ws(s):// or http(s):// URL that parses, with a host. Before, the scheme alone was checked: "wss://host:99999/x"
 * was taken, and its connection was retried for ever as "open failed" (new WebSocket throws on it).
 */
function isUrl(s: string, scheme: RegExp): boolean {
  if (!scheme.test(s) || !URL.canParse(s)) return false;
  // A fragment: WebSocket throws on it (SyntaxError), so every connect failed and was retried for ever. A REST base
  // gets its paths appended ("<base>/v5/market/…"): after a ?query or #fragment they were no path at all.
  if (s.includes("#") || (scheme === HTTP_URL && s.includes("?"))) return false;
  return new URL(s).hostname !== "";
}

/** `expected`, and then why `addr` is no IPv4 address when it is not one (not when the rest of the value is at fault). */
function orWhy(expected: string, addr: string | undefined): string {
  const why = addr === undefined ? null : ipv4Problem(addr);
  return why === null ? expected : `${expected}: ${why}`;
}

function isMulticast(s: string): boolean {
  if (!isIpv4(s)) return false;
  const first = Number(s.split(".")[0]);
  return first >= 224 && first <= 239;
}

function isLoopback(host: string): boolean {
  return host.startsWith("127.");
}
