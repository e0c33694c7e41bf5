/**
 * A worker's many book summaries (and unresolved symbols) go to the main thread a part per turn of the worker
 * (worker-reply.ts): postMessage clones its message on the worker's thread, so one message of 20,000 summaries held
 * its venues for 40–80 ms. Through a fake channel that clones each message as postMessage does: no turn of the
 * worker clones more than LIST_ITEMS_PER_TURN items, and the main thread's join gives back the very reply (against
 * the reply itself as the model, random sizes around the part boundaries, replies interleaved).
 */
import { describe, expect, test } from "vitest";
import type { BookSummary } from "../../src/app/book-json.ts";
import { collectInTurns, LIST_ITEMS_PER_TURN } from "../../src/app/list-stream.ts";
import type { ReadinessInput } from "../../src/app/readiness.ts";
import { AwaitedReplies, cancelledTurn, progressTurn, REPLY_MAX_MS, REPLY_SILENCE_MS, ReplyCancelled, ReplyParts, sendInParts, sharedTurns, type ReplyPart } from "../../src/app/worker-reply.ts";
import type { FromWorker } from "../../src/app/worker-protocol.ts";

const summary = (i: number) => ({ venue: "bybit", market: "linear", symbol: `S${i}USDT`, state: "live", valid: true, recvAgeUs: i }) as unknown as BookSummary;
const unresolved = (i: number) => ({ venue: "okx", market: "spot", symbol: `U${i}`, reason: "not_listed" });

/** A worker's thread and its channel: what each turn cloned, and the main thread's side joining the messages. */
function channel() {
  const clonedPerTurn: number[] = [0];
  const parts = new ReplyParts();
  const replies = new Map<number, unknown>();
  const items = (msg: FromWorker): number => {
    if (msg.type === "response-part") return msg.books.length + msg.unresolved.length;
    if (msg.type !== "response") return 0;
    const r = msg.result as unknown;
    if (Array.isArray(r)) return r.length;
    const input = r as ReadinessInput | undefined;
    return input ? input.books.length + input.unresolved.length : 0;
  };
  const send = (msg: FromWorker) => {
    const cloned = structuredClone(msg); // what postMessage does on the sender's thread
    clonedPerTurn[clonedPerTurn.length - 1]! += items(cloned);
    if (cloned.type === "response-part") parts.add(cloned);
    else if (cloned.type === "response") replies.set(cloned.id, parts.join(cloned.id, cloned.result));
  };
  const turn = async () => {
    clonedPerTurn.push(0);
    await Promise.resolve();
  };
  return { clonedPerTurn, parts, replies, send, turn };
}

function reply(ch: ReturnType<typeof channel>, id: number, result: unknown): Promise<void> {
  return sendInParts(id, result, (p: ReplyPart) => ch.send(p), (rest) => ch.send({ type: "response", id, result: rest as BookSummary[] }), ch.turn);
}

describe("worker replies of many books, a part per turn", () => {
  test("20,000 summaries (/books) and a readiness of 20,000 books and 3,000 unresolved: at most LIST_ITEMS_PER_TURN cloned a turn", async () => {
    const ch = channel();
    const books = Array.from({ length: 20_000 }, (_, i) => summary(i));
    await reply(ch, 1, books);
    const input: ReadinessInput = { books, unresolved: Array.from({ length: 3000 }, (_, i) => unresolved(i)), connections: [], workersDown: [], sendFailures: [] };
    await reply(ch, 2, input);
    expect(Math.max(...ch.clonedPerTurn)).toBeLessThanOrEqual(LIST_ITEMS_PER_TURN);
    expect(ch.clonedPerTurn.reduce((a, b) => a + b, 0)).toBe(20_000 + 23_000);
    expect(ch.replies.get(1)).toEqual(books);
    expect(ch.replies.get(2)).toEqual(input);
    expect(ch.parts.size).toBe(0);
  });

  test("random sizes, two replies interleaved, a failed one: each joined as sent, its parts released", async () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const size = () => [0, 1, LIST_ITEMS_PER_TURN - 1, LIST_ITEMS_PER_TURN, LIST_ITEMS_PER_TURN + 1, 2 * LIST_ITEMS_PER_TURN][rnd(6)]! + rnd(3) * rnd(700);
    for (let round = 0; round < 30; round++) {
      const ch = channel();
      const list = Array.from({ length: size() }, (_, i) => summary(i));
      const input: ReadinessInput = { books: Array.from({ length: size() }, (_, i) => summary(i + 1e6)), unresolved: Array.from({ length: size() }, (_, i) => unresolved(i)), connections: [], workersDown: [3] };
      await Promise.all([reply(ch, 10, list), reply(ch, 11, input)]);
      // Two replies in flight at once: the turns they share carry both, each at most one part.
      expect(Math.max(...ch.clonedPerTurn)).toBeLessThanOrEqual(2 * LIST_ITEMS_PER_TURN);
      expect(ch.replies.get(10)).toEqual(list);
      expect(ch.replies.get(11)).toEqual(input);
      // A worker that could not finish answers undefined after its parts: nothing of them is kept or answered.
      await sendInParts(12, list, (p) => ch.send(p), () => ch.send({ type: "response", id: 12, result: undefined }), ch.turn);
      expect(ch.replies.get(12)).toBeUndefined();
      expect(ch.parts.size).toBe(0);
    }
  });
});

/** Timers on a clock that moves only when told (advance): what AwaitedReplies waits with. */
function fakeClock() {
  let nowMs = 0;
  let nextId = 1;
  const timers = new Map<number, { atMs: number; fn: () => void }>();
  /** When each timer that fired fired. */
  const firedAtMs: number[] = [];
  return {
    firedAtMs,
    now: () => nowMs,
    setTimeout(fn: () => void, ms: number): unknown {
      timers.set(nextId, { atMs: nowMs + ms, fn });
      return nextId++;
    },
    clearTimeout(handle: unknown): void {
      timers.delete(handle as number);
    },
    advance(ms: number): void {
      const endMs = nowMs + ms;
      for (;;) {
        let due: [number, { atMs: number; fn: () => void }] | undefined;
        for (const t of timers) if (t[1].atMs <= endMs && (due === undefined || t[1].atMs < due[1].atMs)) due = t;
        if (due === undefined) break;
        timers.delete(due[0]);
        nowMs = due[1].atMs;
        firedAtMs.push(nowMs);
        due[1].fn();
      }
      nowMs = endMs;
    },
  };
}

/**
 * A worker answering request `id` as worker-main does (its books collected a chunk per turn with progressTurn, then
 * sent in parts), each of its turns `turnMs` of the clock; `stallAfterTurns`: it goes silent then (hung, dying).
 */
async function slowWorker(clock: ReturnType<typeof fakeClock>, replies: AwaitedReplies, id: number, books: BookSummary[], turnMs: number, stallAfterTurns = Infinity) {
  let turns = 0;
  let stalled = false;
  const send = (msg: FromWorker) => {
    if (stalled) return;
    const m = structuredClone(msg);
    if (m.type === "response-part") replies.part(m);
    else if (m.type === "response") replies.last(m.id, m.result);
  };
  const turn = async () => {
    if (++turns > stallAfterTurns) {
      stalled = true;
      clock.advance(60_000); // a minute of silence: every timer due
    }
    clock.advance(turnMs);
    await Promise.resolve();
  };
  const collected = await collectInTurns(books.length, (i) => books[i]!, progressTurn(id, send, turn));
  await sendInParts(id, collected, send, (rest) => send({ type: "response", id, result: rest }), turn);
  return turns;
}

describe("a reply is awaited while it progresses (AwaitedReplies)", () => {
  const books = Array.from({ length: 20_000 }, (_, i) => summary(i));

  test("20,000 books from a worker whose turns take 60 ms (~80 turns, 4.8 s): the whole reply, not a timeout", async () => {
    const clock = fakeClock();
    const replies = new AwaitedReplies(REPLY_SILENCE_MS, REPLY_MAX_MS, clock);
    const reply = replies.expect(1);
    const turns = await slowWorker(clock, replies, 1, books, 60);
    expect(turns * 60).toBeGreaterThan(2 * REPLY_SILENCE_MS); // longer than the silence bound in all
    expect(await reply).toEqual(books);
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
  });

  test("a reply that stops coming ends undefined REPLY_SILENCE_MS after its last message; what comes later is not held", async () => {
    const clock = fakeClock();
    const abandoned: number[] = [];
    const replies = new AwaitedReplies(REPLY_SILENCE_MS, REPLY_MAX_MS, clock, (id) => abandoned.push(id));
    const told: [number, string][] = [];
    const reply = replies.expect(2, undefined, (waitedMs, why) => void told.push([waitedMs, why]));
    // Silent from its 50th turn on (mid-sending): its last message was at 49 × 10 ms.
    await slowWorker(clock, replies, 2, books, 10, 49);
    expect(await reply).toBeUndefined();
    expect(clock.firedAtMs.at(-1)).toBe(49 * 10 + REPLY_SILENCE_MS);
    expect(told).toEqual([[49 * 10 + REPLY_SILENCE_MS, "silent"]]); // the caller logs it (until 2026-12-07: nothing did)
    expect(abandoned).toEqual([2]); // its worker is told to stop making it
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
    // A part of it coming after all (a worker that was only slow) is dropped as it comes, as is its last message.
    replies.part({ type: "response-part", id: 2, books: books.slice(0, 500), unresolved: [] });
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
    replies.last(2, books.slice(500, 600));
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
  });

  test("a reply that keeps coming ends undefined at REPLY_MAX_MS; the worker's end ends every reply it owes", async () => {
    const clock = fakeClock();
    const replies = new AwaitedReplies(REPLY_SILENCE_MS, REPLY_MAX_MS, clock);
    const told: [number, string][] = [];
    const late = (waitedMs: number, why: string) => void told.push([waitedMs, why]);
    const reply = replies.expect(3, undefined, late);
    await slowWorker(clock, replies, 3, books, REPLY_SILENCE_MS - 1); // each turn just within the silence bound
    expect(await reply).toBeUndefined();
    expect(clock.firedAtMs.at(-1)).toBe(REPLY_MAX_MS);
    expect(told).toEqual([[REPLY_MAX_MS, "deadline"]]);
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
    const owed = [replies.expect(4, undefined, late), replies.expect(5, undefined, late)];
    replies.part({ type: "response-part", id: 4, books: books.slice(0, 500), unresolved: [] });
    replies.part({ type: "response-part", id: 0, books: books.slice(0, 500), unresolved: [] }); // "started"'s
    expect(replies.size).toEqual({ awaited: 2, held: 2 });
    replies.end();
    expect(await Promise.all(owed)).toEqual([undefined, undefined]);
    expect(told).toHaveLength(1); // a worker's end is not a late reply (its exit is logged)
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
  });
});

describe("replies sharing a busy worker's turns (sharedTurns, AwaitedReplies)", () => {
  test("four /books at once on a busy worker, each 4.8 s of its turns: the oldest first, two whole, the rest given up and stopped", async () => {
    // 5,000 books (~20 turns) at 240 ms a turn: as 20,000 books (~80 turns) at 60 ms, for a quarter of the cloning.
    const turnMs = 240;
    const clock = fakeClock();
    const cancelled = new Set<number>(); // the worker's, filled by the supervisor's `cancel`
    const replies = new AwaitedReplies(REPLY_SILENCE_MS, REPLY_MAX_MS, clock, (id) => cancelled.add(id));
    const books = Array.from({ length: 5000 }, (_, i) => summary(i));
    const send = (msg: FromWorker) => {
      const m = structuredClone(msg);
      if (m.type === "response-part") replies.part(m);
      else if (m.type === "response") replies.last(m.id, m.result);
    };
    const shared = sharedTurns();
    let turns = 0;
    // As worker-main answers a request: one waiter resumes per event-loop turn, each such turn turnMs of the clock.
    const answer = async (id: number) => {
      const turn = cancelledTurn(id, cancelled, async () => {
        await shared(false, id);
        turns++;
        clock.advance(turnMs);
      });
      try {
        const collected = await collectInTurns(books.length, (i) => books[i]!, progressTurn(id, send, turn));
        await sendInParts(id, collected, send, (rest) => send({ type: "response", id, result: rest }), turn);
      } catch (err) {
        if (!(err instanceof ReplyCancelled)) throw err;
      }
    };
    const ids = [1, 2, 3, 4];
    const got = ids.map((id) => replies.expect(id));
    await Promise.all(ids.map(answer));
    // Taking turns a chunk each (until 2026-12-06) each was ~19 s: all four given up at 10 s, none answered. The
    // second waits silent through the first's 4.8 s: kept by the worker's parts of the first.
    expect(await Promise.all(got)).toEqual([books, books, undefined, undefined]);
    expect([...cancelled].sort()).toEqual([3, 4]);
    expect(turns).toBeLessThanOrEqual(Math.ceil(REPLY_MAX_MS / turnMs) + 2); // none made past its deadline but to see its cancel
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
  });

  test("sharedTurns: waiters resume one a turn, oldest order first (random arrivals, against a sorted reference)", async () => {
    for (let round = 0; round < 20; round++) {
      const shared = sharedTurns();
      const orders = Array.from({ length: 1 + Math.floor(Math.random() * 12) }, () => Math.floor(Math.random() * 8));
      const resumed: number[] = [];
      await Promise.all(orders.map((order) => shared(false, order).then(() => resumed.push(order))));
      expect(resumed).toEqual([...orders].sort((a, b) => a - b));
    }
  });
});

describe("a reply nobody waits for any more is stopped (cancelledTurn)", () => {
  test("its HTTP client goes away mid-collection: undefined at once, its worker told, and it stops at its next turn", async () => {
    const n = 20_000;
    const cancelled = new Set<number>(); // the worker's (worker-main), filled by the supervisor's `cancel`
    const replies = new AwaitedReplies(REPLY_SILENCE_MS, REPLY_MAX_MS, undefined, (id) => cancelled.add(id));
    const client = new AbortController();
    const told: string[] = [];
    const reply = replies.expect(7, client.signal, (_waitedMs, why) => void told.push(why));
    let summarized = 0;
    const send = (msg: FromWorker) => {
      const m = structuredClone(msg);
      if (m.type === "response-part") replies.part(m);
      else if (m.type === "response") replies.last(m.id, m.result);
    };
    const turn = cancelledTurn(7, cancelled, () => new Promise<void>((resolve) => setImmediate(resolve)));
    const made = (async () => {
      const collected = await collectInTurns(n, (i) => {
        if (i === 1200) client.abort(); // the client goes while its books are collected
        summarized++;
        return summary(i);
      }, progressTurn(7, send, turn));
      await sendInParts(7, collected, send, (rest) => send({ type: "response", id: 7, result: rest }), turn);
    })();
    expect(await reply).toBeUndefined();
    await expect(made).rejects.toBeInstanceOf(ReplyCancelled);
    expect(summarized).toBe(3 * LIST_ITEMS_PER_TURN); // the chunk under way ends; no other (before: all 20,000)
    expect(told).toEqual([]); // its client went away: not the worker's lateness
    expect(replies.size).toEqual({ awaited: 0, held: 0 });
    // A client gone before its request is asked: nothing awaited, its worker told.
    const gone = new AbortController();
    gone.abort();
    expect(await replies.expect(8, gone.signal)).toBeUndefined();
    expect([...cancelled]).toEqual([7, 8]);
  });
});

describe("replies in progress together share the worker's turns (sharedTurns)", () => {
  /**
   * A worker's messages as the main thread takes them (cloned, to `replies`), counted by event-loop turn (a
   * setImmediate loop until stop()): the items each turn collected (`count`: summarized) and cloned (sent), and the
   * turn each reply was done in.
   */
  const turnCounted = (replies: AwaitedReplies) => {
    let turnNow = 0;
    let ticking = true;
    const tick = () => {
      turnNow++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const itemsAt = new Map<number, number>();
    const doneAt = new Map<number, number>();
    const count = (n: number) => itemsAt.set(turnNow, (itemsAt.get(turnNow) ?? 0) + n);
    const send = (msg: FromWorker) => {
      const m = structuredClone(msg);
      if (m.type === "response-part") count(m.books.length + m.unresolved.length), replies.part(m);
      else if (m.type === "response") count(Array.isArray(m.result) ? m.result.length : 0), replies.last(m.id, m.result), doneAt.set(m.id, turnNow);
    };
    return { itemsAt, doneAt, count, send, loopTurn: () => turnNow, stop: () => void (ticking = false) };
  };

  test("four replies at once (collected and sent as worker-main does): at most LIST_ITEMS_PER_TURN items an event-loop turn", async () => {
    const replies = new AwaitedReplies();
    const { itemsAt, count, send, stop } = turnCounted(replies);
    const turn = sharedTurns();
    const answer = async (id: number, n: number) => {
      const collected = await collectInTurns(n, (i) => (count(1), summary(i)), progressTurn(id, send, turn));
      await sendInParts(id, collected, send, (rest) => send({ type: "response", id, result: rest }), turn);
    };
    const sizes = [3000, 2000, 2600, 1500];
    try {
      const got = sizes.map((_, k) => replies.expect(k + 1));
      await Promise.all(sizes.map((n, k) => answer(k + 1, n)));
      expect(await Promise.all(got)).toEqual(sizes.map((n) => Array.from({ length: n }, (_, i) => summary(i))));
    } finally {
      stop();
    }
    // Each item counted twice (summarized, then cloned): one chunk of one reply a turn.
    expect([...itemsAt.values()].reduce((a, b) => a + b, 0)).toBe(2 * sizes.reduce((a, b) => a + b, 0));
    expect([...itemsAt].filter(([, n]) => n > LIST_ITEMS_PER_TURN)).toEqual([]);
  });

  // The queue's health-check turns (HTTP's /readyz takes them; a worker's /readyz, since 2026-12-06 one message made in
  // its request's turn, takes none of the replies' turns).
  test("a reply on health-check turns among three others: its turns go first, every other turn, and it is done first", async () => {
    const replies = new AwaitedReplies();
    const { itemsAt, doneAt, count, send, loopTurn, stop } = turnCounted(replies);
    const shared = sharedTurns();
    const n = 3000; // 6 turns collecting, 6 sending
    const answer = async (id: number, healthCheck: boolean) => {
      const turn = () => shared(healthCheck);
      const collected = await collectInTurns(n, (i) => (count(1), summary(i)), progressTurn(id, send, turn));
      await sendInParts(id, collected, send, (rest) => send({ type: "response", id, result: rest }), turn);
    };
    let checkFromTurn = 0;
    try {
      const others = [1, 2, 3].map((id) => answer(id, false));
      await new Promise((resolve) => setImmediate(resolve)); // the others under way first
      await new Promise((resolve) => setImmediate(resolve));
      checkFromTurn = loopTurn();
      await Promise.all([...others, answer(4, true)]);
    } finally {
      stop();
    }
    // Its 12 turns alternate with the others' (never two checks in a row while they wait): done within ~24 turns,
    // before any of them (in turn with them, one each: ~48).
    expect(doneAt.get(4)! - checkFromTurn).toBeLessThanOrEqual(2 * 12 + 2);
    expect(Math.min(doneAt.get(1)!, doneAt.get(2)!, doneAt.get(3)!)).toBeGreaterThan(doneAt.get(4)!);
    expect([...itemsAt].filter(([, k]) => k > LIST_ITEMS_PER_TURN)).toEqual([]);
  });
});
