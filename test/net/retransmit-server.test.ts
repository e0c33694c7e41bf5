/**
 * The retransmission server's counting, on its own: every request lands in exactly one result counter, and only
 * the answer datagrams the kernel took count as retransmitted (a datagram refused twice in a row is a send error;
 * the rest of its batch is still sent). The socket is a stand-in whose sendMany stops at the datagrams it refuses
 * (throwing when it is the first), which a real loopback socket never does on demand; the server's checks and the
 * ring are the real ones.
 */
import { describe, expect, it } from "vitest";
import type { RetransmitConfig } from "../../src/config/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { ANSWER_DATAGRAMS_PER_TURN, MAX_ANSWERS_IN_PROGRESS, MAX_REQUESTERS, RetransmitServer, THROTTLED_REPLY_INTERVAL_MS } from "../../src/net/retransmit-server.ts";
import { decodeRetxControl, encodeRetxControl, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST, RETX_KIND_THROTTLED, type RetxControl } from "../../src/wire/retransmit.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { crc32c } from "../../src/wire/crc32c.ts";
import { forgedControl } from "../wire/helpers.ts";

const CONFIG: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24 };
const SESSION = 77;

function serverWith(datagrams: number, refuses: (length: number) => boolean) {
  const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
  // Datagram i: 48-byte header + 8·(i+1) bytes, one message each, seqNum i + 1.
  for (let i = 0; i < datagrams; i++) ring.push(new Uint8Array(PACKET_HEADER_BYTES + 8 * (i + 1)), PACKET_HEADER_BYTES + 8 * (i + 1), i + 1, 1);
  const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
  const sent: number[] = [];
  const socket = {
    sendMany(args: unknown[]) {
      const n = args.length / 3;
      let k = 0;
      while (k < n && !refuses((args[k * 3] as Uint8Array).length)) sent.push((args[k++ * 3] as Uint8Array).length);
      if (k === 0) throw new Error("EMSGSIZE: message too long");
      return k;
    },
    send: () => true,
  };
  (server as unknown as { socket: unknown }).socket = socket;
  return { server, sent };
}

function request(seqNum: number, count: number, sessionId = SESSION): Uint8Array {
  const out = new Uint8Array(64);
  return out.subarray(0, encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId, seqNum, count, firstAvailable: 0, nextSeq: 0 }));
}

describe("RetransmitServer counters", () => {
  it("datagrams and bytes count what the kernel took; the rest are send errors", () => {
    // Datagrams 91..94 of the last batch (65..100) are refused: sendMany stops at each, the rest is sent again.
    const { server, sent } = serverWith(100, (length) => length > PACKET_HEADER_BYTES + 8 * 90 && length <= PACKET_HEADER_BYTES + 8 * 94);
    server.onRequest(request(1, 100), 40000, "127.0.0.1");
    const c = server.counters;
    expect(c.answered).toBe(1);
    expect(sent).toHaveLength(96);
    expect(c.datagrams).toBe(96);
    expect(c.sendErrors).toBe(4);
    expect(c.bytes).toBe(sent.reduce((a, b) => a + b, 0));
  });

  it("an answer one of whose datagrams is lost ends there: the rest is not sent and its requester is told OUT_OF_RANGE", () => {
    // Datagrams 61..64, the end of the first batch of 64, are refused (twice each): the requester, which takes only
    // its gap's next datagram, can use nothing from 61 on.
    const { server, sent } = serverWith(100, (length) => length > PACKET_HEADER_BYTES + 8 * 60 && length <= PACKET_HEADER_BYTES + 8 * 64);
    const replies: RetxControl[] = [];
    (server as unknown as { socket: { send: (b: Uint8Array) => boolean } }).socket.send = (b) => (replies.push(decodeRetxControl(b.slice()) as RetxControl), true);
    server.onRequest(request(1, 100), 40000, "127.0.0.1");
    const c = server.counters;
    // Before: the second batch (65..100) went out too, to be dropped, and no reply: the requester waited out its timeout.
    expect(sent).toHaveLength(60);
    expect(replies.map((r) => [r.kind, r.seqNum, r.count])).toEqual([[RETX_KIND_OUT_OF_RANGE, 1, 100]]);
    expect({ answered: c.answered, datagrams: c.datagrams, sendErrors: c.sendErrors }).toEqual({ answered: 1, datagrams: 60, sendErrors: 40 });
  });

  it("every request received has exactly one result", () => {
    const { server } = serverWith(10, () => false);
    server.onRequest(request(1, 2), 40000, "127.0.0.1"); // answered
    server.onRequest(request(1, 2, SESSION + 1), 40000, "127.0.0.1"); // another session: out of range
    server.onRequest(request(50, 1), 40000, "127.0.0.1"); // not sent yet: out of range
    server.onRequest(request(1, 1), 40000, "10.9.9.9"); // outside allow
    server.onRequest(new Uint8Array(10), 40000, "127.0.0.1"); // garbage
    const c = server.counters;
    expect({ answered: c.answered, outOfRange: c.outOfRange, throttled: c.throttled, refusedNetwork: c.refusedNetwork, badRequests: c.badRequests }).toEqual({
      answered: 1,
      outOfRange: 2,
      throttled: 0,
      refusedNetwork: 1,
      badRequests: 1,
    });
    expect(c.answered + c.outOfRange + c.throttled + c.refusedNetwork + c.badRequests).toBe(c.received);
    expect(c.datagrams).toBe(2);
    expect(c.sendErrors).toBe(0);
  });

  it("a request whose seqNum, firstAvailable or nextSeq is 2^53 or more is a bad request, unanswered", () => {
    const { server } = serverWith(10, () => false);
    const replies: RetxControl[] = [];
    (server as unknown as { socket: { send: (b: Uint8Array) => boolean } }).socket.send = (b) => (replies.push(decodeRetxControl(b.slice()) as RetxControl), true);
    const o = { sessionId: SESSION };
    // Before, each was taken: the first answered OUT_OF_RANGE echoing seqNum 0 (2^64 − 1 read as 2^64, written back
    // modulo 2^64), the second echoing 2^53 for 2^53 + 1, the third as a request for seqNum 1.
    server.onRequest(forgedControl(RETX_KIND_REQUEST, [2n ** 64n - 1n, 0n, 0n], undefined, o), 40000, "127.0.0.1");
    server.onRequest(forgedControl(RETX_KIND_REQUEST, [2n ** 53n + 1n, 0n, 0n], undefined, o), 40000, "127.0.0.1");
    server.onRequest(forgedControl(RETX_KIND_REQUEST, [1n, 0n, 2n ** 60n], undefined, o), 40000, "127.0.0.1");
    server.onRequest(forgedControl(RETX_KIND_REQUEST, [2n ** 53n - 1n, 0n, 0n], undefined, o), 40000, "127.0.0.1"); // exact: out of range
    const c = server.counters;
    expect({ received: c.received, badRequests: c.badRequests, outOfRange: c.outOfRange, answered: c.answered, datagrams: c.datagrams }).toEqual({
      received: 4,
      badRequests: 3,
      outOfRange: 1,
      answered: 0,
      datagrams: 0,
    });
    expect(replies.map((r) => [r.kind, r.seqNum])).toEqual([[RETX_KIND_OUT_OF_RANGE, 2 ** 53 - 1]]);
  });

  it("a request with flag bits other than AUTHENTICATED set is answered as one without (§11.2: reserved, ignored)", () => {
    const { server, sent } = serverWith(10, () => false);
    const b = request(1, 3).slice();
    const dv = new DataView(b.buffer);
    dv.setUint16(12, 0xfff7, true);
    dv.setUint32(28, 0, true);
    dv.setUint32(28, crc32c(b), true);
    server.onRequest(b, 40000, "127.0.0.1");
    expect({ answered: server.counters.answered, badRequests: server.counters.badRequests, sent: sent.length }).toEqual({ answered: 1, badRequests: 0, sent: 3 });
  });

  it("a control reply the socket refuses is tried once more, then is a send error", () => {
    const { server } = serverWith(10, () => false);
    let sends = 0;
    let refusals = 1;
    (server as unknown as { socket: { send: () => boolean } }).socket.send = () => {
      sends++;
      if (refusals-- > 0) throw new Error("ECONNREFUSED: connection refused, send");
      return true;
    };
    server.onRequest(request(1, 1, SESSION + 1), 40000, "127.0.0.1"); // OUT_OF_RANGE: refused once, sent
    expect({ sends, sendErrors: server.counters.sendErrors }).toEqual({ sends: 2, sendErrors: 0 });
    refusals = 2;
    server.onRequest(request(1, 1, SESSION + 1), 40000, "127.0.0.1"); // refused twice: lost
    expect({ sends, sendErrors: server.counters.sendErrors }).toEqual({ sends: 4, sendErrors: 1 });
    (server as unknown as { socket: { send: () => boolean } }).socket.send = () => (sends++, false); // buffer full: lost at once
    server.onRequest(request(1, 1, SESSION + 1), 40000, "127.0.0.1");
    expect({ sends, sendErrors: server.counters.sendErrors, outOfRange: server.counters.outOfRange, datagrams: server.counters.datagrams }).toEqual({
      sends: 5,
      sendErrors: 2,
      outOfRange: 3,
      datagrams: 0,
    });
  });
});

describe("answers spread over turns", () => {
  it("an answer goes out a turn's budget at a time; a rest the live feed evicts before its turn is counted lost and its requester told", async () => {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 1; seq <= 300; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const replies: RetxControl[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => args.length / 3,
      send: (data: Uint8Array) => (replies.push(decodeRetxControl(data) as RetxControl), true),
    };
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    server.onRequest(request(1, 200), 40000, "127.0.0.1");
    expect(server.counters.datagrams).toBe(ANSWER_DATAGRAMS_PER_TURN); // before: 200, the whole answer at once
    await nextTurn();
    expect(server.counters.datagrams).toBe(200);
    // A second answer; before its next turn the live feed pushes a ring's worth, evicting what it still had to send.
    // (What this turn's budget still allows: the first answer's last slice may have gone in it.)
    server.onRequest(request(1, 300), 40000, "127.0.0.1");
    const slice = server.counters.datagrams - 200;
    expect(slice).toBeGreaterThan(0);
    expect(slice).toBeLessThanOrEqual(ANSWER_DATAGRAMS_PER_TURN);
    for (let seq = 301; seq <= 301 + CONFIG.ringBytes / D; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    await nextTurn();
    await nextTurn();
    expect({ answered: server.counters.answered, datagrams: server.counters.datagrams, sendErrors: server.counters.sendErrors }).toEqual({
      answered: 2,
      datagrams: 200 + slice,
      sendErrors: 300 - slice,
    });
    // The cut answer's requester is told at once, by the seqNum and count it asked for (what its subscriber matches
    // an open request by), with the ring's range now: before, nothing was sent and it waited out its timeout.
    expect(replies.map((r) => [r.kind, r.seqNum, r.count, r.firstAvailable, r.nextSeq])).toEqual([[RETX_KIND_OUT_OF_RANGE, 1, 300, ring.firstSeq, ring.nextSeq]]);
    expect(ring.firstSeq).toBeGreaterThan(1 + slice);
  });
});

describe("answers in progress share the turns", () => {
  it("the answer with the fewest datagrams left goes first: a short one is not kept behind long ones, equal ones end one after the other", async () => {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 1; seq <= 600; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const batches: [string, number][] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => (batches.push([args[2] as string, args.length / 3]), args.length / 3),
      send: () => true,
    };
    server.onRequest(request(1, 600), 40000, "127.0.0.1"); // its first turn's share goes at once
    server.onRequest(request(1, 600), 40000, "127.0.0.2");
    server.onRequest(request(1, 10), 40000, "127.0.0.3");
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    while (server.counters.datagrams < 1210) await nextTurn();
    const sentTo = (address: string, upTo: number) => batches.slice(0, upTo).reduce((n, [a, k]) => n + (a === address ? k : 0), 0);
    const done = (address: string, total: number) => batches.findIndex((_, i) => sentTo(address, i + 1) === total);
    // The short answer first, then the first long one whole, then the other: each requester's answer ends as early as
    // it can. Before (a batch of each in turn), the two long ones ended together, each as late as both together:
    // past the requesters' timeout (250 ms) for both when either alone would have made it.
    expect(done("127.0.0.3", 10)).toBeLessThan(done("127.0.0.1", 600));
    expect(sentTo("127.0.0.2", done("127.0.0.1", 600) + 1)).toBeLessThanOrEqual(ANSWER_DATAGRAMS_PER_TURN); // before: 472
    expect(sentTo("127.0.0.1", batches.length) + sentTo("127.0.0.2", batches.length)).toBe(1200);
  });
});

describe("a long answer behind a stream of shorter ones", () => {
  it("ends: once its length more datagrams have gone, no later answer goes ahead of it, however many shorter ones come", async () => {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 1; seq <= 1000; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const sentTo = new Map<string, number>();
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => (sentTo.set(args[2] as string, (sentTo.get(args[2] as string) ?? 0) + args.length / 3), args.length / 3),
      send: () => true,
    };
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    server.onRequest(request(1, 600), 40000, "127.0.0.1"); // its first turn's share at once: 472 left
    // Each turn one more requester asks for a turn's budget (fewer datagrams than the long answer has left).
    const turns = 20;
    for (let i = 0; i < turns; i++) {
      server.onRequest(request(1 + i, ANSWER_DATAGRAMS_PER_TURN), 40000, `127.0.1.${i}`);
      await nextTurn();
    }
    // After 600 more datagrams (of the newcomers or its own) none goes ahead of it: it ends well within the 20 turns. Before (fewest left first),
    // every newcomer went ahead of it: 128 of its 600 sent, the rest waiting until the ring evicted them.
    expect(sentTo.get("127.0.0.1")).toBe(600);
    while (server.counters.datagrams < 600 + turns * ANSWER_DATAGRAMS_PER_TURN) await nextTurn();
    for (let i = 0; i < turns; i++) expect(sentTo.get(`127.0.1.${i}`)).toBe(ANSWER_DATAGRAMS_PER_TURN);
    expect(server.counters.sendErrors).toBe(0);
  });
});

describe("answers waiting their turn", () => {
  it("an answer waiting behind a shorter one whose rest the live feed evicts is cut, and its requester told, on the next turn", async () => {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    const capacity = Math.floor(CONFIG.ringBytes / D); // datagrams the ring holds (1,170)
    for (let seq = 1; seq <= 1100; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const events: string[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => (events.push(`data@${args[2] as string}`), args.length / 3),
      send: (data: Uint8Array, _port: number, address: string) => (events.push(`${(decodeRetxControl(data) as RetxControl).kind}@${address}`), true),
    };
    server.onRequest(request(1, 1000), 40000, "127.0.0.1"); // its first slice at once; 872 left
    server.onRequest(request(900, 200), 40000, "127.0.0.2"); // fewer left: goes first from the next turn
    // The live feed evicts the first answer's next datagram (seq 129) while it waits; the second's range stays.
    for (let seq = 1101; seq <= 1300; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    expect(ring.firstSeq).toBe(1301 - capacity);
    events.length = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Told at once, before the answer ahead of it went on: before, only when its own turn came, a turn later here
    // (behind a whole ring's worth of others, many turns: past its requester's timeout).
    expect(events[0]).toBe(`${RETX_KIND_OUT_OF_RANGE}@127.0.0.1`);
    while (server.counters.datagrams < 128 + 200) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(server.counters.sendErrors).toBe(872);
  });
});

describe("answers in progress are bounded", () => {
  it("beyond MAX_ANSWERS_IN_PROGRESS waiting answers, a request is THROTTLED: the queue of answers cannot grow with a flood", async () => {
    // Many requesters (UDP: any address in allow can be claimed), each within its buckets, faster than answers go out.
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 1; seq <= 200; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const throttledTo = new Set<string>();
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => args.length / 3,
      send: (data: Uint8Array, _port: number, address: string) => ((decodeRetxControl(data) as RetxControl).kind === RETX_KIND_THROTTLED && throttledTo.add(address), true),
    };
    const inProgress = () => (server as unknown as { answers: unknown[] }).answers.length;
    const requests = MAX_ANSWERS_IN_PROGRESS + 500;
    let most = 0;
    for (let i = 0; i < requests; i++) {
      server.onRequest(request(1 + (i % 100), 100), 40000, `127.1.${i >> 8}.${i & 255}`); // 100 datagrams each
      most = Math.max(most, inProgress());
    }
    expect(most).toBe(MAX_ANSWERS_IN_PROGRESS); // before: every request's answer queued (1,523)
    const c = server.counters;
    expect(c.answered).toBe(MAX_ANSWERS_IN_PROGRESS + 1); // the first: one turn's share sent at once, 100 − 128 < 0 left
    expect(c.throttled).toBe(requests - c.answered);
    expect(throttledTo.size).toBe(c.throttled); // each its own requester: each told
    while (inProgress() > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(c.datagrams).toBe(100 * c.answered);
  });
});

describe("control replies", () => {
  it("a THROTTLED reply says what the ring holds, whichever bucket refused (§11.2: replies carry [firstAvailable, nextSeq))", () => {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 5; seq < 25; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    // Two requests a second and 1,400 bytes a second per address; the whole ring is 20 × 56 = 1,120 bytes.
    const mono = { ms: 1000 };
    const config = { ...CONFIG, requestsPerSec: 2, bytesPerSec: 1400 };
    const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => mono.ms });
    const replies: RetxControl[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => args.length / 3,
      send: (data: Uint8Array) => (replies.push(decodeRetxControl(data) as RetxControl), true),
    };
    server.onRequest(request(5, 20), 40000, "127.0.0.1"); // answered: 1,120 bytes
    server.onRequest(request(5, 20), 40000, "127.0.0.1"); // over the byte bucket (280 left)
    mono.ms += THROTTLED_REPLY_INTERVAL_MS; // (one THROTTLED reply per requester per interval)
    server.onRequest(request(5, 1), 40000, "127.0.0.1"); // over the request bucket (0.2 refilled)
    expect(server.counters.answered).toBe(1);
    expect(replies.map((r) => r.kind)).toEqual([RETX_KIND_THROTTLED, RETX_KIND_THROTTLED]);
    // Before: the byte bucket's reply said [5, 25), the request bucket's [0, 0): "the ring holds nothing".
    expect(replies.map((r) => [r.firstAvailable, r.nextSeq])).toEqual([
      [5, 25],
      [5, 25],
    ]);
  });

  it("THROTTLED replies are capped at one per requester address per interval; the rest are counted, not answered", () => {
    // Before: a requester over its buckets got a reply per request (one to one, at whatever address it named).
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    const D = PACKET_HEADER_BYTES + 8;
    for (let seq = 1; seq <= 10; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const mono = { ms: 1000 };
    const server = new RetransmitServer({ config: { ...CONFIG, requestsPerSec: 1 }, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => mono.ms });
    const replies: string[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => args.length / 3,
      send: (data: Uint8Array, _port: number, address: string) => (replies.push(`${(decodeRetxControl(data) as RetxControl).kind}@${address}`), true),
    };
    const ask = (address: string, n: number) => {
      for (let i = 0; i < n; i++) server.onRequest(request(1, 1), 40000 + i, address); // many source ports: one requester
    };
    ask("127.0.0.1", 50); // the first answered, 49 over the request bucket
    ask("127.0.0.2", 3); // another requester: its own reply
    mono.ms += THROTTLED_REPLY_INTERVAL_MS - 1;
    ask("127.0.0.1", 20); // still within the interval: no reply
    mono.ms += 1;
    ask("127.0.0.1", 20); // an interval since its last reply: one more (the bucket has refilled 0.1 request)
    const T = RETX_KIND_THROTTLED;
    expect(replies).toEqual([`${T}@127.0.0.1`, `${T}@127.0.0.2`, `${T}@127.0.0.1`]);
    const c = server.counters;
    expect({ answered: c.answered, throttled: c.throttled, suppressed: c.throttledRepliesSuppressed, datagrams: c.datagrams }).toEqual({
      answered: 2,
      throttled: 49 + 2 + 20 + 20,
      suppressed: 49 + 2 + 20 + 20 - 3,
      datagrams: 2,
    });
    expect(c.answered + c.outOfRange + c.throttled + c.refusedNetwork + c.badRequests).toBe(c.received);
  });
});

describe("requesters' buckets beyond MAX_REQUESTERS addresses", () => {
  // Ten datagrams of 56 bytes, seqNum 1..10; the buckets' clock is the test's.
  const D = PACKET_HEADER_BYTES + 8;
  function bucketRig(config: RetransmitConfig) {
    const ring = new RetransmitRing(CONFIG.ringBytes, 1400);
    for (let seq = 1; seq <= 10; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const mono = { ms: 1000 };
    const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => mono.ms });
    (server as unknown as { socket: unknown }).socket = { sendMany: (args: unknown[]) => args.length / 3, send: () => true };
    return { server, mono };
  }
  const addressOf = (i: number) => `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

  it("requests from more addresses than the table holds cannot give a requester that spent its bucket a full one again", () => {
    // Before: at the 4,096th address the table was cleared, and the heavy requester began with a full bucket again.
    const { server, mono } = bucketRig({ ...CONFIG, requestsPerSec: 1000, bytesPerSec: 10 * D });
    const c = server.counters;
    const ask = (address: string, count: number) => {
      const before = { answered: c.answered, throttled: c.throttled };
      server.onRequest(request(1, count), 40000, address);
      return c.answered > before.answered ? "answered" : c.throttled > before.throttled ? "throttled" : "other";
    };
    const flood = (from: number) => {
      for (let i = 0; i < 2 * MAX_REQUESTERS; i++) server.onRequest(request(1, 1, SESSION + 1), 40000, addressOf(from + i)); // out of range: no bytes
    };
    const heavy = "127.200.0.1";
    expect(ask(heavy, 10)).toBe("answered"); // its whole byte bucket
    flood(1);
    expect(ask(heavy, 1)).toBe("throttled");
    // Half a second on: the flood's buckets are full again (one request each spent) and give their places to new
    // addresses, the heavy requester's (half full) is kept.
    mono.ms += 500;
    flood(100_000);
    expect(ask(heavy, 10)).toBe("throttled");
    expect(ask(heavy, 5)).toBe("answered"); // what it has refilled, it gets
    expect(ask(heavy, 1)).toBe("throttled");
  });

  it("randomized: no address is ever answered beyond what its own unbounded bucket (a reference model) allows", async () => {
    const requestsPerSec = 4;
    const bytesPerSec = 6 * D;
    const { server, mono } = bucketRig({ ...CONFIG, requestsPerSec, bytesPerSec });
    // The model: a bucket per address, never forgotten, spent only by the requests the server answered (the server
    // also spends a request on one over its bytes, so the model is the more generous).
    const model = new Map<string, { requests: number; bytes: number; lastMs: number }>();
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const EPS = 1e-6;
    for (let step = 0; step < 15_000; step++) {
      // A turn every 16 requests (at most 96 datagrams answered): answers go out, none is refused for answers in progress.
      if (step % 16 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (rand() < 0.01) mono.ms += Math.floor(rand() * 20);
      // Requesters from the frequent (low numbers) to the rare, 2.5 × MAX_REQUESTERS of them: some come back once
      // more than MAX_REQUESTERS others have been seen, within a second, their buckets not yet full.
      const address = addressOf(1 + Math.floor(rand() ** 2 * 2.5 * MAX_REQUESTERS));
      const count = 1 + Math.floor(rand() * 6);
      let m = model.get(address);
      if (m === undefined) model.set(address, (m = { requests: requestsPerSec, bytes: bytesPerSec, lastMs: mono.ms }));
      const dtS = (mono.ms - m.lastMs) / 1000;
      m.requests = Math.min(requestsPerSec, m.requests + dtS * requestsPerSec);
      m.bytes = Math.min(bytesPerSec, m.bytes + dtS * bytesPerSec);
      m.lastMs = mono.ms;
      const answeredBefore = server.counters.answered;
      server.onRequest(request(1, count), 40000, address);
      if (server.counters.answered > answeredBefore) {
        expect({ step, address, requests: m.requests + EPS >= 1, bytes: m.bytes + EPS >= count * D }).toEqual({ step, address, requests: true, bytes: true });
        m.requests -= 1;
        m.bytes -= count * D;
      }
    }
    expect(server.counters.answered).toBeGreaterThan(5000); // the check was exercised
  });
});

describe("a request or answer whose handling throws", () => {
  it("is dropped alone and counted; the turn serves the others, and later turns go on", async () => {
    // Channel 4's ring is broken (a bug stands in here): reading it throws, at the request (find) or at the answer (copyOf).
    class BrokenRing extends RetransmitRing {
      breakAt: "find" | "copyOf" | "find, with no string form" = "find";
      override find(seq: number): number {
        if (this.breakAt === "find") throw new Error("ring broken at find (test)");
        if (this.breakAt === "find, with no string form") throw Object.create(null);
        return super.find(seq);
      }
      override copyOf(i: number): Uint8Array {
        if (this.breakAt === "copyOf") throw new Error("ring broken at copyOf (test)");
        return super.copyOf(i);
      }
    }
    const good = new RetransmitRing(CONFIG.ringBytes, 1400);
    const broken = new BrokenRing(CONFIG.ringBytes, 1400);
    for (let i = 0; i < 4; i++) {
      good.push(new Uint8Array(PACKET_HEADER_BYTES + 8), PACKET_HEADER_BYTES + 8, i + 1, 1);
      broken.push(new Uint8Array(PACKET_HEADER_BYTES + 8), PACKET_HEADER_BYTES + 8, i + 1, 1);
    }
    const server = new RetransmitServer({ config: CONFIG, portOffset: 0, rings: new Map<number, RetransmitRing>([[3, good], [4, broken]]), sourceId: 0, sessionId: SESSION, auth: undefined });
    const answeredTo: string[] = [];
    (server as unknown as { socket: unknown }).socket = {
      sendMany: (args: unknown[]) => (answeredTo.push(args[2] as string), args.length / 3),
      send: () => true,
    };
    const req = (channelId: number) => {
      const out = new Uint8Array(64);
      return out.subarray(0, encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId, sourceId: 0, sessionId: SESSION, seqNum: 1, count: 2, firstAvailable: 0, nextSeq: 0 }));
    };
    // As Bun's data callback does: queued, answered on the next turn.
    const receive = (data: Uint8Array, address: string) => (server as unknown as { enqueue(d: Uint8Array, p: number, a: string): void }).enqueue(data, 40000, address);
    const nextTurn = () => new Promise((r) => setImmediate(r));
    receive(req(4), "127.0.0.2");
    receive(req(3), "127.0.0.3");
    await nextTurn();
    await nextTurn();
    // Before: the exception left the turn's callback (the process's end under Bun) and 127.0.0.3 went unanswered.
    expect(server.counters.failures).toBe(1);
    expect(answeredTo).toEqual(["127.0.0.3"]);
    broken.breakAt = "copyOf"; // now the request is taken, and its answer throws
    receive(req(4), "127.0.0.4");
    receive(req(3), "127.0.0.5");
    await nextTurn();
    await nextTurn();
    expect(server.counters.failures).toBe(2);
    expect(answeredTo).toEqual(["127.0.0.3", "127.0.0.5"]);
    // A throw with no string form: the same (until 2026-12-07 its line's String(err) threw out of the turn).
    broken.breakAt = "find, with no string form";
    receive(req(4), "127.0.0.6");
    receive(req(3), "127.0.0.7");
    await nextTurn();
    await nextTurn();
    expect(server.counters.failures).toBe(3);
    expect(answeredTo).toEqual(["127.0.0.3", "127.0.0.5", "127.0.0.7"]);
  });
});

describe("a request over the byte buckets", () => {
  it("is THROTTLED after reading no more of its range than the buckets allow (the cost of a flood stays what it could be sent)", () => {
    // A ring read counted: each datagram length the server looks at to size an answer.
    class CountingRing extends RetransmitRing {
      reads = 0;
      override lengthOf(i: number): number {
        this.reads++;
        return super.lengthOf(i);
      }
    }
    const D = PACKET_HEADER_BYTES + 8;
    const N = 20_000;
    const ring = new CountingRing(N * D, 1400);
    for (let seq = 1; seq <= N; seq++) ring.push(new Uint8Array(D), D, seq, 1);
    const config: RetransmitConfig = { ...CONFIG, ringBytes: N * D, bytesPerSec: 1400, totalBytesPerSec: 1 << 24 };
    const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => 0 });
    const replies: RetxControl[] = [];
    (server as unknown as { socket: unknown }).socket = { sendMany: (args: unknown[]) => args.length / 3, send: (b: Uint8Array) => (replies.push(decodeRetxControl(b.slice()) as RetxControl), true) };
    server.onRequest(request(1, N), 40000, "127.0.0.1");
    expect(replies.map((r) => r.kind)).toEqual([RETX_KIND_THROTTLED]);
    expect(server.counters.datagrams).toBe(0);
    // Before: all 20,000 read first (a 48-byte request cost a scan of up to 65,535 datagrams, then THROTTLED).
    expect(ring.reads).toBeLessThanOrEqual(Math.ceil(1400 / D) + 1);
    // Within the bucket it is still answered whole: 1400 bytes hold 25 of these datagrams.
    server.onRequest(request(1, 25), 40001, "127.0.0.2");
    expect({ answered: server.counters.answered, datagrams: server.counters.datagrams }).toEqual({ answered: 1, datagrams: 25 });
  });
});
