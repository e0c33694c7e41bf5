/**
 * Retransmission (issue #14; docs/wire-protocol.md §11), two parts:
 * 1. The live path with and without the ring: publishDelta + flush of one 6-level delta per datagram to a real
 *    loopback multicast socket, the ring copy included, in interleaved rounds; what each allocates per datagram
 *    (bench/alloc-meter.ts) over 200k flushes, with its control row.
 * 2. Recovery on loopback with seeded loss (0.1 %, 1 %, bursts of 20 datagrams): the time from the loss (the
 *    dropped datagram's send) until every book of the stream is usable again, with retransmission against waiting
 *    for the refresh (snapshot_interval_ms 1000 here; the default 5000 makes the refresh wait 5× longer), and the
 *    bytes each costs. Publisher and subscriber share this process; 5000 datagrams/s over 4 books. What was
 *    recovered is checked (bench/retransmit-check.ts): a row whose books differed from the publisher's, or in which
 *    none could be compared, gives no times, and the bench exits 1.
 * Interface 127.0.0.1, TTL 1, a new group and port per run (e2e-common loopbackDestination).
 *   unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/retransmit.bench.ts'   # ~60 s (BENCH_QUICK=1: ~20 s)
 */
import { ChangeSet } from "../src/core/change-set.ts";
import type { PublishConfig, RetransmitConfig } from "../src/config/types.ts";
import { FeedPublisher } from "../src/net/feed-publisher.ts";
import { FeedSubscriber } from "../src/subscriber/index.ts";
import { makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../test/wire/helpers.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { PublishedLevels, recoveryCells } from "./retransmit-check.ts";
import { measureRounds, median, printTable, QUICK, SMOKE } from "./harness.ts";

const RUN_MS = Number(process.env.RETX_BENCH_MS ?? (SMOKE ? 400 : QUICK ? 2500 : 8000));
/** Flushes metered for allocation, each side. */
const HEAP_FLUSHES = SMOKE ? 2_000 : 200_000;
const REFRESH_MS = 1000;
const DATAGRAMS_PER_SEC = 5000;
const T0 = 1_764_000_000_000_000;
/** instrSeqs per book whose levels are kept to compare a recovered book with. */
const HISTORY_EVENTS = 4096;
/** Each publisher its own destination (the last one made is the subscriber's). */
let destSeed = 12;
let dest = loopbackDestination(destSeed);

const RETX: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: 8 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 10_000, bytesPerSec: 1 << 28, totalBytesPerSec: 1 << 28 };

function config(retransmit: boolean, snapshotIntervalMs: number): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 100,
    snapshotIntervalMs,
    snapshotDepth: 0,
    destinations: [{ name: "b", ...(dest = loopbackDestination(destSeed++)), iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } }],
    retransmit: retransmit ? RETX : undefined,
  };
}

function books(n: number, seed: number): TestBook[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const b = new TestBook(makeInstrument("bybit", "linear", `SYM${i}USDT`, 1, 3));
    const s = randomBookSides(r, 50, 300_000);
    b.load(s.bids, s.asks, 1, T0);
    return b;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// 1. live path

async function livePath(): Promise<void> {
  // Both publishers open side by side and measured in interleaved rounds (no ring, ring, no ring, …): measured one
  // after the other, the first paid the process's warm-up and a slow phase of the VM decided the sign.
  const sides = await Promise.all(
    [false, true].map(async (withRing) => {
      const pub = new FeedPublisher({ publish: config(withRing, 0) });
      await pub.start();
      const [book] = books(1, 1);
      const h = pub.register(book!.instrument, book!);
      pub.flush();
      const cs = new ChangeSet();
      randomChanges(rng(2), book!, cs, 6, 300_000); // one change set, republished: the loop is publish + flush (+ ring) only
      const send = () => {
        pub.publishDelta(h, book!, cs);
        pub.flush();
      };
      return { withRing, pub, send };
    }),
  );
  const { rows: ms, perRound } = measureRounds(
    sides.map((s) => ({ name: s.withRing ? "publishDelta + flush, with ring" : "publishDelta + flush, no ring", fn: s.send, opts: {} })),
    { rounds: QUICK ? 3 : 7, roundMs: QUICK ? 150 : 300 },
  );
  const allocation = sides.map((s) => allocationRow(s.withRing ? "publishDelta + flush, with ring" : "publishDelta + flush, no ring", measureAllocation(0, HEAP_FLUSHES, s.send)));
  allocation.push(allocationRow("control: a 32 B object per step", allocationControl(HEAP_FLUSHES)));
  const rows = sides.map((s, i) => ({
    ...ms[i]!,
    datagramBytes: Math.round(s.pub.counters.bytes / Math.max(1, s.pub.counters.datagrams)),
  }));
  for (const s of sides) await s.pub.stop();
  console.log("\n1. live path: one 6-level delta per datagram (sendMany of 1), real loopback multicast socket; medians of interleaved rounds");
  printTable(rows);
  console.log("allocation per datagram (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k)");
  printTable(allocation);
  const diffNs = median(perRound.map(([a, b]) => b!.nsPerOp - a!.nsPerOp));
  const ratio = median(perRound.map(([a, b]) => b!.nsPerOp / a!.nsPerOp));
  console.log(`ring overhead: ${(diffNs / 1000).toFixed(3)} µs per datagram (${((ratio - 1) * 100).toFixed(1)} %), median of the per-round differences`);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. recovery

interface Loss {
  name: string;
  make: (seed: number) => () => boolean;
}

const LOSSES: Loss[] = [
  { name: "0.1 %", make: (seed) => ((r) => () => r() < 0.001)(rng(seed)) },
  { name: "1 %", make: (seed) => ((r) => () => r() < 0.01)(rng(seed)) },
  {
    name: "bursts of 20 (0.05 % start)",
    make: (seed) => {
      const r = rng(seed);
      let left = 0;
      return () => {
        if (left > 0) {
          left--;
          return true;
        }
        if (r() < 0.0005) {
          left = 19;
          return true;
        }
        return false;
      };
    },
  },
];

async function recovery(loss: Loss, withRetransmit: boolean): Promise<Record<string, unknown>> {
  const drop = loss.make(17);
  const drops: { seq: number; atMs: number }[] = []; // pending: not yet recovered
  const times: number[] = [];
  let started = false;
  const pub = new FeedPublisher({
    publish: config(withRetransmit, REFRESH_MS),
    dropFilter: (_c, seq, bytes) => {
      if (!started || bytes.length <= 48 || !drop()) return false; // heartbeats are never dropped
      drops.push({ seq, atMs: performance.now() });
      return true;
    },
  });
  await pub.start();
  const addr = pub.retransmitAddress();
  const sub = new FeedSubscriber({
    groups: [{ ...dest, iface: "127.0.0.1" }],
    staleAfterMs: 0,
    retransmit: addr !== undefined ? { host: addr.host, port: addr.port } : undefined,
  });
  await sub.start();
  const bs = books(4, 3);
  const handles = bs.map((b) => pub.register(b.instrument, b));
  bs.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
  pub.flush();
  await Bun.sleep(50);
  const ids = bs.map((b) => b.instrument.instrumentId);
  const allUsable = () => ids.every((id) => sub.book(id)?.usable === true);
  // Each book's levels at its last HISTORY_EVENTS instrSeqs (~3 s at 1250 events/s a book), to compare what the
  // subscriber recovered with.
  const published = new PublishedLevels(bs, HISTORY_EVENTS);
  const compareAll = (when: string) => bs.forEach((b, i) => published.compare(i, b.instrument.symbol, sub.book(ids[i]!), when));
  sub.on("update", () => {
    if (drops.length === 0 || !allUsable()) return;
    const next = sub.streamInfo()[0]!.nextSeq;
    const now = performance.now();
    const before = times.length;
    while (drops.length > 0 && drops[0]!.seq < next) times.push(now - drops.shift()!.atMs);
    if (times.length > before) compareAll("at a recovery"); // after the time is taken: the check is not timed
  });
  started = true;
  const r = rng(5);
  const cs = new ChangeSet();
  const begin = performance.now();
  let e = 0;
  const liveBytes0 = pub.counters.bytes;
  while (performance.now() - begin < RUN_MS) {
    const due = Math.floor(((performance.now() - begin) * DATAGRAMS_PER_SEC) / 1000); // paced by the clock
    for (; e < due; e++) {
      const k = e % bs.length;
      randomChanges(r, bs[k]!, cs, 6, 300_000);
      published.changes(k, cs, (px) => bs[k]!.bids.get(px), (px) => bs[k]!.asks.get(px));
      bs[k]!.apply(cs, 10 + e, T0 + e);
      published.record(k, bs[k]!.instrSeq);
      pub.publishDelta(handles[k]!, bs[k]!, cs);
      pub.flush(); // one datagram per delta: DATAGRAMS_PER_SEC datagrams/s
    }
    await Bun.sleep(1);
  }
  await Bun.sleep(REFRESH_MS * 1.5); // the last losses recover (or are counted as not recovered)
  // Every book usable at the end is the publisher's (a refresh snapshot since a wrong recovery would hide it: the
  // checks at each recovery are what catch that).
  bs.forEach((b, i) => {
    if (sub.book(ids[i]!)?.usable === true) published.compare(i, b.instrument.symbol, sub.book(ids[i]!), "at the end");
  });
  const sorted = times.slice().sort((a, b) => a - b);
  const rc = pub.retransmitCounters;
  const row = {
    loss: loss.name,
    mode: withRetransmit ? "retransmit" : "refresh only",
    lostDatagrams: pub.counters.droppedOnPurpose,
    recoveries: times.length,
    notRecovered: drops.length,
    ...recoveryCells(sorted, published),
    booksEqual: published.verdict(),
    booksCompared: published.compared,
    booksTooOldToCompare: published.unchecked,
    liveKB: Math.round((pub.counters.bytes - liveBytes0) / 1024),
    retxKB: rc === undefined ? 0 : Math.round((rc.bytes + sub.counters.retransmitRequests * 48) / 1024),
    retxPctOfLive: rc === undefined ? 0 : (100 * (rc.bytes + sub.counters.retransmitRequests * 48)) / (pub.counters.bytes - liveBytes0),
    requests: sub.counters.retransmitRequests,
    fallbacks: sub.counters.retransmitFallbacks,
    gaps: sub.counters.gaps,
  };
  await sub.stop();
  await pub.stop();
  differ.push(...published.differ.slice(0, 5).map((d) => `${loss.name}, ${row.mode}: ${d}`));
  return row;
}
/** What differed, across runs (the first few of each). */
const differ: string[] = [];

await livePath();
const rows: Record<string, unknown>[] = [];
for (const loss of SMOKE ? LOSSES.slice(1, 2) : LOSSES) for (const withRetransmit of [true, false]) rows.push(await recovery(loss, withRetransmit));
console.log(
  `\n2. loss → every book of the stream usable again (ms), ${DATAGRAMS_PER_SEC} datagrams/s over 4 books for ${RUN_MS} ms, refresh every ${REFRESH_MS} ms; bytes: live vs retransmitted + requests`,
);
printTable(rows);
if (rows.some((r) => r.booksEqual !== "yes")) {
  console.log(`recovered books equal the publisher's: NO, recovery times withheld (${differ.join("; ")})`);
  process.exit(1);
}
console.log("recovered books equal the publisher's: yes (every usable book's levels, in order, against the publisher's at the same instrSeq, at each recovery and at the end: booksCompared)");
process.exit(0);
