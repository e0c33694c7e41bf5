/**
 * `feeder bridge to-nats | from-nats`: the NATS bridge (docs/nats.md). to-nats joins the feed's groups like any
 * subscriber and republishes each instrument's messages to `<prefix>.<venue>.<market>.<symbol>` (optionally into a
 * JetStream stream); from-nats turns the subjects or the stream back into local multicast of its own stream.
 * @module
 */
import { interfaceProblem, neverAHostAddress } from "../../config/host.ts";
import { ipv4Problem, isIpv4 } from "../../core/ipv4.ts";
import { loadConfigFile, loadReaderSections } from "../../config/load.ts";
import { isLoopbackTtl, loopbackTtlWhy } from "../../config/notes.ts";
import { DEFAULT_MAX_PENDING_BYTES, ForwardBridge } from "../../bridge/forward-bridge.ts";
import { ReverseBridge } from "../../bridge/reverse-bridge.ts";
import { isMulticastV4 } from "../../net/multicast.ts";
import { ABS_MAX_DATAGRAM_BYTES, DEFAULT_MAX_DATAGRAM_BYTES, MIN_PUBLISH_DATAGRAM_BYTES } from "../../wire/layout.ts";
import { logAddressesNotHere, UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { byteSize } from "./capture-args.ts";
import { intIn } from "./number-args.ts";
import { describeFeedKey, feedKeyOf, NATS_OPTIONS, natsReadOptions, prefixOf, serversOf } from "./nats-args.ts";
import { natsAccessHelp, natsAccessOf } from "./nats-credentials.ts";
import type { FeederConfig, NatsConfig } from "../../config/types.ts";
import { HostAddressError } from "../../core/errors.ts";
import { describeCredentials } from "../../subscriber/nats-auth.ts";
import { DEFAULT_SEND_AHEAD_MAX_MS, MAX_SEND_AHEAD_MS } from "../../subscriber/streams.ts";
import { holdRepeatedStops, startOrStop, stopBounded } from "../start-or-stop.ts";
import type { Logger } from "../../core/log.ts";
import { bridgeHttpOf, DEFAULT_FROM_NATS_HTTP, DEFAULT_TO_NATS_HTTP, fromNatsMetrics, fromNatsReadiness, startBridgeHttp, toNatsMetrics, toNatsReadiness, type BridgeHttpAddress, type BridgeHttpHandle, type BridgeHttpSource } from "./bridge-http.ts";

const STATS_INTERVAL_MS = 60_000;
/** The flags of one direction only: given to the other they are refused, naming the direction they are for. */
export const TO_NATS_ONLY = ["max-age", "max-bytes", "max-pending", "send-ahead-max-ms"] as const;
export const FROM_NATS_ONLY = ["from", "ttl", "source-id", "channel", "max-datagram-bytes"] as const;
const MIN_STREAM_BYTES = 1024 * 1024;
/** The smallest --max-pending: a few of the largest messages (64 KiB), as --max-bytes. */
const MIN_PENDING_BYTES = 1024 * 1024;

export const bridgeCommand: CommandSpec = {
  name: "bridge",
  summary: "republish the multicast feed to NATS (JetStream optional), or a NATS feed to local multicast",
  help: [
    "Directions:",
    "  to-nats    join the groups (like a subscriber: no work added to the publisher) and publish every",
    "             message, bytes unchanged, to <prefix>.<venue>.<market>.<symbol>",
    "  from-nats  read <prefix>.> (or a JetStream stream) and publish it as an ordinary feed on a local group,",
    "             with its own --source-id and session, so local subscribers need no change",
    "",
    "Options:",
    "      --nats URL[,URL]     NATS server(s) (required): nats://host:port, or tls://host:port to require TLS;",
    "                           a user:password@ in the URL is refused: credentials come from files, below",
    "      --prefix P           subject prefix (default feeder): tokens of letters, digits, _ -, dots between;",
    "                           at most 128 characters",
    "      --stream NAME        to-nats: also keep the feed in this JetStream stream (created or updated:",
    "                           no limit on the message count, per subject nor on a message's size; a sealed",
    "                           one is refused;",
    "                           checked every 5 s, and read on every connection made again before anything",
    "                           is published into it: what it does not store is counted and logged, a deleted",
    "                           stream is created again);",
    "                           from-nats: read this stream instead of the live subjects",
    "      --max-age S          to-nats with --stream: retention by age, seconds (default 86400)",
    "      --max-bytes SIZE     to-nats with --stream: retention by size, e.g. 10G (default 10G, at least 1M)",
    "      --max-pending SIZE   to-nats: bytes the NATS client may hold unwritten (NATS or the link slower than",
    "                           the feed) before datagrams are dropped, counted and seen as a loss (default 64M,",
    "                           at least 1M)",
    "      --send-ahead-max-ms N",
    "                           to-nats: a datagram sent more than N ms ahead of this host's clock (a forged",
    "                           send time, or a publisher clock ahead: clocks are taken as synced) raises the",
    "                           send time a stream's numbering going back is judged by to this clock plus N",
    "                           only (counted: feeder_bridge_upstream_send_times_ahead_total); default 5000,",
    "                           0..86400000",
    "      --from WHEN          from-nats with --stream: now (default), all, or an ISO time (replay from it): a",
    "                           time of day with its zone (2026-12-04T10:00:00Z, …+01:00), a date alone is its UTC",
    "                           midnight (a space may stand for the T); one without a zone, a day its month",
    "                           lacks (2026-02-30), or more than 60 s in the future, exits 2; one before the",
    "                           stream's oldest message replays from that message, with a warning",
    "  -c, --config FILE        to-nats: join every multicast destination of the configuration's [publish]",
    "                           section (not its unicast ones; a file with none and no --group exits 2; an",
    "                           interface of it not on this host yet exits 1, retried by the unit, as `run`);",
    "                           both: NATS credentials and TLS from its [nats] section (the flags below override it),",
    "                           and the feed's key from publish.auth_key_file (--auth-key-file overrides it);",
    "                           from-nats reads and checks nothing else of the file",
    "  -g, --group G:P          to-nats: a group to join (repeatable); from-nats: the group to publish to (not in",
    "                           224.0.0.0/24, the local network control block, as a destination's group)",
    "      --iface ADDR         local interface (default 127.0.0.1, or each destination's interface, which must then",
    "                           be this host's; with --iface the file's interfaces are not used nor checked); an",
    "                           address this host lacks yet exits 1 (retried by the unit), a name or an address",
    "                           no host has (a group, 0.0.0.0) exits 2",
    "      --http ADDR:PORT     /healthz, /readyz and /metrics (Prometheus) on this loopback address (default",
    `                           ${DEFAULT_TO_NATS_HTTP} for to-nats, ${DEFAULT_FROM_NATS_HTTP} for from-nats; port 0: any free one);`,
    "                           off: none. A port taken exits 1: a second bridge of one direction on a host needs",
    "                           its own --http (or off). It has no token: every request but /healthz must be",
    "                           addressed to a loopback Host (127.x.x.x, localhost, [::1]), else 403; a",
    "                           request with a body is 413; beyond 64 answers in flight 503 (not /healthz,",
    "                           /readyz); a connection idle for 10 s is closed (the feeder's HTTP defaults)",
    "      --ttl N              from-nats: multicast TTL (default 1); above 1 with a loopback --iface (127.0.0.1,",
    "                           the default) is warned of: datagrams from loopback never leave this host",
    "      --source-id N        from-nats: source id of the local stream (default 65000)",
    "      --channel N          from-nats: channel id of the local stream (default 1)",
    "      --max-datagram-bytes N",
    `                           from-nats: largest local datagram (default 1400; ${MIN_PUBLISH_DATAGRAM_BYTES}–${ABS_MAX_DATAGRAM_BYTES}), at least the`,
    "                           upstream publishers' publish.max_datagram_bytes: a message is republished",
    "                           whole, a longer one refused (counted as bad_message)",
    "      --auth-key-file F    the feed's HMAC key (default with --config: its publish.auth_key_file; a key",
    "                           file that cannot be read exits 2; the flag's may be a FIFO, read once:",
    "                           <(pass show feed-key), one nothing opens to write within 1 s exits 2).",
    "                           to-nats: drop datagrams without a valid HMAC trailer and sign every envelope",
    "                           with the key (readers before envelope",
    "                           version 3 refuse them: upgrade readers first); from-nats: read only envelopes",
    "                           signed with the key (others refused, counted, warned of: a bridge without the",
    "                           key has all its envelopes refused) and sign the local datagrams with it. The",
    "                           start line names the key in effect (signedWith / verifiedWith: none without one);",
    "                           without a key, the first signed datagram (to-nats) or envelope (from-nats) is",
    "                           warned of once (read unverified)",
    ...natsAccessHelp(27),
    "",
    "Examples:",
    "  feeder bridge to-nats -c /etc/feeder/feeder.toml --nats nats://10.0.0.5:4222 --stream FEED --max-age 86400",
    "  feeder bridge from-nats --nats nats://10.0.0.5:4222 -g 239.255.0.9:31009 --iface 10.1.0.7 --source-id 900",
    "",
    "Runs until SIGINT/SIGTERM (exit 0); one while it connects to NATS, or reads a FIFO given on the command",
    "line (-c, --auth-key-file, a credential file), stops it there (exit 0). The stop (to-nats first flushes",
    "what the NATS client holds) takes 1.5 s at most: cut there with a warning (what was not flushed is lost:",
    "a server that does not answer; to-nats' names it in bytes, unflushedBytes), then `stopped`, exit 0; a second",
    "SIGINT/SIGTERM/SIGHUP during it is logged and",
    "ignored (SIGKILL ends it at once). A NATS server that cannot be",
    "reached exits 1, as a start that fails once connected (e.g. its --stream refused): what it opened is",
    "closed within the same 1.5 s (cut there with the same warning). Both directions connect again every 2 s when the client closes its connection for",
    "good (two authorization errors in a row: logged); a server that refuses the credentials is logged once per",
    "run of refusals (with its reason; counted: natsAuthErrors) and tried again every 2 s; at start it exits 1.",
    "from-nats tries a subscription the server refuses (permissions on <prefix>.>) again every 2 s, logged, the",
    "books stale meanwhile. A connection from-nats made at start that drops (or does not answer) before the server",
    "confirmed its subscription is no exit: logged, made again every 2 s, /readyz 503 meanwhile; nor is a",
    "JetStream request of --stream's set-up at start that gets no answer (to-nats and from-nats): the same.",
  ].join("\n"),
  allowPositionals: true,
  positionalsUsage: "to-nats|from-nats",
  options: {
    ...NATS_OPTIONS,
    config: { type: "string", short: "c" },
    group: { type: "string", short: "g", multiple: true },
    iface: { type: "string" },
    ttl: { type: "string" },
    "source-id": { type: "string" },
    channel: { type: "string" },
    "max-datagram-bytes": { type: "string" },
    "max-age": { type: "string" },
    "max-bytes": { type: "string" },
    "max-pending": { type: "string" },
    "send-ahead-max-ms": { type: "string" },
    "auth-key-file": { type: "string" },
    http: { type: "string" },
  },
  async run(ctx) {
    const direction = ctx.positionals[0];
    if (ctx.positionals.length !== 1 || (direction !== "to-nats" && direction !== "from-nats")) {
      throw new UsageError("name one direction: feeder bridge to-nats | from-nats");
    }
    // Its stops are bounded (startOrStop, stopBridge): a second SIGINT/SIGTERM/SIGHUP is logged and ignored, also in a stop
    // during start-up.
    const endHold = holdRepeatedStops(ctx.stopSignal, ctx.log, "stop");
    try {
      return await (direction === "to-nats" ? toNats(ctx) : fromNats(ctx));
    } finally {
      endHold();
    }
  },
};

function groupOf(entry: string, iface: string): { group: string; port: number; iface: string } {
  const m = /^([^:]+):(\d+)$/.exec(entry);
  const why = m === null ? null : ipv4Problem(m[1]!);
  if (m === null || why !== null || !isMulticastV4(m[1]!) || !(Number(m[2]) > 0 && Number(m[2]) < 65536)) {
    throw new UsageError(`--group ${JSON.stringify(entry)} is not an IPv4 multicast group:port${why === null ? "" : `: ${why}`}`);
  }
  return { group: m[1]!, port: Number(m[2]), iface };
}

/**
 * --iface ADDR (undefined: not given), and `notHere`: why a well-formed address this host lacks now is not usable yet.
 * Such an address may come up (DHCP, a VRRP address on failover), so the start fails with exit 1, which the unit
 * retries, once every other flag is checked (startFailsOn); one no host can have, or no IPv4 address, exits 2 here.
 * Before, every one exited 2: a bridge unit given its LAN address started before it was up stayed down for good.
 */
function ifaceOf(ctx: CommandContext): { iface: string | undefined; notHere?: string } {
  const iface = ctx.values.iface;
  if (iface === undefined) return { iface: undefined };
  const why = interfaceProblem(String(iface));
  if (why === null) return { iface: String(iface) };
  if (!isIpv4(String(iface))) throw new UsageError(`--iface ${JSON.stringify(iface)} is not ${why}`);
  const never = neverAHostAddress(String(iface));
  if (never !== null) throw new UsageError(`--iface ${JSON.stringify(iface)} is not ${why} (${never}: no host has it)`);
  return { iface: String(iface), notHere: `--iface ${JSON.stringify(iface)} is not ${why}` };
}

/** Exit 1 for an --iface this host lacks now (ifaceOf), logged, once nothing else can refuse the start: undefined otherwise. */
function startFailsOn(ctx: CommandContext, notHere: string | undefined): 1 | undefined {
  if (notHere === undefined) return undefined;
  ctx.log.error("bridge could not start: --iface names an address that is not this host's (yet); exit 1, retried", { problem: notHere, exitCode: 1 });
  return 1;
}

async function toNats(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const { iface, notHere } = ifaceOf(ctx);
  const servers = serversOf(v.nats);
  const prefix = prefixOf(v.prefix);
  // Before, the from-nats flags were taken here without a word (the operator believed them in effect).
  for (const k of FROM_NATS_ONLY) if (v[k] !== undefined) throw new UsageError(`--${k} is for from-nats`);
  // The flags first: a bad one exits 2 also while the file's interface is not up yet (exit 1 below, retried).
  const flagGroups = ((v.group as string[] | undefined) ?? []).map((g) => groupOf(g, iface ?? "127.0.0.1"));
  const stream = typeof v.stream === "string" ? v.stream : undefined;
  if (stream !== undefined && !/^[A-Za-z0-9_-]+$/.test(stream)) throw new UsageError(`--stream must be a JetStream stream name (letters, digits, _ -), got ${JSON.stringify(stream)}`);
  if (stream === undefined && (v["max-age"] !== undefined || v["max-bytes"] !== undefined)) throw new UsageError("--max-age and --max-bytes need --stream");
  const maxAgeS = intIn(v["max-age"], "max-age", 86_400, 1, 10 * 365 * 86_400);
  const maxBytes = byteSize(v["max-bytes"], "max-bytes") ?? 10 * 1024 ** 3;
  // A stream smaller than a message stores none of them, silently (the bridge publishes without acknowledgements).
  if (maxBytes < MIN_STREAM_BYTES) throw new UsageError(`--max-bytes must be at least 1M (the stream keeps whole messages of up to 64 KiB), got ${JSON.stringify(v["max-bytes"])}`);
  const maxPendingBytes = byteSize(v["max-pending"], "max-pending") ?? DEFAULT_MAX_PENDING_BYTES;
  // A backlog smaller than a message: `--max-pending 1` was taken, and every datagram dropped as backlog.
  if (maxPendingBytes < MIN_PENDING_BYTES) throw new UsageError(`--max-pending must be at least 1M (the NATS client holds whole messages of up to 64 KiB), got ${JSON.stringify(v["max-pending"])}`);
  const httpAddr = bridgeHttpOf(v.http, DEFAULT_TO_NATS_HTTP);
  const sendAheadMaxMs = intIn(v["send-ahead-max-ms"], "send-ahead-max-ms", DEFAULT_SEND_AHEAD_MAX_MS, 0, MAX_SEND_AHEAD_MS);
  const groups: { group: string; port: number; iface: string }[] = [];
  let fileKey: string | undefined;
  let maxDatagramBytes: number | undefined;
  let natsFile: NatsConfig | undefined;
  /** The file's only problems: addresses this host lacks (yet): exit 1 (retried by the unit) once the flags are checked. */
  let fileNotHere: HostAddressError | undefined;
  if (typeof v.config === "string") {
    // With --iface the groups are joined on it, not on the destinations' interfaces: another host's file is taken
    // (before, refused: its interfaces are not here; the bridge exited 1, restarted for ever by its unit).
    // Likewise the file's key file beside --auth-key-file, which replaces it.
    // An interface of the file not on this host (yet) is a failed start, exit 1, as `feeder run` with the same file:
    // the bridge's unit retries it until the address comes up (a VRRP address on failover; before, exit 2: left down).
    // Exit 1 only once the credential and key files (the flags', else those of its [nats] and auth_key_file) are read:
    // a bad one exits 2 while the address is down too (until s-rd26c, exit 1, retried for as long as it stayed down).
    let config: FeederConfig | undefined;
    try {
      config = loadConfigFile(v.config, { requireVenue: false, destinationInterfacesUnused: iface !== undefined, authKeyFileUnused: typeof v["auth-key-file"] === "string" });
    } catch (err) {
      if (!(err instanceof HostAddressError)) throw err;
      fileNotHere = err;
      ({ nats: natsFile, authKeyFile: fileKey } = loadReaderSections(v.config));
    }
    if (config !== undefined) {
      natsFile = config.nats;
      fileKey = config.publish.authKeyFile;
      maxDatagramBytes = config.publish.maxDatagramBytes;
      // A unicast destination has no group to join: the bridge reads multicast only (use --group for a unicast bind).
      for (const d of config.publish.destinations) if (d.group !== undefined) groups.push({ group: d.group, port: d.port, iface: iface ?? d.iface });
    }
  }
  groups.push(...flagGroups);
  // A file of unicast destinations only was told to "give --config FILE", though it was given.
  if (groups.length === 0 && typeof v.config === "string" && fileNotHere === undefined) throw new UsageError(`to-nats: --config ${v.config} has no multicast destination to join (the bridge reads multicast only): give --group G:P`);
  if (groups.length === 0 && fileNotHere === undefined) throw new UsageError("to-nats: give --config FILE or at least one --group G:P");
  // Credentials and required TLS, from files read once here (a bad one exits 2 naming it; never the secret): the
  // flags', else the config's [nats].
  const { credentials, tls } = natsAccessOf(v, servers, ctx.log, natsFile);
  // The flag's key, else the file's: named by where it came from (before, the file's was named --auth-key-file).
  const feedKey = feedKeyOf(v["auth-key-file"], fileKey, v.config);
  const authKey = feedKey?.key;
  if (fileNotHere !== undefined) {
    logAddressesNotHere(v.config as string, fileNotHere, ctx.log, "bridge");
    return 1;
  }
  const failed = startFailsOn(ctx, notHere);
  if (failed !== undefined) return failed;
  const bridge = new ForwardBridge({ groups, servers, prefix, authKey, maxDatagramBytes, maxPendingBytes, sendAheadMaxMs, credentials, tls, log: ctx.log, jetstream: stream === undefined ? undefined : { stream, maxAgeMs: maxAgeS * 1000, maxBytes } });
  const http = openHttp(ctx, "to-nats", httpAddr, { metrics: () => toNatsMetrics(bridge, prefix, stream), readiness: () => toNatsReadiness(bridge, stream) });
  if (http === "failed") return 1;
  try {
    if ((await startOrStop(bridge.start(), ctx.stopSignal, () => bridge.stop())) === "stopped") return stoppedDuringStart(ctx, http);
  } catch (err) {
    ctx.log.error("bridge could not start", { error: (err as Error).message });
    await stopBridge(ctx.log, bridge, http, CUT_AFTER_FAILED_START, { ignoreErrors: true });
    return 1;
  }
  ctx.log.info("bridging to NATS", { groups: groups.map((g) => `${g.group}:${g.port}@${g.iface}`), servers, prefix, stream, signedWith: describeFeedKey(feedKey), credentials: describeCredentials(credentials), tls: tls !== undefined, http: http?.url ?? "off" });
  const stats = setInterval(() => ctx.log.info("bridge", { ...bridge.counters }), STATS_INTERVAL_MS);
  await ctx.stopSignal;
  clearInterval(stats);
  await stopBridge(ctx.log, bridge, http, "the last NATS messages not flushed, unflushedBytes of them lost: a server that does not answer or read");
  ctx.log.info("stopped", { ...bridge.counters });
  return 0;
}

/**
 * The HTTP server, bound before NATS is dialled (as `feeder run` binds its own first): a port another process holds
 * ends the start (exit 1: it may clear, so a unit restarts), before anything connects. The error says what to do:
 * most often a second bridge of the direction on the host, on the default port.
 */
function openHttp(ctx: CommandContext, direction: string, addr: BridgeHttpAddress | undefined, source: BridgeHttpSource): BridgeHttpHandle | undefined | "failed" {
  if (addr === undefined) return undefined;
  try {
    return startBridgeHttp(addr, source, ctx.log);
  } catch (err) {
    const address = `${addr.host}:${addr.port}`;
    const which = ctx.values.http === undefined ? ` (the ${direction} default)` : "";
    const why =
      (err as { code?: unknown }).code === "EADDRINUSE"
        ? `another process holds it (a second ${direction} bridge on this host, or feeder or feeder record given that port?): give this bridge its own --http ADDR:PORT, or --http off`
        : (err as Error).message;
    ctx.log.error(`bridge could not start: --http ${address}${which} cannot listen: ${why}`, { address, error: (err as Error).message });
    return "failed";
  }
}

async function fromNats(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  for (const k of TO_NATS_ONLY) if (v[k] !== undefined) throw new UsageError(`--${k} is for to-nats`);
  // from-nats reads only the [nats] section of a --config file (its credentials and TLS) and publish.auth_key_file
  // (the feed's key, as to-nats -c signs with it; --auth-key-file overrides it), and checks only those: a file of
  // another host (its [publish] interfaces not on this one) is no error here, a key file it cannot read is.
  const file = typeof v.config === "string" ? loadReaderSections(v.config) : undefined;
  const feedKey = feedKeyOf(v["auth-key-file"], file?.authKeyFile, v.config);
  const read = natsReadOptions(ctx, file?.nats, feedKey);
  const given = (v.group as string[] | undefined) ?? [];
  if (given.length !== 1) throw new UsageError("from-nats: give exactly one --group G:P to publish to");
  const { iface: ifaceGiven, notHere } = ifaceOf(ctx);
  const iface = ifaceGiven ?? "127.0.0.1";
  const g = groupOf(given[0]!, iface);
  // The group it publishes to, refused as a destination's group is (config/load.ts): before, taken, and the feed went
  // to a block every host, router and mDNS responder on the link listens on (224.0.0.1 is all hosts).
  if (g.group.startsWith("224.0.0.")) {
    throw new UsageError(`--group ${JSON.stringify(given[0])}: from-nats publishes to it: give a multicast group outside 224.0.0.0/24 (reserved for local network control: all hosts, routers and mDNS listen there)`);
  }
  const ttl = intIn(v.ttl, "ttl", 1, 1, 255);
  // Said as the configuration's note says it of a destination (config/notes.ts); taken all the same.
  if (isLoopbackTtl(ttl, iface)) ctx.log.warn(`--ttl ${ttl} with --iface ${iface}${v.iface === undefined ? " (its default)" : ""}: ${loopbackTtlWhy("set --iface")}`);
  const httpAddr = bridgeHttpOf(v.http, DEFAULT_FROM_NATS_HTTP);
  const sourceId = intIn(v["source-id"], "source-id", 65000, 0, 65535);
  const channelId = intIn(v.channel, "channel", 1, 0, 65535);
  // Messages are republished whole: a smaller maximum than upstream's refused every longer one (bad_message), and
  // before 2026-12-06 it was 1400 with no flag, so a feed published at 9000 lost its larger messages here for good.
  const maxDatagramBytes = intIn(v["max-datagram-bytes"], "max-datagram-bytes", DEFAULT_MAX_DATAGRAM_BYTES, MIN_PUBLISH_DATAGRAM_BYTES, ABS_MAX_DATAGRAM_BYTES);
  const failed = startFailsOn(ctx, notHere);
  if (failed !== undefined) return failed;
  const bridge = new ReverseBridge({ ...read, group: g.group, port: g.port, iface, ttl, sourceId, channelId, maxDatagramBytes });
  const http = openHttp(ctx, "from-nats", httpAddr, { metrics: () => fromNatsMetrics(bridge, read.prefix ?? "feeder", read.stream), readiness: () => fromNatsReadiness(bridge, read.stream) });
  if (http === "failed") return 1;
  try {
    if ((await startOrStop(bridge.start(), ctx.stopSignal, () => bridge.stop())) === "stopped") return stoppedDuringStart(ctx, http);
  } catch (err) {
    ctx.log.error("bridge could not start", { error: (err as Error).message });
    await stopBridge(ctx.log, bridge, http, CUT_AFTER_FAILED_START, { ignoreErrors: true });
    return 1;
  }
  ctx.log.info("bridging from NATS", { group: `${g.group}:${g.port}@${iface}`, servers: read.servers, prefix: read.prefix, stream: read.stream, verifiedWith: describeFeedKey(feedKey), credentials: describeCredentials(read.credentials), tls: read.tls !== undefined, http: http?.url ?? "off" });
  // The local sends the kernel refused (sendErrors) are counted by the bridge, not the reader: both are logged.
  const counters = () => ({ ...bridge.counters!, sendErrors: bridge.sendErrors });
  const stats = setInterval(() => ctx.log.info("bridge", counters()), STATS_INTERVAL_MS);
  await ctx.stopSignal;
  clearInterval(stats);
  await stopBridge(ctx.log, bridge, http, "a NATS connection that does not close");
  ctx.log.info("stopped", counters());
  return 0;
}

/** A start that failed after connecting (e.g. its JetStream stream refused) closes what it opened: nothing to flush. */
const CUT_AFTER_FAILED_START = "the NATS connection of a failed start not closed: a server that does not answer";

/**
 * The bridge and its HTTP server stopped within the deadline (stopBounded: to-nats flushes to NATS, which waited for
 * as long as a server that does not answer took). A second SIGINT/SIGTERM/SIGHUP meanwhile is logged and ignored (run):
 * before 2026-12-06 it killed the process there (exit 130/143), to-nats' messages not yet flushed lost, no `stopped` line.
 * Also after a failed start (ignoreErrors: the start's error is the one reported): until 2026-12-06 that stop was not
 * bounded, and a server that refused the stream and went silent held `bridge could not start` from exiting for good.
 */
export async function stopBridge(log: Logger, bridge: ForwardBridge | ReverseBridge, http: BridgeHttpHandle | undefined, cutMeans: string, opts: { ignoreErrors?: boolean } = {}): Promise<void> {
  await stopBounded(
    (async () => {
      const stopped = bridge.stop();
      await (opts.ignoreErrors === true ? stopped.catch(() => undefined) : stopped);
      await http?.stop();
    })(),
    log,
    cutMeans,
    bridge instanceof ForwardBridge ? () => unflushedOf(bridge) : undefined,
  );
}

/**
 * What to-nats' cut stop lost, read at the cut: the bytes the NATS client still held (its buffer and its socket's;
 * before, the warning said only that some were lost). In bytes: the client does not count the messages it holds.
 * "unknown" for a client that hides its buffer (backlogChecked false: it warned at start).
 */
function unflushedOf(bridge: ForwardBridge): { unflushedBytes: number | "unknown" } {
  return { unflushedBytes: bridge.backlogChecked ? bridge.pendingBytes : "unknown" };
}

/** A signal while the bridge started (e.g. connecting to NATS): stopped there, exit 0. */
async function stoppedDuringStart(ctx: CommandContext, http: BridgeHttpHandle | undefined): Promise<number> {
  await http?.stop();
  ctx.log.info("stopped during start-up", { signal: await ctx.stopSignal });
  return 0;
}
