/**
 * Refresh share of the published bytes (issue #10: "snapshot_interval_ms = 5000 refreshed each of 3 books every
 * ~150 ms: 32 % of the bytes were refreshes"). Simulator (3 linear books, depth 50) → feeder → loopback multicast →
 * a node:dgram capture that sums, per message, the bytes of REFRESH messages against all bytes. Run twice in this
 * process: with the v1 refresh cadence (at least one book per 50 ms tick, round robin: the pre-v2 publisher,
 * reproduced by replacing RefreshSchedule.tick) and with the v2 cadence (each book once per interval).
 * Interface 127.0.0.1, TTL 1, a per-run group (e2e-common loopbackDestination).
 *   unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/refresh.bench.ts'    # ~30 s
 */
import dgram from "node:dgram";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRuntime } from "../src/app/runtime.ts";
import { validateConfig } from "../src/config/load.ts";
import { createLogger } from "../src/core/log.ts";
import { REFRESH_TICK_MS } from "../src/net/feed-publisher.ts";
import { RefreshSchedule } from "../src/net/refresh-schedule.ts";
import { startBybitSimulator } from "../src/sim/bybit-sim.ts";
import { BookMessageReader, DecodeErrorCode, PacketReader } from "../src/wire/decoder.ts";
import { MSG_FLAG_REFRESH, PACKET_HEADER_BYTES, TEMPLATE_BOOK_SNAPSHOT } from "../src/wire/layout.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { printTable, SMOKE } from "./harness.ts";

const { group: GROUP, port: PORT } = loopbackDestination(6);
const INTERVAL_MS = 5000;
const RUN_MS = Number(process.env.REFRESH_BENCH_MS ?? (SMOKE ? 500 : 12_000));
/** Before counting: the books live and their first refreshes out. */
const SETTLE_MS = SMOKE ? 500 : 1500;
const RATE = Number(process.env.REFRESH_BENCH_RATE ?? 400); // simulator book messages per second, all symbols (400: the 32 %)
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

const v2Tick = RefreshSchedule.prototype.tick;
/** The v1 publisher's refresh tick: ceil(n × tick / interval) books, at least one, round robin. */
function v1Tick(this: RefreshSchedule & { v1Cursor?: number }, _nowMs: number, n: number, refresh: (i: number) => void): number {
  if (n <= 0) return 0;
  const perTick = Math.min(n, Math.ceil((n * REFRESH_TICK_MS) / this.intervalMs));
  for (let k = 0; k < perTick; k++) {
    if ((this.v1Cursor ?? 0) >= n) this.v1Cursor = 0;
    refresh((this.v1Cursor = (this.v1Cursor ?? 0) + 1) - 1);
  }
  return perTick;
}

async function run(cadence: "v1" | "v2"): Promise<Record<string, unknown>> {
  RefreshSchedule.prototype.tick = cadence === "v1" ? v1Tick : v2Tick;
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], messagesPerSecond: RATE, seed: 7 });
  const cachePath = join(tmpdir(), `feeder-refresh-bench-${process.pid}.json`);
  const config = validateConfig({
    log: { level: "warn" },
    http: { enabled: false },
    publish: {
      snapshot_interval_ms: INTERVAL_MS,
      destinations: [{ name: "bench", group: GROUP, port: PORT, interface: "127.0.0.1", ttl: 1, channel: 1 }],
    },
    venues: { bybit: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cachePath, linear: { depth: 50, symbols: SYMBOLS } } },
  });
  const r = new PacketReader();
  const book = new BookMessageReader();
  const rx = new Uint8Array(65536);
  const dv = new DataView(rx.buffer);
  let counting = false;
  const c = { datagrams: 0, bytes: 0, headerBytes: 0, refreshBytes: 0, refreshSnapshots: 0, deltaBytes: 0 };
  const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
  sock.on("message", (msg) => {
    if (!counting) return;
    msg.copy(rx);
    if (r.wrap(dv, msg.length, 65536) !== DecodeErrorCode.OK) throw new Error("bench: undecodable datagram");
    c.datagrams++;
    c.bytes += msg.length;
    c.headerBytes += PACKET_HEADER_BYTES;
    for (let more = r.first(); more; more = r.next()) {
      if ((r.msgFlags & MSG_FLAG_REFRESH) !== 0) {
        c.refreshBytes += r.msgLength;
        if (r.templateId === TEMPLATE_BOOK_SNAPSHOT && book.wrap(r).chunkIndex === 0) c.refreshSnapshots++;
      } else {
        c.deltaBytes += r.msgLength;
      }
    }
  });
  await new Promise<void>((res) => sock.bind({ port: PORT, address: GROUP }, () => res()));
  sock.addMembership(GROUP, "127.0.0.1");
  const runtime = await startRuntime(config, createLogger({ level: "warn" }));
  await new Promise((res) => setTimeout(res, SETTLE_MS)); // books live, first refreshes out
  counting = true;
  const t0 = Date.now();
  await new Promise((res) => setTimeout(res, RUN_MS));
  counting = false;
  const seconds = (Date.now() - t0) / 1000;
  await runtime.stop();
  await sim.stop();
  sock.close();
  rmSync(cachePath, { force: true });
  return {
    cadence: cadence === "v1" ? "v1 (≥ 1 book per 50 ms tick)" : "v2 (each book once per interval)",
    seconds: Number(seconds.toFixed(1)),
    datagrams: c.datagrams,
    kBytes: Math.round(c.bytes / 1000),
    refreshKB: Math.round(c.refreshBytes / 1000),
    refreshShare: `${((100 * c.refreshBytes) / c.bytes).toFixed(1)} %`,
    refreshesPerBookPer5s: Number(((c.refreshSnapshots / SYMBOLS.length) * (INTERVAL_MS / 1000 / seconds)).toFixed(2)),
  };
}

const rows = [await run("v1"), await run("v2")];
RefreshSchedule.prototype.tick = v2Tick;
console.log(`${SYMBOLS.length} linear books (depth 50), simulator ${RATE} msgs/s, snapshot_interval_ms ${INTERVAL_MS}; bytes are UDP payload`);
printTable(rows);
