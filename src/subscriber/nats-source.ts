/**
 * Reading the feed from NATS (docs/nats.md): a subject tree `<prefix>.>` live ("now"), or a JetStream stream from
 * "now", from its start ("all") or from a time (replay of history). Each NATS message is one bridge envelope
 * (nats-envelope.ts); `NatsFeedReader` repacks them into ordinary wire v3 datagrams of its own stream and hands
 * them to a sink: `FeedSubscriber.ingest` (attachNats) or a multicast socket (the reverse bridge).
 *
 * The official NATS clients (`@nats-io/transport-node`, `@nats-io/jetstream`) are loaded with a dynamic import
 * only when a reader starts, so the subscriber package installs and runs without them (optional peers).
 * @module
 */
import { EnvelopeRepacker, prefixCheck, type BridgeEvent, type EnvelopeRefusal, type RepackerCounters } from "./nats-envelope.ts";
import type { FeedSubscriber } from "./feed-subscriber.ts";
import { awaitWithin, CUT_OFF } from "../core/await-within.ts";
import type { ChannelPacker } from "../wire/packer.ts";
import { followWallClock, monoEpochMs, monoEpochUs, shownUs } from "./mono-clock.ts";
import { accessOptions, describeCredentials, isAuthError, type NatsAccess, type NatsCredentials, type NatsTls } from "./nats-auth.ts";

export interface NatsReadOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers: string | string[];
  /** Subject prefix the bridge publishes under; the reader takes `<prefix>.>`. Default "feeder". */
  prefix?: string;
  /** Read this JetStream stream instead of the live subjects. */
  stream?: string;
  /** With `stream`: "now" (default), "all" (everything the stream holds) or a time (replay from it). */
  from?: "now" | "all" | Date;
  /** The repacked stream's channel and source id (what subscribers see). Defaults 1 and 65000. */
  channelId?: number;
  sourceId?: number;
  /** Heartbeat interval of the repacked stream, ms (sent only while upstream is alive, or to carry a gap or a new session). Default 200. */
  heartbeatIntervalMs?: number;
  /**
   * Largest repacked datagram, default 1400: 856 (MIN_PUBLISH_DATAGRAM_BYTES, the longest definition's) up to 65507,
   * and no less than the upstream publishers' publish.max_datagram_bytes (a message is repacked whole: a larger
   * one is refused as `bad_message`). A smaller value throws.
   */
  maxDatagramBytes?: number;
  /**
   * Told when two bridges forward one upstream stream under this prefix (the reader follows one and drops the
   * other's copies) and when it switches to the other because the followed one went silent (docs/nats.md).
   */
  onBridgeEvent?: (e: BridgeEvent) => void;
  /**
   * The feed's HMAC key (as the bridge's --auth-key-file): envelopes not signed with it are refused
   * (`counters.refused.bad_auth`), so nobody without the key can put a message into the books; the repacked
   * datagrams are signed with it, for subscribers that require it. Without it, envelopes are taken unchecked.
   */
  authKey?: Uint8Array;
  /** Told of every envelope refused (`counters.refused` names the reasons), e.g. to warn of `bad_auth`; `detail`: what was wrong, for `bad_message`. */
  onRefused?: (why: EnvelopeRefusal, detail?: string) => void;
  /** Without authKey: told once, at the first signed envelope read (its trailer unchecked: the bridge has a key, this reader not). */
  onSignedUnverified?: () => void;
  /** Told when the connection closed for good, is back, could not be made again, or the subscription is refused or taken again. */
  onNatsEvent?: (e: NatsReaderEvent) => void;
  /**
   * Told when one of the callbacks above throws, after it is counted (`listenerErrors`); attachNats reports it as the
   * subscriber's `error` event by default. Before 2026-12-06 the throw escaped into the NATS client's callback (or
   * ended the reader's watch of its connection's events).
   */
  onListenerError?: (error: Error) => void;
  /** The least silence of a followed bridge before switching to another, ms (RepackerOptions.failoverMinMs): default 5000; shorter for tests only. */
  failoverMinMs?: number;
  /** How long after the client closed for good (or the server refused the subscription) the reader tries again. Default 2000. */
  reconnectAfterCloseMs?: number;
  /** Credentials for the server (never logged). Without: none, as before. */
  credentials?: NatsCredentials;
  /** TLS required (with a private CA, a client certificate); also with a `tls://` server URL. Without: TLS if offered. */
  tls?: NatsTls;
}

/**
 * What the reader tells of its connection (NatsReadOptions.onNatsEvent): `closed` — the client closed it for good
 * (two authorization errors in a row: a server restarted requiring credentials), the reader connects again every
 * reconnectAfterCloseMs; `reconnected` / `reconnect_failed` — one such attempt (`reconnect_failed` also for the
 * start's own connection when it dropped, or went unanswered, before it was subscribed (the live SUB's round trip, a
 * JetStream request): start() resolves and the reader connects again as after a close for good); `subscription_refused` — the server
 * refused the subscription on `<prefix>.>` (permissions), tried again as long; `subscribed` — taken after a refusal.
 * `auth_refused` — the server refused the reader's credentials (its reason in `error`): told once per episode, each
 * refusal counted (`natsAuthErrors`), the reader trying again on the pacing above; `auth_accepted` — the episode's end.
 * `consumer_ended` — the client ended the stream's consumer by itself (`error`: why): the reader makes a
 * new one, tried again with backoff (`health.streamProblem` meanwhile); `consumer_made` — that new consumer is made.
 * `stream_foreign` — the stream, made again (or its subjects edited in place), keeps another prefix's subjects (`error` says which): not read, not ready
 * (`foreign_subjects`), looked at again with backoff until it is this feed's (`consumer_made`); found by a connect made
 * again after a close for good, that connection is kept, told `reconnected` first (at start it is a rejection).
 * Meanwhile nothing comes: the reader stops its heartbeats and the subscriber's books go stale.
 * `replay_starts_later` — at start, a replay from a time before the stream's oldest message (what came before aged out
 * by its max age or size, or was never stored): it starts at that message, stored at `firstStoredAt`. Once per start().
 * `stream_discontinuity` — the same stream (same creation time) no longer holds where the reader was: `truncated`, its
 * last sequence (`lastSeq`) below the last one read (`lastRead`; with nothing read yet, `unread` and the one its start
 * is after: a server's store lost its tail in a crash, or was restored from an older copy), or its sequence gone back
 * on the client's consumer, or the message at `lastRead` stored at another time or gone (`lastSeq` then maybe at or
 * past `lastRead`, the stream grown since), read on from the first
 * message stored after the last one read (nothing read: after the stream's last now); `discarded`, its first
 * sequence (`firstSeq`) past the one after it (aged out or dropped by its limits, or purged, before the reader read them). Either
 * way a gap of the reader's stream: every book is resynced at its next snapshot.
 */
export interface NatsReaderEvent {
  kind: "closed" | "reconnected" | "reconnect_failed" | "subscription_refused" | "subscribed" | "auth_refused" | "auth_accepted" | "consumer_ended" | "consumer_made" | "stream_foreign" | "replay_starts_later" | "stream_discontinuity";
  /** The client's or the server's reason. */
  error?: string;
  /** `stream_discontinuity`: which (see above), the stream sequence last read, and the stream's first and last now. */
  why?: "truncated" | "discarded";
  lastRead?: number;
  /** `stream_discontinuity` `truncated` before anything was read: `lastRead` is the sequence the reader started after. */
  unread?: boolean;
  firstSeq?: number;
  lastSeq?: number;
  /** `replay_starts_later`: when the stream's oldest message was stored (the server's RFC 3339 time). */
  firstStoredAt?: string;
}

/**
 * How long stop() waits for the server to delete the stream's consumer (deleteConsumer): a server that does not answer
 * leaves it to expire there (5 min), the stop not held longer (the CLI's stop has 1.5 s in all).
 */
const CONSUMER_DELETE_WITHIN_MS = 500;

/**
 * Cold: `p` settled (never an error) or `withinMs` passed. The timer is unref'd: not waited for (a consumer replaced
 * or ended), an unanswered deletion's bound held the process 0.5 s (until 2026-12-07); stop() awaits it while its
 * connection, still open, holds the process.
 */
async function settledWithin(p: Promise<unknown>, withinMs: number): Promise<void> {
  await awaitWithin(p.then(() => undefined, () => undefined), withinMs, true);
}

/**
 * A stored time as the server writes it (RFC 3339 to the nanosecond) in ns since the epoch, rounded to a double as the
 * client's `timestampNanos` is (its parseInt of the same integer); undefined if it is not one.
 */
export function storedNanos(rfc3339: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  const ms = m === null ? Number.NaN : Date.parse(m[1] + m[3]);
  if (m === null || !Number.isFinite(ms)) return undefined;
  return Number(BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0")));
}

/** Default of NatsReadOptions.reconnectAfterCloseMs (the forward bridge's RECONNECT_AFTER_CLOSE_MS). */
export const READER_RETRY_MS = 2000;

/** The parts of the NATS client used here (typed locally: the package is an optional, dynamically loaded peer). */
interface NatsMsg {
  data: Uint8Array;
  /** JetStream messages: `pending` is what the consumer still holds after this one (0: at the stream's live end). */
  info?: { pending: number; streamSequence?: number; timestampNanos?: number };
}
interface NatsSub {
  unsubscribe(): void;
}
interface NatsConnection {
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: NatsMsg) => void }): NatsSub;
  drain(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<void | Error>;
  isClosed?(): boolean;
  /** A PING/PONG round trip: resolves once the server has read all that was sent before it (a SUB among it). */
  flush?(): Promise<void>;
  /** The client's events (connects, disconnects, the server's errors); ends when the connection is closed. */
  status?(): AsyncIterable<{ type: string; error?: unknown }>;
}
interface Consumer {
  consume(opts?: { expires?: number }): Promise<AsyncIterable<NatsMsg> & { stop(): Promise<void> | void; status?(): AsyncIterable<{ type: string }> }>;
  /** Deletes it on the server (an ordered consumer: the last one the client made, not one it is making again). */
  delete?(): Promise<boolean>;
  /**
   * An ordered consumer's name on the server (@nats-io/jetstream 3.4's PullConsumerImpl): the client's next one's once
   * it sends the request making it again, its made one's (delete's) taken only from the answer.
   */
  name?: string;
}
/** Where a consumer starts on the stream (policyFor). */
interface StartPolicy {
  deliver_policy: string;
  opt_start_seq?: number;
  opt_start_time?: string;
}
/** The parts of @nats-io/jetstream used by the stream reader. */
interface JetStreamParts {
  js: { consumers: { get(s: string, o: object): Promise<Consumer> } };
  jsm: {
    streams: {
      info(s: string): Promise<StreamInfo>;
      /** The message stored at `seq` (STREAM.MSG.GET), null when none is; `timestamp` its stored time (RFC 3339, ns). */
      getMessage?(s: string, q: { seq: number }): Promise<{ timestamp: string } | null>;
    };
    /** For a replay from a time (startSeqAt). */
    consumers: {
      add(s: string, c: object): Promise<{ name: string; delivered: { stream_seq: number } }>;
      delete(s: string, name: string): Promise<boolean>;
    };
  };
}
/** What the reader reads of a stream's info. */
interface StreamInfo {
  config: { subjects?: string[] };
  created: string;
  state?: { last_seq: number; first_seq?: number; messages?: number; first_ts?: string };
}

/**
 * Lifetime of each JetStream pull (the client's idle heartbeat is half of it). After a NATS server restart the
 * ordered consumer is recreated, but its first pull can be left unanswered; with the client's default (30 s) the
 * reader then received nothing more for good (nats-server 2.9.10, @nats-io/jetstream 3.4). A short pull is
 * renewed once two idle heartbeats are missed: the reader resumes ~3 s after the server is back.
 */
const PULL_EXPIRES_MS = 2000;

const TRANSPORT = "@nats-io/transport-node";
const JETSTREAM = "@nats-io/jetstream";

/** How the optional NATS packages are loaded (useNatsModules). */
export interface NatsModuleLoaders {
  transport: () => Promise<unknown>;
  jetstream: () => Promise<unknown>;
}

// By a computed name, so that the library (dist/lib) keeps them optional peers: a bundler leaves such imports alone.
let natsModules: NatsModuleLoaders = { transport: () => import(TRANSPORT), jetstream: () => import(JETSTREAM) };

/**
 * Loads the NATS packages through these instead. The CLI passes literal `import("@nats-io/…")` calls: `bun build
 * --compile` bundles only imports it can name, so with the computed names the compiled binary had no NATS at all.
 */
export function useNatsModules(loaders: NatsModuleLoaders): void {
  natsModules = loaders;
}

/** The wait between two dials of one NATS server, and the most added to it at random (the client's defaults: 100). */
export const RECONNECT_WAIT_MS = 250;
const RECONNECT_JITTER_MS = 100;

/** A server as the client's reconnectToServer handler is given it (@nats-io/nats-core 3.4 `Server`). */
interface PoolServer {
  readonly listen: string;
}

/**
 * Paces the client's dials on `monoNowMs`: each server is dialled RECONNECT_WAIT_MS (plus jitter) after its last
 * dial at the earliest. The client paces by Date.now (a server's lastConnect plus reconnectDelayHandler's wait): a
 * wall clock stepped back after a dial held every reconnect off for the step's length (an hour's step: NATS
 * unreachable for the hour, the bridge dropping what it reads and the reader silent, though the server was back).
 *
 * The client's own wait does the waiting, told how long by reconnectDelayHandler: "now" (a wait always over) once a
 * server is due on the monotonic clock, and reconnectToServer then dials a due one; else the time until one is due,
 * plus the most wall-clock time since a dial, which the client takes off again (it waits lastConnect + wait -
 * Date.now), so that neither a step back nor one forward changes how long it waits. The `{ server, delay }` answer
 * is not used: the client dials after that delay without looking whether close() came meanwhile (a dial after close;
 * a server back by then kept a connection open for good, @nats-io/nats-core 3.4). Until reconnectToServer is first
 * called (every dial asks it; clients before 3.4 never do) the wait is the client's own pacing, as before: "now"
 * there would dial back to back with no pause.
 */
export class ReconnectPacing {
  /** Per server (its listen address): when it may be dialled again (monoNowMs). */
  private readonly dueMs = new Map<string, number>();
  /** Per server: Date.now() at its last dial, as the client's lastConnect (its wait is measured from there). */
  private readonly dialWallMs = new Map<string, number>();
  /** The client asks reconnectToServer (nats-core 3.4 on): only then is its own wait overridden. */
  private honoured = false;
  private readonly monoNowMs: () => number;
  private readonly jitter: () => number;

  constructor(monoNowMs: () => number = () => performance.now(), jitter: () => number = Math.random) {
    this.monoNowMs = monoNowMs;
    this.jitter = jitter;
  }

  private nextWaitMs(): number {
    return RECONNECT_WAIT_MS + Math.floor(this.jitter() * (RECONNECT_JITTER_MS + 1));
  }

  /** The client's reconnectDelayHandler, asked before each dial or wait (see the class). */
  readonly reconnectDelayHandler = (): number => {
    if (!this.honoured) return this.nextWaitMs();
    const nowMs = this.monoNowMs();
    let soonestMs = Number.POSITIVE_INFINITY;
    for (const dueMs of this.dueMs.values()) soonestMs = Math.min(soonestMs, dueMs);
    if (soonestMs <= nowMs || soonestMs === Number.POSITIVE_INFINITY) return -Number.MAX_SAFE_INTEGER; // none known yet, or due
    const wallNowMs = Date.now(); // the client's clock: what it will take off the wait
    let sinceDialMs = 0;
    for (const dialMs of this.dialWallMs.values()) sinceDialMs = Math.max(sinceDialMs, wallNowMs - dialMs);
    return soonestMs - nowMs + sinceDialMs + 1; // +1: the client reads Date.now a moment later
  };

  /** The client's reconnectToServer: of its pool (its own pick first), the first server due, else its pick. */
  readonly reconnectToServer = (pool: ReadonlyArray<PoolServer>): PoolServer | null => {
    this.honoured = true;
    const nowMs = this.monoNowMs();
    for (const listen of this.dueMs.keys()) {
      if (pool.some((s) => s.listen === listen)) continue;
      this.dueMs.delete(listen); // gone from the pool
      this.dialWallMs.delete(listen);
    }
    for (const s of pool) if (!this.dueMs.has(s.listen)) this.dueMs.set(s.listen, Number.NEGATIVE_INFINITY); // never dialled: due
    const server = pool.find((s) => this.dueMs.get(s.listen)! <= nowMs) ?? pool[0];
    if (server === undefined) return null;
    this.dueMs.set(server.listen, nowMs + this.nextWaitMs());
    this.dialWallMs.set(server.listen, Date.now());
    return server;
  };
}

/**
 * How long one dial of a server may take (the client's `timeout`, its default 20 s), at start and in its reconnects.
 * A server that verifies clients refuses a missing or unknown client certificate after the TLS 1.3 handshake, which
 * the client does not notice: before, start() waited its 20 s (so did a port that sends INFO and never answers).
 */
export const DIAL_TIMEOUT_MS = 5000;

/**
 * Connects like the bridge does: reconnect forever, each server 250–350 ms after its last dial on the monotonic clock
 * (a NATS restart is an outage, not an end), each dial given up after `dialTimeoutMs`. `pacing`, `dialTimeoutMs`:
 * seams for the tests. `access`: credentials and required TLS (nats-auth.ts); a `tls://` URL requires TLS too.
 */
export async function connectNats(
  servers: string | string[],
  name: string,
  pacing: ReconnectPacing = new ReconnectPacing(),
  access: NatsAccess = {},
  dialTimeoutMs = DIAL_TIMEOUT_MS,
): Promise<NatsConnection> {
  let mod: { connect: (o: Record<string, unknown>) => Promise<NatsConnection> } & Parameters<typeof accessOptions>[0];
  try {
    mod = (await natsModules.transport()) as typeof mod;
  } catch (err) {
    throw new Error(`reading NATS needs the package ${TRANSPORT} (npm install ${TRANSPORT} ${JETSTREAM}): ${(err as Error).message}`);
  }
  const { reconnectDelayHandler, reconnectToServer } = pacing;
  const auth = accessOptions(mod, servers, access);
  const options = { servers, name, maxReconnectAttempts: -1, reconnectDelayHandler, reconnectToServer, waitOnFirstConnect: false, timeout: dialTimeoutMs, ...auth };
  return mod.connect(options).catch((err: unknown) => {
    // The client's TimeoutError says only "timeout": said with how long, and over TLS what it may also be.
    if (!(err instanceof Error) || err.name !== "TimeoutError") throw err;
    const tls = auth.tls === undefined ? "" : " (over TLS: also how a server that verifies clients refuses a client certificate missing or not of its CA)";
    throw new Error(`no answer from NATS within ${dialTimeoutMs} ms${tls}`);
  });
}

/**
 * How long a connect made again after a close for good may take (the forward bridge's and the reader's): one made
 * while the server went down or came up was seen to hang past 15 s (the client's own connect timeout is 20 s), and
 * with it every later try, since each is scheduled when the last one fails (s-rev65, reader-nats-closed.test.ts).
 */
export const RECONNECT_TIMEOUT_MS = 5000;

/**
 * `connecting`, or a rejection after `ms`; a connection that comes after that is closed (cold: a connect made again).
 */
export function connectWithin<T extends { close(): Promise<void> }>(connecting: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`no answer from NATS within ${ms} ms`));
    }, ms);
    connecting.then(
      (nc) => {
        clearTimeout(timer);
        if (late) void nc.close().catch(() => undefined);
        else resolve(nc);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * The subscription could not be made on a connection for what a connect made again fixes: the round trip confirming
 * the live SUB found the connection dropped or got no answer in time, or a JetStream request at the stream's set-up
 * timed out (the connection dropped under it, a server too busy to answer). start() goes on as after a failed connect
 * made again (told, tried again), never rejecting for it; a refusal (no such stream, no JetStream) is no such error.
 */
class SubscriptionUnconfirmed extends Error {}

/**
 * A NATS request that got no answer in its time (the client's TimeoutError: a JetStream request whose connection
 * dropped under it, a server too busy), not a refusal: what a connection made again may fix (reader and bridge).
 */
export function isRequestTimeout(err: unknown): boolean {
  return (err as Error | undefined)?.name === "TimeoutError";
}

export interface NatsReaderCounters extends RepackerCounters {
  datagrams: number;
  /** NATS messages read (envelopes, refused ones included) and their bytes. */
  envelopes: number;
  receivedBytes: number;
  /**
   * Connections made again: the client's own reconnects after a drop and the reader's after the client closed for
   * good (counted here, not read from the client's statistics, which a new client starts at 0).
   */
  natsReconnects: number;
  /** Times the client closed the connection for good without stop() (NatsReaderEvent `closed`). */
  natsClosed: number;
  /** Times the server refused the subscription on `<prefix>.>` (NatsReaderEvent `subscription_refused`). */
  subscriptionsRefused: number;
  /** Times the server refused the reader's credentials (each refused connect; NatsReaderEvent `auth_refused`). */
  natsAuthErrors: number;
}

export class NatsFeedReader {
  readonly repacker: EnvelopeRepacker;
  private readonly opts: NatsReadOptions;
  private readonly sink: (datagram: Uint8Array) => void;
  private nc: NatsConnection | undefined;
  private sub: NatsSub | undefined;
  private iter: { stop(): Promise<void> | void } | undefined;
  /** The consumer `iter` reads (set with it; `jsm` of its connection): deleted when the reader stops reading it (deleteConsumer). */
  private consumer: { made: Consumer; jsm: JetStreamParts["jsm"] } | undefined;
  /** How long stop() waits for that deletion (CONSUMER_DELETE_WITHIN_MS): a seam for the tests. */
  private deleteWithinMs = CONSUMER_DELETE_WITHIN_MS;
  /** A consumer being made on `nc` (consumeStream): settled once it reads, or was stopped and deleted (stop() waits). */
  private making: { nc: NatsConnection; settled: Promise<unknown> } | undefined;
  /**
   * Deletions not waited for where they began (a consumer ended or replaced, a lookup's), each with its connection:
   * stop() waits for those on its own before the close. Before s-restwarn it closed at once, and one still to be
   * sent (afterRecreated stopping the old consumer's messages first) was not sent: that consumer stayed 5 min.
   */
  private readonly deletions = new Set<{ nc: NatsConnection; done: Promise<unknown> }>();
  private flushScheduled = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  /**
   * Receive and silence times are on the monotonic clock (monoEpochMs): on Date.now() a step back of the host's
   * clock put every stream's last envelope in the future, and a stream that died then was no gap for the step's length
   * (its books usable far side), nor did the reader heartbeat. The repacked datagrams' send times and session starts
   * are on the clock a subscriber shows their receipt on (mono-clock.ts shownUs: the wall clock, moved by a timer,
   * never within one callback), so a latency is the repack-to-receipt time: on Date.now, read a moment apart from the
   * subscriber's clock, it was off by a step; on the monotonic clock, a subscriber in another process whose clock
   * follows a step (`from-nats` to local subscribers) read it off by the step.
   */
  private lastSendMs = 0;
  /** stop() was called: a start still under way goes no further. */
  private stopped = false;
  /** start() was called and stop() not since. */
  private running = false;
  /** Starts so far: a connect made again for an earlier run (stop() and start() since) is not this run's. */
  private runs = 0;
  datagrams = 0;
  envelopes = 0;
  receivedBytes = 0;
  natsReconnects = 0;
  natsClosed = 0;
  subscriptionsRefused = 0;
  natsAuthErrors = 0;
  /** The server refuses the credentials: told once (auth_refused) until a connection is made (auth_accepted). */
  private authRefusing = false;
  /** The client's connection dropped and is not back (its `disconnect` event, until `reconnect`). */
  private disconnected = false;
  /** The server refused the live subscription and it has not been taken again. */
  private subscriptionRefused = false;
  /** The live SUB is sent and its round trip not answered yet (confirmed): not ready, the server may not have it. */
  private confirming = false;
  /**
   * The stream reader's consumer is gone and not made again: its consumer deleted, or its stream not found (deleted:
   * the client retries for as long as it is missing). The consumer event's type, until a consumer is known to read the
   * stream there (the client's made again on the same stream, or one the reader made) or a message comes.
   */
  private streamProblem: string | undefined;
  /** How long the round trip confirming the live SUB may take (confirmed): a seam for the tests. */
  private confirmWithinMs = DIAL_TIMEOUT_MS;
  /** The next try after the client closed for good or the subscription was refused (cold). */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The last message read from JetStream: a new connection goes on after its stream sequence, and a look at the stream
   * checks that it is still there as read (lastReadReplaced). The message is kept: its `info` (sequence, stored time)
   * is parsed once, by the ordered consumer checking its order (@nats-io/jetstream 3.4 consumer.js), for every message.
   */
  private lastJsMsg: NatsMsg | undefined;
  /** `replay_starts_later` told in this run: once per start(), not per connection opened before a message is read. */
  private replayStartTold = false;
  /**
   * When the stream read was made (its info's `created`, read as the consumer is made): another time is another stream
   * of that name (deleted and made again, a NATS server restarted without it), whose sequence starts again.
   */
  private streamCreated: string | undefined;
  /**
   * Where the reader started on the stream made at `created` (policyFor): a `now` reader after its last message then,
   * any reader of a stream made again at its first (1), after a lost tail at the first message stored since the last
   * one read (truncatedFrom). A consumer made again before one read anything starts there
   * again, as the client's own does. Before 2026-12-07 it started after the stream's last message then (`now`: what
   * was stored while no consumer read skipped), or after the replaced stream's last read (its first messages skipped).
   */
  private startedOn: { created: string; policy: StartPolicy } | undefined;
  /**
   * The last sequence read when messages dropped after it were told (discardedSince), 0 for none. Of the stream made
   * at `discardToldOn` only: a stream made again numbers from 1 again (before, a discard past the same sequence of the
   * new stream was not told); cleared at a lost tail, whose sequences come again (truncatedFrom).
   */
  private discardTold = 0;
  private discardToldOn: string | undefined;
  /**
   * After a lost tail read on by time (truncatedFrom): the last message read before it, by its sequence and stored
   * time. The consumer starts at that time's millisecond, so what it stored in it up to that message comes again;
   * each is passed over (not read, not counted) until the first message after it. Before, an unnumbered envelope
   * (version 1, or 2 without forward numbers) of it was read twice and taken in again as new.
   */
  private readThrough: { seq: number; storedNs: number } | undefined;
  /**
   * The last message read before one whose stream sequence was not above it: the client's consumer, made again after
   * a lost tail, placed at the stream's end (nats-server 2.9). Where the reader had read to, for the look at the stream
   * (afterRecreated, policyFor): before, that look took the last message read, and after new ones were read (a look
   * made again after its first failed) found the stream not below it, the loss never told, the books usable.
   */
  private readBeforeBack: NatsMsg | undefined;
  /** Messages read from the stream (all its consumers): unchanged over an idle look's interval, the consumer read none. */
  private jsReads = 0;
  /** `stream_foreign` told, no consumer made since (refuseForeign). */
  private foreignTold = false;
  /**
   * The client's consumer problems told so far (consumer_deleted, stream_not_found, consumer_not_found): a check of
   * the stream started before one of them does not clear it (afterRecreated). Before 2026-12-07 a consumer_deleted
   * told while that check waited for the stream's info was cleared by its answer: ready, reading nothing, until the
   * client's next event.
   */
  private consumerProblems = 0;

  constructor(opts: NatsReadOptions, sink: (datagram: Uint8Array) => void) {
    prefixCheck(opts.prefix); // before, only --prefix was held to it (length and characters)
    followWallClock(); // the repacked send times follow a step of the wall clock (mono-clock.ts shownUs)
    this.opts = opts;
    this.sink = sink;
    this.repacker = new EnvelopeRepacker({
      channelId: opts.channelId ?? 1,
      sourceId: opts.sourceId ?? 65000,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 200,
      maxDatagramBytes: opts.maxDatagramBytes,
      onBridgeEvent: opts.onBridgeEvent,
      replay: opts.stream !== undefined && (opts.from ?? "now") !== "now",
      authKey: opts.authKey,
      onRefused: opts.onRefused,
      onSignedUnverified: opts.onSignedUnverified,
      onListenerError: opts.onListenerError,
      failoverMinMs: opts.failoverMinMs,
    });
  }

  get counters(): NatsReaderCounters {
    return { ...this.repacker.counters, datagrams: this.datagrams, envelopes: this.envelopes, receivedBytes: this.receivedBytes, natsReconnects: this.natsReconnects, natsClosed: this.natsClosed, subscriptionsRefused: this.subscriptionsRefused, natsAuthErrors: this.natsAuthErrors };
  }

  /**
   * What a bridge's /readyz and connection gauge read (cold): connected (a connection open and not dropped; not while
   * the reader waits to connect again after a close for good), the credentials refused, the subscription refused, the
   * live subscription sent but its round trip not answered yet (the server may not have it: confirmed).
   */
  get health(): { natsConnected: boolean; authRefused: boolean; subscriptionRefused: boolean; subscriptionUnconfirmed: boolean; streamProblem: string | undefined } {
    const nc = this.nc;
    return {
      natsConnected: nc !== undefined && this.running && !this.disconnected && nc.isClosed?.() !== true,
      authRefused: this.authRefusing,
      subscriptionRefused: this.subscriptionRefused,
      subscriptionUnconfirmed: this.confirming,
      streamProblem: this.streamProblem,
    };
  }

  /**
   * Connects and subscribes; resolves once the server has the live subscription (a round trip after it: confirmed)
   * or the stream's consumer is made, so what is published after that is read. Rejects for what retrying cannot fix
   * (no server reached, credentials refused, a stream the server refuses); a connection that drops (or does not
   * answer) while it subscribes resolves it, not subscribed, made again later (SubscriptionUnconfirmed). Once per
   * stop(): a second start would leave the first connection open, reconnecting and feeding the sink twice.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error("nats reader: start() called twice (stop() first)");
    this.running = true;
    const run = ++this.runs;
    // stop() meanwhile, or stop() and start() again: this start goes no further. Before, only `stopped` was looked
    // at, cleared again by the later start: this one went on, its connection beside the new run's, both feeding the sink.
    const gone = () => this.stopped || this.runs !== run;
    const prefix = this.opts.prefix ?? "feeder";
    this.stopped = false;
    this.authRefusing = false; // a refusal told before a stop() is not this run's: the next one is told again
    this.replayStartTold = false;
    const got = await this.connect().catch((err: unknown) => {
      if (this.runs === run) this.running = false; // nothing opened: the caller may start again (before: "start() called twice")
      // Refused at start: the caller is told why, by the server's words and the kind of credentials (never them).
      if (!isAuthError(err)) throw err;
      this.natsAuthErrors++;
      throw new Error(`the NATS server refused the reader's credentials (${describeCredentials(this.opts.credentials)}): ${(err as Error).message}`);
    });
    // stop() while it connected (a signal during start-up) found no connection to close: this one is closed here
    // and nothing is subscribed (before, it was kept, reconnecting forever, and fed the sink after the stop).
    if (gone()) return void (await got.close().catch(() => undefined));
    try {
      await this.open(got, prefix);
    } catch (err) {
      if (err instanceof SubscriptionUnconfirmed && !gone()) {
        // Connected, but the connection dropped (or went unanswered) in the round trip after the SUB: NATS flapping
        // as the reader started, which a connect made again fixes. open() closed it; the reader goes on as after a
        // failed connect made again: told, tried again every reconnectAfterCloseMs, not ready meanwhile (health).
        // Before, the start rejected: `bridge from-nats` and `listen --nats` exited 1 instead of connecting again.
        this.repacker.tell(this.opts.onNatsEvent, { kind: "reconnect_failed", error: err.message });
        this.retry(() => void this.connectAgain());
        return this.startHeartbeats();
      }
      // The caller gets only the rejection (attachNats returns no reader to stop): a close for good meanwhile must
      // leave no try again behind it, nor one already connecting (it sees the reader stopped). A start since is
      // not this one's to stop.
      if (this.runs === run) {
        this.stopped = true;
        this.running = false;
        if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      throw err;
    }
    if (!gone()) this.startHeartbeats(); // else a start since has its own timer: a second one would never be cleared
  }

  private startHeartbeats(): void {
    if (this.stopped) return; // stopped while it subscribed: stop() closed the connection, no heartbeat timer
    const hbMs = this.repacker.packer.heartbeatIntervalMs;
    this.timer = setInterval(() => this.heartbeat(hbMs), hbMs);
    this.timer.unref?.();
  }

  private readonly onData = (data: Uint8Array): void => {
    this.envelopes++;
    this.receivedBytes += data.byteLength;
    // Cold: a new session is sent at once, the replaced one's datagrams first. Left to the scheduled flush, a second
    // one before it replaced pendingOld: what the session before both held since the last flush was never sent (until
    // 2026-12-06; the far side showed a book usable at its state before a refresh the reader had taken).
    if (this.repacker.add(data, monoEpochMs()) === "new_session") return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  };

  private connect(): Promise<NatsConnection> {
    return connectNats(this.opts.servers, "feeder-reader", undefined, { credentials: this.opts.credentials, tls: this.opts.tls });
  }

  /**
   * Reads through this connection from now on: its close watched, `<prefix>.>` or the stream subscribed. `again` (a
   * connect made again after a close for good): a stream found to keep another prefix's subjects is not an error, as
   * at start, but handled as on the live paths (afterRecreated): the connection kept, nothing read, the stream looked
   * at again with makeConsumer's backoff; returned (why) for connectAgain to tell once it has told `reconnected`.
   */
  private async open(nc: NatsConnection, prefix: string, again = false): Promise<string | undefined> {
    this.nc = nc;
    this.disconnected = false;
    this.subscriptionRefused = false;
    this.streamProblem = undefined;
    void nc.closed().then((why) => this.closedByClient(nc, why), () => undefined);
    const events = nc.status?.();
    if (events !== undefined) void this.watchAuth(nc, events).catch(() => undefined);
    try {
      if (this.opts.stream === undefined) {
        this.subscribeLive(nc, prefix, false);
        this.confirming = true;
        try {
          await this.confirmed(nc);
        } finally {
          this.confirming = false;
        }
      } else {
        const { jetstream, jetstreamManager } = (await natsModules.jetstream()) as {
          jetstream: (nc: NatsConnection) => JetStreamParts["js"];
          jetstreamManager: (nc: NatsConnection) => Promise<JetStreamParts["jsm"]>;
        };
        const parts: JetStreamParts = { js: jetstream(nc), jsm: await jetstreamManager(nc) };
        const info = await parts.jsm.streams.info(this.opts.stream);
        const foreign = this.foreignSubjects(info);
        if (foreign !== undefined && !again) throw new Error(foreign);
        if (foreign !== undefined) {
          // Before, thrown here too: told `reconnect_failed` every 2 s, a full connect each time, /readyz "not connected".
          this.streamProblem = "foreign_subjects";
          this.makeConsumerLater(nc, parts, 0);
          return foreign;
        }
        const readNothing = this.lastJsMsg === undefined;
        const policy = this.policyFor(info, await this.replacedSinceRead(parts, info));
        this.streamCreated = info.created;
        if (readNothing) this.tellIfReplayStartsLater(info); // nothing read: the replay starts now
        await this.consumeStream(nc, parts, policy);
      }
    } catch (err) {
      // No stream of that name, no JetStream…: the connection is closed with the error, never left reconnecting
      // forever behind a caller that got only the rejection (attachNats returns no reader to stop). Another
      // connection (a start since stop()) is not this one's to drop.
      if (this.nc === nc) this.nc = undefined;
      await nc.close().catch(() => undefined);
      // A JetStream request unanswered: before, start() rejected for it as for a stream that does not exist.
      if (this.opts.stream !== undefined && isRequestTimeout(err)) {
        throw new SubscriptionUnconfirmed(`no answer from NATS to a JetStream request setting up the stream ${this.opts.stream}: ${(err as Error).message}`);
      }
      throw err;
    }
    return undefined;
  }

  /**
   * Waits for a PING/PONG round trip after the live SUB: the client only queues the SUB, so before, start() resolved
   * (and a reconnect was told) while the server had not read it, and what was published in that round trip was not
   * read (a set-up publishing one snapshot right after attachNats: its book never usable, rev19-nats-backlog in CI).
   * The server answers in order: a refusal of the subscription (its -ERR) is told before this returns. Returns at
   * once when the connection closes meanwhile (stop(), or the client for good: the callers look at which); a dropped
   * connection or no answer within DIAL_TIMEOUT_MS is a SubscriptionUnconfirmed: the connection is closed and one made
   * again is tried reconnectAfterCloseMs later (at start too: start() resolves, the reader not ready meanwhile).
   * JetStream needs none: its consumer is made by requests on this connection, answered after the SUBs before them.
   */
  private async confirmed(nc: NatsConnection): Promise<void> {
    if (nc.flush === undefined) return; // a client without it (a test's stand-in): as before
    const withinMs = this.confirmWithinMs;
    const flushed = nc.flush().then(
      () => "answered" as const,
      (err: unknown) => err as Error,
    );
    const why = await awaitWithin(Promise.race([nc.closed().then(() => "closed" as const), flushed]), withinMs);
    if (why === "answered" || why === "closed" || this.stopped || nc.isClosed?.() === true) return;
    if (why === CUT_OFF) throw new SubscriptionUnconfirmed(`no answer from NATS within ${withinMs} ms to the round trip confirming the subscription on ${this.opts.prefix ?? "feeder"}.>`);
    throw new SubscriptionUnconfirmed(`the NATS connection dropped before the server confirmed the subscription on ${this.opts.prefix ?? "feeder"}.>: ${why.message}`);
  }

  /**
   * `<prefix>.>` live. The server may refuse it (permissions): the client hands that to the callback and drops the
   * subscription. Before, the refusal was ignored and the reader ran on with nothing, for good, without a word; now
   * it is counted, told, and the subscription tried again every reconnectAfterCloseMs.
   */
  private subscribeLive(nc: NatsConnection, prefix: string, again: boolean): void {
    let refused = false;
    let told = !again;
    this.sub = nc.subscribe(`${prefix}.>`, {
      callback: (err, msg) => {
        if (err === null) {
          if (!told) {
            told = true; // cold: the first message after a refusal
            this.subscriptionRefused = false;
            this.repacker.tell(this.opts.onNatsEvent, { kind: "subscribed" });
          }
          return this.onData(msg.data);
        }
        if (refused) return;
        refused = true; // cold: the refusal (once per subscription: the client drops it)
        this.subscriptionsRefused++;
        this.subscriptionRefused = true;
        this.repacker.tell(this.opts.onNatsEvent, { kind: "subscription_refused", error: err.message });
        this.retry(() => {
          if (this.nc === nc && !nc.isClosed?.()) this.subscribeLive(nc, prefix, true);
        });
      },
    });
  }

  /**
   * Why the stream is not this feed's (undefined: it is): the reader takes the whole stream's `<prefix>.>`, and one
   * keeping another prefix's subjects is another feed. Asked at start and of every stream read after (one made again: before
   * 2026-12-07 only at start, so a stream of that name made again for another prefix was read as this feed).
   */
  private foreignSubjects(info: { config: { subjects?: string[] } }, editedInPlace = false): string | undefined {
    const prefix = this.opts.prefix ?? "feeder";
    const foreign = (info.config.subjects ?? []).filter((s) => s !== `${prefix}.>` && !s.startsWith(`${prefix}.`));
    if (foreign.length === 0) return undefined;
    const keeps = `JetStream stream ${this.opts.stream} keeps ${foreign.join(", ")}, not only ${prefix}.>`;
    // The stream read so far, its subjects changed since: the prefix given was right, the stream's configuration not.
    if (editedInPlace) return `${keeps}: its subjects were changed since it was read (stream configuration edited): nothing of this feed is stored`;
    return `${keeps}: give the prefix it was made for (--prefix)`;
  }

  /** Cold: the stream is another feed's (`why`): not read, not ready, told once until a consumer is made on it again. */
  private refuseForeign(why: string): void {
    this.streamProblem = "foreign_subjects";
    if (this.foreignTold) return;
    this.foreignTold = true;
    this.repacker.tell(this.opts.onNatsEvent, { kind: "stream_foreign", error: why });
  }

  /**
   * Where a consumer of the stream (as `info` says it is now) starts: on from the message after the last one read (a
   * connection made again after a close for good: what was published meanwhile is in the stream), not from `from`
   * again; from the first message of a stream made again meanwhile (its sequence starts again at 1). `now` is the
   * sequence after the stream's last (`new` only for an info without its state): @nats-io/jetstream 3.4 makes an
   * ordered consumer lost before it read anything (deleted; a NATS server restarted: it is kept in memory only) again
   * from its start sequence, stream sequence 1 for `new` (before 2026-12-07 a `--from now` reader on a quiet stream
   * then read the stream's whole history as live; the first fix had it fetch that history again, passed over message
   * by message on the hot path). With nothing read yet, where the reader started on this stream (startedOn): `now`'s
   * sequence is taken once, not again per consumer made.
   */
  private policyFor(info: StreamInfo, replacedAt = false): StartPolicy {
    const from = this.opts.from ?? "now";
    const replaced = this.streamCreated !== undefined && info.created !== this.streamCreated;
    const lastSeq = this.lastJsMsg?.info?.streamSequence ?? 0;
    if (replaced) return this.forgetStream(info.created);
    const backFrom = this.readBeforeBack?.info?.streamSequence;
    if (backFrom !== undefined && info.state !== undefined) return this.truncatedFrom(info, backFrom);
    if (lastSeq > 0 && info.state !== undefined && (info.state.last_seq < lastSeq || replacedAt)) return this.truncatedFrom(info, lastSeq);
    if (lastSeq > 0) {
      this.discardedSince(info, lastSeq);
      return { deliver_policy: "by_start_sequence", opt_start_seq: lastSeq + 1 };
    }
    if (this.startedOn !== undefined && this.startedOn.created === info.created) {
      const after = this.startAfter(info.created);
      if (after > 0 && info.state !== undefined && info.state.last_seq < after) return this.truncatedFrom(info, after, true);
      return this.startedOn.policy;
    }
    if (from === "now") {
      if (info.state === undefined) return { deliver_policy: "new" };
      this.startedOn = { created: info.created, policy: { deliver_policy: "by_start_sequence", opt_start_seq: info.state.last_seq + 1 } };
      return this.startedOn.policy;
    }
    if (from === "all") return { deliver_policy: "all" };
    return { deliver_policy: "by_start_time", opt_start_time: from.toISOString() };
  }

  /**
   * Nothing read yet: the sequence the reader's start on the stream made at `created` is after (0: none, or a start
   * not by sequence). A stream ending below it lost its tail: before, such a reader (`--from now` on a quiet stream)
   * was not told, and its consumer, asked to start past the stream's end, was placed by the server's version:
   * nats-server 2.9 starts it at the end, newer servers may keep the asked start, passing over what the stream stores
   * until it outgrows it.
   */
  private startAfter(created: string): number {
    const s = this.startedOn;
    return s !== undefined && s.created === created && s.policy.deliver_policy === "by_start_sequence" ? (s.policy.opt_start_seq ?? 1) - 1 : 0;
  }

  /**
   * Cold, as the reader starts reading (nothing read yet): a replay from a time before the stream's oldest message
   * starts at that message. Told: before, a replay asked for an earlier time began later with nothing said, only the
   * books' exchange times showing it (the datagrams' send times are the reader's).
   */
  private tellIfReplayStartsLater(info: StreamInfo): void {
    const from = this.opts.from;
    const firstStoredAt = info.state?.first_ts;
    if (!(from instanceof Date) || !((info.state?.messages ?? 0) > 0) || firstStoredAt === undefined) return;
    if (this.replayStartTold || !(Date.parse(firstStoredAt) > from.getTime())) return;
    // Once per start(): before, each connection made again before the first message was read told it (and the CLI
    // warned) again.
    this.replayStartTold = true;
    this.repacker.tell(this.opts.onNatsEvent, { kind: "replay_starts_later", firstStoredAt });
  }

  /**
   * A stream made again is read from its first message: the last one read and the `now` start were the replaced
   * stream's sequences. Before 2026-12-07 a consumer of the new stream that ended before it read anything was made
   * again after the old stream's last sequence read, passing over the new stream's messages up to it.
   */
  private forgetStream(created: string): { deliver_policy: "all" } {
    this.lastJsMsg = undefined;
    this.readThrough = undefined;
    this.readBeforeBack = undefined;
    this.startedOn = { created, policy: { deliver_policy: "all" } };
    return { deliver_policy: "all" };
  }

  /**
   * Cold: the same stream (its creation time) ends below the last sequence read (`readSeq`): its store lost its tail
   * (a server's crash) or was restored from an older copy, and what it stores now from there on is new. Before
   * 2026-12-07 the reader asked to go on after `readSeq`, its books shown usable with no gap: past the stream's end,
   * nats-server 2.9 starts a consumer at the end, newer servers may keep the asked start (passing over those new
   * messages until the stream outgrows it). Read on from the first message stored after the last one read (by its time: the
   * sequences are the old ones' again; what that millisecond stored up to it comes again, passed over: readThrough), and a gap:
   * what the lost tail held is not in the stream, so every book is resynced at its next snapshot. Told. Nothing read
   * yet (`unread`, `readSeq` where the start was, startAfter): read on after the stream's last message now.
   */
  private truncatedFrom(info: StreamInfo, readSeq: number, unread = false): StartPolicy {
    const storedNs = this.lastJsMsg?.info?.timestampNanos;
    const byTime = storedNs !== undefined && Number.isFinite(storedNs);
    // Floored to the millisecond: a message stored in that millisecond comes again (passed over), none is missed.
    const policy: StartPolicy = byTime
      ? { deliver_policy: "by_start_time", opt_start_time: new Date(Math.floor(storedNs / 1e6)).toISOString() }
      : { deliver_policy: "by_start_sequence", opt_start_seq: info.state!.last_seq + 1 };
    // The client's own consumer may have read messages stored since the loss (this one among them): its sequence, not readSeq's.
    this.readThrough = byTime ? { seq: this.lastJsMsg?.info?.streamSequence ?? readSeq, storedNs } : undefined;
    this.lastJsMsg = undefined;
    this.readBeforeBack = undefined;
    this.discardTold = 0; // its sequences come again: a discard past one told before is another (before, not told)
    this.startedOn = { created: info.created, policy };
    this.lostMessages("truncated", readSeq, info.state!, unread);
    return policy;
  }

  /**
   * Cold: the stream's first message is past the one after the last read (`readSeq`): those between were dropped by
   * its limits (max age, messages, bytes) or an operator's purge before the reader read them. The server starts its consumer at the first;
   * the bridge's numbering would show the loss as a gap at the next message, this tells it, naming the sequences.
   */
  private discardedSince(info: StreamInfo, readSeq: number): void {
    const firstSeq = info.state?.first_seq;
    if (firstSeq === undefined || firstSeq <= readSeq + 1 || (this.discardTold === readSeq && this.discardToldOn === info.created)) return;
    this.discardTold = readSeq; // once per position: a consumer made again with backoff finds the same
    this.discardToldOn = info.created;
    this.lostMessages("discarded", readSeq, info.state!);
  }

  /** Cold, before policyFor: the stream read so far (`info`) no longer stores the last read message as read (lastReadReplaced). */
  private replacedSinceRead(parts: JetStreamParts, info: StreamInfo): Promise<boolean> {
    if (info.created !== this.streamCreated || this.readBeforeBack !== undefined) return Promise.resolve(false);
    return this.lastReadReplaced(parts.jsm, info, this.lastJsMsg);
  }

  /**
   * Cold: the message last read (`m`) is no longer what the stream stores at its sequence (another stored time, or
   * none there): the stream lost its tail and stored new messages to that sequence or past it since. No sequence need
   * go back: nats-server 2.9 starts a consumer asked past the stream's end at that end, but at the asked start once the
   * stream has grown past it (so do newer servers keeping the start), passing over the new messages below it: until
   * 2026-12-07 night those were skipped with nothing told, the books usable. Not asked below the stream's first
   * sequence (dropped by its limits: discardedSince) nor past its end (a lost tail told as such). A get that fails (no
   * answer; a reader whose permissions refuse STREAM.MSG.GET) tells nothing: the look and the start go on as before it.
   */
  private async lastReadReplaced(jsm: JetStreamParts["jsm"], info: StreamInfo, m: NatsMsg | undefined): Promise<boolean> {
    const seq = m?.info?.streamSequence;
    const readNs = m?.info?.timestampNanos;
    const state = info.state;
    // A read time that is no number (NaN) compares unequal to every stored one: no time to compare, nothing told.
    if (seq === undefined || readNs === undefined || !Number.isFinite(readNs) || state === undefined || jsm.streams.getMessage === undefined) return false;
    if (state.last_seq < seq || (state.first_seq ?? 0) > seq) return false;
    const stored = await jsm.streams.getMessage(this.opts.stream!, { seq }).catch(() => undefined);
    if (stored === undefined) return false;
    if (stored === null) return this.stillWithin(jsm, info, seq);
    const storedNs = storedNanos(stored.timestamp);
    return storedNs !== undefined && storedNs !== readNs;
  }

  /**
   * Cold: no message at `seq`, which `info` had within the stream. Dropped by its limits (max age, max bytes) or purged
   * since `info` was read, it is below the stream's first sequence now: no loss (discardedSince's, if any). Else gone
   * from within the stream (the bridge's streams keep every message): not what was read. Before, the first case too was
   * a lost tail, told `truncated` with a gap on a stream that lost nothing. A look that fails: as before the check.
   */
  private async stillWithin(jsm: JetStreamParts["jsm"], info: StreamInfo, seq: number): Promise<boolean> {
    const now = await jsm.streams.info(this.opts.stream!).catch(() => undefined);
    return now?.state !== undefined && now.created === info.created && (now.state.first_seq ?? 0) <= seq;
  }

  /** Cold: a gap of the reader's stream sent now (every book resynced at its next snapshot), and told. */
  private lostMessages(why: "truncated" | "discarded", lastRead: number, state: NonNullable<StreamInfo["state"]>, unread = false): void {
    this.repacker.discontinuity();
    this.flush();
    const event: NatsReaderEvent = { kind: "stream_discontinuity", why, lastRead, firstSeq: state.first_seq, lastSeq: state.last_seq };
    if (unread) event.unread = true; // told apart: "already read" would name a sequence never read
    this.repacker.tell(this.opts.onNatsEvent, event);
  }

  /**
   * Reads the stream through an ordered consumer made with `policy` (from open(), or on a stream made again).
   * `triesIfEmpty`: the backoff's tries if it ends having read nothing (consumerEnded).
   */
  private async consumeStream(nc: NatsConnection, parts: JetStreamParts, policy: StartPolicy, triesIfEmpty = 0): Promise<void> {
    // Only this feed's subjects (the client's own remakes keep the filter): a stream edited in place to keep another
    // feed's too, or instead until edited back, holds that feed's messages after the last one read (or, made again for
    // it, from its first). Before 2026-12-07 they were read as this feed's envelopes, also while the idle look could
    // not see the edit (a consumer reading is not looked at).
    const filter = `${this.opts.prefix ?? "feeder"}.>`;
    // The by-time lookup is part of the make: stop() meanwhile waits for it too (its consumer deleted before the close).
    const making = this.startSeqAt(nc, parts, policy).then((start) => (start === undefined ? undefined : this.makeConsumerOn(nc, parts, { ...start, filter_subjects: filter })));
    const settled = making.catch(() => undefined);
    this.making = { nc, settled };
    void settled.then(() => {
      if (this.making?.settled === settled) this.making = undefined;
    });
    const made = await making;
    if (made === undefined) return;
    const { consumer, iter } = made;
    this.iter = iter;
    this.consumer = { made: consumer, jsm: parts.jsm };
    // A consumer made on the stream: readable. Before, a consumer the reader made itself on a stream made again kept
    // the replaced one's consumer_deleted until a message came (an empty stream: /readyz 503 for good).
    this.streamProblem = undefined;
    this.foreignTold = false;
    const events = iter.status?.();
    if (events !== undefined) void this.watchConsumer(nc, parts, iter, events).catch(() => undefined);
    this.lookWhileIdle(nc, parts, iter);
    const repacker = this.repacker;
    const onData = this.onData;
    const readsBefore = this.jsReads;
    const tries = () => (this.jsReads === readsBefore ? triesIfEmpty : 0);
    void (async () => {
      for await (const m of iter) {
        // Stopped by the reader (replaced, another feed's stream), the client's iterator still hands out what it had
        // received: not read. Before 2026-12-07 it was, taken for the last message read (the next consumer of a
        // stream made again started after its sequence, passing over the new stream's first messages).
        if (this.iter !== iter) continue;
        this.streamProblem = undefined;
        if (this.readThrough === undefined || !this.readBefore(m)) onData(m.data);
        // The ordered consumer parsed `info` already (its cursor): no allocation. A sequence going back on the same
        // iterator is a consumer made again below what was read: kept for the look at the stream, which is made now
        // (cold, the first one): the look after the client's remake may have ended before it, and a consumer reading
        // is never looked at while idle (until 2026-12-07 night: on a busy stream the loss was never told).
        const seq = m.info?.streamSequence;
        const lastSeq = this.lastJsMsg?.info?.streamSequence;
        if (seq !== undefined && lastSeq !== undefined && seq <= lastSeq && this.readBeforeBack === undefined) {
          this.readBeforeBack = this.lastJsMsg;
          void this.afterRecreated(nc, parts, iter).catch(() => undefined);
        }
        this.lastJsMsg = m;
        this.jsReads++;
        // A replay that reached the live end reads live from here: before, it kept the replay rule for good, and
        // every burst after a stall of this reader (a bridge only paused) was a gap, each book untrusted until
        // its refresh.
        if (repacker.replaying && m.info?.pending === 0) repacker.caughtUp();
      }
    })().then(
      () => this.consumerEnded(nc, parts, iter, undefined, tries()),
      (err: unknown) => this.consumerEnded(nc, parts, iter, err as Error, tries()),
    );
  }

  /**
   * Cold (after a lost tail, until the first message not read before): `m` was read before the tail was lost
   * (readThrough), delivered again from its millisecond. The stream's own order: the first one after ends the check.
   */
  private readBefore(m: NatsMsg): boolean {
    const through = this.readThrough!;
    const seq = m.info?.streamSequence;
    const storedNs = m.info?.timestampNanos;
    if (seq !== undefined && storedNs !== undefined && seq <= through.seq && storedNs <= through.storedNs) return true;
    this.readThrough = undefined;
    return false;
  }

  /**
   * The consumer and its messages; one made once the reader was stopped, or moved to another connection or run
   * (afterRecreated, stop() and start() again), is stopped and deleted on this connection: undefined. stop() waits for
   * this (within deleteWithinMs) before its close: until 2026-12-07 the close cut the answer to the make under way,
   * and the consumer the server had made stayed there 5 min (or, answered, it was stopped but not deleted).
   */
  private async makeConsumerOn(nc: NatsConnection, parts: JetStreamParts, start: object) {
    const run = this.runs;
    const consumer = await parts.js.consumers.get(this.opts.stream!, start);
    const iter = await consumer.consume({ expires: PULL_EXPIRES_MS });
    if (this.nc === nc && !this.stopped && this.runs === run) return { consumer, iter };
    await iter.stop();
    await this.deleteConsumer({ made: consumer, jsm: parts.jsm }, nc);
    return undefined;
  }

  /**
   * A replay from a time as one from the stream sequence the server finds for it (the first message at or after it),
   * read from a consumer made and deleted at once; other policies as they are. @nats-io/jetstream 3.4 makes an ordered
   * consumer again as `by_start_sequence` keeping the first one's `opt_start_time`, which the NATS server refuses
   * ("deliver by start sequence, but optional start time is also set"): before 2026-12-07 a `--from TIME` reader
   * whose consumer was lost (a NATS server restart, its consumer deleted, a message out of order) read nothing more
   * until the client gave up on it (only if it had read nothing: ~2 minutes), else for good. Undefined: the reader
   * was stopped (or moved to another connection or run) meanwhile; the lookup's consumer is deleted first, within
   * deleteWithinMs, while stop() waits for this (consumeStream's `making`): before 2026-12-07 the stop closed the
   * connection at once, the deletion went nowhere and the consumer stayed its 60 s (a consumer was made too).
   */
  private async startSeqAt(nc: NatsConnection, parts: JetStreamParts, policy: StartPolicy): Promise<object | undefined> {
    if (policy.deliver_policy !== "by_start_time") return policy;
    const run = this.runs;
    const stream = this.opts.stream!;
    const ci = await parts.jsm.consumers.add(stream, { ...policy, ack_policy: "none", inactive_threshold: 60e9 });
    const deleting = Promise.resolve()
      .then(() => parts.jsm.consumers.delete(stream, ci.name))
      .catch(() => undefined); // else the server drops it once inactive
    this.deleteInBackground(nc, deleting);
    if (this.nc === nc && !this.stopped && this.runs === run) return { deliver_policy: "by_start_sequence", opt_start_seq: ci.delivered.stream_seq + 1 };
    await settledWithin(deleting, this.deleteWithinMs);
    return undefined;
  }

  /**
   * Cold: the consumer's messages ended without the reader stopping them. @nats-io/jetstream 3.4 ends an ordered
   * consumer that read nothing once 30 makes of it in a row failed (consumer.js reset(): after the consumer was lost
   * or delivered out of order, its stream then missing or JetStream not answering, some 2 minutes; a stream merely
   * deleted is waited for without end), and one whose inbox subscription the server refused; before, the reader then
   * read nothing more, quietly, for good. Now told (`consumer_ended`), not ready (streamProblem), and a new consumer
   * is made, tried again with backoff until one is (`consumer_made`). The connection's close for good is closedByClient's.
   * The backoff goes on from the `tries` that made this consumer while consumers end having read nothing: before
   * 2026-12-07 it started again at once, a consumer made then ended at once (its inbox refused) told every 2 s.
   */
  private consumerEnded(nc: NatsConnection, parts: JetStreamParts, iter: NonNullable<NatsFeedReader["iter"]>, err: Error | undefined, tries: number): void {
    if (this.stopped || this.iter !== iter || this.nc !== nc || nc.isClosed?.() === true) return;
    this.iter = undefined;
    this.deleteInBackground(nc, this.deleteConsumer(this.consumer, nc)); // ended by the client, maybe still on the server (its inbox refused)
    this.streamProblem = "consumer_ended";
    this.repacker.tell(this.opts.onNatsEvent, { kind: "consumer_ended", error: err?.message ?? "ended" });
    this.makeConsumerLater(nc, parts, tries);
  }

  /** Cold: a consumer made again after `tries` failed, reconnectAfterCloseMs doubled per try up to 8 times it. */
  private makeConsumerLater(nc: NatsConnection, parts: JetStreamParts, tries: number): void {
    const baseMs = this.opts.reconnectAfterCloseMs ?? READER_RETRY_MS;
    const waitMs = baseMs * 2 ** Math.min(tries, 3);
    this.later(() => this.iter === undefined && this.nc === nc, () => void this.makeConsumer(nc, parts, tries), waitMs);
  }

  private async makeConsumer(nc: NatsConnection, parts: JetStreamParts, tries: number): Promise<void> {
    try {
      const info = await parts.jsm.streams.info(this.opts.stream!);
      if (this.iter !== undefined || this.nc !== nc || this.stopped) return;
      const foreign = this.foreignSubjects(info);
      if (foreign !== undefined) {
        this.refuseForeign(foreign);
        throw new Error(foreign); // looked at again with backoff
      }
      const replacedAt = await this.replacedSinceRead(parts, info);
      if (this.iter !== undefined || this.nc !== nc || this.stopped) return;
      await this.consumeStream(nc, parts, this.policyFor(info, replacedAt), tries + 1);
      if (this.nc !== nc || this.stopped) return;
      this.streamCreated = info.created;
      this.repacker.tell(this.opts.onNatsEvent, { kind: "consumer_made" });
    } catch {
      this.makeConsumerLater(nc, parts, tries + 1);
    }
  }

  /**
   * Cold: the client made its ordered consumer again (its stream deleted, a NATS server restarted without it), on
   * from the sequence after the last one read. A stream made again meanwhile (by the bridge, an operator) starts its
   * sequence again: that consumer read nothing until the new stream outgrew the old one, the reader ready and silent
   * (until 2026-12-07). Such a consumer is replaced by one reading the new stream from its first message (what was
   * lost between is a gap of the bridge's numbering). A stream that cannot be read now is asked again later.
   * `byClient`: the client said it made its consumer again (not an idle look): on the same stream it is readable.
   */
  private async afterRecreated(nc: NatsConnection, parts: JetStreamParts, iter: NonNullable<NatsFeedReader["iter"]>, byClient = true, problemsSeen = this.consumerProblems, lastRead = this.lastJsMsg): Promise<void> {
    // Read before the stream is: a message read while its info is on the way is after the info's last sequence. Kept
    // for a look made again: a message read since may be one stored after a loss, which lastReadReplaced would find.
    const readSeq = lastRead?.info?.streamSequence ?? 0;
    let info: StreamInfo;
    let replacedAt = false;
    try {
      info = await parts.jsm.streams.info(this.opts.stream!);
      if (info.created === this.streamCreated && this.readBeforeBack === undefined) replacedAt = await this.lastReadReplaced(parts.jsm, info, lastRead);
    } catch {
      if (!byClient) return; // an idle look: its next look asks again (lookWhileIdle)
      return this.later(() => this.iter === iter && this.nc === nc, () => void this.afterRecreated(nc, parts, iter, true, problemsSeen, lastRead));
    }
    const { created } = info;
    if (this.iter !== iter || this.nc !== nc || this.stopped) return;
    const same = created === this.streamCreated;
    // The same stream's subjects edited in place (an operator) to another feed's: nothing of this feed is stored
    // from then on. Before 2026-12-07 only a stream made again was looked at: the reader stayed ready, reading nothing.
    const foreign = this.foreignSubjects(info, same);
    // The same stream ending below what was read (its tail lost): a consumer asked to start after the last read is
    // placed by the server's version (2.9 at the end; newer may keep the start, passing over what the stream stores
    // until it outgrows it), the books usable with no gap before 2026-12-07: replaced, a gap, from the last read's time.
    // A sequence gone back (readBeforeBack, also while the info was on the way) is a lost tail whatever the stream's end
    // now; so is the last read message no longer there as read (replacedAt: the stream grown to it again, no sequence
    // gone back, what was stored below the consumer's start passed over).
    const backFrom = this.readBeforeBack?.info?.streamSequence;
    const fromSeq = backFrom ?? (readSeq > 0 ? readSeq : this.startAfter(created)); // nothing read: where it started
    const truncated = same && foreign === undefined && fromSeq > 0 && info.state !== undefined && (backFrom !== undefined || replacedAt || info.state.last_seq < fromSeq);
    if (same && foreign === undefined && !truncated) {
      if (byClient && readSeq > 0 && this.lastJsMsg?.info?.streamSequence === readSeq) this.discardedSince(info, readSeq);
      // Readable, unless the client told of a problem since the event this check answers: that one stands, until
      // the client's next event (the last word wins).
      if (byClient && this.consumerProblems === problemsSeen) this.streamProblem = undefined;
      return;
    }
    const policy = truncated ? this.truncatedFrom(info, fromSeq, readSeq === 0) : undefined;
    this.iter = undefined;
    const consumer = this.consumer;
    const stopping = Promise.resolve()
      .then(() => iter.stop())
      .catch(() => undefined);
    this.deleteInBackground(nc, stopping.then(() => this.deleteConsumer(consumer, nc)));
    await stopping;
    if (foreign === undefined) return this.readReplaced(nc, parts, created, policy === undefined ? () => this.forgetStream(created) : () => policy);
    if (this.nc !== nc || this.stopped) return;
    // Another feed's stream of that name (or this one's subjects edited to another feed's): its consumer stopped (the
    // client's would read it once it outgrew the old one, or the other feed's messages stored from the edit on),
    // nothing read; a new consumer made once the stream is this feed's again, on from the last message read.
    this.refuseForeign(foreign);
    this.makeConsumerLater(nc, parts, 0);
  }

  /**
   * Reads a stream made again from its first message (or one that lost its tail from `policy`: truncatedFrom); tried
   * again later while it cannot be (its creation time is taken once it is read: a connection made again meanwhile,
   * open(), still finds it another stream).
   */
  private async readReplaced(nc: NatsConnection, parts: JetStreamParts, created: string, policy: () => StartPolicy): Promise<void> {
    if (this.nc !== nc || this.stopped || this.iter !== undefined) return;
    try {
      await this.consumeStream(nc, parts, policy());
      if (this.nc === nc) this.streamCreated = created;
    } catch {
      this.later(() => this.iter === undefined && this.nc === nc, () => void this.readReplaced(nc, parts, created, policy));
    }
  }

  /**
   * Cold: every reconnectAfterCloseMs while this consumer read nothing since the last look, the stream's creation time
   * is read as after the client made its consumer again (afterRecreated), one read at a time. Before, only the
   * client's `ordered_consumer_recreated` led there: without it (or with it seen while the old stream was still
   * there) a consumer past a stream made again stayed there, the reader silent for good. A consumer reading is not
   * looked at: one past its stream's end reads nothing.
   */
  private lookWhileIdle(nc: NatsConnection, parts: JetStreamParts, iter: NonNullable<NatsFeedReader["iter"]>): void {
    let readsSeen = this.jsReads;
    const still = () => this.iter === iter && this.nc === nc;
    const look = async (): Promise<void> => {
      if (this.jsReads === readsSeen) await this.afterRecreated(nc, parts, iter, false).catch(() => undefined);
      readsSeen = this.jsReads;
      this.later(still, () => void look());
    };
    this.later(still, () => void look());
  }

  /** Cold: `fn` after `waitMs` (reconnectAfterCloseMs), if the reader is not stopped and `still()`. */
  private later(still: () => boolean, fn: () => void, waitMs = this.opts.reconnectAfterCloseMs ?? READER_RETRY_MS): void {
    const timer = setTimeout(() => {
      if (!this.stopped && still()) fn();
    }, waitMs);
    timer.unref?.();
  }

  // Cold: the client's own reconnects: a refusal of the credentials (its -ERR) and a reconnect ending such a run.
  // Cold: the stream consumer's events. Its stream deleted, the client says consumer_deleted at once, then
  // stream_not_found while it is missing, and ordered_consumer_recreated once it is back (nothing else is read meanwhile).
  private async watchConsumer(nc: NatsConnection, parts: JetStreamParts, iter: NonNullable<NatsFeedReader["iter"]>, events: AsyncIterable<{ type: string }>): Promise<void> {
    for await (const e of events) {
      if (this.iter !== iter) return; // a consumer of a connection replaced since
      if (e.type === "consumer_deleted" || e.type === "stream_not_found" || e.type === "consumer_not_found") {
        this.streamProblem = e.type;
        this.consumerProblems++;
      }
      // Its stream may be another, which that consumer (past its end) reads nothing of: readable once its creation
      // time is read (afterRecreated). Before, this event made the reader ready at once, /readyz 200 while JetStream
      // did not answer that read (or a consumer of the new stream was still being made).
      else if (e.type === "ordered_consumer_recreated") void this.afterRecreated(nc, parts, iter).catch(() => undefined);
    }
  }

  private async watchAuth(nc: NatsConnection, events: AsyncIterable<{ type: string; error?: unknown }>): Promise<void> {
    for await (const e of events) {
      if (e.type === "error" && isAuthError(e.error)) this.authRefused((e.error as Error).message);
      else if (e.type === "disconnect") this.disconnected = true;
      else if (e.type === "reconnect") {
        this.disconnected = false;
        this.natsReconnects++;
        this.authAccepted();
        this.confirmAfterReconnect(nc);
      }
    }
  }

  /**
   * Cold: the client's own reconnect sent the live SUB again (after the connect's round trip) and only then tells
   * `reconnect`: not confirmed until a round trip after it is answered. Before, from-nats read ready at once, the
   * server maybe not having the SUB yet. A drop meanwhile rejects this round trip (the client's next dial): the next
   * reconnect asks again, so no timer; a server that never answers is the client's stale-connection pings' to find.
   */
  private confirmAfterReconnect(nc: NatsConnection): void {
    if (this.opts.stream !== undefined || nc.flush === undefined || this.nc !== nc) return;
    this.confirming = true;
    nc.flush().then(
      () => {
        if (this.nc === nc && !this.disconnected) this.confirming = false;
      },
      () => undefined,
    );
  }

  // Cold: every refusal counted; told once per run of them (the client closes after two, the reader tries every 2 s).
  private authRefused(reason: string): void {
    this.natsAuthErrors++;
    if (this.authRefusing) return;
    this.authRefusing = true;
    this.repacker.tell(this.opts.onNatsEvent, { kind: "auth_refused", error: reason });
  }

  private authAccepted(): void {
    if (!this.authRefusing) return;
    this.authRefusing = false;
    this.repacker.tell(this.opts.onNatsEvent, { kind: "auth_accepted" });
  }

  // Cold: the client closed the connection for good without stop(): it would never connect again, the reader does.
  private closedByClient(nc: NatsConnection, why: void | Error): void {
    if (this.stopped || this.nc !== nc) return;
    this.nc = undefined;
    this.sub = undefined;
    this.iter = undefined;
    this.natsClosed++;
    this.repacker.tell(this.opts.onNatsEvent, { kind: "closed", error: why instanceof Error ? why.message : "closed" });
    this.retry(() => void this.connectAgain());
  }

  // Cold: one attempt to connect after the client closed for good; on failure the next is scheduled.
  private async connectAgain(): Promise<void> {
    // stop() and start() again while it connected: the new run has its own connection. Before, only `stopped` was
    // looked at, cleared again by that start: this one replaced the run's, which was left open, reconnecting for
    // ever and feeding the sink beside it.
    const run = this.runs;
    const gone = () => this.stopped || this.runs !== run;
    let nc: NatsConnection | undefined;
    try {
      nc = await connectWithin(this.connect(), RECONNECT_TIMEOUT_MS);
      if (gone()) return void (await nc.close().catch(() => undefined));
      const foreign = await this.open(nc, this.opts.prefix ?? "feeder", true);
      // Closed for good again during the round trip: closedByClient told it and tries again; not connected, not told so.
      if (gone() || this.nc !== nc) return;
      this.natsReconnects++;
      this.repacker.tell(this.opts.onNatsEvent, { kind: "reconnected" });
      this.authAccepted();
      if (foreign !== undefined) this.refuseForeign(foreign); // after `reconnected`: the last word is that nothing is read
    } catch (err) {
      if (nc !== undefined && this.nc === nc) this.nc = undefined;
      if (nc !== undefined) await nc.close().catch(() => undefined);
      if (gone()) return;
      // A refusal of the credentials is told once per run of them (authRefused), not at every try.
      if (isAuthError(err)) this.authRefused((err as Error).message);
      else this.repacker.tell(this.opts.onNatsEvent, { kind: "reconnect_failed", error: (err as Error).message });
      this.retry(() => void this.connectAgain());
    }
  }

  private retry(fn: () => void): void {
    if (this.stopped) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) fn();
    }, this.opts.reconnectAfterCloseMs ?? READER_RETRY_MS);
  }

  /**
   * Heartbeats only while upstream is alive: a dead upstream, bridge or NATS makes the local stream go stale; one
   * upstream stream going silent while others are alive is a gap (checkUpstream), carried by the next heartbeat. (A
   * gap made while none is alive, or a new session, gets a heartbeat of its own at the flush: EnvelopeRepacker.carryGap.)
   */
  private heartbeat(hbMs: number): void {
    const now = monoEpochMs();
    if (!this.repacker.checkUpstream(now)) return;
    if (now - this.lastSendMs < hbMs) return;
    this.repacker.packer.appendHeartbeat(0);
    this.flush();
  }

  /** Seals and hands over every pending datagram (the replaced session's first). */
  readonly flush = (): void => {
    this.flushScheduled = false;
    const old = this.repacker.pendingOld;
    if (old !== undefined) {
      this.repacker.pendingOld = undefined;
      this.drain(old);
    }
    this.repacker.carryGap(); // a gap made while no upstream stream is alive (no heartbeat of ours follows)
    this.drain(this.repacker.packer);
  };

  private drain(p: ChannelPacker): void {
    if (p.count === 0) return;
    p.seal(shownUs(monoEpochUs())); // the clock a subscriber shows receipt on: latency = repack → receipt
    // The packer's exact-length views, reused (a subarray per datagram was ~64 B of heap each); the same bytes as
    // before, which the sink copies or sends before the packer is written again.
    for (let i = 0; i < p.count; i++) this.sink(p.exactView(i));
    this.datagrams += p.count;
    p.clear();
    this.lastSendMs = monoEpochMs();
  }

  /**
   * Cold: deletes a consumer the reader stopped reading, best effort, within deleteWithinMs (never an error): the
   * client's ordered consumers are otherwise dropped by the server only after 5 min without a pull (their
   * inactive_threshold). Before 2026-12-07 every reader stopped, and every consumer it replaced, stayed that long.
   * Not tried while disconnected (the request would wait for a reconnect that the stop's close prevents).
   */
  private async deleteConsumer(consumer: NatsFeedReader["consumer"], nc: NatsConnection | undefined): Promise<void> {
    if (consumer === undefined || nc === undefined || this.disconnected || nc.isClosed?.() === true) return;
    // By the name the client reads or is making again: its delete() names the last one made, which its remake (the
    // consumer lost, a message out of order) has deleted itself, and the one being made stayed 5 min (until 2026-12-07).
    const { made, jsm } = consumer;
    // A name that is no usable string (none yet, an empty one: the server refuses it, quietly) is not asked by.
    const name: unknown = made.name;
    const del = typeof name === "string" && name !== "" ? () => jsm.consumers.delete(this.opts.stream!, name) : made.delete?.bind(made);
    if (del === undefined) return;
    await settledWithin(Promise.resolve().then(del), this.deleteWithinMs);
  }

  /** Cold: a deletion on `nc` not waited for here, which stop() waits for (within deleteWithinMs) before closing `nc`. */
  private deleteInBackground(nc: NatsConnection, deleting: Promise<unknown>): void {
    const d = { nc, done: deleting.catch(() => undefined) };
    this.deletions.add(d);
    void d.done.then(() => this.deletions.delete(d));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.sub?.unsubscribe();
    // This run's: a start() again while the consumer's deletion waits (up to deleteWithinMs) opens its own
    // connection, which this stop must not close (before, `this.nc` read after that wait was the new run's).
    const nc = this.nc;
    const iter = this.iter;
    const consumer = iter === undefined ? undefined : this.consumer;
    this.iter = undefined; // what its iterator still hands out is not read (the sink not fed after the stop)
    const making = nc !== undefined && this.making?.nc === nc ? this.making.settled : undefined;
    await iter?.stop();
    // Before the close: the requests go on this connection. Those begun earlier are waited for alongside this one,
    // within the same deleteWithinMs (the CLI's stop has 1.5 s in all).
    const earlier = [...this.deletions].filter((d) => d.nc === nc).map((d) => d.done);
    await Promise.all([this.deleteConsumer(consumer, nc), earlier.length > 0 ? settledWithin(Promise.all(earlier), this.deleteWithinMs) : undefined]);
    if (making !== undefined) await settledWithin(making, this.deleteWithinMs); // a consumer being made: deleted once made
    await nc?.close();
    if (this.nc === nc) this.nc = undefined;
  }
}

/**
 * Feeds a FeedSubscriber from NATS (call sub.start() too for its stale checks; it may have no groups). A callback of
 * the reader's that throws is the subscriber's `error` event (and `listenerErrors`) unless opts.onListenerError is given.
 */
export async function attachNats(sub: FeedSubscriber, opts: NatsReadOptions): Promise<NatsFeedReader> {
  const onListenerError = opts.onListenerError ?? ((err: Error) => sub.listenerFailed(err));
  const reader = new NatsFeedReader({ ...opts, onListenerError }, (d) => sub.ingest(d));
  await reader.start();
  return reader;
}
