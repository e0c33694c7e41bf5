/**
 * A Coinbase full-depth book of LEVELS levels a side (default 100,000; BTC-USD, whose tick leaves room for them),
 * its simulator in another process (test/support/sim-child.ts), one Feeder (only that venue) and a FeedSubscriber
 * on 127.0.0.1: timing marks from start to the book LIVE at the feeder and usable at the subscriber, then the
 * event loop's stalls (a 10 ms timer's lateness) for SECONDS more. Profile with
 *   ./node_modules/.bin/bun --cpu-prof-md --cpu-prof-dir=/tmp/prof bench/experiments/bigbook.ts
 * Env: LEVELS, SECONDS (default 5), RATE (the simulator's messages/s, default 20).
 * @module
 */
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { Logger } from "../../src/core/log.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSim } from "../../test/support/sim-child.ts";

const LEVELS = Number(process.env.LEVELS ?? 100_000);
const SECONDS = Number(process.env.SECONDS ?? 5);
const RATE = Number(process.env.RATE ?? 20);
const t0 = performance.now();
const ms = () => (performance.now() - t0).toFixed(0);
const mark = (what: string) => console.log(`${ms().padStart(6)} ms  ${what}`);

// Timing marks: each wrapped method's calls, total and longest CPU time (over 5 ms: listed with when and the levels).
import { BookBuilder } from "../../src/book/book-builder.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { PublisherRecovery } from "../../src/net/publisher-recovery.ts";
import { PublishChannel } from "../../src/net/publish-channel.ts";
import { CoinbaseScanner } from "../../src/venues/coinbase/scanner.ts";
import { loopbackDestination } from "../e2e-common.ts";
const timings = new Map<string, { calls: number; totalMs: number; maxMs: number; long: string[] }>();
function time(proto: object, name: string, label: string, info?: (args: unknown[]) => string): void {
  const p = proto as Record<string, (...a: unknown[]) => unknown>;
  const orig = p[name]!;
  const t = { calls: 0, totalMs: 0, maxMs: 0, long: [] as string[] };
  timings.set(label, t);
  p[name] = function (this: unknown, ...args: unknown[]) {
    // CPU time (getrusage), not wall time: on a loaded machine the wall time of one call includes preemption.
    const a = performance.now();
    const c = process.cpuUsage();
    const r = orig.apply(this, args);
    const cu = process.cpuUsage(c);
    const d = (cu.user + cu.system) / 1000;
    t.calls++;
    t.totalMs += d;
    if (d > t.maxMs) t.maxMs = d;
    if (d > 5) t.long.push(`${(a - t0).toFixed(0)}:${d.toFixed(0)}${info ? `(${info(args)})` : ""}`);
    return r;
  };
}
const lv = (a: unknown[]) => { const u = a[0] as { bidCount: number; askCount: number }; return `${u.bidCount}+${u.askCount}`; };
time(CoinbaseScanner.prototype, "scan", "scan (frame → events)", (a) => `${(a[0] as string).length} B`);
time(BookBuilder.prototype, "applySnapshot", "applySnapshot", lv);
time(BookBuilder.prototype, "applyDelta", "applyDelta", lv);
time(FeedPublisher.prototype, "publishDelta", "publishDelta (encode)", (a) => { const c = a[2] as { bidCount: number; askCount: number }; return `${c.bidCount}+${c.askCount}`; });
time(FeedPublisher.prototype, "publishSnapshot", "publishSnapshot (encode)");
time(PublisherRecovery.prototype, "refreshBook", "refreshBook (encode)");
time(PublishChannel.prototype, "flush", "channel flush (seal + send)");
time(FeedSubscriber.prototype, "onSocketMessage", "subscriber datagram");

const sim = await spawnSim({ venue: "coinbase", symbols: ["BTC-USD"], levels: LEVELS, rate: RATE, seed: 16 });
mark(`simulator listening (levels ${LEVELS} a side, ${RATE} msg/s)`);
// Per process, outside the test files' ranges (a run beside the suite or another run shares no group).
const { group, port } = loopbackDestination(77);
const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], maxLevelsPerSide: 250_000, maxAssemblyLevels: 2_000_000 });
await subscriber.start();
const log: Logger = { debug: () => undefined, info: (m) => mark(`log: ${m}`), warn: (m) => mark(`warn: ${m}`), error: (m) => mark(`error: ${m}`), child: () => log };
const config = validateConfig({
  workers: 1,
  log: { level: "info", format: "json" },
  http: { enabled: false, listen: "127.0.0.1:0" },
  publish: { snapshot_interval_ms: 1000, startup_listen_ms: 0, destinations: [{ name: "big", group, port, interface: "127.0.0.1", ttl: 1, channel: 5 }] },
  venues: { coinbase: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(mkdtempSync(join(tmpdir(), "bigbook-")), "i.json"), spot: { symbols: ["BTC-USD"] } } },
});
const feeder = new Feeder({ config, log });
const id = instrumentIdOf("coinbase", "spot", "BTC-USD");

// The loop's stalls: a 10 ms timer's lateness above 50 ms, with when it happened.
const stalls: string[] = [];
let last = performance.now();
const lag = setInterval(() => {
  const now = performance.now();
  if (now - last > 60) stalls.push(`${(now - t0 - (now - last)).toFixed(0)}+${(now - last).toFixed(0)}`);
  last = now;
}, 10);

const started = performance.now();
const cpu0 = process.cpuUsage();
await feeder.start();
mark("feeder started");
let feederLive = false;
let subUsable = false;
const deadline = performance.now() + 120_000;
while (performance.now() < deadline && !(feederLive && subUsable)) {
  await new Promise((r) => setTimeout(r, 5));
  const f = feeder.bookSummaries().find((b) => b.symbol === "BTC-USD");
  if (!feederLive && f?.state === "live") {
    feederLive = true;
    const c = process.cpuUsage(cpu0);
    mark(`feeder book LIVE (${(performance.now() - started).toFixed(0)} ms after start, process CPU ${((c.user + c.system) / 1000).toFixed(0)} ms; ${f.bidLevels}/${f.askLevels})`);
  }
  const b = subscriber.books.get(id);
  if (!subUsable && b?.usable) {
    subUsable = true;
    const c = process.cpuUsage(cpu0);
    mark(`subscriber book usable: ${b.bidCount} bids, ${b.askCount} asks (process CPU ${((c.user + c.system) / 1000).toFixed(0)} ms)`);
  }
}
if (!(feederLive && subUsable)) mark(`NOT LIVE within 120 s: feeder ${feederLive}, subscriber ${subUsable}`);
mark(`stalls until now (at ms + stall ms): ${stalls.splice(0).join(" ")}`);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const b = subscriber.books.get(id);
mark(`after ${SECONDS} s: subscriber ${b?.usable ? "usable" : "NOT usable"} ${b?.bidCount}/${b?.askCount}; stalls: ${stalls.join(" ")}`);
mark(`metrics: ${JSON.stringify(feeder.bookSummaries())}`);
clearInterval(lag);
const cpu = process.cpuUsage(cpu0);
console.log(`process CPU time from feeder start: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)})`);
for (const [k, t] of timings) console.log(`${k.padEnd(30)} calls ${t.calls}, total ${t.totalMs.toFixed(0)} ms, max ${t.maxMs.toFixed(1)} ms; > 5 ms (at:ms(levels)): ${t.long.slice(0, 12).join(" ")}`);
await feeder.stop();
await subscriber.stop();
await sim.stop();
process.exit(0);
