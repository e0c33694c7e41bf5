/**
 * What one status-page poll (/status?books=500) costs this process with 20,000 books, answered from its rows
 * (Feeder.statusRows: a pass over the books' states, then only the rows summarized) and, side by side in the same
 * process, from every book's summary (the same source without statusRows: the route's path before). CPU time of the
 * process per poll (server and the in-process client alike; the client's share is the same both ways: the same body),
 * and the summaries made per poll. Books: LIVE but `notLive` of them (resyncing), the other states' cost alike.
 *   npx bun bench/status-rows.ts [BOOKS] [NOT_LIVE]   (run it in a loopback-only network namespace: unshare -n)
 * Not a *.bench.ts (not smoke-run by the suite): a measurement for docs/operations.md § HTTP.
 */
import { Feeder } from "../src/app/feeder.ts";
import { startHttpServer, type StatusSource } from "../src/app/http-server.ts";
import { localStatusSource } from "../src/app/runtime.ts";
import { validateConfig } from "../src/config/load.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../src/core/types.ts";
import type { BookBuilder } from "../src/book/book-builder.ts";
import { loopbackDestination } from "./e2e-common.ts";

const BOOKS = Number(process.argv[2] ?? 20_000);
const NOT_LIVE = Number(process.argv[3] ?? 200);
const POLLS = 40;

const symbols = Array.from({ length: BOOKS }, (_, i) => `S${i}USDT`);
// Never started, so nothing is sent; a destination of its own all the same (bench-smoke: no fixed group or port).
const { group, port } = loopbackDestination(77);
const config = validateConfig({
  log: { level: "error", format: "json" },
  http: { enabled: false },
  publish: { destinations: [{ name: "b", group, port, interface: "127.0.0.1", ttl: 1 }] },
  venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", linear: { depth: 50, symbols } } },
});
const feeder = new Feeder({ config, log: silentLogger });
// Its pipelines attached by hand (never started: no venue is connected), as test/app/readyz-summary.test.ts does.
const inside = feeder as unknown as { createPipelines(): void; pipelines: { adapter: Record<string, unknown>; builders: BookBuilder[]; attach(i: Instrument[]): void }[] };
inside.createPipelines();
const p = inside.pipelines[0]!;
p.adapter.connections = () => [];
p.adapter.unresolvedInstruments = undefined;
p.adapter.countUnresolved = undefined;
p.attach(symbols.map((symbol) => ({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" })));
const u = new BookUpdate();
u.isSnapshot = true;
u.venueSeq = 1;
u.tsRecvUs = Date.now() * 1000;
for (let l = 0; l < 50; l++) u.pushBid(10_000_000 - l, 1000), u.pushAsk(10_000_001 + l, 1000);
const every = Math.max(1, Math.floor(BOOKS / Math.max(1, NOT_LIVE)));
p.builders.forEach((b, i) => {
  b.applySnapshot(u);
  if (NOT_LIVE > 0 && i % every === 0 && i / every < NOT_LIVE) b.markInvalid(BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
});

const rows = localStatusSource(feeder);
const whole: StatusSource = { ...rows, statusRows: undefined };
let summaries = 0;
const pipeline = p as unknown as { summaryOf(i: number): unknown };
const summaryOf = pipeline.summaryOf.bind(pipeline);
pipeline.summaryOf = (i) => (summaries++, summaryOf(i));

async function perPoll(source: StatusSource): Promise<{ cpuMs: number; wallMs: number; summaries: number; bytes: number }> {
  const http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, source, silentLogger);
  let bytes = 0;
  const poll = async () => (bytes = (await (await fetch(`${http.url}/status?books=500`)).arrayBuffer()).byteLength);
  for (let i = 0; i < 5; i++) await poll(); // warm-up (JIT)
  summaries = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < POLLS; i++) await poll();
  const wallMs = (performance.now() - t0) / POLLS;
  const used = process.cpuUsage(cpu);
  await http.stop();
  return { cpuMs: (used.user + used.system) / 1000 / POLLS, wallMs, summaries: summaries / POLLS, bytes };
}

const live = p.builders.filter((b) => b.state === BookState.LIVE).length;
console.log(`/status?books=500, ${BOOKS} books (${BOOKS - live} not live), ${POLLS} polls each, one at a time`);
for (const [name, source] of [["every book summarized (before)", whole], ["its rows summarized (statusRows)", rows], ["every book summarized (before)", whole], ["its rows summarized (statusRows)", rows]] as const) {
  const r = await perPoll(source);
  console.log(`${name.padEnd(34)} cpu ${r.cpuMs.toFixed(2)} ms/poll  wall ${r.wallMs.toFixed(2)} ms/poll  summaries ${r.summaries}/poll  body ${r.bytes} B`);
}
await feeder.stop();
