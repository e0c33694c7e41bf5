/**
 * A worker's long lists (book summaries, unresolved symbols) sent to the main thread in parts, one part per turn of
 * the worker's thread, and joined there.
 * Why: postMessage structured-clones its message on the sender's thread. One /books (or, until 2026-12-06, /readyz)
 * of a worker with 20,000 books was one message of 20,000 summaries: 40–80 ms of that worker's thread, every frame of
 * its venues waiting behind it. Now a turn clones at most LIST_ITEMS_PER_TURN items; the venues run between parts.
 * (/readyz asks for a ReadinessSummary instead: one small message, made in the request's turn; readiness.ts.
 * /status?books=N asks for StatusRows: its N rows and a summary, the rows sent as these lists are.)
 * Consistency: the parts of one reply are of the same collection (its summaries were taken before the first part
 * is sent); the main thread answers nothing from a reply until its last message came.
 * Progress: such a reply takes two worker turns per LIST_ITEMS_PER_TURN items (one collecting, one sending: ~80 for
 * 20,000 books), so the main thread waits for it only while it progresses (AwaitedReplies): each turn of it says so,
 * a part of no items in a collecting turn (progressTurn), a part in a sending one. Before, a reply had 2 s in all: a
 * worker whose turns took 25 ms (busy venues) could not send 20,000 books in time, and they were shown stale.
 * @module
 */
import type { BookSummary } from "./book-json.ts";
import { LIST_ITEMS_PER_TURN, type Turn } from "./list-stream.ts";
import { turnQueue } from "./turn-queue.ts";
import type { ReadinessInput } from "./readiness.ts";

/** The id of the parts of a worker's "started" summaries (request ids start at 1). */
export const STARTED_REPLY_ID = 0;

/** One part of reply `id`: items to put before those of the next part (and of the reply's last message). */
export interface ReplyPart {
  type: "response-part";
  id: number;
  books: BookSummary[];
  unresolved: ReadinessInput["unresolved"];
}

/** What a reply's lists are taken from: a list of summaries (books), or an object with `books` and `unresolved`. */
type Listed = BookSummary[] | { books: BookSummary[]; unresolved: ReadinessInput["unresolved"] };

function isListed(result: unknown): result is Listed {
  if (Array.isArray(result)) return true;
  if (typeof result !== "object" || result === null) return false;
  const r = result as Record<string, unknown>;
  return Array.isArray(r.books) && Array.isArray(r.unresolved);
}

/**
 * Sends `result` as `last(result)`, its lists' first items sent before it as parts of at most `perPart` items, with
 * `turn` awaited before each part and before the last: a result of no more than `perPart` items is sent at once.
 */
export async function sendInParts<T>(id: number, result: T, sendPart: (part: ReplyPart) => void, last: (rest: T) => void, turn: Turn, perPart = LIST_ITEMS_PER_TURN): Promise<void> {
  if (!isListed(result)) return last(result);
  const books = Array.isArray(result) ? result : result.books;
  const unresolved = Array.isArray(result) ? [] : result.unresolved;
  let b = 0;
  let u = 0;
  if (books.length + unresolved.length <= perPart) return last(result);
  // Parts while more than one part's worth is left, each in a turn of its own (the first too: the caller collected
  // the last of these items in the turn before); the last message carries the rest (1 to perPart items).
  while (books.length - b + unresolved.length - u > perPart) {
    await turn();
    const nb = Math.min(perPart, books.length - b);
    const nu = perPart - nb;
    sendPart({ type: "response-part", id, books: books.slice(b, b + nb), unresolved: unresolved.slice(u, u + nu) });
    b += nb;
    u += nu;
  }
  await turn();
  const rest = Array.isArray(result) ? books.slice(b) : { ...result, books: books.slice(b), unresolved: unresolved.slice(u) };
  last(rest as T);
}

/**
 * `turn`, then telling the main thread that reply `id` has another turn (a part of no items): its collecting turns
 * send nothing else, and the main thread gives up on a reply silent for REPLY_SILENCE_MS.
 */
export function progressTurn(id: number, sendPart: (part: ReplyPart) => void, turn: Turn): Turn {
  return async () => {
    await turn();
    sendPart({ type: "response-part", id, books: [], unresolved: [] });
  };
}

/** What a reply's turn throws once the main thread no longer waits for it (cancelledTurn): the worker stops making it. */
export class ReplyCancelled extends Error {
  constructor(id: number) {
    super(`reply ${id} cancelled: the main thread no longer waits for it`);
    this.name = "ReplyCancelled";
  }
}

/**
 * `turn`, throwing ReplyCancelled once reply `id` is in `cancelled` (the supervisor gave it up: its HTTP client went
 * away, or it timed out). Before, a worker made every reply to its end, 80 turns at 20,000 books, for nobody.
 */
export function cancelledTurn(id: number, cancelled: ReadonlySet<number>, turn: Turn): Turn {
  return async () => {
    await turn();
    if (cancelled.has(id)) throw new ReplyCancelled(id);
  };
}

/**
 * The worker's shared reply turns (turn-queue.ts): the oldest reply's chunk first (`order`: its request id; /readyz,
 * whose turns went ahead until 2026-12-06, takes none: its summary is one message). Why the oldest first: the replies are of the same size (every
 * book of the worker), so taking turns one chunk each (as until 2026-12-06) made each of k replies as slow as all k
 * together: 4 replies of 20,000 books on a worker whose turns took 60 ms were each ~19 s, every one given up at
 * REPLY_MAX_MS and none answered; oldest first, the first is done in ~4.8 s, the second in ~9.6 s. The replies waiting
 * meanwhile are kept by the worker's progress (AwaitedReplies: any reply's part).
 */
export const sharedTurns = turnQueue;
export type { SharedTurn } from "./turn-queue.ts";

/** The parts of replies still coming, by request id (the main thread's side). */
export class ReplyParts {
  private readonly byId = new Map<number, { books: BookSummary[]; unresolved: ReadinessInput["unresolved"] }>();

  add(part: ReplyPart): void {
    if (part.books.length + part.unresolved.length === 0) return; // progress only (progressTurn)
    const got = this.byId.get(part.id);
    if (got === undefined) this.byId.set(part.id, { books: part.books, unresolved: part.unresolved });
    else {
      for (const x of part.books) got.books.push(x);
      for (const x of part.unresolved) got.unresolved.push(x);
    }
  }

  /** The whole reply: `last` with reply `id`'s parts before its lists (a reply with no lists, undefined: as it is). */
  join<T>(id: number, last: T): T {
    const got = this.byId.get(id);
    if (got === undefined) return last;
    this.byId.delete(id);
    if (!isListed(last)) return last; // the worker could not finish it (it answered undefined): the parts are dropped
    if (Array.isArray(last)) return got.books.concat(last) as T;
    return { ...last, books: got.books.concat(last.books), unresolved: got.unresolved.concat(last.unresolved) };
  }

  /** Parts of a reply that will not be answered (timed out, or its worker gone). */
  drop(id: number): void {
    this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }

  /** Replies with parts held (tests). */
  get size(): number {
    return this.byId.size;
  }
}

/**
 * How long the main thread waits for the worker's next part of any reply before it answers without that worker
 * (undefined: "not answering"). A reply of many books is ~80 worker turns, each of which says it progressed.
 */
export const REPLY_SILENCE_MS = 2000;
/**
 * The longest a reply may take in all, however steadily it comes: 20,000 books in ~80 turns is 125 ms a turn (its
 * turns shared with the other replies in progress: sharedTurns), a worker that far behind; an HTTP answer (and its
 * slot of http.max_in_flight) is not held longer.
 */
export const REPLY_MAX_MS = 10_000;

/** The clock and timers AwaitedReplies uses (tests give a fake one). */
export interface ReplyClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ReplyClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Why a reply was given up for want of the worker (AwaitedReplies.expect's `late`): silent for silenceMs, or not done in maxMs. */
export type LateReply = "silent" | "deadline";

interface Awaited {
  done: (result: unknown) => void;
  /** Told when the reply is given up for want of the worker (not for its request's abort, nor its worker's end). */
  late: ((waitedMs: number, why: LateReply) => void) | undefined;
  askedMs: number;
  deadlineMs: number;
  timer: unknown;
  /** Its request's signal and listener (removed once it is done). */
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * The replies one worker owes the main thread, by request id, and their parts: each ends with its whole reply, or
 * with undefined once REPLY_SILENCE_MS passed without a part of any of them (arm), REPLY_MAX_MS since it was asked, its request's
 * signal aborted (its HTTP client went away), or its worker ended (end()). A reply given up for any reason but the
 * last is told to `abandoned` (the supervisor tells the worker to stop making it: cancelledTurn). A part of a reply
 * no longer awaited is dropped as it comes: before, the parts after a timeout were held until the reply's last
 * message. The "started" summaries' parts (STARTED_REPLY_ID) are always kept, for started().
 */
export class AwaitedReplies {
  private readonly awaited = new Map<number, Awaited>();
  private readonly parts = new ReplyParts();
  /** When the worker last sent a part of any reply: its shared turns progress, a reply waiting its turn included. */
  private heardMs = -Infinity;

  constructor(
    private readonly silenceMs = REPLY_SILENCE_MS,
    private readonly maxMs = REPLY_MAX_MS,
    private readonly clock: ReplyClock = realClock,
    private readonly abandoned: (id: number) => void = () => undefined,
  ) {}

  /**
   * Reply `id`, once its last message comes (the caller posts the request); undefined at once when `signal` aborts.
   * `late` is told when it is given up for want of the worker (silent, or past its deadline): the caller logs it,
   * since the worker then counts as not answering (until 2026-12-07 that was silent: /readyz said worker_down,
   * "not running (restarting)", of a running worker, and no line said why).
   */
  expect(id: number, signal?: AbortSignal, late?: (waitedMs: number, why: LateReply) => void): Promise<unknown> {
    return new Promise((resolve) => {
      const nowMs = this.clock.now();
      const a: Awaited = { done: resolve, late, askedMs: nowMs, deadlineMs: nowMs + this.maxMs, timer: undefined, signal, onAbort: () => this.giveUp(id, a) };
      this.awaited.set(id, a);
      if (signal?.aborted) return this.giveUp(id, a);
      signal?.addEventListener("abort", a.onAbort, { once: true });
      this.arm(id, a, nowMs);
    });
  }

  part(part: ReplyPart): void {
    this.heardMs = this.clock.now(); // the worker's turns go on: every reply it owes is progressing or waiting its turn
    if (!this.awaited.has(part.id) && part.id !== STARTED_REPLY_ID) return; // its request gave up (or never asked)
    this.parts.add(part);
  }

  /** Reply `id`'s last message: the reply, joined, to its request (none waiting any more: dropped). */
  last(id: number, result: unknown): void {
    const whole = this.parts.join(id, result);
    const a = this.awaited.get(id);
    if (a !== undefined) this.finish(id, a, whole);
  }

  /** The "started" summaries: `last` with their parts before it. */
  started<T>(last: T): T {
    return this.parts.join(STARTED_REPLY_ID, last);
  }

  /** The worker ended: every reply it owes is undefined, its parts released. */
  end(): void {
    for (const [id, a] of this.awaited) this.finish(id, a, undefined);
    this.parts.clear();
  }

  /** Replies awaited, and replies with parts held (tests). */
  get size(): { awaited: number; held: number } {
    return { awaited: this.awaited.size, held: this.parts.size };
  }

  /**
   * Its timer, due when the worker will have been silent for silenceMs (since the later of its last part of any reply
   * and this request) or at the reply's deadline, whichever is first: then it is given up, or armed again if the
   * worker was heard meanwhile. Why any reply's part: the worker's replies share its turns (sharedTurns), oldest
   * first, so one waits silent while an older one is sent; until 2026-12-06 only its own parts counted (each re-arming
   * its timer), and a reply waiting behind one of 20,000 books on a busy worker was given up after 2 s.
   */
  private arm(id: number, a: Awaited, nowMs: number): void {
    const quietFromMs = Math.max(this.heardMs, a.askedMs);
    const dueMs = Math.min(quietFromMs + this.silenceMs, a.deadlineMs);
    if (nowMs >= dueMs) return this.giveUp(id, a, nowMs >= a.deadlineMs ? "deadline" : "silent", nowMs);
    a.timer = this.clock.setTimeout(() => this.awaited.get(id) === a && this.arm(id, a, this.clock.now()), dueMs - nowMs);
  }

  /** `why`: given up for want of the worker (told to its `late`); none: its request aborted. */
  private giveUp(id: number, a: Awaited, why?: LateReply, nowMs = 0): void {
    if (this.awaited.get(id) !== a) return;
    this.parts.drop(id);
    this.finish(id, a, undefined);
    this.abandoned(id);
    if (why !== undefined) a.late?.(nowMs - a.askedMs, why); // last: the reply is settled whatever it does
  }

  private finish(id: number, a: Awaited, result: unknown): void {
    this.clock.clearTimeout(a.timer);
    a.signal?.removeEventListener("abort", a.onAbort);
    this.awaited.delete(id);
    a.done(result);
  }
}
