/**
 * `feeder bridge`'s HTTP: /healthz, /readyz and /metrics (Prometheus text 0.0.4, written by the feeder's own writer,
 * app/prometheus.ts) on `--http ADDR:PORT`, loopback only (default 127.0.0.1:9466 for to-nats, :9467 for
 * from-nats, so both directions fit on one host beside the feeder's 9464 and the recorder's 9465 of deploy/systemd;
 * `--http off`: none). Every value is read at scrape time from the counters the bridge already keeps (nothing counted
 * for metrics on its hot path). The conventions are the feeder's
 * (docs/operations.md § Metrics): counters end in `_total`, base units, one metric per quantity, and the series of
 * one name are disjoint, so `sum()` over a label never double-counts. The counters live on the bridge object, never
 * on a NATS connection: a reconnect (the client's, or the bridge's after a close for good) neither resets nor
 * repeats them. With no token, every request but /healthz must be addressed to a loopback name (403 otherwise:
 * DNS rebinding), and a Host or target that does not parse is a 400 naming it; a request with a body is 413 and its
 * connection closed; beyond BRIDGE_HTTP_LIMITS.maxInFlight requests being answered one is 503 with retry-after (not
 * /healthz nor /readyz); a connection idle for idleTimeoutS is cut: all as the feeder's HTTP with its defaults
 * (app/http-host.ts, the same code). A client's mistake is logged at debug level only. Cold path.
 * @module
 */
import { REJECTED_RETRANSMIT, type ForwardBridge } from "../../bridge/forward-bridge.ts";
import type { ReverseBridge } from "../../bridge/reverse-bridge.ts";
import { errorText } from "../../core/error-text.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BODY_REFUSAL_HEADERS, foreignHostRefusal, inFlightRefusal, isLoopbackHost, NOT_STORED, requestBodyRefusal, requestTarget } from "../../app/http-host.ts";
import { DEFAULTS } from "../../config/load.ts";
import { VERSION } from "../../app/metrics.ts";
import { processSnapshot, writeProcessMetrics } from "../../app/process-metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, PromWriter } from "../../app/prometheus.ts";
import { DECODE_ERROR_NAMES } from "../../wire/decoder.ts";
import { UsageError } from "../command.ts";

/** The reasons a datagram is rejected for (the decoder's, its "ok" aside, and a RETRANSMIT one): each exported, zeros included. */
const REJECT_REASONS: readonly string[] = [...DECODE_ERROR_NAMES.slice(1), REJECTED_RETRANSMIT];

export const DEFAULT_TO_NATS_HTTP = "127.0.0.1:9466";
export const DEFAULT_FROM_NATS_HTTP = "127.0.0.1:9467";

export interface BridgeHttpAddress {
  host: string;
  port: number;
}

/** `--http ADDR:PORT` or `off`; a host beyond loopback is refused (the bridge's HTTP has no token). */
export function bridgeHttpOf(v: unknown, dflt: string): BridgeHttpAddress | undefined {
  const given = v === undefined ? dflt : String(v);
  if (given === "off") return undefined;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost):(\d{1,5})$/.exec(given);
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`--http must be ADDR:PORT (e.g. ${dflt}) or off, got ${JSON.stringify(given)}`);
  if (!isLoopbackHost(m[1]!)) {
    throw new UsageError(`--http ${JSON.stringify(given)} is beyond loopback: the bridge serves /metrics and /readyz on loopback only (no token); scrape it from this host (a Prometheus agent or a proxy)`);
  }
  return { host: m[1]!, port: Number(m[2]) };
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface BridgeHttpSource {
  metrics(): string;
  readiness(): Readiness;
}

export interface BridgeHttpHandle {
  readonly url: string;
  stop(): Promise<void>;
}

/** The bounds of the bridge's HTTP: the feeder's defaults (http.max_in_flight, http.idle_timeout_s). */
export interface BridgeHttpLimits {
  /** Requests being answered at once (this one included) beyond which one is 503; /healthz and /readyz never. */
  readonly maxInFlight: number;
  /** Seconds a connection may send or take nothing before it is closed (Bun's idleTimeout; 8–255). */
  readonly idleTimeoutS: number;
}

export const BRIDGE_HTTP_LIMITS: BridgeHttpLimits = { maxInFlight: DEFAULTS.httpMaxInFlight, idleTimeoutS: DEFAULTS.httpIdleTimeoutS };

/** Binds at once (a port taken throws: the command exits 1 before it connects to NATS). */
export function startBridgeHttp(addr: BridgeHttpAddress, source: BridgeHttpSource, log: Logger, limits: BridgeHttpLimits = BRIDGE_HTTP_LIMITS): BridgeHttpHandle {
  /** A client's mistake: a 4xx naming it, logged at debug level only (an error line is for the bridge's own failures). */
  const refuse = (req: Request, status: number, error: string, headers: Record<string, string> = {}): Response => {
    log.debug("bridge HTTP bad request", { method: req.method, status, error });
    return new Response(`${JSON.stringify({ error })}\n`, { status, headers: { ...headers, "content-type": "application/json", ...NOT_STORED } });
  };
  const refused = new RateLimitedLog(log, "warn", "bridge HTTP requests refused: the in-flight cap's requests are being answered (503, retry-after)");
  // The bridge's own failure (its metrics or readiness throwing) at every scrape: a line per 5 s with the count, as
  // the feeder's "HTTP handler failed". Until s-httpsmall Bun's error() wrote one per scrape, naming no request.
  const failed = new RateLimitedLog(log, "error", "bridge HTTP request failed");
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname: addr.host,
    port: addr.port,
    idleTimeout: limits.idleTimeoutS,
    fetch(req) {
      try {
        return answer(req);
      } catch (err) {
        failed.hit(`${req.method} ${targetOf(req.url)}: ${errorText(err)}`);
        return new Response("internal error\n", { status: 500, headers: { "content-type": "text/plain", ...NOT_STORED } });
      }
    },
    error(err) {
      // Only reached if the handler above could not even run.
      failed.hit(err.message);
      return new Response("internal error\n", { status: 500, headers: { "content-type": "text/plain", ...NOT_STORED } });
    },
  });
  return { url: `http://${addr.host}:${server.port}`, stop: async () => void (await server.stop(true)) };

  /** The answer to `req`; throws only on the bridge's own failure (fetch above). */
  function answer(req: Request): Response {
    const body = requestBodyRefusal(req);
    if (body !== undefined) return refuse(req, 413, body, BODY_REFUSAL_HEADERS);
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, 405, `method ${req.method} not allowed`, { allow: "GET, HEAD" });
    const host = req.headers.get("host");
    const url = requestTarget(req.url, host);
    if (typeof url === "string") return refuse(req, 400, url);
    const path = url.pathname;
    if (path === "/healthz") return new Response("ok\n", { headers: { "content-type": "text/plain", ...NOT_STORED } });
    const foreign = foreignHostRefusal(host, "the bridge's HTTP has no token and", "scrape it as 127.0.0.1 or localhost");
    if (foreign !== undefined) return refuse(req, 403, foreign);
    if (path !== "/readyz") {
      const busy = inFlightRefusal(server.pendingRequests, limits.maxInFlight, `the bridge's cap, as the feeder's http.max_in_flight default`);
      if (busy !== undefined) {
        refused.hit(`${server.pendingRequests - 1} in flight, max ${limits.maxInFlight}`);
        return refuse(req, 503, busy, { "retry-after": "1" });
      }
    }
    if (path === "/metrics") return new Response(source.metrics(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, ...NOT_STORED } });
    if (path === "/readyz") {
      const r = source.readiness();
      return new Response(`${JSON.stringify(r)}\n`, { status: r.ready ? 200 : 503, headers: { "content-type": "application/json", ...NOT_STORED } });
    }
    return refuse(req, 404, `no route ${path}: /healthz, /readyz, /metrics`);
  }
}

/** The request's path and query as a log line names them, cut (a target may be ~16 KB). */
function targetOf(raw: string): string {
  const start = raw.indexOf("/", raw.indexOf("//") + 2);
  return (start < 0 ? raw : raw.slice(start)).slice(0, 500);
}

/** The labels every bridge series shares: none. The process's one bridge is said by feeder_bridge_info. */
function info(w: PromWriter, direction: string, prefix: string, stream: string | undefined): void {
  w.family("feeder_bridge_info", "gauge", "always 1; the labels say which bridge runs").sample("feeder_bridge_info", { version: VERSION, direction, prefix, stream: stream ?? "" }, 1);
}

function connection(w: PromWriter, h: { natsConnected: boolean; authRefused: boolean }, c: { natsReconnects: number; natsClosed: number; natsAuthErrors: number }): void {
  w.family("feeder_bridge_nats_connected", "gauge", "1 while the NATS connection is open (0 while down, reconnecting, or waiting to connect again after a close for good)").sample("feeder_bridge_nats_connected", {}, h.natsConnected ? 1 : 0);
  w.family("feeder_bridge_nats_auth_refused", "gauge", "1 while the NATS server refuses the bridge's credentials (from the first refusal until a connection is made)").sample("feeder_bridge_nats_auth_refused", {}, h.authRefused ? 1 : 0);
  w.family("feeder_bridge_nats_reconnects_total", "counter", "NATS connections made again (the client's own reconnects and the bridge's after a close for good)").sample("feeder_bridge_nats_reconnects_total", {}, c.natsReconnects);
  w.family("feeder_bridge_nats_closed_total", "counter", "times the NATS client closed its connection for good (two authorization errors in a row): the bridge connects again every 2 s").sample("feeder_bridge_nats_closed_total", {}, c.natsClosed);
  w.family("feeder_bridge_nats_auth_errors_total", "counter", "refusals of the bridge's credentials by the NATS server").sample("feeder_bridge_nats_auth_errors_total", {}, c.natsAuthErrors);
}

/** to-nats: multicast in, NATS out, the client's backlog, the JetStream stream's watch. */
export function toNatsMetrics(bridge: ForwardBridge, prefix: string, stream: string | undefined): string {
  const w = new PromWriter();
  const c = bridge.counters;
  const h = bridge.health;
  info(w, "to-nats", prefix, stream);
  w.family("feeder_bridge_multicast_received_datagrams_total", "counter", "datagrams read from the groups that passed the checks (checksum, HMAC, framing)").sample("feeder_bridge_multicast_received_datagrams_total", {}, c.datagrams);
  w.family("feeder_bridge_multicast_rejected_datagrams_total", "counter", "datagrams read from the groups and rejected, by reason (not in received_datagrams)");
  // Every reason from the start, zeros included: a series that first appears at 1 hides that datagram from
  // increase() and rate() (no sample before it), so the first forged (bad_auth) datagrams alerted nothing.
  for (const reason of REJECT_REASONS) w.sample("feeder_bridge_multicast_rejected_datagrams_total", { reason }, c.rejected[reason] ?? 0);
  for (const [reason, n] of Object.entries(c.rejected)) if (!REJECT_REASONS.includes(reason)) w.sample("feeder_bridge_multicast_rejected_datagrams_total", { reason }, n);
  w.family("feeder_bridge_multicast_received_bytes_total", "counter", "bytes of the datagrams in received_datagrams (not the rejected ones: rejected_bytes)").sample("feeder_bridge_multicast_received_bytes_total", {}, c.receivedBytes);
  w.family("feeder_bridge_multicast_rejected_bytes_total", "counter", "bytes of the datagrams rejected (not in received_bytes)").sample("feeder_bridge_multicast_rejected_bytes_total", {}, c.rejectedBytes);
  w.family("feeder_bridge_multicast_duplicate_datagrams_total", "counter", "datagrams wholly behind their stream's sequence (copies, or late; heartbeats below the next seqNum too), dropped as a subscriber drops them").sample("feeder_bridge_multicast_duplicate_datagrams_total", {}, c.duplicates);
  w.family("feeder_bridge_upstream_gaps_total", "counter", "gaps in an upstream stream's sequence (datagrams lost before the bridge): each skips a forward number").sample("feeder_bridge_upstream_gaps_total", {}, c.upstreamGaps);
  w.family("feeder_bridge_upstream_seq_jumps_reverted_total", "counter", "jumps ahead of an upstream sequence undone by two datagrams of the line before it").sample("feeder_bridge_upstream_seq_jumps_reverted_total", {}, c.seqJumpsReverted);
  w.family("feeder_bridge_upstream_seq_lines_back_total", "counter", "upstream numberings gone back within their session (a datagram behind the line sent after every one heard of its session): each skips a forward number").sample("feeder_bridge_upstream_seq_lines_back_total", {}, c.seqLinesBack);
  w.family("feeder_bridge_upstream_send_times_ahead_total", "counter", "datagrams sent more than --send-ahead-max-ms ahead of this host's clock (a forged send time, or a publisher clock ahead): their send time raises the mark seq_lines_back is judged by to this clock plus that bound only").sample("feeder_bridge_upstream_send_times_ahead_total", {}, c.sendTimesAhead);
  w.family("feeder_bridge_nats_published_messages_total", "counter", "envelopes handed to the NATS client, by kind (message: a wire message; heartbeat: an upstream heartbeat)");
  w.sample("feeder_bridge_nats_published_messages_total", { kind: "message" }, c.published);
  w.sample("feeder_bridge_nats_published_messages_total", { kind: "heartbeat" }, c.heartbeats);
  w.family("feeder_bridge_nats_published_bytes_total", "counter", "envelope bytes handed to the NATS client").sample("feeder_bridge_nats_published_bytes_total", {}, c.publishedBytes);
  w.family("feeder_bridge_dropped_messages_total", "counter", "wire messages not published, by reason: disconnected (NATS down), backlog (the client held more than --max-pending), publish_error (the client refused it; not heartbeats, which carry none), undefined_instrument (no definition seen yet); each loss a number skipped, seen by readers");
  w.sample("feeder_bridge_dropped_messages_total", { reason: "disconnected" }, c.droppedDisconnected);
  w.sample("feeder_bridge_dropped_messages_total", { reason: "backlog" }, c.droppedBacklog);
  w.sample("feeder_bridge_dropped_messages_total", { reason: "publish_error" }, c.publishErrors);
  w.sample("feeder_bridge_dropped_messages_total", { reason: "undefined_instrument" }, c.undefinedInstrument);
  w.family("feeder_bridge_instruments_over_cap_total", "counter", "definitions of instruments beyond the 65,536 the bridge keeps a subject for").sample("feeder_bridge_instruments_over_cap_total", {}, c.instrumentsOverCap);
  w.family("feeder_bridge_nats_pending_bytes", "gauge", "bytes the NATS client holds unwritten (its buffer and its socket's): how far publishing lags the feed; 0 when the client hides it").sample("feeder_bridge_nats_pending_bytes", {}, bridge.pendingBytes);
  w.family("feeder_bridge_nats_server_errors_total", "counter", "errors the NATS server reported (-ERR), e.g. a publish its permissions refuse; not the refusals of the credentials").sample("feeder_bridge_nats_server_errors_total", {}, c.natsErrors);
  connection(w, h, c);
  if (stream !== undefined) {
    const s = { stream };
    // Unknown (the stream not read yet: the bridge starting) is no sample, never 1.
    w.family("feeder_bridge_stream_storing", "gauge", "1 while the last read of the JetStream stream found it there and storing what the bridge publishes; absent until the bridge has read it");
    if (h.streamStoring !== undefined) w.sample("feeder_bridge_stream_storing", s, h.streamStoring ? 1 : 0);
    w.family("feeder_bridge_stream_not_stored_messages_total", "counter", "messages published that the JetStream stream did not store (a hole in the history); the bridge publishes without acknowledgements, so this is its failed-ack count").sample("feeder_bridge_stream_not_stored_messages_total", s, c.streamNotStored);
    w.family("feeder_bridge_stream_missing_total", "counter", "checks that found the JetStream stream gone (it is created again)").sample("feeder_bridge_stream_missing_total", s, c.streamMissing);
    w.family("feeder_bridge_stream_check_failures_total", "counter", "checks that could not read the JetStream stream (NATS down or slow, JetStream unavailable)").sample("feeder_bridge_stream_check_failures_total", s, c.streamCheckFailures);
  }
  writeProcessMetrics(w, processSnapshot());
  return w.text();
}

/**
 * to-nats is ready while it can forward: connected, its credentials taken, the client's backlog within --max-pending
 * and its stream (if any) read and storing. Read as things are now, not from traffic: a silent feed is ready once
 * NATS is.
 */
export function toNatsReadiness(bridge: ForwardBridge, stream?: string): Readiness {
  const h = bridge.health;
  const reasons: string[] = [];
  if (h.authRefused) reasons.push("the NATS server refuses the bridge's credentials");
  else if (!h.natsConnected) reasons.push("not connected to NATS");
  else if (h.overMaxPending) reasons.push("the NATS client holds more than --max-pending unwritten (NATS slower than the feed): datagrams are dropped");
  if (h.streamStoring === false) reasons.push("the JetStream stream is not storing, or cannot be checked");
  else if (stream !== undefined && h.streamStoring === undefined) reasons.push(`the JetStream stream ${stream} has not been read yet (the bridge is making it)`);
  return { ready: reasons.length === 0, reasons };
}

/** from-nats: NATS in, multicast out, the repacking's counters. */
export function fromNatsMetrics(bridge: ReverseBridge, prefix: string, stream: string | undefined): string {
  const w = new PromWriter();
  const reader = bridge.reader;
  const c = bridge.counters; // over every run of the bridge: never read from one reader, whose counts start at 0
  info(w, "from-nats", prefix, stream);
  if (reader !== undefined && c !== undefined) {
    w.family("feeder_bridge_nats_received_envelopes_total", "counter", "NATS messages read (envelopes), refused ones included").sample("feeder_bridge_nats_received_envelopes_total", {}, c.envelopes);
    w.family("feeder_bridge_nats_received_bytes_total", "counter", "bytes of the NATS messages read").sample("feeder_bridge_nats_received_bytes_total", {}, c.receivedBytes);
    w.family("feeder_bridge_nats_refused_envelopes_total", "counter", "envelopes refused, by reason (short, bad_magic, unknown_version, bad_message, old_session, bad_auth, repeated)");
    for (const [reason, n] of Object.entries(c.refused)) w.sample("feeder_bridge_nats_refused_envelopes_total", { reason }, n);
    w.family("feeder_bridge_repacked_messages_total", "counter", "wire messages repacked into the local stream").sample("feeder_bridge_repacked_messages_total", {}, c.messages);
    w.family("feeder_bridge_other_bridge_envelopes_total", "counter", "envelopes dropped as copies of a second bridge forwarding a stream the reader follows from another").sample("feeder_bridge_other_bridge_envelopes_total", {}, c.otherBridge);
    w.family("feeder_bridge_older_copies_total", "counter", "book messages dropped as another channel's copy of an event older than one already repacked").sample("feeder_bridge_older_copies_total", {}, c.olderCopies);
    w.family("feeder_bridge_listener_errors_total", "counter", "the reader's callbacks that threw (its bridge and NATS event callbacks): counted and logged, the envelope still read").sample("feeder_bridge_listener_errors_total", {}, c.listenerErrors);
    w.family("feeder_bridge_upstream_gaps_total", "counter", "forward numbers skipped or never seen (something lost on the way): each a gap of the local stream").sample("feeder_bridge_upstream_gaps_total", {}, c.upstreamGaps);
    w.family("feeder_bridge_upstream_streams_silent_total", "counter", "upstream streams gone silent or ended (END_OF_SESSION) while others were alive: each a gap of the local stream").sample("feeder_bridge_upstream_streams_silent_total", {}, c.streamsSilent);
    w.family("feeder_bridge_bridge_failovers_total", "counter", "switches to another bridge of a stream whose followed bridge went silent").sample("feeder_bridge_bridge_failovers_total", {}, c.bridgeFailovers);
    w.family("feeder_bridge_sessions_total", "counter", "sessions of the local stream started (one per upstream session change or forward jump undone)").sample("feeder_bridge_sessions_total", {}, c.sessions);
    w.family("feeder_bridge_sessions_reverted_total", "counter", "upstream sessions undone (one datagram of a bogus newer session)").sample("feeder_bridge_sessions_reverted_total", {}, c.sessionsReverted);
    w.family("feeder_bridge_multicast_sent_datagrams_total", "counter", "datagrams sent to the local group").sample("feeder_bridge_multicast_sent_datagrams_total", {}, bridge.sentDatagrams);
    w.family("feeder_bridge_multicast_sent_bytes_total", "counter", "bytes of those datagrams").sample("feeder_bridge_multicast_sent_bytes_total", {}, bridge.sentBytes);
    w.family("feeder_bridge_multicast_send_errors_total", "counter", "datagrams the kernel refused (not in sent_datagrams)").sample("feeder_bridge_multicast_send_errors_total", {}, bridge.sendErrors);
    w.family("feeder_bridge_replaying", "gauge", "1 while a reader of a JetStream stream from all or a time has not reached its live end (lag: it replays history)").sample("feeder_bridge_replaying", {}, reader.repacker.replaying ? 1 : 0);
    w.family("feeder_bridge_nats_subscriptions_refused_total", "counter", "refusals of the subscription on <prefix>.> by the NATS server (permissions)").sample("feeder_bridge_nats_subscriptions_refused_total", {}, c.subscriptionsRefused);
    connection(w, reader.health, c);
  }
  writeProcessMetrics(w, processSnapshot());
  return w.text();
}

/** from-nats is ready while it is connected, its credentials and its subscription taken (confirmed by the server), its stream (if any) read. */
export function fromNatsReadiness(bridge: ReverseBridge, stream?: string): Readiness {
  const reader = bridge.reader;
  if (reader === undefined) return { ready: false, reasons: ["starting"] };
  const h = reader.health;
  const reasons: string[] = [];
  if (h.authRefused) reasons.push("the NATS server refuses the reader's credentials");
  else if (!h.natsConnected) reasons.push("not connected to NATS");
  if (h.subscriptionRefused) reasons.push("the NATS server refuses the subscription on <prefix>.>");
  else if (h.subscriptionUnconfirmed) reasons.push("the NATS server has not confirmed the subscription on <prefix>.> yet");
  if (h.streamProblem === "foreign_subjects") reasons.push(`the JetStream stream ${stream ?? ""} keeps another prefix's subjects (foreign_subjects): nothing is read until it is this feed's`);
  else if (h.streamProblem !== undefined) reasons.push(`the JetStream stream ${stream ?? ""} cannot be read (${h.streamProblem}): nothing is read until it is back (a stream deleted, or a consumer the reader is making again)`);
  return { ready: reasons.length === 0, reasons };
}
