/**
 * A/B of the publisher's send path: FeedPublisher as of ac3eaab~1 (before the partial-sendMany resend) against the
 * current one, in ONE process, alternating rounds, medians. The old file is taken from git at run time and its
 * relative imports pointed at this checkout's src/ (only feed-publisher.ts and multicast.ts differ).
 * Cases: multicast, ~5 datagrams per flush (64 deltas) and ~66 per flush (two sendMany calls: 64 + short);
 * unicast to 2 receivers (both up). Receivers: node:dgram sockets in a child process (8 MiB buffers), loopback,
 * TTL 1, groups and ports of this process (bench/e2e-common.ts loopbackDestination). Then heap growth without GC over many flushes (allocation per datagram).
 *   npx bun bench/experiments/send-ab/send-ab.ts [rounds]
 * SEND_AB_OLD=<rev> compares with another revision's feed-publisher.ts (e.g. 5c10efd, before send-batch.ts).
 */
import { heapStats } from "bun:jsc";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { FeedPublisher } from "../../../src/net/feed-publisher.ts";
import type { DestinationConfig } from "../../../src/config/types.ts";
import { delta, instrument, match, median, publishCfg, view } from "./fixture.ts";
import { loopbackDestination } from "../../e2e-common.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const OLD_REV = process.env.SEND_AB_OLD ?? "ac3eaab~1"; // another revision to compare with: SEND_AB_OLD=<rev>
const OLD_DIR = `/tmp/send-ab-old-${process.pid}`;
mkdirSync(OLD_DIR, { recursive: true });
for (const f of ["feed-publisher.ts", "multicast.ts"]) {
  const text = execFileSync("git", ["-C", ROOT, "show", `${OLD_REV}:src/net/${f}`], { encoding: "utf8" })
    .replaceAll(`from "../`, `from "${ROOT}src/`)
    .replaceAll(/from "\.\/(?!multicast)/g, `from "${ROOT}src/net/`);
  writeFileSync(`${OLD_DIR}/${f}`, text);
}
const OldPublisher = (await import(`${OLD_DIR}/feed-publisher.ts`)).FeedPublisher as typeof FeedPublisher;

const ROUNDS = Number(process.argv[2] ?? 15);

// Receivers: two groups (old/new) and two unicast ports, drained by a child.
// Per process, outside the test files' ranges: a run beside the suite (or another run) shares no group or port.
const G_OLD = loopbackDestination(1).group, G_NEW = loopbackDestination(2).group, MPORT = loopbackDestination(0).port;
const U1 = loopbackDestination(3).port, U2 = loopbackDestination(4).port;
const receiverCode = `
const dgram = require("node:dgram"); let n = 0;
function m(g){ const s = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 << 20 }); s.on("message", () => n++); s.bind({ port: ${MPORT}, address: g }, () => s.addMembership(g, "127.0.0.1")); }
function u(p){ const s = dgram.createSocket({ type: "udp4", recvBufferSize: 8 << 20 }); s.on("message", () => n++); s.bind({ port: p, address: "127.0.0.1" }); }
m("${G_OLD}"); m("${G_NEW}"); u(${U1}); u(${U2});
setTimeout(() => console.log("ready"), 200);
process.stdin.on("data", () => { console.log(String(n)); process.exit(0); });`;
const child = Bun.spawn([process.execPath, "-e", receiverCode], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const reader = child.stdout.getReader();
async function line(): Promise<string> {
  let s = "";
  while (!s.includes("\n")) { const { value, done } = await reader.read(); if (done) break; s += new TextDecoder().decode(value); }
  return s.trim();
}
await line();

const mc = (group: string, ch: number): DestinationConfig => ({ name: `m${ch}`, group, port: MPORT, iface: "127.0.0.1", ttl: 1, channelId: ch, match });
const uc = (ch: number, second = U2): DestinationConfig => ({ name: `u${ch}`, port: 0, receivers: [{ host: "127.0.0.1", port: U1 }, { host: "127.0.0.1", port: second }], iface: "127.0.0.1", ttl: 1, channelId: ch, match });
const DOWN = loopbackDestination(5).port; // nothing bound: every datagram to it bounces (ICMP port unreachable)

type Pub = InstanceType<typeof FeedPublisher>;
async function make(Ctor: typeof FeedPublisher, dest: DestinationConfig): Promise<{ pub: Pub; h: number }> {
  const pub = new Ctor(publishCfg(dest));
  await pub.start();
  const h = pub.register(instrument, view);
  pub.flush();
  return { pub, h };
}
function step(p: { pub: Pub; h: number }, deltas: number): void {
  for (let i = 0; i < deltas; i++) p.pub.publishDelta(p.h, view, delta);
  p.pub.flush();
}

async function ab(name: string, oldP: { pub: Pub; h: number }, newP: { pub: Pub; h: number }, deltas: number, iters: number) {
  const o: number[] = [], n: number[] = [];
  for (let w = 0; w < 200; w++) { step(oldP, deltas); step(newP, deltas); }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [p, out] of (r & 1 ? [[newP, n], [oldP, o]] : [[oldP, o], [newP, n]]) as [typeof oldP, number[]][]) {
      const t = Bun.nanoseconds();
      for (let i = 0; i < iters; i++) step(p, deltas);
      out.push((Bun.nanoseconds() - t) / (iters * deltas));
    }
    await Bun.sleep(1); // let the receiver drain
  }
  const dgOld = oldP.pub.counters.datagrams / oldP.pub.counters.messages, dgNew = newP.pub.counters.datagrams / newP.pub.counters.messages;
  console.log(`${name.padEnd(44)} old ${median(o).toFixed(1)} ns/msg  new ${median(n).toFixed(1)} ns/msg  new/old ${(median(n) / median(o)).toFixed(3)}  (rounds ${ROUNDS}; datagrams/msg ${dgOld.toFixed(3)} / ${dgNew.toFixed(3)}; sendErrors ${oldP.pub.counters.sendErrors}/${newP.pub.counters.sendErrors})`);
}

const mOld = await make(OldPublisher, mc(G_OLD, 1)), mNew = await make(FeedPublisher, mc(G_NEW, 2));
const uOld = await make(OldPublisher, uc(3)), uNew = await make(FeedPublisher, uc(4));
await ab("multicast, 64 deltas/flush (~5 datagrams)", mOld, mNew, 64, 300);
await ab("multicast, 900 deltas/flush (~66 datagrams)", mOld, mNew, 900, 25);
await ab("unicast ×2 receivers, 64 deltas/flush", uOld, uNew, 64, 300);
// The failure the resend is for: one of the two receivers down. Old: the batch stopped at the first pending error
// (the good receiver lost most datagrams); new: every datagram to the good one sent, at two sendMany calls each.
const dOld = await make(OldPublisher, uc(5, DOWN)), dNew = await make(FeedPublisher, uc(6, DOWN));
await ab("unicast, 2nd receiver down, 64 deltas/flush", dOld, dNew, 64, 100);

// Allocation in steady state: growth of the JS heap's capacity with no GC in between (heapSize does not see garbage
// on Bun 1.4.5; heapCapacity does: the control below).
for (const [name, p] of [["multicast new", mNew], ["unicast new", uNew], ["multicast old", mOld], ["unicast, one receiver down, new", dNew]] as const) {
  Bun.gc(true);
  const d0 = p.pub.counters.datagrams;
  const h0 = heapStats().heapCapacity;
  for (let i = 0; i < 20_000; i++) step(p, 64);
  const h1 = heapStats().heapCapacity;
  const dg = p.pub.counters.datagrams - d0;
  console.log(`heap capacity growth, ${name}: ${h1 - h0} B over ${dg} datagrams (${((h1 - h0) / dg).toFixed(3)} B/datagram)`);
}
// Control: the same measurement sees 1 small object kept per flush (the method is sensitive to allocation).
{
  Bun.gc(true);
  let garbage: object | undefined;
  const h0 = heapStats().heapCapacity;
  for (let i = 0; i < 20_000; i++) (step(mNew, 64), (garbage = { i, flush: garbage === undefined }));
  console.log(`heap growth, control (multicast new + one small object of garbage per flush): ${heapStats().heapCapacity - h0} B over 20000 flushes`);
}
for (const p of [mOld, mNew, uOld, uNew, dOld, dNew]) await p.pub.stop();
child.stdin.write("count\n");
child.stdin.flush();
console.log(`receiver counted ${await line()} datagrams`);
