/**
 * What HTTP requests cost the thread they share with the venue connections and the publisher (workers = 1), old
 * and new server side by side in one process (A/B; the old http-server.ts loaded from git, bench/experiments/
 * load-source.ts): clients in another process keep K requests of one route in flight, and a setImmediate loop in
 * this process measures the event-loop turns meanwhile: every frame and datagram of the other books waits behind
 * a turn. Per row: answers read in one turn at most (counted where the server reads the pipeline's numbers; the new
 * server reads many books 500 per turn, as the runtime's source does, each chunk counted), the
 * 99.9th percentile and longest turn, and the share of the time spent in turns of 2 ms or more. The VM is shared:
 * the time columns carry preemption; the count column does not.
 *   npx bun bench/http.bench.ts [OLD_REV]   (as root it re-runs itself in a private network namespace)
 */
import { BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState, type Instrument } from "../src/core/types.ts";
import { detailOf, levelsOf, summarize, type BookSummary } from "../src/app/book-json.ts";
import { bookBodyStream } from "../src/app/book-stream.ts";
import type * as HttpServer from "../src/app/http-server.ts";
import type { StatusSource } from "../src/app/http-server.ts";
import { collectInTurns, LIST_ITEMS_PER_TURN, type Turn } from "../src/app/list-stream.ts";
import { inPrivateNetns } from "./e2e-common.ts";
import { loadSource } from "./experiments/load-source.ts";
import { measure, printTable, QUICK, SMOKE } from "./harness.ts";

// Not again when already in a private namespace (test/bench-smoke's): a second unshare there only costs a process.
if (process.getuid?.() === 0 && process.env.FEEDER_BENCH_NETNS !== "1" && !inPrivateNetns()) {
  const p = Bun.spawnSync(["unshare", "-n", "sh", "-c", `ip link set lo up && FEEDER_BENCH_NETNS=1 "${process.execPath}" "${import.meta.path}" ${process.argv.slice(2).join(" ")}`], { stdout: "inherit", stderr: "inherit" });
  process.exit(p.exitCode ?? 1);
}

const WINDOW_MS = SMOKE ? 150 : QUICK ? 1500 : 4000;
/** The server before answers took a turn of their own each (the parent of that change). */
const OLD_REV = process.argv[2] ?? "5f221c9";

function book(symbol: string, levelsPerSide: number): BookBuilder {
  const i: Instrument = { instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" };
  const b = new BookBuilder(i);
  const u = new BookUpdate();
  u.isSnapshot = true;
  u.venueSeq = 1;
  for (let l = 0; l < levelsPerSide; l++) {
    u.pushBid(10_000_000 - 3 * l, 1000 + l);
    u.pushAsk(10_000_001 + 3 * l, 1000 + l);
  }
  b.applySnapshot(u);
  return b;
}

// 1,300 books (the load bench's count), 50 levels a side, plus one of 1,000 and one of 100,000 levels a side.
const books = Array.from({ length: 1300 }, (_, i) => book(`SYM${i}USDT`, 50));
books.push(book("DEEP1K", 1000), book("DEEP100K", 100_000));
/** The turn (of the monitor loop below) in which each answer read the pipeline's numbers. */
let turn = 0;
let readsInTurn = 0;
let maxReadsInTurn = 0;
function read(): void {
  readsInTurn++;
  if (readsInTurn > maxReadsInTurn) maxReadsInTurn = readsInTurn;
}
const summaryOf = (i: number) => summarize(books[i]!, books[i]!.state === BookState.LIVE);
/**
 * As the runtime's source (runtime.ts): with a turn (the new server), summarized LIST_ITEMS_PER_TURN per turn
 * (Feeder.bookSummariesInTurns), each chunk counted as a read of the pipeline; without (the old server), all at once.
 */
const summaries = (turn?: Turn): BookSummary[] | Promise<BookSummary[]> => {
  if (turn === undefined) return books.map((_, i) => summaryOf(i));
  return collectInTurns(books.length, (i) => {
    if (i % LIST_ITEMS_PER_TURN === 0) read();
    return summaryOf(i);
  }, turn);
};
// `books`: the old server's (OLD_REV) /books read it; the new one reads only `readiness`.
const source: StatusSource & { books: typeof summaries } = {
  books: summaries,
  book: (venue, market, symbol, depth) => {
    read();
    const b = books.find((x) => x.instrument.symbol === symbol && x.instrument.market === market && x.instrument.venue === venue);
    return b && levelsOf(b, b.state === BookState.LIVE, depth);
  },
  metricsText: () => "",
  readiness: (turn) => {
    const input = (list: BookSummary[]) => ({ books: list, unresolved: [], connections: [], workersDown: [] });
    if (turn === undefined) read(); // the old server's /status and /books read it once per answer
    const got = summaries(turn);
    return Array.isArray(got) ? input(got) : got.then(input);
  },
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};
const config = { enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined };
// The old side comes from git history: a checkout without it (a shallow clone, a source tarball) runs the new side
// alone and says so, rather than failing.
let oldSkipped = "";
const oldModule = await loadSource<typeof HttpServer>("src/app/http-server.ts", OLD_REV, "http-old").catch((err: unknown) => {
  oldSkipped = String(err instanceof Error ? err.message.split("\n")[0] : err);
  return undefined;
});
const sides = {
  old: oldModule?.startHttpServer(config, source, silentLogger),
  new: (await loadSource<typeof HttpServer>("src/app/http-server.ts", null, "http-new")).startHttpServer(config, source, silentLogger),
};

/** The client process: keeps `k` requests of `path` in flight for `ms`, reading every body; prints the count. */
const CLIENT = `
const [url, k, ms] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
console.log("ready");
let done = 0; let bytes = 0; const end = performance.now() + ms;
await Promise.all(Array.from({ length: k }, async () => {
  while (performance.now() < end) { const b = await (await fetch(url)).arrayBuffer(); bytes += b.byteLength; done++; }
}));
console.log(JSON.stringify({ done, bytes }));
`;
const clientFile = `${require("node:os").tmpdir()}/feeder-http-bench-client-${process.pid}.ts`;
await Bun.write(clientFile, CLIENT);

/** Turn lengths (ms) of a setImmediate loop while `run` is pending. */
async function turns(run: Promise<unknown>): Promise<number[]> {
  const gaps: number[] = [];
  let done = false;
  void run.finally(() => (done = true));
  let last = performance.now();
  maxReadsInTurn = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
      turn++;
      readsInTurn = 0;
      if (done) resolve();
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
  return gaps;
}

async function scenario(side: "old" | "new", name: string, path: string, k: number): Promise<Record<string, unknown>> {
  const url = `${sides[side]!.url}${path}`;
  const proc = Bun.spawn([process.execPath, clientFile, url, String(k), String(WINDOW_MS)], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const more = async (): Promise<boolean> => {
    const { done, value } = await reader.read();
    if (!done) text += decoder.decode(value, { stream: true });
    return !done;
  };
  // A smoke run's loop waits for the client to be up: it spins a CPU, and a client's start on a loaded box outlasts
  // its 150 ms window many times over. A real run times the turns from the spawn on, as it always did.
  while (SMOKE && !text.includes("\n")) if (!(await more())) throw new Error(`http client exited before it was ready: ${text}`);
  const out = (async () => {
    while (await more()) {}
    return text.trim().split("\n").at(-1)!;
  })();
  const gaps = await turns(proc.exited);
  const { done, bytes } = JSON.parse(await out) as { done: number; bytes: number };
  const total = gaps.reduce((a, b) => a + b, 0);
  const long = gaps.filter((g) => g >= 2).reduce((a, b) => a + b, 0);
  gaps.sort((a, b) => a - b);
  const q = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))]!.toFixed(2);
  return {
    scenario: `${name} [${side}]`,
    "in flight": k,
    "req/s": Math.round((done * 1000) / WINDOW_MS),
    "body KiB": done > 0 ? Math.round(bytes / done / 1024) : 0,
    "answers/turn max": maxReadsInTurn,
    "turn p99.9 ms": q(0.999),
    "turn max ms": gaps.at(-1)!.toFixed(1),
    "time in turns ≥ 2 ms": `${((100 * long) / total).toFixed(1)} %`,
  };
}

// What one answer costs in the turn it is made in (no HTTP): the most any turn does for HTTP now.
const deep1k = books.find((b) => b.instrument.symbol === "DEEP1K")!;
const deep100k = books.find((b) => b.instrument.symbol === "DEEP100K")!;
const chunk = async () => {
  const reader = bookBodyStream(levelsOf(deep100k, true, 1000 + 1000), false).getReader(); // 2 chunks of 2,000 levels
  await reader.read();
  await reader.cancel();
};
const held = books.slice(0, LIST_ITEMS_PER_TURN).map((b) => summarize(b, true));
console.log(`http bench: Bun ${Bun.version}; one answer, in process`);
printTable([
  measure("/status, /books: 1,302 summaries + JSON (one turn before list-stream.ts)", () => void JSON.stringify(books.map((b) => summarize(b, true))).length, { inner: 1, durationMs: 1500 }),
  measure(`a turn of many books now: ${LIST_ITEMS_PER_TURN} summaries`, () => void books.slice(0, LIST_ITEMS_PER_TURN).map((b) => summarize(b, true)).length, { inner: 1, durationMs: 1500 }),
  measure(`a turn of many books now: ${LIST_ITEMS_PER_TURN} summaries formatted (JSON)`, () => void JSON.stringify(held).length, { inner: 1, durationMs: 1500 }),
  measure("one book of 1,000 levels a side: copy + format + JSON", () => void JSON.stringify(detailOf(levelsOf(deep1k, true, 0))).length, { inner: 1, durationMs: 1500 }),
  measure("copy of 100,000 levels a side (levelsOf)", () => void levelsOf(deep100k, true, 0).bidPx.length, { inner: 1, durationMs: 1500 }),
]);
const chunkNs: number[] = [];
for (let i = 0; i < (SMOKE ? 3 : QUICK ? 50 : 200); i++) {
  const t0 = Bun.nanoseconds();
  await chunk();
  chunkNs.push(Bun.nanoseconds() - t0);
}
chunkNs.sort((a, b) => a - b);
console.log(`one streamed chunk (2,000 levels, JSON), incl. one turn's wait: p50 ${(chunkNs[chunkNs.length >> 1]! / 1e6).toFixed(2)} ms`);

console.log(`\nhttp bench: ${books.length} books; old = http-server.ts at ${OLD_REV}; clients in another process, ${WINDOW_MS} ms per row`);
if (oldSkipped) console.log(`old side skipped: ${OLD_REV} not readable from git here (${oldSkipped}); new side only`);
const rows: Record<string, unknown>[] = [];
const cases: [string, string, number][] = [
  ["/status (1,302 books)", "/status", 1],
  ["/status (1,302 books)", "/status", 16],
  ["/books/… 1,000 levels a side", "/books/bybit/linear/DEEP1K", 1],
  ["/books/… 1,000 levels a side", "/books/bybit/linear/DEEP1K", 16],
  // Smoke: 2 in flight (still concurrent answers), not 8 bodies of 4 MiB each way.
  ["/books/… 100,000 levels a side", "/books/bybit/linear/DEEP100K", SMOKE ? 2 : 8],
];
for (const [name, path, k] of SMOKE ? cases.filter(([, , k]) => k !== 16) : cases) for (const side of sides.old ? (["old", "new"] as const) : (["new"] as const)) rows.push(await scenario(side, name, path, k));
printTable(rows);
await sides.old?.stop();
await sides.new.stop();
await Bun.file(clientFile).delete();
