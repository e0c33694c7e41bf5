/**
 * Entry bundled for Node by stall-timers.test.ts (Bun.build, target node) and run by the real `node` binary: the
 * subscriber under plain Node, whose event loop runs due timers before it reads the sockets, so the timer round that
 * runs first after a stall of the thread sees none of what arrived meanwhile. The test process is the publisher:
 * heartbeats to argv[2] (unicast 127.0.0.1) all along, and the retransmission server on argv[3]. Two stalls: one
 * while heartbeats queue (was: a 'stale' event), one while the retransmission answer queues (was: timed out, the
 * book invalid until a refresh). Each stall lasts STALL_MS and until the test has sent what is to queue (a heartbeat
 * sent after the stall began; the answer): files in argv[4] say so, read synchronously. The test process may itself
 * be held up on a loaded machine; before, a stall that ended before its heartbeat or answer was sent saw a real
 * silence. Prints one JSON line.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { bookFeed, RETX_TIMEOUT_MS, STALL_INSTRUMENT, STALL_MS, stallThread } from "./stall-feed.ts";
import { until } from "../support/until.ts";

const port = Number(process.argv[2]);
const retxPort = Number(process.argv[3]);
const marks = process.argv[4]!;

/**
 * stallThread(STALL_MS), then on until the test wrote `<name>.sent` (what is to queue has been sent): that datagram
 * waits in a socket buffer when the stall ends. `<name>.stalling` tells the test the stall began.
 */
function stallUntilSent(name: string): void {
  writeFileSync(join(marks, `${name}.stalling`), "");
  stallThread(STALL_MS);
  const deadline = Date.now() + 20_000;
  while (!existsSync(join(marks, `${name}.sent`))) {
    if (Date.now() > deadline) throw new Error(`the test never sent ${name}`);
  }
}

const sub = new FeedSubscriber({ groups: [{ port, bind: "127.0.0.1" }], retransmit: { host: "127.0.0.1", port: retxPort, timeoutMs: RETX_TIMEOUT_MS } });
let staleEvents = 0;
sub.on("stale", () => staleEvents++);
let judged = 0; // stale-check rounds that judged (the timer calls checkStale for those)
const checkStale = sub.checkStale.bind(sub);
sub.checkStale = (nowMs: number) => {
  judged++;
  checkStale(nowMs);
};
await sub.start();
await until(() => sub.counters.heartbeats >= 3 && judged >= 1, "heartbeats and a stale round", 20_000);

// 1. A stall in a timer callback while the publisher's heartbeats queue in the socket. Stale events are counted from
// here: one before would be the test process's own silence (held up on a loaded machine), not this stall's verdict.
const staleBeforeStall = staleEvents;
await new Promise<void>((resolve) =>
  setTimeout(() => {
    stallUntilSent("beat");
    resolve();
  }, 0),
);
const judgedAfter = judged;
await until(() => judged >= judgedAfter + 2, "two stale rounds judged after the stall", 20_000);
const staleAfterFirstStall = staleEvents - staleBeforeStall;

// 2. A gap asked for, then a stall while the answer queues in the request socket (the request goes out on the
// next tick: dgram resolves the address first; the stall follows it).
const { head, deltas } = bookFeed();
for (const d of head) sub.ingest(d);
sub.ingest(deltas[0]!);
sub.ingest(deltas[1]!); // the stream's line is established
sub.ingest(deltas[3]!); // deltas[2] lost: asked for
await new Promise<void>((resolve) =>
  process.nextTick(() =>
    process.nextTick(() => {
      stallUntilSent("answer"); // longer than timeoutMs
      resolve();
    }),
  ),
);
await until(() => sub.retransmitsPending === 0, "the request settled", 20_000);
const book = sub.book(STALL_INSTRUMENT.instrumentId);
console.log(
  JSON.stringify({
    runtime: typeof (globalThis as { Bun?: unknown }).Bun === "undefined" ? "node" : "bun",
    staleEvents: staleAfterFirstStall,
    retransmitTimeouts: sub.counters.retransmitTimeouts,
    retransmitRecovered: sub.counters.retransmitRecovered,
    gaps: sub.counters.gaps,
    usable: book?.usable ?? false,
    stalledRounds: sub.counters.stalledRounds,
  }),
);
await sub.stop();
process.exit(0);
