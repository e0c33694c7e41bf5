/**
 * A flood at the retransmission server within one turn of the event loop. Bun reads a UDP socket until it is empty
 * before the turn ends, so a sender that keeps ahead of the data callback puts any number of datagrams into one
 * turn; a test on loopback cannot (the 208 KiB receive buffer holds a few hundred), so these call the socket's data
 * callback directly, as Bun does during such a turn, and let the server's next turn (setImmediate) answer. The
 * socket is a stand-in that counts replies; the checks, the buckets and the ring are the real ones. The buckets'
 * clock stands still (a flood within one instant: no refill, and one THROTTLED reply per requester,
 * THROTTLED_REPLY_INTERVAL_MS), so what each requester had handled is counted where the server handles it.
 */
import { expect, it } from "vitest";
import type { RetransmitConfig } from "../../src/config/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { MAX_PENDING_REQUESTS, REQUESTS_PER_TURN, RetransmitServer } from "../../src/net/retransmit-server.ts";
import { PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { waitFor } from "../wire/helpers.ts";

const SESSION = 77;

function serverWith(requestsPerSec: number) {
  const config: RetransmitConfig = { host: "127.0.0.1", port: 0, ringBytes: 1 << 16, allow: ["127.0.0.0/8"], requestsPerSec, bytesPerSec: 1 << 24, totalBytesPerSec: 1 << 24 };
  const ring = new RetransmitRing(config.ringBytes, 1400);
  for (let seq = 1; seq <= 10; seq++) ring.push(new Uint8Array(PACKET_HEADER_BYTES + 8), PACKET_HEADER_BYTES + 8, seq, 1);
  const server = new RetransmitServer({ config, portOffset: 0, rings: new Map([[3, ring]]), sourceId: 0, sessionId: SESSION, auth: undefined, monoNow: () => 1000 });
  /** Requests handled (taken from the queue and answered or refused) by requester address. */
  const handled = new Map<string, number>();
  /** Requester addresses in the order their requests were handled. */
  const handledOrder: string[] = [];
  const inner = server as unknown as { handle(req: unknown, port: number, address: string): void };
  const handle = inner.handle.bind(server);
  inner.handle = (req, port, address) => (handled.set(address, (handled.get(address) ?? 0) + 1), handledOrder.push(address), handle(req, port, address));
  const replies = { control: 0, datagrams: 0 };
  /** Replies of any kind by requester address. */
  const repliesTo = new Map<string, number>();
  const to = (address: string, n: number) => repliesTo.set(address, (repliesTo.get(address) ?? 0) + n);
  const socket = {
    sendMany: (args: unknown[]) => ((replies.datagrams += args.length / 3), to(args[2] as string, args.length / 3), args.length / 3),
    send: (_d: Uint8Array, _p: number, address: string) => (replies.control++, to(address, 1), true),
  };
  (server as unknown as { socket: unknown }).socket = socket;
  /** What Bun calls for each datagram the socket reads. */
  const receive = (data: Uint8Array, address: string) => (server as unknown as { enqueue(d: Uint8Array, p: number, a: string): void }).enqueue(data, 40000, address);
  return { server, replies, repliesTo, handled, handledOrder, receive };
}

function request(seqNum: number, count: number): Uint8Array {
  const out = new Uint8Array(64);
  return out.subarray(0, encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 3, sourceId: 0, sessionId: SESSION, seqNum, count, firstAvailable: 0, nextSeq: 0 }));
}

it("valid requests beyond MAX_PENDING_REQUESTS in one turn are dropped unanswered, counted throttled", async () => {
  // One request a second: the first is answered, every other one is over the bucket.
  const { server, replies, handled, receive } = serverWith(1);
  const flood = MAX_PENDING_REQUESTS + 904;
  for (let i = 0; i < flood; i++) receive(request(1, 2), "127.0.0.1");
  await waitFor(() => server.counters.received === flood, 5000, "every request counted");
  const c = server.counters;
  expect({ answered: c.answered, throttled: c.throttled, outOfRange: c.outOfRange, badRequests: c.badRequests, refusedNetwork: c.refusedNetwork }).toEqual({
    answered: 1,
    throttled: flood - 1,
    outOfRange: 0,
    badRequests: 0,
    refusedNetwork: 0,
  });
  expect(replies.datagrams).toBe(2);
  // Only the queued requests handled; of the MAX_PENDING_REQUESTS − 1 THROTTLED, one replied to (one requester, one
  // instant: before, a reply each).
  expect(handled.get("127.0.0.1")).toBe(MAX_PENDING_REQUESTS);
  expect(replies.control).toBe(1);
  expect(c.throttledRepliesSuppressed).toBe(MAX_PENDING_REQUESTS - 2);
});

it("refused datagrams are counted as they arrive and queue nothing: an allowed request among them is answered", async () => {
  const { server, replies, receive } = serverWith(1000);
  const garbage = new Uint8Array(48);
  for (let i = 0; i < MAX_PENDING_REQUESTS; i++) {
    receive(request(1, 1), "10.9.9.9"); // outside allow
    receive(garbage, "127.0.0.1"); // not a control packet
  }
  receive(request(3, 2), "127.0.0.1");
  // Before the next turn: the refused ones counted with their results already; the valid one waits.
  expect({ received: server.counters.received, refusedNetwork: server.counters.refusedNetwork, badRequests: server.counters.badRequests }).toEqual({
    received: 2 * MAX_PENDING_REQUESTS,
    refusedNetwork: MAX_PENDING_REQUESTS,
    badRequests: MAX_PENDING_REQUESTS,
  });
  await waitFor(() => server.counters.answered === 1, 5000, "the allowed request answered");
  const c = server.counters;
  expect({ received: c.received, throttled: c.throttled, outOfRange: c.outOfRange }).toEqual({ received: 2 * MAX_PENDING_REQUESTS + 1, throttled: 0, outOfRange: 0 });
  expect(replies).toEqual({ control: 0, datagrams: 2 });
});

it("a full queue is shared: one address flooding it cannot keep another requester's request out", async () => {
  const { server, replies, repliesTo, handled, receive } = serverWith(1);
  const flood = MAX_PENDING_REQUESTS + 500;
  for (let i = 0; i < flood; i++) receive(request(1, 2), "127.0.0.1");
  // Arrives last in the same turn, the queue full: before, it was dropped unanswered and its requester timed out.
  receive(request(3, 2), "127.0.0.2");
  await waitFor(() => server.counters.received === flood + 1, 5000, "every request counted");
  expect(repliesTo.get("127.0.0.2")).toBe(2); // its two datagrams
  const c = server.counters;
  expect({ answered: c.answered, throttled: c.throttled }).toEqual({ answered: 2, throttled: flood - 1 });
  // The flooder's newest queued request gave its place: MAX_PENDING_REQUESTS − 1 of its requests were handled.
  expect(handled.get("127.0.0.1")).toBe(MAX_PENDING_REQUESTS - 1);
  expect(replies.control).toBe(1); // one THROTTLED for the flooder's MAX_PENDING_REQUESTS − 2
});

it("two addresses flooding at once end with equal shares of the queue, whoever came first", async () => {
  const { server, repliesTo, handled, receive } = serverWith(1);
  for (let i = 0; i < MAX_PENDING_REQUESTS; i++) receive(request(1, 1), "127.0.0.1");
  for (let i = 0; i < MAX_PENDING_REQUESTS; i++) receive(request(1, 1), "127.0.0.3");
  await waitFor(() => server.counters.received === 2 * MAX_PENDING_REQUESTS, 5000, "every request counted");
  // Each had MAX_PENDING_REQUESTS / 2 requests handled: one answered with its datagram, the rest THROTTLED (one reply).
  expect(handled.get("127.0.0.1")).toBe(MAX_PENDING_REQUESTS / 2);
  expect(handled.get("127.0.0.3")).toBe(MAX_PENDING_REQUESTS / 2);
  expect(repliesTo.get("127.0.0.1")).toBe(2);
  expect(repliesTo.get("127.0.0.3")).toBe(2);
  expect(server.counters.throttled).toBe(2 * MAX_PENDING_REQUESTS - 2);
});

it("refusing a foreign or damaged datagram allocates nothing: no DataView per datagram read", () => {
  const { server, receive } = serverWith(1000);
  const foreign = new Uint8Array(48).fill(0x41); // not a control packet
  const damaged = request(3, 2).slice();
  damaged[20]! ^= 1; // a control packet whose CRC fails
  const short = request(3, 2).slice(0, 40); // its magic, too short
  const RealDataView = globalThis.DataView;
  let made = 0;
  globalThis.DataView = new Proxy(RealDataView, {
    construct(target, args, newTarget) {
      made++;
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  try {
    for (let i = 0; i < 1000; i++) {
      receive(foreign, "127.0.0.1");
      receive(damaged, "127.0.0.1");
      receive(short, "127.0.0.1");
    }
  } finally {
    globalThis.DataView = RealDataView;
  }
  expect(server.counters.badRequests).toBe(3000);
  expect(made).toBe(0); // before: 3000, one per datagram before its magic was read
  expect(Array.from(damaged.subarray(28, 32))).not.toEqual([0, 0, 0, 0]); // the CRC field restored after the check
});

it("a full queue is handled a bounded share per turn, in arrival order, so the publisher's thread gets turns between", async () => {
  // The server runs on the publisher's thread: 4,096 replies in one turn held the live feed for 57–80 ms.
  const { server, replies, receive } = serverWith(1000);
  const order: string[] = [];
  const socket = (server as unknown as { socket: { send: (d: Uint8Array, p: number, a: string) => boolean } }).socket;
  const send = socket.send;
  socket.send = (d, p, a) => (order.push(a), send(d, p, a));
  for (let i = 0; i < MAX_PENDING_REQUESTS; i++) receive(request(500, 1), `127.0.${i >> 8}.${i & 255}`); // not in the ring: OUT_OF_RANGE
  const perTurn: number[] = [];
  while (server.counters.received < MAX_PENDING_REQUESTS && perTurn.length < 10_000) {
    const before = replies.control;
    await new Promise<void>((resolve) => setImmediate(resolve));
    perTurn.push(replies.control - before);
  }
  expect(Math.max(...perTurn)).toBeLessThanOrEqual(REQUESTS_PER_TURN); // before: 4096 in the first turn
  expect(server.counters.outOfRange).toBe(MAX_PENDING_REQUESTS);
  expect(order).toEqual(Array.from({ length: MAX_PENDING_REQUESTS }, (_, i) => `127.0.${i >> 8}.${i & 255}`));
});

it("behind a flood that fills the queue, another requester's request is handled in the first turn, not after the flood's", async () => {
  const { server, receive } = serverWith(1);
  const order: string[] = [];
  const socket = (server as unknown as { socket: { send: (d: Uint8Array, p: number, a: string) => boolean; sendMany: (args: unknown[]) => number } }).socket;
  const send = socket.send;
  const sendMany = socket.sendMany;
  socket.send = (d, p, a) => (order.push(a), send(d, p, a));
  socket.sendMany = (args) => (order.push(args[2] as string), sendMany(args));
  for (let i = 0; i < MAX_PENDING_REQUESTS - 1; i++) receive(request(1, 1), "127.0.0.1");
  receive(request(3, 2), "127.0.0.2"); // the last place, behind 4,095 of the flooder's
  await new Promise<void>((resolve) => setImmediate(resolve));
  expect(order.length).toBeLessThanOrEqual(REQUESTS_PER_TURN);
  expect(order).toContain("127.0.0.2"); // FIFO slices: handled ~32 turns later, past a 250 ms timeout under load
  await waitFor(() => server.counters.received === MAX_PENDING_REQUESTS, 5000, "every request handled");
  expect(server.counters.answered).toBe(2); // each address's first (a bucket of one request a second)
});

it("round robin goes on from turn to turn: no requester is served twice while another waits for its first", async () => {
  const { server, handledOrder, receive } = serverWith(1);
  for (let i = 0; i < 1000; i++) receive(request(1, 1), "127.0.0.1"); // a flooder, its requests the oldest
  const singles = Array.from({ length: 3 * REQUESTS_PER_TURN - 50 }, (_, i) => `127.0.${1 + (i >> 8)}.${i & 255}`);
  for (const address of singles) receive(request(500, 1), address);
  await waitFor(() => singles.every((a) => handledOrder.includes(a)), 5000, "every single request handled");
  // The flooder once, then every other requester once (three turns), before its second. Before, each turn began its
  // rounds again with the requester of the oldest request left, the flooder: served first in every turn.
  const flooder = handledOrder.flatMap((a, i) => (a === "127.0.0.1" ? [i] : []));
  expect(flooder[0]).toBe(0);
  expect(flooder[1]).toBe(1 + singles.length);
  expect(handledOrder.slice(1, 1 + singles.length)).toEqual(singles);
  await waitFor(() => server.counters.received === 1000 + singles.length, 5000, "every request handled");
  expect(handledOrder.filter((a) => a === "127.0.0.1")).toHaveLength(1000);
});
