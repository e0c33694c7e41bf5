/**
 * Unicast destinations (issue #14): the publisher's cost per receiver. One 6-level delta per flush, 16 flushes per
 * timed call (16 datagrams), sent to a multicast group (the baseline: one send whatever the number of
 * subscribers) and to unicast destinations of 1, 2, 4, 8 and 16 receivers (sendMany of [data, port, address]
 * triples, one per receiver). Receivers are Bun UDP sockets on 127.0.0.1 that only count (they cannot read during
 * the synchronous timed loop, so delivery is checked afterwards with 200 paced flushes). Reported: µs per flush
 * and per datagram per receiver.
 *   unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/unicast.bench.ts'   # ~20 s
 */
import { ChangeSet } from "../src/core/change-set.ts";
import type { DestinationConfig, PublishConfig } from "../src/config/types.ts";
import { FeedPublisher } from "../src/net/feed-publisher.ts";
import { makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../test/wire/helpers.ts";
import { allocationControl, measureAllocation } from "./alloc-meter.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { measure, printTable, QUICK, SMOKE } from "./harness.ts";

const T0 = 1_764_000_000_000_000;
const FLUSHES_PER_CALL = 16;

async function receivers(n: number): Promise<{ ports: number[]; received: () => number; close: () => void }> {
  let count = 0;
  const sockets = await Promise.all(
    Array.from({ length: n }, () =>
      Bun.udpSocket({
        hostname: "127.0.0.1",
        port: 0, // any free port: a fixed one can be taken (test/bench-smoke runs beside other test files)
        binaryType: "uint8array",
        socket: {
          data() {
            count++;
          },
        },
      }),
    ),
  );
  return { ports: sockets.map((s) => s.port), received: () => count, close: () => sockets.forEach((s) => s.close()) };
}

async function run(label: string, dest: DestinationConfig, expectedReceivers: number, got: () => number): Promise<Record<string, unknown>> {
  const publish: PublishConfig = { maxDatagramBytes: 1400, heartbeatIntervalMs: 0, snapshotIntervalMs: 0, snapshotDepth: 0, destinations: [dest] };
  const pub = new FeedPublisher({ publish });
  await pub.start();
  const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const s = randomBookSides(rng(1), 50, 300_000);
  book.load(s.bids, s.asks, 1, T0);
  const h = pub.register(book.instrument, book);
  pub.flush();
  const cs = new ChangeSet();
  randomChanges(rng(2), book, cs, 6, 300_000);
  const m = measure(
    label,
    () => {
      for (let i = 0; i < FLUSHES_PER_CALL; i++) {
        pub.publishDelta(h, book, cs);
        pub.flush();
      }
    },
    { opsPerCall: FLUSHES_PER_CALL, durationMs: QUICK ? 500 : 1500 },
  );
  // Allocation per flush (bench/alloc-meter.ts: new heap cells counted; the control row below shows the meter sees them).
  const alloc = measureAllocation(0, SMOKE ? 2_000 : 20_000, () => {
    pub.publishDelta(h, book, cs);
    pub.flush();
  });
  // Delivery check, paced so the receivers (same process) can read: every receiver gets every datagram.
  await Bun.sleep(200);
  const before = got();
  for (let i = 0; i < 200; i++) {
    pub.publishDelta(h, book, cs);
    pub.flush();
    if (i % 10 === 9) await Bun.sleep(1);
  }
  await Bun.sleep(100);
  const row = {
    ...m,
    receivers: expectedReceivers,
    usPerDatagramPerReceiver: m.nsPerOp / 1000 / Math.max(1, expectedReceivers),
    sendErrors: pub.counters.sendErrors,
    paced200Received: got() - before,
    cellsPerFlush: alloc.cellsPerStep.toFixed(3),
  };
  await pub.stop();
  return row;
}

const rows: Record<string, unknown>[] = [];
const match = { venue: "*", market: "*", symbols: ["*"] };
rows.push(await run("multicast group (no local member)", { name: "m", ...loopbackDestination(40), iface: "127.0.0.1", ttl: 1, channelId: 1, match }, 1, () => 0));
for (const n of SMOKE ? [1, 2] : [1, 2, 4, 8, 16]) {
  const rx = await receivers(n);
  const dest: DestinationConfig = { name: "u", port: 0, receivers: rx.ports.map((port) => ({ host: "127.0.0.1", port })), iface: "127.0.0.1", ttl: 1, channelId: 1, match };
  rows.push(await run(`unicast, ${n} receiver${n > 1 ? "s" : ""}`, dest, n, rx.received));
  rx.close();
}
console.log("\nPublisher cost per flush of one 6-level delta (nsPerOp = per flush); usPerDatagramPerReceiver = that / receivers");
printTable(rows);
console.log(`cellsPerFlush: new heap cells per flush (bench/alloc-meter.ts); its control, a 32 B object per step: ${allocationControl(SMOKE ? 2_000 : 20_000).cellsPerStep.toFixed(3)}`);
console.log("paced200Received: of 200 paced flushes, datagrams the receivers counted (200 × receivers when none is lost)");
process.exit(0);
