/**
 * A stand-in for the feeder worker (no pipeline, no sockets): at `start` it sends the supervisor messages it cannot
 * take (not an object, no type, a reply part without its lists, a session whose taking throws in the test's
 * onWorkerSession), then a proper session and "started" of no books; or, when its config carries MALFORMED_STARTED
 * (a test's marker), a session and then that malformed "started" instead (a failed start). It answers pings as a worker does,
 * stop too except worker DEAF_TO_STOP's (as one whose venues' sockets do not close), and every request with a reply
 * of the wrong shape (MALFORMED_REPLIES).
 */
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";

declare const self: Worker;

/** The worker index that never answers `stop`. */
export const DEAF_TO_STOP = 1;
let workerIndex = -1;

/** The sourceId of the session message whose taking the test makes throw. */
export const THROWING_SOURCE_ID = -7;

const SUMMARY = { books: 0, live: 0, notLive: 0, notLiveFirst: [], unresolved: 0, unresolvedFirst: [], connectionsDown: 0, connectionsDownFirst: [], workersDown: [] };

const HISTOGRAM = { boundsUs: [1], counts: [0, 0], count: 0, sumUs: 0 };
/** A metrics snapshot of the right shape, each malformed one below differing from it in one part. */
const METRICS = { labels: { worker: "0" }, venues: { bybit: [] }, books: [], unresolved: [], publisher: { datagrams: 0, bytes: 0, sendErrors: 0, messages: 0 }, applyErrors: {}, exchangeToReceipt: {}, receiptToSend: HISTOGRAM, eventLoopLag: undefined, heapUsedBytes: undefined };

/** Entries of a reply's connections that are no connection state: null, a number, one with a field of the wrong type. */
const CONNECTIONS: unknown[] = [null, 5, { venue: "bybit", market: "linear", connection: "linear-0", url: "ws://127.0.0.1:9/", up: false, lastError: 5, downSinceMs: 1 }];

/**
 * Replies of the wrong shape to each request, the nth request of a kind answered with its (n mod length)th: each
 * kept as it was used to fail or garble its answer (an optional list that is no list: the merge threw, a 500; a venue's
 * samples that are no list, a histogram without counts or bounds, a book count that is no object: /metrics or
 * /latency threw, a 500; a sample's section of the wrong shape: /metrics threw, or wrote "undefined" for a value,
 * which makes a scraper refuse the whole scrape; an entry of a readiness reply's connections, sendFailures or workersDown, or of a readyz
 * reply's named lists, that is not one of them: /status's or /readyz's rules read its fields, a 500).
 */
export const MALFORMED_REPLIES: Record<string, unknown[]> = {
  // A copy refused whose sizes are no byte counts, or no refusal (not more than reserved): HTTP would reserve them.
  book: [5, { copyRefused: -16, maxBytes: 16 }, { copyRefused: 1e300, maxBytes: 16 }, { copyRefused: 16, maxBytes: 32 }, { copyRefused: 48, maxBytes: Number.NaN }],
  readiness: [
    { books: "not a list", unresolved: [], connections: [], workersDown: [] },
    { books: [], unresolved: [], connections: [], workersDown: [], sendFailures: 5 },
    ...CONNECTIONS.map((c) => ({ books: [], unresolved: [], connections: [c], workersDown: [] })),
    { books: [], unresolved: [], connections: [], workersDown: [], sendFailures: [null] },
    { books: [], unresolved: [], connections: [], workersDown: ["worker one"] },
  ],
  readyz: [
    { books: 1 },
    { ...SUMMARY, sendFailures: 5 },
    ...CONNECTIONS.map((c) => ({ ...SUMMARY, connectionsDown: 1, connectionsDownFirst: [c] })),
    { ...SUMMARY, notLive: 1, notLiveFirst: [null] },
    { ...SUMMARY, unresolved: 1, unresolvedFirst: [null] },
    { ...SUMMARY, sendFailures: [null] },
    { ...SUMMARY, workersDown: [null] },
  ],
  status: [
    { books: "not a list", unresolved: [], summary: SUMMARY },
    { books: [], unresolved: [], summary: { books: 1 } },
    { books: [], unresolved: [], summary: { ...SUMMARY, notLive: 1, notLiveFirst: [null] } },
  ],
  latency: [{}, { receiptToSend: { boundsUs: [1], count: 0, sumUs: 0 }, exchangeToReceipt: {} }],
  metrics: [
    { labels: {} },
    { ...METRICS, venues: { bybit: 5 } },
    { ...METRICS, receiptToSend: { boundsUs: [1], count: 0, sumUs: 0 } },
    { ...METRICS, exchangeToReceipt: { bybit: { counts: [0] } } },
    { ...METRICS, eventLoopLag: { boundsUs: [1], counts: 3, count: 0, sumUs: 0 } },
    { ...METRICS, books: [null] },
    { ...METRICS, books: [{ venue: "bybit", market: "linear", state: "live" }] },
    { ...METRICS, unresolved: [{ venue: "bybit", market: "linear", count: "none" }] },
    { ...METRICS, publisher: { datagrams: 0 } },
    { ...METRICS, applyErrors: { bybit: "none" } },
    { ...METRICS, retransmit: { answered: "all" } },
    { ...METRICS, retransmitHistory: 5 },
    { ...METRICS, retransmitHistory: [null] },
    { ...METRICS, wallClockSteps: 5 },
    { ...METRICS, heapUsedBytes: "a lot" },
    { ...METRICS, destinations: 5 },
    { ...METRICS, destinations: [{ destination: "desk", sendErrors: "some" }] },
  ],
};
const asked = new Map<string, number>();

/** The config key (a test's marker, not a feeder setting) whose value names the malformed "started" to send. */
export const MALFORMED_STARTED = "testMalformedStarted";
/** The malformed "started" messages by name: lists that are no lists, a venue entry that is no VenueStart. */
export const MALFORMED_STARTS: Record<string, unknown> = {
  summaries: { type: "started", books: 1, sessionId: 2, summaries: "not a list", venues: [] },
  venue: { type: "started", books: 0, sessionId: 2, summaries: [], venues: [null] },
  unresolved: { type: "started", books: 0, sessionId: 2, summaries: [], venues: [{ venue: "bybit", books: 0, unresolved: [null] }] },
};

/**
 * The config key (a test's marker) whose value, a list, is sent as "started"'s summaries: elements that are no book
 * summary (null, a number) among good ones. Only the list is checked as "started" is taken (not its thousands of
 * elements), so the start succeeds and the list is kept as the worker's last books.
 */
export const STARTED_SUMMARIES = "testStartedSummaries";

/**
 * The config key (a test's marker) whose value, a list, is sent as every readiness reply's books (a worker answering,
 * not down): elements that are no book summary among good ones; its unresolved symbols hold a null among good ones. The
 * other requests still get MALFORMED_REPLIES.
 */
export const READINESS_BOOKS = "testReadinessBooks";
let readinessBooks: unknown;

/**
 * The config key (a test's marker) whose value, a list, holds the readiness replies to send in turn, the last one from
 * then on (well-formed ones among malformed ones). The other requests still get MALFORMED_REPLIES.
 */
export const READINESS_REPLIES = "testReadinessReplies";
let readinessReplies: unknown;

/** As READINESS_REPLIES, for the readyz replies (ReadinessSummary). */
export const READYZ_REPLIES = "testReadyzReplies";
let readyzReplies: unknown;

/**
 * The config key (a test's marker) whose value, a list of request kinds (`what`), are never answered: a worker that
 * runs and answers its pings but not those requests (too busy, or a reply stuck). The others get MALFORMED_REPLIES.
 */
export const SILENT_REQUESTS = "testSilentRequests";
let silentRequests: unknown;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const send = (m: unknown) => self.postMessage(m);
  if (msg.type === "start") {
    workerIndex = msg.workerIndex;
    readinessBooks = (msg.config as unknown as Record<string, unknown>)[READINESS_BOOKS];
    readinessReplies = (msg.config as unknown as Record<string, unknown>)[READINESS_REPLIES];
    silentRequests = (msg.config as unknown as Record<string, unknown>)[SILENT_REQUESTS];
    readyzReplies = (msg.config as unknown as Record<string, unknown>)[READYZ_REPLIES];
    send(null);
    send(42);
    send({ type: 7 });
    send({ type: "response-part", id: 0, books: "not a list" });
    send({ type: "session", sourceId: THROWING_SOURCE_ID, sessionId: 1 });
    send({ type: "session", sourceId: 1000 + msg.workerIndex, sessionId: 2, sessionStartUs: 1 } satisfies FromWorker);
    const malformedStart = (msg.config as unknown as Record<string, unknown>)[MALFORMED_STARTED];
    const summaries = (msg.config as unknown as Record<string, unknown>)[STARTED_SUMMARIES] ?? [];
    send(typeof malformedStart === "string" ? MALFORMED_STARTS[malformedStart] : { type: "started", books: 0, sessionId: 2, summaries, venues: [] });
  } else if (msg.type === "ping") send({ type: "pong" } satisfies FromWorker);
  else if (msg.type === "request" && Array.isArray(silentRequests) && silentRequests.includes(msg.what)) return;
  else if (msg.type === "request" && (msg.what === "readiness" || msg.what === "status") && Array.isArray(readinessBooks)) {
    const lists = { books: readinessBooks, unresolved: [null, { venue: "bybit", market: "linear", symbol: "ETHUSDT", reason: "not_listed" }] };
    send({ type: "response", id: msg.id, result: msg.what === "status" ? { ...lists, summary: SUMMARY } : { ...lists, connections: [], workersDown: [] } });
  }
  else if (msg.type === "request" && ((msg.what === "readiness" && Array.isArray(readinessReplies)) || (msg.what === "readyz" && Array.isArray(readyzReplies)))) {
    const replies = (msg.what === "readiness" ? readinessReplies : readyzReplies) as unknown[];
    const n = asked.get(msg.what) ?? 0;
    asked.set(msg.what, n + 1);
    send({ type: "response", id: msg.id, result: replies[Math.min(n, replies.length - 1)] });
  } else if (msg.type === "request") {
    const n = asked.get(msg.what) ?? 0;
    asked.set(msg.what, n + 1);
    const replies = MALFORMED_REPLIES[msg.what]!;
    send({ type: "response", id: msg.id, result: replies[n % replies.length] } as FromWorker);
  }
  else if (msg.type === "stop" && workerIndex !== DEAF_TO_STOP) send({ type: "stopped" } satisfies FromWorker);
};
