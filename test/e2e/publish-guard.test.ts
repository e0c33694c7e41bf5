/**
 * A publisher never disturbs a live feed by mistake (issue #10 E), with real sockets on loopback (interface
 * 127.0.0.1, TTL 1, 239.255.x.x): a second `feeder run` with the same config refuses to start (exit 1, naming
 * group, channel, source, session and sender) without sending a datagram; another publisher appearing on a
 * running feeder's stream turns /readyz 503 (named, logged, counted) and back when it stops or goes quiet; an HTTP
 * port already taken ends the run before any datagram. "Nothing was sent" is proven with a real multicast
 * receiver: a marker datagram sent after the process exited arrives behind anything the process sent (one socket
 * queue, in order), so when the marker is the first thing received, nothing came before it.
 *
 * Only public entry points are used (startRuntime, the CLI, FeedPublisher, /readyz, /metrics), so this file also
 * runs against the code before the guard existed, where every test fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import {
  MAGIC,
  PKT_CHANNEL_ID_OFFSET,
  PKT_LENGTH_OFFSET,
  PKT_CHECKSUM_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
} from "../../src/wire/layout.ts";
import { rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "./harness.ts";
import { datagramChecksum } from "../wire/helpers.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const CHANNEL = 7; // harness rawConfig
/** Wire v2 header size (the fields read by the guard keep their v1 offsets). */
const V2_HEADER_BYTES = 48;

let sim: BybitSim;
let dir: string;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 41, messagesPerSecond: 0 });
  dir = tempDir("feeder-guard-");
});

afterAll(async () => {
  await sim?.stop();
});

/** Every datagram on a group, as (magic, channel, source, session); a marker is a datagram with another magic. */
class Receiver {
  readonly seen: { magic: number; channelId: number; sourceId: number; sessionId: number }[] = [];
  private constructor(private readonly socket: dgram.Socket) {}

  static async start(group: string, port: number): Promise<Receiver> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((ok) => socket.bind({ port, address: group, exclusive: false }, () => ok()));
    socket.addMembership(group, "127.0.0.1");
    const r = new Receiver(socket);
    socket.on("message", (m: Buffer) => {
      if (m.length < 16) return void r.seen.push({ magic: -1, channelId: -1, sourceId: -1, sessionId: -1 });
      r.seen.push({
        magic: m.readUInt16LE(PKT_MAGIC_OFFSET),
        channelId: m.readUInt16LE(PKT_CHANNEL_ID_OFFSET),
        sourceId: m.readUInt16LE(PKT_SOURCE_ID_OFFSET),
        sessionId: m.readUInt32LE(PKT_SESSION_ID_OFFSET),
      });
    });
    return r;
  }

  sessions(): Set<number> {
    return new Set(this.seen.filter((s) => s.magic === MAGIC).map((s) => s.sessionId));
  }

  /** Sends a marker to the group and resolves with everything received before it. */
  async drain(group: string, port: number): Promise<{ magic: number; sessionId: number }[]> {
    const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    tx.setMulticastInterface("127.0.0.1");
    tx.setMulticastTTL(1);
    tx.send(new Uint8Array(16), port, group); // magic 0: not a feeder datagram
    await waitFor(() => this.seen.some((s) => s.magic === 0), "the marker datagram");
    tx.close();
    return this.seen.slice(0, this.seen.findIndex((s) => s.magic === 0));
  }

  close(): Promise<void> {
    return new Promise((ok) => this.socket.close(() => ok()));
  }
}

/** A feeder datagram header only (v2 length), as another publisher of our stream would send it. */
function foreignDatagram(version: number, channelId: number, sourceId: number, sessionId: number): Uint8Array {
  const b = new Uint8Array(V2_HEADER_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint16(PKT_MAGIC_OFFSET, MAGIC, true);
  dv.setUint8(PKT_VERSION_OFFSET, version);
  dv.setUint16(PKT_CHANNEL_ID_OFFSET, channelId, true);
  dv.setUint32(PKT_SESSION_ID_OFFSET, sessionId, true);
  dv.setUint16(PKT_LENGTH_OFFSET, V2_HEADER_BYTES, true);
  dv.setUint16(PKT_SOURCE_ID_OFFSET, sourceId, true);
  // Sealed as a publisher seals it: the watcher checks a v2/v3 datagram's checksum before it counts.
  if (version >= 2) dv.setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(b, b.length), true);
  return b;
}

function runCli(args: string[]) {
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const stderr = new Response(proc.stderr as ReadableStream<Uint8Array>).text();
  const state = { exited: false };
  void proc.exited.then(() => (state.exited = true));
  return { proc, stderr, state };
}

async function readyz(url: string): Promise<{ status: number; body: { ready: boolean; conflicts?: string[] } }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { ready: boolean; reasons: { check: string; detail: string }[] };
  // A conflict is one `publish_conflict` reason among /readyz's reasons; its detail is the guard's sentence.
  return { status: res.status, body: { ready: body.ready, conflicts: body.reasons.filter((r) => r.check === "publish_conflict").map((r) => r.detail) } };
}

/** Polls /readyz until its status is `status` (every request is an event; no fixed sleeps). */
async function readyzBecomes(url: string, status: number, what: string): Promise<{ ready: boolean; conflicts?: string[] }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await readyz(url);
    if (r.status === status) return r.body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for /readyz ${status}: ${what} (last: ${r.status} ${JSON.stringify(r.body)})`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const { samples } = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  return samples.find((s) => s.name === name)?.value;
}

function liveBooks(rt: Runtime): boolean {
  const books = rt.feeder!.books();
  return books.length === MARKETS[0]!.symbols.length && books.every((b) => b.state === BookState.LIVE);
}

describe("publish guard", { timeout: 60_000 }, () => {
  test("a second `feeder run` with the same config refuses with exit 1 and the conflict, having sent nothing", async () => {
    const { group, port } = uniqueDestination(41);
    const raw = rawConfig({ sim, markets: MARKETS, group, port, http: true });
    const first = await startRuntime(validateConfig(raw), silentLogger);
    const receiver = await Receiver.start(group, port);
    try {
      await waitFor(() => liveBooks(first), "the first feeder's books live");
      const mine = first.feeder!.publisher.sessionId;
      await waitFor(() => receiver.sessions().has(mine), "the first feeder's datagrams");
      const configPath = join(dir, "same.toml");
      writeFileSync(configPath, toToml(raw)); // the same config (HTTP on a free port, so only the stream is shared)
      const second = runCli(["run", "--config", configPath]);
      // Today's code would publish instead of exiting: stop waiting as soon as a second session shows up.
      await waitFor(() => second.state.exited || receiver.sessions().size > 1, "the second feeder's exit (or its datagrams)", 30_000);
      second.proc.kill("SIGKILL");
      const code = await second.proc.exited;
      const stderr = await second.stderr;
      expect(code, stderr).toBe(1);
      expect(stderr).toContain(`another publisher is sending on group ${group}:${port} channel ${CHANNEL} as source 0 (session ${mine} from 127.0.0.1:`);
      const before = await receiver.drain(group, port);
      expect(new Set(before.map((s) => s.sessionId))).toEqual(new Set([mine])); // only the first feeder's datagrams
      expect(first.guard.conflicts()).toEqual([]); // the refused instance never sent, so the first saw nothing
    } finally {
      await receiver.close();
      await first.stop();
    }
  });

  describe("a running feeder", () => {
    let rt: Runtime;
    let url: string;
    let group: string;
    let port: number;
    const errors: string[] = [];

    beforeAll(async () => {
      ({ group, port } = uniqueDestination(42));
      const log = createLogger({ level: "warn", format: "json", write: (line) => void (JSON.parse(line).level === "error" && errors.push(line)) });
      rt = await startRuntime(validateConfig(rawConfig({ sim, markets: MARKETS, group, port, http: true })), log);
      url = rt.http!.url;
      await waitFor(() => liveBooks(rt), "books live");
      await readyzBecomes(url, 200, "ready while alone on its stream");
    });

    afterAll(async () => {
      await rt?.stop();
    });

    test("another publisher on its stream turns /readyz 503, naming it, logged and counted; its end of session ends it", async () => {
      const ours = rt.feeder!.publisher;
      const other = new FeedPublisher({ publish: { ...validateConfig(rawConfig({ sim, markets: MARKETS, group, port })).publish, heartbeatIntervalMs: 50 }, sourceId: 0 });
      await other.start();
      let stopped = false;
      try {
        const body = await readyzBecomes(url, 503, "the other publisher detected");
        expect(other.sessionId).not.toBe(ours.sessionId);
        expect(body.conflicts).toHaveLength(1);
        expect(body.conflicts![0]).toMatch(
          new RegExp(`^another publisher is sending on group ${group.replaceAll(".", "\\.")}:${port} channel ${CHANNEL} as source 0 \\(session ${other.sessionId} from 127\\.0\\.0\\.1:\\d+\\)$`),
        );
        expect(await metric(url, "feeder_publish_conflicts_total")).toBe(1);
        expect(await metric(url, "feeder_publish_conflicts_active")).toBe(1);
        await waitFor(() => errors.some((l) => l.includes(`session ${other.sessionId}`)), "the conflict logged at error level");
        await other.stop(); // END_OF_SESSION
        stopped = true;
        await readyzBecomes(url, 200, "ready again after the other publisher's end of session");
        expect(await metric(url, "feeder_publish_conflicts_active")).toBe(0);
        expect(await metric(url, "feeder_publish_conflicts_total")).toBe(1);
      } finally {
        if (!stopped) await other.stop();
      }
    });

    test("a wire v2 publisher that goes quiet without ending its session is reported until quiet; other sources are not", async () => {
      const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
      tx.setMulticastInterface("127.0.0.1");
      tx.setMulticastTTL(1);
      try {
        const before = (await metric(url, "feeder_publish_conflicts_total"))!;
        // Legitimate neighbours first: another source id on our channel (a worker, a shard), and our source id on
        // another channel of the group. Then the conflict: our channel and source id, another session.
        tx.send(foreignDatagram(2, CHANNEL, 9, 0xabc), port, group);
        tx.send(foreignDatagram(2, CHANNEL + 1, 0, 0xabd), port, group);
        for (let i = 0; i < 3; i++) tx.send(foreignDatagram(2, CHANNEL, 0, 0xabe), port, group);
        const body = await readyzBecomes(url, 503, "the v2 datagrams detected");
        expect(body.conflicts).toEqual([`another publisher is sending on group ${group}:${port} channel ${CHANNEL} as source 0 (session ${0xabe} from 127.0.0.1:${tx.port})`]);
        expect(await metric(url, "feeder_publish_conflicts_total")).toBe(before + 1); // the neighbours were not counted
        await readyzBecomes(url, 200, "ready again once the other session has been quiet for 3 heartbeat intervals");
      } finally {
        tx.close();
      }
    });
  });

  test("workers = 2 with publish.source_id = 10 publish as sources 11 and 12; a stranger as source 12 is reported", async () => {
    const { group, port } = uniqueDestination(43);
    const raw = rawConfig({ sim, markets: MARKETS, group, port, http: true, workers: 2 });
    (raw.publish as Record<string, unknown>).source_id = 10;
    const receiver = await Receiver.start(group, port);
    const rt = await startRuntime(validateConfig(raw), silentLogger);
    const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      await waitFor(() => new Set(receiver.seen.map((s) => s.sourceId)).size === 2, "both workers publishing");
      expect(new Set(receiver.seen.map((s) => s.sourceId))).toEqual(new Set([11, 12]));
      const url = rt.http!.url;
      await readyzBecomes(url, 200, "ready: the workers' own sessions are not conflicts");
      expect(rt.guard.conflicts()).toEqual([]);
      tx.setMulticastInterface("127.0.0.1");
      tx.setMulticastTTL(1);
      tx.send(foreignDatagram(1, CHANNEL, 12, 0x5151), port, group);
      const body = await readyzBecomes(url, 503, "the stranger on source 12");
      expect(body.conflicts![0]).toContain(`channel ${CHANNEL} as source 12 (session ${0x5151} from`);
    } finally {
      tx.close();
      await rt.stop();
      await receiver.close();
    }
  });

  test("an HTTP port already taken ends `feeder run` with exit 1 before any datagram", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
    const { group, port } = uniqueDestination(44);
    const receiver = await Receiver.start(group, port);
    try {
      const raw = rawConfig({ sim, markets: MARKETS, group, port, http: true });
      (raw.http as Record<string, unknown>).listen = `127.0.0.1:${taken.port}`;
      const configPath = join(dir, "http-taken.toml");
      writeFileSync(configPath, toToml(raw));
      const run = runCli(["run", "--config", configPath]);
      await waitFor(() => run.state.exited || receiver.sessions().size > 0, "the feeder's exit (or its datagrams)", 30_000);
      run.proc.kill("SIGKILL");
      const code = await run.proc.exited;
      const stderr = await run.stderr;
      expect(code, stderr).toBe(1);
      expect(await receiver.drain(group, port)).toEqual([]); // today's code publishes, then fails to bind HTTP
      expect(stderr).toContain(`http.listen: cannot listen on 127.0.0.1:${taken.port}`);
    } finally {
      await taken.stop(true);
      await receiver.close();
    }
  });
});
