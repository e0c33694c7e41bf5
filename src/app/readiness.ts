/**
 * What /readyz checks. Ready means every configured book is live: no symbol left unresolved, no venue connection
 * down, every book LIVE (README: "every configured book") except one closed past the expiry its listing gave. Each rule is a function from the plain ReadinessInput
 * to the reasons it finds; /status lists all of them.
 *
 * /readyz judges a ReadinessSummary instead: the same rules over every book and symbol, but only counted, the first
 * READYZ_NAMED of each long list named (Feeder.readinessSummary: one pass over the builders' states in one turn; a
 * worker's is one small reply). Its answer is 503 with each rule's count and the first READYZ_NAMED of its reasons.
 * Why: the whole lists of 20,000 books took a worker ~80 turns (summarized and sent 500 per turn: ~9.6 s at 60 ms
 * turns, past a probe's timeout), the unresolved symbols were read whole in one turn (1–5 ms at 20,000).
 *
 * To add a rule: add what it needs to ReadinessInput (filled by Feeder.readinessInput(), concatenated across
 * workers by the supervisor) and to ReadinessSummary (summaryOfInput, Feeder.readinessSummary, mergeSummaries), and a
 * function to READINESS_CHECKS.
 * @module
 */
import { redactUrlsIn } from "../core/redact-url.ts";
import type { SendFailure } from "../net/feed-publisher.ts";
import type { VenueConnectionState } from "../venues/venue.ts";
import { refusedDetail, type BookSummary } from "./book-json.ts";
import type { CaptureHealth } from "./capture-health.ts";

/**
 * One reason not to be ready: `check` names the rule, `detail` says what in words, the rest locates it. A number
 * not known is null (as /books gives an unknown time), never 0.
 */
export interface NotReadyReason {
  readonly check: string;
  readonly detail: string;
  readonly [field: string]: string | number | null;
}

/** Plain data (a worker posts its share to the main thread). */
export interface ReadinessInput {
  books: BookSummary[];
  /**
   * Configured symbols whose instrument is not resolved yet: no book is built for them. `reason` (`rest_unreachable`,
   * `not_listed`, `not_trading`, `bad_spec`, `join_failed`), `detail` and `nextAttemptMs` (when it is retried) come from the venue adapter.
   */
  unresolved: { venue: string; market: string; symbol: string; reason?: string; detail?: string; nextAttemptMs?: number }[];
  /**
   * Every venue connection (none when replaying). `worker`: with workers, whose it is (the supervisor adds it): each
   * worker has connections of the same names (conn0.linear …), so without it two workers' reasons read the same.
   */
  connections: (VenueConnectionState & { venue: string; worker?: number })[];
  /** Workers that did not answer: exited (restarting), hung, or their reply late or malformed (supervisor only). */
  workersDown: number[];
  /** Another publisher on our own streams, one sentence each (app/publish-guard.ts; main thread only). */
  publishConflicts?: string[];
  /** Destinations whose datagrams did not get through lately (FeedPublisher.sendFailures; each worker its own, `worker` added by the supervisor). */
  sendFailures?: WorkerSendFailure[];
  /** `feeder record`'s capture writer (main thread only; undefined when not recording): a warning, never a reason (capture-health.ts). */
  capture?: CaptureHealth | undefined;
}

/** A destination's send failures, and with workers whose publisher they are (each worker sends to every destination). */
export type WorkerSendFailure = SendFailure & { worker?: number };

/**
 * "retried in 9 s"; a minute or more away (the end of a venue's 429/418 REST hold: minutes to hours) also says
 * when, so the hold is not read as a retry that is about to come.
 */
function retriedIn(atMs: number, nowMs: number): string {
  const inS = Math.max(0, Math.ceil((atMs - nowMs) / 1000));
  return inS < 60 ? `retried in ${inS} s` : `retried in ${inS} s (at ${new Date(atMs).toISOString()})`;
}

/**
 * `worker_down`'s detail. The supervisor counts a worker down when it did not answer: exited (restarting), hung, or
 * its reply late or malformed while it runs (each logged). Until 2026-12-07 it said "not running (restarting)" of
 * every one of them: an operator looked for a restart of a worker that ran and was never restarted.
 */
const WORKER_DOWN_DETAIL = (worker: number): string =>
  `worker ${worker} is not answering (exited and restarting, hung, or its reply late or malformed: the log says which); its books are not known until it answers`;

export type ReadinessCheck = (input: ReadinessInput, nowMs: number) => NotReadyReason[];

export const READINESS_CHECKS: readonly ReadinessCheck[] = [
  noBooks,
  function workersDown(s) {
    return s.workersDown.map((worker) => ({ check: "worker_down", worker, detail: WORKER_DOWN_DETAIL(worker) }));
  },
  symbolsUnresolved,
  venueConnectionsDown,
  function publishConflicts(s) {
    return (s.publishConflicts ?? []).map((detail) => ({ check: "publish_conflict", detail }));
  },
  function sendFailing(s) {
    return (s.sendFailures ?? []).map((f) => ({
      check: "publish_send_failing",
      ...(f.worker !== undefined ? { worker: f.worker } : {}),
      destination: f.destination,
      target: f.target,
      errors: f.errors,
      detail: `${workerPrefix(f.worker)}publish destination ${f.destination} (${f.target}): datagrams did not get through (refused by the kernel, or skipped while its route is gone), the last ${f.lastErrorAgoMs} ms ago (${f.errors} since start; ${f.lastError}): its subscribers see gaps or nothing`,
    }));
  },
  booksNotLive,
];

function noBooks(s: ReadinessInput): NotReadyReason[] {
  return s.books.length === 0 && s.unresolved.length === 0 ? [{ check: "no_books", detail: "this instance has no book yet (none configured, or its venues have not started)" }] : [];
}

/** "worker 1: " before a reason's detail when it is one worker's (the status page shows only the detail); else none. */
function workerPrefix(worker: number | undefined): string {
  return worker === undefined ? "" : `worker ${worker}: `;
}

function venueConnectionsDown(s: ReadinessInput, nowMs: number): NotReadyReason[] {
  return s.connections
    .filter((c) => !c.up)
    .map((c) => ({
      check: "venue_down",
      ...(c.worker !== undefined ? { worker: c.worker } : {}),
      venue: c.venue,
      market: c.market,
      connection: c.connection,
      url: c.url,
      // A socket's error may quote the URL it opened (with a ws_url's credentials): shown without them.
      error: redactUrlsIn(c.lastError),
      // Null before the connection's first attempt (downSinceMs 0: not down since any time): 0 said "just went down".
      downForMs: c.downSinceMs > 0 ? Math.max(0, nowMs - c.downSinceMs) : null,
      detail: redactUrlsIn(`${workerPrefix(c.worker)}${c.venue} ${c.market} ${c.url}: ${c.lastError === "" ? "connecting" : c.lastError}`),
    }));
}

function symbolsUnresolved(s: ReadinessInput, nowMs: number): NotReadyReason[] {
  return s.unresolved.map((u) => {
    const retry = u.nextAttemptMs !== undefined && u.nextAttemptMs > 0 ? `; ${retriedIn(u.nextAttemptMs, nowMs)}` : "";
    const why = u.detail ? `: ${u.detail}${retry}` : "; the start log says why";
    return {
      check: "symbol_unresolved",
      venue: u.venue,
      market: u.market,
      symbol: u.symbol,
      ...(u.reason ? { reason: u.reason } : {}),
      detail: `${u.venue} ${u.market}:${u.symbol}: instrument not resolved (tick and lot size unknown), so no book is built yet${why}`,
    };
  });
}

/**
 * The book counts against readiness: not live, unless closed past its listed expiry (a delivered future, an exercised
 * option never trades again: not a failure of this instance; before, /readyz was 503 for good once one configured
 * future expired). Feeder.readinessSummary applies the same rule to the builders' states.
 */
export function countsAsNotLive(b: NotLiveBook): boolean {
  if (b.state === "live") return unreadableLive(b);
  return !(b.expiredAtMs !== undefined && b.state === "halted" && b.reason === "instrument_closed");
}

/**
 * A book LIVE whose summary could not be read (book-json.ts unreadableSummary: state `live`, valid false): it may
 * differ from the venue's, so it never counts as live (until 2026-12-07 /readyz counted it, /books showed it unusable).
 */
function unreadableLive(b: NotLiveBook): boolean {
  return b.state === "live" && b.valid === false;
}

/** What booksNotLive reads of a book (a BookSummary, or a ReadinessSummary's named book). */
export type NotLiveBook = Pick<BookSummary, "venue" | "market" | "symbol" | "state" | "reason" | "expiredAtMs"> & Partial<Pick<BookSummary, "valid" | "refused">>;

function booksNotLive(s: ReadinessInput): NotReadyReason[] {
  return s.books
    .filter(countsAsNotLive)
    .map((b) => ({
      check: "book_not_live",
      venue: b.venue,
      market: b.market,
      symbol: b.symbol,
      state: b.state,
      reason: b.reason,
      // A changed definition the publisher refused is named: until s-httpops this read "is resyncing
      // (instrument_changed)", as a change awaiting its snapshot (which comes back by itself).
      detail: unreadableLive(b) ? `${b.venue} ${b.market}:${b.symbol} is live (${b.reason}) but its book cannot be read (/books names the error)` : `${b.venue} ${b.market}:${b.symbol} is ${b.state} (${b.reason})${b.refused !== undefined ? `: ${refusedDetail(b.refused)}` : ""}`,
    }));
}

export interface Readiness {
  ready: boolean;
  /** Books built, and how many of them are live. */
  books: number;
  live: number;
  reasons: NotReadyReason[];
}

export function evaluateReadiness(input: ReadinessInput, nowMs = Date.now(), checks: readonly ReadinessCheck[] = READINESS_CHECKS): Readiness {
  const reasons = checks.flatMap((check) => check(input, nowMs));
  return { ready: reasons.length === 0, books: input.books.length, live: input.books.filter((b) => b.state === "live" && !unreadableLive(b)).length, reasons };
}

/**
 * evaluateReadiness, the books and the unresolved symbols judged `perTurn` at a time with `turn()` awaited before each
 * chunk (HTTP on the pipeline's thread: 20,000 books not live took 3–8 ms in one turn, 20,000 symbols unresolved
 * 6–40 ms). The same reasons in the same order.
 */
export async function evaluateReadinessInTurns(input: ReadinessInput, turn: () => Promise<void>, perTurn: number, nowMs = Date.now()): Promise<Readiness> {
  const reasons: NotReadyReason[] = [];
  for (const check of READINESS_CHECKS) for (const r of await checkInTurns(check, input, turn, perTurn, nowMs)) reasons.push(r);
  // As evaluateReadiness: an unreadable live book is not live (until 2026-12-07 it was counted here).
  let live = 0;
  for (const b of input.books) if (b.state === "live" && !unreadableLive(b)) live++;
  return { ready: reasons.length === 0, books: input.books.length, live, reasons };
}

/**
 * One rule's reasons of `input`; the two rules of one reason per item judged a chunk of `perTurn` items per turn, with
 * `turn()` awaited before each (the first too: not in the turn of what came before) when there is more than one:
 * 20,000 symbols unresolved (a venue's REST down at start) took 6-40 ms in one turn, as many books not live 3-8 ms.
 */
async function checkInTurns(check: ReadinessCheck, input: ReadinessInput, turn: () => Promise<void>, perTurn: number, nowMs: number): Promise<NotReadyReason[]> {
  const list = check === booksNotLive ? "books" : check === symbolsUnresolved ? "unresolved" : undefined;
  if (list === undefined) return check(input, nowMs);
  const out: NotReadyReason[] = [];
  const count = input[list].length;
  for (let from = 0; from < count; from += perTurn) {
    if (count > perTurn) await turn();
    const chunk = list === "books" ? { ...input, books: input.books.slice(from, from + perTurn) } : { ...input, unresolved: input.unresolved.slice(from, from + perTurn) };
    for (const r of check(chunk, nowMs)) out.push(r);
  }
  return out;
}

/**
 * The workers' shares as one input: the long lists joined by concat (a copy of references: 0.43 ms p50 for 4 workers'
 * 20,000 books and 5,000 symbols each, where flatMap took 0.83 ms), not judged here.
 */
export function mergeReadiness(parts: readonly ReadinessInput[], workersDown: number[] = []): ReadinessInput {
  return {
    books: ([] as BookSummary[]).concat(...parts.map((p) => p.books)),
    unresolved: ([] as ReadinessInput["unresolved"]).concat(...parts.map((p) => p.unresolved)),
    connections: parts.flatMap((p) => p.connections),
    workersDown: [...parts.flatMap((p) => p.workersDown), ...workersDown],
    sendFailures: parts.flatMap((p) => p.sendFailures ?? []),
  };
}

/** How many of each long list's reasons /readyz names (the rest counted): a worker's reply stays one small message. */
export const READYZ_NAMED = 100;

/**
 * What /readyz judges: ReadinessInput with its three long lists (books, unresolved symbols, connections) reduced to
 * how many count against readiness and the first `named` of them (in the order /status lists them). Plain data: a
 * worker's one reply, READYZ_NAMED of each at most, however many books it has.
 */
export interface ReadinessSummary {
  /** Books built, and how many of them are live. */
  books: number;
  live: number;
  /** Books that count as not live (countsAsNotLive), and the first of them. */
  notLive: number;
  notLiveFirst: NotLiveBook[];
  /** Configured symbols without a book, and the first of them. */
  unresolved: number;
  unresolvedFirst: ReadinessInput["unresolved"];
  /** Venue connections that are not up, and the first of them. */
  connectionsDown: number;
  connectionsDownFirst: ReadinessInput["connections"];
  workersDown: number[];
  publishConflicts?: string[];
  sendFailures?: WorkerSendFailure[];
  /** As ReadinessInput's: shown as /readyz's `warnings`, never counted against readiness. */
  capture?: CaptureHealth | undefined;
}

/** What a summary names of a book not live (only what booksNotLive reads). */
export function notLiveOf(b: NotLiveBook): NotLiveBook {
  const named: NotLiveBook = { venue: b.venue, market: b.market, symbol: b.symbol, state: b.state, reason: b.reason };
  if (unreadableLive(b)) named.valid = false;
  if (b.refused !== undefined) named.refused = b.refused;
  return b.expiredAtMs === undefined ? named : { ...named, expiredAtMs: b.expiredAtMs };
}

/** The summary of a whole input (a source that has its lists whole: a supervisor's dead worker, tests' sources). */
export function summaryOfInput(input: ReadinessInput, named = READYZ_NAMED): ReadinessSummary {
  let live = 0;
  let notLive = 0;
  const notLiveFirst: NotLiveBook[] = [];
  for (const b of input.books) {
    if (b.state === "live" && !unreadableLive(b)) live++;
    if (!countsAsNotLive(b)) continue;
    if (notLive++ < named) notLiveFirst.push(notLiveOf(b));
  }
  let connectionsDown = 0;
  const connectionsDownFirst: ReadinessInput["connections"] = [];
  for (const c of input.connections) if (!c.up && connectionsDown++ < named) connectionsDownFirst.push(c);
  return {
    books: input.books.length,
    live,
    notLive,
    notLiveFirst,
    unresolved: input.unresolved.length,
    unresolvedFirst: input.unresolved.slice(0, named),
    connectionsDown,
    connectionsDownFirst,
    workersDown: input.workersDown,
    ...(input.publishConflicts !== undefined ? { publishConflicts: input.publishConflicts } : {}),
    ...(input.sendFailures !== undefined ? { sendFailures: input.sendFailures } : {}),
  };
}

/**
 * The workers' summaries as one (mergeReadiness's order: worker by worker), the first `named` of each list kept:
 * each part's first `named` are its list's, so these are the first of the lists concatenated. O(workers · named).
 */
export function mergeSummaries(parts: readonly ReadinessSummary[], workersDown: number[] = [], named = READYZ_NAMED): ReadinessSummary {
  const out: ReadinessSummary = { books: 0, live: 0, notLive: 0, notLiveFirst: [], unresolved: 0, unresolvedFirst: [], connectionsDown: 0, connectionsDownFirst: [], workersDown: [], sendFailures: [] };
  for (const p of parts) {
    out.books += p.books;
    out.live += p.live;
    out.notLive += p.notLive;
    out.unresolved += p.unresolved;
    out.connectionsDown += p.connectionsDown;
    for (const b of p.notLiveFirst) if (out.notLiveFirst.length < named) out.notLiveFirst.push(b);
    for (const u of p.unresolvedFirst) if (out.unresolvedFirst.length < named) out.unresolvedFirst.push(u);
    for (const c of p.connectionsDownFirst) if (out.connectionsDownFirst.length < named) out.connectionsDownFirst.push(c);
    for (const w of p.workersDown) out.workersDown.push(w);
    for (const f of p.sendFailures ?? []) out.sendFailures!.push(f);
  }
  for (const w of workersDown) out.workersDown.push(w);
  return out;
}

/** /readyz's answer: Readiness with each rule's count (`reasonCounts`: only the rules that found any) and `reasonsNotShown`. */
export interface ReadyzAnswer extends Readiness {
  /** Reasons by rule (`check`), every instance counted, named in `reasons` or not. */
  reasonCounts: Record<string, number>;
  /** Reasons counted but not in `reasons` (a long list's beyond its first READYZ_NAMED). */
  reasonsNotShown: number;
}

/**
 * The summary judged by READINESS_CHECKS: `reasons` are evaluateReadiness's of the named items (each rule's first
 * ones, in its order), the counts those of every item. Ready exactly when evaluateReadiness of the whole input is
 * (the test: test/app/readyz-summary.test.ts, against it through random state changes).
 */
export function evaluateSummary(s: ReadinessSummary, nowMs = Date.now()): ReadyzAnswer {
  const named = namedInput(s);
  return answerOf(s, READINESS_CHECKS.map((check) => (check === noBooks ? noBooksOf(s, named) : check(named, nowMs))));
}

/**
 * evaluateSummary, the named books and symbols judged `perTurn` at a time with `turn()` awaited before each chunk
 * (as evaluateReadinessInTurns: /status?books=N names up to N of each, 100,000 at most). The same answer.
 */
export async function evaluateSummaryInTurns(s: ReadinessSummary, turn: () => Promise<void>, perTurn: number, nowMs = Date.now()): Promise<ReadyzAnswer> {
  const named = namedInput(s);
  const found: NotReadyReason[][] = [];
  for (const check of READINESS_CHECKS) found.push(check === noBooks ? noBooksOf(s, named) : await checkInTurns(check, named, turn, perTurn, nowMs));
  return answerOf(s, found);
}

/** The summary's named items as an input: the rules read of a book only what a NotLiveBook has. */
function namedInput(s: ReadinessSummary): ReadinessInput {
  return {
    books: s.notLiveFirst as BookSummary[],
    unresolved: s.unresolvedFirst,
    connections: s.connectionsDownFirst,
    workersDown: s.workersDown,
    ...(s.publishConflicts !== undefined ? { publishConflicts: s.publishConflicts } : {}),
    ...(s.sendFailures !== undefined ? { sendFailures: s.sendFailures } : {}),
  };
}

/** No book: of every book and symbol counted (the named lists hold none when every book is live). */
function noBooksOf(s: ReadinessSummary, named: ReadinessInput): NotReadyReason[] {
  return s.books === 0 && s.unresolved === 0 ? noBooks(named) : [];
}

/** The answer from each rule's reasons of the named items (`found`, in READINESS_CHECKS' order) and the summary's counts. */
function answerOf(s: ReadinessSummary, found: readonly NotReadyReason[][]): ReadyzAnswer {
  // The rules whose items a summary counts rather than lists, with their counts; the others' reasons are all here.
  const counted = new Map<ReadinessCheck, { check: string; count: number }>([
    [booksNotLive, { check: "book_not_live", count: s.notLive }],
    [symbolsUnresolved, { check: "symbol_unresolved", count: s.unresolved }],
    [venueConnectionsDown, { check: "venue_down", count: s.connectionsDown }],
  ]);
  const reasons: NotReadyReason[] = [];
  const reasonCounts: Record<string, number> = {};
  let total = 0;
  READINESS_CHECKS.forEach((check, k) => {
    const c = counted.get(check);
    const count = c?.count ?? found[k]!.length;
    if (count === 0) return;
    reasonCounts[c?.check ?? found[k]![0]!.check] = count;
    total += count;
    for (const r of found[k]!) reasons.push(r);
  });
  return { ready: total === 0, books: s.books, live: s.live, reasons, reasonCounts, reasonsNotShown: total - reasons.length };
}

/**
 * What /status?books=N answers from (StatusSource.statusRows; plain data, a worker's reply): readiness as /readyz
 * judges it, each long list's first N named (`summary`), and the books and symbols among which the N rows are
 * (http-server.ts pickBooks: the chosen one, then those not usable, then usable ones), summarized: only those, not
 * every book (a status page's poll summarized 20,000 books, ~16 ms of this thread, to show 500).
 */
export interface StatusRows {
  summary: ReadinessSummary;
  books: BookSummary[];
  unresolved: ReadinessInput["unresolved"];
}

/**
 * Whether `venue`/`market`/`symbol` is the book /status?book= names (`chosen`; null: none given). The symbol's end is
 * compared first, so the name is built only for the few books that may be it (20,000 names a poll otherwise).
 */
export function isChosenBook(chosen: string | null, venue: string, market: string, symbol: string): boolean {
  return chosen !== null && chosen.endsWith(symbol) && `${venue}/${market}/${symbol}` === chosen;
}
