/**
 * NATS flags shared by `feeder bridge` and `feeder listen`: servers, subject prefix, stream, start point, credentials
 * and TLS (nats-credentials.ts).
 * @module
 */
import { readAuthKeyFile } from "../../core/auth-key.ts";
import { RateLimitedLog } from "../../core/log.ts";
import { shownPath } from "../../core/secret-path.ts";
import { MAX_PREFIX_CHARS, prefixProblem, type BridgeEvent, type EnvelopeRefusal } from "../../subscriber/nats-envelope.ts";
import { useNatsModules, type NatsReadOptions, type NatsReaderEvent } from "../../subscriber/nats-source.ts";
import type { NatsConfig } from "../../config/types.ts";
import { UsageError, type CommandContext } from "../command.ts";
import { NATS_ACCESS_OPTIONS, natsAccessOf } from "./nats-credentials.ts";

// Literal imports, so that `bun build --compile` puts the NATS packages into the binary (the library's own loader
// names them by a computed string to keep them optional peers, and the bundler cannot follow that).
useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") });

export const DEFAULT_PREFIX = "feeder";

export const NATS_OPTIONS = {
  nats: { type: "string" },
  prefix: { type: "string" },
  stream: { type: "string" },
  from: { type: "string" },
  ...NATS_ACCESS_OPTIONS,
} as const;

/** The longest --prefix (nats-envelope.ts: the library's options are held to it too). */
export { MAX_PREFIX_CHARS };

/** A subject prefix: dot-separated tokens of letters, digits, `_` and `-` (no wildcards, no spaces), MAX_PREFIX_CHARS at most. */
export function prefixOf(v: unknown): string {
  if (v === undefined) return DEFAULT_PREFIX;
  const why = prefixProblem(v, "--prefix"); // the library's rule (prefixCheck), naming the flag
  if (why !== undefined) throw new UsageError(why);
  return v as string;
}

/** nats://host:port, comma-separated for several servers. */
export function serversOf(v: unknown): string[] {
  if (typeof v !== "string" || v === "") throw new UsageError("--nats URL is required, e.g. nats://127.0.0.1:4222");
  const servers = v.split(",").map((s) => s.trim());
  for (const s of servers) {
    // The client takes no credentials from a URL: it connected without them (refused by a server requiring them), a
    // password of digits became the port, and the URL went to the log as given. Said without echoing the URL.
    if (s.includes("@")) throw new UsageError(`--nats takes no credentials (user:password@ or token@): the NATS client would connect without them; give them in files: --nats-creds, --nats-user with --nats-password-file, --nats-token-file or --nats-nkey-file (docs/nats.md#authentication)`);
    // Host and port as the client reads them (an http: URL, nats-core servers.js): one it cannot parse (a port over
    // 65535, `a:b:4222`) failed only as it connected, exit 1, which the bridge's unit restarts for ever (port 0 too).
    const m = /^(?:(?:nats|tls):\/\/)?([^\s/?#]+):(\d+)$/.exec(s);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || !(port >= 1 && port <= 65535) || !URL.canParse(`http://${m[1]}:${port}`)) throw new UsageError(`--nats ${JSON.stringify(s)} is not nats://host:port (port 1..65535)`);
  }
  return servers;
}

/** How far ahead of this host's clock a --from time may be (the clocks of this host and the NATS server differ). */
const FROM_AHEAD_MS = 60_000;

/**
 * --from now | all | an ISO 8601 time (replay of the stream's history from it); only with --stream. A date alone is
 * its UTC midnight; a space may stand for the T. A time of day needs its zone (Z or ±hh:mm): without one, JavaScript reads it in the host's zone,
 * so the same command replayed from another hour on a host not on UTC. A time in the future (a mistyped year) read
 * nothing until then, silently: refused.
 */
export function fromOf(v: unknown, stream: string | undefined, nowMs: number = Date.now()): "now" | "all" | Date {
  if (v === undefined) return "now";
  if (stream === undefined) throw new UsageError("--from needs --stream (the live subjects have no history)");
  if (v === "now" || v === "all") return v;
  const s = String(v);
  // RFC 3339 lets a space stand for the T (`date -u '+%F %TZ'`, `--from "2026-12-04 10:00:00Z"`); taken before 2026-12-06
  // and refused by it as "not an ISO time": read as the T.
  const iso = s.replace(/^(\d{4}-\d\d-\d\d) (?=\d)/, "$1T");
  const t = typeof v === "string" ? new Date(iso) : new Date(NaN);
  if (Number.isNaN(t.getTime()) || !/^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/i.test(iso)) {
    throw new UsageError(`--from must be now, all or an ISO time such as 2026-12-04T10:00:00Z, got ${JSON.stringify(v)}`);
  }
  // JavaScript rolls a day past its month's end over into the next month (2026-02-30 read as 2026-03-02): a typo replayed
  // from another day than the one written, without a word.
  const [year, month, day] = iso.slice(0, 10).split("-").map(Number) as [number, number, number];
  const monthDays = month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day > monthDays) throw new UsageError(`--from ${JSON.stringify(v)} is no date: ${iso.slice(0, 7)} has ${monthDays} days`);
  if (/t/i.test(iso) && !/(?:Z|[+-]\d\d:?\d\d)$/i.test(iso)) throw new UsageError(`--from ${JSON.stringify(v)} has no zone: give it, e.g. ${s}Z (UTC) or ${s}+01:00`);
  if (t.getTime() > nowMs + FROM_AHEAD_MS) throw new UsageError(`--from ${JSON.stringify(v)} is in the future (${t.toISOString()}): nothing would be read until then`);
  return t;
}

/** The feed's HMAC key a bridge or reader uses: its bytes, its file and where that was named. */
export interface FeedKey {
  readonly key: Uint8Array;
  readonly file: string;
  readonly from: "--auth-key-file" | "publish.auth_key_file";
}

/**
 * The feed's key: `--auth-key-file` when given, else the --config file's `publish.auth_key_file` (`fileKey`), else
 * none. So one file given to every process covers the feed end to end: to-nats signs with its key, from-nats and
 * listen --nats verify with it, as listen -c verifies datagrams (before, the readers took the file's [nats] and not
 * its key: they checked nothing). Read once here: a key that cannot be read exits 2 naming where it was named (the
 * key and `configFile`, the --config file, for the file's). The
 * flag's file may be a FIFO (read once: `<(pass show feed-key)`); the configuration's may not, as for the publisher.
 */
export function feedKeyOf(flag: unknown, fileKey: string | undefined, configFile?: unknown): FeedKey | undefined {
  const file = typeof flag === "string" ? flag : fileKey;
  if (file === undefined) return undefined;
  const from = typeof flag === "string" ? "--auth-key-file" : "publish.auth_key_file";
  try {
    return { key: readAuthKeyFile(file, from, { fifo: from === "--auth-key-file" }), file, from };
  } catch (err) {
    // The key file is named by the message (when it looks like a path); the config file that names it, here.
    const named = typeof configFile === "string" ? `named by publish.auth_key_file in --config ${configFile}` : "the --config file's feed key";
    const which = from === "publish.auth_key_file" ? ` (${named}, used to sign or verify the feed here: make it readable, or give --auth-key-file F)` : "";
    throw new UsageError((err as Error).message + which);
  }
}

/** What a start line says of the key: `none`, or where it was named and its file (not shown unless a path). */
export function describeFeedKey(k: FeedKey | undefined): string {
  return k === undefined ? "none" : `${k.from} ${shownPath(k.file)}`;
}

/**
 * `natsFile`: a --config file's [nats], which the credential and TLS flags override. `feedKey`: the key envelopes
 * must be signed with (feedKeyOf; by default --auth-key-file's).
 */
export function natsReadOptions(ctx: CommandContext, natsFile?: NatsConfig, feedKey = feedKeyOf(ctx.values["auth-key-file"], undefined)): NatsReadOptions {
  const v = ctx.values;
  const stream = typeof v.stream === "string" ? v.stream : undefined;
  if (stream !== undefined && !/^[A-Za-z0-9_-]+$/.test(stream)) throw new UsageError(`--stream must be a JetStream stream name (letters, digits, _ -), got ${JSON.stringify(stream)}`);
  const onBridgeEvent = (e: BridgeEvent) =>
    e.kind === "second_bridge"
      ? ctx.log.warn("two bridges forward one upstream stream under this prefix: following one, dropping the other's copies", { ...e })
      : ctx.log.warn("the followed bridge went silent: switched to the other (a gap: books rebuilt from their next refresh)", { ...e });
  // The connection closed for good, a refused subscription: said (before, the reader ran on with nothing, silent).
  const onNatsEvent = natsEventLog(ctx, stream);
  // The key: only envelopes signed with it (a bridge given it) are read; the rest are refused, counted.
  const authKey = feedKey?.key;
  const servers = serversOf(v.nats);
  // Credentials and required TLS, from files read once here (a bad one exits 2 naming it; never the secret).
  const { credentials, tls } = natsAccessOf(v, servers, ctx.log, natsFile);
  // A message the subscriber's decoder would refuse: refused alone, a gap of the reader's stream (its books untrusted
  // until their refresh), named. Before 2026-12-07 the reader said nothing (the subscriber had named it, refusing the
  // whole repacked datagram, until that day).
  const badMessage = new RateLimitedLog(ctx.log, "warn", "NATS message refused: the decoder would refuse it (a gap of the reader's stream: its books untrusted until their refresh)");
  if (authKey === undefined) {
    // Signed envelopes read without a key: the bridge was given the feed's key and this reader not, so nothing is
    // verified though the operator may believe it is (before, said nothing: the start line's verifiedWith alone).
    const onSignedUnverified = () =>
      ctx.log.warn("NATS envelopes are signed but this reader has no key: read without verifying them (give --auth-key-file F, or a -c file whose publish.auth_key_file is the bridge's key)");
    const onRefused = (why: EnvelopeRefusal, detail?: string) => void (why === "bad_message" && badMessage.hit(detail));
    return { servers, prefix: prefixOf(v.prefix), stream, from: fromOf(v.from, stream), onBridgeEvent, onNatsEvent, onSignedUnverified, onRefused, credentials, tls };
  }
  // With a key and a bridge without it (or with another key) every envelope is refused: said at once, then at most
  // every 5 s. Before, listen --nats showed an empty table and logged nothing.
  const badAuth = new RateLimitedLog(
    ctx.log,
    "warn",
    `NATS envelopes refused: not signed with the ${feedKey!.from} key (the bridge needs the same key: to-nats --auth-key-file, or publish.auth_key_file of its -c file; a bridge without it has every envelope refused)`,
  );
  const onRefused = (why: EnvelopeRefusal, detail?: string) => void (why === "bad_auth" ? badAuth.hit() : why === "bad_message" && badMessage.hit(detail));
  return { servers, prefix: prefixOf(v.prefix), stream, from: fromOf(v.from, stream), onBridgeEvent, onNatsEvent, authKey, onRefused, credentials, tls };
}

/**
 * Why the JetStream client ended a consumer, from its error (its text in the line's `error`): before 2026-12-07
 * always "it gave up making it again", also for a refused inbox subscription or a pull the server refused.
 */
export function consumerEndWhy(error: string | undefined): string {
  if (error === undefined || error === "ended") return "its messages ended, no error given";
  if (/permissions violation/i.test(error)) return "the NATS server refused its inbox subscription (permissions)";
  // 30 makes in a row failed: its stream missing, JetStream not answering (a timeout; no responders, which the client
  // calls "jetstream is not enabled": before 2026-12-07 that one was "it stopped on an error").
  if (/stream not found|timeout|jetstream is not enabled/i.test(error)) return "it gave up making it again";
  return "it stopped on an error: see error"; // a pull refused (400), a make refused 30 times in a row…
}

/** The reader's connection events as log lines; the repeated ones (a try every 2 s) at most one per 5 s. */
function natsEventLog(ctx: CommandContext, stream: string | undefined): (e: NatsReaderEvent) => void {
  const failed = new RateLimitedLog(ctx.log, "warn", "connecting to NATS again failed: trying again every 2 s (nothing is read meanwhile: the books go stale)");
  const refused = new RateLimitedLog(
    ctx.log,
    "error",
    "the NATS server refused the subscription (permissions on <prefix>.>): nothing is read, the books go stale; trying again every 2 s",
  );
  return (e) => {
    if (e.kind === "closed") ctx.log.error("the NATS client closed its connection for good (authorization errors): nothing is read, the books go stale; connecting again every 2 s", { error: e.error });
    else if (e.kind === "reconnected") ctx.log.info("connected to NATS again");
    else if (e.kind === "reconnect_failed") failed.hit(e.error);
    else if (e.kind === "subscription_refused") refused.hit(e.error);
    // Once per run of refusals (each counted: natsAuthErrors), with the server's reason; never the credentials.
    else if (e.kind === "auth_refused") ctx.log.error("the NATS server refused the reader's credentials: nothing is read, the books go stale; trying again every 2 s", { reason: e.error });
    else if (e.kind === "auth_accepted") ctx.log.info("the NATS server took the reader's credentials again");
    // The JetStream client ended the stream's consumer by itself: the reader makes one.
    else if (e.kind === "consumer_ended") ctx.log.error(`the NATS client ended the stream's consumer (${consumerEndWhy(e.error)}): nothing is read, the books go stale; making a new one, tried again with backoff`, { error: e.error });
    else if (e.kind === "consumer_made") ctx.log.info("the stream is read again by a new consumer");
    // Once per episode (the reader looks again with backoff): the stream was made again for another prefix.
    else if (e.kind === "stream_foreign") ctx.log.error("the JetStream stream keeps another feed's subjects: nothing is read from it, the books go stale; looking at it again with backoff", { error: e.error });
    // The same stream no longer holds where the reader was: said with the stream and both sequences.
    // Nothing read yet (unread): lastRead is where it started, and it reads on after the stream's last message.
    else if (e.kind === "stream_discontinuity" && e.why === "truncated" && e.unread === true) ctx.log.error(`JetStream stream ${stream} ends at sequence ${e.lastSeq}, below the ${e.lastRead} this reader started after, nothing read yet (its store lost its tail in a crash, or was restored from an older copy): a gap, every book resyncs at its next snapshot; reading on after its last message now`, { stream, lastRead: e.lastRead, lastSeq: e.lastSeq, unread: true });
    // Its sequence gone back on the client's consumer, the stream may have grown to or past lastRead by the look.
    else if (e.kind === "stream_discontinuity" && e.why === "truncated" && (e.lastSeq ?? 0) >= (e.lastRead ?? 0)) ctx.log.error(`JetStream stream ${stream} numbered new messages again at sequences already read (up to ${e.lastRead}); it ends at sequence ${e.lastSeq} now (its store lost its tail in a crash, or was restored from an older copy): a gap, every book resyncs at its next snapshot; reading on from the first message stored since`, { stream, lastRead: e.lastRead, lastSeq: e.lastSeq });
    else if (e.kind === "stream_discontinuity" && e.why === "truncated") ctx.log.error(`JetStream stream ${stream} ends at sequence ${e.lastSeq}, below the ${e.lastRead} already read (its store lost its tail in a crash, or was restored from an older copy): a gap, every book resyncs at its next snapshot; reading on from the first message stored since`, { stream, lastRead: e.lastRead, lastSeq: e.lastSeq });
    else if (e.kind === "stream_discontinuity") ctx.log.warn(`JetStream stream ${stream} starts at sequence ${e.firstSeq}, past the ${e.lastRead} last read (its limits dropped them, or an operator purged them, before they were read): a gap, every book resyncs at its next snapshot`, { stream, lastRead: e.lastRead, firstSeq: e.firstSeq, lastSeq: e.lastSeq });
    else if (e.kind === "replay_starts_later") ctx.log.warn("--from is before the stream's oldest message (what came before aged out by its --max-age or --max-bytes, or was never stored): the replay starts there", { firstStoredAt: e.firstStoredAt });
    else ctx.log.info("the NATS server took the subscription again");
  };
}
