/**
 * A retransmission server that misbehaves, for chaos runs (test/support/chaos.ts, `retransmitFaults`): a proxy on
 * 127.0.0.1 between the subscriber and the publisher's real request server (src/net/retransmit-server.ts). Requests
 * go through unchanged; the answer to a request the schedule marked is lost, cut short, corrupted, duplicated,
 * reordered, delayed past the subscriber's timeout, preceded by a stale retransmission (one answered earlier, or a
 * live datagram flagged RETRANSMIT), replaced by a refusal, or (with an HMAC key) forged: changed and signed with
 * another key, CRC valid. Whatever it does, a book shown usable must still equal the venue's.
 * @module
 */
import dgram from "node:dgram";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { PKT_SOURCE_ID_OFFSET } from "../../src/wire/layout.ts";
import { decodeRetxControl, encodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_MAGIC } from "../../src/wire/retransmit.ts";
import type { Rng } from "../../src/sim/rng.ts";

export const ANSWER_FAULTS = ["drop", "cut", "corrupt", "duplicate", "reorder", "late", "stale", "staleLive", "refuse", "forged", "forgedRefusal"] as const;
export type AnswerFault = (typeof ANSWER_FAULTS)[number];

export interface RetransmitProxy {
  readonly port: number;
  /** Data datagrams the real server answered with (before any fault), by the publisher's source id. */
  readonly answeredBySource: Record<number, number>;
  /** The answer to the next request gets this fault. */
  faultNext(f: AnswerFault, rng: Rng): void;
  /** Live datagrams the run captured (for staleLive). */
  live: Uint8Array[];
  /** Answers and faults applied, by name. */
  readonly applied: Record<string, number>;
  close(): void;
}

/** Faults waiting for the next request (shared by the proxies of several sources). */
type FaultQueue = { fault: AnswerFault; rng: Rng }[];

/**
 * `serverPort()`: the real server's port now (it stays the same across publisher restarts). `auth`: the feed's key
 * (to decode requests and sign a genuine refusal); forged answers are signed with another key. `listenPort`: the
 * proxy's own port (default: the kernel's pick); `queue`: the faults' queue, when shared with other proxies.
 */
export async function openRetransmitProxy(serverPort: () => number, lateMs: number, auth: DatagramAuth | undefined, o: { listenPort?: number; queue?: FaultQueue } = {}): Promise<RetransmitProxy> {
  const socket = dgram.createSocket("udp4");
  const queue: FaultQueue = o.queue ?? [];
  const answeredBySource: Record<number, number> = {};
  const answered: Uint8Array[] = []; // earlier retransmissions, for "stale"
  const applied: Record<string, number> = {};
  const wrongKey = new DatagramAuth(new Uint8Array(32).fill(7));
  let requester: { port: number; address: string } | undefined;
  let current: { fault: AnswerFault; rng: Rng; datagrams: number; held?: Uint8Array } | undefined;
  const send = (bytes: Uint8Array) => requester && socket.send(bytes, requester.port, requester.address);
  const count = (name: string) => (applied[name] = (applied[name] ?? 0) + 1);
  const proxy: RetransmitProxy = {
    port: 0,
    answeredBySource,
    live: [],
    applied,
    faultNext: (fault, rng) => void queue.push({ fault, rng }),
    close: () => socket.close(),
  };

  const onRequest = (msg: Buffer) => {
    const next = queue.shift();
    if (current?.held) send(current.held); // a reordered datagram still owed
    current = next ? { ...next, datagrams: 0 } : undefined;
    if (current) count(current.fault);
    const f = current?.fault;
    if (f === "refuse" || f === "forgedRefusal") {
      const req = decodeRetxControl(msg, auth);
      if (typeof req === "string") return;
      const out = new Uint8Array(64 + 32);
      const n = encodeRetxControl(out, { ...req, kind: RETX_KIND_OUT_OF_RANGE, firstAvailable: req.seqNum + req.count, nextSeq: req.seqNum + req.count }, f === "refuse" ? auth : auth ? wrongKey : undefined);
      send(out.subarray(0, n));
      if (f === "refuse" || auth === undefined) return; // refused for good; a forged refusal (keyed feed) goes on to the server too
    }
    if (f === "stale" && answered.length > 0) send(answered[current!.rng.int(0, answered.length - 1)]!);
    if (f === "staleLive" && proxy.live.length > 0) {
      const d = proxy.live[current!.rng.int(0, proxy.live.length - 1)]!.slice();
      if (d.length > 48) {
        markRetransmit(d, d.length, auth);
        send(d);
      }
    }
    socket.send(msg, serverPort(), "127.0.0.1");
  };

  const onAnswer = (msg: Buffer) => {
    const bytes = new Uint8Array(msg.buffer.slice(msg.byteOffset, msg.byteOffset + msg.byteLength));
    const isData = bytes.length >= 2 && (bytes[0]! | (bytes[1]! << 8)) !== RETX_MAGIC;
    if (isData) {
      if (answered.length >= 32) answered.shift();
      answered.push(bytes);
      if (bytes.length > PKT_SOURCE_ID_OFFSET + 2) {
        const source = bytes[PKT_SOURCE_ID_OFFSET]! | (bytes[PKT_SOURCE_ID_OFFSET + 1]! << 8);
        answeredBySource[source] = (answeredBySource[source] ?? 0) + 1;
      }
    }
    const c = current;
    const first = c !== undefined && c.datagrams++ === 0;
    switch (c?.fault) {
      case "drop":
        return;
      case "cut":
        if (first) return void send(bytes.subarray(0, c.rng.int(1, bytes.length - 1)));
        return void send(bytes);
      case "corrupt":
        if (first) {
          const bad = bytes.slice();
          bad[c.rng.int(0, bad.length - 1)] ^= 1 << c.rng.int(0, 7);
          return void send(bad);
        }
        return void send(bytes);
      case "duplicate":
        send(bytes);
        return void send(bytes);
      case "reorder":
        if (first) return void (c.held = bytes);
        send(bytes);
        if (c.held) send(c.held), (c.held = undefined);
        return;
      case "late":
        return void setTimeout(() => send(bytes), lateMs + c.rng.int(10, 200));
      case "forged":
        if (first && isData && auth !== undefined && bytes.length > 60) {
          const bad = bytes.slice();
          bad[c.rng.int(48, bad.length - 40)] ^= 1 << c.rng.int(0, 7);
          markRetransmit(bad, bad.length, wrongKey); // a valid CRC over a signature with another key
          send(bad);
        }
        return void send(bytes);
      default:
        send(bytes);
    }
  };

  // A request forwarded while the publisher restarts draws ICMP port unreachable: the subscriber times out, as meant.
  socket.on("error", () => undefined);
  socket.on("message", (msg, rinfo) => {
    if (rinfo.port === serverPort()) onAnswer(msg);
    else {
      requester = { port: rinfo.port, address: rinfo.address };
      onRequest(msg);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(o.listenPort ?? 0, "127.0.0.1", () => resolve());
  });
  (proxy as { port: number }).port = socket.address().port;
  return proxy;
}

/**
 * One proxy per source for a publisher on workers (or shards of workers): source s's requests come to
 * `listenBase + s` (the subscriber's retransmit port with sourceIdBase 0) and go to that source's server on
 * `serverBase() + s`. One fault queue: a fault goes to whichever source is asked next. Seen as one proxy.
 */
export async function openRetransmitProxies(sources: readonly number[], listenBase: number, serverBase: () => number, lateMs: number, auth: DatagramAuth | undefined): Promise<RetransmitProxy> {
  const queue: FaultQueue = [];
  const proxies: RetransmitProxy[] = [];
  try {
    for (const s of sources) proxies.push(await openRetransmitProxy(() => serverBase() + s, lateMs, auth, { listenPort: listenBase + s, queue }));
  } catch (err) {
    for (const p of proxies) p.close();
    throw err;
  }
  const sum = (pick: (p: RetransmitProxy) => Record<number | string, number>) => {
    const out: Record<string, number> = {};
    for (const p of proxies) for (const [k, n] of Object.entries(pick(p))) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  return {
    port: listenBase,
    faultNext: (fault, rng) => void queue.push({ fault, rng }),
    get live() {
      return proxies[0]?.live ?? [];
    },
    set live(list: Uint8Array[]) {
      for (const p of proxies) p.live = list;
    },
    get applied() {
      return sum((p) => p.applied);
    },
    get answeredBySource() {
      return sum((p) => p.answeredBySource);
    },
    close: () => proxies.forEach((p) => p.close()),
  };
}
