/**
 * A/B of the publisher's JS send path alone: FeedPublisher of a given revision (SEND_AB_OLD, default 5c10efd: before
 * send-batch.ts / publish-channel.ts) against the current one, in ONE process, alternating rounds, medians of the process's CPU time per message. Each
 * channel's socket is replaced by a stand-in whose sendMany takes everything and returns at once, so what is timed
 * is encode → seal (CRC-32) → stage → sendMany call → count, without the kernel's cost and its noise (send-ab.ts
 * times the same with real loopback sockets). Cases: multicast ~5 and ~66 datagrams per flush, unicast ×2, and
 * unicast ×2 with the second receiver down (a stand-in that stops sendMany as a bounce does: the resend path).
 * Then JS heap capacity growth without GC over 200k+ datagrams per case (allocation per datagram).
 *   npx bun bench/experiments/send-ab/split-ab.ts [rounds]
 */
import { heapStats } from "bun:jsc";
import type { FeedPublisher } from "../../../src/net/feed-publisher.ts";
import type { DestinationConfig } from "../../../src/config/types.ts";
import { loadSource } from "../load-source.ts";
import { delta, instrument, match, median, publishCfg, view } from "./fixture.ts";
import { loopbackDestination } from "../../e2e-common.ts";

const OLD_REV = process.env.SEND_AB_OLD ?? "5c10efd";
// Both sides loaded the same way (load-source.ts): the old revision's file from git, the current one from this checkout.
type PublisherModule = { FeedPublisher: typeof FeedPublisher };
const OldPublisher = (await loadSource<PublisherModule>("src/net/feed-publisher.ts", OLD_REV, "split-ab-old")).FeedPublisher;
const NewPublisher = (await loadSource<PublisherModule>("src/net/feed-publisher.ts", null, "split-ab-new")).FeedPublisher;

const ROUNDS = Number(process.argv[2] ?? 31);

// Destinations of this process, outside the test files' ranges (the sockets are stand-ins, but a config is a config).
const mc = (ch: number): DestinationConfig => ({ name: `m${ch}`, ...loopbackDestination(ch), iface: "127.0.0.1", ttl: 1, channelId: ch, match });
const uc = (ch: number, second = loopbackDestination(12).port): DestinationConfig => ({ name: `u${ch}`, port: 0, receivers: [{ host: "127.0.0.1", port: loopbackDestination(11).port }, { host: "127.0.0.1", port: second }], iface: "127.0.0.1", ttl: 1, channelId: ch, match });

type Pub = InstanceType<typeof FeedPublisher>;
const DOWN = loopbackDestination(19).port;
/**
 * A stand-in for a unicast socket with one receiver down, as Bun 1.4.5 behaves (send-batch.ts): a datagram to DOWN
 * goes out and leaves an error pending; the next send meets it and sendMany stops there (throws if it was first).
 */
function bouncingSocket() {
  let pending = false;
  return {
    sendMany(a: unknown[]) {
      let k = 0;
      for (; k < a.length / 3; k++) {
        if (pending) {
          pending = false;
          if (k === 0) throw new Error("ECONNREFUSED: connection refused");
          return k;
        }
        if (a[k * 3 + 1] === DOWN) pending = true;
      }
      return k;
    },
    close() {},
  };
}
async function make(Ctor: typeof FeedPublisher, dest: DestinationConfig, per: number, bouncing = false): Promise<{ pub: Pub; h: number }> {
  const pub = new Ctor(publishCfg(dest));
  await pub.start();
  const h = pub.register(instrument, view);
  pub.flush();
  // Stand-in socket: takes every datagram (nothing leaves the process), or bounces as above.
  for (const ch of (pub as unknown as { channels: { socket: unknown }[] }).channels) {
    const real = ch.socket as { close(): void };
    real.close();
    ch.socket = bouncing ? bouncingSocket() : { sendMany: (a: unknown[]) => a.length / per, close() {} };
  }
  return { pub, h };
}
function step(p: { pub: Pub; h: number }, deltas: number): void {
  for (let i = 0; i < deltas; i++) p.pub.publishDelta(p.h, view, delta);
  p.pub.flush();
}

function ab(name: string, oldP: { pub: Pub; h: number }, newP: { pub: Pub; h: number }, deltas: number, iters: number) {
  const o: number[] = [], n: number[] = [];
  for (let w = 0; w < 500; w++) { step(oldP, deltas); step(newP, deltas); }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [p, out] of (r & 1 ? [[newP, n], [oldP, o]] : [[oldP, o], [newP, n]]) as [typeof oldP, number[]][]) {
      // CPU time of this thread's process, not wall time: on the shared VM a round is often preempted.
      const t = process.cpuUsage();
      for (let i = 0; i < iters; i++) step(p, deltas);
      const d = process.cpuUsage(t);
      out.push(((d.user + d.system) * 1000) / (iters * deltas));
    }
  }
  const c = (p: Pub) => `${(p.counters.datagrams / p.counters.messages).toFixed(3)}${p.counters.sendErrors > 0 ? `, refused ${p.counters.sendErrors}` : ""}`;
  console.log(`${name.padEnd(40)} old ${median(o).toFixed(1)} ns/msg  new ${median(n).toFixed(1)} ns/msg  new/old ${(median(n) / median(o)).toFixed(3)}  (rounds ${ROUNDS}; datagrams/msg ${c(oldP.pub)} / ${c(newP.pub)})`);
}

// SPLIT_AB_NEW_FIRST=1 creates the current publishers first (to check that the order does not matter).
const NEW_FIRST = process.env.SPLIT_AB_NEW_FIRST === "1";
const pair = async (Old: typeof FeedPublisher, d1: DestinationConfig, d2: DestinationConfig, per: number, bouncing = false) => {
  if (!NEW_FIRST) return [await make(Old, d1, per, bouncing), await make(NewPublisher, d2, per, bouncing)] as const;
  const n = await make(NewPublisher, d2, per, bouncing);
  return [await make(Old, d1, per, bouncing), n] as const;
};
const [mOld, mNew] = await pair(OldPublisher, mc(1), mc(2), 1);
const [uOld, uNew] = await pair(OldPublisher, uc(3), uc(4), 3);
const [dOld, dNew] = await pair(OldPublisher, uc(5, DOWN), uc(6, DOWN), 3, true);
ab("multicast, 64 deltas/flush (~5 dgrams)", mOld, mNew, 64, 2000);
ab("multicast, 900 deltas/flush (~66 dgrams)", mOld, mNew, 900, 150);
ab("unicast x2, 64 deltas/flush", uOld, uNew, 64, 2000);
ab("unicast x2, 2nd down (resend), 64 d/flush", dOld, dNew, 64, 1000);

for (const [name, p] of [["multicast old", mOld], ["multicast new", mNew], ["unicast old", uOld], ["unicast new", uNew]] as const) {
  Bun.gc(true);
  const d0 = p.pub.counters.datagrams;
  const h0 = heapStats().heapCapacity;
  for (let i = 0; i < 40_000; i++) step(p, 64);
  const dg = p.pub.counters.datagrams - d0;
  const grown = heapStats().heapCapacity - h0;
  console.log(`heap capacity growth, ${name}: ${grown} B over ${dg} datagrams (${(grown / dg).toFixed(3)} B/datagram)`);
}
{
  // Control: the method sees one small object of garbage per flush.
  Bun.gc(true);
  let garbage: object | undefined;
  const h0 = heapStats().heapCapacity;
  for (let i = 0; i < 40_000; i++) (step(mNew, 64), (garbage = { i, flush: garbage === undefined }));
  console.log(`heap growth, control (one small object per flush): ${heapStats().heapCapacity - h0} B over 40000 flushes`);
}
for (const p of [mOld, mNew, uOld, uNew, dOld, dNew]) await p.pub.stop();
