/**
 * The HTTP answers' shared turn queue (book-stream.ts formattingTurn) and the copies deep bodies hold, with real
 * clients on 127.0.0.1. The queue is filled here with turns of its own, standing for the chunks of deep bodies in
 * progress (one entry per body being read, each a chunk of ~1 ms): events are counted, not timed.
 * - /readyz (a load balancer's health check, often with a 1 s timeout) waits for no chunk: before, it waited
 *   behind every chunk and answer queued (200 readers of a 5,000-level book: /readyz took up to 1.1 s).
 * - A request whose client went away while it waited reads and formats nothing (one that only half-closed, as a
 *   probe piped to nc does, is still answered).
 * - A deep body that fails part-way releases its copy (before, it stayed counted for ever) and is logged. (A /readyz
 *   body is small since 2026-12-06, made in one piece: each rule's count and first reasons, readiness.ts.)
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { levelsOf, summarize } from "../../src/app/book-json.ts";
import { formattingTurn, heldLevelBytesNow } from "../../src/app/book-stream.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { summaryOfInput } from "../../src/app/readiness.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger } from "../../src/core/log.ts";
import { waitFor } from "../e2e/harness.ts";

function book(symbol: string, levelsPerSide: number): BookBuilder {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" });
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

const deep = book("DEEP", 10_000);
/** Reads of the pipeline's numbers, by route. */
const reads = { readiness: 0, book: 0 };
/** Filler turns resolved when the pipeline was read (readiness). */
let fillerDoneAtRead = -1;
let fillerDone = 0;
/** When set, the book's copy has an unsafe mantissa past its first chunk (formatting it throws). */
let corrupt = false;

const source: StatusSource = {
  book: (_venue, _market, symbol, depth) => {
    reads.book++;
    if (symbol !== "DEEP") return undefined;
    const levels = levelsOf(deep, true, depth);
    if (corrupt) levels.askPx[5_000] = 2 ** 60;
    return levels;
  },
  metricsText: () => "",
  readiness: (_turn, signal) => {
    reads.readiness++;
    readAsCheck.push(`readiness${signal instanceof AbortSignal ? "+signal" : ""}`);
    fillerDoneAtRead = fillerDone;
    return { books: [summarize(deep, true)], unresolved: [], connections: [], workersDown: [] };
  },
  readyz: () => {
    reads.readiness++;
    readAsCheck.push("readyz");
    fillerDoneAtRead = fillerDone;
    return summaryOfInput({ books: [summarize(deep, true)], unresolved: [], connections: [], workersDown: [] });
  },
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

const logs: string[] = [];
let http: HttpServerHandle;
beforeAll(() => {
  const log = createLogger({ level: "info", format: "json", write: (line) => logs.push(line) });
  http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, log);
});
afterAll(async () => {
  await http?.stop();
});

/** Queues `n` turns (as n chunks in progress would) and resolves when all have had theirs. */
function fill(n: number): Promise<void> {
  fillerDone = 0;
  return Promise.all(Array.from({ length: n }, () => formattingTurn().then(() => void fillerDone++))).then(() => undefined);
}

const FILLER = 50_000;

/**
 * How each readiness read was asked: /readyz's summary (shared by every /readyz waiting: no request's signal), or the
 * whole lists with the request's signal (a worker stops collecting for a client gone).
 */
const readAsCheck: string[] = [];

describe("the HTTP turn queue", { timeout: 120_000 }, () => {
  test("/readyz is answered ahead of the chunks and answers waiting for their turn", async () => {
    reads.readiness = 0;
    const filler = fill(FILLER);
    const r = await fetch(`${http.url}/readyz`);
    expect(r.status).toBe(200);
    expect(reads.readiness).toBe(1);
    expect(fillerDoneAtRead, `filler turns before /readyz was answered (of ${FILLER})`).toBeLessThan(FILLER / 2);
    await filler;
  });

  test("/readyz reads its source's summary (shared: no request's signal), /books and /status the whole lists with their signal", async () => {
    readAsCheck.length = 0;
    for (const path of ["/readyz", "/books", "/status"]) await (await fetch(`${http.url}${path}`)).arrayBuffer();
    expect(readAsCheck).toEqual(["readyz", "readiness+signal", "readiness+signal"]);
  });

  test("a request whose client went away while it waited reads nothing", async () => {
    for (const path of ["/status", "/books/bybit/linear/DEEP?depth=10"]) {
      reads.readiness = 0;
      reads.book = 0;
      const filler = fill(FILLER);
      const s = connect(http.port, "127.0.0.1");
      await new Promise((resolve) => s.on("connect", resolve));
      await new Promise((resolve) => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, resolve));
      s.destroy(); // the client gives up while its request waits behind the filler
      // Half the filler's turns later the server has long read the request (and the close) and queued it; a
      // turn queued now comes after the request's.
      await waitFor(() => fillerDone >= FILLER / 2, "half the filler");
      await formattingTurn();
      await filler;
      expect(reads, path).toEqual({ readiness: 0, book: 0 });
    }
  });

  test("a client that half-closes after its request (a probe piped to nc) is still answered", async () => {
    for (const path of ["/readyz", "/status", "/books/bybit/linear/DEEP?depth=10"]) {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(http.port, "127.0.0.1", () => s.end(`GET ${path} HTTP/1.0\r\n\r\n`));
        let data = "";
        s.setEncoding("latin1");
        s.on("data", (d: string) => (data += d));
        s.on("close", () => resolve(data));
        s.on("error", reject);
      });
      expect(answer.split("\r\n")[0], path).toBe("HTTP/1.1 200 OK");
    }
  });

  test("a deep body that fails part-way releases its copy and is logged; the next one is served", async () => {
    corrupt = true;
    try {
      const r = await fetch(`${http.url}/books/bybit/linear/DEEP`);
      expect(r.status).toBe(200); // sent before the failing chunk was formatted
      await expect(r.text()).rejects.toThrow();
    } finally {
      corrupt = false;
    }
    await waitFor(() => heldLevelBytesNow() === 0, "the failed body's copy released");
    await waitFor(() => logs.some((l) => l.includes("HTTP book body failed") && l.includes("not a safe integer")), "the failure logged");
    const whole = (await (await fetch(`${http.url}/books/bybit/linear/DEEP`)).json()) as { bids: unknown[]; asks: unknown[] };
    expect([whole.bids.length, whole.asks.length]).toEqual([10_000, 10_000]);
    expect(heldLevelBytesNow()).toBe(0);
  });

  test("HEAD of a deep book holds no copy afterwards", async () => {
    const r = await fetch(`${http.url}/books/bybit/linear/DEEP`, { method: "HEAD" });
    expect(r.status).toBe(200);
    await waitFor(() => heldLevelBytesNow() === 0, "HEAD's copy released");
  });
});
