/**
 * What the publish guard's watcher (src/app/publish-guard.ts, src/net/stream-watcher.ts) costs the feeder's
 * process: it is joined to our own groups, so every datagram we send loops back to it and is read, checked and
 * dropped as ours. One process sends feeder-shaped datagrams (header of our own stream, 400 B) with sendMany(16)
 * per event-loop turn, as the publisher does, and the process CPU (user + system, the kernel's delivery to the
 * extra socket included) per datagram sent is compared with the watcher on and off, in interleaved rounds.
 * There is no other receiver, so "off" has no multicast member at all: the difference is the whole added cost.
 * Loopback only: interface 127.0.0.1, TTL 1, a per-run group (e2e-common loopbackDestination).
 *   unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/publish-guard.bench.ts'
 */
import { PublishGuard } from "../src/app/publish-guard.ts";
import { validateConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/core/log.ts";
import { openMulticastSender } from "../src/net/multicast.ts";
import { MAGIC, PKT_CHANNEL_ID_OFFSET, PKT_MAGIC_OFFSET, PKT_SESSION_ID_OFFSET, PKT_SOURCE_ID_OFFSET, PKT_VERSION_OFFSET, WIRE_VERSION } from "../src/wire/layout.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { printTable, SMOKE } from "./harness.ts";
import { type GuardRound, guardRounds, watcherCostLine } from "./publish-guard-cost.ts";

const { group: GROUP, port: PORT } = loopbackDestination(7);
const SESSION = 0x1234_5678;
const DGRAM_BYTES = 400;
const PER_TURN = 16;
const TURNS = Number(process.env.GUARD_TURNS ?? (SMOKE ? 50 : 4000));
const ROUNDS = guardRounds(process.env.GUARD_ROUNDS, SMOKE ? 1 : 5);
/** How long a round waits for datagrams its watcher has not read yet (a queue read in ms; only a loss waits it all). */
const UNREAD_WAIT_MS = 5_000;

// Only the publish section matters here: no venue (validateConfig refuses a config without one by default).
const config = validateConfig({ publish: { startup_listen_ms: 0, destinations: [{ group: GROUP, port: PORT, interface: "127.0.0.1", ttl: 1, channel: 1 }] } }, { requireVenue: false });
const socket = await openMulticastSender({ iface: "127.0.0.1", ttl: 1, connectTo: { group: GROUP, port: PORT } });
const batch: Uint8Array[] = [];
for (let i = 0; i < PER_TURN; i++) {
  const b = new Uint8Array(DGRAM_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint16(PKT_MAGIC_OFFSET, MAGIC, true);
  dv.setUint8(PKT_VERSION_OFFSET, WIRE_VERSION);
  dv.setUint16(PKT_CHANNEL_ID_OFFSET, 1, true);
  dv.setUint32(PKT_SESSION_ID_OFFSET, SESSION, true);
  dv.setUint16(PKT_SOURCE_ID_OFFSET, 0, true);
  batch.push(b);
}
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function round(withGuard: boolean, n = 0): Promise<GuardRound & { wallNsPerDgram: number; conflicts: number }> {
  let guard: PublishGuard | undefined;
  if (withGuard) {
    guard = new PublishGuard(config, silentLogger);
    guard.addOwnSession(0, SESSION);
    await guard.listenBeforePublishing();
    guard.startWatching();
  }
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let t = 0; t < TURNS; t++) {
    sent += socket.sendMany(batch);
    await nextTurn();
  }
  for (let i = 0; i < 20; i++) await nextTurn(); // let the watcher read what is still queued
  // A loaded box can leave some unread after those turns: wait for them (sleeping, not spinning) so the CPU taken
  // covers reading every one; those still unread at the bound (lost, not late: the wait ends at the last) make the
  // verdict NO.
  const until = performance.now() + UNREAD_WAIT_MS;
  while (guard !== undefined && guard.watcherDatagrams() < sent && performance.now() < until) await Bun.sleep(1);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const seen = guard?.watcherDatagrams() ?? 0;
  const conflicts = guard?.conflictsDetected ?? 0;
  await guard?.stop();
  return { round: n, withGuard, sent, seen, cpuNsPerDgram: ((cpu.user + cpu.system) * 1000) / sent, wallNsPerDgram: (wallMs * 1e6) / sent, conflicts };
}

await round(false); // warm-up
await round(true);
const measured: GuardRound[] = [];
const rows: Record<string, unknown>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const withGuard of r % 2 === 0 ? [false, true] : [true, false]) {
    const res = await round(withGuard, r + 1);
    measured.push(res);
    rows.push({ round: r + 1, watcher: withGuard ? "on" : "off", "CPU ns/datagram": Math.round(res.cpuNsPerDgram), "wall ns/datagram": Math.round(res.wallNsPerDgram), sent: res.sent, "watcher saw": withGuard ? res.seen : "–", conflicts: res.conflicts });
  }
}
socket.close();
printTable(rows);
console.log(watcherCostLine(measured, `\n${TURNS * PER_TURN} datagrams of ${DGRAM_BYTES} B per round (sendMany ×${PER_TURN} per turn). `));
