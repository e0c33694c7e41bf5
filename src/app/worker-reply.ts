/**
 * A worker's long lists (book summaries, unresolved symbols) sent to the main thread in parts, one part per turn of
 * the worker's thread, and joined there.
 * Why: postMessage structured-clones its message on the sender's thread. One /books or /readyz of a worker with
 * 20,000 books was one message of 20,000 summaries: 40–80 ms of that worker's thread, every frame of its venues
 * waiting behind it. Now a turn clones at most LIST_ITEMS_PER_TURN items; the venues run between parts.
 * Consistency: the parts of one reply are of the same collection (its summaries were taken before the first part
 * is sent); the main thread answers nothing from a reply until its last message came.
 * @module
 */
import type { BookSummary } from "./book-json.ts";
import { LIST_ITEMS_PER_TURN, type Turn } from "./list-stream.ts";
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

/** The parts of replies still coming, by request id (the main thread's side). */
export class ReplyParts {
  private readonly byId = new Map<number, { books: BookSummary[]; unresolved: ReadinessInput["unresolved"] }>();

  add(part: ReplyPart): void {
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
