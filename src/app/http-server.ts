/**
 * Status page, books, readiness and metrics over HTTP (Bun.serve). Loopback by default; a listen address beyond
 * loopback needs `http.allow_non_loopback` (checked by the config) and a bearer token (refused here without one).
 *
 * GET /                                     the status page (static HTML, no data: it fetches /status and /books/… with the token)
 * GET /healthz                              200 while the process runs (never needs the token)
 * GET /readyz                               200 when every configured book is live and no other publisher sends on
 *                                           our streams, else 503 with each rule's count and its first READYZ_NAMED
 *                                           reasons (readiness.ts evaluateSummary: one turn, one reply per worker)
 * GET /status[?books=N[&book=v/m/s]]        readiness, every book and the latency histograms (what the status page shows);
 *                                            with books=N at most N books and reasons, the chosen book and those not
 *                                            usable first, and their totals (StatusSource.statusRows: only those
 *                                            books summarized, readiness from its /readyz summary)
 * GET /metrics                              Prometheus text format 0.0.4
 * GET /books                                every book with its state (JSON, or MessagePack when Accept prefers it: prefersMsgpack),
 *                                            then every configured symbol without a book (state symbol_unresolved);
 *                                            any query parameter is 400 (none taken);
 *                                            /books and /status of many books: collected and formatted 500 per turn (list-stream.ts)
 * GET /books/{venue}/{market}/{symbol}?depth=N   one book, top N levels per side (all when absent); a deep one is
 *                                            formatted a chunk per event-loop turn, as fast as the client reads (book-stream.ts);
 *                                            503 while deep bodies in progress hold MAX_HELD_LEVEL_BYTES of copied levels,
 *                                            each copy counted from before it is asked for (expectedCopyBytes) and
 *                                            made no bigger than that (a book that grew: asked again at its size, or 503);
 *                                            404 for no such book or symbol; 503 `{error, state, reason}` for a configured
 *                                            symbol without a book; 500 `{error, state, reason}` for a book whose levels throw
 *
 * Every answer that takes collecting or formatting is made in an event-loop turn of its own, one per turn across
 * all requests (book-stream.ts formattingTurn): requests that arrive together never add up to one long turn; one of
 * many books (or reasons) takes a turn per 500 of them (list-stream.ts).
 * /readyz's turn comes ahead of the chunks and answers waiting (a load balancer's short timeout never waits on
 * them), shared by every /readyz that arrives before its evaluation is done, and never two such turns in a row while others wait (a
 * flood of /readyz starves nothing); a request whose client went away while it waited, or while its many books
 * were collected, is dropped there (turnOf), nothing more read for it.
 * Without a bearer token (so on loopback), every request but /healthz must be addressed to a loopback name (Host
 * 127.x.x.x, localhost or [::1], any port; or none): 403 otherwise, so a web page cannot read it through DNS rebinding.
 * A bad request (method, target, Host, percent-encoding, query) is a 4xx naming what was wrong and is logged at debug
 * level only; only a failure of the feeder itself is a 500 and an error line, at most one per 5 s with the count (a
 * book that cannot be read answers 500 to every poll of /books/{venue}/{market}/{symbol}: until s-livecount, a line each).
 *
 * Bounds for many or hostile clients (what Bun.serve gives and does not, measured with Bun 1.4.5, is in
 * docs/operations.md § HTTP): beyond `http.max_in_flight` requests being answered at once (Bun's pendingRequests:
 * waiting for a turn, formatted, or a body still being sent to a client that reads slowly or not at all) a request is
 * 503 with retry-after, except the probes /healthz and /readyz; a connection idle for `http.idle_timeout_s` is cut
 * (a client that stops reading too: its answer is released); a request with a body is 413 and its connection closed
 * (Bun otherwise reads and discards a body of any size on this thread; these two checks are http-host.ts's, which
 * the bridge's HTTP runs too); connections, which Bun does not cap, stop being
 * accepted while the process's file descriptors run short (http-fd-guard.ts).
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { pack } from "msgpackr/pack"; // not the root: see src/record/capture.ts
import { ConfigError } from "../core/errors.ts";
import { errorText } from "../core/error-text.ts";
import { RateLimitedLog, type Logger } from "../core/log.ts";
import { DEFAULTS } from "../config/load.ts";
import type { HttpConfig } from "../config/types.ts";
import { detailOf, isCopyRefused, isNotServed, unresolvedSummary, type BookLevels, type BookNotServed, type BookSummary, type CopyRefused } from "./book-json.ts";
import { bookBodyStream, formattingTurn, heldLevelBytesNow, holdCopies, levelBytes, LEVELS_PER_CHUNK, MAX_HELD_LEVEL_BYTES, streamAdmits } from "./book-stream.ts";
import { captureStatus, captureWarnings } from "./capture-health.ts";
import { VERSION, type LatencySnapshot } from "./metrics.ts";
import { guardFds, type FdGuardOptions } from "./http-fd-guard.ts";
import { BODY_REFUSAL_HEADERS, foreignHostRefusal, inFlightRefusal, isLoopbackHost, NOT_STORED, requestBodyRefusal, requestTarget } from "./http-host.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { collectInTurns, documentStream, LIST_ITEMS_PER_TURN, listItems, plainOf, StreamedList, SUMMARY_BYTES, type StreamedDocument, type Turn } from "./list-stream.ts";
import { evaluateReadinessInTurns, evaluateSummary, evaluateSummaryInTurns, isChosenBook, summaryOfInput, type ReadinessInput, type ReadinessSummary, type StatusRows } from "./readiness.ts";
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from "./status-page/page.ts";

export const MSGPACK_CONTENT_TYPE = "application/msgpack";
const MAX_DEPTH = 100_000;

/** What the HTTP layer reads: one process's books, or the aggregate of several workers. */
export interface StatusSource {
  /**
   * The book's levels copied (one consistent state); formatted here, a deep book a chunk per turn (book-stream.ts).
   * BookNotServed: a configured symbol without a book (503) or a book whose levels cannot be read (500); undefined: none.
   * `maxBytes`: what was reserved for the copy against the bound on held copies (absent: none); a source makes no
   * bigger copy (CopyRefused with its size instead: book-json.ts levelsWithin), so the bound holds for a book that grew.
   */
  book(venue: string, market: string, symbol: string, depth: number, maxBytes?: number): BookAnswer | undefined | Promise<BookAnswer | undefined>;
  metricsText(): string | Promise<string>;
  /**
   * Every book (its list, and the unresolved symbols, fixed in the collection's first turn), judged whole by /status:
   * /books and /status read both lists from this one call (two calls' lists could miss a symbol resolved in between).
   * `turn`, when given, is another event-loop turn of HTTP's queue: a source on the pipeline's thread collects many
   * books a chunk per turn with it (list-stream.ts); workers collect on their threads, the supervisor its own passes.
   * `signal`: the request's; a source that does not collect through `turn` (workers) stops collecting once it aborts.
   */
  readiness(turn?: Turn, signal?: AbortSignal): ReadinessInput | Promise<ReadinessInput>;
  /**
   * What /readyz judges: every book and symbol counted, the first READYZ_NAMED of each long list named
   * (readiness.ts ReadinessSummary), in one turn of the pipeline's thread and one small reply per worker. `turn`:
   * another turn of HTTP's queue for a pass of the source's own (a supervisor's over a dead worker's last books).
   * Absent (tests' sources of few books): summarized from readiness().
   */
  readyz?(turn: Turn): ReadinessSummary | Promise<ReadinessSummary>;
  /**
   * What /status?books=`limit` answers from: readiness as readyz() gives it with `limit` of each list named, and only
   * the books and symbols that may be among its rows (`chosen`: the book=), summarized (readiness.ts StatusRows), so a
   * poll costs its rows and a pass over the books' states, not every book's summary. `turn` as readiness()'s.
   * Absent (tests' sources): the rows picked from readiness()'s whole lists.
   */
  statusRows?(limit: number, chosen: string | null, turn: Turn, signal?: AbortSignal): StatusRows | Promise<StatusRows>;
  latency(): LatencySnapshot | Promise<LatencySnapshot>;
}

/** What a source answers for one book it has or knows. */
export type BookAnswer = BookLevels | BookNotServed | CopyRefused;

export interface HttpServerHandle {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A client error: answered with `status` and the message, never logged above debug. */
class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What was asked for may be held by a part that is not answering (a worker restarting, hung, or its reply late): 503, retry. */
export class Unavailable extends BadRequest {
  constructor(message: string) {
    super(503, message, { "retry-after": "1" });
  }
}

/**
 * Throws when the config would serve books and metrics beyond loopback without a token. The runtime calls it
 * before anything starts, so such a config never connects to a venue either.
 */
export function checkHttpExposure(config: HttpConfig): void {
  if (!config.enabled || isLoopbackHost(config.host) || config.bearerToken) return;
  throw new ConfigError([
    `http.bearer_token: required when http.listen (${config.host}:${config.port}) is beyond loopback; refusing to serve books and metrics without a token (set one, or listen on 127.0.0.1)`,
  ]);
}

export function startHttpServer(config: HttpConfig, source: StatusSource, log: Logger, fdGuard: FdGuardOptions = {}): HttpServerHandle {
  checkHttpExposure(config);
  if (!isLoopbackHost(config.host)) log.warn("HTTP is bound beyond loopback; every request but /healthz needs the bearer token", { host: config.host, port: config.port });
  const authorized = bearerCheck(config.bearerToken);
  const maxInFlight = config.maxInFlight ?? DEFAULTS.httpMaxInFlight;
  const refused = new RateLimitedLog(log, "warn", "HTTP requests refused: http.max_in_flight requests are being answered (503, retry-after)");
  const admit: Admission = () => {
    // This request is counted too. Every other one holds a slot until its answer is sent, its client has gone or
    // the idle timeout cut it (a client that stops reading holds its whole answer in memory until then).
    let pending = server?.pendingRequests ?? 0;
    for (const old of draining) pending += old.pendingRequests; // a server that stopped accepting still answers
    const refusal = inFlightRefusal(pending, maxInFlight, "http.max_in_flight");
    if (refusal === undefined) return;
    refused.hit(`${pending - 1} in flight, max ${maxInFlight}`);
    throw new BadRequest(503, refusal, { "retry-after": "1" });
  };
  const handlerFailed = new RateLimitedLog(log, "error", "HTTP handler failed");
  // Each request can reach it: until 2026-12-07 a line each, as many as requests came.
  const serverError = new RateLimitedLog(log, "error", "HTTP server error");
  const readyz = sharedReadiness(source);
  const everyBook: EveryBook = { items: undefined, first: undefined };
  const deepBytes = new Map<string, number>();
  const listen = (port: number) => Bun.serve({
    hostname: config.host,
    port,
    idleTimeout: config.idleTimeoutS ?? DEFAULTS.httpIdleTimeoutS,
    async fetch(req) {
      try {
        return await route(req, { source, authorized, loopbackOnly: !config.bearerToken, admit, readyz, log, everyBook, deepBytes });
      } catch (err) {
        if (err instanceof BadRequest) {
          log.debug("HTTP bad request", { method: req.method, target: loggedTarget(req.url), status: err.status, error: err.message });
          return json({ error: err.message }, err.status, err.headers);
        }
        handlerFailed.hit(`${req.method} ${loggedTarget(req.url)}: ${errorText(err)}`);
        return json(err instanceof NamedFailure ? err.body : { error: "internal error" }, 500);
      }
    },
    error(err) {
      // Only reached if the handler above could not even run; still never an unhandled crash.
      serverError.hit(errorText(err));
      return json({ error: "internal error" }, 500);
    },
  });
  const first = listen(config.port);
  const port = first.port ?? config.port;
  /** The server accepting connections; undefined while the descriptor guard holds them off. */
  let server: ReturnType<typeof listen> | undefined = first;
  /** Servers that stopped accepting (the descriptor guard) while their connections are still open. */
  const draining = new Set<ReturnType<typeof listen>>();
  let stopped = false;
  // Another process may have bound the port while this one did not listen: retried at every check (once a second),
  // but logged once a minute, not a line a second for as long as it holds it.
  const relistenFailed = new RateLimitedLog(log, "error", "HTTP could not listen again (port taken meanwhile?); retried every second", 60_000);
  const endGuard = guardFds(fdGuard, {
    stopAccepting(open, limit) {
      // Probes included: a connection is told apart only once its request is read, when it already holds a descriptor.
      log.warn("HTTP stopped accepting connections: the process's file descriptors are running out (clients holding connections open); open ones are still answered, new ones refused by the kernel (/healthz and /readyz are refused too: an orchestrator must not take that for a dead feeder)", { openFds: open, limit });
      const old = server;
      if (old === undefined) return;
      server = undefined;
      draining.add(old);
      old.stop(false).then(() => draining.delete(old), () => draining.delete(old));
    },
    accept(open, limit) {
      if (stopped) return true;
      try {
        server = listen(port);
        log.info("HTTP accepting connections again", { openFds: open, limit, failedListensTotal: relistenFailed.total });
        return true;
      } catch (err) {
        relistenFailed.hit(`port ${port}: ${(err as Error).message}`);
        return false;
      }
    },
  });
  log.info("HTTP listening", { url: `http://${config.host}:${port}` });
  return {
    url: `http://${config.host}:${port}`,
    port,
    stop: async () => {
      stopped = true;
      endGuard();
      await Promise.all([...(server ? [server] : []), ...draining].map((s) => s.stop(true)));
    },
  };
}

/**
 * The request target as logged: a `token` in the query (the status page's `?token=`, sent to another route by
 * hand) is not written to the log, and a long target is cut. The name is compared decoded, as the page reads it
 * (`%74oken=` is a token too).
 */
function loggedTarget(raw: string): string {
  const q = raw.indexOf("?");
  if (q < 0) return raw.slice(0, 500);
  const pairs = raw.slice(q + 1).split("&").map((pair) => {
    const name = new URLSearchParams(pair).keys().next().value;
    return name?.toLowerCase() === "token" ? `${pair.split("=")[0]}=(not logged)` : pair;
  });
  return (raw.slice(0, q + 1) + pairs.join("&")).slice(0, 500);
}

/**
 * Constant-time token check: both tokens are hashed to 32 bytes first, so neither content nor length leaks
 * through timing. The scheme name is case-insensitive (RFC 9110 §11.1).
 */
function bearerCheck(token: string | undefined): (header: string | null) => boolean {
  if (!token) return () => true;
  const expected = createHash("sha256").update(token).digest();
  return (header) => {
    const m = /^bearer +(.*)$/i.exec(header ?? "");
    const given = createHash("sha256").update(m ? m[1]! : "").digest();
    return timingSafeEqual(given, expected) && m !== null;
  };
}

/** The request target as a URL; a target or Host header that does not parse is a 400 naming it (http-host.ts). */
function targetOf(raw: string, host: string | null): URL {
  const url = requestTarget(raw, host);
  if (typeof url === "string") throw new BadRequest(400, url);
  return url;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequest(400, `bad percent-encoding in path segment ${JSON.stringify(segment.slice(0, SHOWN_CHARS))}`);
  }
}

/** Characters of a value from the request that an answer's error shows (a path segment may be ~16 KB). */
const SHOWN_CHARS = 200;

/** A value from the request as an answer's error shows it: SHOWN_CHARS at most, an ellipsis where it was cut. */
function shownPart(text: string): string {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

/** A book as its errors name it, cut to SHOWN_CHARS: until s-httpsmall a 404 or 503 echoed ~16 KB of segments. */
export function bookName(venue: string, market: string, symbol: string): string {
  return `${venue}/${market}/${symbol}`.slice(0, SHOWN_CHARS);
}

/**
 * Throws 400 naming the parameter whose name or value does not percent-decode: URLSearchParams reads such an escape
 * (`?book=%FF`) as U+FFFD, so until s-httpsmall a bad `book=` chose no book and a bad `depth=` was said not an integer.
 */
function checkQueryEncoding(url: URL): void {
  for (const pair of url.search.slice(1).split("&")) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const decodedName = decodedQueryPart(name);
    if (decodedName !== undefined && (eq < 0 || decodedQueryPart(pair.slice(eq + 1)) !== undefined)) continue;
    throw new BadRequest(400, `bad percent-encoding in query parameter ${JSON.stringify((decodedName ?? name).slice(0, SHOWN_CHARS))}`);
  }
}

/** A query name or value decoded as a form reads it (`+` a space); undefined when its percent-encoding does not decode. */
function decodedQueryPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/** Without a token, a request addressed to a name that is not loopback is 403 (DNS rebinding: http-host.ts). */
function refuseForeignHost(host: string | null): void {
  const refusal = foreignHostRefusal(host, "without http.bearer_token this server", "set a token to serve other names");
  if (refusal !== undefined) throw new BadRequest(403, refusal);
}

/** Throws (503) when the requests being answered are at the bound; the probes are not asked. */
type Admission = () => void;

/** A request with a body is refused and its connection closed (http-host.ts requestBodyRefusal). */
function refuseBody(req: Request): void {
  const refusal = requestBodyRefusal(req);
  if (refusal !== undefined) throw new BadRequest(413, refusal, { ...BODY_REFUSAL_HEADERS });
}

/** What a server's requests are answered with. */
interface Routing {
  readonly source: StatusSource;
  readonly authorized: (header: string | null) => boolean;
  /** No bearer token: only requests addressed to a loopback name are answered (refuseForeignHost). */
  readonly loopbackOnly: boolean;
  readonly admit: Admission;
  /** The next health-check turn's readiness answer (sharedReadiness). */
  readonly readyz: () => Promise<ReadinessAnswer>;
  readonly log: Logger;
  readonly everyBook: EveryBook;
  /** Bytes of each book's copy as last learned (noteCopyBytes): what the next is expected to hold (bookResponse). */
  readonly deepBytes: Map<string, number>;
}

/** What the next answer listing every book (/books, /status without books=) is expected to hold (admitEveryBook). */
interface EveryBook {
  /** Items of the last such answer; undefined before the first. */
  items: number | undefined;
  /** While no such answer was made: the collection in progress, which the others wait for. */
  first: Promise<void> | undefined;
}

async function route(req: Request, { source, authorized, loopbackOnly, admit, readyz, log, everyBook, deepBytes }: Routing): Promise<Response> {
  refuseBody(req);
  if (req.method !== "GET" && req.method !== "HEAD") throw new BadRequest(405, `method ${req.method} not allowed`, { allow: "GET, HEAD" });
  const host = req.headers.get("host");
  const url = targetOf(req.url, host);
  const path = url.pathname;
  if (path === "/healthz") return new Response("ok\n", { headers: { "content-type": "text/plain", ...NOT_STORED } });
  if (loopbackOnly) refuseForeignHost(host);
  // The probes (Kubernetes', often with a 1 s timeout) are never refused: /healthz costs nothing, /readyz one turn ahead of the queue.
  if (path !== "/readyz") admit();
  // The page is static and holds no data; everything it shows comes from the endpoints below, with the token.
  if (path === "/") return new Response(STATUS_PAGE_HTML, { headers: STATUS_PAGE_HEADERS });
  if (!authorized(req.headers.get("authorization"))) throw new BadRequest(401, "missing or wrong bearer token", { "www-authenticate": "Bearer" });
  const msgpack = prefersMsgpack(req.headers.get("accept"));
  const m = BOOK_PATH.exec(path);
  if (m) return bookResponse(req, url, m, source, msgpack, log, deepBytes);
  if (path === "/readyz") {
    const ready = await readyz();
    if (req.signal.aborted) return gone();
    return msgpack ? ready.msgpack() : ready.json();
  }
  const answer = DATA_ROUTES[path];
  if (answer === undefined) throw new BadRequest(404, `no route ${shownPart(path)}`);
  // The pipeline runs in between; the numbers are read and formatted in this turn (many books: in turns of their own).
  await formattingTurn();
  if (req.signal.aborted) return gone(); // the client went away (or the server stopped) while this waited
  const reserved = { release: () => {} };
  try {
    return await answer({ source, msgpack, url, req, log, nextTurn: turnOf(req), everyBook, reserved });
  } finally {
    reserved.release(); // collecting failed or its client went: what admitEveryBook reserved is free again
  }
}

/**
 * MessagePack when the Accept header names application/msgpack with a q above 0 and no lower than JSON's (its own
 * range, else application/*, else the wildcard; 0 when none is named): a tie goes to MessagePack, named explicitly.
 * Before, any mention of it did, `;q=0` ("not acceptable") and a JSON preferred over it too. Cold (once a request):
 * one pass over the header (a request head is at most 16 KiB: a longer one is 431).
 */
export function prefersMsgpack(accept: string | null): boolean {
  if (accept === null) return false;
  const text = accept.toLowerCase();
  if (!text.includes(MSGPACK_CONTENT_TYPE)) return false;
  const q = new Map<string, number>();
  for (const range of splitUnquoted(text, ",")) {
    const [type = "", ...params] = splitUnquoted(range, ";").map((p) => p.trim());
    const given = params.find((p) => p.startsWith("q="))?.slice(2);
    // RFC 9110 §12.4.2: 0 to 1, at most three decimals; a range with any other q is left out.
    if (given !== undefined && !/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(given)) continue;
    const value = given === undefined ? 1 : Number(given);
    if (!q.has(type)) q.set(type, value);
  }
  const packed = q.get(MSGPACK_CONTENT_TYPE) ?? 0;
  return packed > 0 && packed >= (q.get("application/json") ?? q.get("application/*") ?? q.get("*/*") ?? 0);
}

/**
 * `text` split at each `separator` outside a quoted string (RFC 9110 §5.6.4, `\` escaping the next character): a
 * parameter value may be quoted and hold `,` or `;`. Until 2026-12-07 the header was split at every one, so
 * `application/json;profile="a,b";q=0.1` was read as JSON at q=1 (its q cut off), and MessagePack refused over it.
 */
function splitUnquoted(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** What a data route answers from. */
interface DataRequest {
  readonly source: StatusSource;
  readonly msgpack: boolean;
  readonly url: URL;
  readonly req: Request;
  readonly log: Logger;
  /** Another turn of the shared queue for its collecting past its first turn (turnOf). */
  readonly nextTurn: Turn;
  readonly everyBook: EveryBook;
  /** What admitEveryBook reserved for the collection; released by documentResponse (or when the route ends). */
  readonly reserved: { release: () => void };
}

/** The request's client went away while its answer was collected: nothing more is collected for it. */
class ClientGone extends BadRequest {
  constructor() {
    super(499, "the client went away while its answer was collected");
  }
}

/**
 * Another turn of the shared queue (formattingTurn) for `req`'s collecting: throws ClientGone once its client has
 * gone. Before, /books or /status of 20,000 books went on collecting and judging for a client that had gone (tens
 * of turns), and a client that asked and closed at once cost all of them.
 */
function turnOf(req: Request): Turn {
  return async () => {
    await formattingTurn();
    if (req.signal.aborted) throw new ClientGone();
  };
}

/**
 * A document of many books or reasons (over LIST_ITEMS_PER_TURN) is formatted a chunk per turn as its client reads
 * (list-stream.ts), holding its items against the deep bodies' bound (503 past it); a smaller one in this turn.
 */
function documentResponse({ req, msgpack, log, everyBook, reserved }: DataRequest, doc: StreamedDocument, listsEveryBook = false): Response {
  reserved.release(); // the items are counted as they are from here (documentStream), in this same turn
  if (req.signal.aborted) return gone(); // the client went away while it was collected
  const items = listItems(doc);
  if (listsEveryBook) everyBook.items = items;
  if (items <= LIST_ITEMS_PER_TURN) return body(plainOf(doc), msgpack, 200);
  if (!streamAdmits(items * SUMMARY_BYTES)) throw busy();
  const failed = (err: unknown) => log.error("HTTP body failed", { target: loggedTarget(req.url), error: errorText(err) });
  const type = msgpack ? MSGPACK_CONTENT_TYPE : "application/json";
  return new Response(documentStream(doc, msgpack, req.signal, failed), { headers: { "content-type": type, ...NOT_STORED } });
}

/**
 * Throws busy (503) before any book is collected when the last answer listing every book would not be admitted now
 * (documentResponse's check): before, 20,000 summaries were collected (40 turns, on a worker too) to be answered 503.
 * Admitted, that much is reserved against the bound while it is collected: until s-rdhttp each of a burst checked
 * the bound alone, so all of them collected every book at once (64 of 20,000: 1.3 GB as the bound counts
 * summaries), all but those that fit to be answered 503. The count is the last answer's; one that grew since is
 * still checked once collected.
 */
async function admitEveryBook({ everyBook, reserved, nextTurn }: DataRequest): Promise<void> {
  // Before any such answer its count is not known: one collects at a time, the others wait for its count. Until
  // 2026-12-07 the count started at 0, so a first burst was not bounded at all (each collected every book).
  while (everyBook.items === undefined) {
    if (everyBook.first === undefined) {
      let done = () => {};
      const first = new Promise<void>((resolve) => (done = resolve));
      everyBook.first = first;
      // documentResponse sets the count in the same turn it releases this; a first that failed or whose client went
      // leaves it unknown, and one of the waiting is the first then (the route's second release leaves that one be).
      reserved.release = () => {
        if (everyBook.first === first) everyBook.first = undefined;
        done();
      };
      return;
    }
    await everyBook.first;
    await nextTurn(); // a turn of its own again, as each was given one (ClientGone if its client went meanwhile)
  }
  if (everyBook.items <= LIST_ITEMS_PER_TURN) return;
  const bytes = everyBook.items * SUMMARY_BYTES;
  if (!streamAdmits(bytes)) throw busy();
  reserved.release = holdCopies(bytes);
}

/** The source's /readyz summary (StatusSource.readyz), or one of its whole lists when it has none. */
export async function readyzOf(source: StatusSource, turn: Turn): Promise<ReadinessSummary> {
  return source.readyz !== undefined ? source.readyz(turn) : summaryOfInput(await source.readiness(turn));
}

/**
 * One evaluation of readiness, formatted once per encoding on first use, for every /readyz that waited for it.
 * Small whatever the books: each rule's count and its first READYZ_NAMED reasons.
 */
interface ReadinessAnswer {
  json(): Response;
  msgpack(): Response;
}

/**
 * The answer of the next health-check turn (ahead of every chunk and answer waiting), shared by every /readyz that
 * arrives before that evaluation is done: before, each took a turn of its own ahead of the queue, so a flood of
 * /readyz (never refused) held every other answer back by one turn per request (200 looping clients: one /metrics by
 * 700–1,000). One evaluation at a time, so a flood during it starts no second one. The evaluation is of the source's
 * ReadinessSummary, made in that turn (or, with workers, one reply from each): until 2026-12-06 every book was
 * collected and judged 500 per turn, and a body of many reasons formatted 500 per turn, for every /readyz.
 */
function sharedReadiness(source: StatusSource): () => Promise<ReadinessAnswer> {
  let next: Promise<ReadinessAnswer> | undefined;
  const checkTurn: Turn = () => formattingTurn(true);
  return () =>
    (next ??= checkTurn().then(async () => {
      let summary: ReadinessSummary;
      try {
        summary = await readyzOf(source, checkTurn);
      } finally {
        next = undefined; // one arriving from now on waits for fresh numbers
      }
      // A recorder's capture failing is a warning (200 all the same: the books are published): capture-health.ts.
      const r = summary.capture !== undefined ? { ...evaluateSummary(summary), warnings: captureWarnings(summary.capture) } : evaluateSummary(summary);
      const status = r.ready ? 200 : 503;
      let text: string | undefined;
      let packed: Uint8Array | undefined;
      return {
        json: () => json((text ??= JSON.stringify(r)), status, {}, true),
        msgpack: () => new Response((packed ??= pack(r)), { status, headers: { "content-type": MSGPACK_CONTENT_TYPE, ...NOT_STORED } }),
      };
    }));
}

/**
 * What a request whose client went away (or whose server stopped) while it waited for its turn gets: nothing is
 * read or formatted for an answer nobody receives (a client that timed out and retried would otherwise cost twice).
 */
function gone(): Response {
  return new Response(null, { status: 499 });
}

const BOOK_PATH = /^\/books\/([^/]+)\/([^/]+)\/([^/]+)$/;

/**
 * The routes answered from the pipeline's numbers (each starting in a formatting turn of its own; /readyz:
 * sharedReadiness). /status and /books collect, judge and format many books LIST_ITEMS_PER_TURN per turn.
 */
const DATA_ROUTES: Record<string, (r: DataRequest) => Promise<Response>> = {
  async "/status"(r) {
    const { source, url, nextTurn } = r;
    const limit = statusLimit(url);
    if (limit !== undefined && source.statusRows !== undefined) return statusOfRows(r, limit);
    if (limit === undefined) await admitEveryBook(r);
    const [input, latency] = await Promise.all([source.readiness(nextTurn, r.req.signal), source.latency()]);
    const readiness = await evaluateReadinessInTurns(input, nextTurn, LIST_ITEMS_PER_TURN);
    const unresolved = await collectInTurns(input.unresolved.length, (i) => unresolvedSummary(input.unresolved[i]!), nextTurn);
    const books = input.books.concat(unresolved);
    const capture = input.capture !== undefined ? { capture: captureStatus(input.capture), warnings: captureWarnings(input.capture) } : {};
    const head = { version: VERSION, nowMs: Date.now(), ready: readiness.ready, ...capture };
    if (limit === undefined) return documentResponse(r, { ...head, reasons: new StreamedList(readiness.reasons), books: new StreamedList(books), latency }, true);
    const shown = { reasons: readiness.reasons.slice(0, limit), books: pickBooks(books, limit, url.searchParams.get("book")) };
    const totals = { reasons: readiness.reasons.length, books: input.books.length, usable: input.books.filter((b) => b.valid).length, unresolved: input.unresolved.length };
    return documentResponse(r, { ...head, reasons: new StreamedList(shown.reasons), books: new StreamedList(shown.books), totals, latency });
  },
  async "/metrics"({ source }) {
    return new Response(await source.metricsText(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, ...NOT_STORED } });
  },
  async "/books"(r) {
    // The configured symbols without a book too, so that one looked for here is found, with why. Both lists from one
    // collection (its first turn): before, the books came from one and the unresolved symbols from a second one after
    // it, so a symbol resolved in between was in neither (and every book was summarized twice).
    refuseQuery(r.url, "/books takes none: one book's levels are /books/{venue}/{market}/{symbol}?depth=N");
    await admitEveryBook(r);
    const input = await r.source.readiness(r.nextTurn, r.req.signal);
    const unresolved = await collectInTurns(input.unresolved.length, (i) => unresolvedSummary(input.unresolved[i]!), r.nextTurn);
    return documentResponse(r, new StreamedList(input.books.concat(unresolved)), true);
  },
};

/**
 * /status?books=N from the source's StatusRows: the same answer as from every book (the route above), made of the N
 * rows and /readyz's summary with N of each list named (its reasons are the first of each rule's, so their first N
 * are those of the whole lists; its counts every book's).
 */
async function statusOfRows(r: DataRequest, limit: number): Promise<Response> {
  const { source, url, nextTurn } = r;
  const chosen = url.searchParams.get("book");
  const [rows, latency] = await Promise.all([source.statusRows!(limit, chosen, nextTurn, r.req.signal), source.latency()]);
  const s = rows.summary;
  const judged = await evaluateSummaryInTurns(s, nextTurn, LIST_ITEMS_PER_TURN);
  const unresolved = await collectInTurns(rows.unresolved.length, (i) => unresolvedSummary(rows.unresolved[i]!), nextTurn);
  const capture = s.capture !== undefined ? { capture: captureStatus(s.capture), warnings: captureWarnings(s.capture) } : {};
  const head = { version: VERSION, nowMs: Date.now(), ready: judged.ready, ...capture };
  const books = pickBooks(rows.books.concat(unresolved), limit, chosen);
  const totals = { reasons: judged.reasons.length + judged.reasonsNotShown, books: s.books, usable: s.live, unresolved: s.unresolved };
  return documentResponse(r, { ...head, reasons: new StreamedList(judged.reasons.slice(0, limit)), books: new StreamedList(books), totals, latency });
}

/**
 * /status's `books=N` (1–100,000; absent: every book and reason) and `book=` (only with books=; each at most once, no other key: 400). The status page asks for what it draws: with
 * 20,000 books every poll of the whole list was 7.6 MB of JSON formatted in one turn of the feed's thread (~77 ms).
 */
function statusLimit(url: URL): number | undefined {
  checkQueryEncoding(url);
  // Only `books` and `book`, each at most once: a misspelt one was ignored and every book sent (the 7.6 MB above).
  for (const key of new Set(url.searchParams.keys())) {
    if (key !== "books" && key !== "book") throw new BadRequest(400, `unknown query parameter ${JSON.stringify(key.slice(0, 50))} (/status takes only books and book)`);
  }
  const chosen = url.searchParams.getAll("book");
  if (chosen.length > 1) throw new BadRequest(400, `book: given ${chosen.length} times`);
  const given = url.searchParams.getAll("books");
  if (given.length === 0) {
    if (chosen.length !== 0) throw new BadRequest(400, "book: chooses the first of books=N; books= not given");
    return undefined;
  }
  const n = Number(given[0]);
  if (given.length > 1 || !/^\d+$/.test(given[0]!) || n < 1 || n > MAX_DEPTH) throw new BadRequest(400, `books: ${JSON.stringify(given.join(",").slice(0, 50))} is not one integer 1–${MAX_DEPTH}`);
  return n;
}

/**
 * Throws 400 naming the first query parameter of a route that takes none (`takes`: what it takes instead): until
 * 2026-12-07 `/books?depth=5` or `?venue=okx` was ignored and every book sent, where /status and a book refuse theirs.
 */
function refuseQuery(url: URL, takes: string): void {
  checkQueryEncoding(url);
  const key = url.searchParams.keys().next().value;
  if (key !== undefined) throw new BadRequest(400, `unknown query parameter ${JSON.stringify(key.slice(0, 50))} (${takes})`);
}

/**
 * At most `limit` books, in one pass (no sort of them all): the one named `chosen` (venue/market/symbol), then those
 * not usable (none hidden behind usable ones), then the usable ones, each in the source's order.
 */
function pickBooks(books: readonly BookSummary[], limit: number, chosen: string | null): BookSummary[] {
  const isChosen = (b: BookSummary) => isChosenBook(chosen, b.venue, b.market, b.symbol);
  const out = books.filter(isChosen).slice(0, 1);
  for (const usable of [false, true]) {
    for (const b of books) {
      if (out.length >= limit) return out;
      if (b.valid === usable && !isChosen(b)) out.push(b);
    }
  }
  return out;
}

async function bookResponse(req: Request, url: URL, m: RegExpExecArray, source: StatusSource, msgpack: boolean, log: Logger, deepBytes: Map<string, number>): Promise<Response> {
  checkQueryEncoding(url);
  // Only `depth`, at most once: a misspelt or repeated one would otherwise be ignored and the whole book sent.
  for (const key of new Set(url.searchParams.keys())) {
    if (key !== "depth") throw new BadRequest(400, `unknown query parameter ${JSON.stringify(key.slice(0, 50))} (a book takes only depth)`);
  }
  const depths = url.searchParams.getAll("depth");
  if (depths.length > 1) throw new BadRequest(400, `depth: given ${depths.length} times`);
  const depthParam = depths[0];
  let depth = 0;
  if (depthParam !== undefined) {
    depth = Number(depthParam);
    if (!/^\d+$/.test(depthParam) || depth < 1 || depth > MAX_DEPTH) throw new BadRequest(400, `depth: ${JSON.stringify(depthParam.slice(0, 50))} is not an integer 1–${MAX_DEPTH}`);
  }
  const [venue, market, symbol] = [decodeSegment(m[1]!), decodeSegment(m[2]!), decodeSegment(m[3]!)];
  const name = `${venue}/${market}/${symbol}`;
  // A body that may be streamed is not even copied while the deep bodies in progress hold the bound.
  const deep = depth === 0 || 2 * depth > LEVELS_PER_CHUNK;
  if (deep && !streamAdmits(0)) throw busy();
  await formattingTurn();
  if (req.signal.aborted) return gone();
  // Its copy is reserved before it is asked for: with workers it comes back turns later, and until 2026-12-07 it was
  // counted only then, so every request of a burst was asked for and held its copy at once, past the bound.
  const last = deepBytes.get(name);
  const expected = deep ? expectedCopyBytes(last, depth) : 0;
  if (!streamAdmits(expected)) throw busy();
  let book = await reservedCopy(source, venue, market, symbol, depth, deep ? expected : undefined);
  if (book !== undefined && isCopyRefused(book)) {
    // It grew since its last copy, or was never copied and is bigger than the room left: nothing was copied past the
    // reservation (until 2026-12-07 the copy came at the size it is now, k times what was reserved, and a burst held
    // k times the bound). Asked once more at its size.
    noteCopyBytes(deepBytes, name, book.copyRefused, depth === 0);
    if (req.signal.aborted) return gone();
    if (!streamAdmits(book.copyRefused)) {
      const why = last !== undefined && last > 0 ? "it grew since its last copy" : "the room left: its size was not known";
      throw grown(bookName(venue, market, symbol), book, why, "deep book bodies in progress leave no room for it now");
    }
    const retried = await reservedCopy(source, venue, market, symbol, depth, book.copyRefused);
    if (retried !== undefined && isCopyRefused(retried)) {
      noteCopyBytes(deepBytes, name, retried.copyRefused, depth === 0);
      throw grown(bookName(venue, market, symbol), retried, "its size when asked for before: it grew again meanwhile", "not asked for a third time");
    }
    book = retried;
  }
  if (!book) throw new BadRequest(404, `no book ${bookName(venue, market, symbol)}`);
  if (isNotServed(book)) return notServed(book);
  // Only books found: as many entries as books. A `depth` copy with fewer levels than that a side is the whole book.
  if (depth === 0 || (book.bidPx.length < depth && book.askPx.length < depth)) noteCopyBytes(deepBytes, name, levelBytes(book), true);
  if (book.bidPx.length + book.askPx.length <= LEVELS_PER_CHUNK) return body(detailOf(book), msgpack, 200);
  if (!streamAdmits(levelBytes(book))) throw busy();
  const type = msgpack ? MSGPACK_CONTENT_TYPE : "application/json";
  // A body that fails part-way cannot become a 500 (its status is sent): the connection is cut and this logged.
  const failed = (err: unknown) => log.error("HTTP book body failed", { target: loggedTarget(req.url), error: errorText(err) });
  return new Response(bookBodyStream(book, msgpack, req.signal, failed), { headers: { "content-type": type, ...NOT_STORED } });
}

/**
 * The source's copy of a book, `maxBytes` (undefined: unbounded, a shallow one) reserved against the bound while it is
 * asked for: the source makes no copy bigger (CopyRefused). The reservation is released in the turn the answer comes,
 * where the copy is counted as it is (bookBodyStream).
 */
async function reservedCopy(source: StatusSource, venue: string, market: string, symbol: string, depth: number, maxBytes: number | undefined): Promise<BookAnswer | undefined> {
  const reserved = holdCopies(maxBytes ?? 0);
  try {
    return await source.book(venue, market, symbol, depth, maxBytes);
  } finally {
    reserved();
  }
}

/**
 * A book whose copy is bigger than was reserved for it, not asked for (again): 503, retry. `reserved`: what the
 * reservation was (until 2026-12-07 always "it grew since its last copy", also for a book never copied); `why`: why
 * it is not asked for now.
 */
function grown(name: string, refused: CopyRefused, reserved: string, why: string): BadRequest {
  const held = `${heldLevelBytesNow()} B of the ${MAX_HELD_LEVEL_BYTES / 2 ** 20} MiB bound held`;
  return new BadRequest(503, `book ${name}: its copy is ${refused.copyRefused} B, more than the ${refused.maxBytes} B reserved for it (${reserved}); ${why} (${held}); retry`, { "retry-after": "1" });
}

/**
 * Notes what book `name`'s copies take (expectedCopyBytes reserves from it): `bytes` its whole size when `whole`, else
 * a `depth` copy's size, no more than the whole: kept if larger than what was noted. Until 2026-12-07 only whole copies
 * noted it, so a `depth` over LEVELS_PER_CHUNK / 2 of a book that grew was refused and asked again at every request.
 */
function noteCopyBytes(deepBytes: Map<string, number>, name: string, bytes: number, whole: boolean): void {
  deepBytes.set(name, whole ? bytes : Math.max(bytes, deepBytes.get(name) ?? 0));
}

/** Bytes of a level's copy: price and quantity, 8 B each (levelBytes). */
const LEVEL_COPY_BYTES = 16;

/**
 * What a copy of a book at `depth` (0: whole) is reserved as before it is asked for: `depth` levels a side, or the
 * book's size last noted if smaller (`last`: noteCopyBytes). A book of no size noted, or last copied empty: the room left under
 * the bound, so one such is asked for at a time and holds off the others while it is. A copy bigger than this is not
 * made (CopyRefused: reservedCopy). An empty last copy (asked for before its snapshot) tells nothing of the book once filled: until
 * 2026-12-07 it reserved 0, and a burst for it was asked for all at once, every copy held past the bound.
 */
function expectedCopyBytes(last: number | undefined, depth: number): number {
  const atMost = depth > 0 ? 2 * depth * LEVEL_COPY_BYTES : Infinity;
  // At least a byte: the room left may be none, and a reservation of 0 would admit any number.
  const known = last !== undefined && last > 0 ? last : Math.max(1, MAX_HELD_LEVEL_BYTES - heldLevelBytesNow());
  return Math.min(atMost, known);
}

/**
 * A book the source cannot answer with levels, in words and with its state and reason (`{error, state, reason}`): a
 * configured symbol without a book is 503 (not usable yet; /books lists it with why and when it is retried), a book
 * whose levels throw when read is the feeder's fault: 500, logged as every handler failure (at most a line per 5 s).
 */
function notServed(book: BookNotServed): Response {
  const answer = { error: book.error, state: book.state, reason: book.reason };
  if (book.notServed !== "unreadable") return json(answer, 503);
  throw new NamedFailure(book.error, answer);
}

/** A failure of the feeder itself whose 500 body names what failed (`body`), not only "internal error". */
class NamedFailure extends Error {
  constructor(
    message: string,
    readonly body: Record<string, string>,
  ) {
    super(message);
  }
}

/** Too many deep books being sent at once: 503, retry (each holds a copy of its book until its client has it). */
function busy(): BadRequest {
  return new BadRequest(503, `deep book bodies in progress hold ${MAX_HELD_LEVEL_BYTES / 2 ** 20} MiB of copied levels (the bound); retry when they are read`, { "retry-after": "1" });
}

function body(value: unknown, msgpack: boolean, status: number): Response {
  if (msgpack) return new Response(pack(value), { status, headers: { "content-type": MSGPACK_CONTENT_TYPE, ...NOT_STORED } });
  return json(value, status);
}

/** `formatted`: `value` is the JSON text already. */
function json(value: unknown, status: number, headers: Record<string, string> = {}, formatted = false): Response {
  return new Response(formatted ? (value as string) : JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...NOT_STORED, ...headers },
  });
}
