/**
 * A stall of the subscriber's own thread (a GC pause, a slow listener) is not the publisher's silence: datagrams and
 * retransmission answers that arrived meanwhile wait in the socket buffers, behind the timers. The timer round that
 * ran first after a stall used to judge that silence: the stream was called stale (a 'stale' event, its books not
 * usable for a moment) and a retransmission answer waiting in the request socket was timed out (the book invalid
 * until the next refresh snapshot, the answer then dropped). That round now judges nothing; the next one does, so a
 * publisher that really went silent is still found stale after a stall.
 *
 * Plain Node runs due timers before it reads the sockets: the subscriber under the real `node` (stall-node-entry.ts,
 * bundled), with this process as its publisher, fails on the old code on both counts. Bun reads UDP sockets first
 * (Bun 1.x, measured), so in this process a datagram queued during the stall is read before the stale round and the
 * first case passes on the old code too (it guards the rule here); an answer sent by this thread as it resumes (dgram
 * sends on the next tick) still came after the old round had timed the request out.
 */
import { execFile, execFileSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FeedSubscriber, type StaleEvent } from "../../src/subscriber/index.ts";
import { decodeRetxControl, markRetransmit } from "../../src/wire/retransmit.ts";
import { waitFor } from "../wire/helpers.ts";
import { packer, take } from "./feed-harness.ts";
import { bookFeed, HEARTBEAT_MS, RETX_TIMEOUT_MS, STALL_INSTRUMENT, STALL_MS, stallThread } from "./stall-feed.ts";
import { uniqueDestination } from "../support/destination.ts";

const inst = STALL_INSTRUMENT;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function udpSocket(): Promise<Socket> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

/** The subscriber's timer calls checkStale each round it judges: counted here. */
function countJudgedRounds(sub: FeedSubscriber): () => number {
  let n = 0;
  const orig = sub.checkStale.bind(sub);
  sub.checkStale = (nowMs: number) => {
    n++;
    orig(nowMs);
  };
  return () => n;
}

describe("the subscriber's stale check after a stall of its thread", () => {
  async function setup() {
    const port = uniqueDestination(474).port; // below the ephemeral ports (test/support/destination.ts)
    const sub = new FeedSubscriber({ groups: [{ port, bind: "127.0.0.1" }] });
    const stale: StaleEvent[] = [];
    sub.on("stale", (e) => stale.push(e));
    const judged = countJudgedRounds(sub);
    await sub.start();
    cleanups.push(() => sub.stop());
    const tx = await udpSocket();
    const p = packer({ heartbeatIntervalMs: HEARTBEAT_MS });
    const beat = () => {
      p.appendHeartbeat(0);
      for (const d of take(p, Date.now() * 1000)) tx.send(d, port, "127.0.0.1");
    };
    beat();
    await waitFor(() => sub.counters.heartbeats >= 1, 10_000, "the first heartbeat read");
    // The publisher beats faster than it advertises, so only a stall of this thread makes the stream look silent.
    const timer = setInterval(beat, HEARTBEAT_MS / 4);
    cleanups.push(() => clearInterval(timer));
    return { sub, stale, judged, beat, timer };
  }

  it("a stall while the publisher's datagram waits unread is no silence: no 'stale' event, the stream stays fresh", async () => {
    const { sub, stale, judged, beat } = await setup();
    for (let i = 0; i < 3; i++) {
      const beats = sub.counters.heartbeats;
      const stalledBefore = sub.counters.stalledRounds;
      beat(); // in the kernel's buffer before the stall, read only after it
      stallThread(STALL_MS);
      const judgedAfter = judged();
      await waitFor(() => judged() >= judgedAfter + 2 && sub.counters.heartbeats > beats, 10_000, "two stale rounds judged after the stall");
      expect(stale).toEqual([]);
      expect(sub.streamInfo()[0]!.stale).toBe(false);
      expect(sub.counters.stalledRounds).toBeGreaterThan(stalledBefore);
    }
  }, 60_000);

  it("a publisher that really went silent is still called stale after a stall", async () => {
    const { sub, stale, timer } = await setup();
    clearInterval(timer); // it sends nothing more
    stallThread(STALL_MS);
    await waitFor(() => stale.length === 1, 10_000, "the silent stream called stale");
    expect(stale[0]!.silentMs).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
    expect(sub.streamInfo()[0]!.stale).toBe(true);
  }, 30_000);
});

describe("the subscriber's retransmission timeout after a stall of its thread", () => {
  /** A subscriber whose stream has a gap (deltas[2] lost) and whose request reached `server`: resolves with it. */
  async function gapAsked(server: Socket) {
    const { head, deltas } = bookFeed();
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port: server.address().port, timeoutMs: RETX_TIMEOUT_MS } });
    await sub.start();
    cleanups.push(() => sub.stop());
    const request = new Promise<{ port: number; seqNum: number }>((resolve) => server.once("message", (msg, rinfo) => {
      const c = decodeRetxControl(msg);
      resolve({ port: rinfo.port, seqNum: typeof c === "string" ? -1 : c.seqNum });
    }));
    for (const d of head) sub.ingest(d);
    sub.ingest(deltas[0]!);
    sub.ingest(deltas[1]!); // the stream's line is established
    sub.ingest(deltas[3]!); // deltas[2] lost: asked for, deltas[3] held
    expect(sub.retransmitsPending).toBe(1);
    return { sub, deltas, asked: await request };
  }

  it("an answer that waits unread in the request socket through a stall is applied, not timed out", async () => {
    const server = await udpSocket();
    const { sub, deltas, asked } = await gapAsked(server);
    const answer = deltas[2]!.slice();
    markRetransmit(answer, answer.length, undefined);
    server.send(answer, asked.port, "127.0.0.1");
    stallThread(STALL_MS); // longer than timeoutMs: the deadline passes while the answer waits
    await waitFor(() => sub.retransmitsPending === 0, 10_000, "the request settled");
    expect(sub.counters.retransmitTimeouts).toBe(0);
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.counters.gaps).toBe(0);
    expect(sub.book(inst.instrumentId)!.usable).toBe(true);
    expect(sub.counters.stalledRounds).toBeGreaterThan(0);
  }, 30_000);

  it("an answer that never comes still times out after a stall (the next round judges)", async () => {
    const server = await udpSocket();
    const { sub } = await gapAsked(server);
    stallThread(STALL_MS);
    await waitFor(() => sub.retransmitsPending === 0, 10_000, "the request timed out");
    expect(sub.counters.retransmitTimeouts).toBe(1);
    expect(sub.counters.gaps).toBe(1);
    expect(sub.book(inst.instrumentId)!.valid).toBe(false);
  }, 30_000);
});

/** The real Node binary (under `bun --bun` the first `node` on PATH is Bun's shim); undefined when there is none. */
function realNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir.includes("bun-node")) continue;
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    try {
      const v = execFileSync(candidate, ["-e", "process.stdout.write(typeof Bun === 'undefined' ? process.version : 'bun')"], { encoding: "utf8" });
      if (v.startsWith("v")) return candidate;
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}
const NODE = realNode();

describe("the subscriber under plain Node (timers before socket reads) after stalls of its thread", () => {
  it.runIf(NODE !== undefined)("queued heartbeats are no silence and a queued retransmission answer is applied", async () => {
    const out = mkdtempSync(join(tmpdir(), "feeder-sub-stall-"));
    const built = await Bun.build({ entrypoints: [new URL("./stall-node-entry.ts", import.meta.url).pathname], outdir: out, target: "node" });
    expect(built.success).toBe(true);
    const port = uniqueDestination(475).port; // below the ephemeral ports (test/support/destination.ts)
    // This process publishes: heartbeats all along, and answers the request for the lost delta.
    const tx = await udpSocket();
    tx.on("error", () => undefined); // before node binds, the heartbeats may be refused
    const p = packer({ heartbeatIntervalMs: HEARTBEAT_MS });
    const beats = setInterval(() => {
      p.appendHeartbeat(0);
      for (const d of take(p, Date.now() * 1000)) tx.send(d, port, "127.0.0.1");
    }, HEARTBEAT_MS / 4);
    cleanups.push(() => clearInterval(beats));
    const server = await udpSocket();
    const lost = bookFeed().deltas[2]!.slice();
    markRetransmit(lost, lost.length, undefined);
    // The node side stalls until what must queue meanwhile was sent (stall-node-entry.ts stallUntilSent): a heartbeat
    // sent once its first stall began, and the answer (each marked once the send is done: it is in node's socket).
    const marks = mkdtempSync(join(tmpdir(), "feeder-sub-stall-marks-"));
    const sent = (name: string) => () => writeFileSync(join(marks, `${name}.sent`), "");
    const watch = setInterval(() => {
      if (!existsSync(join(marks, "beat.stalling")) || existsSync(join(marks, "beat.sent"))) return;
      p.appendHeartbeat(0);
      for (const d of take(p, Date.now() * 1000)) tx.send(d, port, "127.0.0.1", sent("beat"));
    }, 5);
    cleanups.push(() => clearInterval(watch));
    let requests = 0;
    server.on("message", (msg, rinfo) => {
      requests++;
      if (typeof decodeRetxControl(msg) !== "string") server.send(lost, rinfo.port, rinfo.address, sent("answer"));
    });
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(NODE!, [join(out, "stall-node-entry.js"), String(port), String(server.address().port), marks], { encoding: "utf8", timeout: 60_000 }, (err, so, se) =>
        err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so),
      ),
    );
    expect(requests).toBe(1);
    const r = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(r).toMatchObject({ runtime: "node", staleEvents: 0, retransmitTimeouts: 0, retransmitRecovered: 1, gaps: 0, usable: true });
    expect(r.stalledRounds).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
