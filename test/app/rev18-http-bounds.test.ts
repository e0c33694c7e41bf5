/**
 * What HTTP may cost the thread it shares with the venue connections and the publisher (workers = 1), with real
 * clients on 127.0.0.1: requests that arrive together are answered one per event-loop turn (the pipeline runs in
 * between), and the copies held by deep book bodies in progress are bounded (a client that stops reading keeps its
 * copy until it goes or times out): past the bound a deep request is 503 with retry-after, a shallow one still served.
 * Many books (/books, /status of 20,000) are collected and formatted LIST_ITEMS_PER_TURN a turn, the pipeline's
 * steps running in between (before: all in one turn, 25–100 ms), and a client that stops reading stops the formatting.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unpack } from "msgpackr";
import { levelsOf, summarize, type BookSummary } from "../../src/app/book-json.ts";
import { heldLevelBytesNow, holdCopies, MAX_HELD_LEVEL_BYTES } from "../../src/app/book-stream.ts";
import { collectInTurns, LIST_ITEMS_PER_TURN, SUMMARY_BYTES } from "../../src/app/list-stream.ts";
import { evaluateReadiness, evaluateSummary, READYZ_NAMED, summaryOfInput, type ReadinessInput } from "../../src/app/readiness.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { PromWriter } from "../../src/app/prometheus.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { waitFor } from "../e2e/harness.ts";

/** A book awaiting its snapshot: no levels. */
function emptyBook(symbol: string): BookBuilder {
  return new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" });
}

function book(symbol: string, levelsPerSide: number): BookBuilder {
  return fill(emptyBook(symbol), levelsPerSide);
}

/** `b` given a snapshot of `levelsPerSide` levels a side. */
function fill(b: BookBuilder, levelsPerSide: number): BookBuilder {
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  for (let l = 0; l < levelsPerSide; l++) {
    u.pushBid(100_000_000 - l, 1000 + l);
    u.pushAsk(100_000_001 + l, 1000 + l);
  }
  b.applySnapshot(u);
  return b;
}

/** 250,000 levels a side: a copy of 8 MB, a JSON body of ~11 MB (more than loopback's socket buffers take in). */
const DEEP_LEVELS = 250_000;
const books = [book("DEEP", DEEP_LEVELS), book("SHALLOW", 1000)];

/** Event-loop turns of this process, counted by a setImmediate loop while a test runs. */
let turn = 0;
let ticking = false;
function tick(): void {
  turn++;
  if (ticking) setImmediate(tick);
}
/** The turn each answer read the pipeline's numbers in. */
const readAt: number[] = [];

/** When > 0, the source has this many books (summaries of `books` renamed), every other one not live. */
let many = 0;
/** The turns each of the many books was summarized / formatted (JSON) in. */
const summarizedAt: number[] = [];
const formattedAt: number[] = [];
/** A summary that notes the turn it is formatted in: JSON.stringify and msgpackr read its `symbol` once. */
class NotedSummary {
  constructor(fields: BookSummary) {
    Object.assign(this, fields);
    Object.defineProperty(this, "symbol", {
      enumerable: true,
      get: () => {
        formattedAt.push(turn);
        return fields.symbol;
      },
    });
  }
}
/** Book `i` of the many, as plain data. */
function manyBook(i: number): BookSummary {
  const s = summarize(books[i % 2]!, true);
  return { ...s, symbol: `S${i}`, instrumentId: i, state: i % 2 === 0 ? "live" : "resyncing", valid: i % 2 === 0 };
}
/** Collected as Feeder.bookSummariesInTurns does (a chunk per `turn`); all at once when HTTP gives no turn. */
function manyBooks(next?: () => Promise<void>): Promise<BookSummary[]> {
  return collectInTurns(many, (i) => (summarizedAt.push(turn), new NotedSummary(manyBook(i)) as unknown as BookSummary), next ?? (async () => {}));
}
/** When > 0, the source has this many unresolved symbols; the turn each was judged in (its detail first read). */
let manyUnresolved = 0;
const judgedAt: number[] = [];
function unresolvedAt(i: number): ReadinessInput["unresolved"][number] {
  const u = { venue: "okx", market: "spot", symbol: `U${i}-USDT`, reason: "rest_unreachable", detail: "" };
  let judged = false;
  const detail = () => {
    if (!judged) judgedAt.push(turn);
    judged = true;
    return "okx: instrument REST unreachable";
  };
  return Object.defineProperty(u, "detail", { enumerable: true, get: detail });
}
const NO_LATENCY = { receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} };

const summaries = async (t?: () => Promise<void>) => (many > 0 ? manyBooks(t) : books.map((b) => summarize(b, b.state === BookState.LIVE)));
const source: StatusSource = {
  book: (_venue, _market, symbol, depth) => {
    readAt.push(turn);
    const b = books.find((x) => x.instrument.symbol === symbol);
    return b && levelsOf(b, b.state === BookState.LIVE, depth);
  },
  metricsText: () => {
    readAt.push(turn);
    return new PromWriter().family("feeder_up", "gauge", "up").sample("feeder_up", {}, 1).text();
  },
  readiness: async (t) => ({ books: await summaries(t), unresolved: Array.from({ length: manyUnresolved }, (_, i) => unresolvedAt(i)), connections: [], workersDown: [] }),
  latency: () => {
    if (many === 0) readAt.push(turn); // /status (once per request)
    return NO_LATENCY;
  },
};

let http: HttpServerHandle;
beforeAll(() => {
  http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
});
afterAll(async () => {
  ticking = false;
  await http?.stop();
});

/**
 * `got` (decoded from a body) equals `want` (plain data: no NaN, no undefined in arrays), as toEqual, which is asked
 * only when the JSON texts differ (for its diff; a key order of its own passes there too): toEqual over 20,000
 * summaries cost ~0.4 s of CPU, the texts a quarter of that.
 */
function expectSameData(got: unknown, want: unknown, what?: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, what).toEqual(want);
}

/** A /status answer: `want` with any version (a string) and nowMs (a number). */
function expectStatus(got: unknown, want: object, what?: string): void {
  const g = got as { version?: unknown; nowMs?: unknown };
  expect([typeof g.version, typeof g.nowMs], what).toEqual(["string", "number"]);
  expectSameData({ ...g, version: "", nowMs: 0 }, { version: "", nowMs: 0, ...want }, what);
}

/** An open connection to the server. */
function open(): Promise<Socket> {
  return connectTo(http.port);
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

/** Sends `path` on `s` and resolves with the response head (status and headers); the body is then not read. */
function head(s: Socket, path: string): Promise<{ status: number; head: string }> {
  return new Promise((resolve) => {
    let data = "";
    s.setEncoding("latin1");
    const onData = (d: string) => {
      data += d;
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      s.off("data", onData);
      s.pause(); // a client that stops reading
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)![1]), head: data.slice(0, end) });
    };
    s.on("data", onData);
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe("HTTP and the pipeline's thread", { timeout: 60_000 }, () => {
  test("requests that arrive together are answered one per event-loop turn", async () => {
    const paths = ["/books/bybit/linear/SHALLOW", "/status", "/metrics", "/books/bybit/linear/SHALLOW?depth=500"];
    const sockets = await Promise.all(Array.from({ length: 24 }, open));
    readAt.length = 0;
    ticking = true;
    setImmediate(tick);
    // All written in one go: they reach the server in the same read of its sockets.
    const answers = sockets.map((s, i) => head(s, paths[i % paths.length]!));
    expect((await Promise.all(answers)).map((a) => a.status)).toEqual(sockets.map(() => 200));
    ticking = false;
    for (const s of sockets) s.destroy();
    expect(readAt).toHaveLength(24);
    expect(new Set(readAt).size, `turns the 24 answers were made in: ${readAt.join(" ")}`).toBe(24);
  });

  test("copies held by deep bodies in progress are bounded: then 503 for a deep book, a shallow one still served", async () => {
    const perBody = 4 * 8 * DEEP_LEVELS;
    const admitted = Math.floor(MAX_HELD_LEVEL_BYTES / perBody);
    expect(admitted).toBeGreaterThan(1);
    const readers: Socket[] = [];
    for (let i = 0; i < admitted; i++) {
      const s = await open();
      readers.push(s);
      expect((await head(s, "/books/bybit/linear/DEEP")).status, `reader ${i}`).toBe(200);
    }
    expect(heldLevelBytesNow()).toBe(admitted * perBody);
    for (const path of ["/books/bybit/linear/DEEP", "/books/bybit/linear/DEEP?depth=100000"]) {
      const s = await open();
      const r = await head(s, path);
      s.destroy();
      expect(r.status, path).toBe(503);
      expect(r.head.toLowerCase()).toContain("retry-after: 1");
    }
    const shallow = await fetch(`${http.url}/books/bybit/linear/SHALLOW?depth=20`);
    expect(shallow.status).toBe(200);
    expect(((await shallow.json()) as { bids: unknown[] }).bids).toHaveLength(20);
    // The readers go away: their copies are released and a deep book is served again, to the end.
    for (const s of readers) s.destroy();
    await waitFor(() => heldLevelBytesNow() === 0, "copies released");
    const whole = (await (await fetch(`${http.url}/books/bybit/linear/DEEP`)).json()) as { bids: unknown[]; asks: unknown[] };
    expect([whole.bids.length, whole.asks.length]).toEqual([DEEP_LEVELS, DEEP_LEVELS]);
    expect(heldLevelBytesNow()).toBe(0);
  });

  /**
   * A server whose source answers as a worker's reply does, turns later: each ask waits until `burst` answers it.
   * `burst(n, path)`: `n` deep requests at once, each one's status once the asks made by then are answered, the
   * readers' sockets (left unread), and how many were asked for. FILLING is `filling` (empty until a test fills it).
   */
  function laterServer(filling: BookBuilder) {
    const waiting: (() => void)[] = [];
    let asked = 0;
    const answer = (venue: string, market: string, symbol: string, depth: number) =>
      symbol === "FILLING" ? levelsOf(filling, filling.state === BookState.LIVE, depth) : source.book(venue, market, symbol, depth);
    const later: StatusSource = {
      ...source,
      book: (venue, market, symbol, depth) => {
        asked++;
        return new Promise((resolve) => waiting.push(() => resolve(answer(venue, market, symbol, depth))));
      },
    };
    const server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, later, silentLogger);
    async function burst(n: number, path: string): Promise<{ statuses: number[]; sockets: Socket[]; asked: number }> {
      asked = 0;
      const sockets = await Promise.all(Array.from({ length: n }, () => connectTo(server.port)));
      let refused = 0;
      const heads = sockets.map((s) => head(s, path).then((h) => (h.status === 503 && refused++, h)));
      await waitFor(() => asked + refused === n, "each asked for or refused");
      for (const a of waiting.splice(0)) a();
      const statuses = (await Promise.all(heads)).map((h) => h.status).sort();
      return { statuses, sockets, asked };
    }
    async function stop(): Promise<void> {
      for (const a of waiting.splice(0)) a();
      await server.stop();
    }
    return { burst, stop };
  }

  async function released(sockets: Socket[]): Promise<void> {
    for (const s of sockets) s.destroy();
    await waitFor(() => heldLevelBytesNow() === 0, "the copies released");
  }

  test("a source that answers later (workers): deep copies are reserved before they are asked for; past the bound 503 unasked (2026-12-07)", async () => {
    // Until 2026-12-07 a deep copy was counted once it came back, so every one of a burst was asked for and held at
    // once (12 copies of 8 MB here, the bound 64 MiB), and only then were those past the bound answered 503.
    const perBody = 4 * 8 * DEEP_LEVELS;
    const admitted = Math.floor(MAX_HELD_LEVEL_BYTES / perBody);
    const rig = laterServer(emptyBook("FILLING"));
    try {
      // Its size not known yet: one asked for at a time.
      const first = await rig.burst(3, "/books/bybit/linear/DEEP");
      expect([first.statuses, first.asked]).toEqual([[200, 503, 503], 1]);
      await released(first.sockets);
      // Its size known: as many asked for as fit, the rest 503 before any copy is made.
      const known = await rig.burst(admitted + 4, "/books/bybit/linear/DEEP");
      expect(known.statuses).toEqual([...Array(admitted).fill(200), ...Array(4).fill(503)]);
      expect(known.asked, "copies asked for").toBe(admitted);
      await released(known.sockets);
    } finally {
      await rig.stop();
    }
  });

  test("a book last copied empty (before its snapshot) counts as never copied once filled: one asked for at a time, then as many as fit", async () => {
    // Until 2026-12-07 its empty copy was remembered as 0 bytes and reserved as such: once filled, all of a burst for
    // it were asked for at once (16 copies of 8 MB, the bound 64 MiB), each held past the bound.
    const perBody = 4 * 8 * DEEP_LEVELS;
    const admitted = Math.floor(MAX_HELD_LEVEL_BYTES / perBody);
    const filling = emptyBook("FILLING");
    const rig = laterServer(filling);
    try {
      const empty = await rig.burst(1, "/books/bybit/linear/FILLING");
      expect([empty.statuses, empty.asked]).toEqual([[200], 1]);
      await released(empty.sockets);
      fill(filling, DEEP_LEVELS);
      const filled = await rig.burst(admitted + 4, "/books/bybit/linear/FILLING");
      expect([filled.statuses.filter((s) => s === 200).length, filled.asked], "[served, asked for]").toEqual([1, 1]);
      await released(filled.sockets);
      // Its size known again (its last copy whole and deep): as many asked for as fit.
      const known = await rig.burst(admitted + 4, "/books/bybit/linear/FILLING");
      expect(known.statuses).toEqual([...Array(admitted).fill(200), ...Array(4).fill(503)]);
      expect(known.asked, "copies asked for").toBe(admitted);
      await released(known.sockets);
    } finally {
      await rig.stop();
    }
  });

  /** Turns of the tick loop with more than LIST_ITEMS_PER_TURN of `at` in them, as "turn: count". */
  function overfull(at: readonly number[]): string[] {
    const perTurn = new Map<number, number>();
    for (const t of at) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
    return [...perTurn].filter(([, n]) => n > LIST_ITEMS_PER_TURN).map(([t, n]) => `${t}: ${n}`);
  }

  async function withMany<T>(n: number, run: () => Promise<T>): Promise<T> {
    many = n;
    summarizedAt.length = 0;
    formattedAt.length = 0;
    turn = 0;
    ticking = true;
    setImmediate(tick);
    try {
      return await run();
    } finally {
      ticking = false;
      many = 0;
    }
  }

  test("/books of 20,000 books is summarized and formatted a chunk per turn, the steps in between; the body is every book", async () => {
    const n = 20_000;
    const body = await withMany(n, async () => (await fetch(`${http.url}/books`)).json());
    expectSameData(body, Array.from({ length: n }, (_, i) => manyBook(i)));
    expect(formattedAt).toHaveLength(n);
    expect(overfull(summarizedAt), "turns that summarized more than a chunk").toEqual([]);
    expect(overfull(formattedAt), "turns that formatted more than a chunk").toEqual([]);
    expect(heldLevelBytesNow()).toBe(0);
  });

  test("the bound full: /books and /status of many books are 503 before any book is collected (not after all of them)", async () => {
    const n = 2_000;
    for (const path of ["/books", "/status"]) {
      await withMany(n, async () => {
        const first = await fetch(`${http.url}${path}`);
        expect([first.status, (await first.arrayBuffer()).byteLength > 0]).toEqual([200, true]); // how many there are
        await waitFor(() => heldLevelBytesNow() === 0, "its body released");
        summarizedAt.length = 0;
        const release = holdCopies(MAX_HELD_LEVEL_BYTES); // deep bodies being read hold the bound
        try {
          const r = await fetch(`${http.url}${path}`);
          expect([r.status, r.headers.get("retry-after")]).toEqual([503, "1"]);
          expect(summarizedAt, path).toEqual([]);
        } finally {
          release();
        }
      });
    }
  });

  test("many /books or /status arriving together: those past the bound are 503 before collecting, not after (s-rdhttp)", async () => {
    // Each answer listing every book is counted against the bound from its first turn: before, each checked the
    // bound alone, so every one of a burst passed, all collected every book at once (64 of 20,000: 1.3 GB of
    // summaries as the bound counts them) and only then were all but those that fit answered 503.
    const n = 2_000;
    for (const path of ["/books", "/status"]) {
      await withMany(n, async () => {
        const first = await fetch(`${http.url}${path}`);
        expect([first.status, (await first.arrayBuffer()).byteLength > 0]).toEqual([200, true]); // how many there are
        await waitFor(() => heldLevelBytesNow() === 0, "its body released");
        summarizedAt.length = 0;
        // Deep bodies being read leave room for one answer of every book (~2 MB), not two.
        const release = holdCopies(MAX_HELD_LEVEL_BYTES - Math.floor(1.5 * n * SUMMARY_BYTES));
        const sockets = await Promise.all(Array.from({ length: 4 }, open));
        try {
          const answers = await Promise.all(sockets.map((s) => head(s, path)));
          expect(answers.map((a) => a.status).sort(), path).toEqual([200, 503, 503, 503]);
          expect(summarizedAt.length, `${path}: books summarized`).toBe(n);
        } finally {
          for (const s of sockets) s.destroy();
          release();
        }
        await waitFor(() => heldLevelBytesNow() === 0, "the admitted body released");
      });
    }
  });

  test("the first /books or /status of a server, its count not known yet: one collects at a time, the others after it (2026-12-07)", async () => {
    // Until 2026-12-07 the count the bound reserves was 0 before any answer listing every book, so a first burst
    // was not bounded at all: every one of it collected every book at once.
    const n = 2_000;
    for (const path of ["/books", "/status"]) {
      /** For each collection, how many had ended when it started. */
      const startedAfter: number[] = [];
      let ended = 0;
      const counted: StatusSource = {
        ...source,
        readiness: async (t, signal) => {
          startedAfter.push(ended);
          try {
            return await source.readiness(t, signal);
          } finally {
            ended++;
          }
        },
      };
      const fresh = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, counted, silentLogger);
      try {
        await withMany(n, async () => {
          const answers = await Promise.all(Array.from({ length: 4 }, async () => {
            const r = await fetch(`${fresh.url}${path}`);
            return [r.status, (await r.arrayBuffer()).byteLength > 0];
          }));
          expect(answers, path).toEqual(answers.map(() => [200, true]));
        });
        expect(startedAfter.filter((e) => e === 0), `${path}: collections started before the first ended`).toHaveLength(1);
        expect(startedAfter, path).toHaveLength(4);
      } finally {
        await fresh.stop();
      }
      await waitFor(() => heldLevelBytesNow() === 0, "the bodies released");
    }
  });

  test("/status of 5,000 books (2,500 not live): the same, with every reason", async () => {
    const n = 5_000;
    const expectedBooks = Array.from({ length: n }, (_, i) => manyBook(i));
    const { reasons } = evaluateReadiness({ books: expectedBooks, unresolved: [], connections: [], workersDown: [] });
    expect(reasons).toHaveLength(n / 2);
    const status = await withMany(n, async () => (await fetch(`${http.url}/status`)).json());
    expectStatus(status, { ready: false, reasons, books: expectedBooks, latency: NO_LATENCY });
    expect(overfull(summarizedAt)).toEqual([]);
    expect(overfull(formattedAt)).toEqual([]);
  });

  // /readyz judges a summary since 2026-12-06 (readiness.ts): each rule's count and its first READYZ_NAMED reasons, one
  // small body. This source has no readyz(): HTTP summarizes its whole lists (the runtime's sources make the summary
  // themselves, in one turn: test/app/readyz-summary.test.ts, rev35-supervisor-resolving.test.ts).
  test("/readyz of 5,000 books (2,500 not live): each rule's count and its first READYZ_NAMED reasons, the whole lists' first", async () => {
    const n = 5_000;
    const whole = { books: Array.from({ length: n }, (_, i) => manyBook(i)), unresolved: [], connections: [], workersDown: [] };
    const [status, body] = await withMany(n, async () => {
      const r = await fetch(`${http.url}/readyz`);
      return [r.status, (await r.json()) as { reasons: unknown[] }] as const;
    });
    expect(status).toBe(503);
    expect(body).toEqual(evaluateSummary(summaryOfInput(whole)));
    expect(body).toMatchObject({ ready: false, books: n, live: n / 2, reasonCounts: { book_not_live: n / 2 }, reasonsNotShown: n / 2 - READYZ_NAMED });
    expect(body.reasons).toEqual(evaluateReadiness(whole).reasons.slice(0, READYZ_NAMED));
    expect(overfull(summarizedAt)).toEqual([]);
    expect(heldLevelBytesNow()).toBe(0);
  });

  test("a /readyz of many reasons holds nothing against the deep bodies' bound: with the bound full, its whole answer", async () => {
    const n = 5_000;
    await withMany(n, async () => {
      const release = holdCopies(MAX_HELD_LEVEL_BYTES);
      try {
        const r = await fetch(`${http.url}/readyz`);
        expect(r.status).toBe(503);
        const body = (await r.json()) as { ready: boolean; books: number; reasons: unknown[]; reasonsNotShown: number };
        expect([body.ready, body.books, body.reasons.length, body.reasonsNotShown]).toEqual([false, n, READYZ_NAMED, n / 2 - READYZ_NAMED]);
        expect(heldLevelBytesNow()).toBe(MAX_HELD_LEVEL_BYTES);
      } finally {
        release();
      }
    });
  });

  test("/readyz of 20,000 symbols unresolved (a venue's REST down): counted, only the first READYZ_NAMED judged", async () => {
    const n = 20_000;
    manyUnresolved = n;
    judgedAt.length = 0;
    try {
      const whole = evaluateReadiness(await source.readiness());
      judgedAt.length = 0;
      const [status, body] = await withMany(0, async () => {
        const r = await fetch(`${http.url}/readyz`);
        return [r.status, (await r.json()) as { reasons: unknown[] }] as const;
      });
      expect(status).toBe(503);
      expect(body).toMatchObject({ ready: false, books: 2, reasonCounts: { symbol_unresolved: n }, reasonsNotShown: n - READYZ_NAMED });
      expect(body.reasons).toEqual(whole.reasons.slice(0, READYZ_NAMED));
      expect(judgedAt).toHaveLength(READYZ_NAMED); // until 2026-12-06 every one of the 20,000, 500 a turn
    } finally {
      manyUnresolved = 0;
    }
  });

  test("as MessagePack, /books and /status are formatted a chunk per turn too, and decode to the same values", async () => {
    const n = 3 * LIST_ITEMS_PER_TURN + 7;
    const expectedBooks = Array.from({ length: n }, (_, i) => manyBook(i));
    const { reasons } = evaluateReadiness({ books: expectedBooks, unresolved: [], connections: [], workersDown: [] });
    for (const path of ["/books", "/status"]) {
      const [type, bytes] = await withMany(n, async () => {
        const r = await fetch(`${http.url}${path}`, { headers: { accept: "application/msgpack" } });
        return [r.headers.get("content-type"), new Uint8Array(await r.arrayBuffer())] as const; // read while the loop turns
      });
      expect(type).toBe("application/msgpack");
      const decoded = unpack(bytes) as Record<string, unknown>;
      if (path === "/books") expectSameData(decoded, expectedBooks, path);
      else expectStatus(decoded, { ready: false, reasons, books: expectedBooks, latency: NO_LATENCY }, path);
      expect(formattedAt.length).toBeGreaterThanOrEqual(n); // /status: its evaluation reads the books not live too
      expect(overfull(formattedAt), path).toEqual([]);
    }
    expect(heldLevelBytesNow()).toBe(0);
  });

  test("a client that goes while its /books or /status is collected: the collecting stops", async () => {
    const n = 100_000; // 200 turns of collecting
    for (const path of ["/books", "/status"]) {
      // An answer of every book first: the next one's admission reserves its count against the bound (s-rdhttp).
      await withMany(2_000, async () => (await fetch(`${http.url}${path}`)).arrayBuffer());
      await waitFor(() => heldLevelBytesNow() === 0, `${path}: the first body released`);
      await withMany(n, async () => {
        const s = await open();
        s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        await waitFor(() => summarizedAt.length > 0, "the collecting to start");
        s.destroy();
        // The server goes on turning with nothing more asked: the collecting stops at its next turn (before: all of it).
        let last = -1;
        let sameSince = turn;
        await waitFor(() => {
          if (summarizedAt.length !== last) (last = summarizedAt.length), (sameSince = turn);
          return turn - sameSince > 100;
        }, "the collecting to stop");
        expect(summarizedAt.length, `${path}: books summarized for a client that had gone`).toBeLessThan(n / 2);
        // What its admission reserved against the bound (the last answer's count, s-rdhttp) is free again.
        await waitFor(() => heldLevelBytesNow() === 0, `${path}: the gone client's reservation released`);
      });
    }
  });

  test("a client that stops reading /books stops its formatting; its books are held (bounded) until it goes", async () => {
    const n = 40_000; // ~13 MB of JSON: more than loopback's socket buffers take in
    await withMany(n, async () => {
      const s = await open();
      expect((await head(s, "/books")).status).toBe(200);
      // The server goes on turning (the tick loop) with nothing more read: the formatting stops where the socket is full.
      let last = -1;
      let sameSince = turn;
      await waitFor(() => {
        if (formattedAt.length !== last) (last = formattedAt.length), (sameSince = turn);
        return turn - sameSince > 200;
      }, "formatting to stop");
      expect(formattedAt.length, "books formatted for a client that reads nothing").toBeLessThan(n * 0.9);
      expect(heldLevelBytesNow()).toBe(n * SUMMARY_BYTES);
      s.destroy();
      await waitFor(() => heldLevelBytesNow() === 0, "the books released");
    });
  });
});
