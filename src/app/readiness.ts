/**
 * What /readyz checks. Ready means every configured book is live: no symbol left unresolved, no venue connection
 * down, every book LIVE (README: "every configured book") except one closed past the expiry its listing gave. Each rule is a function from the plain ReadinessInput
 * to the reasons it finds; /readyz answers 503 with all of them.
 *
 * To add a rule: add what it needs to ReadinessInput (filled by Feeder.readinessInput(), concatenated across
 * workers by the supervisor) and a function to READINESS_CHECKS.
 * @module
 */
import { redactUrlsIn } from "../core/redact-url.ts";
import type { SendFailure } from "../net/feed-publisher.ts";
import type { VenueConnectionState } from "../venues/venue.ts";
import type { BookSummary } from "./book-json.ts";

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
  /** Every venue connection (none when replaying). */
  connections: (VenueConnectionState & { venue: string })[];
  /** Workers that are not running (supervisor only). */
  workersDown: number[];
  /** Another publisher on our own streams, one sentence each (app/publish-guard.ts; main thread only). */
  publishConflicts?: string[];
  /** Destinations whose datagrams the kernel refused lately (FeedPublisher.sendFailures; each worker its own). */
  sendFailures?: SendFailure[];
}

/**
 * "retried in 9 s"; a minute or more away (the end of a venue's 429/418 REST hold: minutes to hours) also says
 * when, so the hold is not read as a retry that is about to come.
 */
function retriedIn(atMs: number, nowMs: number): string {
  const inS = Math.max(0, Math.ceil((atMs - nowMs) / 1000));
  return inS < 60 ? `retried in ${inS} s` : `retried in ${inS} s (at ${new Date(atMs).toISOString()})`;
}

export type ReadinessCheck = (input: ReadinessInput, nowMs: number) => NotReadyReason[];

export const READINESS_CHECKS: readonly ReadinessCheck[] = [
  function noBooks(s) {
    return s.books.length === 0 && s.unresolved.length === 0 ? [{ check: "no_books", detail: "this instance has no configured book" }] : [];
  },
  function workersDown(s) {
    return s.workersDown.map((worker) => ({ check: "worker_down", worker, detail: `worker ${worker} is not running (restarting)` }));
  },
  symbolsUnresolved,
  function venueConnectionsDown(s, nowMs) {
    return s.connections
      .filter((c) => !c.up)
      .map((c) => ({
        check: "venue_down",
        venue: c.venue,
        market: c.market,
        connection: c.connection,
        url: c.url,
        // A socket's error may quote the URL it opened (with a ws_url's credentials): shown without them.
        error: redactUrlsIn(c.lastError),
        // Null before the connection's first attempt (downSinceMs 0: not down since any time): 0 said "just went down".
        downForMs: c.downSinceMs > 0 ? Math.max(0, nowMs - c.downSinceMs) : null,
        detail: redactUrlsIn(`${c.venue} ${c.market} ${c.url}: ${c.lastError === "" ? "connecting" : c.lastError}`),
      }));
  },
  function publishConflicts(s) {
    return (s.publishConflicts ?? []).map((detail) => ({ check: "publish_conflict", detail }));
  },
  function sendFailing(s) {
    return (s.sendFailures ?? []).map((f) => ({
      check: "publish_send_failing",
      destination: f.destination,
      target: f.target,
      errors: f.errors,
      detail: `publish destination ${f.destination} (${f.target}): the kernel refused datagrams, the last ${f.lastErrorAgoMs} ms ago (${f.errors} since start; ${f.lastError}): its subscribers see gaps or nothing`,
    }));
  },
  booksNotLive,
];

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

function booksNotLive(s: ReadinessInput): NotReadyReason[] {
  // A book closed past its listed expiry (a delivered future, an exercised option) never trades again: not a
  // failure of this instance (before, /readyz was 503 for good once one configured future expired).
  return s.books
    .filter((b) => b.state !== "live" && !(b.expiredAtMs !== undefined && b.state === "halted" && b.reason === "instrument_closed"))
    .map((b) => ({
      check: "book_not_live",
      venue: b.venue,
      market: b.market,
      symbol: b.symbol,
      state: b.state,
      reason: b.reason,
      detail: `${b.venue} ${b.market}:${b.symbol} is ${b.state} (${b.reason})`,
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
  return { ready: reasons.length === 0, books: input.books.length, live: input.books.filter((b) => b.state === "live").length, reasons };
}

/**
 * evaluateReadiness, the books and the unresolved symbols judged `perTurn` at a time with `turn()` awaited before each
 * chunk (HTTP on the pipeline's thread: 20,000 books not live took 3–8 ms in one turn, 20,000 symbols unresolved
 * 6–40 ms). The same reasons in the same order.
 */
export async function evaluateReadinessInTurns(input: ReadinessInput, turn: () => Promise<void>, perTurn: number, nowMs = Date.now()): Promise<Readiness> {
  const reasons: NotReadyReason[] = [];
  for (const check of READINESS_CHECKS) {
    // The two rules of one reason per item, judged a chunk per turn: 20,000 symbols unresolved (a venue's REST down
    // at start) took 6-40 ms in one turn, as many books not live 3-8 ms.
    const list = check === booksNotLive ? "books" : check === symbolsUnresolved ? "unresolved" : undefined;
    if (list === undefined) {
      for (const r of check(input, nowMs)) reasons.push(r);
      continue;
    }
    const count = input[list].length;
    for (let from = 0; from < count; from += perTurn) {
      if (count > perTurn) await turn(); // the first chunk too: not in the turn of what came before
      const chunk = list === "books" ? { ...input, books: input.books.slice(from, from + perTurn) } : { ...input, unresolved: input.unresolved.slice(from, from + perTurn) };
      for (const r of check(chunk, nowMs)) reasons.push(r);
    }
  }
  let live = 0;
  for (const b of input.books) if (b.state === "live") live++;
  return { ready: reasons.length === 0, books: input.books.length, live, reasons };
}

/** The workers' shares as one input. */
export function mergeReadiness(parts: readonly ReadinessInput[], workersDown: number[] = []): ReadinessInput {
  return {
    books: parts.flatMap((p) => p.books),
    unresolved: parts.flatMap((p) => p.unresolved),
    connections: parts.flatMap((p) => p.connections),
    workersDown: [...parts.flatMap((p) => p.workersDown), ...workersDown],
    sendFailures: parts.flatMap((p) => p.sendFailures ?? []),
  };
}
