/**
 * /books, /status and /books/{…} give a time the venue did not send (the wire's 0, "unknown") as null, as
 * `export --books` jsonl and `listen --format ndjson` write it: before, they gave 0, which scripts read as
 * 1970-01-01 (a latency of 56 years from tsEventUs), and a book never updated was 0 µs old. /readyz's venue_down
 * gives downForMs null for a connection not yet attempted (it was 0), and a symbol without a book nextAttemptMs null
 * when no attempt is scheduled (it was 0). In process: books built by hand behind a real
 * HTTP server on 127.0.0.1, JSON and MessagePack, a small book and a deep (streamed) one.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unpack } from "msgpackr";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { LEVELS_PER_CHUNK } from "../../src/app/book-stream.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";

const T0_US = 1_765_000_000_000_000;

/** A book whose snapshot carried `times` (0: the venue sent none); `levels` per side; none: no message yet. */
function book(symbol: string, levels: number, times?: { exchangeUs: number; eventUs: number; recvUs: number }): BookBuilder {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("okx", "spot", symbol), venue: "okx", market: "spot", symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
  if (times === undefined) return b;
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  [u.tsExchangeUs, u.tsEventUs, u.tsRecvUs] = [times.exchangeUs, times.eventUs, times.recvUs];
  for (let i = 0; i < levels; i++) u.pushBid(10_000_000 - i, 1000);
  for (let i = 0; i < levels; i++) u.pushAsk(10_000_001 + i, 1000);
  b.applySnapshot(u);
  return b;
}

const books = [
  book("OKX", 5, { exchangeUs: T0_US, eventUs: 0, recvUs: T0_US + 250 }), // OKX sends no matching-engine time
  book("SPOTREST", 5, { exchangeUs: 0, eventUs: 0, recvUs: T0_US + 500 }), // a Binance spot REST snapshot: no time at all
  book("DEEP", LEVELS_PER_CHUNK, { exchangeUs: T0_US, eventUs: 0, recvUs: T0_US + 750 }), // streamed a chunk at a time
  book("AWAIT", 0), // no message yet
];
const valid = (b: BookBuilder) => b.state === BookState.LIVE;
const source: StatusSource = {
  book: (_venue, _market, symbol, depth) => {
    const b = books.find((x) => x.instrument.symbol === symbol);
    return b && levelsOf(b, valid(b), depth);
  },
  metricsText: () => "",
  readiness: () => ({
    books: books.map((b) => summarize(b, valid(b))),
    // GONE: no attempt scheduled (the adapters' 0); LATER: asked for again at a known time.
    unresolved: [
      { venue: "okx", market: "spot", symbol: "GONE", reason: "resolving", nextAttemptMs: 0 },
      { venue: "okx", market: "spot", symbol: "LATER", reason: "not_listed", nextAttemptMs: T0_US / 1000 },
    ],
    // A connection before its first attempt (down since no time: downSinceMs 0) and one down since a known time.
    connections: [
      { venue: "okx", connection: "conn0", market: "spot", url: "ws://127.0.0.1:9/a", up: false, lastError: "", downSinceMs: 0 },
      { venue: "okx", connection: "conn1", market: "spot", url: "ws://127.0.0.1:9/b", up: false, lastError: "ECONNREFUSED: refused", downSinceMs: Date.now() - 5000 },
    ],
    workersDown: [],
  }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

/** What each book's times must be, by symbol: [tsExchangeUs, tsEventUs, tsRecvUs, has an age]. */
const WANT: Record<string, [number | null, number | null, number | null, boolean]> = {
  OKX: [T0_US, null, T0_US + 250, true],
  SPOTREST: [null, null, T0_US + 500, true],
  DEEP: [T0_US, null, T0_US + 750, true],
  AWAIT: [null, null, null, false],
  GONE: [null, null, null, false],
  LATER: [null, null, null, false],
};
/** nextAttemptMs of the symbols without a book: null when none is scheduled (it was 0: from now, -56 years). */
const NEXT_ATTEMPT: Record<string, number | null> = { GONE: null, LATER: T0_US / 1000 };

type Times = { symbol: string; tsExchangeUs: unknown; tsEventUs: unknown; tsRecvUs: unknown; recvAgeUs: unknown; nextAttemptMs?: unknown };
function expectTimes(b: Times, where: string): void {
  const [exchangeUs, eventUs, recvUs, aged] = WANT[b.symbol]!;
  if (b.symbol in NEXT_ATTEMPT) expect(b.nextAttemptMs, `${where} ${b.symbol}: nextAttemptMs`).toBe(NEXT_ATTEMPT[b.symbol]);
  expect([b.tsExchangeUs, b.tsEventUs, b.tsRecvUs], `${where} ${b.symbol}`).toEqual([exchangeUs, eventUs, recvUs]);
  if (aged) expect(b.recvAgeUs, `${where} ${b.symbol}: age`).toEqual(expect.any(Number));
  else expect(b.recvAgeUs, `${where} ${b.symbol}: never updated, no age`).toBeNull();
}

describe("HTTP: a time the venue did not send is null", () => {
  let http: HttpServerHandle;
  beforeAll(() => {
    http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  });
  afterAll(async () => {
    await http?.stop();
  });
  const get = async (path: string, msgpack = false): Promise<unknown> => {
    const r = await fetch(`${http.url}${path}`, msgpack ? { headers: { accept: "application/msgpack" } } : {});
    expect(r.status, path).toBe(200);
    return msgpack ? unpack(new Uint8Array(await r.arrayBuffer())) : r.json();
  };

  test("/books and /status (whole and books=N), JSON and MessagePack", async () => {
    for (const msgpack of [false, true]) {
      const where = msgpack ? "msgpack" : "json";
      const list = (await get("/books", msgpack)) as Times[];
      expect(list.map((b) => b.symbol)).toEqual(Object.keys(WANT));
      for (const b of list) expectTimes(b, `/books ${where}`);
      for (const path of ["/status", "/status?books=10"]) {
        const status = (await get(path, msgpack)) as { books: Times[] };
        expect(status.books.length, path).toBe(6);
        for (const b of status.books) expectTimes(b, `${path} ${where}`);
      }
    }
  });

  test("/readyz venue_down: downForMs null for a connection not yet attempted (before: 0, 'just went down'), the time down otherwise", async () => {
    for (const msgpack of [false, true]) {
      const r = await fetch(`${http.url}/readyz`, msgpack ? { headers: { accept: "application/msgpack" } } : {});
      expect(r.status).toBe(503);
      const body = (msgpack ? unpack(new Uint8Array(await r.arrayBuffer())) : await r.json()) as { reasons: { check: string; connection?: string; downForMs?: unknown }[] };
      const down = body.reasons.filter((x) => x.check === "venue_down").map((x) => [x.connection, x.downForMs]);
      expect(down).toEqual([["conn0", null], ["conn1", expect.any(Number)]]);
      expect(down[1]![1]).toBeGreaterThanOrEqual(5000);
    }
  });

  test("/books/{…}: a small book and a deep one formatted a chunk at a time", async () => {
    for (const msgpack of [false, true]) {
      for (const symbol of ["OKX", "AWAIT", "DEEP"]) expectTimes((await get(`/books/okx/spot/${symbol}`, msgpack)) as Times, msgpack ? "msgpack" : "json");
    }
  });
});
