/**
 * A deep book's copy is reserved against the bound on held copies (book-stream.ts MAX_HELD_LEVEL_BYTES) before it is
 * asked for, at the size of its last whole copy. A book that grew since is not copied past that reservation: the
 * source (a worker, or the pipeline in-process: book-json.ts levelsWithin) answers CopyRefused with its size, and HTTP
 * asks once more at that size if it fits, else 503 naming the book and the sizes. Until 2026-12-07 the copy came at
 * the size it is now, so a burst for a book grown k-fold held k times the bound. The bound is made small here by
 * holding all but ROOM of it (holdCopies), as deep bodies being read would.
 * Also: a thrown value with no string form is still described in the handler's error line (errorText).
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { levelsWithin, summarize, type BookCounts } from "../../src/app/book-json.ts";
import { heldLevelBytesNow, holdCopies, levelBytes, MAX_HELD_LEVEL_BYTES } from "../../src/app/book-stream.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startHttpServer, type BookAnswer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { errorText } from "../../src/core/error-text.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { captureLog } from "../support/capture-log.ts";
import { until } from "../support/until.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { join } from "node:path";
import { localStatusSource } from "../../src/app/runtime.ts";
import { guardedStatusSource, type PublishGuard } from "../../src/app/publish-guard.ts";
import { captureStatusSource } from "../../src/app/capture-health.ts";
import type { Feeder } from "../../src/app/feeder.ts";

const NO_COUNTS: BookCounts = { gaps: 0, invalidations: 0 };
const CONFIG = { enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined };
const NO_LATENCY = { receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} };

/** Book GROW with a snapshot of `levelsPerSide` levels a side (again: its levels replaced). */
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
function growing(levelsPerSide: number): BookBuilder {
  const b = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", "GROW"), venue: "bybit", market: "linear", symbol: "GROW", priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" });
  return fill(b, levelsPerSide);
}

/** A source of book GROW that copies as Feeder.bookLevels does (levelsWithin), noting the bytes of each copy made. */
function sourceOf(b: BookBuilder, made: number[]): StatusSource {
  return {
    book: (_v, _m, symbol, depth, maxBytes) => {
      if (symbol !== "GROW") return undefined;
      const copy = levelsWithin(b, b.state === BookState.LIVE, depth, NO_COUNTS, maxBytes ?? Infinity);
      if ("bidPx" in copy) made.push(levelBytes(copy));
      return copy;
    },
    metricsText: () => "",
    readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
    latency: () => NO_LATENCY,
  };
}

/** Sends `path` on `s` and resolves with the response's status once its head came; the body is then not read. */
function status(s: Socket, path: string): Promise<number> {
  return new Promise((resolve) => {
    let data = "";
    s.setEncoding("latin1");
    const onData = (d: string) => {
      data += d;
      if (!data.includes("\r\n\r\n")) return;
      s.off("data", onData);
      s.pause(); // a client that stops reading: a body streamed holds its copy
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)![1]));
    };
    s.on("data", onData);
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await until(() => heldLevelBytesNow() === 0, "every copy and reservation released");
});
/** Holds all of the bound but `roomBytes`, as deep bodies being read would; released after the test. */
function leaveRoom(roomBytes: number): () => void {
  const release = holdCopies(MAX_HELD_LEVEL_BYTES - roomBytes);
  cleanups.push(release);
  return release;
}
function serve(source: StatusSource, log = silentLogger): HttpServerHandle {
  const h = startHttpServer(CONFIG, source, log);
  cleanups.push(() => h.stop());
  return h;
}

describe("a deep book that grew since its last copy (2026-12-07)", { timeout: 60_000 }, () => {
  test("answered later (workers): a burst for a book grown 4-fold never has more copies made at once than the room left", async () => {
    // Before: the 21 requests admitted at its last size (48,000 B) were all asked for and each copy came at 192,000 B:
    // 4 MB made at once with 1 MiB of room.
    const ROOM = 2 ** 20;
    leaveRoom(ROOM);
    const b = growing(1500);
    const made: number[] = [];
    const direct = sourceOf(b, made);
    const waiting: (() => void)[] = [];
    const later: StatusSource = { ...direct, book: (...args) => new Promise<BookAnswer | undefined>((resolve) => waiting.push(() => resolve(direct.book(...args)))) };
    const h = serve(later);
    const first = fetch(`${h.url}/books/bybit/linear/GROW`);
    await until(() => waiting.length === 1, "its first copy asked for");
    waiting.splice(0)[0]!();
    expect(((await (await first).json()) as { bids: unknown[] }).bids).toHaveLength(1500);
    await until(() => heldLevelBytesNow() === MAX_HELD_LEVEL_BYTES - ROOM, "its first body released");
    fill(b, 6000);
    const grownBytes = 6000 * 2 * 16;
    const n = 30;
    const sockets = await Promise.all(Array.from({ length: n }, () => connectTo(h.port)));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const statuses: number[] = [];
    for (const s of sockets) void status(s, "/books/bybit/linear/GROW").then((st) => statuses.push(st));
    for (let round = 0; statuses.length < n; round++) {
      expect(round, "rounds of asks").toBeLessThan(4);
      await until(() => statuses.length + waiting.length === n, () => `each answered or asked for (${statuses.length} answered, ${waiting.length} asked)`);
      if (waiting.length === 0) break;
      expect(heldLevelBytesNow(), "held and reserved").toBeLessThanOrEqual(MAX_HELD_LEVEL_BYTES);
      made.length = 0;
      const servedBefore = statuses.filter((st) => st === 200).length;
      for (const answer of waiting.splice(0)) answer();
      const madeNow = made.reduce((a, x) => a + x, 0);
      // The copies made now, beside those of bodies served before (left unread: each may still hold its copy).
      expect(madeNow + servedBefore * grownBytes, `round ${round}: copies made ${made.join(" ")}`).toBeLessThanOrEqual(ROOM);
    }
    const served = statuses.filter((st) => st === 200).length;
    expect([...new Set(statuses)].sort(), "statuses").toEqual([200, 503]);
    expect(served * grownBytes, `${served} served`).toBeLessThanOrEqual(ROOM);
  });

  test("in-process: grown past the room, 503 naming the book and sizes, nothing copied; with room, asked again at its size and served", async () => {
    // Before: the whole 192,000 B copy was made (with 100,000 B of room) and only then refused.
    const b = growing(1500);
    const made: number[] = [];
    const h = serve(sourceOf(b, made));
    let release = leaveRoom(100_000);
    const first = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(((await first.json()) as { bids: unknown[] }).bids).toHaveLength(1500);
    expect(made).toEqual([48_000]);
    fill(b, 6000);
    made.length = 0;
    const refused = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect([refused.status, refused.headers.get("retry-after")]).toEqual([503, "1"]);
    const { error } = (await refused.json()) as { error: string };
    expect(error).toContain("book bybit/linear/GROW: its copy is 192000 B, more than the 48000 B reserved for it");
    expect(made, "copies made").toEqual([]);
    // Room for it: reserved at the size it was refused at, served.
    release();
    release = leaveRoom(2 ** 20);
    const again = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(((await again.json()) as { bids: unknown[] }).bids).toHaveLength(6000);
    expect(made).toEqual([192_000]);
    // Grown again with room for it: refused at the old reservation, asked once more at its size, served.
    fill(b, 12_000);
    made.length = 0;
    const grownAgain = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(((await grownAgain.json()) as { bids: unknown[] }).bids).toHaveLength(12_000);
    expect(made).toEqual([384_000]);
  });
  test("grown again between its refusal and its second ask: 503 saying so, its size noted, the next request served", async () => {
    const b = growing(1500);
    const made: number[] = [];
    const direct = sourceOf(b, made);
    let growAfter = -1; // grown to 12,000 levels a side right after the answer with this index
    let answers = 0;
    const h = serve({ ...direct, book: (...args) => {
      const answer = direct.book(...args);
      if (answers++ === growAfter) fill(b, 12_000);
      return answer;
    } });
    leaveRoom(2 ** 20);
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW`)).json()) as { bids: unknown[] }).bids).toHaveLength(1500);
    fill(b, 6000);
    growAfter = answers; // refused at 48,000 B, then grown before it is asked again at 192,000 B
    made.length = 0;
    const refused = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect([refused.status, refused.headers.get("retry-after")]).toEqual([503, "1"]);
    const { error } = (await refused.json()) as { error: string };
    expect(error).toContain("book bybit/linear/GROW: its copy is 384000 B, more than the 192000 B reserved for it (its size when asked for before: it grew again meanwhile); not asked for a third time");
    expect(made, "copies made").toEqual([]);
    const next = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(((await next.json()) as { bids: unknown[] }).bids).toHaveLength(12_000);
    expect(made).toEqual([384_000]);
  });

  test("a depth copy's refusal notes the size it gave: the next request at that depth is asked for once, at that size", async () => {
    // Before (2026-12-07): only whole copies noted a size, so every depth=3000 request of the grown book was refused at
    // 48,000 B and asked again at 96,000 B.
    const b = growing(1500);
    const asked: (number | undefined)[] = [];
    const direct = sourceOf(b, []);
    const h = serve({ ...direct, book: (...args) => (asked.push(args[4]), direct.book(...args)) });
    leaveRoom(2 ** 20);
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW`)).json()) as { bids: unknown[] }).bids).toHaveLength(1500);
    fill(b, 6000);
    for (const want of [[48_000, 96_000], [96_000], [96_000]]) {
      asked.length = 0;
      expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW?depth=3000`)).json()) as { bids: unknown[] }).bids).toHaveLength(3000);
      expect(asked, "bytes reserved for each ask").toEqual(want);
    }
  });

  test("a depth copy with fewer levels a side than asked is the whole book: its size is noted, the next whole copy reserved at it", async () => {
    // Before (2026-12-07): the 192,000 B of the book's last whole copy stayed noted after it shrank to 48,000 B, and with
    // 100,000 B of room a whole copy was refused (503) though it fits.
    const b = growing(6000);
    const h = serve(sourceOf(b, []));
    const release = leaveRoom(2 ** 20);
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW`)).json()) as { bids: unknown[] }).bids).toHaveLength(6000);
    fill(b, 1500);
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW?depth=3000`)).json()) as { bids: unknown[] }).bids).toHaveLength(1500);
    release();
    leaveRoom(100_000);
    const whole = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(whole.status).toBe(200);
    expect(((await whole.json()) as { bids: unknown[] }).bids).toHaveLength(1500);
  });

  test("a depth copy with fewer levels than asked on one side only is not the whole book: the next whole copy is reserved at its last whole size", async () => {
    // Bids 6,000 levels, asks 10: depth=3000 copies 3,010 levels, less than the book. Taken as the whole book (either
    // side short), it would reserve the next whole copy at 48,160 B: refused, and asked again at 96,160 B.
    const b = growing(1);
    const u = new BookUpdate();
    u.isSnapshot = true;
    u.venueSeq = 1;
    for (let l = 0; l < 6000; l++) u.pushBid(100_000_000 - l, 1000 + l);
    for (let l = 0; l < 10; l++) u.pushAsk(100_000_001 + l, 1000 + l);
    b.applySnapshot(u);
    const asked: (number | undefined)[] = [];
    const direct = sourceOf(b, []);
    const h = serve({ ...direct, book: (...args) => (asked.push(args[4]), direct.book(...args)) });
    leaveRoom(2 ** 20);
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW`)).json()) as { bids: unknown[] }).bids).toHaveLength(6000);
    const shallow = (await (await fetch(`${h.url}/books/bybit/linear/GROW?depth=3000`)).json()) as { bids: unknown[]; asks: unknown[] };
    expect([shallow.bids.length, shallow.asks.length]).toEqual([3000, 10]);
    asked.length = 0;
    expect(((await (await fetch(`${h.url}/books/bybit/linear/GROW`)).json()) as { bids: unknown[] }).bids).toHaveLength(6000);
    expect(asked, "bytes reserved for each ask of the whole copy").toEqual([6010 * 16]);
  });

  test("never copied whole, bigger than the room left: 503 saying the room left was reserved (its size not known), not that it grew", async () => {
    // Before: "(it grew since its last copy)" for a book never copied.
    const h = serve(sourceOf(growing(6000), []));
    leaveRoom(100_000);
    const refused = await fetch(`${h.url}/books/bybit/linear/GROW`);
    expect(refused.status).toBe(503);
    const { error } = (await refused.json()) as { error: string };
    expect(error).toContain("book bybit/linear/GROW: its copy is 192000 B, more than the 100000 B reserved for it (the room left: its size was not known);");
    expect(error).not.toContain("grew");
  });
});

test("in-process (workers = 1, feeder record): the bytes reserved reach Feeder.bookLevels through every wrapper", async () => {
  // Each wrapper's maxBytes is optional: one that drops it type-checks, and the pipeline then copies unbounded.
  const asked: unknown[][] = [];
  const feeder = { bookLevels: (...args: unknown[]) => void asked.push(args) } as unknown as Feeder;
  const source = captureStatusSource(guardedStatusSource(localStatusSource(feeder), {} as PublishGuard), () => undefined);
  await source.book("bybit", "linear", "GROW", 0, 48_000);
  await source.book("bybit", "linear", "GROW", 5, undefined);
  expect(asked).toEqual([["bybit", "linear", "GROW", 0, 48_000], ["bybit", "linear", "GROW", 5, undefined]]);
});

test("a worker makes no copy bigger than the bytes asked with: it answers the copy's size instead", { timeout: 60_000 }, async () => {
  // Before: the worker ignored them and posted the whole copy, whatever HTTP had reserved for it.
  const { log } = captureLog();
  const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 811, messagesPerSecond: 0 });
  cleanups.push(() => bybit.stop());
  const { group, port } = uniqueDestination(811);
  const config = validateConfig({
    workers: 1,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "grow", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: join(tempDir("feeder-grow-"), "instruments.json"), linear: { depth: 50, symbols: ["BTCUSDT"] } } },
  });
  const supervisor = new Supervisor(config, log);
  cleanups.push(() => supervisor.stop());
  await supervisor.start();
  let whole: BookAnswer | undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    whole = await supervisor.book("bybit", "linear", "BTCUSDT", 0);
    if (whole !== undefined && "valid" in whole && whole.valid && whole.bidPx.length > 0) break;
    await Bun.sleep(20);
  }
  expect(whole !== undefined && "bidPx" in whole && whole.valid, "BTCUSDT live").toBe(true);
  const bytes = levelBytes(whole as Parameters<typeof levelBytes>[0]);
  expect(await supervisor.book("bybit", "linear", "BTCUSDT", 0, 16)).toEqual({ copyRefused: bytes, maxBytes: 16 });
  const within = await supervisor.book("bybit", "linear", "BTCUSDT", 0, bytes);
  expect(within !== undefined && "bidPx" in within && levelBytes(within)).toBe(bytes);
});

describe("a handler's throw with no string form (2026-12-07)", () => {
  test("errorText never throws", () => {
    const badToString = { toString: () => { throw new Error("no"); } };
    const proxy = new Proxy({}, { getPrototypeOf: () => { throw new Error("no"); }, get: () => { throw new Error("no"); } });
    expect(errorText(Object.create(null))).toBe("a thrown [object Object] with no string form");
    expect(errorText(badToString)).toBe("a thrown [object Object] with no string form");
    expect(typeof errorText(proxy)).toBe("string");
    expect([errorText(new Error("x")), errorText("y"), errorText(7)]).toEqual(["x", "y", "7"]);
  });

  test("a /books body that fails part-way with such a throw: its error line names it (before: the handler threw)", async () => {
    const lines: { level: string; msg: string; error?: string }[] = [];
    const log = createLogger({ level: "debug", format: "json", write: (line) => lines.push(JSON.parse(line)) });
    // More books than one turn formats (LIST_ITEMS_PER_TURN): streamed; the last one fails when formatted.
    const one = summarize(growing(1), true, NO_COUNTS);
    const books = Array.from({ length: 600 }, () => ({ ...one }));
    Object.assign(books[599]!, { toJSON: () => { throw Object.create(null); } });
    const h = serve({ ...sourceOf(growing(1), []), readiness: () => ({ books, unresolved: [], connections: [], workersDown: [] }) }, log);
    const r = await fetch(`${h.url}/books`);
    expect(r.status).toBe(200); // sent before the failing chunk was formatted
    await expect(r.text()).rejects.toThrow();
    await until(() => lines.some((l) => l.msg === "HTTP body failed"), "the failure logged");
    expect(lines.filter((l) => l.msg === "HTTP body failed").map((l) => l.error)).toEqual(["a thrown [object Object] with no string form"]);
  });

  for (const [what, thrown] of [["Object.create(null)", () => Object.create(null)], ["a toString that throws", () => ({ toString: () => { throw new Error("no"); } })]] as const) {
    test(`${what}: 500 and the handler's error line naming the request (before: the catch threw, Bun's "HTTP server error")`, async () => {
      const lines: { level: string; msg: string; detail?: string }[] = [];
      const log = createLogger({ level: "debug", format: "json", write: (line) => lines.push(JSON.parse(line)) });
      const h = serve({ ...sourceOf(growing(1), []), book: () => { throw thrown(); } }, log);
      const r = await fetch(`${h.url}/books/bybit/linear/GROW`);
      expect([r.status, await r.json()]).toEqual([500, { error: "internal error" }]);
      const errors = lines.filter((l) => l.level === "error").map((l) => [l.msg, l.detail]);
      expect(errors).toEqual([["HTTP handler failed", `GET ${h.url}/books/bybit/linear/GROW: a thrown [object Object] with no string form`]]);
    });
  }
});
