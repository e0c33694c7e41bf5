/**
 * The ages in a worker's reply (a book's recvAgeUs, a send failure's lastErrorAgoMs) are as of that reply; the
 * supervisor answers once every worker's came, so a worker that answered first has its ages made older by the time
 * since its reply. Until 2026-12-07 they were shown as the worker said them: a quiet book up to REPLY_MAX_MS (10 s)
 * younger than it was when another worker was slow. No worker is started: two slots with fake workers whose replies
 * the test gives, the first at once and the second after a measured wait.
 */
import { describe, expect, test } from "vitest";
import type { BookSummary } from "../../src/app/book-json.ts";
import { summaryOfInput, type ReadinessInput } from "../../src/app/readiness.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { AwaitedReplies } from "../../src/app/worker-reply.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";

const AGE_US = 1_000;
const FAILURE_AGO_MS = 5;
const WAIT_MS = 100;

function summary(symbol: string): BookSummary {
  return {
    ...{ venue: "bybit", market: "linear", symbol, instrumentId: 1, state: "live", reason: "snapshot_applied", valid: true, instrSeq: 5, venueSeq: 5 },
    ...{ bidLevels: 1, askLevels: 1, bestBid: null, bestAsk: null, tsExchangeUs: 1, tsEventUs: null, tsRecvUs: 1_765_000_000_000_000, recvAgeUs: AGE_US, gaps: 0, invalidations: 0 },
  };
}

/** Worker `symbol`'s readiness: its one book and one send failure. */
function input(symbol: string): ReadinessInput {
  const failure = { destination: "d", target: "239.1.1.1:5000", errors: 1, lastErrorMs: 1, lastError: "ENOBUFS", lastErrorAgoMs: FAILURE_AGO_MS };
  return { books: [summary(symbol)], unresolved: [], connections: [], workersDown: [], sendFailures: [failure] };
}

/** Each kind's reply of the worker whose book is `symbol`. */
const replyOf: Record<string, (symbol: string) => unknown> = {
  readiness: input,
  readyz: (symbol) => summaryOfInput(input(symbol)),
  status: (symbol) => ({ summary: summaryOfInput(input(symbol)), books: [summary(symbol)], unresolved: [] }),
  book: (symbol) => (symbol === "A" ? { ...summary(symbol), priceExp: 2, qtyExp: 2, tickSize: "0.01", lotSize: "0.01", bidPx: new Float64Array(0), bidQty: new Float64Array(0), askPx: new Float64Array(0), askQty: new Float64Array(0) } : null),
};

/** A supervisor of two fake workers: each request's id, by worker, as it is posted. */
function twoWorkers(log: Logger = silentLogger): { supervisor: Supervisor; slots: { replies: AwaitedReplies }[]; asked: number[][] } {
  const supervisor = new Supervisor({ publish: {} } as FeederConfig, log);
  const asked: number[][] = [[], []];
  const slots = [0, 1].map((index) => ({
    ...{ index, worker: { postMessage: (m: { type: string; id: number }) => m.type === "request" && asked[index]!.push(m.id) }, answering: true, ready: true, terminatedAtMs: 0 },
    ...{ restarts: 0, lastHeardMs: 1, lastReplyMs: 0, lastBooks: [], lastBooksAtMs: 0, share: [], faultsLogged: new Map(), replies: new AwaitedReplies() },
  }));
  (supervisor as unknown as { slots: unknown[] }).slots.push(...slots);
  return { supervisor, slots, asked };
}

async function waitMs(ms: number): Promise<void> {
  const fromMs = performance.now();
  while (performance.now() - fromMs < ms) await new Promise((r) => setTimeout(r, 10));
}

describe("a worker's ages, answered after a slower worker's reply", () => {
  for (const what of ["readiness", "readyz", "status"]) {
    test(`${what}: as of the answer, not of its reply`, async () => {
      const { supervisor, slots, asked } = twoWorkers();
      const answer =
        what === "readiness" ? supervisor.readiness()
        : what === "readyz" ? supervisor.readyz()
        : supervisor.statusRows(10, null);
      slots[0]!.replies.last(asked[0]![0]!, replyOf[what]!("A"));
      await new Promise((r) => setTimeout(r, 0)); // its reply taken (stamped) before the wait is timed
      const firstMs = performance.now();
      await waitMs(WAIT_MS);
      const waitedUs = Math.floor((performance.now() - firstMs) * 1000);
      slots[1]!.replies.last(asked[1]![0]!, replyOf[what]!("B"));
      const got = (await answer) as { books?: BookSummary[]; summary?: { sendFailures?: { worker?: number; lastErrorAgoMs: number }[] }; sendFailures?: { worker?: number; lastErrorAgoMs: number }[] };
      if (what !== "readyz") {
        const [a, b] = got.books!;
        expect(a!.symbol).toBe("A");
        expect(a!.recvAgeUs).toBeGreaterThanOrEqual(AGE_US + waitedUs);
        expect(b!.recvAgeUs).toBeGreaterThanOrEqual(AGE_US);
      }
      const failures = (what === "status" ? got.summary!.sendFailures : got.sendFailures)!;
      expect(failures.map((f) => f.worker)).toEqual([0, 1]);
      expect(failures[0]!.lastErrorAgoMs).toBeGreaterThanOrEqual(FAILURE_AGO_MS + Math.floor(waitedUs / 1000));
      expect(failures[1]!.lastErrorAgoMs).toBeGreaterThanOrEqual(FAILURE_AGO_MS);
    });
  }
});

/**
 * /books/{…}: one worker has the book; its answer is given as it comes. Until 2026-12-07 it waited for every other
 * worker's reply (up to REPLY_MAX_MS), its levels and `valid` as of its reply shown as current meanwhile.
 */
test("book: the worker's answer as it comes, not held for a slower worker's reply", async () => {
  const { supervisor, slots, asked } = twoWorkers();
  let answered: unknown = "not yet";
  const answer = supervisor.book("bybit", "linear", "A", 0).then((b) => (answered = b));
  slots[0]!.replies.last(asked[0]![0]!, replyOf.book!("A"));
  await new Promise((r) => setTimeout(r, 0)); // its reply taken (every continuation of it run)
  expect(answered).toMatchObject({ symbol: "A", valid: true });
  slots[1]!.replies.last(asked[1]![0]!, replyOf.book!("B")); // the other worker's null, later: nothing changes
  await answer;
  expect(answered).toMatchObject({ symbol: "A", valid: true });
});

/**
 * A worker's reply whose handling throws (here: the line logging its malformed reply): /books/{…} fails with that
 * error, as before it was answered on the first reply (Promise.all). Since then it never settled (the HTTP request,
 * and its copy's reservation, held for good) and the throw was an unhandled rejection.
 */
test("book: a reply whose handling throws fails the answer, not left unsettled", async () => {
  const { supervisor, slots, asked } = twoWorkers({ ...silentLogger, error: () => { throw new Error("log sink broken"); } });
  let outcome: unknown = "unsettled";
  void supervisor.book("bybit", "linear", "A", 0).then((b) => (outcome = b), (err: Error) => (outcome = err.message));
  slots[0]!.replies.last(asked[0]![0]!, {}); // malformed: logged (which throws)
  slots[1]!.replies.last(asked[1]![0]!, null);
  await new Promise((r) => setTimeout(r, 0)); // every continuation of both replies run
  expect(outcome).toBe("log sink broken");
});

/**
 * A worker's books kept as its last (listed stale once it is down) are aged as of the answer and stamped then: their
 * age goes on from there, the wait for the slower worker counted once. Stamped at its reply instead, that wait is
 * counted twice (once in the ages, once in the time since).
 */
test("readiness: a worker's last books, listed once it is down, age from the answer, the wait counted once", async () => {
  const { supervisor, slots, asked } = twoWorkers();
  const fromMs = performance.now(); // before worker 0's reply: its book's age can only have grown by the time since
  const first = supervisor.readiness();
  slots[0]!.replies.last(asked[0]![0]!, input("A"));
  await waitMs(WAIT_MS);
  slots[1]!.replies.last(asked[1]![0]!, input("B"));
  await first;
  (slots[0] as unknown as { answering: boolean }).answering = false; // down: its last books are listed, stale
  const second = supervisor.readiness();
  slots[1]!.replies.last(asked[1]![1]!, input("B"));
  const a = (await second).books.find((b) => b.symbol === "A")!;
  const sinceUs = (performance.now() - fromMs) * 1000;
  expect(a.state).toBe("stale");
  expect(a.recvAgeUs).toBeGreaterThanOrEqual(AGE_US + WAIT_MS * 1000);
  expect(a.recvAgeUs).toBeLessThanOrEqual(AGE_US + sinceUs + 2); // (+2: two roundings to whole µs)
});
