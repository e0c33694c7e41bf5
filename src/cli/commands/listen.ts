/**
 * `feeder listen`: joins the feed's multicast groups and shows a live top-of-book table (gaps, latency from the
 * packet's send time to receive), or prints every update as one JSON object per line (--format ndjson).
 * @module
 */
import { interfaceProblem, localIpv4Addresses } from "../../config/host.ts";
import { ipv4Problem } from "../../core/ipv4.ts";
import { RateLimitedLog } from "../../core/log.ts";
import { inCidrs, parseCidr } from "../../core/cidr.ts";
import { loadConfigFile, loadReaderSections } from "../../config/load.ts";
import { isMulticastV4 } from "../../net/multicast.ts";
import { FeedSubscriber, type GroupSpec, type RetransmitOptions, type UpdateEvent } from "../../subscriber/feed-subscriber.ts";
import { bookRef, updateRecord } from "../../subscriber/format.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../core/types.ts";
import { hasJsonRawControl, jsonForTerminal } from "../../core/terminal-text.ts";
import type { SubscriberBook } from "../../subscriber/subscriber-book.ts";
import { ABS_MAX_DATAGRAM_BYTES } from "../../wire/layout.ts";
import { UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { DEFAULT_TABLE_WIDTH, renderTable } from "./listen-table.ts";
import { decimal, decimalInteger, intIn } from "./number-args.ts";
import { describeFeedKey, feedKeyOf, NATS_OPTIONS, natsReadOptions, type FeedKey } from "./nats-args.ts";
import { natsAccessHelp, natsAccessGiven } from "./nats-credentials.ts";
import { NatsFeedReader, type NatsReadOptions } from "../../subscriber/nats-source.ts";
import { DEFAULT_SEND_AHEAD_MAX_MS, MAX_SEND_AHEAD_MS } from "../../subscriber/streams.ts";
import { holdRepeatedStops, startOrStop, stopBounded } from "../start-or-stop.ts";

const DEFAULT_GROUP = "239.255.0.1";
const DEFAULT_PORT = 31001;
const DEFAULT_DEPTH = 5;
/** The most levels per side --depth takes (export --books --depth's bound). */
const MAX_DEPTH = 1000;
const TTY_REDRAW_MS = 250;
const PLAIN_REDRAW_MS = 1000;
/** The longest --duration a timer holds (2^31 - 1 ms). */
const MAX_DURATION_S = Math.floor((2 ** 31 - 1) / 1000);
/** Latency samples kept per book for p50/p99 (a ring of the most recent ones). */
const LATENCY_SAMPLES = 1024;
/**
 * How often ndjson looks for books whose `usable` changed without an update of their own (a split event lost, an
 * assembly given up, a silent stream heard again); after a gap, stale, session or other event it looks at once.
 */
const USABLE_CHECK_MS = 100;
/**
 * Output a reader slower than the feed has not taken, held before rows are skipped (16 MiB): unbounded, `listen -f
 * ndjson | slow-consumer` grew by the feed's rate until the process ran out of memory.
 */
const DEFAULT_MAX_UNREAD_KIB = 16 * 1024;
/**
 * The largest --max-unread-kib (1 GiB, 64 times the default): the bound is this process's memory, and 1e12 was taken,
 * which bounds nothing. A reader a GiB behind is not catching up: rows skipped say so sooner.
 */
const MAX_UNREAD_KIB = 1024 * 1024;
/** SO_RCVBUF request: absorbs refresh bursts while the table redraws. */
const RECV_BUFFER_BYTES = 8 * 1024 * 1024;

interface Row {
  book: SubscriberBook;
  updatesSinceDraw: number;
  updatesPerSec: number;
  latencies: Float64Array;
  latencyCount: number;
  latencyNext: number;
}

export const listenCommand: CommandSpec = {
  name: "listen",
  summary: "join the multicast feed (or bind a unicast one) and show live books (table) or print every update (ndjson)",
  help: [
    "Options:",
    "  -c, --config FILE    join every destination of the configuration's [publish] section; with --nats,",
    "                       only its [nats] section (NATS credentials and TLS; the flags below override it)",
    "                       and publish.auth_key_file (the key envelopes are verified with), the rest neither",
    "                       read nor checked. A file with nothing to read here (unicast destinations only, no",
    "                       receiver of them an address of this host; no --group or --bind beside it) exits 2",
    "  -g, --group G[:P]    multicast group to join (repeatable; default 239.255.0.1:31001 without --config)",
    "  -p, --port N         port for --group entries without one (or the default group); refused when it",
    "                       would do nothing (beside --config or --bind without such a --group)",
    "      --bind ADDR:PORT receive a unicast destination on this local address and port (repeatable; with",
    "                       --config, a unicast destination's receivers that are addresses of this host are bound;",
    "                       its interface, the publisher's, is not checked as this host's)",
    "      --retransmit HOST:PORT  ask this retransmission server (publish.retransmit.listen) for lost ranges",
    "                       (default with --config: the configuration's publish.retransmit, if set; on",
    "                       0.0.0.0, the host of the destinations' non-loopback interfaces: when one is this",
    "                       host's (or all are loopback), 127.0.0.1, or that interface if the allow list",
    "                       admits it and not 127.0.0.1, or 127.0.0.1 with a warning if it admits neither;",
    "                       else their one address, several exit 2); source s",
    "                       is asked on PORT + s − the --config file's publish.source_id (0 without --config)",
    "      --iface ADDR     local interface to join on (default 127.0.0.1, or each destination's interface,",
    "                       which must then be this host's; with --iface the file's are not used nor checked;",
    "                       refused when no group is joined: --bind or unicast destinations alone)",
    "      --auth-key-file FILE  HMAC key: drop every datagram without a valid trailer (default with --config:",
    "                       the configuration's publish.auth_key_file, with or without --nats; one that cannot",
    "                       be read exits 2; the flag's may be a FIFO, read once: <(pass show feed-key), one",
    "                       nothing opens to write within 1 s exits 2); with --nats, every envelope not",
    "                       signed with it (by a bridge given the key) is refused, counted and warned of.",
    "                       The 'listening' line names the key in",
    "                       effect (verifiedWith: none without one); without a key, the first signed",
    "                       datagram or envelope read is warned of once (read unverified)",
    "      --send-ahead-max-ms N",
    "                       a datagram sent more than N ms ahead of this host's clock (a forged send time, or a",
    "                       publisher clock ahead: clocks are taken as synced) raises the send time a stream's",
    "                       numbering going back is judged by to this clock plus N only (counted: the footer's",
    "                       send times ahead); default 5000, 0..86400000. Not with --nats (the reader stamps",
    "                       what it repacks; the to-nats bridge has its own --send-ahead-max-ms)",
    "  -f, --format F       table (default) | ndjson",
    "  -d, --depth N        levels per side in ndjson records (default 5, at most 1000)",
    "      --duration S     exit after S seconds (at most 2147483, 24.8 days); exit 0, or 1 beside -n (below)",
    "      --nats URL       read the feed from NATS instead of multicast (a `feeder bridge to-nats`), from",
    "                       <prefix>.> live, or with --stream NAME from a JetStream stream (nats://host:port;",
    "                       tls://host:port requires TLS; no credentials in the URL: they come from files,",
    "                       below; a connection the client closes for good, credentials or a subscription",
    "                       the server refuses once running, and a connection that drops before the server",
    "                       confirmed the subscription at start, or whose --stream set-up gets no answer, are",
    "                       logged and tried again every 2 s; credentials or a --stream refused at start exit",
    "                       1); beside it --group,",
    "                       --bind, --port, --retransmit and --iface (multicast's) exit 2",
    "      --prefix P       with --nats: subject prefix (default feeder): tokens of letters, digits, _ -,",
    "                       dots between; at most 128 characters (without --nats, --prefix and --from",
    "                       exit 2: they would do nothing)",
    "      --stream NAME    read this JetStream stream instead of the live subjects",
    "      --from WHEN      with --stream: now (default) | all | an ISO time (replay from it): a time of day",
    "                       with its zone (2026-12-04T10:00:00Z, …+01:00), a date alone is its UTC midnight;",
    "                       a space may stand for the T; one without a zone, a day its month lacks",
    "                       (2026-02-30), or more than 60 s in the future, exits 2; one before the stream's",
    "                       oldest message replays from that message, with a warning",
    ...natsAccessHelp(23),
    "  -n, --count N        exit after N updates (update records of any book: one not usable, such as a delta",
    "                       before its book's first snapshot, counts too); with --duration, the time up before",
    "                       N updates exits 1, naming how many came",
    "      --max-unread-kib N  output its reader has not taken yet held at most (default 16384, 16 MiB; at most",
    "                       1048576, 1 GiB): beyond,",
    "                       rows are skipped until half of it is taken, each run of them then counted in one",
    "                       {\"type\":\"skipped\",\"rows\":N} line (a table is not redrawn meanwhile)",
    "",
    "Table: a title line (groups joined), one row per book, a footer of counters. Columns: instrument (#<id>",
    "(definition pending) for a book whose InstrumentDefinition has not come yet: a late joiner's, until the",
    "publisher's next refresh, within publish.snapshot_interval_ms, sends it with the book's name), USABLE (yes",
    "= safe to trade on: identical to the publisher's book, which is live, on a stream that is not stale, and no",
    "side left without its best level: a snapshot side cut at publish.snapshot_depth whose every level was removed",
    "shows none until a level from its last price up arrives or the next snapshot), state (the publisher's: await =",
    "awaiting snapshot, live, resync, stale, halted; a * = the book's stream is silent),",
    "REASON (only while a book is not live: why, from the wire's status reason: startup, gap, reset, crossed,",
    "parse, disconn, stale, shutdown, rejected = the venue refused the subscription, changed, snapshot, checksum,",
    "closed = the venue no longer trades it, depth = a side bounded by the venue snapshot's depth ran out of levels;",
    "- for a live book; a reason newer than this version as its number),",
    "valid (identical to the publisher's book), best bid qty@px, best ask px@qty (- none; — both for a book not",
    "USABLE: the levels it last held may differ from the publisher's, as on the status page), updates/s,",
    "INVAL (times the book was invalidated: channel gap, sequence jump, publisher restart, silent stream; the",
    "footer's invalidations is the column's sum, channel gaps count gaps on the wire), REP (refreshes that",
    "repaired the book: it differed from the publisher's at its own instrSeq though none of its events was lost,",
    "a divergence; a late joiner's first refresh, or one after a sequence jump, is no repair), latency",
    "p50/p99 in µs (packet send time → receive; across hosts this includes the clock offset). The table fits the",
    "terminal's width (80 columns when stdout is not a terminal); narrower, it leaves out the venue (when all",
    "books are of one, named in the title), then latency, updates/s and sizes, and only then cuts names. Until",
    "the first book arrives it says what it is waiting for. A symbol's letters beyond ASCII (Binance's",
    "币安人生USDT) are shown as they are, two columns each where the terminal draws them so; anything else but",
    "printable ASCII in it (a control, a bidi override, a letter drawn as nothing such as U+3164: a datagram's,",
    "unchecked) is shown with \\xNN or \\u{N} escapes. The subscriber's errors (a rejected datagram, a",
    "retransmission reply from an address not asked, a RETRANSMIT datagram on a group or --bind socket: answers",
    "are taken only on the request socket; a snapshot listing a price twice on a side, refused: its book not",
    "usable until its next good snapshot) are warnings on stderr: the first at once, then at most one",
    "line per 5 s with the count.",
    "Footer: books (usable, valid), invalidations, channel gaps (messages lost in them), seq lines back (a",
    "stream's numbering gone back within its session: its books invalidated as at a gap), send times ahead",
    "(datagrams sent more than --send-ahead-max-ms ahead of this host's clock: a publisher clock ahead, or a",
    "forged send time), repairs, errors (datagrams rejected), duplicates (a stream's datagrams already received: a",
    "repeat; not another channel's copy, a stream of its own), late (datagrams behind a jump continuing the line",
    "before it, not applied), jumps reverted (sequence jumps undone: the old line went on), sessions reverted",
    "(newer sessions undone: bogus headers), datagrams, messages, heartbeats.",
    "NDJSON: one object per update (type \"update\", with usable, valid, stale, and state and reason by their wire",
    "names, e.g. \"halted\" and \"instrument_closed\"; venue, market and symbol null, in event records too, for a",
    "book whose definition has not come yet: a late joiner's until the next refresh, its instrumentId given;",
    "bidFloor/askCeil: the price down to which a side cut at",
    "publish.snapshot_depth is known, null for a side sent whole) and per gap/session/stale/repair/supersede/",
    "evict/exponent/error event (type = event; evict: a book the subscriber's full table gave up for a new one,",
    "its stream silent); timestamps are integer µs since the epoch (a book's tsExchangeUs, tsEventUs and tsRecvUs",
    "null when the wire says unknown, its 0: a venue without a matching-engine time; as in the jsonl book rows of export),",
    "prices and quantities exact decimal strings",
    "(plain digits at the wire's exponent, \"-\" for a negative price such as a spread, never exponent form);",
    "control characters in a symbol (a datagram's, unchecked) are \\u escapes, DEL and C1 too, and so are",
    "U+2028/U+2029 (a line break to many readers) and format characters such as a bidi override (plain JSON",
    "leaves those as they are; U+009B is CSI to a terminal); letters beyond ASCII (币安人生USDT) are kept.",
    "--depth is refused with the table (it shows each side's best level only). A book's last record says",
    "whether it is usable: one whose usable changed without an update (a gap, a silent stream, the stream heard",
    "again) gets {\"type\":\"usable\", venue, market, symbol, instrumentId, usable, valid, stale, state, reason}",
    "at once after the event that did it, else within 100 ms.",
    "A reader slower than the feed (--max-unread-kib) costs rows, never memory: skipped rows are said on stderr",
    "as they begin, counted in the output where it goes on, and in total at the end, exit 1.",
    "Output closed by its reader (`| head -2`): listen stops quietly with exit code 0; an output that fails",
    "otherwise (a full disk) stops it too, named on stderr, exit 1. SIGINT/SIGTERM stops it",
    "(exit 0), also while it connects to NATS or reads a FIFO given on the command line; a NATS server",
    "that cannot be reached, or that refuses the credentials or the --stream at start, exits 1. Its stop takes 1.5 s at most (cut there with a warning); a second",
    "SIGINT/SIGTERM/SIGHUP during it is logged and ignored (SIGKILL ends it at once).",
    "",
    "Examples:",
    "  feeder listen -c config/feeder.example.toml",
    "  feeder listen -g 239.255.0.2:31002 -f ndjson -d 10 -n 100",
  ].join("\n"),
  options: {
    config: { type: "string", short: "c" },
    group: { type: "string", short: "g", multiple: true },
    port: { type: "string", short: "p" },
    bind: { type: "string", multiple: true },
    retransmit: { type: "string" },
    iface: { type: "string" },
    "auth-key-file": { type: "string" },
    format: { type: "string", short: "f" },
    depth: { type: "string", short: "d" },
    duration: { type: "string" },
    count: { type: "string", short: "n" },
    "max-unread-kib": { type: "string" },
    "send-ahead-max-ms": { type: "string" },
    ...NATS_OPTIONS,
  },
  run: (ctx) => listen(ctx),
};

/** --duration in seconds (undefined: none); also checked by `demo` before it starts anything. */
export function durationSeconds(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = decimal(v);
  if (!(s > 0)) throw new UsageError(`--duration must be a positive number of seconds, got ${JSON.stringify(v)}`);
  // A timer beyond 2^31 - 1 ms fires at once: listen would end as it started, exit 0.
  if (s > MAX_DURATION_S) throw new UsageError(`--duration must be at most ${MAX_DURATION_S} s (24.8 days), got ${JSON.stringify(v)}: leave it out to run until stopped`);
  return s;
}

function positiveInt(v: unknown, name: string, fallback: number | undefined): number | undefined {
  if (v === undefined) return fallback;
  const n = decimalInteger(v);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Where to ask a request server listening on every address (`publish.retransmit.listen = "0.0.0.0:P"`): the listen
 * address says nothing of the publisher's host, its destinations' interfaces do (the addresses it sends from). A
 * loopback interface is every host's, so says nothing of where the publisher is (before, one beside 10.1.0.7 made a
 * receiving host ask its own 127.0.0.1). Loopback ones alone, or a non-loopback one this host's: the publisher is
 * here, asked on 127.0.0.1 if its allow list admits it, else on that interface if the list admits it (a request to an
 * address of this host comes from that address; before, always 127.0.0.1: with allow = ["10.0.0.0/8"], unanswered).
 * The list admitting none of them: 127.0.0.1, said in a `warn` naming the list (its requests are likely refused;
 * before, without a word). Else their one non-loopback address; several: exit 2 naming --retransmit. Exported for
 * its tests.
 */
export function publisherHostOf(
  ifaces: readonly string[],
  rt: { readonly port: number; readonly allow: readonly string[] },
  warn: (message: string) => void,
  local: readonly { name: string; address: string }[] = localIpv4Addresses(),
): string {
  const network = [...new Set(ifaces.filter((a) => !a.startsWith("127.")))];
  const here = network.filter((a) => interfaceProblem(a, local) === null);
  if (network.length === 0 || here.length > 0) {
    const allow = rt.allow.map(parseCidr);
    const admitted = ["127.0.0.1", ...here].find((a) => inCidrs(a, allow));
    if (admitted !== undefined) return admitted;
    warn(
      `--config: publish.retransmit.allow = ${JSON.stringify(rt.allow)} ${here.length > 0 ? `admits neither 127.0.0.1 nor this host's ${here.join(", ")}` : "does not admit 127.0.0.1"}: asking 127.0.0.1:${rt.port}, whose requests the publisher will likely refuse (give --retransmit HOST:${rt.port}, or add the address to the list)`,
    );
    return "127.0.0.1";
  }
  if (network.length === 1) return network[0]!;
  throw new UsageError(
    `--config: publish.retransmit.listen is 0.0.0.0:${rt.port} (every address of the publisher's host) and its destinations send from ${network.join(", ")}, none of them this host's: give --retransmit HOST:${rt.port} naming the publisher's host as this host reaches it`,
  );
}

/** The sources a multicast (or unicast) listen reads, and what its -c file says of them. Exported for its tests. */
export function resolveGroups(ctx: CommandContext): {
  groups: GroupSpec[];
  maxDatagramBytes: number;
  /** The file's publish.auth_key_file (the key itself: feedKeyOf, --auth-key-file overriding it). */
  fileKey: string | undefined;
  snapshotDepth: number;
  retransmit: RetransmitOptions | undefined;
} {
  const v = ctx.values;
  const iface = typeof v.iface === "string" ? v.iface : undefined;
  if (iface !== undefined) {
    const why = interfaceProblem(iface);
    if (why !== null) throw new UsageError(`--iface ${JSON.stringify(iface)} is not ${why}`);
  }
  const port = positiveInt(v.port, "port", undefined);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be 1..65535, got ${JSON.stringify(v.port)}`);
  const groups: GroupSpec[] = [];
  let maxDatagramBytes = ABS_MAX_DATAGRAM_BYTES;
  let fileKey: string | undefined;
  let snapshotDepth = 0;
  let retransmit: RetransmitOptions | undefined;
  if (typeof v.retransmit === "string") {
    // A host name or IPv4 address: any text took before ("a b:5"), each request then failing its lookup, counted only.
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(v.retransmit);
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`--retransmit ${JSON.stringify(v.retransmit)}: give HOST:PORT (PORT 1..65535)`);
    retransmit = { host: m[1]!, port: Number(m[2]) };
  }
  if (typeof v.config === "string") {
    // Only [publish] is read. With --iface the groups are joined on it, not on the destinations' interfaces: those
    // are not checked as this host's (before, another host's file was refused even so; as for to-nats --iface).
    // Likewise the file's key file beside --auth-key-file, which replaces it.
    const config = loadConfigFile(v.config, { requireVenue: false, destinationInterfacesUnused: iface !== undefined, authKeyFileUnused: typeof v["auth-key-file"] === "string" });
    maxDatagramBytes = config.publish.maxDatagramBytes;
    fileKey = config.publish.authKeyFile;
    snapshotDepth = config.publish.snapshotDepth;
    for (const d of config.publish.destinations) {
      if (d.group !== undefined) groups.push({ group: d.group, port: d.port, iface: iface ?? d.iface });
      else for (const r of d.receivers!) if (interfaceProblem(r.host) === null) groups.push({ bind: r.host, port: r.port });
    }
    // The flag names the server's host and port, the file the source ids: source s is asked on port + s − source_id
    // (before, beside the flag the file's source_id was ignored: a publisher's source 7 asked on port + 7, unanswered).
    if (retransmit !== undefined) retransmit = { ...retransmit, sourceIdBase: config.publish.sourceId ?? 0 };
    else if (config.publish.retransmit !== undefined && config.publish.retransmit.port !== 0) {
      const rt = config.publish.retransmit;
      const host = rt.host === "0.0.0.0" ? publisherHostOf(config.publish.destinations.map((d) => d.iface), rt, (m) => ctx.log.warn(m)) : rt.host;
      retransmit = { host, port: rt.port, sourceIdBase: config.publish.sourceId ?? 0 };
    }
  }
  for (const entry of Array.isArray(v.bind) ? (v.bind as string[]) : []) {
    const m = /^([^:]*):(\d{1,5})$/.exec(entry);
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`--bind ${JSON.stringify(entry)}: give a local IPv4 ADDR:PORT (PORT 1..65535)`);
    const why = interfaceProblem(m[1]!);
    if (why !== null) throw new UsageError(`--bind ${JSON.stringify(entry)}: ${m[1]} is not ${why}`);
    groups.push({ bind: m[1]!, port: Number(m[2]) });
  }
  const given = Array.isArray(v.group) ? (v.group as string[]) : [];
  for (const entry of given) {
    // Each refusal names the flag and the entry: "239.1.1.1:abc" was "give a port", one given; 10.0.0.1 named no flag.
    const q = `--group ${JSON.stringify(entry)}`;
    const colon = entry.indexOf(":");
    const addr = colon < 0 ? entry : entry.slice(0, colon);
    const portText = colon < 0 ? undefined : entry.slice(colon + 1);
    // Any digits are a number (six are out of range, said so below), as the --port check beside --group reads them.
    if (portText !== undefined && !/^\d+$/.test(portText)) throw new UsageError(`${q}: its port ${JSON.stringify(portText)} is not a number (G:P, P in 1..65535)`);
    const p = portText !== undefined ? Number(portText) : port;
    if (p === undefined) throw new UsageError(`${q}: give a port (G:P or --port)`);
    if (!(p >= 1 && p <= 65535)) throw new UsageError(`${q}: port ${portText} out of range (1..65535)`);
    const why = ipv4Problem(addr);
    if (why !== null || !isMulticastV4(addr)) throw new UsageError(`${q}: ${addr} is not an IPv4 multicast group${why === null ? "" : `: ${why}`}`);
    groups.push({ group: addr, port: p, iface: iface ?? "127.0.0.1" });
  }
  // --port is the port of --group entries without one, or of the default group; given beside --config or --bind
  // alone it would change nothing, silently.
  if (port !== undefined && groups.length > 0 && !given.some((e) => !/:\d+$/.test(e))) {
    throw new UsageError("--port applies to --group entries without a port (or the default group), and there is none here");
  }
  // The default group is for a listen without --config: a file with nothing to read here (unicast destinations only,
  // none of whose receivers is this host) joined 239.255.0.1:31001, which it does not name, and said "listening".
  if (groups.length === 0 && typeof v.config === "string") {
    throw new UsageError(
      `--config ${v.config}: nothing in it to read on this host: no multicast destination, and no unicast destination's receiver is an address of this host (give --bind ADDR:PORT or --group G:P)`,
    );
  }
  if (groups.length === 0) groups.push({ group: DEFAULT_GROUP, port: port ?? DEFAULT_PORT, iface: iface ?? "127.0.0.1" });
  // --iface is the interface groups are joined on: with unicast binds alone it changed nothing, silently (as --port).
  if (iface !== undefined && !groups.some((g) => g.group !== undefined)) throw new UsageError("--iface is the interface multicast groups are joined on, and there is none here (only --bind / unicast destinations)");
  for (const g of groups) {
    const why = g.group === undefined ? null : ipv4Problem(g.group);
    if (why !== null) throw new UsageError(`${g.group} is not an IPv4 multicast group: ${why}`);
    if (g.group !== undefined && !isMulticastV4(g.group)) throw new UsageError(`${g.group} is not an IPv4 multicast group`);
    if (!(g.port > 0 && g.port < 65536)) throw new UsageError(`port ${g.port} out of range`);
  }
  // The same group:port twice (e.g. config plus --group) would deliver every datagram twice.
  const seen = new Set<string>();
  return {
    groups: groups.filter((g) => {
      const key = `${g.group ?? g.bind}:${g.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
    maxDatagramBytes,
    fileKey,
    snapshotDepth,
    retransmit,
  };
}

/**
 * With --nats, why nothing can come now (the reader's health), for the table's line while it has no book. Before
 * 2026-12-06 it said "waiting for the first datagram … (is a feeder publishing to this group, on this interface?)"
 * while the reader could not connect, or its subscription or credentials were refused (said only in the log).
 */
function natsWaiting(reader: NatsFeedReader | undefined): string | undefined {
  if (reader === undefined) return undefined;
  const h = reader.health;
  if (h.authRefused) return "the NATS server refuses the reader's credentials: trying again every 2 s (the log says why)";
  if (!h.natsConnected) return "not connected to NATS: connecting again every 2 s (the log says why)";
  if (h.subscriptionRefused) return "the NATS server refuses the subscription (permissions on <prefix>.>): trying again every 2 s";
  if (h.subscriptionUnconfirmed) return "subscribing: the NATS server has not confirmed the subscription yet";
  return undefined;
}

export interface ListenOptions {
  /** The table's title instead of the groups joined (the demo puts its status URL there); wrapped to the width. */
  readonly title?: readonly string[];
  /** A line below the table saying what each column shown means (the demo's). */
  readonly legend?: boolean;
}

export async function listen(ctx: CommandContext, opts: ListenOptions = {}): Promise<number> {
  // Its stop is bounded (stopBounded): a second SIGINT/SIGTERM/SIGHUP is logged and ignored, not the process killed in it.
  const endHold = holdRepeatedStops(ctx.stopSignal, ctx.log, "stop");
  try {
    return await listenUntilDone(ctx, opts);
  } finally {
    endHold();
  }
}

async function listenUntilDone(ctx: CommandContext, opts: ListenOptions): Promise<number> {
  const v = ctx.values;
  const format = v.format === undefined ? "table" : v.format;
  if (format !== "table" && format !== "ndjson") throw new UsageError(`--format must be table or ndjson, got ${JSON.stringify(format)}`);
  const depth = positiveInt(v.depth, "depth", DEFAULT_DEPTH)!;
  // As export --books --depth: a record of more levels than any book holds is only longer.
  if (depth > MAX_DEPTH) throw new UsageError(`--depth must be at most ${MAX_DEPTH}, got ${JSON.stringify(v.depth)}`);
  // The table shows each side's best level: a --depth there changed nothing, silently.
  if (format === "table" && v.depth !== undefined) throw new UsageError("--depth sets the levels of --format ndjson records; the table shows each side's best level only");
  const count = positiveInt(v.count, "count", undefined);
  const durationS = durationSeconds(v.duration);
  const maxUnreadKib = positiveInt(v["max-unread-kib"], "max-unread-kib", DEFAULT_MAX_UNREAD_KIB)!;
  if (maxUnreadKib > MAX_UNREAD_KIB) throw new UsageError(`--max-unread-kib must be at most ${MAX_UNREAD_KIB} (1 GiB), got ${JSON.stringify(v["max-unread-kib"])}`);
  const maxUnreadBytes = maxUnreadKib * 1024;
  const sendAheadMaxMs = intIn(v["send-ahead-max-ms"], "send-ahead-max-ms", DEFAULT_SEND_AHEAD_MAX_MS, 0, MAX_SEND_AHEAD_MS); // as bridge to-nats'
  // With --nats, --config gives its [nats] section (credentials and TLS, the flags overriding it) and the feed's key
  // (publish.auth_key_file, --auth-key-file overriding it), as for `bridge from-nats -c`: before, -c was refused, and
  // then its key ignored (a reader given the bridge's file verified nothing). Only those are checked: a file of
  // another host (its [publish] interfaces not here) is no error.
  const natsWanted = v.nats !== undefined || v.stream !== undefined;
  // Before, multicast was read with these taken without a word (the operator believed a NATS prefix or start in effect).
  if (!natsWanted) for (const k of ["prefix", "from"]) if (v[k] !== undefined) throw new UsageError(`--${k} needs --nats (it is the NATS feed's)`);
  const natsFile = natsWanted && typeof v.config === "string" ? loadReaderSections(v.config) : undefined;
  let feedKey: FeedKey | undefined = natsWanted ? feedKeyOf(v["auth-key-file"], natsFile?.authKeyFile, v.config) : undefined;
  const nats: NatsReadOptions | undefined = natsWanted ? natsReadOptions(ctx, natsFile?.nats, feedKey) : undefined;
  const accessFlag = natsAccessGiven(v);
  if (nats === undefined && accessFlag !== undefined) throw new UsageError(`--${accessFlag} needs --nats (credentials and TLS of the NATS connection)`);
  // The multicast-only flags: --port, --retransmit and --iface were taken beside --nats without a word (until 2026-12-06).
  const multicastOnly = nats === undefined ? undefined : ["group", "bind", "port", "retransmit", "iface"].find((k) => v[k] !== undefined);
  // The reader stamps the datagrams it repacks with its own clock: no publisher's send time reaches the subscriber.
  if (nats !== undefined && v["send-ahead-max-ms"] !== undefined) {
    throw new UsageError("--nats reads NATS: leave out --send-ahead-max-ms (the reader stamps the datagrams it repacks; the to-nats bridge judges the publishers' send times with its own --send-ahead-max-ms)");
  }
  if (multicastOnly !== undefined) throw new UsageError(`--nats reads NATS: leave out --${multicastOnly} (--group, --bind, --port, --retransmit and --iface are multicast's; with --nats, --config gives only its [nats] credentials and TLS, and publish.auth_key_file)`);
  const resolved = nats === undefined ? resolveGroups(ctx) : { groups: [], maxDatagramBytes: ABS_MAX_DATAGRAM_BYTES, fileKey: undefined, snapshotDepth: 0, retransmit: undefined };
  const { groups, maxDatagramBytes, snapshotDepth, retransmit } = resolved;
  // Multicast: datagrams verified with the flag's key, else the file's (an unreadable or short one exits 2 naming it).
  if (nats === undefined) feedKey = feedKeyOf(v["auth-key-file"], resolved.fileKey, v.config);
  // With --nats the reader verified the envelopes and signs what it repacks with the key: the subscriber need not.
  // Multicast without a key: signed datagrams read unchecked are said once (the publisher has a key this reader
  // lacks). Not with --nats: the reader warns of signed envelopes itself, and a keyed one signs what it repacks.
  const onSignedUnverified =
    nats === undefined && feedKey === undefined
      ? () => ctx.log.warn("datagrams are signed but this reader has no key: read without verifying them (give --auth-key-file F, or a -c file whose publish.auth_key_file is the publisher's key)")
      : undefined;
  const sub = new FeedSubscriber({ groups, maxDatagramBytes, recvBufferBytes: RECV_BUFFER_BYTES, authKey: nats === undefined ? feedKey?.key : undefined, snapshotDepth, retransmit, sendAheadMaxMs, onSignedUnverified });
  const rows = new Map<number, Row>();
  let updates = 0;
  let finish: (why: string) => void = () => {};
  const done = new Promise<string>((resolve) => (finish = resolve));
  const ndjson = format === "ndjson";
  const pendingBytes = ctx.outPendingBytes ?? (() => 0);
  let skipping = 0; // rows skipped since the reader fell behind (0: rows are written)
  let skippedTotal = 0;
  /** The reader is behind by more than the bound (until half is taken). */
  const readerBehind = (): boolean => (skipping > 0 ? pendingBytes() > maxUnreadBytes / 2 : pendingBytes() > maxUnreadBytes);
  /** The line that counts the rows skipped, once the reader caught up. */
  const sayResumed = (): void => {
    if (skipping === 0) return;
    ctx.out(JSON.stringify({ type: "skipped", rows: skipping }));
    skipping = 0;
  };
  /** True when the row at hand is skipped (counted): the reader is behind. */
  const behind = (): boolean => {
    if (readerBehind()) {
      if (skipping === 0) ctx.log.warn("standard output's reader is behind: rows skipped until it catches up", { unreadBytes: pendingBytes(), skippedRowsBefore: skippedTotal });
      skipping++;
      skippedTotal++;
      return true;
    }
    sayResumed();
    return false;
  };
  // A symbol is a datagram's (unchecked): JSON.stringify escapes its C0 controls, not DEL or C1 (U+009B is CSI to a
  // UTF-8 terminal), so those are \u escapes too. Event records are few: checked whole; updates by their symbol.
  const row = (record: object): void => void (behind() || ctx.out(jsonForTerminal(JSON.stringify(record))));
  /**
   * Each book's `usable` as its last record said it. A script keeps a book's last record as its state: after a gap
   * the books it invalidated had no update until their next snapshot, and their last record said "usable": true.
   */
  const shownUsable = new Map<SubscriberBook, boolean>();
  /**
   * A {"type":"usable"} record when `book`'s usable is no longer what its last record said; false when the reader
   * is behind (deferred, not lost: the map holds what the output was told, said once it catches up).
   */
  const usableChange = (book: SubscriberBook, shown: boolean | undefined): boolean => {
    if (shown === undefined || book.usable === shown) return true;
    if (readerBehind()) return false;
    sayResumed();
    ctx.out(jsonForTerminal(JSON.stringify(usableRecord(book))));
    shownUsable.set(book, book.usable);
    return true;
  };
  /** The same for every book written (the 100 ms check, and after an event of a channel or stream). */
  const usableChanges = (): void => {
    for (const [book, shown] of shownUsable) if (!usableChange(book, shown)) return;
  };
  /**
   * A channel-wide event (gap, session, stale) may change any book: one look over every book once the events of
   * this turn are handled. A restart's session event and its supersede event per book, or every stream stale at
   * once, looked over every book per event: books² reads (10,000 books held the event loop ~5 s).
   */
  let scanQueued = false;
  const scanSoon = (): void => {
    if (scanQueued) return;
    scanQueued = true;
    queueMicrotask(() => {
      scanQueued = false;
      usableChanges();
    });
  };
  /** An event of a channel or stream: its record, then what it did to books' usability. */
  const eventRow = (record: object): void => {
    row(record);
    scanSoon();
  };
  /** An event of one book: its record, then what it did to that book's usability. */
  const bookEventRow = (book: SubscriberBook, record: object): void => {
    row(record);
    usableChange(book, shownUsable.get(book));
  };

  sub.on("update", (e: UpdateEvent) => {
    if (count !== undefined && updates >= count) return;
    updates++;
    if (ndjson) {
      if (!behind()) {
        const line = JSON.stringify(updateRecord(e, depth));
        ctx.out(hasJsonRawControl(e.book.instrument.symbol) ? jsonForTerminal(line) : line);
        shownUsable.set(e.book, e.book.usable);
      }
    } else {
      let row = rows.get(e.book.instrumentId);
      if (row === undefined) {
        row = { book: e.book, updatesSinceDraw: 0, updatesPerSec: 0, latencies: new Float64Array(LATENCY_SAMPLES), latencyCount: 0, latencyNext: 0 };
        rows.set(e.book.instrumentId, row);
      }
      row.updatesSinceDraw++;
      row.latencies[row.latencyNext] = e.latencyUs;
      row.latencyNext = (row.latencyNext + 1) % LATENCY_SAMPLES;
      if (row.latencyCount < LATENCY_SAMPLES) row.latencyCount++;
    }
    if (count !== undefined && updates >= count) finish("count");
  });
  if (ndjson) {
    sub.on("gap", (e) => eventRow({ type: "gap", ...e }));
    sub.on("session", (e) => eventRow({ type: "session", ...e }));
    // The subscriber's own stop (every stream marked stale, `stopped`) is no news about the feed: listen is ending.
    sub.on("stale", (e) => void (e.stopped || eventRow({ type: "stale", ...e })));
    // A repair makes its book valid before the update carrying the repaired levels, which follows at once and says
    // usable itself: a usable record here said "usable": true while a script held the levels that differed.
    sub.on("repair", (e) => row({ type: "repair", ...bookRef(e.book), instrSeq: e.instrSeq, refresh: e.refresh, levelsDiffered: e.levelsDiffered, channelId: e.channelId }));
    sub.on("supersede", (e) => bookEventRow(e.book, { type: "supersede", ...bookRef(e.book), previousSessionId: e.previousSessionId, sessionId: e.sessionId, channelId: e.channelId }));
    sub.on("evict", (e) => {
      bookEventRow(e.book, { type: "evict", ...bookRef(e.book), channelId: e.channelId, sourceId: e.sourceId });
      shownUsable.delete(e.book); // gone for good (its record said so, or was skipped and counted): the map stays bounded
    });
    sub.on("exponent", (e) => bookEventRow(e.book, { type: "exponent", ...bookRef(e.book), previousPriceExp: e.previousPriceExp, previousQtyExp: e.previousQtyExp, priceExp: e.priceExp, qtyExp: e.qtyExp }));
    sub.on("error", (e) => row({ type: "error", message: e.error.message, from: e.from }));
  } else {
    // A book evicted from the subscriber's full table is never updated again; its id's next book gets a new row.
    sub.on("evict", (e) => void rows.delete(e.book.instrumentId));
    sub.on("session", (e) => ctx.log.info(`session ${e.kind}`, { channelId: e.channelId, sourceId: e.sourceId, sessionId: e.sessionId, ...(e.removed ? { removed: true } : {}) }));
    sub.on("gap", (e) => ctx.log.warn("gap", { channelId: e.channelId, sourceId: e.sourceId, expected: e.expected, got: e.got }));
    // Before, only ndjson said these: with the table a retransmission reply dropped as from an address not asked (every
    // gap falling back) or a rejected datagram was at most a count. Rate-limited: a flood of junk is one line per 5 s.
    const feedErrors = new RateLimitedLog(ctx.log, "warn", "the feed's subscriber reported an error");
    sub.on("error", (e) => feedErrors.hit(e.error.message, e.from));
  }

  await sub.start();
  let reader: NatsFeedReader | undefined;
  if (nats !== undefined) {
    // A signal while it connects (a NATS server that does not answer holds it for 5 s) stops it there, exit 0.
    // Repacked for this process's subscriber only (no network between): as large as it takes (ABS_MAX_DATAGRAM_BYTES,
    // as its maxDatagramBytes), so every message of a feed published at any publish.max_datagram_bytes is read. At
    // the reader's 1400 (until 2026-12-06) a longer one was refused as bad_message, a feed at 9000 never whole here.
    const natsReader = (reader = new NatsFeedReader({ ...nats, maxDatagramBytes: ABS_MAX_DATAGRAM_BYTES }, (d) => sub.ingest(d)));
    try {
      if ((await startOrStop(natsReader.start(), ctx.stopSignal, () => Promise.all([natsReader.stop(), sub.stop()]))) === "stopped") {
        ctx.log.info("stopped during start-up", { signal: await ctx.stopSignal });
        return 0;
      }
    } catch (err) {
      ctx.log.error("cannot read NATS", { error: (err as Error).message });
      await sub.stop();
      return 1;
    }
  }
  // The NATS options by name: they hold the HMAC key (authKey), which is never logged; where it came from is.
  const natsLogged = nats === undefined ? undefined : { servers: nats.servers, prefix: nats.prefix, stream: nats.stream, from: nats.from };
  ctx.log.info("listening", { groups: groups.map((g) => (g.group !== undefined ? `${g.group}:${g.port}@${g.iface}` : `unicast ${g.bind}:${g.port}`)), nats: natsLogged, verifiedWith: describeFeedKey(feedKey), format });
  // The kernel keeps min(request, net.core.rmem_max) and reports double that: the reported figure compared with the
  // request (until 2026-12-07) let a cap at half of it or more (rmem_max 4 MiB) pass without a word.
  const grantedBytes = Math.min(...sub.recvBufferSizes()) / 2;
  if (grantedBytes < RECV_BUFFER_BYTES) {
    ctx.log.warn("receive buffer smaller than requested; raise net.core.rmem_max to avoid drops under bursts", {
      requestedBytes: RECV_BUFFER_BYTES,
      grantedBytes,
    });
  }

  const tty = !ndjson && process.stdout.isTTY === true;
  const where = nats === undefined ? groups.map((g) => (g.group !== undefined ? `${g.group}:${g.port} on ${g.iface}` : `unicast ${g.bind}:${g.port}`)) : [`NATS ${nats.prefix}.> ${nats.stream ? `stream ${nats.stream} from ${String(nats.from)}` : "live"}`];
  const title = opts.title ?? ["feeder listen", ...where];
  // What to ask of the sender: the question was a group's on an interface for --bind alone and for --nats too.
  const unicast = groups.filter((g) => g.group === undefined).length;
  const sendersHint =
    nats !== undefined
      ? "(is a `feeder bridge to-nats` publishing under this prefix?)"
      : unicast === 0
        ? "(is a feeder publishing to this group, on this interface?)"
        : unicast === groups.length
          ? "(is a feeder's unicast destination sending to this address and port?)"
          : "(is a feeder publishing to these?)";
  // UPD/S's time between draws is monotonic: on Date.now a wall clock stepped back made it negative (taken as 1 ms,
  // so ~200 updates a second were shown as some hundred thousand), one stepped forward made every rate near 0.
  let lastDrawMs = performance.now();
  const draw = () => {
    if (pendingBytes() > maxUnreadBytes) return; // a reader that takes nothing: the next table says it all anyway
    const nowMs = performance.now();
    const elapsedS = Math.max(0.001, (nowMs - lastDrawMs) / 1000);
    lastDrawMs = nowMs;
    const tableRows = [];
    for (const row of rows.values()) {
      row.updatesPerSec = row.updatesSinceDraw / elapsedS;
      row.updatesSinceDraw = 0;
      tableRows.push({ book: row.book, updatesPerSec: row.updatesPerSec, latenciesUs: row.latencies.subarray(0, row.latencyCount) });
    }
    const c = sub.counters;
    const waitingFor =
      (stopping ? undefined : natsWaiting(reader)) ??
      (c.datagrams === 0
        ? `waiting for the first datagram on ${where.join(", ")} ${sendersHint}`
        : `receiving (${c.datagrams} datagrams), waiting for the first book snapshot (sent every publish.snapshot_interval_ms)`);
    const width = (tty ? process.stdout.columns : undefined) || DEFAULT_TABLE_WIDTH;
    const table = renderTable(tableRows, { title, waitingFor, counters: c, width, legend: opts.legend });
    ctx.out(tty ? "\x1b[H\x1b[J" + table : table + "\n");
  };
  // The last table is drawn after the reader stopped: its connection is then closed by the stop, not down.
  let stopping = false;
  const timer = ndjson ? setInterval(usableChanges, USABLE_CHECK_MS) : setInterval(draw, tty ? TTY_REDRAW_MS : PLAIN_REDRAW_MS);
  const durationTimer = durationS === undefined ? undefined : setTimeout(() => finish("duration"), durationS * 1000);
  const endedBy = await Promise.race([done, ctx.stopSignal]);
  if (timer !== undefined) clearInterval(timer);
  if (durationTimer !== undefined) clearTimeout(durationTimer);
  // Bounded as run's (a stop that hangs must not hold the process); the last table and the counts come after it.
  const stopped = (async () => {
    stopping = true;
    await reader?.stop();
    if (!ndjson) draw(); // the books as last heard: once stopped, the subscriber shows none usable
    await sub.stop();
  })();
  await stopBounded(stopped, ctx.log, "the feed's sockets or NATS connection not closed");
  if (skipping > 0) ctx.out(JSON.stringify({ type: "skipped", rows: skipping }));
  // -n N with --duration: the time up before N updates is no success (it was exit 0, so `listen -n 100 --duration 10`
  // in a script could not tell 100 updates from none: nothing published on the group, a wrong interface).
  const countShort = endedBy === "duration" && count !== undefined && updates < count;
  if (countShort) ctx.log.error(`--duration ${durationS} s ended after ${updates} of --count ${count} updates`, { updates, count });
  if (skippedTotal === 0) return countShort ? 1 : 0;
  // The output is not the feed's every update: say so, and fail the command (a script must not take it as whole).
  ctx.log.error(`${skippedTotal} rows skipped: standard output's reader was slower than the feed (see --max-unread-kib)`, { skippedRows: skippedTotal });
  return 1;
}

/** A book whose `usable` changed without an update: its state as an update record gives it, without levels. */
function usableRecord(b: SubscriberBook): Record<string, unknown> {
  return {
    type: "usable",
    ...bookRef(b),
    usable: b.usable,
    valid: b.valid,
    stale: b.stale,
    state: BOOK_STATE_NAMES[b.state] ?? String(b.state),
    reason: STATUS_REASON_NAMES[b.reason] ?? String(b.reason),
  };
}

